/**
 * explain/rules/workdir: the working directory and HOME. A cwd the user cannot search does not stop
 * runc or crun (they chdir as container root first), so the failure shows up later, at the first
 * relative file operation; a missing cwd is created by the runtime with an owner that depends on
 * the engine; HOME must exist and be writable for the many programs that write below it.
 */
import { isBerthError } from '../../errors/index.js';
import { formatMode, inodePermission, type InodeInfo } from '../../perms/access.js';
import { walkPath } from '../../perms/walk.js';
import { workdirCreationOwner } from '../../identity/workdir.js';
import { toInode, type Facts } from '../facts.js';
import { chdirBehaviour } from '../profiles.js';
import { bytePath, displayPath } from '../scan.js';
import { dacCapsText, finding, inodeText, userSpecSource, whoIs, type Rule } from './common.js';

/** The longest existing prefix of a path (following symlinks), and the first missing component. */
function deepestExisting(f: Facts, byte: string): { existing: string; missing: string } {
  const parts = byte.split('/').filter((c) => c !== '' && c !== '.');
  let cur = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = cur === '/' ? `/${parts[i]}` : `${cur}/${parts[i]}`;
    const e = f.image.view.lookup(next, { follow: true });
    if (!e || e.type !== 'dir') return { existing: cur, missing: next };
    cur = next;
  }
  return { existing: cur, missing: '' };
}

export const workdirMissing: Rule = {
  code: 'WORKDIR_MISSING',
  check(f) {
    const entry = f.cwd.entry;
    if (entry && entry.type === 'dir') return [];
    const path = f.cwd.path;
    const from = `the working directory ${path} comes from ${f.cwd.from}`;
    if (entry) {
      return [
        finding(
          'WORKDIR_MISSING',
          'error',
          path,
          `the container does not start: ${path} exists in the image but is not a directory`,
          [from, `${path} is a ${entry.type} (${inodeText(entry)})`, f.profile === 'docker' ? 'Docker fails with "Cannot mkdir: ' + path + ' is not a directory"' : 'runc fails with "chdir to cwd ... set in config.json failed: not a directory"'],
          `point WORKDIR (or --workdir) at a directory, or replace ${path} with one in the image`,
        ),
      ];
    }
    const { existing, missing } = deepestExisting(f, f.cwd.byte);
    const existingEntry = f.image.view.lookup(existing, { follow: true });
    const base = [from, `${displayPath(missing)} does not exist in the image; the deepest existing directory is ${displayPath(existing)}${existingEntry ? ` (${inodeText(existingEntry)})` : ''}`];

    if (f.engine.cliWorkdirMustExist && f.cwd.from === '--workdir') {
      return [
        finding(
          'WORKDIR_MISSING',
          'error',
          path,
          `podman refuses to create the container: workdir "${path}" does not exist on container`,
          [...base, 'podman creates only an image WORKDIR; a --workdir must already exist unless it is on or below a volume (libpod resolveWorkDir)'],
          `create ${path} in the image, mount a volume there, or choose an existing directory`,
        ),
      ];
    }
    if (f.profile === 'kaniko') {
      return [
        finding(
          'WORKDIR_MISSING',
          'info',
          path,
          `kaniko runs the step without changing into ${path}`,
          [...base, 'kaniko sets the step\'s directory only when WorkingDir exists (setWorkDirIfExists)'],
          `add WORKDIR ${path} before the step (kaniko creates it), or RUN mkdir -p ${path}`,
        ),
      ];
    }

    let owner: { uid: number; gid: number; parents: { uid: number; gid: number }; because: string[] };
    try {
      owner = workdirCreationOwner(f.profile, 'run', f.engine.kubernetes ? f.image.user : (f.run.user ?? f.image.user), f.db);
    } catch (e) {
      if (!isBerthError(e)) throw e;
      owner = { uid: 0, gid: 0, parents: { uid: 0, gid: 0 }, because: [`the owner cannot be resolved (${e.message}); assumed 0:0`] };
    }
    const created: InodeInfo = { type: 'dir', mode: 0o755, uid: owner.uid, gid: owner.gid };
    const because = [...base, ...owner.because, `so ${path} appears at start as mode 0755 owned by ${owner.uid}:${owner.gid}`];
    let severity: 'warning' | 'info' = 'info';
    let consequence = `the runtime creates ${path} when the container starts`;
    if (f.user) {
      const write = inodePermission(f.credAfter, created, { write: true, exec: true });
      because.push(`the process is ${whoIs(f)}; ${dacCapsText(f)}`);
      if (!write.allowed) {
        severity = 'warning';
        consequence += `, but uid ${f.user.uid} cannot create files in it: ${write.because}`;
      } else {
        because.push(`writing in it is allowed: ${write.because}`);
      }
      const reach = walkPath(existing, f.fs, f.credAfter, { followFinal: true, want: { exec: true } });
      if (!reach.ok && reach.failure) {
        severity = 'warning';
        because.push(`the existing part of the path is not searchable: ${reach.failure.because}`);
      }
    }
    const { spec } = userSpecSource(f);
    return [
      finding(
        'WORKDIR_MISSING',
        severity,
        path,
        consequence,
        because,
        `create it in the image, owned by the user: RUN mkdir -p ${path} && chown ${spec || f.user?.uid || 0} ${path} (BuildKit's WORKDIR after USER does this)`,
      ),
    ];
  },
};

export const workdirNotAccessible: Rule = {
  code: 'WORKDIR_NOT_ACCESSIBLE',
  check(f) {
    const entry = f.cwd.entry;
    if (!f.user || !entry || entry.type !== 'dir') return [];
    const walk = walkPath(f.cwd.byte, f.fs, f.credAfter, { followFinal: true, want: { exec: true } });
    if (walk.ok || !walk.failure || walk.failure.errno !== 'EACCES') return [];
    const path = f.cwd.path;
    const canonical = f.cwd.canonical ?? f.cwd.byte;
    const atFinal = walk.failure.path === canonical;
    const failedAt = displayPath(walk.failure.path);
    const chdir = chdirBehaviour(f.engine.starter);
    const uid = f.user.uid;

    const because = [
      `the working directory ${path} comes from ${f.cwd.from}`,
      `the process is ${whoIs(f)}; ${dacCapsText(f)}`,
      `path walk: ${walk.failure.because}`,
      `${f.engine.title}: ${chdir.text}`,
    ];
    if (f.engine.starter !== 'go-exec') {
      const other = f.engine.starter === 'runc' ? 'crun' : 'runc';
      because.push(`with ${other} the start is the same: ${chdirBehaviour(other).text}`);
    }
    if (chdir.startsInDirectory) {
      if (atFinal) {
        const read = inodePermission(f.credAfter, toInode(entry), { read: true });
        const write = inodePermission(f.credAfter, toInode(entry), { write: true, exec: true });
        if (!read.allowed) because.push(`then \`ls .\` fails with EACCES: listing needs read on ${path} (${read.because})`);
        because.push(`then opening ./FILE or running ./SCRIPT fails with EACCES: every lookup in ${path} needs search (x) on it`);
        if (!write.allowed) because.push(`and creating files there (touch ./x, npm install, a log or pid file) fails with EACCES: it needs write and search (${write.because})`);
      } else {
        because.push(
          `the denial is at ${failedAt}, above the working directory: relative operations inside ${path} still work (the kernel checks only the directory itself), but absolute paths through ${failedAt} fail with EACCES`,
        );
      }
    }
    const target = atFinal ? path : failedAt;
    const owner = atFinal ? entry.uid : (f.fs.lookup(walk.failure.path)?.uid ?? 0);
    const fix = f.engine.restrictedV2
      ? `make it usable by group 0, which OpenShift's arbitrary uid always has: RUN chgrp -R 0 ${target} && chmod -R g=u ${target} (OpenShift image guidelines, "Support arbitrary user ids")`
      : `let the process search it: RUN chmod o+x ${target} (search only; add o+rw only if it must list or write), or chown it to uid ${uid}, or run as its owner (--user ${owner})`;
    const message = chdir.startsInDirectory
      ? `uid ${uid} cannot search ${atFinal ? 'its working directory' : `${failedAt}, on the way to its working directory`} ${path}: the container still starts there, but relative file operations fail with EACCES`
      : `uid ${uid} cannot search ${path}: the step fails before it starts with "chdir ${path}: permission denied"`;
    return [finding('WORKDIR_NOT_ACCESSIBLE', 'error', path, message, because, fix)];
  },
};

export const homeNotWritable: Rule = {
  code: 'HOME_NOT_WRITABLE',
  check(f) {
    if (!f.user) return [];
    const home = f.user.home;
    if (home === '' || !home.startsWith('/')) return [];
    const walk = walkPath(bytePath(home), f.fs, f.credAfter, { followFinal: true, want: { write: true, exec: true } });
    if (walk.ok || !walk.failure) return [];
    const homeLine = f.identity?.because.find((b) => b.startsWith('HOME')) ?? `HOME is ${home}`;
    const missing = walk.failure.errno === 'ENOENT' || walk.failure.errno === 'ENOTDIR';
    const inode = walk.inode;
    const because = [
      homeLine,
      `the process is ${whoIs(f)}; ${dacCapsText(f)}`,
      missing ? `${home} does not exist in the image: ${walk.failure.because}` : `${walk.failure.because}${inode ? ` (${home}: mode ${formatMode(inode.mode)})` : ''}`,
      'programs that keep state under $HOME (shells\' history, npm, pip and git caches, ~/.config) then fail or fall back',
    ];
    const fix = home === '/'
      ? 'set HOME to a writable directory (ENV HOME=/tmp), or give the user a passwd entry with a home directory it owns'
      : f.engine.restrictedV2
      ? `give HOME to group 0: RUN mkdir -p ${home} && chgrp -R 0 ${home} && chmod -R g=u ${home}, or set ENV HOME=/tmp`
      : missing
        ? `create it owned by the user (useradd -m, or RUN mkdir -p ${home} && chown ${f.user.uid}:${f.user.gid} ${home}), or set HOME to a writable directory (ENV HOME=/tmp)`
        : `chown ${home} to uid ${f.user.uid}, or set HOME to a writable directory (ENV HOME=/tmp)`;
    return [
      finding(
        'HOME_NOT_WRITABLE',
        'warning',
        home,
        missing ? `HOME ${home} does not exist` : `HOME ${home} is not writable by uid ${f.user.uid}`,
        because,
        fix,
      ),
    ];
  },
};

export const WORKDIR_RULES: readonly Rule[] = [workdirMissing, workdirNotAccessible, homeNotWritable];
