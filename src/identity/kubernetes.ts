/**
 * identity/kubernetes: reads a Kubernetes manifest (YAML) into the inputs the kubernetes and
 * openshift profiles need for one container. It accepts a Pod, a workload with a pod template
 * (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job: spec.template), a
 * CronJob (spec.jobTemplate.spec.template), a `kind: List` of those, and multi-document files.
 *
 * The security context is merged the way the kubelet does (identity.md rule 32,
 * securitycontext.DetermineEffectiveSecurityContext): the container's runAsUser, runAsGroup,
 * runAsNonRoot (and seccompProfile) win over the pod's; supplementalGroups, fsGroup and
 * supplementalGroupsPolicy exist only at pod level; capabilities, allowPrivilegeEscalation,
 * privileged and readOnlyRootFilesystem only at container level. Values are validated as the API
 * server would (ids 0..2147483647), and every error names the path in the document.
 *
 * This module is the only identity module that imports `yaml`; it is not re-exported from
 * identity/index.ts so that callers load the YAML parser only when they read a manifest.
 */
import { parseAllDocuments } from 'yaml';
import { BerthError } from '../errors/index.js';
import { MAX_ID } from './numeric.js';
import type { KubernetesIdentityInput } from './types.js';

/** Manifests larger than this are refused (untrusted input). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const TEMPLATE_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job'];
const WORKLOAD_KINDS = ['Pod', ...TEMPLATE_KINDS, 'CronJob'];

export interface PodContainerInput {
  /** The workload's kind and metadata. */
  kind: string;
  name?: string;
  namespace?: string;
  /** 0-based index of the YAML document (and of the item within a List). */
  document: number;
  item?: number;
  containerName: string;
  /** Where the container is in the document, e.g. `spec.template.spec.containers[1]`. */
  containerPath: string;
  /** True when it came from initContainers. */
  init: boolean;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env: { name: string; value?: string }[];
  /** The effective security context, ready to pass as IdentityInput.kubernetes. */
  securityContext: KubernetesIdentityInput;
  capabilities: { add: string[]; drop: string[] };
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  /** seccompProfile.type (container wins over pod). */
  seccompProfile?: string;
  /** For each field set above: the document path it came from. */
  sources: Record<string, string>;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value for a message: scalars as JSON, collections by their shape (they may be cyclic through aliases). */
function show(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object' && v !== null) return 'a mapping';
  if (typeof v === 'bigint') return v.toString();
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function invalid(where: string, message: string, hint: string): BerthError {
  return new BerthError('E_POD_INVALID', `parse pod ${where}: ${message}`, { hint, details: { path: where } });
}

/** A cursor over the document that knows its path, so every error can name it. */
class At {
  constructor(readonly doc: string, readonly path: string) {}
  child(key: string | number): At {
    return new At(this.doc, typeof key === 'number' ? `${this.path}[${key}]` : this.path === '' ? key : `${this.path}.${key}`);
  }
  where(): string {
    return this.path === '' ? this.doc : `${this.doc}: ${this.path}`;
  }
  fail(message: string, hint: string): BerthError {
    return invalid(this.where(), message, hint);
  }
}

function obj(v: unknown, at: At, required: boolean): Obj | undefined {
  if (v === undefined || v === null) {
    if (required) throw at.fail('is missing', `add ${at.path}`);
    return undefined;
  }
  if (!isObj(v)) throw at.fail(`must be a mapping, got ${show(v)}`, `make ${at.path} a mapping`);
  return v;
}

function str(v: unknown, at: At): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw at.fail(`must be a string, got ${show(v)}`, `quote ${at.path} or fix its value`);
  return v;
}

function strList(v: unknown, at: At): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw at.fail('must be a list of strings', `make ${at.path} a list`);
  return v.map((x, i) => {
    if (typeof x !== 'string') throw at.child(i).fail(`must be a string, got ${show(x)}`, 'quote the value');
    return x;
  });
}

function bool(v: unknown, at: At): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw at.fail(`must be true or false, got ${show(v)}`, `use true or false for ${at.path}`);
  return v;
}

function id(v: unknown, at: At): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_ID) {
    throw at.fail(`Invalid value: ${show(v)}: must be between 0 and ${MAX_ID}, inclusive`, `use an integer between 0 and ${MAX_ID}`);
  }
  return v;
}

/** A workload's pod spec and the path to it. */
interface PodSpecRef {
  kind: string;
  name?: string;
  namespace?: string;
  document: number;
  item?: number;
  spec: Obj;
  at: At;
}

function podSpecOf(doc: Obj, at: At, document: number, item: number | undefined): PodSpecRef | undefined {
  const kind = doc.kind;
  if (typeof kind !== 'string') throw at.child('kind').fail(kind === undefined ? 'is missing' : `must be a string, got ${show(kind)}`, 'a manifest needs kind: Pod, Deployment, ...');
  if (!WORKLOAD_KINDS.includes(kind)) return undefined;
  const meta = obj(doc.metadata, at.child('metadata'), false);
  const name = meta ? str(meta.name, at.child('metadata').child('name')) : undefined;
  const namespace = meta ? str(meta.namespace, at.child('metadata').child('namespace')) : undefined;
  let specAt = at.child('spec');
  let spec = obj(doc.spec, specAt, true)!;
  if (kind === 'CronJob') {
    const jt = obj(spec.jobTemplate, specAt.child('jobTemplate'), true)!;
    specAt = specAt.child('jobTemplate').child('spec');
    spec = obj(jt.spec, specAt, true)!;
  }
  if (kind !== 'Pod') {
    const t = obj(spec.template, specAt.child('template'), true)!;
    specAt = specAt.child('template').child('spec');
    spec = obj(t.spec, specAt, true)!;
  }
  const out: PodSpecRef = { kind, document, spec, at: specAt };
  if (name !== undefined) out.name = name;
  if (namespace !== undefined) out.namespace = namespace;
  if (item !== undefined) out.item = item;
  return out;
}

function containersOf(ref: PodSpecRef): { c: Obj; at: At; name: string; init: boolean }[] {
  const out: { c: Obj; at: At; name: string; init: boolean }[] = [];
  for (const key of ['containers', 'initContainers'] as const) {
    const v = ref.spec[key];
    const at = ref.at.child(key);
    if (v === undefined || v === null) {
      if (key === 'containers') throw at.fail('is missing', 'a pod spec needs at least one container');
      continue;
    }
    if (!Array.isArray(v) || (key === 'containers' && v.length === 0)) throw at.fail('must be a non-empty list', 'list the containers');
    v.forEach((c, i) => {
      const cat = at.child(i);
      const co = obj(c, cat, true)!;
      const name = str(co.name, cat.child('name'));
      if (name === undefined || name === '') throw cat.child('name').fail('is missing', 'every container needs a name');
      out.push({ c: co, at: cat, name, init: key === 'initContainers' });
    });
  }
  return out;
}

function describe(ref: PodSpecRef): string {
  return `document ${ref.document}${ref.item !== undefined ? ` item ${ref.item}` : ''} (${ref.kind}${ref.name ? ` ${ref.name}` : ''})`;
}

/**
 * Reads the container `containerName` (or the first container of the first workload) from a
 * manifest. Throws E_POD_INVALID for YAML that is not a workload or has ill-typed fields, and
 * E_POD_CONTAINER_NOT_FOUND listing the container names when the named one is absent.
 */
export function parsePodSpec(yamlText: string, containerName?: string): PodContainerInput {
  if (Buffer.byteLength(yamlText, 'utf8') > MAX_MANIFEST_BYTES) {
    throw invalid('manifest', `is larger than ${MAX_MANIFEST_BYTES} bytes`, 'pass the one manifest that describes the pod');
  }
  const docs = parseAllDocuments(yamlText, { uniqueKeys: true, prettyErrors: false, logLevel: 'error' });
  if (!Array.isArray(docs)) throw invalid('manifest', 'contains no YAML document', 'pass a Pod or a workload manifest');
  const refs: PodSpecRef[] = [];
  const others: string[] = [];
  docs.forEach((doc, i) => {
    const at = new At(`document ${i}`, '');
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      throw invalid(`document ${i}${pos ? ` line ${pos.line} column ${pos.col}` : ''}`, `YAML error: ${err.message.split('\n')[0]}`, 'fix the YAML syntax');
    }
    let js: unknown;
    try {
      js = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // Unresolved aliases and alias bombs surface here.
      throw invalid(`document ${i}`, `YAML error: ${e instanceof Error ? e.message : String(e)}`, 'fix the anchors and aliases');
    }
    if (js === null || js === undefined) return;
    const o = obj(js, at, true)!;
    if (o.kind === 'List') {
      const items = o.items;
      if (!Array.isArray(items)) throw at.child('items').fail('must be a list', 'a List needs items');
      items.forEach((it, j) => {
        const iat = new At(`document ${i}`, `items[${j}]`);
        const ref = podSpecOf(obj(it, iat, true)!, iat, i, j);
        if (ref) refs.push(ref);
        else others.push(`items[${j}] is a ${String((it as Obj).kind)}`);
      });
      return;
    }
    const ref = podSpecOf(o, at, i, undefined);
    if (ref) refs.push(ref);
    else others.push(`document ${i} is a ${String(o.kind)}`);
  });
  if (refs.length === 0) {
    throw invalid('manifest', `no workload found${others.length > 0 ? ` (${others.join('; ')})` : ''}; expected one of ${WORKLOAD_KINDS.join(', ')}`,
      'pass a Pod or a workload with a pod template (Deployment, StatefulSet, DaemonSet, Job, CronJob, ...)');
  }
  let chosen: { ref: PodSpecRef; c: { c: Obj; at: At; name: string; init: boolean } } | undefined;
  const all = refs.map((ref) => ({ ref, cs: containersOf(ref) }));
  if (containerName === undefined) {
    chosen = { ref: all[0].ref, c: all[0].cs.find((x) => !x.init)! };
  } else {
    for (const w of all) {
      const c = w.cs.find((x) => !x.init && x.name === containerName) ?? w.cs.find((x) => x.name === containerName);
      if (c) {
        chosen = { ref: w.ref, c };
        break;
      }
    }
    if (!chosen) {
      const names = all.map((w) => `${describe(w.ref)}: ${w.cs.map((x) => (x.init ? `${x.name} (init)` : x.name)).join(', ')}`).join('; ');
      throw new BerthError('E_POD_CONTAINER_NOT_FOUND', `parse pod: container ${JSON.stringify(containerName)} not found; containers are ${names}`, {
        hint: `pick one of the listed containers with --container`,
        details: { container: containerName },
      });
    }
  }
  return readContainer(chosen.ref, chosen.c);
}

function readContainer(ref: PodSpecRef, cc: { c: Obj; at: At; name: string; init: boolean }): PodContainerInput {
  const { c, at } = cc;
  const sources: Record<string, string> = {};
  const out: PodContainerInput = {
    kind: ref.kind,
    document: ref.document,
    containerName: cc.name,
    containerPath: at.path,
    init: cc.init,
    env: [],
    securityContext: {},
    capabilities: { add: [], drop: [] },
    sources,
  };
  if (ref.name !== undefined) out.name = ref.name;
  if (ref.namespace !== undefined) out.namespace = ref.namespace;
  if (ref.item !== undefined) out.item = ref.item;
  const set = <K extends keyof PodContainerInput>(key: K, v: PodContainerInput[K] | undefined, path: At): void => {
    if (v === undefined) return;
    out[key] = v;
    sources[key] = path.path;
  };
  set('image', str(c.image, at.child('image')), at.child('image'));
  set('command', strList(c.command, at.child('command')), at.child('command'));
  set('args', strList(c.args, at.child('args')), at.child('args'));
  set('workingDir', str(c.workingDir, at.child('workingDir')), at.child('workingDir'));
  if (c.env !== undefined && c.env !== null) {
    const envAt = at.child('env');
    if (!Array.isArray(c.env)) throw envAt.fail('must be a list', 'list env entries as {name, value}');
    out.env = c.env.map((e, i) => {
      const eat = envAt.child(i);
      const eo = obj(e, eat, true)!;
      const name = str(eo.name, eat.child('name'));
      if (name === undefined) throw eat.child('name').fail('is missing', 'every env entry needs a name');
      const value = str(eo.value, eat.child('value'));
      return value === undefined ? { name } : { name, value };
    });
    sources.env = envAt.path;
  }

  const podScAt = ref.at.child('securityContext');
  const podSc = obj(ref.spec.securityContext, podScAt, false) ?? {};
  const scAt = at.child('securityContext');
  const sc = obj(c.securityContext, scAt, false) ?? {};
  const k: KubernetesIdentityInput = { container: cc.name };
  if (ref.kind === 'Pod' && ref.name !== undefined) k.pod = `${ref.name}_${ref.namespace ?? 'default'}`;
  // Container-level wins for these (rule 32).
  for (const key of ['runAsUser', 'runAsGroup'] as const) {
    const cv = id(sc[key], scAt.child(key));
    const pv = id(podSc[key], podScAt.child(key));
    if (cv !== undefined) {
      k[key] = cv;
      sources[key] = scAt.child(key).path;
    } else if (pv !== undefined) {
      k[key] = pv;
      sources[key] = podScAt.child(key).path;
    }
  }
  const cNonRoot = bool(sc.runAsNonRoot, scAt.child('runAsNonRoot'));
  const pNonRoot = bool(podSc.runAsNonRoot, podScAt.child('runAsNonRoot'));
  if (cNonRoot !== undefined) {
    k.runAsNonRoot = cNonRoot;
    sources.runAsNonRoot = scAt.child('runAsNonRoot').path;
  } else if (pNonRoot !== undefined) {
    k.runAsNonRoot = pNonRoot;
    sources.runAsNonRoot = podScAt.child('runAsNonRoot').path;
  }
  // Pod level only.
  const fsGroup = id(podSc.fsGroup, podScAt.child('fsGroup'));
  if (fsGroup !== undefined) {
    k.fsGroup = fsGroup;
    sources.fsGroup = podScAt.child('fsGroup').path;
  }
  if (podSc.supplementalGroups !== undefined && podSc.supplementalGroups !== null) {
    const sgAt = podScAt.child('supplementalGroups');
    if (!Array.isArray(podSc.supplementalGroups)) throw sgAt.fail('must be a list of gids', 'list the gids');
    k.supplementalGroups = podSc.supplementalGroups.map((g, i) => id(g, sgAt.child(i))!);
    sources.supplementalGroups = sgAt.path;
  }
  const pol = podSc.supplementalGroupsPolicy;
  if (pol !== undefined && pol !== null) {
    if (pol !== 'Merge' && pol !== 'Strict') {
      throw podScAt.child('supplementalGroupsPolicy').fail(`Unsupported value: ${show(pol)}: supported values: "Merge", "Strict"`, 'use Merge or Strict');
    }
    k.supplementalGroupsPolicy = pol;
    sources.supplementalGroupsPolicy = podScAt.child('supplementalGroupsPolicy').path;
  }
  for (const key of ['fsGroup', 'supplementalGroups', 'supplementalGroupsPolicy'] as const) {
    if (sc[key] !== undefined) {
      throw scAt.child(key).fail(`is a pod-level field; set it in ${podScAt.path}`, `move ${key} to the pod's securityContext`);
    }
  }
  out.securityContext = k;

  const capAt = scAt.child('capabilities');
  const caps = obj(sc.capabilities, capAt, false);
  if (caps) {
    out.capabilities = {
      add: strList(caps.add, capAt.child('add')) ?? [],
      drop: strList(caps.drop, capAt.child('drop')) ?? [],
    };
    sources.capabilities = capAt.path;
  }
  set('allowPrivilegeEscalation', bool(sc.allowPrivilegeEscalation, scAt.child('allowPrivilegeEscalation')), scAt.child('allowPrivilegeEscalation'));
  set('privileged', bool(sc.privileged, scAt.child('privileged')), scAt.child('privileged'));
  set('readOnlyRootFilesystem', bool(sc.readOnlyRootFilesystem, scAt.child('readOnlyRootFilesystem')), scAt.child('readOnlyRootFilesystem'));
  const cSeccomp = obj(sc.seccompProfile, scAt.child('seccompProfile'), false);
  const pSeccomp = obj(podSc.seccompProfile, podScAt.child('seccompProfile'), false);
  if (cSeccomp) set('seccompProfile', str(cSeccomp.type, scAt.child('seccompProfile').child('type')), scAt.child('seccompProfile').child('type'));
  else if (pSeccomp) set('seccompProfile', str(pSeccomp.type, podScAt.child('seccompProfile').child('type')), podScAt.child('seccompProfile').child('type'));
  return out;
}
