/**
 * build/steps: what one build step does to the file system, on berth's runtime.
 *
 * A stage's state is an image config and its layers. Every layer a step commits goes to the store
 * at once (gzip blob, diffID, file index), so the stage can always be described as a stored
 * image; its root file system for the next RUN is an overlay whose lower directories are:
 *
 * - the cached rootfs (runtime/run/rootfs.ts) of the longest prefix of layers that has no
 *   directory of its own (the base image, or everything up to a cached RUN layer);
 * - above it, one directory per later layer: a RUN step's overlay upper directory, kept when the
 *   step ends (whiteouts and opaque directories in overlay's own form), or the single-layer rootfs
 *   cache of a layer without deletions (COPY, ADD, WORKDIR).
 *
 * A RUN commits the upper directory it wrote (build/diff.ts), read inside the user namespace when
 * rootless (build/pack-child.ts), so owners are the image's IDs and file capabilities are v2.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { BerthError, type Warning, type WarningSink } from '../errors/index.js';
import type { HostFacts } from '../host/index.js';
import { chainId, type ImageConfig } from '../oci/index.js';
import type { Store } from '../store/index.js';
import { loadView, type ImageFacts } from '../api/store.js';
import { writeLayer, type WrittenLayer } from '../api/layers.js';
import { putLayerMetadata } from '../api/image.js';
import { buildRunSpec, normaliseRunOptions, resolveRunWith, type RuntimeNamespaceFacts } from '../api/run.js';
import { ContainerLayout, ensureRootfs, executeContainer, removeTree } from '../runtime/run/index.js';
import { berthProgram } from '../runtime/run/rootfs.js';
import { describeExit, readChildReport } from '../runtime/run/child-protocol.js';
import { joinUserNamespace, sharedUserNamespace } from '../runtime/userns/index.js';
import { upperDirEntries } from './diff.js';

export interface StageLayer {
  digest: string;
  diffId: string;
  /** A directory holding exactly this layer in overlay form, when one exists. */
  dir?: string;
  /** The layer deletes nothing (no whiteouts): its single-layer rootfs cache is its overlay form. */
  plain?: boolean;
}

export interface StageImage {
  config: ImageConfig;
  layers: StageLayer[];
}

export interface BuildEnv {
  store: Store;
  facts: HostFacts;
  ns: RuntimeNamespaceFacts;
  layout: ContainerLayout;
  /** Scratch directory of this build (RUN upper directories live here until the build ends). */
  workDir: string;
  onWarning: WarningSink;
}

/** The stage as run() sees an image: config and merged file view. */
export async function stageFacts(env: BuildEnv, st: StageImage, label: string): Promise<ImageFacts> {
  const diffIds = st.layers.map((l) => l.diffId);
  return {
    reference: label,
    id: label,
    digest: label,
    config: st.config,
    view: await loadView(env.store, label, st.layers),
    layers: st.layers.map((l) => ({ digest: l.digest, diffId: l.diffId })),
  };
}

async function layerDir(env: BuildEnv, l: StageLayer): Promise<string | undefined> {
  if (l.dir !== undefined) return l.dir;
  if (!l.plain) return undefined;
  const cached = await ensureRootfs({
    store: env.store,
    layout: env.layout,
    chainId: chainId([l.diffId]),
    layers: [l.digest],
    facts: env.facts,
    namespace: { uidMap: env.ns.uidMap, gidMap: env.ns.gidMap, rootless: env.ns.rootless },
    onWarning: env.onWarning,
  });
  l.dir = cached.rootfs;
  return l.dir;
}

/** The lower directories of a RUN over this stage: a cached prefix, then per-layer directories. */
async function lowersOf(env: BuildEnv, st: StageImage): Promise<{ base: { chainId: string; layers: string[] } | undefined; lowers: string[] }> {
  const dirs: (string | undefined)[] = [];
  let k = st.layers.length;
  while (k > 0) {
    const d = await layerDir(env, st.layers[k - 1]);
    if (d === undefined) break;
    dirs.unshift(d);
    k--;
  }
  const prefix = st.layers.slice(0, k);
  return {
    base: prefix.length > 0 ? { chainId: chainId(prefix.map((l) => l.diffId)), layers: prefix.map((l) => l.digest) } : undefined,
    lowers: (dirs as string[]).reverse(),
  };
}

/** A Writable that passes output on and keeps its last lines for an error message. */
export class OutputTail extends Writable {
  private tail = '';
  constructor(private readonly sink: (chunk: Buffer) => void, private readonly keep = 8192) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.sink(chunk);
    this.tail = (this.tail + chunk.toString('utf8')).slice(-this.keep);
    cb();
  }
  lastLines(n: number): string[] {
    return this.tail.replace(/\n$/, '').split('\n').slice(-n);
  }
}

export interface RunStepRequest {
  /** The process: SHELL + command (shell form) or the exec form as written. */
  argv: string[];
  /** NAME=VALUE pairs the process gets besides the image's Env (ARGs not shadowed by an ENV). */
  env: string[];
  network: 'host' | 'none';
  label: string;
  /** Where the process's output goes. */
  output: OutputTail;
}

/** Runs one RUN step; returns its exit status and, when it succeeded and changed files, the layer. */
export async function runStep(env: BuildEnv, st: StageImage, n: number, req: RunStepRequest): Promise<{ exitCode: number; layer?: StageLayer }> {
  const image = await stageFacts(env, st, req.label);
  const config = st.config.config ?? {};
  const o = normaliseRunOptions({
    image: req.label,
    cmd: req.argv,
    entrypoint: '',
    env: req.env,
    network: req.network,
    ...(config.WorkingDir ? { workdir: config.WorkingDir.startsWith('/') ? config.WorkingDir : `/${config.WorkingDir}` } : {}),
    rm: true,
    stdio: { stdout: req.output, stderr: req.output },
  });
  const resolved = await resolveRunWith(o, { facts: env.facts, ns: env.ns, store: env.store, image }, env.onWarning);
  const { base, lowers } = await lowersOf(env, st);
  const upper = join(env.workDir, `step-${n}`);
  let scratch: string | undefined;
  if (!base) {
    scratch = join(env.workDir, 'scratch');
    await mkdir(scratch, { recursive: true, mode: 0o755 });
  }
  const result = await executeContainer({
    store: env.store,
    facts: env.facts,
    namespace: { uidMap: env.ns.uidMap, gidMap: env.ns.gidMap, rootless: env.ns.rootless },
    image: { spec: req.label, id: req.label, chainId: base?.chainId ?? '', layers: base?.layers ?? [] },
    autoRemove: true,
    runtime: 'runc',
    buildSpec: (id, rootfsPath) => {
      const b = buildRunSpec(resolved, id, rootfsPath);
      b.warnings.forEach(env.onWarning);
      return b.spec;
    },
    stdio: { mode: { stdout: req.output, stderr: req.output }, interactive: false, tty: false, forwardSignals: false, stopTimeoutMs: 10_000 },
    shareUserNamespace: true,
    step: { lowers, keepUpper: upper, ...(scratch !== undefined ? { base: scratch } : {}) },
    onWarning: env.onWarning,
  });
  if (result.exitCode !== 0) return { exitCode: result.exitCode };
  const layer = await commitUpper(env, upper);
  if (!layer) {
    await removeTree({ layout: env.layout, facts: env.facts, ...(env.ns.rootless ? { rootless: { uidMap: env.ns.uidMap, gidMap: env.ns.gidMap } } : {}), onWarning: env.onWarning }, upper);
    return { exitCode: 0 };
  }
  return { exitCode: 0, layer: { ...layer, dir: upper } };
}

/** The compiled pack-child.js. */
function packChildPath(): string {
  return berthProgram(import.meta.url, 'pack-child.js', 'build/pack-child.js', 'build');
}

/** Commits an upper directory as a layer; undefined when the step changed nothing. */
export async function commitUpper(env: BuildEnv, upper: string): Promise<{ digest: string; diffId: string } | undefined> {
  if (!env.ns.rootless) {
    const layer = await writeLayer(env.store, upperDirEntries(upper, { onWarning: env.onWarning }));
    if (layer.entries === 0) return undefined;
    await putLayerMetadata(env.store, [layer]);
    return { digest: layer.descriptor.digest, diffId: layer.diffId };
  }
  const holder = await sharedUserNamespace({ uidMap: env.ns.uidMap, gidMap: env.ns.gidMap }, env.facts);
  const child = await joinUserNamespace(holder.pid, process.execPath, [packChildPath(), JSON.stringify({ root: env.store.root, upper })], {
    stdio: ['ignore', 'pipe', 'pipe'],
    facts: env.facts,
    cwd: dirname(upper),
  });
  const report = await readChildReport(child, env.onWarning);
  const layer = report.results.find((r) => r.layer !== undefined)?.layer as { descriptor: { digest: string }; diffId: string; entries: number } | undefined;
  if (!layer || report.status.code !== 0) {
    throw new BerthError('E_BUILD_COMMIT_FAILED', `build: committing a step in the user namespace failed (${describeExit(report)})`, {
      hint: 'run the build again; if it persists, report it with the message above',
    });
  }
  return layer.entries === 0 ? undefined : { digest: layer.descriptor.digest, diffId: layer.diffId };
}

/** Writes a layer made of entries (COPY, ADD, WORKDIR); undefined when there are none. */
export async function writeEntriesLayer(env: BuildEnv, entries: Parameters<typeof writeLayer>[1]): Promise<StageLayer | undefined> {
  const layer: WrittenLayer = await writeLayer(env.store, entries);
  if (layer.entries === 0) return undefined;
  await putLayerMetadata(env.store, [layer]);
  return { digest: layer.descriptor.digest, diffId: layer.diffId, plain: !layer.index.entries.some((e) => e.type === 'whiteout' || e.type === 'opaque') };
}

/** Removes the build's scratch directory (RUN upper directories may hold subordinate owners). */
export async function removeWorkDir(env: BuildEnv): Promise<void> {
  await removeTree({ layout: env.layout, facts: env.facts, ...(env.ns.rootless ? { rootless: { uidMap: env.ns.uidMap, gidMap: env.ns.gidMap } } : {}), onWarning: env.onWarning }, env.workDir);
}

