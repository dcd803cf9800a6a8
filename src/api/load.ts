/**
 * api/load: `berth load -i FILE` for docker-archive (`docker save`, legacy layout and the Engine 25+
 * layout with an OCI layout inside) and oci-archive, detected from the archive's contents.
 *
 * One streaming pass stores every blob (each verified against its name when the name is a digest);
 * then the images are assembled and each layer is indexed (its diffID checked against the config).
 * Blobs a failed load leaves behind are unreferenced and removed by `berth gc`.
 */
import { stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { BerthError, ignoreWarnings, type WarningSink } from '../errors/index.js';
import { decodeTar } from '../layer/tar/index.js';
import { decompress } from '../layer/compress.js';
import { MEDIA_TYPES, parseReference, type Descriptor, type ImageConfig, type Manifest, type Reference } from '../oci/index.js';
import type { Store } from '../store/index.js';
import { checkOptions, type StoreOptions } from './options.js';
import { openStore } from './store.js';
import { withContext } from './context.js';
import { hostPlatform, putLayerMetadata } from './image.js';
import { indexStoredLayer } from './layers.js';

export interface LoadOptions extends StoreOptions {
  /** Archive path, '-' for stdin, or a readable stream. */
  input: string | NodeJS.ReadableStream;
}

export interface LoadResult {
  format: 'docker-archive' | 'oci-archive';
  images: { references: string[]; id: string; digest: string }[];
}

const KEYS = ['root', 'onWarning', 'input'] as const;
const MAX_META = 8 << 20;

interface LegacyManifestItem {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

function loadError(what: string, reason: string, hint?: string): BerthError {
  return new BerthError('E_LOAD_INVALID', `${what}: ${reason}`, {
    hint: hint ?? 'the archive is not a docker-archive or oci-archive berth can read; check it with `tar -tvf FILE`',
  });
}

async function collect(body: AsyncIterable<Buffer>, limit: number, name: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > limit) throw loadError(name, `file is larger than ${limit} bytes`);
    parts.push(c);
  }
  return Buffer.concat(parts);
}

function parseJson<T>(buf: Buffer | undefined, name: string): T {
  if (!buf) throw loadError(name, 'missing from the archive');
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch (e) {
    throw loadError(name, `invalid JSON: ${(e as Error).message}`);
  }
}

/** Normalises an archive member name: no leading './' or '/', no '..' escapes. */
function memberName(p: string): string {
  return posix.normalize(`/${p}`).slice(1).replace(/\/$/, '');
}

/** The index.json entries that are images (manifests, or indexes of per-platform manifests). */
function imageEntries(index: { manifests?: Descriptor[] }): Descriptor[] {
  const images = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList] as string[];
  return (index.manifests ?? []).filter((d) => images.includes(d.mediaType));
}

async function resolveToManifest(store: Store, desc: Descriptor, depth = 0): Promise<Descriptor> {
  if (desc.mediaType !== MEDIA_TYPES.ociIndex && desc.mediaType !== MEDIA_TYPES.dockerManifestList) return desc;
  if (depth > 4) throw loadError(desc.digest, 'image indexes nested too deeply');
  const idx = JSON.parse((await store.readBlob(desc.digest, { maxSize: MAX_META })).toString('utf8')) as { manifests?: (Descriptor & { platform?: { architecture?: string; os?: string } })[] };
  const plat = hostPlatform();
  const match = (idx.manifests ?? []).find((m) => !m.platform || (m.platform.architecture === plat.architecture && m.platform.os === plat.os));
  if (!match) {
    throw loadError(desc.digest, `no manifest for ${plat.os}/${plat.architecture} in the image index`, 'load an archive built for this platform');
  }
  return resolveToManifest(store, match, depth + 1);
}

export async function loadArchive(options: LoadOptions): Promise<LoadResult> {
  const o = checkOptions('load', options, KEYS);
  const inputName = typeof o.input === 'string' ? o.input : '-';
  return withContext(`load ${inputName}`, () => loadChecked(o));
}

async function loadChecked(o: LoadOptions): Promise<LoadResult> {
  const onWarning: WarningSink = o.onWarning ?? ignoreWarnings;
  if (o.input === undefined) throw new BerthError('E_OPTION_INVALID', 'load(): option "input" is required');
  const inputName = typeof o.input === 'string' ? o.input : '-';
  const source: AsyncIterable<Buffer> =
    typeof o.input === 'string'
      ? o.input === '-'
        ? (process.stdin as AsyncIterable<Buffer>)
        : createReadStream(o.input, { highWaterMark: 1 << 20 }).on('error', () => {})
      : (o.input as AsyncIterable<Buffer>);
  if (typeof o.input === 'string' && o.input !== '-') {
    await stat(o.input).catch((e: NodeJS.ErrnoException) => {
      throw new BerthError('E_LOAD_INPUT', `${e.code === 'ENOENT' ? 'no such file' : e.message}`, { hint: 'give the archive written by `docker save`, `podman save` or `berth save`' });
    });
  }
  const store = await openStore(o);

  // Pass 1: store blobs, remember small metadata files and member name -> blob.
  const meta = new Map<string, Buffer>();
  const blobs = new Map<string, { digest: string; size: number }>();
  const links = new Map<string, string>();
  for await (const e of decodeTar(decompress(source), { onWarning })) {
    const name = memberName(e.header.path);
    if (e.header.type === 'symlink' || e.header.type === 'hardlink') {
      const target = e.header.type === 'symlink' ? posix.join(posix.dirname(name), e.header.linkname) : e.header.linkname;
      links.set(name, memberName(target));
      continue;
    }
    if (e.header.type !== 'file') continue;
    const m = /^blobs\/(sha256|sha512)\/([0-9a-f]+)$/.exec(name);
    if (m) {
      const stored = await store.putBlob(e.body, { digest: `${m[1]}:${m[2]}`, size: e.header.size });
      blobs.set(name, stored);
    } else if (name === 'index.json' || name === 'oci-layout' || name === 'manifest.json' || name === 'repositories') {
      meta.set(name, await collect(e.body, MAX_META, name));
    } else if (!/^[^/]+\/(json|VERSION)$/.test(name) && name !== '') {
      // Config and layer files of the legacy layout: `<id>.json`, `<id>/layer.tar` (docker save),
      // `<digest>.tar` (skopeo). Which ones an image uses is known only from manifest.json, which
      // may come last; members no image refers to are left to `berth gc`.
      blobs.set(name, await store.putBlob(e.body));
    }
  }
  const blobFor = (name: string): { digest: string; size: number } => {
    let n = memberName(name);
    for (let i = 0; i < 8 && !blobs.has(n) && links.has(n); i++) n = links.get(n) as string;
    const b = blobs.get(n);
    if (!b) throw loadError(inputName, `member ${name} is referenced but missing`);
    return b;
  };

  const result: LoadResult = { format: meta.has('manifest.json') ? 'docker-archive' : 'oci-archive', images: [] };
  const legacy = meta.has('manifest.json') ? parseJson<LegacyManifestItem[]>(meta.get('manifest.json'), 'manifest.json') : undefined;

  if (meta.has('index.json')) {
    // OCI layout (oci-archive, or docker-archive from Docker Engine 25+).
    const index = parseJson<{ manifests?: (Descriptor & { annotations?: Record<string, string> })[] }>(meta.get('index.json'), 'index.json');
    for (const top of imageEntries(index)) {
      const mdesc = await resolveToManifest(store, top);
      const manifest = parseJson<Manifest>(await store.readBlob(mdesc.digest, { maxSize: MAX_META }), `manifest ${mdesc.digest}`);
      const config = parseJson<ImageConfig>(await store.readBlob(manifest.config.digest, { maxSize: MAX_META }), `config ${manifest.config.digest}`);
      const names = new Set<string>();
      const ann = (top as { annotations?: Record<string, string> }).annotations ?? {};
      const full = ann['io.containerd.image.name'] ?? ann['org.opencontainers.image.ref.name'];
      if (full && /[/:]/.test(full)) names.add(full);
      for (const item of legacy ?? []) {
        if (item.Config.endsWith(manifest.config.digest.split(':')[1])) for (const t of item.RepoTags ?? []) names.add(t);
      }
      // The same name may come from index.json and manifest.json, in full and familiar form.
      const refs = [...new Map([...names].map((n) => parseReference(n)).map((r) => [r.toString(), r])).values()];
      result.images.push(await assemble(store, manifest, mdesc, config, refs, onWarning));
    }
  } else if (legacy) {
    for (const item of legacy) {
      const cfgBlob = blobFor(item.Config);
      const config = parseJson<ImageConfig>(await store.readBlob(cfgBlob.digest, { maxSize: MAX_META }), item.Config);
      const layers: Descriptor[] = item.Layers.map((l) => {
        const b = blobFor(l);
        return { mediaType: MEDIA_TYPES.ociLayer, digest: b.digest, size: b.size };
      });
      const manifest: Manifest = {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: MEDIA_TYPES.ociConfig, digest: cfgBlob.digest, size: cfgBlob.size },
        layers,
      };
      const refs = (item.RepoTags ?? []).map((t) => parseReference(t));
      result.images.push(await assemble(store, manifest, undefined, config, refs, onWarning));
    }
  } else {
    throw loadError(inputName, 'neither index.json nor manifest.json found');
  }
  return result;
}

/**
 * Indexes the layers, checks their diffIDs, stores their metadata, then points the references at
 * the manifest: `existing` when the archive carried one (its digest is kept), else `manifest`
 * stored now. An image without a name is kept by its digest so gc does not collect it.
 */
async function assemble(store: Store, manifest: Manifest, existing: Descriptor | undefined, config: ImageConfig, refs: Reference[], onWarning: WarningSink): Promise<LoadResult['images'][number]> {
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw loadError(manifest.config.digest, `config lists ${diffIds.length} diff_ids but the manifest has ${manifest.layers.length} layers`);
  }
  const layers = [];
  for (let i = 0; i < manifest.layers.length; i++) {
    const l = await indexStoredLayer(store, manifest.layers[i], { onWarning });
    if (l.diffId !== diffIds[i]) {
      throw new BerthError('E_LOAD_DIFFID_MISMATCH', `layer ${manifest.layers[i].digest}: uncompressed content is ${l.diffId} but the config says ${diffIds[i]}`, {
        hint: 'the archive is corrupt or was modified; export it again',
      });
    }
    layers.push(l);
  }
  await putLayerMetadata(store, layers);
  let target = existing;
  if (!target) {
    const put = await store.putBlob(Buffer.from(JSON.stringify(manifest)));
    target = { mediaType: MEDIA_TYPES.ociManifest, digest: put.digest, size: put.size };
  }
  const desc: Descriptor = { mediaType: target.mediaType, digest: target.digest, size: target.size };
  for (const r of refs.length > 0 ? refs : [undefined]) await store.setRef(r, desc);
  return { references: refs.map((r) => r.toString()), id: manifest.config.digest, digest: desc.digest };
}
