import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRootlessMap, containerUserns, uncoveredIds, type IdMap } from '../../src/idmap/index.js';

/** Container IDs of the default (host) mode for tester with 100000:65536: 0..65536. */
const ns = buildRootlessMap(1001, [{ start: 100000, count: 65536 }]);
const hostMode = containerUserns({}, { uidMap: ns, gidMap: ns, rootless: true, hostUid: 1001, hostGid: 1001 }).uidMap;

describe('uncoveredIds', () => {
  test('scenario 1: owners 0 and 1000 fit', () => {
    const r = uncoveredIds(hostMode, [
      { id: 0, path: '/etc/passwd' },
      { id: 1000, path: '/home/app' },
    ]);
    assert.deepEqual(r, { ids: [], samples: [], files: 0, requiredSize: 0, requiredSubids: 0 });
  });
  test('scenario 2: a file owned by 70000 needs 70000 subordinate IDs', () => {
    const r = uncoveredIds(hostMode, [
      { id: 0, path: '/' },
      { id: 70000, path: '/data/high/f70000' },
      { id: 70000, path: '/data/high' },
    ]);
    assert.deepEqual(r.ids, [70000]);
    assert.deepEqual(r.samples, [{ id: 70000, paths: ['/data/high/f70000', '/data/high'] }]);
    assert.equal(r.files, 2);
    assert.equal(r.requiredSize, 70001);
    assert.equal(r.requiredSubids, 70000);
  });
  test('a leaked build-host uid (reveal-md#450: 1516583083) among others, IDs sorted, samples capped', () => {
    const owners = new Map<number, string[]>([
      [1516583083, ['/app/a', '/app/b', '/app/c', '/app/d']],
      [65536, ['/x']],
      [65537, ['/y']],
      [0, ['/']],
    ]);
    const r = uncoveredIds(hostMode, owners, { maxPaths: 2 });
    assert.deepEqual(r.ids, [65537, 1516583083]);
    assert.deepEqual(r.samples, [
      { id: 65537, paths: ['/y'] },
      { id: 1516583083, paths: ['/app/a', '/app/b'] },
    ]);
    assert.equal(r.files, 5);
    assert.equal(r.requiredSize, 1516583084);
  });
  test('keep-id leaves a gap that is reported', () => {
    const keep: IdMap = containerUserns({ userns: 'keep-id:uid=100000,gid=100000' }, { uidMap: ns, gidMap: ns, rootless: true, hostUid: 1001, hostGid: 1001 }).uidMap;
    const r = uncoveredIds(keep, [
      { id: 70000, path: '/gap' },
      { id: 100000, path: '/home/me' },
    ]);
    assert.deepEqual(r.ids, [70000]);
  });
  test('maxIds limits the samples, not the IDs', () => {
    const owners = Array.from({ length: 30 }, (_, i) => ({ id: 70000 + i, path: `/f${i}` }));
    const r = uncoveredIds(hostMode, owners, { maxIds: 3 });
    assert.equal(r.ids.length, 30);
    assert.deepEqual(
      r.samples.map((s) => s.id),
      [70000, 70001, 70002],
    );
  });
});
