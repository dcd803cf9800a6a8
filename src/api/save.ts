/**
 * api/save: `berth save IMAGE... -o FILE [--format docker-archive|oci-archive]`.
 *
 * oci-archive: an OCI image layout in a tar, blobs copied byte for byte (digests unchanged).
 * docker-archive: what `docker save` writes since Engine 25: an OCI layout whose layers are
 * uncompressed tars (so the legacy `manifest.json` works with every `docker load`), plus
 * `manifest.json` and `repositories`. The image ID (config digest) is unchanged.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { BerthError } from '../errors/index.js';
import { encodeTar } from '../layer/tar/index.js';
import type { TarHeader } from '../layer/tar/types.js';
import { decompress } from '../layer/compress.js';
import { MEDIA_TYPES, familiarName, type Descriptor, type Manifest } from '../oci/index.js';
import type { Store } from '../store/index.js';
import { checkOptions, type StoreOptions } from './options.js';
import { openStore } from './store.js';
import { withContext } from './context.js';

export type ArchiveFormat = 'docker-archive' | 'oci-archive';

export interface SaveOptions extends StoreOptions {
  images: string[];
  /** File path, or a writable stream (e.g. process.stdout). */
  output: string | NodeJS.WritableStream;
  format?: ArchiveFormat;
}

const KEYS = ['root', 'onWarning', 'images', 'output', 'format'] as const;
const EPOCH = { sec: 0, nsec: 0 };

type Member = { header: TarHeader; body?: AsyncIterable<Buffer> | Buffer };

function fileHeader(path: string, size: number): TarHeader {
  return { path, type: 'file', mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', size, mtime: EPOCH, linkname: '', devmajor: 0, devminor: 0, xattrs: new Map() };
}

function dirHeader(path: string): TarHeader {
  return { ...fileHeader(path, 0), type: 'dir', mode: 0o755 };
}

function blobPath(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}

function small(path: string, data: Buffer): Member {
  return { header: fileHeader(path, data.length), body: data };
}

async function uncompressedSize(store: Store, digest: string): Promise<number> {
  let n = 0;
  for await (const c of decompress(store.openBlob(digest))) n += c.length;
  return n;
}

export async function saveImages(options: SaveOptions): Promise<{ format: ArchiveFormat; images: string[] }> {
  const o = checkOptions('save', options, KEYS);
  const format: ArchiveFormat = o.format ?? 'docker-archive';
  if (format !== 'docker-archive' && format !== 'oci-archive') {
    throw new BerthError('E_OPTION_INVALID', `save: unknown format "${String(format)}"`, { hint: 'use docker-archive or oci-archive' });
  }
  if (!Array.isArray(o.images) || o.images.length === 0) throw new BerthError('E_OPTION_INVALID', 'save(): option "images" needs at least one image');
  const store = await openStore(o, { create: false });

  const members: Member[] = [];
  const written = new Set<string>();
  const indexManifests: (Descriptor & { annotations?: Record<string, string> })[] = [];
  const legacy: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  /** Blobs to copy: `digest` is read from the store, written as `name` (uncompressed when asked). */
  const blobMembers: { digest: string; name: string; size: number; uncompress: boolean }[] = [];
  const addBlob = (digest: string, size: number, uncompress = false, as = digest) => {
    if (written.has(as)) return;
    written.add(as);
    blobMembers.push({ digest, name: as, size, uncompress });
  };

  for (const name of o.images) {
    const img = await store.resolveImage(name);
    const ref = img.reference;
    let manifest: Manifest = img.manifest;
    let mdesc: Descriptor = img.manifestDescriptor;
    addBlob(img.configDescriptor.digest, img.configDescriptor.size);
    if (format === 'docker-archive') {
      const diffIds = img.config.rootfs?.diff_ids ?? [];
      const layers: Descriptor[] = [];
      for (let i = 0; i < manifest.layers.length; i++) {
        const l = manifest.layers[i];
        const compressed = l.mediaType !== MEDIA_TYPES.ociLayer && l.mediaType !== MEDIA_TYPES.dockerLayerTar;
        if (compressed) {
          const size = await uncompressedSize(store, l.digest);
          layers.push({ mediaType: MEDIA_TYPES.ociLayer, digest: diffIds[i], size });
          addBlob(l.digest, size, true, diffIds[i]);
        } else {
          layers.push({ mediaType: MEDIA_TYPES.ociLayer, digest: l.digest, size: l.size });
          addBlob(l.digest, l.size);
        }
      }
      manifest = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: img.manifest.config, layers };
      const mbytes = Buffer.from(JSON.stringify(manifest));
      const digest = `sha256:${createHash('sha256').update(mbytes).digest('hex')}`;
      mdesc = { mediaType: MEDIA_TYPES.ociManifest, digest, size: mbytes.length };
      if (!written.has(digest)) {
        written.add(digest);
        members.push(small(blobPath(digest), mbytes));
      }
      const tags = ref ? [familiarName(ref)] : [];
      legacy.push({ Config: blobPath(img.configDescriptor.digest), RepoTags: tags, Layers: layers.map((l) => blobPath(l.digest)) });
      if (ref && ref.tag) {
        const repo = familiarName(ref).replace(/:[^:/]+$/, '');
        repositories[repo] = { ...(repositories[repo] ?? {}), [ref.tag]: img.configDescriptor.digest.split(':')[1] };
      }
    } else {
      addBlob(mdesc.digest, mdesc.size);
      for (const l of manifest.layers) addBlob(l.digest, l.size);
    }
    const annotations: Record<string, string> = {};
    if (ref) {
      annotations['io.containerd.image.name'] = ref.toString();
      if (ref.tag) annotations['org.opencontainers.image.ref.name'] = ref.tag;
    }
    indexManifests.push({ mediaType: mdesc.mediaType ?? MEDIA_TYPES.ociManifest, digest: mdesc.digest, size: mdesc.size, ...(ref ? { annotations } : {}) });
  }

  async function* all(): AsyncGenerator<Member> {
    yield small('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
    yield { header: dirHeader('blobs') };
    yield { header: dirHeader('blobs/sha256') };
    for (const m of members) yield m;
    for (const b of blobMembers) {
      const body = b.uncompress ? decompress(store.openBlob(b.digest)) : store.openBlob(b.digest);
      yield { header: fileHeader(blobPath(b.name), b.size), body };
    }
    const index = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: indexManifests };
    yield small('index.json', Buffer.from(JSON.stringify(index)));
    if (format === 'docker-archive') {
      yield small('manifest.json', Buffer.from(JSON.stringify(legacy)));
      yield small('repositories', Buffer.from(JSON.stringify(repositories)));
    }
  }

  const stream = Readable.from(encodeTar(all()));
  return withContext(`save ${o.images.join(' ')}`, async () => {
    if (typeof o.output === 'string') {
      // Written beside the target and renamed, so a failed save never leaves a truncated archive.
      const tmp = `${o.output}.berth-tmp-${process.pid}`;
      try {
        await pipeline(stream, createWriteStream(tmp));
        await rename(tmp, o.output);
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
    } else {
      await pipeline(stream, o.output);
    }
    return { format, images: o.images };
  });
}
