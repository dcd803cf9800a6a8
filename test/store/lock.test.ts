/**
 * flock(2) through koffi (src/sys/flock.ts): lock modes, per-descriptor semantics, waiting and
 * timing out.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileLock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, flock } from '../../src/sys/flock.js';
import { isCode, tempDir } from './helpers.js';

describe('flock', () => {
  let t: { dir: string; cleanup: () => void };
  let path: string;
  before(() => {
    t = tempDir();
    path = join(t.dir, 'lock');
    writeFileSync(path, '');
  });
  after(() => t.cleanup());

  test('locks belong to open descriptors: two descriptors in one process conflict', () => {
    const a = openSync(path, 'r');
    const b = openSync(path, 'r');
    try {
      assert.equal(flock(a, LOCK_EX | LOCK_NB), true);
      assert.equal(flock(b, LOCK_EX | LOCK_NB), false);
      assert.equal(flock(b, LOCK_SH | LOCK_NB), false);
      assert.equal(flock(a, LOCK_UN), true);
      assert.equal(flock(b, LOCK_SH | LOCK_NB), true);
      assert.equal(flock(a, LOCK_SH | LOCK_NB), true, 'shared locks coexist');
    } finally {
      closeSync(a);
      closeSync(b);
    }
  });

  test('errors come back as errno errors', () => {
    assert.throws(() => flock(987654, LOCK_EX | LOCK_NB, '/x'), (e: unknown) => isCode('EBADF')(e) && (e as NodeJS.ErrnoException).syscall === 'flock');
  });

  test('FileLock: tryAcquire, release, and idempotent release', () => {
    const held = FileLock.tryAcquire(path, 'exclusive');
    assert.ok(held?.held);
    assert.equal(FileLock.tryAcquire(path, 'shared'), undefined);
    held.release();
    held.release();
    assert.equal(held.held, false);
    const again = FileLock.tryAcquire(path, 'exclusive');
    assert.ok(again);
    again.release();
  });

  test('acquire waits for the holder to let go', async () => {
    const held = await FileLock.acquire(path, 'exclusive');
    setTimeout(() => held.release(), 50);
    const next = await FileLock.acquire(path, 'exclusive', { timeoutMs: 10_000 });
    assert.equal(held.held, false);
    next.release();
  });

  test('acquire creates a missing lock file', async () => {
    const l = await FileLock.acquire(join(t.dir, 'new-lock'), 'shared');
    l.release();
  });

  test('through a turnstile, a waiter is not starved by a holder that re-takes the lock in a loop', async () => {
    const gate = join(t.dir, 'gate');
    let stop = false;
    let rounds = 0;
    const looper = (async () => {
      while (!stop && rounds < 5000) {
        const l = await FileLock.acquire(path, 'exclusive', { turnstile: gate });
        await new Promise((r) => setTimeout(r, 1));
        l.release();
        rounds++;
      }
    })();
    await new Promise((r) => setTimeout(r, 20));
    const mine = await FileLock.acquire(path, 'exclusive', { turnstile: gate, timeoutMs: 20_000 });
    stop = true;
    mine.release();
    await looper;
    assert.ok(rounds < 5000, 'the waiter got in while the loop was still running');
  });

  const timeouts: { doc: string; mode: 'shared' | 'exclusive'; holder: 'shared' | 'exclusive'; timeoutMs: number }[] = [
    { doc: 'exclusive behind exclusive', mode: 'exclusive', holder: 'exclusive', timeoutMs: 100 },
    { doc: 'shared behind exclusive', mode: 'shared', holder: 'exclusive', timeoutMs: 100 },
    { doc: 'exclusive behind shared', mode: 'exclusive', holder: 'shared', timeoutMs: 100 },
    { doc: 'a zero timeout tries once', mode: 'exclusive', holder: 'shared', timeoutMs: 0 },
  ];
  for (const c of timeouts) {
    test(`${c.doc}: E_STORE_LOCKED naming the file`, async () => {
      const held = await FileLock.acquire(path, c.holder);
      try {
        await assert.rejects(FileLock.acquire(path, c.mode, { timeoutMs: c.timeoutMs }), (e: unknown) => {
          assert.ok(isCode('E_STORE_LOCKED')(e));
          assert.match((e as Error).message, new RegExp(`lock ${path}: timed out`));
          return true;
        });
      } finally {
        held.release();
      }
    });
  }
});
