/**
 * api/explain: `berth explain IMAGE [CMD...]`. Loads the image's config and per-layer file index
 * from the store (no layer data), reads the pod manifest when one is given and the host facts
 * when a rootless prediction needs them, and hands everything to the pure explain engine.
 */
import { readFile } from 'node:fs/promises';
import { capSetFromMask, type CapSet } from '../caps/set.js';
import { BerthError, ignoreWarnings, type WarningSink } from '../errors/index.js';
import { explain } from '../explain/explain.js';
import { checkWorkdirFlag, podConflict, podConflictError, type ExplainHost, type ExplainPod, type RunFlags } from '../explain/input.js';
import type { ExplainReport } from '../explain/report.js';
import { PROFILE_NAMES, type ProfileName } from '../identity/types.js';
import { familiarName } from '../oci/reference.js';
import { checkOptions, type StoreOptions } from './options.js';
import { loadImageFacts, openStore } from './store.js';

export interface ExplainImageOptions extends StoreOptions, RunFlags {
  /** Image reference or ID in the store. May be omitted with `pod`/`podYaml`: the container's image is used. */
  image?: string;
  /** Default `berth`, or `kubernetes` when a pod is given. */
  profile?: ProfileName;
  /** Node runtime for kubernetes/openshift: `cri-o` (default) or `containerd`. */
  runtimeDefault?: 'cri-o' | 'containerd';
  /** Path of a Pod or workload manifest (YAML or JSON). */
  pod?: string;
  /** The manifest's text, instead of `pod`. */
  podYaml?: string;
  /** Container name in the manifest; default the first container. */
  container?: string;
}

const KEYS = [
  'root', 'onWarning', 'image', 'profile', 'runtimeDefault', 'pod', 'podYaml', 'container',
  'user', 'groupAdd', 'capAdd', 'capDrop', 'workdir', 'noNewPrivileges', 'userns', 'subuidRange', 'uidRange', 'entrypoint', 'args',
] as const;

function invalid(name: string, reason: string, hint: string): BerthError {
  return new BerthError('E_OPTION_INVALID', `explain(): option "${name}" ${reason}`, { hint });
}

function stringList(name: string, v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalid(name, 'must be an array of strings', `e.g. ${name}: ['NET_RAW']`);
  return v as string[];
}

function optString(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(name, 'must be a string', `give ${name} as a string`);
  return v;
}

function range<K extends string>(name: string, v: unknown, keys: readonly [K, K]): Record<K, number> | undefined {
  if (v === undefined) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || keys.some((k) => !Number.isSafeInteger(o[k]) || (o[k] as number) < 0)) {
    throw invalid(name, `must be { ${keys.join(', ')} } with non-negative integers`, `e.g. ${name}: { ${keys[0]}: 100000, ${keys[1]}: 65536 }`);
  }
  return { [keys[0]]: o[keys[0]], [keys[1]]: o[keys[1]] } as Record<K, number>;
}

/** Normalises the options once: types checked, contradictory pairs rejected. */
function normalise(options: ExplainImageOptions) {
  const o = checkOptions('explain', options, KEYS);
  if (o.profile !== undefined && !PROFILE_NAMES.includes(o.profile)) {
    throw invalid('profile', `is "${String(o.profile)}"`, `use one of ${PROFILE_NAMES.join(', ')}`);
  }
  if (o.runtimeDefault !== undefined && o.runtimeDefault !== 'cri-o' && o.runtimeDefault !== 'containerd') {
    throw invalid('runtimeDefault', `is "${String(o.runtimeDefault)}"`, 'use cri-o or containerd');
  }
  if (o.pod !== undefined && o.podYaml !== undefined) {
    throw new BerthError('E_OPTION_CONFLICT', 'explain(): options "pod" and "podYaml" cannot be combined', { hint: 'give the manifest as a file path or as text, not both' });
  }
  if (o.container !== undefined && o.pod === undefined && o.podYaml === undefined) {
    throw new BerthError('E_OPTION_CONFLICT', 'explain(): option "container" needs "pod"', { hint: 'give --pod FILE to pick a container from' });
  }
  if (o.profile !== undefined && (o.pod !== undefined || o.podYaml !== undefined) && o.profile !== 'kubernetes' && o.profile !== 'openshift') {
    throw new BerthError('E_OPTION_CONFLICT', `explain: --pod cannot be combined with --profile ${o.profile}`, {
      hint: 'a pod\'s securityContext applies under --profile kubernetes or openshift; drop --profile or --pod',
    });
  }
  if (o.noNewPrivileges !== undefined && typeof o.noNewPrivileges !== 'boolean') throw invalid('noNewPrivileges', 'must be a boolean', 'true or false');
  const run: RunFlags = {};
  const user = optString('user', o.user);
  if (user !== undefined) run.user = user;
  for (const k of ['groupAdd', 'capAdd', 'capDrop', 'entrypoint', 'args'] as const) {
    const v = stringList(k, o[k]);
    if (v !== undefined) run[k] = v;
  }
  const workdir = optString('workdir', o.workdir);
  if (workdir !== undefined) run.workdir = checkWorkdirFlag(workdir);
  if (o.noNewPrivileges !== undefined) run.noNewPrivileges = o.noNewPrivileges;
  const userns = optString('userns', o.userns);
  if (userns !== undefined) run.userns = userns;
  const subuid = range('subuidRange', o.subuidRange, ['start', 'count'] as const);
  if (subuid) run.subuidRange = subuid;
  const uidRange = range('uidRange', o.uidRange, ['start', 'size'] as const);
  if (uidRange) run.uidRange = uidRange;
  // Checked before the manifest is read, so a contradiction is reported as such.
  if (o.pod !== undefined || o.podYaml !== undefined) {
    const flag = podConflict(run);
    if (flag !== undefined) throw podConflictError(flag);
  }
  return { o, run };
}

/** Reads and parses the manifest; the YAML parser is loaded only here. */
async function loadPod(path: string | undefined, text: string | undefined, container: string | undefined): Promise<ExplainPod> {
  let yaml = text;
  if (path !== undefined) {
    yaml = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new BerthError('E_POD_READ', `explain --pod ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, {
        hint: 'give the path of a Pod, Deployment, StatefulSet, DaemonSet, Job or CronJob manifest',
        cause: e,
      });
    });
  }
  const { parsePodSpec } = await import('../identity/kubernetes.js');
  const c = parsePodSpec(yaml as string, container);
  const sc = c.securityContext;
  const source = `${path ?? 'pod'}: ${c.kind}${c.name ? ` ${c.name}` : ''}, container ${c.containerName}`;
  return {
    source,
    ...(c.name !== undefined ? { pod: c.name } : {}),
    container: c.containerName,
    ...(c.image !== undefined ? { image: c.image } : {}),
    ...(c.command !== undefined ? { command: c.command } : {}),
    ...(c.args !== undefined ? { args: c.args } : {}),
    ...(c.workingDir !== undefined ? { workingDir: c.workingDir } : {}),
    ...(c.env.length > 0 ? { env: c.env.filter((e) => e.value !== undefined).map((e) => `${e.name}=${e.value}`) } : {}),
    ...(sc.runAsUser !== undefined ? { runAsUser: sc.runAsUser } : {}),
    ...(sc.runAsGroup !== undefined ? { runAsGroup: sc.runAsGroup } : {}),
    ...(sc.runAsNonRoot !== undefined ? { runAsNonRoot: sc.runAsNonRoot } : {}),
    ...(sc.supplementalGroups !== undefined ? { supplementalGroups: sc.supplementalGroups } : {}),
    ...(sc.fsGroup !== undefined ? { fsGroup: sc.fsGroup } : {}),
    ...(sc.supplementalGroupsPolicy !== undefined ? { supplementalGroupsPolicy: sc.supplementalGroupsPolicy } : {}),
    capabilities: { add: c.capabilities.add, drop: c.capabilities.drop },
    ...(c.allowPrivilegeEscalation !== undefined ? { allowPrivilegeEscalation: c.allowPrivilegeEscalation } : {}),
    ...(c.privileged !== undefined ? { privileged: c.privileged } : {}),
  };
}

/** CapBnd of this process, from /proc/self/status; undefined when the file or the line is missing. */
async function readBounding(): Promise<CapSet | undefined> {
  let text: string;
  try {
    text = await readFile('/proc/self/status', 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const m = /^CapBnd:\s*([0-9a-fA-F]{1,16})\s*$/m.exec(text);
  return m ? capSetFromMask(m[1]) : undefined;
}

function rootfulHost(bounding: CapSet | undefined): ExplainHost | undefined {
  return bounding === undefined ? undefined : { uid: 0, gid: 0, rootless: false, subuids: [], subgids: [], bounding };
}

/**
 * Host facts matter where berth or podman would run rootless on this machine, and for a rootful
 * berth with --cap-add, whose container is limited by berth's own bounding set.
 */
async function loadHost(profile: ProfileName, run: RunFlags, onWarning: WarningSink): Promise<ExplainHost | undefined> {
  const rootlessPossible = profile === 'podman-rootless' || (profile === 'berth' && run.subuidRange === undefined);
  const keepId = run.userns !== undefined && run.userns.startsWith('keep-id');
  const capAdd = (run.capAdd?.length ?? 0) > 0;
  if (!rootlessPossible && !keepId) {
    // A rootful berth container can hold only what berth's own bounding set holds (--subuid-range models rootless).
    return profile === 'berth' && run.subuidRange === undefined && capAdd ? rootfulHost(await readBounding()) : undefined;
  }
  // Root on the host (outside any user namespace) runs berth rootful: only its bounding set matters,
  // and only for --cap-add (reading nothing else keeps explain fast).
  if (profile === 'berth' && !keepId && process.geteuid?.() === 0) return capAdd ? rootfulHost(await readBounding()) : undefined;
  const { readHostFacts } = await import('../host/index.js');
  const h = await readHostFacts({ onWarning });
  const outer = h.outer;
  return {
    ...(h.mode !== 'rootless' && capAdd && h.capBnd !== undefined ? { bounding: capSetFromMask(h.capBnd) } : {}),
    uid: outer?.uid ?? h.uid,
    gid: outer?.gid ?? h.gid,
    ...((outer?.userName ?? h.userName) !== undefined ? { userName: (outer?.userName ?? h.userName) as string } : {}),
    rootless: h.mode === 'rootless' || (h.mode === 'in-userns' && outer !== undefined),
    subuids: h.subuids,
    subgids: h.subgids,
  };
}

export async function explainImage(options: ExplainImageOptions): Promise<ExplainReport> {
  const { o, run } = normalise(options);
  const onWarning = o.onWarning ?? ignoreWarnings;
  const podGiven = o.pod !== undefined || o.podYaml !== undefined;
  const pod = podGiven ? await loadPod(o.pod, o.podYaml, o.container) : undefined;
  const ref = o.image ?? pod?.image;
  if (ref === undefined || ref === '') {
    throw new BerthError('E_OPTION_INVALID', 'explain(): no image: give IMAGE, or a pod whose container names an image', {
      hint: 'e.g. berth explain debian:12, or berth explain --pod pod.yaml',
    });
  }
  const store = await openStore(o, { create: false });
  const img = await loadImageFacts(store, ref);
  const profile = o.profile ?? (podGiven ? 'kubernetes' : 'berth');
  const host = await loadHost(profile, run, onWarning);
  return explain({
    ...(o.profile !== undefined ? { profile: o.profile } : {}),
    ...(o.runtimeDefault !== undefined ? { cri: o.runtimeDefault } : {}),
    image: { reference: img.reference !== undefined ? familiarName(img.reference) : ref, id: img.id, config: img.config, view: img.view },
    run,
    ...(pod ? { pod } : {}),
    ...(host ? { host } : {}),
  });
}
