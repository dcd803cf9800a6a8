import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isBerthError, type BerthError } from '../../src/errors/index.js';
import {
  buildRootlessMap,
  containerIdToHost,
  containerUserns,
  parseUsernsMode,
  type ContainerUsernsContext,
  type ContainerUsernsRequest,
  type IdMap,
  type UsernsMode,
} from '../../src/idmap/index.js';

function errorOf(f: () => unknown): BerthError {
  try {
    f();
  } catch (e) {
    assert.ok(isBerthError(e), String(e));
    return e;
  }
  assert.fail('expected an error');
}

/** tester (1001) with 100000:65536 in both files: N = 65537 (userns.md section 4). */
const tester: ContainerUsernsContext = {
  uidMap: buildRootlessMap(1001, [{ start: 100000, count: 65536 }]),
  gidMap: buildRootlessMap(1001, [{ start: 100000, count: 65536 }], { kind: 'gid' }),
  rootless: true,
  hostUid: 1001,
  hostGid: 1001,
};

const rootful: ContainerUsernsContext = {
  uidMap: [{ container: 0, host: 0, size: 4294967295 }],
  gidMap: [{ container: 0, host: 0, size: 4294967295 }],
  rootless: false,
  hostUid: 0,
  hostGid: 0,
};

describe('parseUsernsMode', () => {
  const ok: { text: string; want: UsernsMode }[] = [
    { text: '', want: { kind: 'host' } },
    { text: 'host', want: { kind: 'host' } },
    { text: 'nomap', want: { kind: 'nomap' } },
    { text: 'keep-id', want: { kind: 'keep-id' } },
    { text: 'keep-id:uid=11,gid=12', want: { kind: 'keep-id', uid: 11, gid: 12 } },
    { text: 'keep-id:size=2000', want: { kind: 'keep-id', size: 2000 } },
    { text: 'auto', want: { kind: 'auto', uidMappings: [], gidMappings: [] } },
    { text: 'auto:size=2048,uidmapping=0:@1001:1', want: { kind: 'auto', size: 2048, uidMappings: ['0:@1001:1'], gidMappings: [] } },
  ];
  for (const c of ok) test(`"${c.text}"`, () => assert.deepEqual(parseUsernsMode(c.text), c.want));
  const bad = ['private', 'host:x=1', 'keep-id:', 'keep-id:uid', 'keep-id:uid=-1', 'keep-id:name=foo', 'auto:size=0', 'auto:uidmapping=+0:1:1', 'nomap:size=1', 'ns:/proc/1/ns/user'];
  for (const t of bad) test(`"${t}" -> E_USERNS_MODE`, () => assert.equal(errorOf(() => parseUsernsMode(t)).code, 'E_USERNS_MODE'));
  test('a bad uidmapping inside auto is E_IDMAP_SPEC', () => assert.equal(errorOf(() => parseUsernsMode('auto:uidmapping=x')).code, 'E_IDMAP_SPEC'));
});

describe('containerUserns: maps (rule 19, expressed in intermediate IDs)', () => {
  const cases: { name: string; req: ContainerUsernsRequest; ctx: ContainerUsernsContext; uid: IdMap; gid?: IdMap; userns: boolean; user?: { uid: number; gid: number } }[] = [
    {
      name: 'host: no user namespace; container IDs are the intermediate IDs 0..65536',
      req: {},
      ctx: tester,
      uid: [{ container: 0, host: 0, size: 65537 }],
      userns: false,
    },
    {
      name: 'scenario 7: keep-id as 1001 -> 0->1(1001), 1001->0, 1002->1002(64535)',
      req: { userns: 'keep-id' },
      ctx: tester,
      uid: [
        { container: 0, host: 1, size: 1001 },
        { container: 1001, host: 0, size: 1 },
        { container: 1002, host: 1002, size: 64535 },
      ],
      userns: true,
      user: { uid: 1001, gid: 1001 },
    },
    {
      name: 'keep-id:uid=11 (podman PR#15389 example: 0 1 11 / 11 0 1 / 12 12 65525)',
      req: { userns: 'keep-id:uid=11,gid=11' },
      ctx: tester,
      uid: [
        { container: 0, host: 1, size: 11 },
        { container: 11, host: 0, size: 1 },
        { container: 12, host: 12, size: 65525 },
      ],
      userns: true,
      user: { uid: 11, gid: 11 },
    },
    {
      name: 'keep-id with a uid above the subordinate IDs leaves a gap (podman PR#4839)',
      req: { userns: 'keep-id:uid=100000,gid=100000' },
      ctx: tester,
      uid: [
        { container: 0, host: 1, size: 65536 },
        { container: 100000, host: 0, size: 1 },
      ],
      userns: true,
      user: { uid: 100000, gid: 100000 },
    },
    {
      name: 'keep-id:size=2000 ends the map at 1999',
      req: { userns: 'keep-id:size=2000' },
      ctx: tester,
      uid: [
        { container: 0, host: 1, size: 1001 },
        { container: 1001, host: 0, size: 1 },
        { container: 1002, host: 1002, size: 998 },
      ],
      userns: true,
      user: { uid: 1001, gid: 1001 },
    },
    {
      name: 'scenario 8: nomap -> 0->1(65536), the user is not mapped',
      req: { userns: 'nomap' },
      ctx: tester,
      uid: [{ container: 0, host: 1, size: 65536 }],
      userns: true,
    },
    {
      name: 'auto sized from the image (uid 5000 -> 5001 IDs) from intermediate 1',
      req: { userns: 'auto' },
      ctx: { ...tester, imageIdsSize: 5001 },
      uid: [{ container: 0, host: 1, size: 5001 }],
      userns: true,
    },
    {
      name: 'auto without image facts takes the minimum 1024',
      req: { userns: 'auto' },
      ctx: tester,
      uid: [{ container: 0, host: 1, size: 1024 }],
      userns: true,
    },
    {
      name: 'auto skips IDs other containers use',
      req: { userns: 'auto:size=2000' },
      ctx: { ...tester, usedUidMaps: [[{ container: 0, host: 1, size: 1024 }]], usedGidMaps: [[{ container: 0, host: 1, size: 1024 }]] },
      uid: [{ container: 0, host: 1025, size: 2000 }],
      userns: true,
    },
    {
      name: 'auto with uidmapping=0:@1001:1 keeps container 0 for the user and fills 1.. from the pool',
      req: { userns: 'auto:size=1024,uidmapping=0:@1001:1' },
      ctx: tester,
      // 0 -> intermediate 0 (the user) and 1..1023 -> 1..1023 merge into one line.
      uid: [{ container: 0, host: 0, size: 1024 }],
      gid: [{ container: 0, host: 1, size: 1024 }],
      userns: true,
    },
    {
      name: '--uidmap 0:1:65536 (gid copied from it)',
      req: { uidmap: ['0:1:65536'] },
      ctx: tester,
      uid: [{ container: 0, host: 1, size: 65536 }],
      gid: [{ container: 0, host: 1, size: 65536 }],
      userns: true,
    },
    {
      name: 'rootless --uidmap u0:1:10: the gid side gets every intermediate ID',
      req: { uidmap: ['u0:1:10'] },
      ctx: tester,
      uid: [{ container: 0, host: 1, size: 10 }],
      gid: [{ container: 0, host: 0, size: 65537 }],
      userns: true,
    },
    {
      name: 'rootful --uidmap 0:100000:65536 is host IDs directly',
      req: { uidmap: ['0:100000:65536'] },
      ctx: rootful,
      uid: [{ container: 0, host: 100000, size: 65536 }],
      userns: true,
    },
    {
      name: 'rootful keep-id: identity over all IDs, user from the options (default 0)',
      req: { userns: { kind: 'keep-id' } },
      ctx: rootful,
      uid: [{ container: 0, host: 0, size: 4294967295 }],
      userns: true,
      user: { uid: 0, gid: 0 },
    },
    {
      name: 'rootful auto takes from the pool of user "containers"',
      req: { userns: 'auto:size=65536' },
      ctx: { ...rootful, autoUidPool: [{ start: 2147483647, end: 4294967295 }], autoGidPool: [{ start: 2147483647, end: 4294967295 }] },
      uid: [{ container: 0, host: 2147483647, size: 65536 }],
      userns: true,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = containerUserns(c.req, c.ctx);
      assert.deepEqual(r.uidMap, c.uid);
      assert.deepEqual(r.gidMap, c.gid ?? c.uid);
      assert.equal(r.userns, c.userns);
      assert.deepEqual(r.user, c.user);
    });
  }
  test('scenario 1: container 1000:10 ends up as host 100999:100009 under the default mode', () => {
    const r = containerUserns({}, tester);
    assert.equal(containerIdToHost(r, tester.uidMap, 'uid', 1000), 100999);
    assert.equal(containerIdToHost(r, tester.gidMap, 'gid', 10), 100009);
    assert.equal(containerIdToHost(r, tester.uidMap, 'uid', 0), 1001);
    assert.equal(containerIdToHost(r, tester.uidMap, 'uid', 70000), undefined);
  });
  test('keep-id: container 1001 is the user on the host', () => {
    const r = containerUserns({ userns: 'keep-id' }, tester);
    assert.equal(containerIdToHost(r, tester.uidMap, 'uid', 1001), 1001);
    assert.equal(containerIdToHost(r, tester.uidMap, 'uid', 0), 100000);
  });
});

describe('containerUserns: refused', () => {
  const cases: { name: string; req: ContainerUsernsRequest; ctx: ContainerUsernsContext; code: string; message?: RegExp }[] = [
    {
      name: 'scenario 9: --uidmap 0:1:70000 needs more IDs than 1 + 65536 subuids',
      req: { uidmap: ['0:1:70000'] },
      ctx: tester,
      code: 'E_USERNS_MAP_TOO_BIG',
      message: /^--uidmap 0:1:70000 needs intermediate UIDs 1\.\.70000 but only 0\.\.65536 exist \(1 \+ 65536 subuids\)$/,
    },
    {
      name: 'scenario 10: auto for an image with uid 70000 -> size 70001 > auto max 65536',
      req: { userns: 'auto' },
      ctx: { ...tester, imageIdsSize: 70001 },
      code: 'E_USERNS_MAP_TOO_BIG',
      message: /needs a user namespace of 70001 IDs .* at most 65536/,
    },
    {
      name: 'auto:size larger than the free IDs',
      req: { userns: 'auto:size=70000' },
      ctx: tester,
      code: 'E_USERNS_MAP_TOO_BIG',
      message: /70000 UIDs does not fit; only 65536 unused IDs are left/,
    },
    {
      name: 'nomap without subordinate IDs',
      req: { userns: 'nomap' },
      ctx: { ...tester, uidMap: [{ container: 0, host: 1001, size: 1 }], gidMap: [{ container: 0, host: 1001, size: 1 }] },
      code: 'E_USERNS_MODE',
    },
    { name: 'nomap as root', req: { userns: 'nomap' }, ctx: rootful, code: 'E_USERNS_MODE', message: /only supported rootless/ },
    { name: 'rootful auto without a pool', req: { userns: 'auto' }, ctx: rootful, code: 'E_USERNS_MODE', message: /no UID ranges are set aside/ },
    { name: '--uidmap together with --userns keep-id', req: { userns: 'keep-id', uidmap: ['0:1:10'] }, ctx: tester, code: 'E_USERNS_MODE', message: /conflict/ },
    {
      name: '--uidmap with overlapping container ranges',
      req: { uidmap: ['0:1:10', '5:100:10'] },
      ctx: tester,
      code: 'E_IDMAP_OVERLAP',
    },
    { name: 'bad --uidmap syntax', req: { uidmap: ['0-1-10'] }, ctx: tester, code: 'E_IDMAP_SPEC' },
    {
      name: 'rootful: every --gidmap entry is flagged u, so there are no gids',
      req: { gidmap: ['u0:100000:10'] },
      ctx: rootful,
      code: 'E_USERNS_MODE',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const e = errorOf(() => containerUserns(c.req, c.ctx));
      assert.equal(e.code, c.code);
      if (c.message) assert.match(e.message, c.message);
    });
  }
});
