/**
 * api/push: `pushImage` over the OCI distribution API (docs/registry.md).
 *
 * Each layer and the config: HEAD (the registry may have it); else a cross-repository mount when
 * the image has a name in another repository of the same registry (an image pulled from there);
 * else an upload, in one PUT for a small blob or in PATCH chunks with Content-Range for a big one.
 * The manifest goes last, byte for byte as stored, so a pulled image keeps its digest.
 */
import { BerthError } from '../errors/index.js';
import { MEDIA_TYPES, parseReference, type Descriptor } from '../oci/index.js';
import type { Store } from '../store/index.js';
import { RegistryClient, type ClientOptions } from '../registry/client.js';
import { openStore } from './store.js';
import type { StoreOptions } from './options.js';
import { withContext } from './context.js';

export type PushEvent =
  | { type: 'blob'; digest: string; size: number; skipped: boolean; mounted?: boolean }
  | { type: 'done'; reference: string; digest: string };

export interface PushOptions extends StoreOptions, Pick<ClientOptions, 'tlsVerify' | 'configPath'> {
  image: string;
  /** Where to push; default the image's own name. */
  destination?: string;
  /** Blobs up to this size go in one PUT (default 64 MiB); bigger ones in chunks of `chunkSize`. */
  monolithicMax?: number;
  /** Size of a PATCH chunk (default 16 MiB). */
  chunkSize?: number;
  onProgress?: (e: PushEvent) => void;
}

export interface PushResult {
  reference: string;
  /** The manifest's digest (what `pull NAME@DIGEST` asks for). */
  digest: string;
  uploaded: number;
  mounted: number;
}

/** Where an upload goes next: its Location, made absolute against the registry. */
function uploadUrl(location: string | undefined, dest: string): URL {
  if (!location) throw new BerthError('E_REGISTRY_REQUEST', `push ${dest}: the registry started an upload without a Location`, { hint: 'the registry is not OCI-compliant' });
  return new URL(location, 'http://registry.invalid');
}

/** The path and query of an upload URL (the client resolves it against the registry's base). */
function pathOf(u: URL): string {
  return `${u.pathname}${u.search}`;
}

async function readBlob(store: Store, digest: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of store.openBlob(digest)) chunks.push(c);
  return Buffer.concat(chunks);
}

async function upload(client: RegistryClient, store: Store, dest: string, scope: string, desc: Descriptor, start: URL, o: { monolithicMax: number; chunkSize: number }): Promise<void> {
  let at = start;
  if (desc.size > o.monolithicMax) {
    // Chunked (distribution spec "Pushing a blob in chunks"): PATCH ranges in order, then PUT.
    let offset = 0;
    let parts: Buffer[] = [];
    let len = 0;
    const flush = async () => {
      const body = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      parts = [];
      len = 0;
      const res = await client.request('PATCH', pathOf(at), {
        scope,
        once: true,
        body,
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + body.length - 1}` },
      });
      res.discard();
      at = uploadUrl(res.header('location') ?? pathOf(at), dest);
      offset += body.length;
    };
    for await (const c of store.openBlob(desc.digest)) {
      for (let i = 0; i < c.length; ) {
        const n = Math.min(c.length - i, o.chunkSize - len);
        parts.push(c.subarray(i, i + n));
        len += n;
        i += n;
        if (len === o.chunkSize) await flush();
      }
    }
    if (len > 0) await flush();
    at.searchParams.set('digest', desc.digest);
    (await client.request('PUT', pathOf(at), { scope, once: true })).discard();
    return;
  }
  at.searchParams.set('digest', desc.digest);
  const body = await readBlob(store, desc.digest);
  (await client.request('PUT', pathOf(at), { scope, once: true, body, headers: { 'content-type': 'application/octet-stream' } })).discard();
}

export async function pushImage(options: PushOptions): Promise<PushResult> {
  const onProgress = options.onProgress ?? (() => undefined);
  const sizes = { monolithicMax: options.monolithicMax ?? 64 << 20, chunkSize: options.chunkSize ?? 16 << 20 };
  if (!(sizes.chunkSize > 0) || !(sizes.monolithicMax >= 0)) throw new BerthError('E_OPTION_INVALID', 'push(): chunkSize must be positive and monolithicMax not negative');
  return withContext(`push ${options.image}`, async () => {
    const store = await openStore(options, { create: false });
    try {
      const img = await store.resolveImage(options.image);
      const dest0 = parseReference(options.destination ?? img.reference?.toString() ?? options.image);
      const dest = dest0.tag === undefined && dest0.digest === undefined ? dest0.withTag('latest') : dest0;
      const client = new RegistryClient(dest.domain, { ...(options.tlsVerify !== undefined ? { tlsVerify: options.tlsVerify } : {}), ...(options.configPath ? { configPath: options.configPath } : {}) });
      // Another repository of the same registry that holds the blobs (the image's own name
      // there): the registry can mount them instead of receiving them again.
      const from = img.references.find((r) => r.domain === dest.domain && r.path !== dest.path)?.path;
      const scope = `repository:${dest.path}:pull,push${from ? ` repository:${from}:pull` : ''}`;
      let uploaded = 0;
      let mounted = 0;
      const seen = new Set<string>();
      for (const desc of [...img.manifest.layers, img.configDescriptor]) {
        if (seen.has(desc.digest)) continue;
        seen.add(desc.digest);
        const path = `/v2/${dest.path}/blobs/${desc.digest}`;
        const head = await client.request('HEAD', path, { scope, allow: [404] });
        head.discard();
        if (head.status === 200) {
          onProgress({ type: 'blob', digest: desc.digest, size: desc.size, skipped: true });
          continue;
        }
        const query = from ? `?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from)}` : '';
        const start = await client.request('POST', `/v2/${dest.path}/blobs/uploads/${query}`, { scope, once: true, allow: [201] });
        start.discard();
        if (start.status === 201) {
          mounted++;
          onProgress({ type: 'blob', digest: desc.digest, size: desc.size, skipped: true, mounted: true });
          continue;
        }
        await upload(client, store, dest.toString(), scope, desc, uploadUrl(start.header('location'), dest.toString()), sizes);
        uploaded++;
        onProgress({ type: 'blob', digest: desc.digest, size: desc.size, skipped: false });
      }
      const manifestBytes = await store.readBlob(img.manifestDescriptor.digest);
      const put = await client.request('PUT', `/v2/${dest.path}/manifests/${dest.tag ?? dest.digest}`, {
        scope,
        once: true,
        body: manifestBytes,
        headers: { 'content-type': img.manifestDescriptor.mediaType || img.manifest.mediaType || MEDIA_TYPES.ociManifest },
      });
      put.discard();
      const answered = put.header('docker-content-digest');
      if (answered !== undefined && answered.startsWith('sha256:') && answered !== img.manifestDescriptor.digest) {
        throw new BerthError('E_REGISTRY_DIGEST', `push ${dest.toString()}: the registry stored the manifest as ${answered}, not ${img.manifestDescriptor.digest}`, { hint: 'the registry rewrote the manifest; pulls by digest will use its digest' });
      }
      onProgress({ type: 'done', reference: dest.toString(), digest: img.manifestDescriptor.digest });
      return { reference: dest.toString(), digest: img.manifestDescriptor.digest, uploaded, mounted };
    } finally {
      await store.close();
    }
  });
}
