/**
 * Blob files: writing a temp file while hashing it (verified against what the caller expects), and
 * reading a blob back verified (whole, or streamed with the check after the last chunk). The Store
 * decides where temp files go and commits them under its lock; this file only does the bytes.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readFileSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { BerthError, errnoOf } from '../errors/index.js';
import { Digester, digestOf, parseDigest } from '../oci/digest.js';

export interface BlobInfo {
  digest: string;
  size: number;
}

export type ByteSource = Buffer | Uint8Array | AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>;

/** Read and write granularity. */
const CHUNK = 1 << 20;

function asBuffer(chunk: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function readError(code: string, digest: string, reason: string, hint: string, details: Record<string, unknown> = {}): BerthError {
  return new BerthError(code, `read blob ${digest}: ${reason}`, { hint, details: { digest, ...details } });
}

function corruptHint(path: string): string {
  return `the file ${path} was modified or damaged; pull, load or import the image again to restore it`;
}

function openError(e: unknown, digest: string, path: string): unknown {
  const code = errnoOf(e);
  if (code === 'ENOENT') return readError('E_BLOB_NOT_FOUND', digest, 'not in the store', 'the image is incomplete; pull, load or import it again', { errno: code });
  if (code === 'ELOOP') return readError('E_BLOB_CORRUPT', digest, 'the blob is a symbolic link', corruptHint(path), { path });
  return e;
}

function corrupt(digest: string, path: string, actual: string): BerthError {
  return readError('E_BLOB_CORRUPT', digest, `content on disk hashes to ${actual}`, corruptHint(path), { path, actual });
}

/**
 * Writes `data` to the new file `tmp` (mode 0644), hashing as it goes, fsyncs it, and checks it
 * against `expect`: more bytes than `expect.size` stop the write at once (E_SIZE_MISMATCH), and a
 * final size or digest that differs is E_SIZE_MISMATCH / E_DIGEST_MISMATCH. On any failure the temp
 * file is removed and the error rethrown.
 *
 * 0644 rather than read-only: skopeo rewrites an existing manifest blob in place (os.WriteFile in
 * containers/image oci/layout), which a non-root user cannot do to a 0444 file. Integrity comes
 * from verifying every read, not from the mode.
 */
export async function writeBlobTemp(tmp: string, data: ByteSource, expect: { digest?: string; size?: number }): Promise<BlobInfo> {
  const digester = new Digester(expect.digest !== undefined ? parseDigest(expect.digest).algorithm : 'sha256');
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', 0o644);
    await writeHashed(fh, data, digester, expect.size);
    await fh.sync();
    await fh.close();
    fh = undefined;
    const result = digester.result();
    if (expect.size !== undefined && result.size !== expect.size) {
      throw new BerthError('E_SIZE_MISMATCH', `store blob${expect.digest ? ` ${expect.digest}` : ''}: got ${result.size} bytes, expected ${expect.size}`, {
        hint: 'the data was truncated or padded in transit; fetch it again',
        details: { expected: expect.size, actual: result.size, digest: expect.digest },
      });
    }
    if (expect.digest !== undefined && result.digest !== expect.digest) {
      throw new BerthError('E_DIGEST_MISMATCH', `store blob ${expect.digest}: content hashes to ${result.digest}`, {
        hint: 'the data is not what its digest says; it was corrupted or tampered with in transit, so fetch it again from a trusted source',
        details: { expected: expect.digest, actual: result.digest },
      });
    }
    return result;
  } catch (e) {
    // Clean-up after a failure: the original error is what matters, and gc sweeps anything left.
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

async function writeHashed(fh: FileHandle, data: ByteSource, digester: Digester, maxSize: number | undefined): Promise<void> {
  const check = () => {
    if (maxSize !== undefined && digester.size > maxSize) {
      throw new BerthError('E_SIZE_MISMATCH', `store blob: more than the expected ${maxSize} bytes`, {
        hint: 'the data is larger than its descriptor says; fetch it again from a trusted source',
        details: { expected: maxSize },
      });
    }
  };
  if (Buffer.isBuffer(data) || data instanceof Uint8Array) {
    const b = asBuffer(data);
    digester.update(b);
    check();
    await fh.writeFile(b);
    return;
  }
  // Small chunks (gzip emits 16 KiB) are copied into one buffer and written together; large ones
  // are written directly. Either way a chunk is written (or copied) before the next one is
  // requested, so a producer that reuses its buffer cannot change bytes already hashed.
  const buf = Buffer.allocUnsafe(CHUNK);
  let used = 0;
  const writeAll = async (b: Buffer) => {
    let off = 0;
    while (off < b.length) off += (await fh.write(b, off, b.length - off)).bytesWritten;
  };
  const flush = async () => {
    if (used === 0) return;
    const n = used;
    used = 0;
    await writeAll(buf.subarray(0, n));
  };
  for await (const chunk of data as AsyncIterable<Buffer | Uint8Array>) {
    const b = asBuffer(chunk);
    if (b.length === 0) continue;
    digester.update(b);
    check();
    if (b.length >= CHUNK / 4) {
      await flush();
      await writeAll(b);
      continue;
    }
    if (used + b.length > CHUNK) await flush();
    b.copy(buf, used);
    used += b.length;
  }
  await flush();
}

/**
 * Reads the blob file at `path` whole and verifies it against `digest`: E_BLOB_NOT_FOUND,
 * E_BLOB_TOO_LARGE over `maxSize`, E_BLOB_CORRUPT (content mismatch, symlink, not a regular file).
 */
export async function readBlobFile(path: string, digest: string, maxSize: number): Promise<Buffer> {
  const algorithm = parseDigest(digest).algorithm;
  // Synchronous: these are manifests, configs and indexes (bounded by maxSize), read on every
  // run; four thread-pool round trips cost more than the read itself.
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (e) {
    throw openError(e, digest, path);
  }
  let data: Buffer;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw readError('E_BLOB_CORRUPT', digest, 'not a regular file', corruptHint(path), { path });
    if (st.size > maxSize) {
      throw readError('E_BLOB_TOO_LARGE', digest, `${st.size} bytes is over the ${maxSize}-byte limit for this kind of blob`, 'the image is malformed or hostile; remove it with `berth rmi`', { size: st.size, maxSize });
    }
    data = readFileSync(fd);
  } finally {
    closeSync(fd);
  }
  if (data.length > maxSize) {
    throw readError('E_BLOB_TOO_LARGE', digest, `over the ${maxSize}-byte limit`, 'the image is malformed or hostile; remove it with `berth rmi`', { maxSize });
  }
  const actual = digestOf(data, algorithm);
  if (actual !== digest) throw corrupt(digest, path, actual);
  return data;
}

/**
 * Streams the blob file at `path` in 1 MiB chunks, hashing as it goes; after the last chunk it
 * throws E_BLOB_CORRUPT if the content does not match `digest`. Nothing is opened until the first
 * chunk is asked for, and the file is closed however the consumer stops.
 */
export function streamBlobFile(path: string, digest: string): AsyncGenerator<Buffer> {
  const algorithm = parseDigest(digest).algorithm;
  return (async function* () {
    let fh: FileHandle;
    try {
      fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (e) {
      throw openError(e, digest, path);
    }
    const d = new Digester(algorithm);
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(CHUNK);
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        const chunk = bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
        d.update(chunk);
        yield chunk;
      }
    } finally {
      await fh.close();
    }
    const actual = d.result().digest;
    if (actual !== digest) throw corrupt(digest, path, actual);
  })();
}
