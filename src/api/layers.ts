/**
 * api/layers: the two layer pipelines every use case shares.
 *
 * writeLayer: entries -> file index + ID sets -> tar bytes (diffID hashed) -> gzip -> store blob.
 * One pass, bounded memory: the tar is never materialised.
 *
 * readLayer: store blob (digest verified) -> decompress (bomb limits) -> tar entries.
 */
import { createHash } from 'node:crypto';
import type { Store } from '../store/index.js';
import { FileIndexBuilder, type FileIndex } from '../layer/fileindex.js';
import { decodeTar, encodeTar } from '../layer/tar/index.js';
import type { TarEntry, TarHeader } from '../layer/tar/types.js';
import { compressGzip, decompress } from '../layer/compress.js';
import type { WarningSink } from '../errors/index.js';
import { MEDIA_TYPES, type Descriptor } from '../oci/index.js';

export interface WrittenLayer {
  descriptor: Descriptor;
  diffId: string;
  index: FileIndex;
  uids: number[];
  gids: number[];
  entries: number;
}

type InEntry = { header: TarHeader; body?: AsyncIterable<Buffer> | Buffer };

async function* tapBody(body: AsyncIterable<Buffer> | Buffer | undefined, sink: Buffer[] | null): AsyncGenerator<Buffer> {
  if (body === undefined) return;
  if (Buffer.isBuffer(body)) {
    sink?.push(body);
    yield body;
    return;
  }
  for await (const chunk of body) {
    sink?.push(chunk);
    yield chunk;
  }
}

async function* hashTap(src: AsyncIterable<Buffer>, hash: ReturnType<typeof createHash>, counter: { n: number }): AsyncGenerator<Buffer> {
  for await (const chunk of src) {
    hash.update(chunk);
    counter.n += chunk.length;
    yield chunk;
  }
}

/** Writes one layer (gzip, OCI media type) into the store from a stream of entries. */
export async function writeLayer(store: Store, entries: AsyncIterable<InEntry> | Iterable<InEntry>, opts: { gzipLevel?: number } = {}): Promise<WrittenLayer> {
  const builder = new FileIndexBuilder();
  const uids = new Set<number>();
  const gids = new Set<number>();
  let count = 0;
  async function* observed(): AsyncGenerator<InEntry> {
    for await (const e of entries as AsyncIterable<InEntry>) {
      count++;
      builder.add(e.header);
      uids.add(e.header.uid);
      gids.add(e.header.gid);
      const want = builder.wantsBody(e.header);
      const captured: Buffer[] | null = want ? [] : null;
      yield { header: e.header, body: tapBody(e.body, captured) };
      if (captured) builder.addBody(e.header.path, Buffer.concat(captured));
    }
  }
  const diffHash = createHash('sha256');
  const tarBytes = { n: 0 };
  const gz = compressGzip(hashTap(encodeTar(observed()), diffHash, tarBytes), { level: opts.gzipLevel });
  const blob = await store.putBlob(gz);
  const diffId = `sha256:${diffHash.digest('hex')}`;
  return {
    descriptor: { mediaType: MEDIA_TYPES.ociLayerGzip, digest: blob.digest, size: blob.size },
    diffId,
    index: builder.finish(),
    uids: [...uids].sort((a, b) => a - b),
    gids: [...gids].sort((a, b) => a - b),
    entries: count,
  };
}

/** Streams the entries of a stored layer blob, verifying its digest and bounding decompression. */
export function readLayer(store: Store, digest: string, opts: { onWarning?: WarningSink; maxOutputBytes?: number } = {}): AsyncGenerator<TarEntry> {
  const raw = store.openBlob(digest);
  return decodeTar(decompress(raw, { maxOutputBytes: opts.maxOutputBytes }), { onWarning: opts.onWarning });
}
