/**
 * registry/transfer: a blob's bytes as one stream however the connection behaves, and a stream
 * shared by two readers.
 *
 * `blobBytes` resumes a broken download with `Range: bytes=N-` from the bytes already passed on
 * (206); a registry that answers a range with the whole blob (200) is read again from the start
 * and the bytes already passed on are skipped. The consumer sees each byte once, in order; it
 * still must verify the digest (Store.putBlob does).
 */
import { BerthError } from '../errors/index.js';
import type { RegistryClient } from './client.js';

/** Consecutive failed attempts after which a download gives up (progress resets the count). */
const MAX_FAILURES = 5;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `bytes START-END/TOTAL` of a 206 answer: its start, or undefined when absent or malformed. */
export function contentRangeStart(header: string | undefined): number | undefined {
  const m = header ? /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header.trim()) : null;
  return m ? Number(m[1]) : undefined;
}

export async function* blobBytes(client: RegistryClient, path: string, size: number, scope: string, onBytes: (received: number) => void, o: { backoffMs?: number } = {}): AsyncGenerator<Buffer> {
  let received = 0;
  let failures = 0;
  let lastError: unknown;
  while (failures <= MAX_FAILURES) {
    if (failures > 0) await sleep((o.backoffMs ?? 100) * 2 ** (failures - 1));
    let skip = 0;
    try {
      const res = await client.getBlob(path, { scope, ...(received > 0 ? { range: `bytes=${received}-` } : {}) });
      if (received > 0) {
        if (res.status === 206) {
          const start = contentRangeStart(res.header('content-range'));
          if (start !== undefined && start !== received) {
            res.close();
            throw new BerthError('E_REGISTRY_RESUME', `GET ${client.domain}${path}: asked to resume at byte ${received}, the registry sent bytes from ${start}`, { hint: 'the registry does not honour range requests; retry the pull' });
          }
        } else skip = received;
      }
      for await (const chunk of res.body) {
        let b = chunk;
        if (skip > 0) {
          if (b.length <= skip) {
            skip -= b.length;
            continue;
          }
          b = b.subarray(skip);
          skip = 0;
        }
        received += b.length;
        failures = 0;
        onBytes(received);
        yield b;
      }
      return;
    } catch (e) {
      if (e instanceof BerthError) throw e;
      lastError = e;
      failures++;
    }
  }
  throw new BerthError('E_REGISTRY_UNREACHABLE', `GET ${client.domain}${path}: ${(lastError as Error)?.message ?? String(lastError)} (after ${MAX_FAILURES + 1} attempts, ${received} of ${size} bytes received)`, {
    hint: 'check the network and the registry, then pull again (blobs already received are kept)',
    cause: lastError,
  });
}

/**
 * The same bytes in chunks of at least `min` bytes (the last may be smaller). Consumers such as a
 * decompressor pay per chunk; a file read in 64 KiB pieces costs them several times more than the
 * same file in 1 MiB pieces.
 */
export async function* coalesce(src: AsyncIterable<Buffer>, min = 1 << 20): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let n = 0;
  for await (const b of src) {
    if (n === 0 && b.length >= min) {
      yield b;
      continue;
    }
    parts.push(b);
    n += b.length;
    if (n >= min) {
      yield parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
      parts = [];
      n = 0;
    }
  }
  if (n > 0) yield parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
}

/** A reader of a shared stream; `cancel` says it will not read (it then holds nobody back). */
export interface Tap extends AsyncIterable<Buffer> {
  cancel(): void;
}

/**
 * Two readers of one stream, each with its own queue. The source is read no faster than the
 * slower reader drains (at most `limit` bytes ahead of it); a reader that stops early or cancels
 * no longer holds the other back. An error of the source reaches both. Reading starts when
 * either reader starts.
 */
export function tee(src: AsyncIterable<Buffer>, limit = 16 << 20): [Tap, Tap] {
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
  let failure: { e: unknown } | undefined;
  let drained: (() => void) | undefined;
  let started = false;
  const drain = () => {
    const d = drained;
    drained = undefined;
    d?.();
  };
  const pump = async () => {
    const it = src[Symbol.asyncIterator]();
    try {
      for (;;) {
        if (sides.every((s) => s.closed)) break;
        const r = await it.next();
        if (r.done) break;
        for (const s of sides) {
          if (s.closed) continue;
          s.queue.push(r.value);
          s.bytes += r.value.length;
          s.wake?.();
        }
        while (sides.some((s) => !s.closed && s.bytes > limit)) await new Promise<void>((r) => (drained = r));
      }
    } catch (e) {
      failure = { e };
    } finally {
      if (!done && sides.every((s) => s.closed)) await it.return?.();
    }
    done = true;
    for (const s of sides) s.wake?.();
  };
  const start = () => {
    if (started) return;
    started = true;
    void pump();
  };
  const close = (s: Side) => {
    s.closed = true;
    s.queue = [];
    s.bytes = 0;
    drain();
  };
  const reader = (s: Side): Tap => ({
    cancel: () => close(s),
    async *[Symbol.asyncIterator]() {
      start();
      try {
        for (;;) {
          if (s.queue.length > 0) {
            const c = s.queue.shift()!;
            s.bytes -= c.length;
            drain();
            yield c;
            continue;
          }
          if (done) {
            if (failure) throw failure.e;
            return;
          }
          await new Promise<void>((r) => (s.wake = r));
          s.wake = undefined;
        }
      } finally {
        close(s);
      }
    },
  });
  return [reader(sides[0]), reader(sides[1])];
}
