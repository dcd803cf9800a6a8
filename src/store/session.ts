/**
 * Writer sessions: the crash-safe temp area and the lease of one process on one store.
 *
 * A session is a directory `berth/tmp/<name>/` that its process holds an exclusive flock on for as
 * long as it lives (the idea of umoci's locked `.umoci-*` temp dirs, oci/cas/dir/dir.go). Temp files
 * (blobs being written, index.json and metadata before their rename) are created inside it, and a
 * `lease` file in it lists the blobs and layer metadata the process has stored but not yet made
 * reachable from index.json (a layer is written long before the manifest that names it).
 *
 * gc takes the store's exclusive lock and then tries each session directory with LOCK_NB: a
 * session it can lock belongs to a dead process (the kernel dropped the flock at exit or SIGKILL),
 * so the whole directory is garbage; a session it cannot lock is alive, and its lease is a gc root.
 * Invariants: a session directory is created and locked while the creator holds the store's shared
 * lock (so gc never sees it unlocked), and lease changes happen under the store lock (so gc, under
 * the exclusive lock, never reads a half-written lease).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, constants as fsConstants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { flock, LOCK_EX, LOCK_NB, LOCK_UN } from '../sys/flock.js';

const LEASE_FILE = 'lease';

export type LeaseKind = 'blob' | 'layer';

export class Session {
  readonly dir: string;
  private fd: number | undefined;
  private readonly lease = new Set<string>();
  private counter = 0;

  private constructor(dir: string, fd: number) {
    this.dir = dir;
    this.fd = fd;
  }

  /** Creates and locks a new session directory under `tmpRoot`. Call with the store's shared lock held. */
  static create(tmpRoot: string): Session {
    mkdirSync(tmpRoot, { recursive: true, mode: 0o700 });
    const dir = join(tmpRoot, `s-${process.pid}-${randomBytes(6).toString('hex')}`);
    mkdirSync(dir, { mode: 0o700 });
    const fd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    try {
      if (!flock(fd, LOCK_EX | LOCK_NB, dir)) throw new Error(`lock session ${dir}: already locked`);
    } catch (e) {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return new Session(dir, fd);
  }

  get alive(): boolean {
    return this.fd !== undefined;
  }

  /** A fresh, unused path inside the session for a temp file. */
  tempPath(kind: string): string {
    return join(this.dir, `${kind}-${++this.counter}-${randomBytes(4).toString('hex')}`);
  }

  /** Records that this process stored something not yet reachable. Call under the store lock. */
  addLease(kind: LeaseKind, digest: string): void {
    const key = `${kind} ${digest}`;
    if (this.lease.has(key)) return;
    this.lease.add(key);
    this.writeLease();
  }

  /** Drops lease entries once index.json reaches them. Call under the store lock. */
  dropLease(items: Iterable<[LeaseKind, string]>): void {
    let changed = false;
    for (const [kind, digest] of items) changed = this.lease.delete(`${kind} ${digest}`) || changed;
    if (changed) this.writeLease();
  }

  private writeLease(): void {
    // Rewritten whole; readers (gc) only read it under the store's exclusive lock, which no lease
    // writer holds at the same time, so they never see a partial file.
    writeFileSync(join(this.dir, LEASE_FILE), [...this.lease].sort().map((l) => `${l}\n`).join(''), { mode: 0o600 });
  }

  /** Removes the session directory and drops its lock. Idempotent. */
  release(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } finally {
      try {
        flock(fd, LOCK_UN, this.dir);
      } finally {
        closeSync(fd);
      }
    }
  }
}

/** A session's lease as gc reads it: the digests of blobs and the diffIDs of layer metadata. */
export function readLease(sessionDir: string): { blobs: string[]; layers: string[] } {
  let text = '';
  try {
    text = readFileSync(join(sessionDir, LEASE_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const blobs: string[] = [];
  const layers: string[] = [];
  for (const line of text.split('\n')) {
    const [kind, digest] = line.split(' ');
    if (kind === 'blob' && digest) blobs.push(digest);
    else if (kind === 'layer' && digest) layers.push(digest);
  }
  return { blobs, layers };
}

// One session per process and store root, shared by every Store opened on that root, so a
// long-running process that opens the store per operation holds one directory and one descriptor.
// The session is created lazily, by the first write.
const live = new Map<string, { session?: Session; users: number }>();
let exitHookInstalled = false;

function removeAllAtExit(): void {
  for (const entry of live.values()) {
    try {
      entry.session?.release();
    } catch {
      // At exit nothing can be reported any more; the directory is unlocked now, and gc removes it.
    }
  }
  live.clear();
}

/** The process's session for `root`, created (under the caller's shared store lock) if needed. */
export function sessionFor(root: string, tmpRoot: string): Session {
  let entry = live.get(root);
  if (entry?.session?.alive) return entry.session;
  if (!entry) live.set(root, (entry = { users: 0 }));
  entry.session = Session.create(tmpRoot);
  if (!exitHookInstalled) {
    process.once('exit', removeAllAtExit);
    exitHookInstalled = true;
  }
  return entry.session;
}

/** The live session for `root`, if this process has one. */
export function currentSession(root: string): Session | undefined {
  const s = live.get(root)?.session;
  return s?.alive ? s : undefined;
}

/** Counts a Store using `root`; paired with unuseSession. */
export function useSession(root: string): void {
  const entry = live.get(root);
  if (entry) entry.users++;
  else live.set(root, { users: 1 });
}

/** When the last Store on `root` closes, the session directory is removed and its lease ends. */
export function unuseSession(root: string): void {
  const entry = live.get(root);
  if (!entry) return;
  entry.users--;
  if (entry.users <= 0) {
    live.delete(root);
    entry.session?.release();
  }
}
