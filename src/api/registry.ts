/**
 * api/registry: `pullImage`, `pushImage`, `login`, `logout` and `ensureImage` over the OCI
 * distribution API (docs/registry.md).
 *
 * Pull: the manifest is negotiated (OCI index and manifest, Docker manifest list and schema2), an
 * index resolves to the host platform's manifest, every document and blob is checked against its
 * digest (and blobs against their size) before it enters the store (Store.putBlob verifies while it
 * streams and renames only a match), blobs already stored are skipped, layers download in parallel
 * (bounded), a connection cut mid-blob resumes with a Range request from the bytes received, and
 * each layer's diffID and file index are computed as it arrives and checked against the config.
 * Then the image is named and, unless `unpack: false`, unpacked into the rootfs cache `run` uses.
 *
 * Push: each blob is checked with HEAD, uploaded when missing (one PUT, or PATCH chunks for big
 * ones), then the manifest, byte for byte as stored.
 */
import { createHash } from 'node:crypto';
import { BerthError, type WarningSink } from '../errors/index.js';
import { MEDIA_TYPES, chainId, isIndexMediaType, parseImageConfig, parseManifest, parseReference, type Descriptor, type Manifest, type Reference } from '../oci/index.js';
import type { Store } from '../store/index.js';
import { RegistryClient, type ClientOptions } from '../registry/client.js';
import { eraseCredentials, storeCredentials } from '../registry/auth.js';
import { indexLayerBytes, indexStoredLayer, indexingLayerReader, type WrittenLayer } from './layers.js';
import { putLayerMetadata, hostPlatform } from './image.js';
import { openStore } from './store.js';
import type { StoreOptions } from './options.js';
import { withContext } from './context.js';

const MANIFEST_ACCEPT = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerManifestList].join(', ');
const MAX_DOC = 4 << 20;
const CHUNK_UPLOAD_OVER = 64 << 20;
const UPLOAD_CHUNK = 16 << 20;

export type PullEvent =
  | { type: 'resolved'; reference: string; digest: string; layers: number }
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
  reference: string;
  digest: string;
  id: string;
  layers: number;
  fetched: number;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function readDoc(res: Response, what: string): Promise<Buffer> {
  const len = Number(res.headers.get('content-length') ?? '0');
  if (len > MAX_DOC) throw new BerthError('E_REGISTRY_DOCUMENT', `${what}: ${len} bytes is more than a manifest can be`, { hint: 'the registry sent something else' });
  const b = Buffer.from(await res.arrayBuffer());
  if (b.length > MAX_DOC) throw new BerthError('E_REGISTRY_DOCUMENT', `${what}: more than ${MAX_DOC} bytes`, { hint: 'the registry sent something else' });
  return b;
}

function digestError(what: string, want: string, got: string): BerthError {
  return new BerthError('E_REGISTRY_DIGEST', `${what}: the content's digest is ${got}, not ${want}`, {
    hint: 'the registry (or something between) altered the content; nothing was stored',
    details: { expected: want, actual: got },
  });
}

/** A blob's bytes, resuming with Range requests when the connection breaks. */
async function* blobStream(client: RegistryClient, ref: Reference, desc: Descriptor, scope: string, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  let received = 0;
  let resumes = 0;
  const path = `/v2/${ref.path}/blobs/${desc.digest}`;
  for (;;) {
    let res;
    try {
      res = await client.getBlob(path, { scope, ...(received > 0 ? { range: `bytes=${received}-` } : {}) });
    } catch (e) {
      if (e instanceof BerthError || ++resumes > 5) throw e;
      await new Promise((r) => setTimeout(r, 100 * resumes));
      continue;
    }
    if (received > 0 && res.status !== 206) {
      res.body.destroy();
      throw new BerthError('E_REGISTRY_RESUME', `blob ${desc.digest}: the registry cannot resume at byte ${received} (no range support)`, { hint: 'retry the pull' });
    }
    try {
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        received += b.length;
        onBytes(received);
        yield b;
      }
      if (received >= desc.size) return;
      throw new Error(`connection closed at ${received} of ${desc.size} bytes`);
    } catch (e) {
      if (e instanceof BerthError) throw e;
      if (++resumes > 5 || received >= desc.size) throw new BerthError('E_REGISTRY_UNREACHABLE', `blob ${desc.digest}: ${(e as Error).message}`, { hint: 'check the network and retry', cause: e });
      await new Promise((r) => setTimeout(r, 100 * resumes));
    }
  }
}

/**
 * Two readers of one stream, each with its own queue. The source is read no faster than the
 * slower reader drains (at most `limit` bytes ahead), and a reader that stops early no longer holds
 * the other back. An error of the source reaches both.
 */
function tee(src: AsyncIterable<Buffer>, limit = 16 << 20): [AsyncIterable<Buffer>, AsyncIterable<Buffer>] {
  interface Side {
    queue: Buffer[];
    bytes: number;
    closed: boolean;
    wake?: () => void;
  }
  const sides: Side[] = [
    { queue: [], bytes: 0, closed: false },
    { queue: [], bytes: 0, closed: false },
  ];
  let done = false;
  let failure: unknown;
  let drained: (() => void) | undefined;
  let started = false;
  const pump = async () => {
    try {
      for await (const chunk of src) {
        for (const s of sides) {
          if (s.closed) continue;
          s.queue.push(chunk);
          s.bytes += chunk.length;
          s.wake?.();
        }
        while (sides.some((s) => !s.closed && s.bytes > limit)) await new Promise<void>((r) => (drained = r));
        if (sides.every((s) => s.closed)) break;
      }
    } catch (e) {
      failure = e;
    }
    done = true;
    for (const s of sides) s.wake?.();
  };
  const reader = (s: Side): AsyncIterable<Buffer> => ({
    async *[Symbol.asyncIterator]() {
      if (!started) {
        started = true;
        void pump();
      }
      try {
        for (;;) {
          if (s.queue.length > 0) {
            const c = s.queue.shift()!;
            s.bytes -= c.length;
            drained?.();
            yield c;
            continue;
          }
          if (done) {
            if (failure !== undefined) throw failure;
            return;
          }
          await new Promise<void>((r) => (s.wake = r));
          s.wake = undefined;
        }
      } finally {
        s.closed = true;
        s.queue = [];
        s.bytes = 0;
        drained?.();
      }
    },
  });
  return [reader(sides[0]), reader(sides[1])];
}

async function pool<T>(items: T[], n: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

export async function pullImage(options: PullOptions): Promise<PullResult> {
  const t0 = Date.now();
  const ref0 = parseReference(options.reference);
  const ref = ref0.tag === undefined && ref0.digest === undefined ? ref0.withTag('latest') : ref0;
  const onProgress = options.onProgress ?? (() => undefined);
  return withContext(`pull ${ref.toString()}`, async () => {
    const client = new RegistryClient(ref.domain, { ...(options.tlsVerify !== undefined ? { tlsVerify: options.tlsVerify } : {}), ...(options.configPath ? { configPath: options.configPath } : {}) });
    const scope = `repository:${ref.path}:pull`;
    const getManifest = async (what: string) => {
      const res = await client.request('GET', `/v2/${ref.path}/manifests/${what}`, { scope, headers: { accept: MANIFEST_ACCEPT } });
      const bytes = await readDoc(res, `manifest ${ref.path}:${what}`);
      const digest = sha256(bytes);
      const claimed = what.startsWith('sha256:') ? what : res.headers.get('docker-content-digest') ?? undefined;
      if (claimed !== undefined && claimed !== digest) throw digestError(`manifest ${ref.toString()}`, claimed, digest);
      const mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? res.headers.get('content-type') ?? '';
      return { bytes, digest, mediaType };
    };
    let top = await getManifest(ref.digest ?? ref.tag!);
    if (isIndexMediaType(top.mediaType) || (JSON.parse(top.bytes.toString('utf8')) as { manifests?: unknown }).manifests !== undefined) {
      const plat = hostPlatform();
      const idx = JSON.parse(top.bytes.toString('utf8')) as { manifests?: (Descriptor & { platform?: { os?: string; architecture?: string } })[] };
      const pick = (idx.manifests ?? []).find((m) => m.platform?.os === plat.os && m.platform?.architecture === plat.architecture);
      if (!pick) {
        throw new BerthError('E_REGISTRY_PLATFORM', `pull ${ref.toString()}: the image has no manifest for ${plat.os}/${plat.architecture}`, {
          hint: `platforms in the index: ${(idx.manifests ?? []).map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(', ')}`,
        });
      }
      top = await getManifest(pick.digest);
    }
    const manifest: Manifest = parseManifest(top.bytes, `from ${ref.toString()}`);
    onProgress({ type: 'resolved', reference: ref.toString(), digest: top.digest, layers: manifest.layers.length });
    const store = await openStore(options);
    // Rootful with unpacking, each layer is decompressed once: its file index and diffID are built
    // by the pass that unpacks it. Otherwise they are built while the layer downloads.
    const host = options.unpack !== false ? await hostNamespace(options.onWarning ?? (() => undefined)) : undefined;
    const indexWhileUnpacking = host !== undefined && host.facts.mode === 'rootful';
    try {
      let configBytes: Buffer;
      if (await store.hasBlob(manifest.config.digest)) configBytes = await store.readBlob(manifest.config.digest);
      else {
        const res = await client.request('GET', `/v2/${ref.path}/blobs/${manifest.config.digest}`, { scope });
        configBytes = await readDoc(res, `config ${manifest.config.digest}`);
        const got = sha256(configBytes);
        if (got !== manifest.config.digest) throw digestError(`config of ${ref.toString()}`, manifest.config.digest, got);
        await store.putBlob(configBytes, { digest: manifest.config.digest, size: manifest.config.size });
      }
      const config = parseImageConfig(configBytes, `of ${ref.toString()}`);
      const diffIds = config.rootfs?.diff_ids ?? [];
      if (diffIds.length !== manifest.layers.length) {
        throw new BerthError('E_IMAGE_INVALID', `pull ${ref.toString()}: the config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, { hint: 'the image is malformed' });
      }
      let fetched = 0;
      await pool(manifest.layers, options.concurrency ?? 3, async (desc, i) => {
        const started = Date.now();
        const have = await store.hasBlob(desc.digest);
        let layer: WrittenLayer | undefined;
        if (!have) {
          onProgress({ type: 'layer-start', digest: desc.digest, size: desc.size });
          let last = 0;
          // One download feeds the store (which verifies digest and size) and the file index
          // (decompressed and decoded while the bytes arrive).
          const bytes = blobStream(client, ref, desc, scope, (n) => {
            if (n - last >= 1 << 20 || n === desc.size) {
              last = n;
              onProgress({ type: 'layer-progress', digest: desc.digest, received: n, size: desc.size });
            }
          });
          // Without unpacking, the index waits for the first command that needs it (api/store.ts):
          // a pull into the store then costs what the download costs.
          const [toStore, toIndex] = indexWhileUnpacking || !host ? [bytes, undefined] : tee(bytes);
          const indexed = toIndex ? indexLayerBytes(toIndex, desc, options.onWarning ? { onWarning: options.onWarning } : {}) : undefined;
          indexed?.catch(() => undefined);
          try {
            await store.putBlob(toStore, { digest: desc.digest, size: desc.size });
          } catch (e) {
            if (e instanceof BerthError && (e.code === 'E_DIGEST_MISMATCH' || e.code === 'E_SIZE_MISMATCH')) {
              throw new BerthError('E_REGISTRY_DIGEST', `pull ${ref.toString()}: layer ${desc.digest}: ${e.message}`, { hint: 'the registry sent corrupted content; nothing was stored', cause: e });
            }
            throw e;
          }
          // The bytes are verified now; an index of them that failed is a real layer problem.
          layer = await indexed;
          fetched++;
        }
        if ((indexWhileUnpacking || !host) && !layer) {
          onProgress({ type: 'layer-done', digest: desc.digest, size: desc.size, skipped: have, ms: Date.now() - started });
          return;
        }
        if (!(await store.getLayerIndex(diffIds[i]))) {
          layer ??= await indexStoredLayer(store, desc, options.onWarning ? { onWarning: options.onWarning } : {});
          if (layer.diffId !== diffIds[i]) {
            throw new BerthError('E_REGISTRY_DIGEST', `pull ${ref.toString()}: layer ${i + 1} uncompresses to ${layer.diffId}, but the config says ${diffIds[i]}`, { hint: 'the image is corrupt in the registry' });
          }
          await putLayerMetadata(store, [layer]);
        }
        onProgress({ type: 'layer-done', digest: desc.digest, size: desc.size, skipped: have, ms: Date.now() - started });
      });
      const named = ref0.tag === undefined && ref0.digest !== undefined ? ref0 : ref;
      if (host && manifest.layers.length > 0) {
        const u0 = Date.now();
        const readers = new Map<string, ReturnType<typeof indexingLayerReader>>();
        const entries = indexWhileUnpacking
          ? (digest: string) => {
              const desc = manifest.layers.find((l) => l.digest === digest)!;
              const r = indexingLayerReader(store, desc, options.onWarning ? { onWarning: options.onWarning } : {});
              readers.set(digest, r);
              return r.entries;
            }
          : undefined;
        await unpackForRun(store, manifest, diffIds, host, options.onWarning ?? (() => undefined), entries);
        // Layers the unpack indexed (or, when the tree was already cached, one more read).
        for (const [i, desc] of manifest.layers.entries()) {
          if (await store.getLayerIndex(diffIds[i])) continue;
          const layer = readers.get(desc.digest)?.result() ?? (await indexStoredLayer(store, desc, options.onWarning ? { onWarning: options.onWarning } : {}));
          if (layer.diffId !== diffIds[i]) {
            throw new BerthError('E_REGISTRY_DIGEST', `pull ${ref.toString()}: layer ${i + 1} uncompresses to ${layer.diffId}, but the config says ${diffIds[i]}`, { hint: 'the image is corrupt in the registry' });
          }
          await putLayerMetadata(store, [layer]);
        }
        onProgress({ type: 'unpacked', ms: Date.now() - u0 });
      }
      await store.putImage({ name: named, config: configBytes, layers: manifest.layers, manifest: top.bytes });
      onProgress({ type: 'done', reference: named.toString(), digest: top.digest, id: manifest.config.digest, ms: Date.now() - t0 });
      return { reference: named.toString(), digest: top.digest, id: manifest.config.digest, layers: manifest.layers.length, fetched };
    } finally {
      await store.close();
    }
  });
}

type HostNamespace = { facts: import('../host/index.js').HostFacts; ns: import('./run.js').RuntimeNamespaceFacts };

async function hostNamespace(onWarning: WarningSink): Promise<HostNamespace> {
  const [{ readHostFacts }, { runtimeNamespace }] = await Promise.all([import('../host/index.js'), import('./run.js')]);
  const facts = await readHostFacts({ onWarning });
  return { facts, ns: runtimeNamespace(facts) };
}

/** The rootfs cache `berth run` uses, filled now so the first run starts without unpacking. */
async function unpackForRun(store: Store, manifest: Manifest, diffIds: string[], host: HostNamespace, onWarning: WarningSink, entries?: (digest: string) => AsyncIterable<import('../layer/tar/types.js').TarEntry>): Promise<void> {
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

export interface PushOptions extends StoreOptions, Pick<ClientOptions, 'tlsVerify' | 'configPath'> {
  image: string;
  /** Where to push; default the image's own name. */
  destination?: string;
  onProgress?: (e: { type: 'blob'; digest: string; size: number; skipped: boolean } | { type: 'done'; reference: string; digest: string }) => void;
}

export async function pushImage(options: PushOptions): Promise<{ reference: string; digest: string; uploaded: number; mounted: number }> {
  const onProgress = options.onProgress ?? (() => undefined);
  return withContext(`push ${options.image}`, async () => {
    const store = await openStore(options, { create: false });
    try {
      const img = await store.resolveImage(options.image);
      const dest0 = parseReference(options.destination ?? img.reference?.toString() ?? options.image);
      const dest = dest0.tag === undefined && dest0.digest === undefined ? dest0.withTag('latest') : dest0;
      const client = new RegistryClient(dest.domain, { ...(options.tlsVerify !== undefined ? { tlsVerify: options.tlsVerify } : {}), ...(options.configPath ? { configPath: options.configPath } : {}) });
      // Another repository of the same registry that holds the blobs (the image's own name there):
      // the registry can mount them instead of receiving them again.
      const from = img.references.find((r) => r.domain === dest.domain && r.path !== dest.path)?.path;
      const scope = `repository:${dest.path}:pull,push${from ? ` repository:${from}:pull` : ''}`;
      let uploaded = 0;
      let mounted = 0;
      for (const desc of [...img.manifest.layers, img.configDescriptor]) {
        const head = await client.request('HEAD', `/v2/${dest.path}/blobs/${desc.digest}`, { scope, allow: [404] });
        if (head.status === 200) {
          onProgress({ type: 'blob', digest: desc.digest, size: desc.size, skipped: true });
          continue;
        }
        const start = await client.request('POST', `/v2/${dest.path}/blobs/uploads/${from ? `?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from)}` : ''}`, { scope, once: true, allow: [201] });
        if (start.status === 201) {
          mounted++;
          onProgress({ type: 'blob', digest: desc.digest, size: desc.size, skipped: true });
          continue;
        }
        let location = start.headers.get('location');
        if (!location) throw new BerthError('E_REGISTRY_REQUEST', `push ${dest.toString()}: the registry started an upload without a Location`, { hint: 'the registry is not OCI-compliant' });
        const abs = (l: string) => new URL(l, `http://${dest.domain}`).toString().replace(/^http:\/\/[^/]+/, '');
        if (desc.size > CHUNK_UPLOAD_OVER) {
          // Chunked: PATCH ranges of the blob, then PUT with the digest.
          let offset = 0;
          let buf: Buffer[] = [];
          let len = 0;
          const flush = async () => {
            const body = Buffer.concat(buf);
            const res = await client.request('PATCH', abs(location!), {
              scope,
              once: true,
              body,
              headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + body.length - 1}`, 'content-length': String(body.length) },
            });
            location = res.headers.get('location') ?? location;
            offset += body.length;
            buf = [];
            len = 0;
          };
          for await (const c of store.openBlob(desc.digest)) {
            buf.push(c);
            len += c.length;
            if (len >= UPLOAD_CHUNK) await flush();
          }
          if (len > 0) await flush();
          const u = new URL(abs(location), 'http://x');
          u.searchParams.set('digest', desc.digest);
          await client.request('PUT', `${u.pathname}${u.search}`, { scope, once: true, headers: { 'content-length': '0' } });
        } else {
          const u = new URL(abs(location), 'http://x');
          u.searchParams.set('digest', desc.digest);
          const chunks: Buffer[] = [];
          for await (const c of store.openBlob(desc.digest)) chunks.push(c);
          await client.request('PUT', `${u.pathname}${u.search}`, { scope, once: true, body: Buffer.concat(chunks), headers: { 'content-type': 'application/octet-stream' } });
        }
        uploaded++;
        onProgress({ type: 'blob', digest: desc.digest, size: desc.size, skipped: false });
      }
      const manifestBytes = await store.readBlob(img.manifestDescriptor.digest);
      await client.request('PUT', `/v2/${dest.path}/manifests/${dest.tag ?? dest.digest}`, {
        scope,
        once: true,
        body: manifestBytes,
        headers: { 'content-type': img.manifestDescriptor.mediaType || img.manifest.mediaType || MEDIA_TYPES.ociManifest },
      });
      onProgress({ type: 'done', reference: dest.toString(), digest: img.manifestDescriptor.digest });
      return { reference: dest.toString(), digest: img.manifestDescriptor.digest, uploaded, mounted };
    } finally {
      await store.close();
    }
  });
}

export interface LoginOptions extends Pick<ClientOptions, 'tlsVerify' | 'configPath'> {
  registry: string;
  username: string;
  password: string;
}

/** Checks the credentials against the registry (GET /v2/), then saves them like `docker login`. */
export async function login(o: LoginOptions): Promise<{ registry: string; storedIn: string }> {
  const registry = o.registry.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  const client = new RegistryClient(registry, { ...(o.tlsVerify !== undefined ? { tlsVerify: o.tlsVerify } : {}), credentials: { username: o.username, password: o.password } });
  await client.request('GET', '/v2/', {});
  const storedIn = await storeCredentials(registry, { username: o.username, password: o.password }, o.configPath);
  return { registry, storedIn };
}

export async function logout(o: { registry: string; configPath?: string }): Promise<boolean> {
  const registry = o.registry.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return eraseCredentials(registry, o.configPath);
}

/** The image for run and build: pulled when missing (`missing`), always (`always`), or never. */
export async function ensureImage(store: Store, reference: string, policy: 'always' | 'missing' | 'never', o: Omit<PullOptions, 'reference' | 'root'> = {}): Promise<void> {
  if (policy === 'never') return;
  if (policy === 'missing') {
    try {
      await store.resolveImage(reference);
      return;
    } catch (e) {
      if (!(e instanceof BerthError) || !/NOT_FOUND|UNKNOWN/.test(e.code)) throw e;
    }
  }
  await pullImage({ ...o, reference, root: store.root });
}
