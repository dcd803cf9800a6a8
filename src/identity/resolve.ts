/**
 * identity/resolve: resolveIdentity, the one entry point that answers "who is this process?" for
 * a profile. The input is normalised once (unknown keys and contradictory pairs rejected, naming
 * the option), then dispatched to the engine's rules; every profile's result goes through the
 * same finalize step.
 */
import { BerthError } from '../errors/index.js';
import { finalize } from './draft.js';
import {
  keepIdIds,
  parseUserns,
  resolveBerth,
  resolveBuildahRun,
  resolveBuildkitRun,
  resolveDockerRun,
  resolveKanikoRun,
  resolvePodmanRun,
} from './engines.js';
import { resolveKubernetes, resolveOpenShift } from './kube.js';
import { MAX_ID } from './numeric.js';
import { PROFILE_NAMES, type IdentityInput, type KubernetesIdentityInput, type OpenShiftIdentityInput, type ResolvedIdentity } from './types.js';
import type { UserDb } from './userdb.js';

const OP = 'resolveIdentity()';

/** A caller's value for a message (JSON.stringify throws on bigint and cycles). */
function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object' && v !== null) return 'an object';
  return JSON.stringify(v) ?? String(v);
}

function bad(message: string, hint: string): BerthError {
  return new BerthError('E_IDENTITY_INPUT_INVALID', `${OP}: ${message}`, { hint });
}

function checkKeys(obj: object, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw bad(`invalid option ${JSON.stringify(where + k)}`, `valid options${where === '' ? '' : ` of ${where.slice(0, -1)}`}: ${allowed.join(', ')}`);
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(`${name} must be an integer between ${min} and ${max}, got ${show(v)}`, `fix ${name}`);
  }
  return v;
}

function str(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(`${name} must be a string, got ${show(v)}`, `fix ${name}`);
  return v;
}

function strList(v: unknown, name: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`${name} must be a list of strings`, `fix ${name}`);
  return [...(v as string[])];
}

function range(v: unknown, name: string): { start: number; size: number } {
  if (!isObject(v)) throw bad(`${name} must be {start, size}`, `e.g. ${name}: {start: 1000680000, size: 10000}`);
  checkKeys(v, ['start', 'size'], `${name}.`);
  const start = int(v.start, `${name}.start`, 0, MAX_ID);
  const size = int(v.size, `${name}.size`, 1, MAX_ID);
  if (start === undefined || size === undefined) throw bad(`${name} needs start and size`, `e.g. ${name}: {start: 1000680000, size: 10000}`);
  if (start + size - 1 > MAX_ID) throw bad(`${name} ends at ${start + size - 1}, past ${MAX_ID}`, 'uids in a pod must be in range 0-2147483647');
  return { start, size };
}

function normKubernetes(v: unknown): KubernetesIdentityInput {
  if (!isObject(v)) throw bad('kubernetes must be an object', 'pass the effective securityContext fields');
  checkKeys(v, ['runAsUser', 'runAsGroup', 'runAsNonRoot', 'supplementalGroups', 'fsGroup', 'supplementalGroupsPolicy', 'runtime', 'extraGroups', 'viaKubelet', 'pod', 'container'], 'kubernetes.');
  const out: KubernetesIdentityInput = {};
  const ru = int(v.runAsUser, 'kubernetes.runAsUser', 0, MAX_ID);
  if (ru !== undefined) out.runAsUser = ru;
  const rg = int(v.runAsGroup, 'kubernetes.runAsGroup', 0, MAX_ID);
  if (rg !== undefined) out.runAsGroup = rg;
  const fg = int(v.fsGroup, 'kubernetes.fsGroup', 0, MAX_ID);
  if (fg !== undefined) out.fsGroup = fg;
  for (const key of ['supplementalGroups', 'extraGroups'] as const) {
    const list = v[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw bad(`kubernetes.${key} must be a list of gids`, `fix kubernetes.${key}`);
    out[key] = list.map((g, i) => int(g, `kubernetes.${key}[${i}]`, 0, MAX_ID)!);
  }
  for (const key of ['runAsNonRoot', 'viaKubelet'] as const) {
    if (v[key] === undefined) continue;
    if (typeof v[key] !== 'boolean') throw bad(`kubernetes.${key} must be true or false`, `fix kubernetes.${key}`);
    out[key] = v[key] as boolean;
  }
  if (v.supplementalGroupsPolicy !== undefined) {
    if (v.supplementalGroupsPolicy !== 'Merge' && v.supplementalGroupsPolicy !== 'Strict') {
      throw bad(`kubernetes.supplementalGroupsPolicy must be Merge or Strict, got ${show(v.supplementalGroupsPolicy)}`, 'use Merge or Strict');
    }
    out.supplementalGroupsPolicy = v.supplementalGroupsPolicy;
  }
  if (v.runtime !== undefined) {
    if (v.runtime !== 'containerd' && v.runtime !== 'cri-o') throw bad(`kubernetes.runtime must be containerd or cri-o, got ${show(v.runtime)}`, 'use containerd or cri-o');
    out.runtime = v.runtime;
  }
  const pod = str(v.pod, 'kubernetes.pod');
  if (pod !== undefined) out.pod = pod;
  const container = str(v.container, 'kubernetes.container');
  if (container !== undefined) out.container = container;
  return out;
}

function normOpenShift(v: unknown): OpenShiftIdentityInput {
  if (!isObject(v)) throw bad('openshift must be an object', 'pass the namespace ranges');
  checkKeys(v, ['uidRange', 'supplementalGroupRanges', 'runAsUser'], 'openshift.');
  const out: OpenShiftIdentityInput = {};
  if (v.uidRange !== undefined) out.uidRange = range(v.uidRange, 'openshift.uidRange');
  if (v.supplementalGroupRanges !== undefined) {
    if (!Array.isArray(v.supplementalGroupRanges)) throw bad('openshift.supplementalGroupRanges must be a list', 'fix openshift.supplementalGroupRanges');
    out.supplementalGroupRanges = v.supplementalGroupRanges.map((r, i) => range(r, `openshift.supplementalGroupRanges[${i}]`));
  }
  const ru = int(v.runAsUser, 'openshift.runAsUser', 0, MAX_ID);
  if (ru !== undefined) out.runAsUser = ru;
  return out;
}

const KEYS = ['profile', 'imageUser', 'user', 'groupAdd', 'context', 'userns', 'hostUid', 'hostGid', 'availableGids', 'env', 'workingDir', 'kubernetes', 'openshift', 'passwdFile'] as const;

/**
 * Validates and completes an IdentityInput. Throws E_IDENTITY_INPUT_INVALID naming the option for
 * unknown keys, wrong types and pairs no engine accepts (a pod's securityContext under Docker,
 * `--group-add` under Kubernetes, keep-id under Docker, a build step under Kubernetes, ...).
 */
export function normalizeIdentityInput(input: IdentityInput): IdentityInput {
  if (!isObject(input)) throw bad('the input must be an object', 'pass {profile, imageUser, ...}');
  checkKeys(input, KEYS, '');
  const profile = input.profile;
  if (!PROFILE_NAMES.includes(profile)) throw bad(`unknown profile ${show(profile)}`, `use one of ${PROFILE_NAMES.join(', ')}`);
  const out: IdentityInput = Object.assign(Object.create(null) as IdentityInput, { profile, imageUser: str(input.imageUser, 'imageUser') ?? '' });
  const user = str(input.user, 'user');
  if (user !== undefined) out.user = user;
  const groupAdd = strList(input.groupAdd, 'groupAdd');
  if (groupAdd !== undefined) out.groupAdd = groupAdd;
  const env = strList(input.env, 'env');
  if (env !== undefined) out.env = env;
  const wd = str(input.workingDir, 'workingDir');
  if (wd !== undefined) out.workingDir = wd;
  const userns = str(input.userns, 'userns');
  if (userns !== undefined) out.userns = userns;
  const hu = int(input.hostUid, 'hostUid', 0, 4294967294);
  if (hu !== undefined) out.hostUid = hu;
  const hg = int(input.hostGid, 'hostGid', 0, 4294967294);
  if (hg !== undefined) out.hostGid = hg;
  const ag = int(input.availableGids, 'availableGids', 1, 4294967295);
  if (ag !== undefined) out.availableGids = ag;
  if (input.passwdFile !== undefined) {
    const p = input.passwdFile as unknown;
    if (!isObject(p)) throw bad('passwdFile must be {mode, uid, size}', 'pass the file index metadata of /etc/passwd');
    checkKeys(p, ['mode', 'uid', 'size'], 'passwdFile.');
    out.passwdFile = {
      mode: int(p.mode, 'passwdFile.mode', 0, 0o177777) ?? 0o644,
      uid: int(p.uid, 'passwdFile.uid', 0, 4294967295) ?? 0,
      size: int(p.size, 'passwdFile.size', 0, Number.MAX_SAFE_INTEGER) ?? 1,
    };
  }
  const context = input.context ?? (profile === 'kaniko' ? 'build' : 'run');
  if (context !== 'run' && context !== 'build') throw bad(`context must be run or build, got ${show(context)}`, 'use run or build');
  out.context = context;
  const kube = profile === 'kubernetes' || profile === 'openshift';
  if (input.kubernetes !== undefined) {
    if (!kube) throw bad(`kubernetes options apply to the kubernetes and openshift profiles, not ${profile}`, 'drop the kubernetes options or pick --profile kubernetes');
    out.kubernetes = normKubernetes(input.kubernetes);
  }
  if (input.openshift !== undefined) {
    if (profile !== 'openshift') throw bad(`openshift options apply to the openshift profile, not ${profile}`, 'drop the openshift options or pick --profile openshift');
    out.openshift = normOpenShift(input.openshift);
  }
  if (kube) {
    if (user !== undefined && user !== '') throw bad(`user ${JSON.stringify(user)} has no meaning under ${profile}: a pod sets its user with securityContext.runAsUser`, 'pass kubernetes.runAsUser instead');
    if (groupAdd && groupAdd.length > 0) throw bad(`groupAdd has no meaning under ${profile}: a pod adds groups with securityContext.supplementalGroups`, 'pass kubernetes.supplementalGroups instead');
    if (context === 'build') throw bad(`${profile} does not build images`, 'use context run');
  }
  if (profile === 'openshift') {
    if (out.kubernetes?.runtime === 'containerd') throw bad('OpenShift runs CRI-O, not containerd', 'drop kubernetes.runtime or use the kubernetes profile');
    const a = out.openshift?.runAsUser;
    const b = out.kubernetes?.runAsUser;
    if (a !== undefined && b !== undefined && a !== b) throw bad(`openshift.runAsUser ${a} contradicts kubernetes.runAsUser ${b}`, 'give runAsUser once');
  }
  if (profile === 'kaniko') {
    if (context === 'run') throw bad('kaniko only builds images; its identity rules are for RUN steps', 'use context build');
    if (groupAdd && groupAdd.length > 0) throw bad('kaniko RUN steps have no --group-add', 'drop groupAdd');
  }
  const ns = parseUserns(userns);
  const usernsOk = profile === 'berth' || ((profile === 'podman' || profile === 'podman-rootless') && context === 'run');
  if (ns.kind !== 'host' && !usernsOk) {
    if (!(context === 'build' && (profile === 'podman' || profile === 'podman-rootless') && (ns.kind === 'private' || ns.kind === 'other'))) {
      throw bad(`--userns ${userns} is not a ${profile}${context === 'build' ? ' build' : ''} option`, profile === 'docker' ? 'Docker has only the daemon-wide userns-remap; drop userns' : 'drop userns');
    }
  }
  return out;
}

/**
 * Resolves the process identity of a container (or build step) under a profile. `db` holds the
 * image's /etc/passwd and /etc/group (see userDbFromText). Failures are BerthErrors whose message
 * is the engine's own wording: E_USER_NOT_FOUND, E_GROUP_NOT_FOUND, E_ID_RANGE, E_GROUP_INVALID,
 * E_USER_DB_INVALID, E_USER_DB_MISSING, E_ID_INVALID, E_RUN_AS_NON_ROOT, E_GROUP_WITHOUT_USER,
 * E_OUT_OF_RANGE, E_USER_FILE_LINE_TOO_LONG, E_IDENTITY_INPUT_INVALID.
 */
export function resolveIdentity(input: IdentityInput, db: UserDb): ResolvedIdentity {
  const inp = normalizeIdentityInput(input);
  const context = inp.context!;
  const ns = parseUserns(inp.userns);
  switch (inp.profile) {
    case 'berth': {
      const keepId = ns.kind === 'keep-id' ? keepIdIds(inp, ns, true) : undefined;
      return finalize('berth', context, resolveBerth(inp, db, keepId), db);
    }
    case 'docker':
      return finalize('docker', context, context === 'build' ? resolveBuildkitRun(inp, db) : resolveDockerRun(inp, db), db);
    case 'podman':
    case 'podman-rootless': {
      const rootless = inp.profile === 'podman-rootless';
      return finalize(inp.profile, context, context === 'build' ? resolveBuildahRun(inp, db) : resolvePodmanRun(inp, db, rootless), db);
    }
    case 'kubernetes':
      return finalize('kubernetes', context, resolveKubernetes(inp, db), db);
    case 'openshift':
      return finalize('openshift', context, resolveOpenShift(inp, db), db);
    case 'kaniko':
      return finalize('kaniko', context, resolveKanikoRun(inp, db), db);
  }
}
