/**
 * explain/report: the shape of what `berth explain` returns (the `--json` output). Field names are
 * a public contract: add fields, never rename them.
 */
import type { Finding, Severity } from '../errors/index.js';

/**
 * What execve(args[0]) does: `ok`; `EPERM` (file capabilities the bounding set cannot grant);
 * `EACCES` (no execute or search permission); `ENOENT` (not found); `EINVAL` (a corrupt
 * security.capability value, which the kernel refuses to load).
 */
export type ExecOutcome = 'ok' | 'EPERM' | 'EACCES' | 'ENOENT' | 'EINVAL';

export interface ReportCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

export interface ReportUser {
  uid: number;
  gid: number;
  /** What the runtime passes to setgroups: sorted, unique, the primary gid included where the engine adds it. */
  additionalGids: number[];
  /** $HOME as the process sees it. */
  home: string;
  /** The passwd name of `uid`, when the image has one (for the `id`-style line). */
  name?: string;
  /** Group names from the image's /etc/group for gid and additionalGids, keyed by gid. */
  groupNames: Record<string, string>;
}

export interface ExplainReport {
  profile: string;
  /** The engine this profile stands for, e.g. "Docker (moby) with runc". */
  engine: string;
  image: { reference?: string; id?: string };
  process: {
    /** null when the user cannot be resolved: the container does not start (see the findings). */
    user: ReportUser | null;
    cwd: string;
    args: string[];
    noNewPrivileges: boolean;
    /** As the process has them just before it execs args[0]. */
    capabilities: ReportCapabilities;
  };
  exec: {
    /** The path execve is called with for args[0], or null when it cannot be found. */
    path: string | null;
    /** The file after symlinks, when it differs from `path` (e.g. /bin/sh -> /bin/busybox). */
    resolved?: string;
    /** libcap text form of its security.capability (e.g. "cap_net_raw=ep"), or null. */
    fileCapabilities: string | null;
    setuid: boolean;
    setgid: boolean;
    outcome: ExecOutcome;
    /**
     * False when the container fails before exec: its user cannot be resolved (the prediction is then
     * for uid 0), or an error finding such as PROCESS_ID_NOT_MAPPED stops it first.
     */
    reached: boolean;
    /** After a successful exec; the unchanged sets when the exec fails. */
    capabilities: { effective: string[]; permitted: string[] };
  };
  findings: Finding[];
  /** Which input decided each field (keys are JSON paths into this report). */
  provenance: Record<string, string>;
}

export const SEVERITY_ORDER: readonly Severity[] = ['error', 'warning', 'info'];

/** Findings in a stable order: severity, then code, then subject. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const rank = (s: Severity) => SEVERITY_ORDER.indexOf(s);
  return [...findings].sort(
    (a, b) => rank(a.severity) - rank(b.severity) || cmp(a.code, b.code) || cmp(a.subject, b.subject) || cmp(a.message, b.message),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
