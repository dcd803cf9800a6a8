/**
 * build/executor: runs a parsed Dockerfile stage by stage and commits the image.
 *
 * Each stage's state is an image config and its layers (build/steps.ts). Instructions that change
 * only the config (ENV, USER, CMD, ...) add a history entry; RUN, COPY, ADD and WORKDIR (when it
 * creates the directory) commit a layer holding exactly their change, or nothing when there is none.
 *
 * Cache: every instruction extends a chain of keys (sha256 of the previous key and the instruction
 * after expansion; COPY/ADD add a hash of their sources' content and metadata; RUN adds the build
 * arguments it sees). A layer-producing step whose key is in `<store>/berth/build-cache/` and whose
 * layer is still in the store is reused without running. History times of cached steps come from
 * the cache, so a fully cached rebuild gives the same image.
 *
 * Identity (identity.md 2.4): RUN runs as the stage's USER resolved with the berth profile (its
 * supplementary groups from /etc/group; an explicit group as written); `COPY --chown` and WORKDIR
 * ownership follow BuildKit's file-op rule 40.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, errnoOf, type WarningSink } from '../errors/index.js';
import type { HostFacts } from '../host/index.js';
import { MEDIA_TYPES, parseReference, type ContainerConfig, type Descriptor, type HistoryEntry, type ImageConfig, type Manifest } from '../oci/index.js';
import type { Store } from '../store/index.js';
import { hostPlatform } from '../api/image.js';
import { newHeader } from '../layer/tar/header.js';
import { loadView } from '../api/store.js';
import type { RuntimeNamespaceFacts } from '../api/run.js';
import { expandWord, exposedPorts, instantiate, normalizeWorkdir, parseDockerfile, parseTrigger, planRunCommand, syntaxError, type CopyInstruction, type Dockerfile, type Instruction, type RunInstruction, type Stage } from './dockerfile/index.js';
import { copyEntries, openBuildContext, planCopy, type BuildContext, type CopySource } from './copy.js';
import type { BuildEnv, StageImage, StageLayer } from './steps.js';

// The runtime (and with it child_process, koffi's users, the identity core) loads only when a step
// must run or write a layer: a fully cached build never needs it.
type Steps = typeof import('./steps.js');

export type BuildEvent =
  | { type: 'step'; step: number; total: number; stage: string; line: number; text: string }
  | { type: 'cached'; step: number }
  | { type: 'output'; step: number; data: Buffer }
  | { type: 'step-done'; step: number; ms: number; layer: boolean }
  | { type: 'done'; id: string; digest: string; ms: number; steps: number; cached: number };

export interface ExecuteBuildInput {
  store: Store;
  /** Host facts and the namespace RUN steps use, read on first need. */
  host: () => Promise<{ facts: HostFacts; ns: RuntimeNamespaceFacts }>;
  contextDir: string;
  dockerfileText: string;
  dockerfileName: string;
  /** The Dockerfile's path: `<Dockerfile>.dockerignore` next to it wins over the context's .dockerignore. */
  dockerfilePath: string;
  tags: string[];
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  /** Base images: pulled when the store lacks them (`missing`), `always`, or `never`. */
  pull: 'always' | 'missing' | 'never';
  tlsVerify?: boolean;
  network: 'host' | 'none';
  onProgress: (e: BuildEvent) => void;
  onWarning: WarningSink;
}

export interface BuildOutcome {
  id: string;
  digest: string;
  tags: string[];
  steps: number;
  cached: number;
}

/** Args any RUN sees without an ARG line (Docker's predefined proxy args). */
const PREDEFINED = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

interface StageRun {
  stage: Stage;
  image: StageImage;
  key: string;
  /** ARG name -> value (undefined: declared without a value). */
  args: Map<string, string | undefined>;
  cmdSet: boolean;
  lastCreated: string;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function envLookup(run: StageRun): (name: string) => string | undefined {
  return (name) => {
    for (const e of run.image.config.config?.Env ?? []) {
      const i = e.indexOf('=');
      if ((i < 0 ? e : e.slice(0, i)) === name) return i < 0 ? '' : e.slice(i + 1);
    }
    return run.args.get(name) ?? undefined;
  };
}

function setEnv(config: ContainerConfig, name: string, value: string): void {
  const env = (config.Env ?? []).filter((e) => (e.indexOf('=') < 0 ? e : e.slice(0, e.indexOf('='))) !== name);
  env.push(`${name}=${value}`);
  config.Env = env;
}

/** BuildKit's file-op owner rule (identity.md rule 40), against the stage's passwd and group. */
function chownOwner(spec: string, passwd: string, group: string): { uid: number; gid: number } {
  const [u, g] = spec.split(':', 2) as [string, string | undefined];
  const users = passwd.split('\n').map((l) => l.split(':'));
  const groups = group.split('\n').map((l) => l.split(':'));
  let uid = 0;
  let gid = 0;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    gid = uid;
  } else {
    const p = users.find((f) => f[0] === u && f.length >= 4);
    if (p) {
      uid = Number(p[2]) || 0;
      gid = Number(p[3]) || 0;
    }
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const gr = groups.find((f) => f[0] === g && f.length >= 3);
      if (gr) gid = Number(gr[2]) || 0;
    }
  }
  return { uid, gid };
}


function cacheDir(store: Store): string {
  return join(store.root, 'berth', 'build-cache');
}

interface CacheEntry {
  version: 1;
  layer?: StageLayer & { size: number };
  created: string;
}

async function readCache(store: Store, key: string): Promise<CacheEntry | undefined> {
  try {
    // Small files read once per step: synchronous reads skip the thread pool's round trips.
    const e = JSON.parse(readFileSync(join(cacheDir(store), `${key}.json`), 'utf8')) as CacheEntry;
    if (e.version !== 1) return undefined;
    // A layer gc removed (or whose metadata is gone) is a miss, not an error.
    if (e.layer && (!(await store.hasBlob(e.layer.digest)) || !existsSync(join(store.layerPath(e.layer.diffId), 'files.json')))) return undefined;
    return e;
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

async function writeCache(store: Store, key: string, entry: CacheEntry): Promise<void> {
  await mkdir(cacheDir(store), { recursive: true, mode: 0o700 });
  const path = join(cacheDir(store), `${key}.json`);
  const tmp = `${path}.tmp-${process.pid}`;
  const { dir: _dir, ...layer } = entry.layer ?? ({} as StageLayer & { size: number });
  await writeFile(tmp, JSON.stringify({ ...entry, ...(entry.layer ? { layer } : {}) }));
  await rename(tmp, path);
}

/** The stages the target needs, in Dockerfile order. */
function planStages(df: Dockerfile, target: string | undefined, file: string): Stage[] {
  let last = df.stages[df.stages.length - 1];
  if (target !== undefined) {
    const t = df.stages.find((s) => s.name === target.toLowerCase());
    if (!t) {
      throw new BerthError('E_BUILD_TARGET', `build --target ${target}: no stage of that name in ${file}`, {
        hint: `stages: ${df.stages.map((s) => s.name ?? String(s.index)).join(', ')}`,
      });
    }
    last = t;
  }
  const byName = (ref: string): Stage | undefined => df.stages.find((s) => s.name === ref.toLowerCase() || String(s.index) === ref);
  const needed = new Set<number>();
  const visit = (s: Stage) => {
    if (needed.has(s.index)) return;
    needed.add(s.index);
    const deps: string[] = [s.from.image];
    for (const ins of s.instructions) if (ins.kind === 'COPY' && ins.from !== undefined) deps.push(ins.from);
    for (const d of deps) {
      const dep = byName(d);
      if (dep && dep.index < s.index) visit(dep);
      else if (dep && dep.index >= s.index && d !== s.from.image) {
        throw syntaxError(file, s.from.line, `stage ${s.name ?? s.index} refers to stage ${d}, which is not an earlier stage`);
      }
    }
  };
  visit(last);
  return df.stages.filter((s) => needed.has(s.index));
}

/** Runs the build; the image is committed and tagged only when every step succeeded. */
export async function executeBuild(input: ExecuteBuildInput): Promise<BuildOutcome> {
  const t0 = Date.now();
  const file = input.dockerfileName;
  const df = parseDockerfile(input.dockerfileText, { file, onWarning: input.onWarning });
  const stages = planStages(df, input.target, file);
  const total = stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
  const platform = hostPlatform();
  const context: BuildContext = await openBuildContext(input.contextDir, { dockerfile: input.dockerfilePath });
  const store = input.store;
  await mkdir(join(store.root, 'berth', 'tmp'), { recursive: true, mode: 0o700 });
  let envP: Promise<BuildEnv> | undefined;
  let stepsP: Promise<Steps> | undefined;
  const steps = () => (stepsP ??= import('./steps.js'));
  const env = () =>
    (envP ??= (async () => {
      const { facts, ns } = await input.host();
      const { ContainerLayout } = await import('../runtime/run/layout.js');
      return { store, facts, ns, layout: new ContainerLayout(store.root), workDir: await mkdtemp(join(store.root, 'berth', 'tmp', 'build-')), onWarning: input.onWarning };
    })());
  const usedArgs = new Set<string>();
  // Global ARGs: visible in FROM lines, and as defaults for ARGs a stage redeclares.
  const globalArgs = new Map<string, string | undefined>([
    ['TARGETPLATFORM', `${platform.os}/${platform.architecture}`],
    ['TARGETOS', platform.os],
    ['TARGETARCH', platform.architecture],
    ['TARGETVARIANT', ''],
    ['BUILDPLATFORM', `${platform.os}/${platform.architecture}`],
    ['BUILDOS', platform.os],
    ['BUILDARCH', platform.architecture],
    ['BUILDVARIANT', ''],
  ]);
  for (const a of df.globalArgs) {
    for (const { key, value } of instantiate(a, (n) => globalArgs.get(n) ?? undefined, { escape: df.escape, file }).args) {
      if (key in input.buildArgs) usedArgs.add(key);
      globalArgs.set(key, input.buildArgs[key] ?? value);
    }
  }
  const done = new Map<number, StageRun>();
  let step = 0;
  let cachedSteps = 0;
  try {
    for (const stage of stages) {
      const label = stage.name ?? `stage-${stage.index}`;
      step++;
      const fromRef = expandWord(stage.from.image, (n) => globalArgs.get(n) ?? undefined, df.escape, { line: stage.from.line, file });
      if (fromRef === '') throw new BerthError('E_DOCKERFILE_ARG', `FROM at ${file}:${stage.from.line}: "${stage.from.image}" expands to nothing`, { hint: 'give the ARG a default or pass --build-arg' });
      input.onProgress({ type: 'step', step, total, stage: label, line: stage.from.line, text: `FROM ${fromRef}${stage.name ? ` AS ${stage.name}` : ''}` });
      const wanted = stage.from.platform;
      if (wanted !== undefined) {
        // Only the host platform can run RUN steps here (no emulation); say so instead of building something else.
        const p = expandWord(wanted, (n) => globalArgs.get(n) ?? undefined, df.escape, { line: stage.from.line, file });
        const [os, arch] = p.split('/');
        if (os !== platform.os || (arch !== undefined && arch !== platform.architecture)) {
          throw new BerthError('E_BUILD_PLATFORM', `FROM --platform=${p} at ${file}:${stage.from.line}: berth builds for the host platform ${platform.os}/${platform.architecture} only`, {
            hint: `remove --platform, or use --platform=$BUILDPLATFORM`,
          });
        }
      }
      const run = await startStage(stage, fromRef, df, done, store, file, input);
      input.onProgress({ type: 'step-done', step, ms: 0, layer: false });
      const triggers = run.image.config.config?.OnBuild ?? [];
      if (run.image.config.config) run.image.config.config.OnBuild = null;
      const instructions = [...triggers.map((t) => parseTrigger(t, { file: `${file} (ONBUILD of ${fromRef})`, line: stage.from.line })), ...stage.instructions];
      for (const ins of instructions) {
        step++;
        const started = Date.now();
        input.onProgress({ type: 'step', step, total, stage: label, line: ins.line, text: ins.original });
        const r = await dispatch(ins, run, { df, file, store, env, steps, context, done, input, usedArgs, globalArgs, step, total, label });
        if (r.cached) cachedSteps++;
        input.onProgress({ type: 'step-done', step, ms: Date.now() - started, layer: r.layer });
      }
      done.set(stage.index, run);
    }
    const final = done.get(stages[stages.length - 1].index)!;
    for (const k of Object.keys(input.buildArgs)) {
      if (!usedArgs.has(k) && !PREDEFINED.includes(k)) input.onWarning({ code: 'W_BUILD_ARG_UNUSED', message: `build-arg ${k} was not consumed by any ARG instruction` });
    }
    const committed = await commit(store, final, input.tags);
    input.onProgress({ type: 'done', id: committed.id, digest: committed.digest, ms: Date.now() - t0, steps: step, cached: cachedSteps });
    return { ...committed, tags: input.tags, steps: step, cached: cachedSteps };
  } finally {
    if (envP) {
      const e = await envP.catch(() => undefined);
      if (e) await (await steps()).removeWorkDir(e).catch((err: unknown) => input.onWarning({ code: 'W_BUILD_CLEANUP', message: `remove ${e.workDir}: ${(err as Error).message}` }));
    }
  }
}

async function startStage(stage: Stage, ref: string, df: Dockerfile, done: Map<number, StageRun>, store: Store, file: string, input: ExecuteBuildInput): Promise<StageRun> {
  const platform = hostPlatform();
  const prev = df.stages.find((s) => (s.name === ref.toLowerCase() || String(s.index) === ref) && s.index < stage.index);
  if (prev) {
    const p = done.get(prev.index)!;
    return { stage, image: { config: structuredClone(p.image.config), layers: p.image.layers.map((l) => ({ ...l })) }, key: sha(`stage ${p.key}`), args: new Map(), cmdSet: false, lastCreated: p.lastCreated };
  }
  if (ref.toLowerCase() === 'scratch') {
    const config: ImageConfig = { architecture: platform.architecture, os: platform.os, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
    return { stage, image: { config, layers: [] }, key: sha('scratch'), args: new Map(), cmdSet: false, lastCreated: new Date(0).toISOString() };
  }
  let img;
  const pull = async () => {
    const { pullImage } = await import('../api/registry.js');
    await pullImage({ reference: ref, root: store.root, unpack: false, onWarning: input.onWarning, ...(input.tlsVerify !== undefined ? { tlsVerify: input.tlsVerify } : {}) });
  };
  try {
    if (input.pull === 'always') await pull();
    try {
      img = await store.resolveImage(ref);
    } catch (e) {
      if (input.pull !== 'missing' || !(e instanceof BerthError) || e.code !== 'E_IMAGE_NOT_FOUND') throw e;
      await pull();
      img = await store.resolveImage(ref);
    }
  } catch (e) {
    throw new BerthError('E_BUILD_BASE_MISSING', `FROM ${ref} at ${file}:${stage.from.line}: ${(e as Error).message}`, {
      hint: 'make the base image available: berth pull, berth load or berth import',
      cause: e,
    });
  }
  const config = structuredClone(img.config);
  const layers = img.manifest.layers.map((l, i) => ({ digest: l.digest, diffId: config.rootfs.diff_ids[i] }));
  return { stage, image: { config, layers }, key: sha(`image ${img.configDescriptor.digest}`), args: new Map(), cmdSet: false, lastCreated: config.created ?? new Date(0).toISOString() };
}

interface DispatchCtx {
  df: Dockerfile;
  file: string;
  store: Store;
  env: () => Promise<BuildEnv>;
  steps: () => Promise<Steps>;
  context: BuildContext;
  done: Map<number, StageRun>;
  input: ExecuteBuildInput;
  usedArgs: Set<string>;
  globalArgs: Map<string, string | undefined>;
  step: number;
  total: number;
  label: string;
}

function history(run: StageRun, createdBy: string, emptyLayer: boolean, created = run.lastCreated): void {
  const h: HistoryEntry = { created, created_by: createdBy, comment: 'berth build', ...(emptyLayer ? { empty_layer: true } : {}) };
  (run.image.config.history ??= []).push(h);
}

function addLayer(run: StageRun, layer: StageLayer, created: string): void {
  run.image.layers.push(layer);
  run.image.config.rootfs.diff_ids.push(layer.diffId);
  run.lastCreated = created;
}

async function dispatch(raw: Instruction, run: StageRun, c: DispatchCtx): Promise<{ cached: boolean; layer: boolean }> {
  const { df, file } = c;
  const at = { line: raw.line, file };
  const look = envLookup(run);
  // The words BuildKit expands, expanded with the stage's ENV and ARGs as they are now.
  const ins = instantiate(raw, look, { escape: df.escape, file });
  const cfg = (run.image.config.config ??= {});
  const shell = cfg.Shell && cfg.Shell.length > 0 ? cfg.Shell : ['/bin/sh', '-c'];
  const next = (extra: string) => (run.key = sha(`${run.key}\n${extra}`));
  switch (ins.kind) {
    case 'ARG': {
      for (const { key, value } of ins.args) {
        if (key in c.input.buildArgs) c.usedArgs.add(key);
        const v = c.input.buildArgs[key] ?? value ?? c.globalArgs.get(key);
        run.args.set(key, v);
        next(`ARG ${key}=${v ?? ''}`);
      }
      return { cached: false, layer: false };
    }
    case 'ENV': {
      for (const { key, value } of ins.pairs) setEnv(cfg, key, value);
      const text = ins.pairs.map((p) => `${p.key}=${p.value}`).join(' ');
      next(`ENV ${text}`);
      history(run, `ENV ${text}`, true);
      return { cached: false, layer: false };
    }
    case 'LABEL': {
      cfg.Labels = { ...(cfg.Labels ?? {}) };
      for (const { key, value } of ins.pairs) cfg.Labels[key] = value;
      const text = ins.pairs.map((p) => `${p.key}=${p.value}`).join(' ');
      next(`LABEL ${text}`);
      history(run, `LABEL ${text}`, true);
      return { cached: false, layer: false };
    }
    case 'MAINTAINER': {
      run.image.config.author = ins.maintainer;
      next(`MAINTAINER ${ins.maintainer}`);
      history(run, `MAINTAINER ${ins.maintainer}`, true);
      return { cached: false, layer: false };
    }
    case 'USER': {
      const u = ins.user.trim();
      cfg.User = u;
      next(`USER ${u}`);
      history(run, `USER ${u}`, true);
      return { cached: false, layer: false };
    }
    case 'EXPOSE': {
      cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
      const ports = exposedPorts(ins.ports, at);
      for (const p of ports) cfg.ExposedPorts[p] = {};
      next(`EXPOSE ${ports.join(' ')}`);
      history(run, `EXPOSE ${ports.join(' ')}`, true);
      return { cached: false, layer: false };
    }
    case 'VOLUME': {
      cfg.Volumes = { ...(cfg.Volumes ?? {}) };
      for (const v of ins.paths) cfg.Volumes[v] = {};
      next(`VOLUME ${JSON.stringify(ins.paths)}`);
      history(run, `VOLUME ${JSON.stringify(ins.paths)}`, true);
      return { cached: false, layer: false };
    }
    case 'STOPSIGNAL': {
      cfg.StopSignal = ins.signal.trim();
      next(`STOPSIGNAL ${cfg.StopSignal}`);
      history(run, `STOPSIGNAL ${cfg.StopSignal}`, true);
      return { cached: false, layer: false };
    }
    case 'SHELL': {
      cfg.Shell = ins.shell;
      next(`SHELL ${JSON.stringify(ins.shell)}`);
      history(run, `SHELL ${JSON.stringify(ins.shell)}`, true);
      return { cached: false, layer: false };
    }
    case 'CMD':
    case 'ENTRYPOINT': {
      const v = ins.form === 'exec' ? ins.command : ins.command === '' ? [] : [...shell, ins.command];
      if (ins.kind === 'CMD') {
        cfg.Cmd = v;
        run.cmdSet = true;
      } else {
        cfg.Entrypoint = v;
        if (!run.cmdSet) cfg.Cmd = null;
      }
      next(`${ins.kind} ${JSON.stringify(v)}`);
      history(run, `${ins.kind} ${JSON.stringify(v)}`, true);
      return { cached: false, layer: false };
    }
    case 'HEALTHCHECK': {
      cfg.Healthcheck = ins.healthcheck;
      next(`HEALTHCHECK ${JSON.stringify(cfg.Healthcheck)}`);
      history(run, `HEALTHCHECK ${JSON.stringify(cfg.Healthcheck)}`, true);
      return { cached: false, layer: false };
    }
    case 'ONBUILD': {
      cfg.OnBuild = [...(cfg.OnBuild ?? []), ins.expression];
      next(`ONBUILD ${ins.expression}`);
      history(run, `ONBUILD ${ins.expression}`, true);
      return { cached: false, layer: false };
    }
    case 'WORKDIR': {
      const dir = normalizeWorkdir(cfg.WorkingDir && cfg.WorkingDir !== '' ? cfg.WorkingDir : '/', ins.path.trim());
      cfg.WorkingDir = dir;
      const key = next(`WORKDIR ${dir} ${cfg.User ?? ''}`);
      // BuildKit creates it owned by USER (rule 40), as a layer of its own when it was missing.
      const view = await loadView(c.store, c.label, run.image.layers);
      if (view.lookup(dir, { follow: true })) {
        history(run, `WORKDIR ${dir}`, true);
        return { cached: false, layer: false };
      }
      if (!c.input.noCache) {
        const hit = await readCache(c.store, key);
        if (hit?.layer) {
          c.input.onProgress({ type: 'cached', step: c.step });
          addLayer(run, { digest: hit.layer.digest, diffId: hit.layer.diffId, plain: true }, hit.created);
          history(run, `WORKDIR ${dir}`, false, hit.created);
          return { cached: true, layer: true };
        }
      }
      const owner = cfg.User ? chownOwner(cfg.User, view.readFile('/etc/passwd')?.toString('utf8') ?? '', view.readFile('/etc/group')?.toString('utf8') ?? '') : { uid: 0, gid: 0 };
      const now = new Date();
      const comps = dir.split('/').filter(Boolean);
      const entries = [];
      for (let k = 1; k <= comps.length; k++) {
        const p = `/${comps.slice(0, k).join('/')}`;
        const e = view.lookup(p, { follow: true });
        const h = newHeader(Buffer.from(p.slice(1), 'utf8').toString('latin1'), {
          type: 'dir',
          mode: e ? e.mode : 0o755,
          uid: e ? e.uid : owner.uid,
          gid: e ? e.gid : owner.gid,
          mtime: { sec: Math.floor(now.getTime() / 1000), nsec: 0 },
        });
        entries.push({ header: h });
      }
      const layer = await (await c.steps()).writeEntriesLayer(await c.env(), entries);
      const created = now.toISOString();
      if (!layer) {
        history(run, `WORKDIR ${dir}`, true);
        return { cached: false, layer: false };
      }
      const size = (await c.store.statBlob(layer.digest))?.size ?? 0;
      addLayer(run, layer, created);
      await writeCache(c.store, key, { version: 1, layer: { ...layer, size }, created });
      history(run, `WORKDIR ${dir}`, false, created);
      return { cached: false, layer: true };
    }
    case 'RUN':
      return runInstruction(ins, run, c, shell, next);
    case 'COPY':
    case 'ADD':
      return copyInstruction(ins, run, c, next);
    default:
      throw syntaxError(file, raw.line, `${raw.kind} is not supported here`);
  }
}

/** A step whose key is cached: its layer (if any) and history, without running it. */
async function fromCache(run: StageRun, c: DispatchCtx, key: string, createdBy: string): Promise<{ cached: true; layer: boolean } | undefined> {
  if (c.input.noCache) return undefined;
  const hit = await readCache(c.store, key);
  if (!hit) return undefined;
  c.input.onProgress({ type: 'cached', step: c.step });
  if (hit.layer) addLayer(run, { digest: hit.layer.digest, diffId: hit.layer.diffId, ...(hit.layer.plain ? { plain: true } : {}) }, hit.created);
  run.lastCreated = hit.created;
  history(run, createdBy, !hit.layer, hit.created);
  return { cached: true, layer: hit.layer !== undefined };
}

/** A step that ran: its layer (or none), the cache entry for its key, and its history. */
async function record(run: StageRun, c: DispatchCtx, key: string, createdBy: string, layer: StageLayer | undefined): Promise<{ cached: false; layer: boolean }> {
  const created = new Date().toISOString();
  if (layer) {
    const size = (await c.store.statBlob(layer.digest))?.size ?? 0;
    addLayer(run, layer, created);
    await writeCache(c.store, key, { version: 1, layer: { ...layer, size }, created });
  } else {
    run.lastCreated = created;
    await writeCache(c.store, key, { version: 1, created });
  }
  history(run, createdBy, !layer, created);
  return { cached: false, layer: layer !== undefined };
}

const cfgUser = (run: StageRun): string => run.image.config.config?.User ?? '';

async function runInstruction(ins: RunInstruction, run: StageRun, c: DispatchCtx, shell: string[], next: (s: string) => string): Promise<{ cached: boolean; layer: boolean }> {
  const { file } = c;
  if (ins.flags.mount.length > 0) throw syntaxError(file, ins.line, 'RUN --mount is not supported', "remove --mount; berth runs each RUN in a fresh container over the stage's file system");
  if (ins.flags.security !== undefined) throw syntaxError(file, ins.line, 'RUN --security is not supported', 'remove --security');
  if (ins.flags.device.length > 0) throw syntaxError(file, ins.line, 'RUN --device is not supported', 'remove --device');
  const network = ins.flags.network === 'none' || ins.flags.network === 'host' ? ins.flags.network : c.input.network;
  const plan = planRunCommand(ins);
  let argv: string[];
  if (plan.kind === 'exec') argv = plan.args;
  else if (plan.kind === 'shell') argv = [...shell, plan.script];
  else {
    // A heredoc with a #! line is a program of its own: written into the container's /dev/shm
    // (a tmpfs) and run directly, as BuildKit runs it from /dev/pipes.
    const end = `BERTH_SCRIPT_${createHash('sha256').update(plan.data).digest('hex').slice(0, 16)}`;
    const path = `/dev/shm/${plan.name}`;
    argv = ['/bin/sh', '-c', `cat > '${path}' <<'${end}'\n${plan.data}${plan.data.endsWith('\n') ? '' : '\n'}${end}\nchmod 0755 '${path}' && exec '${path}'`];
  }
  // Build args reach the process unless an ENV of the same name exists (ENV wins, as in Docker).
  const cfgEnv = new Set((run.image.config.config?.Env ?? []).map((e) => (e.indexOf('=') < 0 ? e : e.slice(0, e.indexOf('=')))));
  const argEnv: string[] = [];
  for (const [k, v] of run.args) if (v !== undefined && !cfgEnv.has(k)) argEnv.push(`${k}=${v}`);
  for (const k of PREDEFINED) if (c.input.buildArgs[k] !== undefined && !run.args.has(k)) argEnv.push(`${k}=${c.input.buildArgs[k]}`);
  argEnv.sort();
  const key = next(`RUN ${JSON.stringify(argv)} ${JSON.stringify(argEnv)} ${network}`);
  const createdBy = `RUN ${argv.join(' ')}`;
  const reused = await fromCache(run, c, key, createdBy);
  if (reused) return reused;
  const { OutputTail, runStep } = await c.steps();
  const output = new OutputTail((data) => c.input.onProgress({ type: 'output', step: c.step, data }));
  let r: Awaited<ReturnType<typeof runStep>>;
  try {
    r = await runStep(await c.env(), run.image, c.step, { argv, env: argEnv, network, label: `${c.label} step ${c.step}`, output });
  } catch (e) {
    // The container never ran (the USER does not resolve, a runtime error): say which step.
    if (e instanceof BerthError) {
      throw new BerthError(e.code, `RUN at ${file}:${ins.line} (step ${c.step}/${c.total}${cfgUser(run) ? `, USER ${cfgUser(run)}` : ''}): ${e.message}`, {
        ...(e.hint ? { hint: e.hint } : {}),
        ...(e.details ? { details: e.details } : {}),
        cause: e,
      });
    }
    throw e;
  }
  if (r.exitCode !== 0) {
    const tail = output.lastLines(10);
    throw new BerthError('E_BUILD_RUN_FAILED', `RUN at ${file}:${ins.line} (step ${c.step}/${c.total}) exited with status ${r.exitCode}${tail.length > 0 && tail.join('') !== '' ? `; last output:\n${tail.map((l) => `  ${l}`).join('\n')}` : ''}`, {
      hint: 'fix the command; nothing was committed',
      details: { line: ins.line, exitCode: r.exitCode, output: tail },
    });
  }
  return record(run, c, key, createdBy, r.layer);
}

async function copyInstruction(ins: CopyInstruction, run: StageRun, c: DispatchCtx, next: (s: string) => string): Promise<{ cached: boolean; layer: boolean }> {
  const { df, file } = c;
  const at = { line: ins.line, file };
  const look = envLookup(run);
  if (ins.parents) throw syntaxError(file, ins.line, 'COPY --parents is not supported', 'remove --parents');
  if (ins.keepGitDir !== undefined) throw syntaxError(file, ins.line, 'ADD --keep-git-dir is not supported', 'remove --keep-git-dir');
  const fromFlag = ins.from;
  const dest = ins.dest;
  const sources = ins.sources;
  if (sources.length === 0 && ins.files.length === 0) throw syntaxError(file, ins.line, `${ins.kind} needs at least one source and a destination`);
  const view = await loadView(c.store, c.label, run.image.layers);
  const chown = ins.chown !== undefined ? chownOwner(ins.chown, view.readFile('/etc/passwd')?.toString('utf8') ?? '', view.readFile('/etc/group')?.toString('utf8') ?? '') : undefined;
  const chmod = ins.chmod;
  const excludes = ins.exclude.map((e) => expandWord(e, look, df.escape, at));
  const checksum = ins.checksum;
  let src: CopySource;
  let srcKey: string;
  if (sources.length === 0) {
    // Heredoc sources (instantiate expanded the bodies that expand).
    src = { kind: 'inline', files: ins.files.map((f) => ({ name: f.name, content: Buffer.from(f.data, 'utf8') })) };
    srcKey = 'inline';
  } else if (fromFlag !== undefined) {
    const ref = fromFlag;
    const stage = c.df.stages.find((s) => (s.name === ref.toLowerCase() || String(s.index) === ref) && s.index < run.stage.index);
    if (stage) {
      const sr = c.done.get(stage.index);
      if (!sr) throw syntaxError(file, ins.line, `COPY --from=${ref}: that stage has not been built`);
      src = { kind: 'layers', store: c.store, layers: sr.image.layers, view: await loadView(c.store, ref, sr.image.layers), label: `stage ${ref}` };
      srcKey = sr.key;
    } else {
      if (c.df.stages.some((s) => s.name === ref.toLowerCase())) throw syntaxError(file, ins.line, `COPY --from=${ref}: a stage cannot copy from itself or a later stage`);
      let img;
      try {
        img = await c.store.resolveImage(ref);
      } catch (e) {
        throw new BerthError('E_BUILD_COPY_FROM', `COPY --from=${ref} at ${file}:${ins.line}: no stage of that name, and no such image: ${(e as Error).message}`, {
          hint: `stages: ${c.df.stages.map((s) => s.name ?? String(s.index)).join(', ')}`,
          cause: e,
        });
      }
      const layers = img.manifest.layers.map((l, i) => ({ digest: l.digest, diffId: img.config.rootfs.diff_ids[i] }));
      src = { kind: 'layers', store: c.store, layers, view: await loadView(c.store, ref, layers), label: `image ${ref}` };
      srcKey = img.configDescriptor.digest;
    }
  } else {
    src = { kind: 'context', context: c.context };
    srcKey = 'context';
  }
  const workdir = run.image.config.config?.WorkingDir || '/';
  const plan = await planCopy(src, {
    instruction: ins.kind as 'COPY' | 'ADD',
    sources,
    dest,
    workdir,
    ...(chown ? { chown } : {}),
    ...(chmod !== undefined ? { chmod } : {}),
    ...(excludes.length > 0 ? { excludes } : {}),
    ...(checksum !== undefined ? { checksum } : {}),
    target: view,
    now: new Date(),
    where: `${file}:${ins.line}`,
    tmpDir: join(c.store.root, 'berth', 'tmp'),
    onWarning: c.input.onWarning,
  });
  const key = next(`${ins.kind} ${srcKey} ${plan.cacheKey}`);
  const createdBy = `${ins.kind} ${sources.join(' ')} ${dest}`;
  try {
    const reused = await fromCache(run, c, key, createdBy);
    if (reused) return reused;
    const layer = await (await c.steps()).writeEntriesLayer(await c.env(), copyEntries(plan));
    return await record(run, c, key, createdBy, layer);
  } finally {
    // Downloads (ADD URL) live until the layer is written.
    await plan.dispose();
  }
}

async function commit(store: Store, run: StageRun, tags: string[]): Promise<{ id: string; digest: string }> {
  const config = run.image.config;
  config.created = run.lastCreated;
  const layers: Descriptor[] = [];
  for (const l of run.image.layers) {
    const st = await store.statBlob(l.digest);
    if (!st) throw new BerthError('E_BUILD_LAYER_MISSING', `build: layer ${l.digest} disappeared from the store`, { hint: 'run the build again (a gc ran meanwhile?)' });
    layers.push({ mediaType: MEDIA_TYPES.ociLayerGzip, digest: l.digest, size: st.size });
  }
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc = { digest: `sha256:${sha256Hex(configBytes)}`, size: configBytes.length };
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: configDesc.digest, size: configDesc.size },
    layers,
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const mdesc = { digest: `sha256:${sha256Hex(manifestBytes)}`, size: manifestBytes.length };
  // A rebuild that gives an image already stored under the same names writes nothing.
  if (!(await store.hasBlob(mdesc.digest)) || !(await store.hasBlob(configDesc.digest))) {
    await store.putBlob(configBytes, configDesc);
    await store.putBlob(manifestBytes, mdesc);
  }
  for (const t of tags) {
    const current = await store.resolveImage(t).catch(() => undefined);
    if (current?.manifestDescriptor.digest === mdesc.digest) continue;
    await store.setRef(parseReference(t), { mediaType: MEDIA_TYPES.ociManifest, digest: mdesc.digest, size: mdesc.size });
  }
  return { id: configDesc.digest, digest: mdesc.digest };
}
