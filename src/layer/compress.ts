/**
 * Layer (de)compression: gzip through node:zlib, zstd through fzstd (Node 20 has no zstd in
 * zlib), detected by magic bytes.
 *
 * Invariants:
 * - Bounded memory. gzip runs through zlib streams with backpressure. zstd input is cut at block
 *   boundaries (found by a small frame scanner) so one push into fzstd decodes at most ~1 MiB,
 *   whatever the compression ratio; the frame window (which fzstd allocates) is capped.
 * - Untrusted input has limits: total output (`maxOutputBytes`) and output/input ratio
 *   (`maxRatio`), checked before any byte over the limit is handed on. Exceeding either is
 *   E_DECOMPRESSION_LIMIT ("possible decompression bomb"); malformed data is E_DECOMPRESS_CORRUPT.
 * - Errors from the source itself pass through unchanged.
 */

import { Readable, pipeline, type Transform } from 'node:stream';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import type { Decompress as ZstdDecompressT } from 'fzstd';

/** fzstd, loaded on the first zstd stream (most layers are gzip; loading it costs a few ms per start). */
let zstdCtor: typeof ZstdDecompressT | undefined;
function ZstdDecompressClass(): typeof ZstdDecompressT {
  zstdCtor ??= (createRequire(import.meta.url)('fzstd') as { Decompress: typeof ZstdDecompressT }).Decompress;
  return zstdCtor;
}
import { BerthError } from '../errors/index.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/**
 * The compression of a stream from its first bytes: gzip `1f 8b`, zstd frame `28 b5 2f fd` or a
 * zstd skippable frame `5? 2a 4d 18` (pzstd starts with one). Anything else, including fewer
 * bytes than a magic, is 'none'.
 */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4) {
    if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
    if ((head[0] & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18) return 'zstd';
  }
  return 'none';
}

export interface DecompressOptions {
  /** Most bytes of output; default unlimited. Pass the limit your caller can afford. */
  maxOutputBytes?: number;
  /**
   * Most output bytes per input byte, checked once the output passes 1 MiB (so small, very
   * compressible streams are not refused). Default 2000: deflate cannot exceed about 1032:1,
   * so this only refuses zstd streams that are almost all repeated bytes.
   */
  maxRatio?: number;
  /**
   * Largest zstd frame window. Default 8 MiB, which covers zstd levels 1-19 and the default
   * Go (klauspost) encoder; `--long` and `--ultra` streams need more. fzstd allocates the window
   * and moves all of it once per block, so decoding time grows with the window.
   */
  maxWindowBytes?: number;
}

export const defaultDecompressLimits: Required<DecompressOptions> = {
  maxOutputBytes: Number.POSITIVE_INFINITY,
  maxRatio: 2000,
  maxWindowBytes: 8 << 20,
};

const RATIO_FLOOR = 1 << 20;
/**
 * zlib stream buffer size. Node's default (16 KiB) costs a thread-pool round trip per 16 KiB of
 * output; 256 KiB measured about 4x faster for gunzip here, and is still a small, fixed bound.
 */
const ZLIB_CHUNK = 256 << 10;
/** Input chunks smaller than this are joined before zlib sees them (same round-trip cost). */
const ZLIB_MIN_INPUT = 64 << 10;
/** Output budget per fzstd push, in bytes of possible output. */
const ZSTD_PUSH_BUDGET = 1 << 20;
/** Decoder work (bytes of window moved or allocated) per fzstd push. */
const ZSTD_PUSH_WORK = 256 << 20;
/** Work allowed before output must pay for it (a few frames and blocks of any stream). */
const ZSTD_WORK_SLACK = 1 << 30;

function normaliseOptions<T extends object>(op: string, given: T | undefined, defaults: Required<T>): Required<T> {
  const out = { ...defaults };
  if (given === undefined) return out;
  const allowed = Object.keys(defaults);
  for (const [k, v] of Object.entries(given)) {
    if (!allowed.includes(k)) {
      throw new BerthError('E_OPTION_UNKNOWN', `${op}(): unknown option "${k}"`, { hint: `valid options: ${allowed.join(', ')}` });
    }
    if (v === undefined) continue;
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0) {
      throw new BerthError('E_OPTION_INVALID', `${op}(): option "${k}" must be a non-negative number, got ${String(v)}`);
    }
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

function isZlibError(e: unknown): e is Error & { code: string } {
  if (!(e instanceof Error)) return false;
  const code: unknown = (e as unknown as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('Z_');
}

function corrupt(kind: Compression, reason: string, cause?: unknown): BerthError {
  return new BerthError('E_DECOMPRESS_CORRUPT', `decompress ${kind} stream: ${reason}`, {
    hint: 'the compressed data is damaged or truncated; re-download the blob or re-create it',
    cause,
    details: { compression: kind },
  });
}

/**
 * Decompresses a gzip (multi-member included), zstd (multi-frame included) or uncompressed
 * stream, detected from its first bytes. Uncompressed input passes through (counted against
 * `maxOutputBytes`).
 */
export async function* decompress(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts?: DecompressOptions,
): AsyncGenerator<Buffer> {
  const o = normaliseOptions('decompress', opts, defaultDecompressLimits);
  const it = iteratorOf(source);
  let finished = false;
  try {
    // Peek at least 4 bytes (or all there is) to detect the format.
    const head: Buffer[] = [];
    let headBytes = 0;
    let ended = false;
    while (headBytes < 4) {
      const r = await it.next();
      if (r.done === true) {
        ended = true;
        break;
      }
      const c = asBuffer(r.value);
      if (c.length === 0) continue;
      head.push(c);
      headBytes += c.length;
    }
    const kind = detectCompression(head.length === 1 ? head[0] : Buffer.concat(head));

    let inBytes = 0;
    let outBytes = 0;
    const input = async function* (): AsyncGenerator<Buffer> {
      for (const c of head) {
        inBytes += c.length;
        yield c;
      }
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done === true) return;
        const c = asBuffer(r.value);
        inBytes += c.length;
        yield c;
      }
    };
    const account = (n: number): void => {
      outBytes += n;
      if (outBytes > o.maxOutputBytes) {
        throw new BerthError(
          'E_DECOMPRESSION_LIMIT',
          `decompress ${kind} stream: output exceeds ${o.maxOutputBytes} bytes after ${inBytes} input bytes (possible decompression bomb)`,
          {
            hint: 'if the archive is trusted, raise maxOutputBytes',
            details: { compression: kind, outputBytes: outBytes, inputBytes: inBytes, maxOutputBytes: o.maxOutputBytes },
          },
        );
      }
      if (outBytes > RATIO_FLOOR && outBytes > o.maxRatio * inBytes) {
        throw new BerthError(
          'E_DECOMPRESSION_LIMIT',
          `decompress ${kind} stream: ${outBytes} output bytes from ${inBytes} input bytes exceed the ratio ${o.maxRatio}:1 (possible decompression bomb)`,
          {
            hint: 'if the archive is trusted, raise maxRatio',
            details: { compression: kind, outputBytes: outBytes, inputBytes: inBytes, maxRatio: o.maxRatio },
          },
        );
      }
    };

    if (kind === 'none') {
      for await (const c of input()) {
        account(c.length);
        yield c;
      }
    } else if (kind === 'gzip') {
      // zlib's Gunzip continues into following members, so `cat a.gz b.gz` decodes whole.
      for await (const c of throughZlib(zlib.createGunzip({ chunkSize: ZLIB_CHUNK }), input(), 'gzip')) {
        account(c.length);
        yield c;
      }
    } else {
      yield* decompressZstd(input(), o.maxWindowBytes, account);
    }
    finished = true;
  } catch (e) {
    finished = true;
    // Closing is best effort here: the decompression error is the one to report.
    await Promise.resolve(it.return?.()).catch(() => undefined);
    throw e;
  } finally {
    // Reached without an error only when the consumer stopped early.
    if (!finished) await it.return?.();
  }
}

/** Gzip-compresses a stream. Output is deterministic (zlib writes mtime 0 in the header). */
export async function* compressGzip(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts?: { level?: number },
): AsyncGenerator<Buffer> {
  let level = zlib.constants.Z_DEFAULT_COMPRESSION;
  if (opts !== undefined) {
    for (const k of Object.keys(opts)) {
      if (k !== 'level') {
        throw new BerthError('E_OPTION_UNKNOWN', `compressGzip(): unknown option "${k}"`, { hint: 'valid options: level' });
      }
    }
    if (opts.level !== undefined) {
      if (!Number.isInteger(opts.level) || opts.level < -1 || opts.level > 9) {
        throw new BerthError('E_OPTION_INVALID', `compressGzip(): option "level" must be an integer from -1 to 9, got ${String(opts.level)}`);
      }
      level = opts.level;
    }
  }
  yield* throughZlib(zlib.createGzip({ level, chunkSize: ZLIB_CHUNK }), mapBuffers(source), 'gzip');
}

async function* mapBuffers(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const c of source) yield asBuffer(c);
}

/**
 * Runs a stream through a zlib transform with backpressure. `pipeline` destroys both ends when
 * either fails or the consumer stops early, which also closes the source iterator.
 */
async function* throughZlib(transform: Transform, input: AsyncIterable<Buffer>, kind: Compression): AsyncGenerator<Buffer> {
  const readable = Readable.from(coalesce(input, ZLIB_MIN_INPUT), { objectMode: false });
  // Errors surface through the iteration below; the callback only keeps them from going unhandled.
  pipeline(readable, transform, () => {});
  try {
    for await (const c of transform as AsyncIterable<Buffer>) yield c;
  } catch (e) {
    if (isZlibError(e)) throw corrupt(kind, e.message, e);
    throw e;
  }
}

/** Joins runs of small chunks into chunks of at least `min` bytes; large chunks pass as they are. */
async function* coalesce(input: AsyncIterable<Buffer>, min: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let size = 0;
  for await (const c of input) {
    if (size === 0 && c.length >= min) {
      yield c;
      continue;
    }
    pending.push(c);
    size += c.length;
    if (size >= min) {
      yield Buffer.concat(pending, size);
      pending = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(pending, size);
}

/**
 * Decodes zstd frames with fzstd, feeding it input cut at block boundaries so that each push
 * produces at most about ZSTD_PUSH_BUDGET bytes (an RLE block of 4 input bytes can expand to
 * 128 KiB, so input size alone bounds nothing) and costs at most about ZSTD_PUSH_WORK.
 *
 * fzstd allocates each frame's window and moves the whole window once per block, so a stream of
 * tiny blocks or tiny frames costs O(window) per few input bytes while producing almost nothing:
 * a CPU bomb that no output limit catches. The decoder's work is therefore bounded by the output
 * it actually produced: work <= factor * output + ZSTD_WORK_SLACK, where the factor is twice what
 * a normal stream (full 128 KiB blocks) needs at the largest allowed window.
 */
async function* decompressZstd(
  input: AsyncIterable<Buffer>,
  maxWindow: number,
  account: (n: number) => void,
): AsyncGenerator<Buffer> {
  const scanner = new ZstdFrameScanner(maxWindow);
  const workFactor = Math.max(512, (2 * maxWindow) / BLOCK_MAX);
  let work = 0;
  let produced = 0;
  const out: Buffer[] = [];
  const ZstdDecompress = ZstdDecompressClass();
  const decoder = new ZstdDecompress((data) => {
    out.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
  const push = (piece: Uint8Array, final: boolean): void => {
    try {
      decoder.push(piece, final);
    } catch (e) {
      throw corrupt('zstd', e instanceof Error ? e.message : String(e), e);
    }
    for (const b of out) produced += b.length;
  };
  const checkWork = (): void => {
    if (work > workFactor * produced + ZSTD_WORK_SLACK) {
      throw new BerthError(
        'E_DECOMPRESSION_LIMIT',
        `decompress zstd stream: ${work} bytes of decoder work for ${produced} output bytes (tiny blocks or frames with a large window; possible decompression bomb)`,
        {
          hint: 'the stream is built to exhaust the decoder; if it is trusted, re-compress it with default settings',
          details: { compression: 'zstd', work, outputBytes: produced },
        },
      );
    }
  };
  for await (const chunk of input) {
    const pieces = scanner.split(chunk, ZSTD_PUSH_BUDGET, ZSTD_PUSH_WORK);
    for (let p = 0; p < pieces.length; p++) {
      work += pieces[p].work;
      push(pieces[p].data, false);
      checkWork();
      for (let i = 0; i < out.length; i++) {
        const b = out[i];
        if (b.length === 0) continue;
        account(b.length);
        yield b;
      }
      out.length = 0;
    }
  }
  scanner.end();
  push(new Uint8Array(0), true);
  for (const b of out) {
    if (b.length === 0) continue;
    account(b.length);
    yield b;
  }
}

const ZSTD_MAGIC = 0xfd2fb528;
const BLOCK_MAX = 128 << 10;

const enum Z {
  Magic,
  SkipSize,
  SkipBody,
  FrameDescriptor,
  FrameHeaderRest,
  BlockHeader,
  BlockBody,
  Checksum,
}

/**
 * Walks zstd frame structure (RFC 8878 section 3.1) without decoding: frame headers (to check
 * the window size), block headers (to find block ends and each block's largest output) and
 * skippable frames. Used only to cut the input; fzstd does the decoding.
 */
export class ZstdFrameScanner {
  #state = Z.Magic;
  #need = 4;
  readonly #hdr = Buffer.alloc(16);
  #hdrLen = 0;
  #checksum = false;
  #blockMax = 0;
  #window = 0;
  #work = 0;
  #lastBlock = false;
  #blockOut = 0;

  constructor(readonly maxWindow: number) {}

  /**
   * Cuts a chunk into pieces, each ending at a block end once its possible output reaches
   * `budget` or its decoder work reaches `maxWork`. `work` counts window bytes the decoder
   * allocates (per frame) and moves (per block).
   */
  split(chunk: Buffer, budget: number, maxWork: number): Array<{ data: Buffer; work: number }> {
    const pieces: Array<{ data: Buffer; work: number }> = [];
    let start = 0;
    let acc = 0;
    this.#work = 0;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const state = this.#state;
      if (state === Z.BlockBody || state === Z.SkipBody || state === Z.Checksum) {
        const k = Math.min(this.#need, n - i);
        i += k;
        this.#need -= k;
        if (this.#need > 0) break;
      } else {
        // Header bytes: collect into #hdr (they may span chunks).
        const k = Math.min(this.#need - this.#hdrLen, n - i);
        chunk.copy(this.#hdr, this.#hdrLen, i, i + k);
        this.#hdrLen += k;
        i += k;
        if (this.#hdrLen < this.#need) break;
      }
      // The current structure is complete.
      const blockDone = this.#advance();
      if (blockDone) {
        acc += this.#blockOut;
        this.#work += this.#window;
        if (acc >= budget || this.#work >= maxWork) {
          pieces.push({ data: chunk.subarray(start, i), work: this.#work });
          start = i;
          acc = 0;
          this.#work = 0;
        }
      }
    }
    if (start < n || this.#work > 0) pieces.push({ data: chunk.subarray(start, n), work: this.#work });
    this.#work = 0;
    return pieces;
  }

  /** Throws unless the input ended between frames. */
  end(): void {
    if (this.#state !== Z.Magic || this.#hdrLen !== 0) throw corrupt('zstd', 'unexpected end of input inside a frame');
  }

  /** Moves to the next state; returns true when a block was just completed. */
  #advance(): boolean {
    const h = this.#hdr;
    switch (this.#state) {
      case Z.Magic: {
        const magic = h.readUInt32LE(0);
        if (magic === ZSTD_MAGIC) this.#set(Z.FrameDescriptor, 1);
        else if ((magic & 0xfffffff0) >>> 0 === 0x184d2a50) this.#set(Z.SkipSize, 4);
        else throw corrupt('zstd', `bad frame magic 0x${magic.toString(16)}`);
        return false;
      }
      case Z.SkipSize:
        this.#set(Z.SkipBody, h.readUInt32LE(0));
        if (this.#need === 0) this.#set(Z.Magic, 4);
        return false;
      case Z.SkipBody:
        this.#set(Z.Magic, 4);
        return false;
      case Z.FrameDescriptor: {
        const fhd = h[0];
        if (fhd & 0x08) throw corrupt('zstd', 'reserved bit set in frame header');
        const single = (fhd >> 5) & 1;
        const fcsSize = [single ? 1 : 0, 2, 4, 8][fhd >> 6];
        const dictSize = [0, 1, 2, 4][fhd & 3];
        this.#checksum = (fhd & 0x04) !== 0;
        // Keep the descriptor in #hdr[0] and read the rest after it.
        this.#state = Z.FrameHeaderRest;
        this.#need = 1 + (single ? 0 : 1) + dictSize + fcsSize;
        this.#hdrLen = 1;
        if (this.#need === this.#hdrLen) return this.#advance();
        return false;
      }
      case Z.FrameHeaderRest: {
        const fhd = h[0];
        const single = (fhd >> 5) & 1;
        const fcsFlag = fhd >> 6;
        const dictSize = [0, 1, 2, 4][fhd & 3];
        let window: number;
        if (single) {
          const off = 1 + dictSize;
          const fcsSize = [1, 2, 4, 8][fcsFlag];
          let v = 0;
          for (let k = fcsSize - 1; k >= 0; k--) v = v * 256 + h[off + k];
          window = fcsSize === 2 ? v + 256 : v;
        } else {
          const wd = h[1];
          const base = 2 ** (10 + (wd >> 3));
          window = base + (base / 8) * (wd & 7);
        }
        if (window > this.maxWindow) {
          throw new BerthError(
            'E_DECOMPRESSION_LIMIT',
            `decompress zstd stream: frame window of ${window} bytes exceeds the limit of ${this.maxWindow} bytes`,
            {
              hint: 'the decoder must hold the whole window in memory; if the data is trusted, raise maxWindowBytes',
              details: { compression: 'zstd', window, maxWindowBytes: this.maxWindow },
            },
          );
        }
        this.#window = window;
        this.#work += window; // fzstd allocates the window for every frame
        this.#blockMax = Math.min(window, BLOCK_MAX);
        this.#set(Z.BlockHeader, 3);
        return false;
      }
      case Z.BlockHeader: {
        const v = h[0] | (h[1] << 8) | (h[2] << 16);
        this.#lastBlock = (v & 1) === 1;
        const type = (v >> 1) & 3;
        const size = v >>> 3;
        if (type === 3) throw corrupt('zstd', 'reserved block type');
        if (size > this.#blockMax) throw corrupt('zstd', `block of ${size} bytes exceeds the maximum ${this.#blockMax}`);
        // Raw: size bytes in and out. RLE: one byte in, size out. Compressed: size in, <= blockMax out.
        this.#blockOut = type === 2 ? this.#blockMax : size;
        this.#set(Z.BlockBody, type === 1 ? 1 : size);
        if (this.#need === 0) return this.#blockEnd();
        return false;
      }
      case Z.BlockBody:
        return this.#blockEnd();
      case Z.Checksum:
        this.#set(Z.Magic, 4);
        return false;
      default:
        throw new Error(`zstd scanner: unexpected state ${String(this.#state)}`);
    }
  }

  #blockEnd(): true {
    if (!this.#lastBlock) this.#set(Z.BlockHeader, 3);
    else if (this.#checksum) this.#set(Z.Checksum, 4);
    else this.#set(Z.Magic, 4);
    return true;
  }

  #set(state: Z, need: number): void {
    this.#state = state;
    this.#need = need;
    this.#hdrLen = 0;
  }
}

function asBuffer(c: unknown): Buffer {
  if (Buffer.isBuffer(c)) return c;
  if (c instanceof Uint8Array) return Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  throw new TypeError(`decompress input must yield Buffer or Uint8Array chunks, got ${typeof c}`);
}

function iteratorOf<T>(source: AsyncIterable<T> | Iterable<T>): AsyncIterator<T> {
  const a = (source as AsyncIterable<T>)[Symbol.asyncIterator];
  if (typeof a === 'function') return a.call(source);
  const s = (source as Iterable<T>)[Symbol.iterator]();
  return {
    next: async () => s.next(),
    return: async () => s.return?.() ?? { done: true, value: undefined },
  };
}
