/**
 * host/: the one reader of ambient state. `readHostFacts()` snapshots who berth runs as, in which
 * kind of namespace, with which ID maps, capabilities, rlimits, subordinate IDs and external tools;
 * everything deeper takes that snapshot as data and never calls process.getuid() or reads /proc.
 * It runs on every CLI call, so it reads files in parallel and spawns `getsubids` only when
 * rootless.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { release, userInfo } from 'node:os';
import { errnoOf, type Warning, type WarningSink } from '../errors/index.js';
import {
  parseGetsubidsOutput,
  parseIdMapText,
  parseSubidFile,
  selectSubids,
  type IdMap,
  type SubidRange,
} from '../idmap/index.js';
import {
  decideHostMode,
  overlayInUsernsSupported,
  parseKernelRelease,
  parseProcLimits,
  parseProcStatus,
  parseSysctlInt,
  type HostMode,
  type KernelRelease,
  type Rlimit,
  type RlimitName,
} from './parse.js';
import { findTools, type ToolInfo, type ToolName } from './tools.js';

export { decideHostMode, fileCapGrants, overlayInUsernsSupported, parseKernelRelease, parseProcLimits, parseProcStatus, parseSysctlInt } from './parse.js';
export type { HostMode, KernelRelease, ProcStatus, Rlimit, RlimitName, RlimitValue } from './parse.js';
export { findInPath, findTools, inspectTool, TOOL_NAMES, type ToolInfo, type ToolName } from './tools.js';

/**
 * Inside berth's rootless namespace getuid() is 0, so the holder passes the user's host identity
 * to the processes it starts in these variables (userns.md Step 0).
 */
export const OUTER_IDENTITY_ENV = {
  uid: 'BERTH_ROOTLESS_UID',
  gid: 'BERTH_ROOTLESS_GID',
  user: 'BERTH_ROOTLESS_USER',
} as const;

export interface HostFacts {
  /** Real and effective IDs of this process. */
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  /** Login name from getpwuid(euid) (os.userInfo), never $USER; undefined without a passwd entry. */
  userName?: string;
  home?: string;
  /** Supplementary groups, ascending, unique. */
  groups: number[];
  mode: HostMode;
  /** /proc/self/uid_map and gid_map: `0 0 4294967295` in the initial namespace. */
  uidMap: IdMap;
  gidMap: IdMap;
  /** /proc/self/setgroups; undefined on kernels without it. */
  setgroups?: 'allow' | 'deny';
  /** NoNewPrivs in /proc/self/status: setuid helpers such as newuidmap then gain nothing. */
  noNewPrivs: boolean;
  /** CapEff as 16 hex digits. */
  capEff: string;
  /**
   * CapBnd as 16 hex digits: the bounding set of this process. Nothing it starts can gain a
   * capability outside it (a rootful container's set is limited by it). readHostFacts always
   * sets it; facts made by hand may leave it out, which means "not known".
   */
  capBnd?: string;
  /** Seccomp mode from /proc/self/status (0 none, 1 strict, 2 filter). */
  seccomp?: number;
  /** User-namespace sysctls, where the kernel has them. */
  userns: {
    /** user.max_user_namespaces; 0 disables user namespaces. */
    maxUserNamespaces?: number;
    /** kernel.unprivileged_userns_clone (Debian/Ubuntu patch); 0 disables them for non-root. */
    unprivilegedUsernsClone?: number;
    /** kernel.apparmor_restrict_unprivileged_userns (Ubuntu >= 23.10); 1 restricts them. */
    apparmorRestrictUnprivilegedUserns?: number;
  };
  /** Subordinate ranges of this user, in database order. Read only when rootless, else empty. */
  subuids: SubidRange[];
  subgids: SubidRange[];
  /**
   * Where the ranges came from: shadow's getsubids (NSS-aware), the files, or (inside berth's
   * namespace, with the outer identity known) this namespace's own maps; undefined when not read.
   */
  subidSource?: 'getsubids' | 'files' | 'namespace';
  /** Helper programs found in PATH. */
  tools: Partial<Record<ToolName, ToolInfo>>;
  kernel: KernelRelease;
  /** overlayfs mounts inside a user namespace (Linux >= 5.11). */
  overlayInUserns: boolean;
  /** Current soft and hard limits; a runtime must never set one above the hard limit. */
  rlimits: Partial<Record<RlimitName, Rlimit>>;
  /** In a berth namespace: the user's host identity, from OUTER_IDENTITY_ENV. */
  outer?: { uid: number; gid: number; userName?: string };
  /** Anomalies met while reading (also sent to onWarning). */
  warnings: Warning[];
}

export interface ReadHostFactsOptions {
  onWarning?: WarningSink;
  /** Environment to read PATH and OUTER_IDENTITY_ENV from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where nsswitch.conf is (whether a `subid:` source makes getsubids necessary); default /etc/nsswitch.conf. */
  nsswitchPath?: string;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** subuid/subgid files are small; anything bigger is not what shadow wrote. */
const MAX_SUBID_FILE = 4 * 1024 * 1024;

/**
 * Reads a /proc file; undefined when the kernel does not have it (ENOENT) or hides it from this
 * process (EACCES/EPERM, e.g. some /proc/sys entries in containers): the fact is then unknown.
 */
/**
 * Synchronous on purpose: a /proc file is generated on read and never waits for a disk, and the
 * thread pool's round trip costs more than the read (readHostFacts runs on every run() call).
 */
async function readProc(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM') return undefined;
    throw e;
  }
}

/**
 * Reads /etc/subuid or /etc/subgid: a regular file of bounded size (untrusted input has limits).
 * A missing file means no ranges; any other problem is a warning, and the ranges then read as none,
 * so the E_NO_SUBIDS that follows comes with its reason.
 */
async function readSubidFile(path: string, warn: WarningSink): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return '';
    warn({ code: 'W_SUBID_FILE', message: `${path} cannot be read (${(e as Error).message}); its ranges are ignored`, path });
    return '';
  }
  try {
    const st = await fh.stat();
    const problem = !st.isFile() ? 'is not a regular file' : st.size > MAX_SUBID_FILE ? `is larger than ${MAX_SUBID_FILE} bytes` : undefined;
    if (problem) {
      warn({ code: 'W_SUBID_FILE', message: `${path} ${problem}; its ranges are ignored`, path });
      return '';
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { PATH: env.PATH ?? DEFAULT_PATH, LC_ALL: 'C' }, timeout: 10_000, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

interface SubidsRead {
  subuids: SubidRange[];
  subgids: SubidRange[];
  source: 'getsubids' | 'files';
}

/**
 * The subid source nsswitch.conf names, as shadow reads it (lib/nss.c): the first `subid:` line's
 * first word; none (or `files`) means shadow reads /etc/subuid and /etc/subgid itself.
 */
export function nsswitchSubidSource(text: string): string | undefined {
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^subid\s*:\s*(\S+)/.exec(line);
    if (m) return m[1] === 'files' ? undefined : m[1];
  }
  return undefined;
}

/**
 * Subordinate ranges of the user. With a `subid:` source in nsswitch.conf (SSSD, LDAP) only
 * shadow knows them, so `getsubids` is asked; it exits 1 with "Error fetching ranges" when there
 * are none. Otherwise shadow itself reads the files, and so does berth (two children fewer on
 * every rootless start); also when getsubids is missing or its output is not understood.
 */
async function readSubids(
  user: string | undefined,
  uid: number,
  getsubids: ToolInfo | undefined,
  env: NodeJS.ProcessEnv,
  warn: WarningSink,
  nsswitchPath: string,
): Promise<SubidsRead> {
  const nss = await readFile(nsswitchPath, 'utf8').catch(() => '');
  if (getsubids && user !== undefined && nsswitchSubidSource(nss) !== undefined) {
    const [u, g] = await Promise.all([run(getsubids.path, [user], env), run(getsubids.path, ['-g', user], env)]);
    const interpret = (r: ExecResult, flag: string): SubidRange[] | undefined => {
      if (r.code === 0) {
        const parsed = parseGetsubidsOutput(r.stdout);
        if (parsed) return parsed;
      } else if (r.code === 1 && /Error fetching ranges/.test(r.stderr)) {
        return [];
      }
      warn({
        code: 'W_GETSUBIDS',
        message: `getsubids ${flag}${user} gave an unexpected answer (exit ${String(r.code)}: ${(r.stderr || r.stdout).trim().slice(0, 200)}); reading /etc/subuid and /etc/subgid instead`,
        path: getsubids.path,
      });
      return undefined;
    };
    const su = interpret(u, '');
    const sg = interpret(g, '-g ');
    if (su && sg) return { subuids: su, subgids: sg, source: 'getsubids' };
  }
  const [uidText, gidText] = await Promise.all([readSubidFile('/etc/subuid', warn), readSubidFile('/etc/subgid', warn)]);
  const owner = { uid, ...(user !== undefined ? { user } : {}) };
  return {
    subuids: selectSubids(parseSubidFile(uidText, { onWarning: warn, path: '/etc/subuid' }), owner),
    subgids: selectSubids(parseSubidFile(gidText, { onWarning: warn, path: '/etc/subgid' }), owner),
    source: 'files',
  };
}

function outerIdentity(env: NodeJS.ProcessEnv): HostFacts['outer'] {
  const uid = env[OUTER_IDENTITY_ENV.uid];
  const gid = env[OUTER_IDENTITY_ENV.gid];
  if (uid === undefined || gid === undefined || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return undefined;
  const user = env[OUTER_IDENTITY_ENV.user];
  return { uid: Number(uid), gid: Number(gid), ...(user ? { userName: user } : {}) };
}

/** Snapshots the host. Cheap enough for every CLI call; see HostFacts for each field. */
export async function readHostFacts(opts: ReadHostFactsOptions = {}): Promise<HostFacts> {
  const env = opts.env ?? process.env;
  const warnings: Warning[] = [];
  const warn: WarningSink = (w) => {
    warnings.push(w);
    opts.onWarning?.(w);
  };
  const uid = process.getuid!();
  const gid = process.getgid!();
  const euid = process.geteuid!();
  const egid = process.getegid!();
  let userName: string | undefined;
  let home: string | undefined;
  try {
    const u = userInfo();
    userName = u.username;
    home = u.homedir;
  } catch (e) {
    // getpwuid found no entry (ENOENT): a real state (newuidmap then refuses), reported by preflight.
    if (errnoOf(e) !== 'ENOENT') throw e;
  }
  const groups = [...new Set(process.getgroups!())].sort((a, b) => a - b);

  const [uidMapText, gidMapText, setgroupsText, statusText, limitsText, maxNs, cloneSysctl, apparmor, tools] = await Promise.all([
    readProc('/proc/self/uid_map'),
    readProc('/proc/self/gid_map'),
    readProc('/proc/self/setgroups'),
    readProc('/proc/self/status'),
    readProc('/proc/self/limits'),
    readProc('/proc/sys/user/max_user_namespaces'),
    readProc('/proc/sys/kernel/unprivileged_userns_clone'),
    readProc('/proc/sys/kernel/apparmor_restrict_unprivileged_userns'),
    findTools(env.PATH ?? DEFAULT_PATH),
  ]);
  // Without user-namespace support the files are absent and the process is in the initial namespace.
  const fullMap: IdMap = [{ container: 0, host: 0, size: 4294967295 }];
  const uidMap = uidMapText === undefined ? fullMap : parseIdMapText(uidMapText, '/proc/self/uid_map');
  const gidMap = gidMapText === undefined ? fullMap : parseIdMapText(gidMapText, '/proc/self/gid_map');
  const status = parseProcStatus(statusText ?? '');
  const mode = decideHostMode(euid, uidMap);
  const kernel = parseKernelRelease(release());

  let subuids: SubidRange[] = [];
  let subgids: SubidRange[] = [];
  let subidSource: HostFacts['subidSource'];
  if (mode === 'rootless') {
    const s = await readSubids(userName, uid, tools.getsubids, env, warn, opts.nsswitchPath ?? '/etc/nsswitch.conf');
    subuids = s.subuids;
    subgids = s.subgids;
    subidSource = s.source;
  }
  const outer = mode === 'in-userns' ? outerIdentity(env) : undefined;
  if (outer !== undefined) {
    // Inside berth's namespace the delegated ranges are the map's lines other than the user's own.
    const others = (map: IdMap, own: number) => map.filter((r) => !(r.host === own && r.size === 1)).map((r) => ({ start: r.host, count: r.size }));
    subuids = others(uidMap, outer.uid);
    subgids = others(gidMap, outer.gid);
    subidSource = 'namespace';
  }
  const setgroups = setgroupsText?.trim();
  const maxUserNamespaces = parseSysctlInt(maxNs);
  const unprivilegedUsernsClone = parseSysctlInt(cloneSysctl);
  const apparmorRestrictUnprivilegedUserns = parseSysctlInt(apparmor);
  return {
    uid,
    gid,
    euid,
    egid,
    ...(userName !== undefined ? { userName } : {}),
    ...(home !== undefined ? { home } : {}),
    groups,
    mode,
    uidMap,
    gidMap,
    ...(setgroups === 'allow' || setgroups === 'deny' ? { setgroups } : {}),
    noNewPrivs: status.noNewPrivs,
    capEff: status.capEff,
    capBnd: status.capBnd,
    ...(status.seccomp !== undefined ? { seccomp: status.seccomp } : {}),
    userns: {
      ...(maxUserNamespaces !== undefined ? { maxUserNamespaces } : {}),
      ...(unprivilegedUsernsClone !== undefined ? { unprivilegedUsernsClone } : {}),
      ...(apparmorRestrictUnprivilegedUserns !== undefined ? { apparmorRestrictUnprivilegedUserns } : {}),
    },
    subuids,
    subgids,
    ...(subidSource !== undefined ? { subidSource } : {}),
    tools,
    kernel,
    overlayInUserns: overlayInUsernsSupported(kernel),
    rlimits: parseProcLimits(limitsText ?? ''),
    ...(outer !== undefined ? { outer } : {}),
    warnings,
  };
}
