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

/**
 * What berth records about every layer it stores, gathered while the entries stream past: the file
 * index (with the bodies of the few identity files it captures) and the sets of owner IDs.
 */
class LayerFacts {
  private readonly builder = new FileIndexBuilder();
  private readonly uids = new Set<number>();
  private readonly gids = new Set<number>();
  entries = 0;

  /** Records the header; returns a sink for the body when the index captures it, else null. */
  add(header: TarHeader): Buffer[] | null {
    this.entries++;
    this.builder.add(header);
    this.uids.add(header.uid);
    this.gids.add(header.gid);
    return this.builder.wantsBody(header) ? [] : null;
  }

  addBody(header: TarHeader, parts: Buffer[]): void {
    this.builder.addBody(header.path, Buffer.concat(parts));
  }

  finish(): { index: FileIndex; uids: number[]; gids: number[] } {
    return {
      index: this.builder.finish(),
      uids: [...this.uids].sort((a, b) => a - b),
      gids: [...this.gids].sort((a, b) => a - b),
    };
  }
}

/** Writes one layer (gzip, OCI media type) into the store from a stream of entries. */
export async function writeLayer(store: Store, entries: AsyncIterable<InEntry> | Iterable<InEntry>, opts: { gzipLevel?: number } = {}): Promise<WrittenLayer> {
  const facts = new LayerFacts();
  async function* observed(): AsyncGenerator<InEntry> {
    for await (const e of entries as AsyncIterable<InEntry>) {
      const captured = facts.add(e.header);
      yield { header: e.header, body: tapBody(e.body, captured) };
      // The encoder has read the whole body before it asks for the next entry.
      if (captured) facts.addBody(e.header, captured);
    }
  }
  const diffHash = createHash('sha256');
  const tarBytes = { n: 0 };
  const gz = compressGzip(hashTap(encodeTar(observed()), diffHash, tarBytes), { level: opts.gzipLevel });
  const blob = await store.putBlob(gz);
  return {
    descriptor: { mediaType: MEDIA_TYPES.ociLayerGzip, digest: blob.digest, size: blob.size },
    diffId: `sha256:${diffHash.digest('hex')}`,
    ...facts.finish(),
    entries: facts.entries,
  };
}

/** Reads a stored layer blob once (any compression): its diffID, file index and owner ID sets. */
export async function indexStoredLayer(store: Store, desc: Descriptor, opts: { onWarning?: WarningSink } = {}): Promise<WrittenLayer> {
  return indexLayerBytes(store.openBlob(desc.digest), desc, opts);
}

/**
 * The same from the layer's bytes as they arrive (a pull indexes while it downloads). The caller
 * checks the bytes' digest; this trusts them only to describe them.
 */
export async function indexLayerBytes(bytes: AsyncIterable<Buffer>, desc: Descriptor, opts: { onWarning?: WarningSink } = {}): Promise<WrittenLayer> {
  const diffHash = createHash('sha256');
  const tarBytes = { n: 0 };
  const facts = new LayerFacts();
  for await (const e of decodeTar(hashTap(decompress(bytes), diffHash, tarBytes), { onWarning: opts.onWarning })) {
    const captured = facts.add(e.header);
    if (captured) {
      for await (const c of e.body) captured.push(c);
      facts.addBody(e.header, captured);
    }
  }
  return { descriptor: desc, diffId: `sha256:${diffHash.digest('hex')}`, ...facts.finish(), entries: facts.entries };
}

/**
 * A stored layer's entries (for unpacking) that also build its diffID and file index as they pass,
 * so a pull that unpacks decompresses each layer once. `result()` is defined once the entries have
 * been read to the end (bodies included).
 */
export function indexingLayerReader(store: Pick<Store, 'openBlob'>, desc: Descriptor, opts: { onWarning?: WarningSink } = {}): { entries: AsyncGenerator<TarEntry>; result(): WrittenLayer | undefined } {
  const diffHash = createHash('sha256');
  const tarBytes = { n: 0 };
  const facts = new LayerFacts();
  let finished: WrittenLayer | undefined;
  async function* entries(): AsyncGenerator<TarEntry> {
    for await (const e of decodeTar(hashTap(decompress(store.openBlob(desc.digest)), diffHash, tarBytes), { onWarning: opts.onWarning })) {
      const captured = facts.add(e.header);
      if (!captured) {
        yield e;
        continue;
      }
      yield { header: e.header, body: tapBody(e.body, captured) };
      facts.addBody(e.header, captured);
    }
    finished = { descriptor: desc, diffId: `sha256:${diffHash.digest('hex')}`, ...facts.finish(), entries: facts.entries };
  }
  return { entries: entries(), result: () => finished };
}

/** Streams the entries of a stored layer blob, verifying its digest and bounding decompression. */
export function readLayer(store: Store, digest: string, opts: { onWarning?: WarningSink; maxOutputBytes?: number } = {}): AsyncGenerator<TarEntry> {
  const raw = store.openBlob(digest);
  return decodeTar(decompress(raw, { maxOutputBytes: opts.maxOutputBytes }), { onWarning: opts.onWarning });
}
