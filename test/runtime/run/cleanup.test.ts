/**
 * Reaping after a berth that died: records whose owner is gone get their container's init process
 * killed (found through the runtime's state.json and checked by start time), their runtime state
 * removed, and their directory removed (--rm) or the record marked exited. Live owners and finished
 * kept containers are left alone. Runs as any user: the "containers" are plain sleep processes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readHostFacts } from '../../../src/host/index.js';
import { ContainerLayout, processStamp, readRecord, reapStale, stampAlive, writeRecord, type ContainerRecord, type ProcessStamp } from '../../../src/runtime/run/index.js';

function id(n: number): string {
  return n.toString(16).padStart(64, '0');
}

async function deadStamp(): Promise<ProcessStamp> {
  const child = spawn('/bin/sleep', ['0.1']);
  const closed = new Promise((r) => child.on('close', r));
  const s = await processStamp(child.pid!);
  await closed;
  assert.ok(s);
  return s!;
}

async function container(layout: ContainerLayout, n: number, owner: ProcessStamp, over: Partial<ContainerRecord> = {}): Promise<ContainerRecord> {
  const rec: ContainerRecord = {
    version: 1,
    id: id(n),
    name: `c${n}`,
    image: 'img',
    imageId: `sha256:${'b'.repeat(64)}`,
    chainId: `sha256:${'c'.repeat(64)}`,
    rootfsKey: 'c'.repeat(64),
    owner,
    runtime: 'runc',
    stateRoot: layout.runcRoot,
    rootless: false,
    autoRemove: true,
    created: '2026-01-01T00:00:00.000Z',
    status: 'running',
    ...over,
  };
  mkdirSync(join(layout.dir(rec.id), 'upper', 'etc'), { recursive: true });
  writeFileSync(join(layout.dir(rec.id), 'upper', 'etc', 'x'), 'written by the container');
  await writeRecord(layout, rec);
  return rec;
}

/** A stand-in for the container's init process, registered the way runc does in state.json. */
async function fakeInit(layout: ContainerLayout, rec: ContainerRecord): Promise<{ child: ChildProcess; stamp: ProcessStamp }> {
  const child = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
  const stamp = (await processStamp(child.pid!))!;
  mkdirSync(layout.runcState(rec.id), { recursive: true });
  writeFileSync(join(layout.runcState(rec.id), 'state.json'), JSON.stringify({ id: rec.id, init_process_pid: stamp.pid, init_process_start: stamp.start }));
  return { child, stamp };
}

describe('reapStale', () => {
  test('a dead owner\'s --rm container: init killed, runtime state and directory removed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-reap-'));
    try {
      const layout = new ContainerLayout(root);
      const facts = await readHostFacts();
      const rec = await container(layout, 1, await deadStamp());
      const init = await fakeInit(layout, rec);
      const exited = new Promise((r) => init.child.on('exit', (_c, sig) => r(sig)));
      const res = await reapStale({ layout, facts, onWarning: (w) => assert.fail(w.message) });
      assert.deepEqual(res, { removed: [rec.id], exited: [] });
      assert.equal(await exited, 'SIGKILL');
      assert.equal(existsSync(layout.dir(rec.id)), false);
      assert.equal(existsSync(layout.runcState(rec.id)), false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a dead owner\'s kept container is marked exited and keeps its files; a recycled init pid is never killed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-reap-'));
    const bystander = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
    try {
      const layout = new ContainerLayout(root);
      const facts = await readHostFacts();
      const rec = await container(layout, 2, await deadStamp(), { autoRemove: false });
      // state.json names a live pid with another start time: the pid was reused by an unrelated process.
      const other = (await processStamp(bystander.pid!))!;
      mkdirSync(layout.runcState(rec.id), { recursive: true });
      writeFileSync(join(layout.runcState(rec.id), 'state.json'), JSON.stringify({ init_process_pid: other.pid, init_process_start: other.start + 1 }));
      const res = await reapStale({ layout, facts, onWarning: (w) => assert.fail(w.message) });
      assert.deepEqual(res, { removed: [], exited: [rec.id] });
      assert.equal(await stampAlive(other), true, 'the unrelated process lives');
      const after = await readRecord(layout, rec.id);
      assert.equal(after?.status, 'exited');
      assert.equal(existsSync(join(layout.dir(rec.id), 'upper', 'etc', 'x')), true);
      assert.equal(existsSync(layout.runcState(rec.id)), false);
    } finally {
      bystander.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a live owner\'s container and a directory without a record', async () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-reap-'));
    try {
      const layout = new ContainerLayout(root);
      const facts = await readHostFacts();
      const live = await container(layout, 3, (await processStamp(process.pid))!);
      mkdirSync(layout.dir(id(4)));
      const res = await reapStale({ layout, facts, onWarning: (w) => assert.fail(w.message) });
      assert.deepEqual(res, { removed: [id(4)], exited: [] });
      assert.deepEqual(readdirSync(layout.containers).sort(), [live.id]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
