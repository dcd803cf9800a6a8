/**
 * api/pull: `pullImage` and `ensureImage` (run and build pull what the store lacks), over the OCI
 * distribution API (docs/registry.md).
 *
 * Invariants:
 * - Nothing unverified enters the store: documents are hashed before they are stored, and every
 *   blob goes through Store.putBlob with its digest and size, which renames it into place only on
 *   a match. The image is named last, so a pull that fails leaves no image.
 * - The rootfs cache (`run`'s unpacked tree) is marked ready only after every layer's diffID,
 *   computed from the bytes that were unpacked, matched the config, and every blob was verified.
 *
 * Pipeline: the manifest is negotiated (OCI index and manifest, Docker manifest list and schema2;
 * an index resolves to the host platform), then the config, then the layers in parallel (bounded).
 * Rootful with unpacking, each layer's bytes feed the unpack while they download (one pass
 * decompresses, hashes the diffID, builds the file index and writes the files), so unpacking and
 * downloading overlap. Rootless, the file index is built while the layer downloads and the unpack
 * runs afterwards inside the user namespace. With `unpack: false` the pull costs what the download
 * costs; the file index is built by the first command that needs it.
 */
import { createHash } from 'node:crypto';
import { BerthError, type WarningSink } from '../errors/index.js';
import { MEDIA_TYPES, chainId, isIndexMediaType, isManifestMediaType, parseImageConfig, parseImageIndex, parseManifest, parseReference, type Descriptor, type Manifest, type Reference } from '../oci/index.js';
import type { Store } from '../store/index.js';
import type { TarEntry } from '../layer/tar/types.js';
import { RegistryClient, type ClientOptions } from '../registry/client.js';
import { blobBytes, coalesce, tee, type Tap } from '../registry/transfer.js';
import { indexLayerBytes, indexStoredLayer, indexingLayerReader, type WrittenLayer } from './layers.js';
import { putLayerMetadata, hostPlatform } from './image.js';
import { openStore } from './store.js';
import type { StoreOptions } from './options.js';
import { withContext } from './context.js';

const MANIFEST_ACCEPT = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerManifestList].join(', ');
/** Manifests, indexes and configs are small documents; a larger answer is not one. */
const MAX_DOC = 4 << 20;

export type PullEvent =
  | { type: 'resolved'; reference: string; digest: string; manifest: string; platform: string; layers: number; size: number }
  | { type: 'layer-start'; digest: string; size: number }
  | { type: 'layer-progress'; digest: string; received: number; size: number }
  | { type: 'layer-done'; digest: string; size: number; skipped: boolean; ms: number }
  | { type: 'unpacked'; ms: number }
  | { type: 'done'; reference: string; digest: string; id: string; ms: number };

export interface PullOptions extends StoreOptions, Pick<ClientOptions, 'tlsVerify' | 'configPath'> {
  reference: string;
  /** Unpack into the rootfs cache that `run` uses (default true). */
  unpack?: boolean;
  /** Parallel layer downloads (default 3). */
  concurrency?: number;
  onProgress?: (e: PullEvent) => void;
}

export interface PullResult {
  /** The name the image is stored under (a digest reference when pulled by digest). */
  reference: string;
  /** What the reference resolved to: the index of a multi-platform image, else the manifest. */
  digest: string;
  /** The host platform's manifest. */
  manifestDigest: string;
  /** The image ID (config digest). */
  id: string;
  layers: number;
  /** Layer blobs downloaded (the others were already stored). */
  fetched: number;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function digestError(what: string, want: string, got: string): BerthError {
  return new BerthError('E_REGISTRY_DIGEST', `${what}: the content's digest is ${got}, not ${want}`, {
    hint: 'the registry (or something between) altered the content; nothing was stored',
    details: { expected: want, actual: got },
  });
}

function diffIdError(ref: Reference, i: number, got: string, want: string): BerthError {
  return new BerthError('E_REGISTRY_DIGEST', `pull ${ref.toString()}: layer ${i + 1} uncompresses to ${got}, but the config says ${want}`, {
    hint: 'the image is corrupt in the registry',
    details: { expected: want, actual: got },
  });
}

interface Doc {
  bytes: Buffer;
  digest: string;
  mediaType: string;
}

/** A manifest or index by tag or digest, hashed and checked against the digest it was asked by. */
async function getDoc(client: RegistryClient, ref: Reference, what: string, scope: string): Promise<Doc> {
  const res = await client.request('GET', `/v2/${ref.path}/manifests/${what}`, { scope, headers: { accept: MANIFEST_ACCEPT } }).catch((e: unknown) => {
    if (!(e instanceof BerthError) || e.code !== 'E_REGISTRY_NOT_FOUND') throw e;
    // The registry's words (MANIFEST_UNKNOWN, NAME_UNKNOWN) stay in the message: they say which.
    throw new BerthError('E_REGISTRY_NOT_FOUND', `${what === (ref.digest ?? ref.tag) ? 'the image' : `manifest ${what}`} is not in the registry (${e.message.replace(/^.*not found \((.*)\)$/s, '$1')})`, {
      hint: 'check the repository name and the tag or digest',
      details: { reference: ref.toString() },
    });
  });
  let bytes: Buffer;
  try {
    bytes = await res.buffer(MAX_DOC);
  } catch (e) {
    throw new BerthError('E_REGISTRY_DOCUMENT', `pull ${ref.toString()}: manifest ${what}: ${(e as Error).message}`, { hint: 'the registry sent something that is not a manifest', cause: e });
  }
  const digest = sha256(bytes);
  // By digest, the bytes must hash to it; by tag, to what the registry says it sent.
  const claimed = what.startsWith('sha256:') ? what : res.header('docker-content-digest');
  if (claimed !== undefined && claimed.startsWith('sha256:') && claimed !== digest) throw digestError(`pull ${ref.toString()}: manifest ${what}`, claimed, digest);
  let declared: unknown;
  try {
    declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
  } catch {
    throw new BerthError('E_REGISTRY_DOCUMENT', `pull ${ref.toString()}: manifest ${what} is not JSON`, { hint: 'the registry sent something that is not a manifest' });
  }
  const mediaType = typeof declared === 'string' ? declared : (res.header('content-type')?.split(';')[0].trim() ?? '');
  return { bytes, digest, mediaType };
}

/** Manifest negotiation: the reference's document, and for an index the host platform's manifest. */
async function resolveManifest(client: RegistryClient, ref: Reference, scope: string): Promise<{ top: Doc; manifestDoc: Doc; manifest: Manifest; platform: string }> {
  const top = await getDoc(client, ref, ref.digest ?? ref.tag!, scope);
  const plat = hostPlatform();
  const platform = `${plat.os}/${plat.architecture}`;
  const looksLikeIndex = isIndexMediaType(top.mediaType) || (!isManifestMediaType(top.mediaType) && (JSON.parse(top.bytes.toString('utf8')) as { manifests?: unknown }).manifests !== undefined);
  if (!looksLikeIndex) {
    if (top.mediaType && !isManifestMediaType(top.mediaType)) {
      throw new BerthError('E_REGISTRY_UNSUPPORTED', `pull ${ref.toString()}: ${top.mediaType} is not an image manifest berth can pull`, {
        hint: 'berth pulls OCI and Docker schema2 images (Docker schema1 images must be rebuilt or converted)',
      });
    }
    return { top, manifestDoc: top, manifest: parseManifest(top.bytes, `from ${ref.toString()}`), platform };
  }
  const index = parseImageIndex(top.bytes, `from ${ref.toString()}`);
  const images = index.manifests.filter((m) => isManifestMediaType(m.mediaType));
  const pick = images.find((m) => m.platform?.os === plat.os && m.platform?.architecture === plat.architecture) ?? (images.length === 1 && !images[0].platform ? images[0] : undefined);
  if (!pick) {
    const have = images.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}` : 'unknown')).join(', ');
    throw new BerthError('E_REGISTRY_PLATFORM', `pull ${ref.toString()}: the image has no manifest for ${platform}`, {
      hint: `the image is built for ${have || 'no platform'}; pull an image built for ${platform}`,
      details: { platform, available: have },
    });
  }
  const manifestDoc = await getDoc(client, ref, pick.digest, scope);
  if (manifestDoc.bytes.length !== pick.size) {
    throw new BerthError('E_REGISTRY_DIGEST', `pull ${ref.toString()}: manifest ${pick.digest} is ${manifestDoc.bytes.length} bytes, but the index says ${pick.size}`, { hint: 'the image is corrupt in the registry' });
  }
  return { top, manifestDoc, manifest: parseManifest(manifestDoc.bytes, `from ${ref.toString()}`), platform };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  promise.catch(() => undefined); // a rejection nobody waits for is not an unhandled one
  return { promise, resolve, reject };
}

/** One layer blob's download (a blob listed twice in a manifest is fetched once). */
interface LayerJob {
  desc: Descriptor;
  /** Index of its first occurrence in the manifest (its diffID). */
  index: number;
  /** Settles when the download starts: the bytes as they arrive when they feed the unpack. */
  live: Deferred<{ bytes: Tap; stored: Promise<unknown> } | undefined>;
  /** Settles when the blob is in the store (verified); the layer's facts when built on the way. */
  done: Deferred<WrittenLayer | undefined>;
}

type Mode = 'store-only' | 'unpack-live' | 'index-then-unpack';

export async function pullImage(options: PullOptions): Promise<PullResult> {
  const t0 = Date.now();
  const ref0 = parseReference(options.reference);
  const ref = ref0.tag === undefined && ref0.digest === undefined ? ref0.withTag('latest') : ref0;
  const onProgress = options.onProgress ?? (() => undefined);
  const onWarning: WarningSink = options.onWarning ?? (() => undefined);
  const warn = options.onWarning ? { onWarning: options.onWarning } : {};
  return withContext(`pull ${ref.toString()}`, async () => {
    const client = new RegistryClient(ref.domain, { ...(options.tlsVerify !== undefined ? { tlsVerify: options.tlsVerify } : {}), ...(options.configPath ? { configPath: options.configPath } : {}) });
    const scope = `repository:${ref.path}:pull`;
    // Host facts are read while the manifest is on its way.
    const hostP = options.unpack !== false ? hostNamespace(onWarning) : Promise.resolve(undefined);
    hostP.catch(() => undefined);
    const { top, manifestDoc, manifest, platform } = await resolveManifest(client, ref, scope);
    onProgress({ type: 'resolved', reference: ref.toString(), digest: top.digest, manifest: manifestDoc.digest, platform, layers: manifest.layers.length, size: manifest.layers.reduce((n, l) => n + l.size, 0) });
    const store = await openStore(options);
    try {
      const host = await hostP;
      const mode: Mode = !host ? 'store-only' : host.facts.mode === 'rootful' ? 'unpack-live' : 'index-then-unpack';

      let configBytes: Buffer;
      if (await store.hasBlob(manifest.config.digest)) configBytes = await store.readBlob(manifest.config.digest);
      else {
        const res = await client.request('GET', `/v2/${ref.path}/blobs/${manifest.config.digest}`, { scope });
        configBytes = await res.buffer(MAX_DOC).catch((e: Error) => {
          throw new BerthError('E_REGISTRY_DOCUMENT', `pull ${ref.toString()}: config ${manifest.config.digest}: ${e.message}`, { hint: 'the registry sent something that is not an image config' });
        });
        const got = sha256(configBytes);
        if (got !== manifest.config.digest) throw digestError(`pull ${ref.toString()}: config`, manifest.config.digest, got);
        await store.putBlob(configBytes, { digest: manifest.config.digest, size: manifest.config.size });
      }
      const config = parseImageConfig(configBytes, `of ${ref.toString()}`);
      const diffIds = config.rootfs?.diff_ids ?? [];
      if (diffIds.length !== manifest.layers.length) {
        throw new BerthError('E_IMAGE_INVALID', `pull ${ref.toString()}: the config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, { hint: 'the image is malformed' });
      }

      const jobs = new Map<string, LayerJob>();
      manifest.layers.forEach((desc, index) => {
        if (!jobs.has(desc.digest)) jobs.set(desc.digest, { desc, index, live: deferred(), done: deferred() });
      });
      const facts = new Map<string, WrittenLayer>();
      let fetched = 0;

      const download = async (job: LayerJob) => {
        const { desc } = job;
        const started = Date.now();
        if (await store.hasBlob(desc.digest)) {
          job.live.resolve(undefined);
          job.done.resolve(undefined);
          onProgress({ type: 'layer-done', digest: desc.digest, size: desc.size, skipped: true, ms: Date.now() - started });
          return;
        }
        onProgress({ type: 'layer-start', digest: desc.digest, size: desc.size });
        let last = 0;
        const bytes = blobBytes(client, `/v2/${ref.path}/blobs/${desc.digest}`, desc.size, scope, (n) => {
          if (n - last >= 1 << 20 || n === desc.size) {
            last = n;
            onProgress({ type: 'layer-progress', digest: desc.digest, received: n, size: desc.size });
          }
        });
        let toStore: AsyncIterable<Buffer> = bytes;
        let indexed: Promise<WrittenLayer> | undefined;
        let liveSide: Tap | undefined;
        if (mode === 'unpack-live') [toStore, liveSide] = tee(bytes);
        else if (mode === 'index-then-unpack') {
          let side: Tap;
          [toStore, side] = tee(bytes);
          indexed = indexLayerBytes(side, desc, warn);
          indexed.catch(() => undefined);
        }
        const stored = store.putBlob(toStore, { digest: desc.digest, size: desc.size }).catch((e: unknown) => {
          if (e instanceof BerthError && (e.code === 'E_DIGEST_MISMATCH' || e.code === 'E_SIZE_MISMATCH')) {
            throw new BerthError('E_REGISTRY_DIGEST', `pull ${ref.toString()}: layer ${desc.digest}: ${e.message}`, { hint: 'the registry sent corrupted content; nothing was stored', cause: e, details: e.details });
          }
          throw e;
        });
        stored.catch(() => undefined);
        job.live.resolve(liveSide ? { bytes: liveSide, stored } : undefined);
        await stored;
        fetched++;
        // The bytes are verified now: an index of them that failed is a real layer problem.
        const layer = indexed ? await indexed : undefined;
        if (layer && layer.diffId !== diffIds[job.index]) throw diffIdError(ref, job.index, layer.diffId, diffIds[job.index]);
        job.done.resolve(layer);
        onProgress({ type: 'layer-done', digest: desc.digest, size: desc.size, skipped: false, ms: Date.now() - started });
      };

      const downloads = pool([...jobs.values()], options.concurrency ?? 3, async (job) => {
        try {
          await download(job);
        } catch (e) {
          job.live.reject(e);
          job.done.reject(e);
          throw e;
        }
      }).finally(() => {
        // Jobs the pool never started (it stops at the first failure) release their waiters.
        const stopped = new BerthError('E_REGISTRY_ABORTED', `pull ${ref.toString()}: another layer failed`, { hint: 'see the error before this one' });
        for (const j of jobs.values()) {
          j.live.reject(stopped);
          j.done.reject(stopped);
        }
      });

      let unpacked: Promise<void> = Promise.resolve();
      const u0 = Date.now();
      if (mode === 'unpack-live' && manifest.layers.length > 0) {
        // The unpack asks for each layer's entries in order; a layer being downloaded is read
        // as it arrives, one already stored from the store.
        const consumed = new Set<string>();
        const entries = (digest: string): AsyncIterable<TarEntry> => {
          const job = jobs.get(digest)!;
          const first = !consumed.has(digest);
          consumed.add(digest);
          return liveEntries(store, job, first, diffIds[job.index], ref, facts, warn);
        };
        unpacked = unpackForRun(store, manifest, diffIds, host!, onWarning, entries).finally(() => {
          // Live bytes the unpack did not read (the tree was already cached, or it failed) must
          // not hold their downloads back; for bytes it read to the end this changes nothing.
          for (const j of jobs.values()) void j.live.promise.then((l) => l?.bytes.cancel(), () => undefined);
        });
      }
      const [dl, up] = await Promise.allSettled([downloads, unpacked]);
      // A download's failure (a corrupted blob, say) explains an unpack failure that follows it.
      if (dl.status === 'rejected') throw dl.reason;
      if (up.status === 'rejected') throw up.reason;

      // File indexes: from the unpack or the download when they were built on the way; else (a
      // blob that was already stored) by reading it once, unless the store has it already.
      if (mode !== 'store-only') {
        for (const job of jobs.values()) {
          const diffId = diffIds[job.index];
          if (await store.getLayerIndex(diffId)) continue;
          const layer = facts.get(job.desc.digest) ?? (await job.done.promise) ?? (await indexStoredLayer(store, job.desc, warn));
          if (layer.diffId !== diffId) throw diffIdError(ref, job.index, layer.diffId, diffId);
          await putLayerMetadata(store, [layer]);
        }
      }
      if (mode === 'index-then-unpack' && manifest.layers.length > 0) await unpackForRun(store, manifest, diffIds, host!, onWarning);
      if (mode !== 'store-only' && manifest.layers.length > 0) onProgress({ type: 'unpacked', ms: Date.now() - u0 });

      const named = ref0.tag === undefined && ref0.digest !== undefined ? ref0 : ref;
      if (top === manifestDoc) {
        await store.putImage({ name: named, config: configBytes, layers: manifest.layers, manifest: manifestDoc.bytes });
      } else {
        // A multi-platform image is named by its index (as `load` does), so its digest is the one
        // the registry knows; the host platform's manifest is stored beside it.
        await store.putBlob(manifestDoc.bytes, { digest: manifestDoc.digest, size: manifestDoc.bytes.length });
        await store.putBlob(top.bytes, { digest: top.digest, size: top.bytes.length });
        await store.setRef(named, { mediaType: isIndexMediaType(top.mediaType) ? top.mediaType : MEDIA_TYPES.ociIndex, digest: top.digest, size: top.bytes.length });
      }
      onProgress({ type: 'done', reference: named.toString(), digest: top.digest, id: manifest.config.digest, ms: Date.now() - t0 });
      return { reference: named.toString(), digest: top.digest, manifestDigest: manifestDoc.digest, id: manifest.config.digest, layers: manifest.layers.length, fetched };
    } finally {
      await store.close();
    }
  });
}

/**
 * The entries of one layer for the unpack, with its facts (diffID, file index) built on the way.
 * Live bytes end only after the store verified the blob, and the entries end only after the
 * diffID matched the config: an unpack of bad bytes fails before its tree is marked ready.
 */
async function* liveEntries(store: Store, job: LayerJob, first: boolean, diffId: string, ref: Reference, facts: Map<string, WrittenLayer>, warn: { onWarning?: WarningSink }): AsyncGenerator<TarEntry> {
  const live = first ? await job.live.promise : undefined;
  let source: Pick<Store, 'openBlob'>;
  if (live) {
    async function* verified(): AsyncGenerator<Buffer> {
      yield* live!.bytes;
      await live!.stored;
    }
    source = { openBlob: () => verified() };
  } else {
    await job.done.promise;
    source = { openBlob: (digest) => coalesce(store.openBlob(digest)) };
  }
  const reader = indexingLayerReader(source, job.desc, warn);
  yield* reader.entries;
  const layer = reader.result();
  if (!layer) throw new BerthError('E_INTERNAL', `pull ${ref.toString()}: layer ${job.desc.digest} was not read to its end`);
  if (layer.diffId !== diffId) throw diffIdError(ref, job.index, layer.diffId, diffId);
  facts.set(job.desc.digest, layer);
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { e: unknown } | undefined;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  if (failed !== undefined) throw failed.e;
}

type HostNamespace = { facts: import('../host/index.js').HostFacts; ns: import('./run.js').RuntimeNamespaceFacts };

async function hostNamespace(onWarning: WarningSink): Promise<HostNamespace> {
  const [{ readHostFacts }, { runtimeNamespace }] = await Promise.all([import('../host/index.js'), import('./run.js')]);
  const facts = await readHostFacts({ onWarning });
  return { facts, ns: runtimeNamespace(facts) };
}

/** The rootfs cache `berth run` uses, filled now so the first run starts without unpacking. */
async function unpackForRun(store: Store, manifest: Manifest, diffIds: string[], host: HostNamespace, onWarning: WarningSink, entries?: (digest: string) => AsyncIterable<TarEntry>): Promise<void> {
  const { ensureRootfs, ContainerLayout } = await import('../runtime/run/index.js');
  await ensureRootfs({
    store,
    layout: new ContainerLayout(store.root),
    chainId: chainId(diffIds),
    layers: manifest.layers.map((l) => l.digest),
    facts: host.facts,
    namespace: { uidMap: host.ns.uidMap, gidMap: host.ns.gidMap, rootless: host.ns.rootless },
    onWarning,
    ...(entries ? { entries } : {}),
  });
}

/** The image for run and build: pulled when missing (`missing`), always (`always`), or never. */
export async function ensureImage(store: Store, reference: string, policy: 'always' | 'missing' | 'never', o: Omit<PullOptions, 'reference' | 'root'> = {}): Promise<void> {
  if (policy !== 'always' && policy !== 'missing' && policy !== 'never') {
    throw new BerthError('E_OPTION_INVALID', `pull policy ${JSON.stringify(policy)}: use always, missing or never`, { hint: 'missing pulls only images the store lacks' });
  }
  if (policy === 'never') return;
  if (policy === 'missing') {
    try {
      await store.resolveImage(reference);
      return;
    } catch (e) {
      if (!(e instanceof BerthError) || (e.code !== 'E_IMAGE_NOT_FOUND' && e.code !== 'E_STORE_NOT_FOUND')) throw e;
    }
  }
  await pullImage({ ...o, reference, root: store.root });
}
