/**
 * explain/rules/exec: what happens at execve: no command, a program that is not there or may not
 * be executed, and the capability rules for files that carry `security.capability` or set-ID
 * bits, both for the entrypoint (which decides whether the container starts) and for the other
 * such files in the image (which fail later, when the workload runs them).
 */
import type { Finding, Severity } from '../../errors/index.js';
import type { BerthError } from '../../errors/index.js';
import { isBerthError } from '../../errors/index.js';
import { ALL_CAPS, capSetToNames } from '../../caps/set.js';
import { fileCapsToText } from '../../caps/text.js';
import type { FileCaps } from '../../caps/filecaps.js';
import type { ExecResult } from '../../caps/process.js';
import { formatMode, type InodeInfo } from '../../perms/access.js';
import { fileCapsOf, transformFor, type ExecCaller } from '../exec.js';
import type { Facts } from '../facts.js';
import { finding, whoIs, type Rule } from './common.js';

/** One executable file and what execve does with it for this process. */
interface FileExec {
  path: string;
  inode: InodeInfo;
  fileCaps: FileCaps | null;
  capsText: string | null;
  error?: BerthError;
  result?: ExecResult;
  withoutNoNewPrivs?: ExecResult;
  entrypoint: boolean;
}

const cache = new WeakMap<Facts, FileExec[]>();

/**
 * The entrypoint (as execve sees it, with the process's pre-exec credentials) followed by every
 * other file with file capabilities or set-ID bits (as the workload would run them, with the
 * program's post-exec credentials), sorted by path.
 */
function fileExecs(f: Facts): FileExec[] {
  const hit = cache.get(f);
  if (hit) return hit;
  const out: FileExec[] = [];
  const e = f.exec;
  if (f.user && e.inode && e.resolved && (e.transform || e.fileCapsError)) {
    out.push({
      path: e.resolved,
      inode: e.inode,
      fileCaps: e.fileCaps,
      capsText: e.fileCapsText,
      ...(e.fileCapsError ? { error: e.fileCapsError } : {}),
      ...(e.transform ? { result: e.transform } : {}),
      ...(e.withoutNoNewPrivs ? { withoutNoNewPrivs: e.withoutNoNewPrivs } : {}),
      entrypoint: true,
    });
  }
  if (f.user) {
    const caller: ExecCaller = {
      cred: f.credAfter,
      caps: f.capsAfter,
      uid: f.user.uid,
      gid: f.user.gid,
      noNewPrivs: f.noNewPrivs.value,
      v3RootidHonoured: f.profile === 'berth',
    };
    const seen = new Set(out.map((x) => x.path));
    const files = [...f.scan.capabilityFiles, ...f.scan.setidFiles].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const file of files) {
      if (seen.has(file.path)) continue;
      seen.add(file.path);
      const inode: InodeInfo = { type: 'file', mode: file.mode, uid: file.uid, gid: file.gid };
      let fileCaps: FileCaps | null;
      try {
        fileCaps = fileCapsOf(file.capability);
      } catch (err) {
        if (!isBerthError(err)) throw err;
        out.push({ path: file.path, inode, fileCaps: null, capsText: null, error: err, entrypoint: false });
        continue;
      }
      const x = { path: file.path, inode, fileCaps };
      out.push({
        path: file.path,
        inode,
        fileCaps,
        capsText: fileCaps ? fileCapsToText(fileCaps) : null,
        result: transformFor(caller, x),
        ...(f.noNewPrivs.value ? { withoutNoNewPrivs: transformFor(caller, x, false) } : {}),
        entrypoint: false,
      });
    }
  }
  cache.set(f, out);
  return out;
}

function sev(x: FileExec, entrypoint: Severity, other: Severity): Severity {
  return x.entrypoint ? entrypoint : other;
}

function capsShort(names: string[]): string[] {
  return names.map((n) => n.replace(/^CAP_/, ''));
}

export const noCommand: Rule = {
  code: 'NO_COMMAND',
  check(f) {
    if (f.exec.how !== 'none') return [];
    return [
      finding(
        'NO_COMMAND',
        'error',
        '(no command)',
        'the container does not start: there is no command to run ("no command specified")',
        [f.args.because],
        'give a command after IMAGE, or set CMD or ENTRYPOINT in the image',
      ),
    ];
  },
};

export const entrypointNotFound: Rule = {
  code: 'ENTRYPOINT_NOT_FOUND',
  check(f) {
    const e = f.exec;
    if (!f.user || e.how === 'none' || e.outcome !== 'ENOENT') return [];
    const program = e.program!;
    const because = [`args[0] is "${program}" (${f.args.because})`, f.provenance['exec.path']];
    for (const t of e.tried) because.push(`${t.path}: ${t.result.failure?.because ?? 'not usable'}`);
    const message =
      e.how === 'path'
        ? `the container does not start: exec: "${program}": executable file not found in $PATH`
        : `the container does not start: exec: "${program}": no such file or directory`;
    return [
      finding(
        'ENTRYPOINT_NOT_FOUND',
        'error',
        program,
        message,
        because,
        e.how === 'path'
          ? `install ${program} in the image, call it by its absolute path, or add its directory to PATH (ENV PATH=...)`
          : `install ${program} in the image or correct the path (a script's #! interpreter must exist too)`,
      ),
    ];
  },
};

export const entrypointNotExecutable: Rule = {
  code: 'ENTRYPOINT_NOT_EXECUTABLE',
  check(f) {
    const e = f.exec;
    if (!f.user || e.outcome !== 'EACCES') return [];
    const program = e.program!;
    const denied = e.tried.find((t) => t.result.failure?.errno === 'EACCES');
    const because = [
      `args[0] is "${program}" (${f.args.because})`,
      `the process is ${whoIs(f)}; its effective capabilities at exec: ${capSetToNames(f.caps.proc.effective).join(', ') || 'none'}`,
      ...(denied ? [`${denied.path}: ${denied.result.failure!.because}`] : []),
      ...(e.how === 'path'
        ? ['Go\'s exec.LookPath (runc) skips a file the user may not execute and goes on down PATH, so runc reports "executable file not found in $PATH" even though the file is there']
        : []),
    ];
    const message =
      e.how === 'path'
        ? `the container does not start: ${e.path ?? program} exists but uid ${f.user.uid} may not execute it (runc: exec: "${program}": executable file not found in $PATH)`
        : `the container does not start: exec: "${program}": permission denied`;
    const target = e.resolved ?? e.path ?? program;
    const fix = f.engine.restrictedV2
      ? `make it executable for group 0: RUN chgrp 0 ${target} && chmod g+x ${target} (and g+x on its directories)`
      : `RUN chmod a+x ${target}, and make every directory on the way searchable (chmod o+x)`;
    return [finding('ENTRYPOINT_NOT_EXECUTABLE', 'error', target, message, because, fix)];
  },
};

export const execFileCapsNotInBounding: Rule = {
  code: 'EXEC_FILE_CAPS_NOT_IN_BOUNDING',
  check(f) {
    const out: Finding[] = [];
    for (const x of fileExecs(f)) {
      if (x.result?.outcome !== 'EPERM' || !x.fileCaps) continue;
      const missing = capSetToNames(x.fileCaps.permitted & ~f.caps.bounding);
      const short = capsShort(missing);
      const because = [
        `${x.path} carries security.capability ${x.capsText} in the image (mode ${formatMode(x.inode.mode)})`,
        `the bounding set is ${capSetToNames(f.caps.bounding).join(', ') || 'empty'}: ${f.caps.because.join('; ')}`,
        ...x.result.reason,
        'kernel rule (commoncap.c bprm_caps_from_vfs_caps): a file with the effective flag whose permitted capabilities cannot all be granted is refused, for root too',
      ];
      // A capability-aware program (iputils ping) with the capability permitted but not effective
      // starts, raises it when it can, and falls back when it cannot.
      const setcapP = `RUN setcap ${capSetToNames(x.fileCaps.permitted).map((m) => m.toLowerCase()).join(',')}=p ${x.path}`;
      let fix: string;
      if (f.engine.restrictedV2) {
        fix = `restricted-v2 cannot add ${short.join(', ')}: drop the file's effective flag (${setcapP}) so it starts and falls back, or remove the capability (setcap -r; ping then uses ICMP datagram sockets)`;
      } else if (f.engine.kubernetes) {
        fix = `add ${short.join(', ')} to securityContext.capabilities.add, or drop the file's effective flag (${setcapP}) so it starts without them`;
      } else {
        fix = `--cap-add ${short.join(' --cap-add ')}, or drop the file's effective flag (${setcapP}) so it starts without them`;
      }
      out.push(
        finding(
          'EXEC_FILE_CAPS_NOT_IN_BOUNDING',
          sev(x, 'error', 'warning'),
          x.path,
          x.entrypoint
            ? `the container does not start: execve(${x.path}) fails with EPERM ("exec ${x.path}: operation not permitted") because ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in the bounding set`
            : `running ${x.path} in this container fails with EPERM ("Operation not permitted") because ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in the bounding set`,
          because,
          fix,
        ),
      );
    }
    return out;
  },
};

export const execFileCapsIgnoredNoNewPrivs: Rule = {
  code: 'EXEC_FILE_CAPS_IGNORED_NO_NEW_PRIVS',
  check(f) {
    if (!f.noNewPrivs.value) return [];
    const out: Finding[] = [];
    for (const x of fileExecs(f)) {
      if (!x.fileCaps || x.result?.outcome !== 'ok' || x.withoutNoNewPrivs?.outcome !== 'ok') continue;
      const lost = x.withoutNoNewPrivs.caps.permitted & ~x.result.caps.permitted;
      if (lost === 0n) continue;
      const names = capSetToNames(lost);
      out.push(
        finding(
          'EXEC_FILE_CAPS_IGNORED_NO_NEW_PRIVS',
          sev(x, 'warning', 'info'),
          x.path,
          `${x.path} starts, but without ${names.join(', ')}: no_new_privs keeps its file capabilities from being granted, so the operations that need ${names.length === 1 ? 'it' : 'them'} fail with EPERM (ping: "socket: Operation not permitted")`,
          [
            `${x.path} carries security.capability ${x.capsText}`,
            `no_new_privs is set: ${f.noNewPrivs.because}`,
            ...x.result.reason,
            `without no_new_privs it would run with ${capSetToNames(x.withoutNoNewPrivs.caps.effective).join(', ') || 'no'} effective capabilities`,
          ],
          f.engine.restrictedV2
            ? 'restricted-v2 forces no_new_privs: use a program that needs no file capability (ping over ICMP datagram sockets), or a custom SCC'
            : f.engine.kubernetes
              ? 'set allowPrivilegeEscalation: true if the program must gain the capability, or use one that needs none'
              : 'drop --security-opt no-new-privileges if the program must gain the capability, or use one that needs none',
        ),
      );
    }
    return out;
  },
};

/**
 * For the entrypoint only: the image's other set-ID files are listed by SETUID_FILES, which says
 * whether no_new_privs neutralises them.
 */
export const execSetuidIgnoredNoNewPrivs: Rule = {
  code: 'EXEC_SETUID_IGNORED_NO_NEW_PRIVS',
  check(f) {
    if (!f.noNewPrivs.value) return [];
    const out: Finding[] = [];
    for (const x of fileExecs(f)) {
      if (!x.entrypoint) continue;
      if ((x.inode.mode & 0o6000) === 0 || x.result?.outcome !== 'ok' || x.withoutNoNewPrivs?.outcome !== 'ok') continue;
      const w = x.withoutNoNewPrivs;
      if (w.euid === x.result.euid && w.egid === x.result.egid) continue;
      out.push(
        finding(
          'EXEC_SETUID_IGNORED_NO_NEW_PRIVS',
          'warning',
          x.path,
          `${x.path} is set-ID (mode ${formatMode(x.inode.mode)}, owner ${x.inode.uid}:${x.inode.gid}) but runs as uid ${x.result.euid} gid ${x.result.egid}: no_new_privs ignores the set-ID bits`,
          [`no_new_privs is set: ${f.noNewPrivs.because}`, ...x.result.reason, `without no_new_privs it would run with euid ${w.euid} and egid ${w.egid}`],
          'do not rely on set-ID programs in this container (sudo, su, passwd), or drop no_new_privs',
        ),
      );
    }
    return out;
  },
};

export const execFileCapsForeignRootid: Rule = {
  code: 'EXEC_FILE_CAPS_FOREIGN_ROOTID',
  check(f) {
    const out: Finding[] = [];
    for (const x of fileExecs(f)) {
      if (!x.result?.rules.includes('fcaps-rootid-foreign')) continue;
      out.push(
        finding(
          'EXEC_FILE_CAPS_FOREIGN_ROOTID',
          sev(x, 'warning', 'info'),
          x.path,
          `${x.path} runs without its file capabilities: they are a v3 value for rootid ${x.fileCaps?.rootid}, which is not this container's root`,
          [
            `${x.path} carries security.capability ${x.capsText} with rootid ${x.fileCaps?.rootid} (written inside a user namespace, e.g. by a rootless build)`,
            ...x.result.reason,
            `${f.engine.title} writes the value as it is, and the kernel honours it only in a user namespace whose root is host uid ${x.fileCaps?.rootid} (commoncap.c rootid_owns_currentns)`,
          ],
          'rebuild the layer so the capability is stored as v2: moby (moby#41723) and berth write v2 when they export; containers/storage copied the raw v3 value until container-libs PR#1126',
        ),
      );
    }
    return out;
  },
};

export const execFileCapsInvalid: Rule = {
  code: 'EXEC_FILE_CAPS_INVALID',
  check(f) {
    const out: Finding[] = [];
    for (const x of fileExecs(f)) {
      if (!x.error) continue;
      out.push(
        finding(
          'EXEC_FILE_CAPS_INVALID',
          sev(x, 'error', 'warning'),
          x.path,
          x.entrypoint
            ? `the container does not start: the kernel refuses to load ${x.path}'s security.capability, so execve fails with EINVAL`
            : `running ${x.path} fails with EINVAL: its security.capability value is malformed`,
          [x.error.message, 'the kernel checks the size against the revision before exec (commoncap.c get_vfs_caps_from_disk) and fails the exec on a mismatch'],
          `rewrite the capability in the image (RUN setcap ... ${x.path}, or setcap -r ${x.path})`,
        ),
      );
    }
    return out;
  },
};

/**
 * --cap-add names a capability the bounding set of berth's own process lacks. A process can only
 * drop from its bounding set (PR_CAPBSET_DROP, capabilities(7)), so runc's capset fails ("unable
 * to apply caps: operation not permitted"); berth refuses the run first (E_CAP_NOT_IN_HOST_BOUNDING).
 */
export const capNotInHostBounding: Rule = {
  code: 'CAP_NOT_IN_HOST_BOUNDING',
  check(f) {
    const host = f.caps.host;
    if (!host || host.missing.length === 0) return [];
    const lacks = capSetToNames(ALL_CAPS & ~host.bounding);
    return [
      finding(
        'CAP_NOT_IN_HOST_BOUNDING',
        'error',
        host.missing.join(', '),
        `the container does not start: --cap-add ${host.missing.join(', ')}, which the bounding set of the process running berth lacks`,
        [
          `--cap-add ${f.run.capAdd?.join(', ') ?? ''}`,
          `berth runs rootful here; its bounding set (CapBnd in /proc/self/status) lacks ${lacks.join(', ')}`,
          'a process can only drop capabilities from its bounding set (PR_CAPBSET_DROP; capabilities(7)), so no container it starts can hold them; runc fails with "unable to apply caps: operation not permitted"',
        ],
        `leave out --cap-add ${host.missing.join(', ')}, or run berth from a process whose bounding set holds it (e.g. a root shell not started with it dropped, or berth rootless, whose user namespace has a full bounding set)`,
      ),
    ];
  },
};

export const EXEC_RULES: readonly Rule[] = [
  capNotInHostBounding,
  noCommand,
  entrypointNotFound,
  entrypointNotExecutable,
  execFileCapsNotInBounding,
  execFileCapsIgnoredNoNewPrivs,
  execSetuidIgnoredNoNewPrivs,
  execFileCapsForeignRootid,
  execFileCapsInvalid,
];
