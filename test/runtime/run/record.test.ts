import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  ContainerLayout,
  checkContainerName,
  isContainerId,
  listContainerIds,
  parseRecord,
  parseRuntimeState,
  parseStatStart,
  processStamp,
  readRecord,
  stampAlive,
  writeRecord,
  type ContainerRecord,
} from '../../../src/runtime/run/index.js';

const ID = 'a'.repeat(64);

function record(over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    version: 1,
    id: ID,
    name: 'web',
    image: 'busybox',
    imageId: `sha256:${'b'.repeat(64)}`,
    chainId: `sha256:${'c'.repeat(64)}`,
    rootfsKey: 'c'.repeat(64),
    owner: { pid: 123, start: 456 },
    runtime: 'runc',
    stateRoot: '/s/berth/runc',
    rootless: false,
    autoRemove: true,
    created: '2026-01-01T00:00:00.000Z',
    status: 'running',
    ...over,
  };
}

describe('parseStatStart', () => {
  test('reads field 22 after a comm with spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[22 - 3] = '987654';
    assert.equal(parseStatStart(`42 (a) b (c) ${fields.join(' ')}`), 987654);
  });
  test('undefined for text that is not /proc/PID/stat', () => {
    assert.equal(parseStatStart('garbage'), undefined);
    assert.equal(parseStatStart('1 (x) S 1 2'), undefined);
  });
  test('property: any comm, the start time comes back', () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(), (comm, start) => {
        const rest = Array.from({ length: 40 }, (_, i) => (i === 22 - 3 ? String(start) : '0'));
        assert.equal(parseStatStart(`7 (${comm}) ${rest.join(' ')}`), start);
      }),
    );
  });
  test('this process has a stamp, and it is alive', async () => {
    const s = await processStamp(process.pid);
    assert.ok(s);
    assert.equal(await stampAlive(s!), true);
    assert.equal(await stampAlive({ pid: s!.pid, start: s!.start + 1 }), false, 'a recycled pid with another start time is not the same process');
  });
  test('a process that exited is not alive', async () => {
    const child = spawn('/bin/sleep', ['0.2']);
    const closed = new Promise((r) => child.on('close', r));
    const s = await processStamp(child.pid!);
    assert.ok(s, 'the child runs for 0.2 s, long enough to stamp');
    await closed;
    if (s) assert.equal(await stampAlive(s), false);
  });
});

describe('container records', () => {
  test('write then read gives the same record', async () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-rec-'));
    try {
      const layout = new ContainerLayout(root);
      mkdirSync(layout.dir(ID), { recursive: true });
      await writeRecord(layout, record());
      assert.deepEqual(await readRecord(layout, ID), record());
      assert.deepEqual(await listContainerIds(layout), [ID]);
      assert.equal(JSON.parse(readFileSync(layout.record(ID), 'utf8')).name, 'web');
      assert.equal(await readRecord(layout, 'f'.repeat(64)), undefined);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  const bad: { name: string; text: string }[] = [
    { name: 'not JSON', text: '{' },
    { name: 'another version', text: JSON.stringify(record({ version: 2 as 1 })) },
    { name: 'an ID that is not 64 hex digits', text: JSON.stringify(record({ id: '../../etc' })) },
    { name: 'a negative pid', text: JSON.stringify(record({ owner: { pid: -1, start: 0 } })) },
    { name: 'an unknown runtime', text: JSON.stringify({ ...record(), runtime: 'kata' }) },
    { name: 'a malformed map', text: JSON.stringify(record({ uidMap: [{ container: 0, host: -5, size: 1 }] })) },
  ];
  for (const c of bad) {
    test(`refused: ${c.name}`, () => {
      assert.throws(() => parseRecord(c.text, '/x/record.json'), (e: { code?: string }) => e.code === 'E_CONTAINER_RECORD_INVALID');
    });
  }
});

describe('container names and IDs', () => {
  for (const n of ['web', 'a', 'Web_1.b-c', '0abc']) test(`accepted: ${n}`, () => assert.equal(checkContainerName(n), n));
  for (const n of ['', '-web', '.x', 'a b', 'a/b', 'x'.repeat(129)]) {
    test(`refused: ${JSON.stringify(n.slice(0, 20))}`, () => {
      assert.throws(() => checkContainerName(n), (e: { code?: string }) => e.code === 'E_CONTAINER_NAME_INVALID');
    });
  }
  test('only 64 lowercase hex digits are IDs; the layout refuses anything else', () => {
    assert.equal(isContainerId(ID), true);
    assert.equal(isContainerId(ID.toUpperCase()), false);
    assert.equal(isContainerId('..'), false);
    assert.throws(() => new ContainerLayout('/s').dir('../x'), (e: { code?: string }) => e.code === 'E_CONTAINER_ID_INVALID');
    assert.equal(new ContainerLayout('/s').runcState(ID), `/s/berth/runc/${ID}`);
  });
});

describe('parseRuntimeState', () => {
  const cases: { name: string; text: string; want: ReturnType<typeof parseRuntimeState> }[] = [
    { name: 'runc state.json', text: '{"id":"x","init_process_pid":4242,"init_process_start":987,"created":"t"}', want: { pid: 4242, start: 987 } },
    { name: 'crun status', text: '{"pid":77,"process-start-time":12,"cgroup-path":""}', want: { pid: 77, start: 12 } },
    { name: 'no pid', text: '{"id":"x"}', want: undefined },
    { name: 'pid 0', text: '{"init_process_pid":0,"init_process_start":1}', want: undefined },
    { name: 'not JSON', text: 'nope', want: undefined },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(parseRuntimeState(c.text), c.want));
});
