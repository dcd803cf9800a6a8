/**
 * explain/input: what explain() takes (the image as stored, run flags, an optional Kubernetes
 * container and host facts), the parsers for the run-flag syntax `berth explain` shares with
 * `run` (`--subuid-range START:COUNT`, `--uid-range START/SIZE`, `--security-opt`), and the checks
 * on flag combinations that both the API and the engine apply.
 */
import { BerthError } from '../errors/index.js';

/** Largest ID the kernel accepts in a map (4294967295 is "unmapped"). */
const MAX_ID = 4294967295;

function decimal(op: string, what: string, s: string): number {
  if (!/^[0-9]{1,10}$/.test(s)) {
    throw new BerthError('E_OPTION_INVALID', `${op}: ${what} "${s}" is not a decimal number`, {
      hint: 'use plain decimal digits, e.g. 100000',
    });
  }
  return Number(s);
}

/** `--subuid-range START:COUNT`: a subordinate range as /etc/subuid lists it (without the owner). */
export function parseSubuidRange(s: string): { start: number; count: number } {
  const op = `parse --subuid-range ${s}`;
  const m = /^([^:]*):([^:]*)$/.exec(s);
  if (!m) throw new BerthError('E_OPTION_INVALID', `${op}: expected START:COUNT`, { hint: 'e.g. --subuid-range 100000:65536' });
  const start = decimal(op, 'START', m[1]);
  const count = decimal(op, 'COUNT', m[2]);
  if (count === 0) throw new BerthError('E_OPTION_INVALID', `${op}: COUNT must be at least 1`, { hint: 'e.g. --subuid-range 100000:65536' });
  if (start + count > MAX_ID) {
    throw new BerthError('E_OPTION_INVALID', `${op}: the range ends at ${start + count - 1}, past the largest ID ${MAX_ID - 1}`, {
      hint: 'choose a START and COUNT whose end stays below 4294967295',
    });
  }
  return { start, count };
}

/**
 * `--uid-range START/SIZE`: an OpenShift namespace's `openshift.io/sa.scc.uid-range` annotation
 * (identity.md rule 54: a single block).
 */
export function parseUidRange(s: string): { start: number; size: number } {
  const op = `parse --uid-range ${s}`;
  const m = /^([^/]*)\/([^/]*)$/.exec(s);
  if (!m) throw new BerthError('E_OPTION_INVALID', `${op}: expected START/SIZE`, { hint: 'e.g. --uid-range 1000680000/10000' });
  const start = decimal(op, 'START', m[1]);
  const size = decimal(op, 'SIZE', m[2]);
  if (size === 0) throw new BerthError('E_OPTION_INVALID', `${op}: SIZE must be at least 1`, { hint: 'e.g. --uid-range 1000680000/10000' });
  if (start + size - 1 > 2147483647) {
    throw new BerthError('E_OPTION_INVALID', `${op}: the range ends at ${start + size - 1}, past the largest container UID 2147483647`, {
      hint: 'UIDs in a pod must be in range 0-2147483647',
    });
  }
  return { start, size };
}

export interface SecurityOpts {
  /** undefined when no option named no-new-privileges was given. */
  noNewPrivileges?: boolean;
  /** Options that do not change credentials (seccomp, apparmor, label, ...). */
  ignored: string[];
}

/**
 * `--security-opt` values as Docker and podman accept them: `no-new-privileges`,
 * `no-new-privileges:true|false` and `no-new-privileges=true|false`. Other options do not change
 * the process's credentials, so they are returned as ignored for the caller to warn about.
 */
export function parseSecurityOpts(values: readonly string[]): SecurityOpts {
  const out: SecurityOpts = { ignored: [] };
  for (const v of values) {
    const m = /^no-new-privileges(?:[:=](.*))?$/.exec(v);
    if (!m) {
      if (v === '') throw new BerthError('E_OPTION_INVALID', 'parse --security-opt: empty value', { hint: 'e.g. --security-opt no-new-privileges' });
      out.ignored.push(v);
      continue;
    }
    if (m[1] === undefined || m[1] === 'true') out.noNewPrivileges = true;
    else if (m[1] === 'false') out.noNewPrivileges = false;
    else {
      throw new BerthError('E_OPTION_INVALID', `parse --security-opt ${v}: no-new-privileges takes true or false, got "${m[1]}"`, {
        hint: 'use --security-opt no-new-privileges or --security-opt no-new-privileges:false',
      });
    }
  }
  return out;
}

/**
 * The run flag that contradicts a pod manifest, if any: with a pod, its securityContext, command,
 * args and workingDir decide, so a flag that sets the same thing is rejected rather than merged.
 */
export function podConflict(run: RunFlags): string | undefined {
  const set: [string, boolean][] = [
    ['--user', run.user !== undefined],
    ['--group-add', (run.groupAdd?.length ?? 0) > 0],
    ['--cap-add', (run.capAdd?.length ?? 0) > 0],
    ['--cap-drop', (run.capDrop?.length ?? 0) > 0],
    ['--security-opt no-new-privileges', run.noNewPrivileges !== undefined],
    ['--workdir', run.workdir !== undefined],
    ['--entrypoint', run.entrypoint !== undefined],
    ['a command after IMAGE', run.args !== undefined],
    ['--userns', run.userns !== undefined],
    ['--subuid-range', run.subuidRange !== undefined],
  ];
  return set.find(([, on]) => on)?.[0];
}

export function podConflictError(flag: string): BerthError {
  return new BerthError('E_OPTION_CONFLICT', `explain: ${flag} cannot be combined with --pod`, {
    hint: 'the pod manifest decides this; edit its securityContext, command, args or workingDir instead',
  });
}

/** Docker's rule for `-w`: "the working directory '%s' is invalid, it needs to be an absolute path" (identity.md rule 52). */
export function checkWorkdirFlag(dir: string): string {
  if (!dir.startsWith('/')) {
    throw new BerthError('E_WORKDIR_INVALID', `explain --workdir ${dir}: the working directory '${dir}' is invalid, it needs to be an absolute path`, {
      hint: 'give an absolute path, e.g. --workdir /app',
    });
  }
  return dir;
}

// ---------------------------------------------------------------------------------------------
// The input of explain(): the image as stored, the run flags, and the optional pod and host facts.

/** The part of an OCI image config `explain` reads (oci ImageConfig satisfies it). */
export interface ExplainImageConfig {
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
  };
}

export interface ExplainImage {
  reference?: string;
  id?: string;
  config: ExplainImageConfig;
  /** The merged per-layer file index (layer/fileindex.ts mergeFileIndexes). */
  view: import('../layer/fileindex.js').ImageFileView;
}

/** Flags as `berth run` takes them. */
export interface RunFlags {
  user?: string;
  groupAdd?: string[];
  capAdd?: string[];
  capDrop?: string[];
  workdir?: string;
  noNewPrivileges?: boolean;
  /** host, keep-id[:uid=N,gid=N], nomap, auto[:size=N]. */
  userns?: string;
  /** Model a rootless host whose user owns this subordinate range (in both /etc/subuid and /etc/subgid). */
  subuidRange?: { start: number; count: number };
  /** OpenShift namespace UID range; default 1000680000/10000. */
  uidRange?: { start: number; size: number };
  /** Replaces the image ENTRYPOINT; [] clears it (Docker's `--entrypoint ""`). */
  entrypoint?: string[];
  /** Replaces the image CMD (the words after IMAGE). */
  args?: string[];
}

/**
 * One Kubernetes container with its pod- and container-level securityContext merged (identity.md
 * rule 32: container-level runAsUser, runAsGroup and runAsNonRoot win; the group fields are
 * pod-level only).
 */
export interface ExplainPod {
  /** For messages, e.g. `pod.yaml: Deployment web, container app`. */
  source?: string;
  pod?: string;
  container?: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  /** The container's env as NAME=value, appended to the image's (the later value of a name wins). */
  env?: string[];
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  supplementalGroups?: number[];
  fsGroup?: number;
  supplementalGroupsPolicy?: 'Merge' | 'Strict';
  capabilities?: { add?: string[]; drop?: string[] };
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
}

/** Facts about the machine berth runs on, for rootless predictions (src/host reads them). */
export interface ExplainHost {
  uid: number;
  gid: number;
  userName?: string;
  /** True when berth would run rootless here (not root, not inside a user namespace it set up). */
  rootless: boolean;
  subuids: { start: number; count: number }[];
  subgids: { start: number; count: number }[];
  /**
   * The bounding set of the process that runs berth (CapBnd), when known. It limits a rootful
   * berth container (see explain/hostbounding.ts); a rootless one starts from its own user
   * namespace, whose bounding set is full.
   */
  bounding?: import('../caps/set.js').CapSet;
}

export interface ExplainInput {
  /** Default `berth`, or `kubernetes` when `pod` is given. */
  profile?: import('../identity/types.js').ProfileName;
  /** Node runtime for kubernetes/openshift; default cri-o. */
  cri?: 'containerd' | 'cri-o';
  image: ExplainImage;
  run?: RunFlags;
  pod?: ExplainPod;
  host?: ExplainHost;
}
