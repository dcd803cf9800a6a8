/**
 * flock(2) advisory locks, through koffi (Node has no flock).
 *
 * Why flock and not lock files created with O_EXCL: the kernel drops a flock when the last
 * descriptor of its open file description closes, including when the process is SIGKILLed, so a
 * crashed berth never leaves a stale lock behind. Locks belong to the open file description, not to
 * the process: two descriptors opened separately in one process conflict with each other like two
 * processes would, which is what callers inside one process want too.
 *
 * Descriptors are opened by Node (libuv adds O_CLOEXEC to every open), so a lock never leaks into a
 * child process such as runc and outlives its owner.
 *
 * Acquisition never blocks the event loop: it tries with LOCK_NB and retries with an increasing
 * sleep until it gets the lock or its timeout passes (E_STORE_LOCKED, naming the lock file).
 */
import { closeSync, openSync, constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { koffi } from './koffi.js';
import { BerthError } from '../errors/index.js';

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

const EINTR = osConstants.errno.EINTR;
const EWOULDBLOCK = osConstants.errno.EWOULDBLOCK ?? osConstants.errno.EAGAIN;

let flockFn: ((fd: number, op: number) => number) | undefined;

function libcFlock(): (fd: number, op: number) => number {
  if (!flockFn) {
    const libc = koffi.load('libc.so.6');
    flockFn = libc.func('int flock(int fd, int operation)') as (fd: number, op: number) => number;
  }
  return flockFn;
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));

/** A Node-style errno error, so `errnoOf()` works on it. */
function errnoError(errno: number, path: string | undefined): NodeJS.ErrnoException {
  const code = ERRNO_NAMES.get(errno) ?? `E${errno}`;
  const e = new Error(`${code}: flock failed${path ? `, '${path}'` : ''}`) as NodeJS.ErrnoException;
  e.code = code;
  e.errno = -errno;
  e.syscall = 'flock';
  if (path) e.path = path;
  return e;
}

/**
 * One flock(2) call on `fd`. Returns false when LOCK_NB was given and another open file
 * description holds a conflicting lock; retries EINTR; throws other errors as errno errors.
 */
export function flock(fd: number, operation: number, path?: string): boolean {
  const f = libcFlock();
  for (;;) {
    if (f(fd, operation) === 0) return true;
    const errno = koffi.errno();
    if (errno === EINTR) continue;
    if (errno === EWOULDBLOCK && (operation & LOCK_NB) !== 0) return false;
    throw errnoError(errno, path);
  }
}

export type LockMode = 'shared' | 'exclusive';

export interface AcquireOptions {
  /** Give up after this long (E_STORE_LOCKED). Default 60 s. 0 means try once. */
  timeoutMs?: number;
  /** Names the lock in errors. */
  path?: string;
  signal?: AbortSignal;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function lockedError(path: string, mode: LockMode, timeoutMs: number): BerthError {
  return new BerthError('E_STORE_LOCKED', `lock ${path}: timed out after ${timeoutMs} ms waiting for ${mode === 'shared' ? 'a shared' : 'an exclusive'} lock`, {
    hint: 'another berth process is using the store (a long import or gc holds the lock); wait for it to finish and try again',
    details: { path, mode, timeoutMs },
  });
}

/**
 * Takes a lock on an open descriptor, polling with LOCK_NB: 1 ms, doubling to 25 ms, with jitter so
 * that waiters do not retry in lockstep.
 */
export async function acquireFlock(fd: number, mode: LockMode, options: AcquireOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const op = (mode === 'shared' ? LOCK_SH : LOCK_EX) | LOCK_NB;
  const path = options.path ?? `fd ${fd}`;
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    if (flock(fd, op, options.path)) return;
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
    const left = deadline - Date.now();
    if (left <= 0) throw lockedError(path, mode, timeoutMs);
    await sleep(Math.min(left, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 25);
  }
}

/** A held lock on a file (created if missing); release() unlocks and closes it. */
export class FileLock {
  readonly path: string;
  readonly mode: LockMode;
  private fd: number | undefined;

  private constructor(path: string, mode: LockMode, fd: number) {
    this.path = path;
    this.mode = mode;
    this.fd = fd;
  }

  /**
   * Opens `path` (creating it with mode 0644 unless `create: false`) and locks it.
   * A shared lock only needs read access, so readers of a store they cannot write still lock.
   *
   * With `turnstile`, the caller first takes that file exclusively, waits for `path`, then lets the
   * turnstile go. Polling alone is unfair: a process that releases and re-takes the lock in a loop
   * wins every race against a waiter that sleeps between tries. Through the turnstile, the waiter
   * that is next holds it while it waits, so the releaser cannot get back in ahead of it, and a
   * waiting exclusive locker stops new shared lockers from overtaking it.
   */
  static async acquire(path: string, mode: LockMode, options: AcquireOptions & { create?: boolean; turnstile?: string } = {}): Promise<FileLock> {
    if (options.turnstile !== undefined) {
      const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
      const start = Date.now();
      const gate = await FileLock.acquire(options.turnstile, 'exclusive', { ...options, turnstile: undefined, path: options.path ?? path });
      try {
        return await FileLock.acquire(path, mode, { ...options, turnstile: undefined, timeoutMs: Math.max(0, timeoutMs - (Date.now() - start)) });
      } finally {
        gate.release();
      }
    }
    let fd: number;
    try {
      fd = openSync(path, options.create === false ? fsConstants.O_RDONLY : fsConstants.O_RDONLY | fsConstants.O_CREAT, 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (options.create !== false && (code === 'EACCES' || code === 'EROFS')) {
        fd = openSync(path, fsConstants.O_RDONLY);
      } else {
        throw e;
      }
    }
    try {
      await acquireFlock(fd, mode, { ...options, path: options.path ?? path });
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return new FileLock(path, mode, fd);
  }

  /** Tries once; undefined when someone else holds a conflicting lock. */
  static tryAcquire(path: string, mode: LockMode): FileLock | undefined {
    const fd = openSync(path, fsConstants.O_RDONLY);
    try {
      if (!flock(fd, (mode === 'shared' ? LOCK_SH : LOCK_EX) | LOCK_NB, path)) {
        closeSync(fd);
        return undefined;
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return new FileLock(path, mode, fd);
  }

  get held(): boolean {
    return this.fd !== undefined;
  }

  /** Idempotent. Closing the descriptor drops the lock; LOCK_UN first makes that explicit. */
  release(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      flock(fd, LOCK_UN, this.path);
    } finally {
      closeSync(fd);
    }
  }
}
