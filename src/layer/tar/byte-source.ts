/**
 * A pull reader over an async iterable of Buffers, for the tar decoder.
 *
 * Invariants:
 * - No byte is copied unless a read spans two incoming chunks (headers and PAX data only); body
 *   data is handed out as `subarray` slices of the incoming chunks.
 * - `offset` is the absolute position of the next unread byte in the whole stream, so errors can
 *   name the byte offset of the header they are about.
 * - The reader holds at most one incoming chunk, so memory is bounded by the producer's chunk size.
 */

const EMPTY = Buffer.alloc(0);

export class ByteSource {
  readonly #it: AsyncIterator<Uint8Array>;
  #chunk: Buffer = EMPTY;
  #pos = 0;
  #ended = false;
  /** Absolute offset of the next unread byte. */
  offset = 0;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    const asyncIt = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator];
    if (typeof asyncIt === 'function') {
      this.#it = asyncIt.call(source);
    } else {
      const syncIt = (source as Iterable<Uint8Array>)[Symbol.iterator]();
      this.#it = {
        next: async () => syncIt.next(),
        return: async () => syncIt.return?.() ?? { done: true, value: undefined },
      };
    }
  }

  /** Ensures at least one unread byte is buffered; false at end of input. */
  async #fill(): Promise<boolean> {
    while (this.#pos >= this.#chunk.length) {
      if (this.#ended) return false;
      const r = await this.#it.next();
      if (r.done === true) {
        this.#ended = true;
        this.#chunk = EMPTY;
        this.#pos = 0;
        return false;
      }
      const c = r.value;
      if (!(c instanceof Uint8Array)) {
        throw new TypeError(`tar input must yield Buffer or Uint8Array chunks, got ${typeof c}`);
      }
      this.#chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      this.#pos = 0;
    }
    return true;
  }

  /**
   * Reads exactly `n` bytes. Returns fewer only at end of input (the caller reports truncation).
   * The result may be a view of an incoming chunk: parse it before the next read.
   */
  async read(n: number): Promise<Buffer> {
    const avail = this.#chunk.length - this.#pos;
    if (avail >= n) {
      const b = this.#chunk.subarray(this.#pos, this.#pos + n);
      this.#pos += n;
      this.offset += n;
      return b;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      if (!(await this.#fill())) return out.subarray(0, got);
      const k = Math.min(n - got, this.#chunk.length - this.#pos);
      this.#chunk.copy(out, got, this.#pos, this.#pos + k);
      this.#pos += k;
      this.offset += k;
      got += k;
    }
    return out;
  }

  /**
   * Synchronous fast path of `read`: the next `n` bytes when they are already buffered in the
   * current chunk, else null (nothing consumed). Saves a promise per header on small entries.
   */
  readBuffered(n: number): Buffer | null {
    if (this.#chunk.length - this.#pos < n) return null;
    const b = this.#chunk.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    this.offset += n;
    return b;
  }

  /** Synchronous fast path of `skip`: discards up to `n` buffered bytes; returns how many. */
  skipBuffered(n: number): number {
    const k = Math.min(n, this.#chunk.length - this.#pos);
    this.#pos += k;
    this.offset += k;
    return k;
  }

  /** Returns a slice of at most `max` bytes (never empty), or null at end of input. */
  async take(max: number): Promise<Buffer | null> {
    if (this.#pos >= this.#chunk.length && !(await this.#fill())) return null;
    const k = Math.min(max, this.#chunk.length - this.#pos);
    const b = this.#chunk.subarray(this.#pos, this.#pos + k);
    this.#pos += k;
    this.offset += k;
    return b;
  }

  /** Discards up to `n` bytes; returns how many were discarded (fewer only at end of input). */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      if (this.#pos >= this.#chunk.length && !(await this.#fill())) break;
      const k = Math.min(left, this.#chunk.length - this.#pos);
      this.#pos += k;
      this.offset += k;
      left -= k;
    }
    return n - left;
  }

  /** Reads and discards everything left; returns the byte count. */
  async drain(): Promise<number> {
    let n = 0;
    for (;;) {
      if (this.#pos >= this.#chunk.length && !(await this.#fill())) return n;
      const k = this.#chunk.length - this.#pos;
      this.#pos += k;
      this.offset += k;
      n += k;
    }
  }

  /** Tells the producer we stop early (closes files, cancels downloads). Idempotent. */
  async close(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#chunk = EMPTY;
    this.#pos = 0;
    await this.#it.return?.();
  }
}
