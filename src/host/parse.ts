/**
 * Parsers for the text host/ reads (/proc/self/status, /proc/self/limits, the kernel release),
 * and the decision of the mode berth runs in. Pure: readHostFacts passes the text in, tests pass
 * literals.
 */
import { ID_LIMIT, type IdRange } from '../idmap/index.js';

export type HostMode = 'rootful' | 'rootless' | 'in-userns';

/**
 * userns.md section 3 Step 0: euid 0 with a full map (a range of 4294967295 IDs, only the initial
 * namespace has one) is rootful; euid 0 otherwise means berth already runs inside a user namespace
 * (re-entered, or inside a container) and must use the IDs it has; any other euid is rootless.
 */
export function decideHostMode(euid: number, uidMap: readonly IdRange[]): HostMode {
  if (euid !== 0) return 'rootless';
  return uidMap.some((r) => r.size === ID_LIMIT) ? 'rootful' : 'in-userns';
}

export interface ProcStatus {
  noNewPrivs: boolean;
  /** 16 hex digits as printed, e.g. `000001ffffffffff`. */
  capEff: string;
  capPrm: string;
  capBnd: string;
  /** 0 disabled, 1 strict, 2 filter; undefined when the kernel does not say. */
  seccomp?: number;
}

/** Reads the fields berth needs from /proc/self/status; missing fields read as off/empty. */
export function parseProcStatus(text: string): ProcStatus {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) fields.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const hex = (k: string) => (/^[0-9a-f]{1,16}$/i.test(fields.get(k) ?? '') ? fields.get(k)!.toLowerCase().padStart(16, '0') : '0'.repeat(16));
  const seccomp = fields.get('Seccomp');
  return {
    noNewPrivs: fields.get('NoNewPrivs') === '1',
    capEff: hex('CapEff'),
    capPrm: hex('CapPrm'),
    capBnd: hex('CapBnd'),
    ...(seccomp !== undefined && /^\d+$/.test(seccomp) ? { seccomp: Number(seccomp) } : {}),
  };
}

/** The OCI runtime spec's names (`process.rlimits[].type`). */
export type RlimitName =
  | 'RLIMIT_CPU'
  | 'RLIMIT_FSIZE'
  | 'RLIMIT_DATA'
  | 'RLIMIT_STACK'
  | 'RLIMIT_CORE'
  | 'RLIMIT_RSS'
  | 'RLIMIT_NPROC'
  | 'RLIMIT_NOFILE'
  | 'RLIMIT_MEMLOCK'
  | 'RLIMIT_AS'
  | 'RLIMIT_LOCKS'
  | 'RLIMIT_SIGPENDING'
  | 'RLIMIT_MSGQUEUE'
  | 'RLIMIT_NICE'
  | 'RLIMIT_RTPRIO'
  | 'RLIMIT_RTTIME';

export type RlimitValue = number | 'unlimited';

export interface Rlimit {
  soft: RlimitValue;
  hard: RlimitValue;
}

/** Row labels of /proc/PID/limits (fs/proc/base.c lnames). */
const LIMIT_ROWS: Record<string, RlimitName> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/**
 * Parses /proc/self/limits. A runtime must never ask for more than the hard limit: without
 * CAP_SYS_RESOURCE setrlimit fails ("error setting rlimit type 7: operation not permitted").
 * Rows the kernel adds later are ignored; a known row that does not parse is left out.
 */
export function parseProcLimits(text: string): Partial<Record<RlimitName, Rlimit>> {
  const out: Partial<Record<RlimitName, Rlimit>> = {};
  const value = (s: string | undefined): RlimitValue | undefined =>
    s === 'unlimited' ? 'unlimited' : s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined;
  for (const line of text.split('\n')) {
    // Columns are space-padded; labels contain single spaces only.
    const cols = line.trim().split(/\s{2,}/);
    const name = LIMIT_ROWS[cols[0] ?? ''];
    if (!name) continue;
    const soft = value(cols[1]);
    const hard = value(cols[2]);
    if (soft !== undefined && hard !== undefined) out[name] = { soft, hard };
  }
  return out;
}

export interface KernelRelease {
  release: string;
  major: number;
  minor: number;
}

/** `6.18.44-fc-v657` -> 6, 18. Unknown shapes give 0.0, which disables version-gated features. */
export function parseKernelRelease(release: string): KernelRelease {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return { release, major: m ? Number(m[1]) : 0, minor: m ? Number(m[2]) : 0 };
}

/** overlayfs can be mounted by an unprivileged user namespace since Linux 5.11. */
export function overlayInUsernsSupported(k: KernelRelease): boolean {
  return k.major > 5 || (k.major === 5 && k.minor >= 11);
}

/** A /proc/sys integer, undefined when absent or not a number. */
export function parseSysctlInt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  return /^-?\d+$/.test(t) ? Number(t) : undefined;
}

/**
 * Whether a `security.capability` value (vfs_cap_data, v2 or v3; v1 is 12 bytes with the same
 * first words) grants `bit` in its permitted set with the effective flag set: `cap_setuid+ep` as
 * newuidmap needs it when it is not setuid root (Fedora ships it that way).
 */
export function fileCapGrants(value: Uint8Array, bit: number): boolean {
  if (value.length < 12) return false;
  const word = (i: number) => (value[i]! | (value[i + 1]! << 8) | (value[i + 2]! << 16) | (value[i + 3]! << 24)) >>> 0;
  const magic = word(0);
  const effective = (magic & 1) === 1;
  const permittedLow = word(4);
  const permittedHigh = value.length >= 20 ? word(12) : 0;
  const set = bit < 32 ? (permittedLow >>> bit) & 1 : (permittedHigh >>> (bit - 32)) & 1;
  return effective && set === 1;
}
