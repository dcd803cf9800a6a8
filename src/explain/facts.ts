/**
 * explain/facts: the resolve step. From the image (config + merged file index), the profile, the
 * run flags or pod, and the host facts, it computes everything the rules read: the process's
 * identity (via src/identity), its capability sets (via src/caps), no_new_privs, working directory,
 * argv, the exec prediction (explain/exec.ts), the user-namespace model, and an image scan. Each
 * decision records which input made it (`provenance`). Rules never recompute any of this.
 */
import { BerthError, isBerthError } from '../errors/index.js';
// Modules are imported directly, not through their folder index: the CLI loads only what it runs
// (module loading dominates `berth explain`'s start-up time).
import { ALL_CAPS, capSetFromNames, parseCapName, type CapSet } from '../caps/set.js';
import { applyCapFlags, defaultCaps, type CapFlagSemantics } from '../caps/defaults.js';
import { processCapsFor, type ProcCaps } from '../caps/process.js';
import type { Credential, InodeInfo } from '../perms/access.js';
import type { PathFs } from '../perms/walk.js';
import { buildRootlessMap, namespaceSize } from '../idmap/rootless.js';
import { containerUserns, type ContainerUserns } from '../idmap/userns.js';
import { describeRange, toHost, type IdMap } from '../idmap/ranges.js';
import { resolveIdentity } from '../identity/resolve.js';
import { DEFAULT_OPENSHIFT_UID_RANGE, PROFILE_NAMES, type IdentityInput, type ProfileName, type ResolvedIdentity } from '../identity/types.js';
import { userDbFromText, type UserDb } from '../identity/userdb.js';
import type { ImageFileView, ViewEntry } from '../layer/fileindex.js';
import { predictExec, type ExecCaller, type ExecPrediction } from './exec.js';
import { checkWorkdirFlag, podConflict, podConflictError, type ExplainHost, type ExplainInput, type ExplainPod, type RunFlags } from './input.js';
import { engineProfile, type EngineProfile } from './profiles.js';
import { capAddWithinBounding } from './hostbounding.js';
import { bytePath, scanImage, type ImageScan } from './scan.js';

/** `0 -> 1000, 1..65536 -> 100000..165535`. */
export function mapText(map: IdMap): string {
  return map.length === 0 ? '(nothing)' : map.map(describeRange).join(', ');
}

/** The subordinate range useradd gives the first user (SUB_UID_MIN 100000, SUB_UID_COUNT 65536). */
export const TYPICAL_SUBIDS = { start: 100000, count: 65536 } as const;
/** The uid a desktop Linux gives its first user, assumed when the host facts name no rootless user. */
export const TYPICAL_HOST_ID = 1000;

const FULL_MAP: IdMap = [{ container: 0, host: 0, size: 4294967295 }];

export interface UserFacts {
  uid: number;
  gid: number;
  /** Sorted, unique: what setgroups gets. */
  groups: number[];
  home: string;
  name?: string;
}

export interface CapFacts {
  base: CapSet;
  add: string[];
  drop: string[];
  semantics: CapFlagSemantics;
  bounding: CapSet;
  /** Before exec. */
  proc: ProcCaps;
  because: string[];
  /** The bounding set of the process that runs berth, when it limits the container (rootful berth). */
  host?: {
    bounding: CapSet;
    /** Capabilities --cap-add names that it lacks: berth refuses the run (E_CAP_NOT_IN_HOST_BOUNDING). */
    missing: string[];
    /** With --cap-add ALL, the capabilities it lacks, left out of the container's set. */
    allNotHeld: string[];
  };
}

/** A process ID the container's user namespace does not map: the runtime cannot set it. */
export interface UnmappedProcessId {
  kind: 'uid' | 'gid';
  id: number;
  /** Which part of the process credential: the uid, the primary gid, or a supplementary gid. */
  role: 'uid' | 'gid' | 'additional gid';
}

export interface UsernsFacts {
  /** A user namespace is modelled (rootless, or a --userns mode other than host). */
  modelled: boolean;
  rootless: boolean;
  hostUid: number;
  hostGid: number;
  /** Which host facts were assumed rather than known. */
  assumed: string[];
  subuids: { start: number; count: number }[];
  subgids: { start: number; count: number }[];
  /** The namespace the runtime runs in: container-side IDs usable by container maps. */
  uidNamespace: IdMap;
  gidNamespace: IdMap;
  container: ContainerUserns;
}

export interface CwdFacts {
  /** Display form. */
  path: string;
  /** Byte-string form as the index uses. */
  byte: string;
  from: string;
  /** The entry at the path, following symlinks; undefined when missing. */
  entry?: ViewEntry;
  /** view.realpath of the path when it exists. */
  canonical?: string;
}

export interface Facts {
  profile: ProfileName;
  engine: EngineProfile;
  image: { reference?: string; id?: string; user: string; env: string[]; view: ImageFileView };
  fs: PathFs;
  db: UserDb;
  run: RunFlags;
  /** The Kubernetes container input for kubernetes/openshift (from --pod or from the run flags). */
  pod?: ExplainPod;
  podGiven: boolean;
  uidRange: { start: number; size: number };
  identityInput: IdentityInput;
  identity?: ResolvedIdentity;
  identityError?: BerthError;
  /** Undefined when the user cannot be resolved: the container does not start. */
  user?: UserFacts;
  runAsNonRoot: boolean;
  caps: CapFacts;
  noNewPrivs: { value: boolean; because: string };
  userns: UsernsFacts;
  cwd: CwdFacts;
  args: { argv: string[]; because: string };
  exec: ExecPrediction;
  /** The credential execve is called with. */
  credBefore: Credential;
  /** The program's credential after exec (the pre-exec one when exec fails). */
  credAfter: Credential;
  /** The program's capability sets after exec (the pre-exec ones when exec fails). */
  capsAfter: ProcCaps;
  /** The process's IDs that the modelled user namespace does not map (empty without a namespace). */
  unmappedIds: UnmappedProcessId[];
  /** Why the container fails before exec although its user resolves (finding codes); empty when it gets there. */
  startBlockers: string[];
  scan: ImageScan;
  provenance: Record<string, string>;
}

function conflict(a: string, b: string, hint: string): BerthError {
  return new BerthError('E_OPTION_CONFLICT', `explain: ${a} cannot be combined with ${b}`, { hint });
}

function envValue(env: readonly string[], name: string): string | undefined {
  let v: string | undefined;
  for (const kv of env) {
    const eq = kv.indexOf('=');
    if (eq > 0 && kv.slice(0, eq) === name) v = kv.slice(eq + 1);
  }
  return v;
}

/** Kubernetes takes numbers: `--user 1000[:2000]` becomes runAsUser/runAsGroup. */
function numericUser(spec: string, profile: ProfileName): { uid: number; gid?: number } {
  const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(spec);
  if (!m || Number(m[1]) > 2147483647 || (m[2] !== undefined && Number(m[2]) > 2147483647)) {
    throw new BerthError('E_OPTION_INVALID', `explain --user ${spec}: the ${profile} profile takes a numeric runAsUser[:runAsGroup] in 0-2147483647`, {
      hint: 'Kubernetes has no user names in securityContext; give numbers, or leave --user out to use the image USER',
    });
  }
  return { uid: Number(m[1]), ...(m[2] !== undefined ? { gid: Number(m[2]) } : {}) };
}

function numericGroup(g: string): number {
  if (!/^\d{1,10}$/.test(g) || Number(g) > 2147483647) {
    throw new BerthError('E_OPTION_INVALID', `explain --group-add ${g}: Kubernetes supplementalGroups are numbers in 0-2147483647`, {
      hint: 'give the gid, e.g. --group-add 20000',
    });
  }
  return Number(g);
}

interface Normalised {
  profile: ProfileName;
  engine: EngineProfile;
  run: RunFlags;
  pod?: ExplainPod;
  podGiven: boolean;
  uidRange: { start: number; size: number };
}

/** Checks the combination of inputs once and fills defaults. */
export function normaliseInput(input: ExplainInput): Normalised {
  const podGiven = input.pod !== undefined;
  const profile = input.profile ?? (podGiven ? 'kubernetes' : 'berth');
  if (!PROFILE_NAMES.includes(profile)) {
    throw new BerthError('E_PROFILE_UNKNOWN', `explain: unknown profile "${String(profile)}"`, { hint: `use one of ${PROFILE_NAMES.join(', ')}` });
  }
  const engine = engineProfile(profile, input.cri ?? 'cri-o');
  const run: RunFlags = { ...(input.run ?? {}) };
  if (run.workdir !== undefined) checkWorkdirFlag(run.workdir);

  if (input.cri !== undefined && !engine.kubernetes) {
    throw conflict('--runtime-default', `--profile ${profile}`, 'the node runtime only matters for --profile kubernetes or openshift');
  }
  if (podGiven && !engine.kubernetes) {
    throw conflict('--pod', `--profile ${profile}`, 'a pod\'s securityContext applies under --profile kubernetes or openshift; drop --profile or --pod');
  }
  if (run.uidRange !== undefined && profile !== 'openshift') {
    throw conflict('--uid-range', `--profile ${profile}`, 'the namespace UID range is an OpenShift setting; use --profile openshift');
  }
  if (run.subuidRange !== undefined && profile !== 'berth' && profile !== 'podman-rootless') {
    throw conflict('--subuid-range', `--profile ${profile}`, 'subordinate IDs model a rootless host; use --profile berth or podman-rootless');
  }
  if (run.userns !== undefined && run.userns !== '' && run.userns !== 'host' && !['berth', 'podman', 'podman-rootless'].includes(profile)) {
    throw conflict(`--userns ${run.userns}`, `--profile ${profile}`, 'user namespace modes are modelled for berth and podman; use --userns host or drop it');
  }

  let pod: ExplainPod | undefined;
  if (engine.kubernetes) {
    if (podGiven) {
      const flag = podConflict(run);
      if (flag !== undefined) throw podConflictError(flag);
      pod = input.pod;
    } else {
      // Without a pod, the run flags stand for the securityContext fields they correspond to.
      const u = run.user !== undefined && run.user !== '' ? numericUser(run.user, profile) : undefined;
      pod = {
        source: 'run flags',
        ...(u ? { runAsUser: u.uid, ...(u.gid !== undefined ? { runAsGroup: u.gid } : {}) } : {}),
        ...((run.groupAdd?.length ?? 0) > 0 ? { supplementalGroups: run.groupAdd!.map(numericGroup) } : {}),
        ...((run.capAdd?.length ?? 0) > 0 || (run.capDrop?.length ?? 0) > 0 ? { capabilities: { add: run.capAdd ?? [], drop: run.capDrop ?? [] } } : {}),
        ...(run.noNewPrivileges !== undefined ? { allowPrivilegeEscalation: !run.noNewPrivileges } : {}),
        ...(run.workdir !== undefined ? { workingDir: run.workdir } : {}),
        ...(run.entrypoint !== undefined ? { command: run.entrypoint } : {}),
        ...(run.args !== undefined ? { args: run.args } : {}),
      };
    }
  }
  return { profile, engine, run, ...(pod ? { pod } : {}), podGiven, uidRange: run.uidRange ?? { ...DEFAULT_OPENSHIFT_UID_RANGE } };
}

/** A view entry as the inode src/perms checks. */
export function toInode(e: ViewEntry): InodeInfo {
  // A hard link whose target was never seen keeps its own header: treat it as the file it names.
  const type = e.type === 'hardlink' ? 'file' : e.type;
  return { type, mode: e.mode, uid: e.uid, gid: e.gid, ...(e.linkname !== undefined ? { linkname: e.linkname } : {}), size: e.size };
}

/** The image's view as the port src/perms walks: canonical path -> inode. */
export function viewFs(view: ImageFileView): PathFs {
  return {
    lookup(p: string): InodeInfo | undefined {
      const e = view.lookup(p);
      return e ? toInode(e) : undefined;
    },
  };
}

/** berth runs rootless when its user is not root; podman-rootless always does. */
function isRootless(n: Normalised, host: ExplainHost | undefined): boolean {
  return n.engine.rootless || (n.profile === 'berth' && (n.run.subuidRange !== undefined || host?.rootless === true));
}

function hasUsernsMode(run: RunFlags): boolean {
  return run.userns !== undefined && run.userns !== '' && run.userns !== 'host';
}

function usernsFacts(n: Normalised, host: ExplainHost | undefined, scan: ImageScan): UsernsFacts {
  const { run } = n;
  const rootless = isRootless(n, host);
  const assumed: string[] = [];
  let hostUid = 0;
  let hostGid = 0;
  let subuids: { start: number; count: number }[] = [];
  let subgids: { start: number; count: number }[] = [];
  let uidNamespace = FULL_MAP;
  let gidNamespace = FULL_MAP;
  if (rootless) {
    if (host && host.uid !== 0) {
      hostUid = host.uid;
      hostGid = host.gid;
    } else {
      hostUid = TYPICAL_HOST_ID;
      hostGid = TYPICAL_HOST_ID;
      assumed.push(`host user uid ${TYPICAL_HOST_ID} gid ${TYPICAL_HOST_ID} (explain runs as ${host ? `uid ${host.uid}` : 'an unknown user'}, not as the rootless user)`);
    }
    if (run.subuidRange) {
      subuids = [run.subuidRange];
      subgids = [run.subuidRange];
    } else if (host && host.uid !== 0 && host.subuids.length > 0 && host.subgids.length > 0) {
      subuids = host.subuids;
      subgids = host.subgids;
    } else {
      subuids = [{ ...TYPICAL_SUBIDS }];
      subgids = [{ ...TYPICAL_SUBIDS }];
      assumed.push(`subordinate IDs ${TYPICAL_SUBIDS.start}:${TYPICAL_SUBIDS.count} (what useradd assigns first; give --subuid-range START:COUNT for the real ones)`);
    }
    const user = host?.userName;
    uidNamespace = buildRootlessMap(hostUid, subuids, { kind: 'uid', ...(user ? { user } : {}), source: run.subuidRange ? '--subuid-range' : '/etc/subuid' });
    gidNamespace = buildRootlessMap(hostGid, subgids, { kind: 'gid', ...(user ? { user } : {}), source: run.subuidRange ? '--subuid-range' : '/etc/subgid' });
  }
  const container = containerUserns(
    { userns: run.userns ?? 'host' },
    { uidMap: uidNamespace, gidMap: gidNamespace, rootless, hostUid, hostGid, imageIdsSize: scan.maxId + 1 },
  );
  return { modelled: rootless || container.userns, rootless, hostUid, hostGid, assumed, subuids, subgids, uidNamespace, gidNamespace, container };
}

function capFacts(n: Normalised, uid: number, hostBounding: CapSet | undefined): CapFacts {
  const { engine, run, pod } = n;
  const because: string[] = [];
  let host: CapFacts['host'];
  const base = defaultCaps(engine.capDefaults);
  because.push(`${engine.capDefaults} default set: ${engine.capDefaultsSource}`);
  let semantics: CapFlagSemantics = engine.capDefaults === 'podman' ? 'podman' : 'docker';
  let add = [...(run.capAdd ?? [])];
  let drop = [...(run.capDrop ?? [])];
  if (hostBounding !== undefined && add.length > 0) {
    const fit = capAddWithinBounding(add, hostBounding);
    host = { bounding: hostBounding, missing: fit.missing, allNotHeld: fit.allNotHeld };
    if (fit.allNotHeld.length > 0) because.push(`--cap-add ALL means the capabilities berth's own bounding set holds; it lacks ${fit.allNotHeld.join(', ')}`);
    add = fit.add;
  }
  if (engine.kubernetes) {
    semantics = 'cri';
    add = [...(pod?.capabilities?.add ?? [])];
    drop = [...(pod?.capabilities?.drop ?? [])];
    if (engine.restrictedV2 && !drop.some((d) => parseCapName(d) === 'ALL')) {
      drop.push('ALL');
      because.push('restricted-v2 lists ALL in requiredDropCapabilities, so admission adds drop: [ALL]');
    }
  }
  let bounding: CapSet;
  if (engine.kubernetes && pod?.privileged === true) {
    bounding = ALL_CAPS;
    because.push('privileged: true gives every capability');
  } else {
    bounding = applyCapFlags(base, add, drop, semantics);
    if (add.length > 0) because.push(`add ${add.join(', ')}`);
    if (drop.length > 0) because.push(`drop ${drop.join(', ')}`);
  }
  const proc = processCapsFor({
    uid,
    bounding,
    engine: engine.capDefaults,
    ...(engine.capDefaults === 'podman' ? { capAdd: capSetFromNames(add) } : {}),
  });
  because.push(...proc.because);
  const { because: _b, ...sets } = proc;
  return { base, add, drop, semantics, bounding, proc: sets, because, ...(host ? { host } : {}) };
}

function noNewPrivsFacts(n: Normalised): { value: boolean; because: string } {
  const { engine, run, pod } = n;
  if (engine.kubernetes) {
    if (pod?.privileged === true) return { value: false, because: 'privileged: true always allows privilege escalation' };
    if (engine.restrictedV2) {
      return {
        value: true,
        because: pod?.allowPrivilegeEscalation === false
          ? 'allowPrivilegeEscalation: false (required by restricted-v2)'
          : 'restricted-v2 defaults allowPrivilegeEscalation to false, which sets no_new_privs',
      };
    }
    if (pod?.allowPrivilegeEscalation === false) return { value: true, because: `allowPrivilegeEscalation: false (${pod.source ?? 'pod'}) sets no_new_privs` };
    return { value: false, because: 'allowPrivilegeEscalation defaults to true: no_new_privs is not set' };
  }
  if (run.noNewPrivileges === true) return { value: true, because: '--security-opt no-new-privileges' };
  if (run.noNewPrivileges === false) return { value: false, because: '--security-opt no-new-privileges:false' };
  return { value: false, because: `${engine.name} does not set no_new_privs by default` };
}

function argsFacts(n: Normalised, entrypoint: string[], cmd: string[]): { argv: string[]; because: string } {
  const { engine, run, pod } = n;
  if (engine.kubernetes && pod) {
    if (pod.command !== undefined) {
      const args = pod.args ?? [];
      return {
        argv: [...pod.command, ...args],
        because: pod.args !== undefined ? 'command and args from the container spec' : 'command from the container spec; the image ENTRYPOINT and CMD are ignored',
      };
    }
    if (pod.args !== undefined) return { argv: [...entrypoint, ...pod.args], because: 'image ENTRYPOINT with args from the container spec (replacing CMD)' };
    if (entrypoint.length === 0 && cmd.length === 0) return { argv: [], because: 'the image has no ENTRYPOINT and no CMD, and the container spec has no command or args' };
    return { argv: [...entrypoint, ...cmd], because: 'image ENTRYPOINT + CMD' };
  }
  if (run.entrypoint !== undefined) {
    const args = run.args ?? [];
    return {
      argv: [...run.entrypoint, ...args],
      because: `--entrypoint${run.args !== undefined ? ' with the command after IMAGE' : '; the image CMD is discarded, as docker run --entrypoint does'}`,
    };
  }
  if (run.args !== undefined) return { argv: [...entrypoint, ...run.args], because: 'image ENTRYPOINT with the command after IMAGE (replacing CMD)' };
  if (entrypoint.length === 0 && cmd.length === 0) return { argv: [], because: 'the image has no ENTRYPOINT and no CMD, and no command was given' };
  return { argv: [...entrypoint, ...cmd], because: entrypoint.length > 0 ? 'image ENTRYPOINT + CMD' : 'image CMD' };
}

export function resolveFacts(input: ExplainInput): Facts {
  const n = normaliseInput(input);
  const { profile, engine, run, pod } = n;
  const view = input.image.view;
  const config = input.image.config.config ?? {};
  const env = [...(config.Env ?? []), ...(engine.kubernetes ? (pod?.env ?? []) : [])];
  const provenance: Record<string, string> = {};
  provenance.profile = input.profile ? 'given' : n.podGiven ? 'kubernetes, because --pod was given' : 'default';
  provenance.engine = `${engine.title}; ${engine.starterSource}`;

  const fs = viewFs(view);
  const passwdText = view.readFile('/etc/passwd');
  const groupText = view.readFile('/etc/group');
  const db = userDbFromText({ passwd: passwdText ?? null, group: groupText ?? null });
  const passwdEntry = view.lookup('/etc/passwd', { follow: true });

  // Working directory: the flag or pod, else the image's WORKDIR, else "/".
  let cwdPath: string;
  let cwdFrom: string;
  if (engine.kubernetes && pod?.workingDir !== undefined && pod.workingDir !== '') {
    cwdPath = pod.workingDir;
    cwdFrom = `workingDir from ${pod.source ?? 'the container spec'}`;
  } else if (!engine.kubernetes && run.workdir !== undefined) {
    cwdPath = run.workdir;
    cwdFrom = '--workdir';
  } else if (config.WorkingDir) {
    cwdPath = config.WorkingDir.startsWith('/') ? config.WorkingDir : `/${config.WorkingDir}`;
    cwdFrom = 'image WORKDIR';
  } else {
    cwdPath = '/';
    cwdFrom = 'default / (the image sets no WORKDIR)';
  }
  const cwdByte = bytePath(cwdPath);
  const cwdEntry = view.lookup(cwdByte, { follow: true });
  const cwdCanonical = cwdEntry ? view.realpath(cwdByte) : undefined;
  const cwd: CwdFacts = {
    path: cwdPath,
    byte: cwdByte,
    from: cwdFrom,
    ...(cwdEntry ? { entry: cwdEntry } : {}),
    ...(cwdCanonical !== undefined ? { canonical: cwdCanonical } : {}),
  };
  provenance['process.cwd'] = cwdFrom;

  const scan = scanImage(view, { owners: isRootless(n, input.host) || hasUsernsMode(run) });
  const userns = usernsFacts(n, input.host, scan);
  if (userns.rootless) {
    provenance.userns =
      `rootless: the runtime's namespace maps uids ${mapText(userns.uidNamespace)} and gids ${mapText(userns.gidNamespace)}` +
      (userns.container.userns ? `; --userns ${userns.container.mode} maps container uids ${mapText(userns.container.uidMap)}` : '') +
      userns.assumed.map((a) => `; assumed ${a}`).join('');
  } else if (userns.container.userns) {
    provenance.userns = `--userns ${userns.container.mode} maps container uids ${mapText(userns.container.uidMap)}`;
  } else {
    provenance.userns = 'none: the container shares the host\'s user IDs (rootful, --userns host)';
  }

  // Identity.
  const identityInput: IdentityInput = {
    profile,
    imageUser: config.User ?? '',
    ...(run.user !== undefined && !engine.kubernetes ? { user: run.user } : {}),
    ...(run.groupAdd !== undefined && !engine.kubernetes ? { groupAdd: run.groupAdd } : {}),
    context: profile === 'kaniko' ? 'build' : 'run',
    ...(run.userns !== undefined ? { userns: run.userns } : {}),
    hostUid: userns.hostUid,
    hostGid: userns.hostGid,
    ...(userns.rootless ? { availableGids: namespaceSize(userns.gidNamespace) } : {}),
    env,
    workingDir: cwdPath,
    ...(passwdEntry && passwdEntry.type === 'file' ? { passwdFile: { mode: passwdEntry.mode, uid: passwdEntry.uid, size: passwdEntry.size } } : {}),
    ...(engine.kubernetes
      ? {
          kubernetes: {
            ...(pod?.runAsUser !== undefined ? { runAsUser: pod.runAsUser } : {}),
            ...(pod?.runAsGroup !== undefined ? { runAsGroup: pod.runAsGroup } : {}),
            ...(pod?.runAsNonRoot !== undefined ? { runAsNonRoot: pod.runAsNonRoot } : {}),
            ...(pod?.supplementalGroups !== undefined ? { supplementalGroups: pod.supplementalGroups } : {}),
            ...(pod?.fsGroup !== undefined ? { fsGroup: pod.fsGroup } : {}),
            ...(pod?.supplementalGroupsPolicy !== undefined ? { supplementalGroupsPolicy: pod.supplementalGroupsPolicy } : {}),
            runtime: engine.cri ?? 'cri-o',
            ...(pod?.pod !== undefined ? { pod: pod.pod } : {}),
            ...(pod?.container !== undefined ? { container: pod.container } : {}),
          },
        }
      : {}),
    ...(profile === 'openshift' ? { openshift: { uidRange: n.uidRange, ...(pod?.runAsUser !== undefined ? { runAsUser: pod.runAsUser } : {}) } } : {}),
  };
  let identity: ResolvedIdentity | undefined;
  let identityError: BerthError | undefined;
  try {
    identity = resolveIdentity(identityInput, db);
  } catch (e) {
    if (!isBerthError(e)) throw e;
    identityError = e;
  }
  let user: UserFacts | undefined;
  if (identity) {
    const name = identity.userName ?? db.passwd?.find((p) => p.uid === identity!.uid)?.name;
    user = { uid: identity.uid, gid: identity.gid, groups: [...identity.additionalGids], home: identity.home, ...(name ? { name } : {}) };
    provenance['process.user'] = identity.because.join('; ');
  } else {
    provenance['process.user'] = `not resolved: ${identityError?.message ?? 'unknown error'}`;
  }
  const runAsNonRoot = engine.kubernetes && pod?.runAsNonRoot === true;

  // Only a rootful berth container inherits the limits of berth's own bounding set; a rootless one
  // starts in a new user namespace, which the kernel gives a full bounding set (set_cred_user_ns).
  const hostBounding = profile === 'berth' && !userns.rootless ? input.host?.bounding : undefined;
  const caps = capFacts(n, user?.uid ?? 0, hostBounding);
  provenance['process.capabilities'] = caps.because.join('; ') + (user ? '' : '; shown for uid 0 because the user could not be resolved');
  const noNewPrivs = noNewPrivsFacts(n);
  provenance['process.noNewPrivileges'] = noNewPrivs.because;

  const args = argsFacts(n, config.Entrypoint ?? [], config.Cmd ?? []);
  provenance['process.args'] = args.because;

  // Credentials. Capabilities count on an inode only if its owner is mapped (userns.md rule 5).
  const uMap = userns.container.uidMap;
  const gMap = userns.container.gidMap;
  const mappedInNs = userns.modelled ? (u: number, g: number) => toHost(uMap, u) !== undefined && toHost(gMap, g) !== undefined : undefined;
  const uid = user?.uid ?? 0;
  const gid = user?.gid ?? 0;
  const groups = user?.groups ?? [];
  const credBefore: Credential = { uid, gid, groups, effective: caps.proc.effective, ...(mappedInNs ? { mappedInNs } : {}) };
  const caller: ExecCaller = {
    cred: credBefore,
    caps: caps.proc,
    uid,
    gid,
    noNewPrivs: noNewPrivs.value,
    // berth rewrites a v3 security.capability as v2 when it unpacks (userns.md U3), so the
    // capability works in the container; other engines keep the foreign rootid and the kernel ignores it.
    v3RootidHonoured: profile === 'berth',
  };
  const exec = predictExec(args.argv, { PATH: envValue(env, 'PATH') }, cwdCanonical ?? cwdByte, view, fs, caller);
  provenance['exec.path'] =
    exec.how === 'none'
      ? 'no command: the image has no ENTRYPOINT or CMD and none was given'
      : exec.how === 'direct'
        ? `args[0] "${exec.program}" contains a slash: used as it is`
        : `args[0] "${exec.program}" searched in PATH=${exec.pathValue}${envValue(env, 'PATH') === undefined ? ' (the engine default; the image sets no PATH)' : ' (image ENV)'}`;
  const capsAfter = exec.outcome === 'ok' && exec.transform ? exec.transform.caps : caps.proc;
  const credAfter: Credential = { ...credBefore, effective: capsAfter.effective };

  // Every ID the process takes must exist in its user namespace, or setresuid/setgroups fail (EINVAL).
  const unmappedIds: UnmappedProcessId[] = [];
  if (user && userns.modelled) {
    if (toHost(uMap, user.uid) === undefined) unmappedIds.push({ kind: 'uid', id: user.uid, role: 'uid' });
    if (toHost(gMap, user.gid) === undefined) unmappedIds.push({ kind: 'gid', id: user.gid, role: 'gid' });
    for (const g of [...new Set(user.groups)].sort((a, b) => a - b)) {
      if (g !== user.gid && toHost(gMap, g) === undefined) unmappedIds.push({ kind: 'gid', id: g, role: 'additional gid' });
    }
  }
  const startBlockers: string[] = [];
  if (unmappedIds.length > 0) startBlockers.push('PROCESS_ID_NOT_MAPPED');
  if ((caps.host?.missing.length ?? 0) > 0) startBlockers.push('CAP_NOT_IN_HOST_BOUNDING');

  return {
    profile,
    engine,
    image: { reference: input.image.reference, id: input.image.id, user: config.User ?? '', env, view },
    fs,
    db,
    run,
    ...(pod ? { pod } : {}),
    podGiven: n.podGiven,
    uidRange: n.uidRange,
    identityInput,
    ...(identity ? { identity } : {}),
    ...(identityError ? { identityError } : {}),
    ...(user ? { user } : {}),
    runAsNonRoot,
    caps,
    noNewPrivs,
    userns,
    cwd,
    args,
    exec,
    credBefore,
    credAfter,
    capsAfter,
    unmappedIds,
    startBlockers,
    scan,
    provenance,
  };
}
