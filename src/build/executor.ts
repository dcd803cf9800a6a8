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
import { expandWord, expandWords, keyValues, parseDockerfile, parseDuration, syntaxError, type Dockerfile, type Instruction, type Stage } from './instructions.js';
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
    const deps: string[] = [s.from.args.split(/\s+/)[0]];
    for (const ins of s.instructions) if ((ins.kind === 'COPY' || ins.kind === 'ADD') && ins.flags.has('from')) deps.push(ins.flags.get('from')![0]);
    for (const d of deps) {
      const dep = byName(d);
      if (dep && dep.index < s.index) visit(dep);
      else if (dep && dep.index >= s.index && d !== s.from.args.split(/\s+/)[0]) {
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
  const df = parseDockerfile(input.dockerfileText, file);
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
    for (const [k, v] of keyValues(a, (n) => globalArgs.get(n) ?? undefined, df.escape, file, { bareKeys: true })) {
      if (k in input.buildArgs) usedArgs.add(k);
      globalArgs.set(k, input.buildArgs[k] ?? v);
    }
  }
  const done = new Map<number, StageRun>();
  let step = 0;
  let cachedSteps = 0;
  try {
    for (const stage of stages) {
      const label = stage.name ?? `stage-${stage.index}`;
      step++;
      const fromRef = expandWord(stage.from.args.split(/\s+/)[0], (n) => globalArgs.get(n) ?? undefined, df.escape, { line: stage.from.line, file });
      input.onProgress({ type: 'step', step, total, stage: label, line: stage.from.line, text: `FROM ${fromRef}${stage.name ? ` AS ${stage.name}` : ''}` });
      const wanted = stage.from.flags.get('platform')?.[0];
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
      const instructions = [...triggers.flatMap((t) => parseDockerfile(`FROM scratch\n${t}\n`, `${file} (ONBUILD of ${fromRef})`).stages[0].instructions), ...stage.instructions];
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

async function dispatch(ins: Instruction, run: StageRun, c: DispatchCtx): Promise<{ cached: boolean; layer: boolean }> {
  const { df, file } = c;
  const at = { line: ins.line, file };
  const look = envLookup(run);
  const cfg = (run.image.config.config ??= {});
  const shell = cfg.Shell && cfg.Shell.length > 0 ? cfg.Shell : ['/bin/sh', '-c'];
  const next = (extra: string) => (run.key = sha(`${run.key}\n${extra}`));
  switch (ins.kind) {
    case 'ARG': {
      for (const [k, v] of keyValues(ins, look, df.escape, file, { bareKeys: true })) {
        if (k in c.input.buildArgs) c.usedArgs.add(k);
        const value = c.input.buildArgs[k] ?? v ?? c.globalArgs.get(k);
        run.args.set(k, value);
        next(`ARG ${k}=${value ?? ''}`);
      }
      return { cached: false, layer: false };
    }
    case 'ENV': {
      const pairs = keyValues(ins, look, df.escape, file);
      for (const [k, v] of pairs) setEnv(cfg, k, v ?? '');
      const text = pairs.map(([k, v]) => `${k}=${v ?? ''}`).join(' ');
      next(`ENV ${text}`);
      history(run, `ENV ${text}`, true);
      return { cached: false, layer: false };
    }
    case 'LABEL': {
      const pairs = keyValues(ins, look, df.escape, file);
      cfg.Labels = { ...(cfg.Labels ?? {}) };
      for (const [k, v] of pairs) cfg.Labels[k] = v ?? '';
      const text = pairs.map(([k, v]) => `${k}=${v ?? ''}`).join(' ');
      next(`LABEL ${text}`);
      history(run, `LABEL ${text}`, true);
      return { cached: false, layer: false };
    }
    case 'MAINTAINER': {
      run.image.config.author = expandWord(ins.args, look, df.escape, at);
      next(`MAINTAINER ${run.image.config.author}`);
      history(run, `MAINTAINER ${run.image.config.author}`, true);
      return { cached: false, layer: false };
    }
    case 'USER': {
      const u = expandWord(ins.args, look, df.escape, at).trim();
      cfg.User = u;
      next(`USER ${u}`);
      history(run, `USER ${u}`, true);
      return { cached: false, layer: false };
    }
    case 'EXPOSE': {
      cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
      const ports = expandWords(ins.args, look, df.escape, at);
      for (const p of ports) {
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) throw syntaxError(file, ins.line, `EXPOSE ${p}: not a port`, 'write PORT[/tcp|udp]');
        cfg.ExposedPorts[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
      }
      next(`EXPOSE ${ports.join(' ')}`);
      history(run, `EXPOSE ${ports.join(' ')}`, true);
      return { cached: false, layer: false };
    }
    case 'VOLUME': {
      const vols = ins.json ?? expandWords(ins.args, look, df.escape, at);
      cfg.Volumes = { ...(cfg.Volumes ?? {}) };
      for (const v of vols) cfg.Volumes[v] = {};
      next(`VOLUME ${JSON.stringify(vols)}`);
      history(run, `VOLUME ${JSON.stringify(vols)}`, true);
      return { cached: false, layer: false };
    }
    case 'STOPSIGNAL': {
      cfg.StopSignal = expandWord(ins.args, look, df.escape, at).trim();
      next(`STOPSIGNAL ${cfg.StopSignal}`);
      history(run, `STOPSIGNAL ${cfg.StopSignal}`, true);
      return { cached: false, layer: false };
    }
    case 'SHELL': {
      if (!ins.json || ins.json.length === 0) throw syntaxError(file, ins.line, 'SHELL requires the JSON form, e.g. SHELL ["/bin/bash", "-c"]');
      cfg.Shell = ins.json;
      next(`SHELL ${JSON.stringify(ins.json)}`);
      history(run, `SHELL ${JSON.stringify(ins.json)}`, true);
      return { cached: false, layer: false };
    }
    case 'CMD':
    case 'ENTRYPOINT': {
      const v = ins.json ?? (ins.args === '' ? [] : [...shell, ins.args]);
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
      const rest = ins.args.trim();
      if (/^none$/i.test(rest)) cfg.Healthcheck = { Test: ['NONE'] };
      else {
        const m = /^CMD\s+([\s\S]*)$/i.exec(rest);
        if (!m) throw syntaxError(file, ins.line, 'HEALTHCHECK takes NONE or CMD COMMAND');
        let json: string[] | undefined;
        try {
          const v = JSON.parse(m[1]) as unknown;
          if (Array.isArray(v) && v.every((x) => typeof x === 'string')) json = v as string[];
        } catch {
          /* shell form */
        }
        const hc: NonNullable<ContainerConfig['Healthcheck']> = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', m[1]] };
        const dur = (n: string) => (ins.flags.has(n) ? parseDuration(ins.flags.get(n)![0], file, ins.line) : undefined);
        const interval = dur('interval');
        const timeout = dur('timeout');
        const startPeriod = dur('start-period');
        const startInterval = dur('start-interval');
        if (interval !== undefined) hc.Interval = interval;
        if (timeout !== undefined) hc.Timeout = timeout;
        if (startPeriod !== undefined) hc.StartPeriod = startPeriod;
        if (startInterval !== undefined) (hc as Record<string, unknown>).StartInterval = startInterval;
        if (ins.flags.has('retries')) {
          const r = Number(ins.flags.get('retries')![0]);
          if (!Number.isInteger(r) || r < 0) throw syntaxError(file, ins.line, `--retries=${ins.flags.get('retries')![0]}: not a number`);
          hc.Retries = r;
        }
        cfg.Healthcheck = hc;
      }
      next(`HEALTHCHECK ${JSON.stringify(cfg.Healthcheck)}`);
      history(run, `HEALTHCHECK ${JSON.stringify(cfg.Healthcheck)}`, true);
      return { cached: false, layer: false };
    }
    case 'ONBUILD': {
      cfg.OnBuild = [...(cfg.OnBuild ?? []), ins.args];
      next(`ONBUILD ${ins.args}`);
      history(run, `ONBUILD ${ins.args}`, true);
      return { cached: false, layer: false };
    }
    case 'WORKDIR': {
      const raw = expandWord(ins.args, look, df.escape, at).trim();
      const base = cfg.WorkingDir && cfg.WorkingDir !== '' ? cfg.WorkingDir : '/';
      const dir = (raw.startsWith('/') ? raw : `${base.replace(/\/$/, '')}/${raw}`).replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
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
      throw syntaxError(file, ins.line, `${ins.kind} is not supported here`);
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

async function runInstruction(ins: Instruction, run: StageRun, c: DispatchCtx, shell: string[], next: (s: string) => string): Promise<{ cached: boolean; layer: boolean }> {
  const { file } = c;
  for (const f of ['mount', 'security']) {
    if (ins.flags.has(f)) throw syntaxError(file, ins.line, `RUN --${f} is not supported`, `remove --${f}; berth runs each RUN in a fresh container over the stage's file system`);
  }
  const netFlag = ins.flags.get('network')?.[0];
  if (netFlag !== undefined && !['default', 'none', 'host'].includes(netFlag)) throw syntaxError(file, ins.line, `RUN --network=${netFlag}: use default, none or host`);
  const network = netFlag === 'none' || netFlag === 'host' ? netFlag : c.input.network;
  let argv: string[];
  if (ins.json) argv = ins.json;
  else if (ins.heredocs.length === 1 && /^<<-?["']?[A-Za-z_][A-Za-z0-9_]*["']?\s*$/.test(ins.args)) {
    // `RUN <<EOF`: the heredoc is the script.
    argv = [...shell, ins.heredocs[0].content];
  } else if (ins.heredocs.length > 0) {
    argv = [...shell, `${ins.args}\n${ins.heredocs.map((h) => `${h.content}${h.name}`).join('\n')}`];
  } else argv = [...shell, ins.args];
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

async function copyInstruction(ins: Instruction, run: StageRun, c: DispatchCtx, next: (s: string) => string): Promise<{ cached: boolean; layer: boolean }> {
  const { df, file } = c;
  const at = { line: ins.line, file };
  const look = envLookup(run);
  for (const f of ['parents', 'keep-git-dir']) {
    if (ins.flags.has(f)) throw syntaxError(file, ins.line, `${ins.kind} --${f} is not supported`, `remove --${f}`);
  }
  const fromFlag = ins.flags.get('from')?.[0];
  if (fromFlag !== undefined && ins.kind === 'ADD') throw syntaxError(file, ins.line, 'ADD does not take --from (use COPY --from)');
  const words = ins.json ?? expandWords(ins.args, look, df.escape, at);
  const heredocNames = new Set(ins.heredocs.map((h) => h.name));
  const isHeredocWord = (w: string) => /^<<-?["']?([A-Za-z_][A-Za-z0-9_]*)["']?$/.test(w) && heredocNames.has(w.replace(/^<<-?["']?|["']?$/g, ''));
  if (words.length < 2) throw syntaxError(file, ins.line, `${ins.kind} needs at least one source and a destination`);
  const dest = words[words.length - 1];
  const sources = words.slice(0, -1);
  const view = await loadView(c.store, c.label, run.image.layers);
  const chownSpec = ins.flags.get('chown')?.[0];
  const chown = chownSpec !== undefined ? chownOwner(expandWord(chownSpec, look, df.escape, at), view.readFile('/etc/passwd')?.toString('utf8') ?? '', view.readFile('/etc/group')?.toString('utf8') ?? '') : undefined;
  const chmodSpec = ins.flags.get('chmod')?.[0];
  const chmod = chmodSpec !== undefined ? expandWord(chmodSpec, look, df.escape, at) : undefined;
  const excludes = (ins.flags.get('exclude') ?? []).map((e) => expandWord(e, look, df.escape, at));
  const checksum = ins.flags.get('checksum')?.[0];
  let src: CopySource;
  let srcKey: string;
  if (sources.every(isHeredocWord) && ins.heredocs.length > 0) {
    src = {
      kind: 'inline',
      files: ins.heredocs.map((h) => ({ name: h.name, content: Buffer.from(h.expand ? expandWord(h.content, look, df.escape, at) : h.content, 'utf8') })),
    };
    srcKey = 'inline';
  } else if (fromFlag !== undefined) {
    const ref = expandWord(fromFlag, look, df.escape, at);
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
    ...(checksum !== undefined ? { checksum: expandWord(checksum, look, df.escape, at) } : {}),
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
