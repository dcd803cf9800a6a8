import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isBerthError, type BerthError } from '../../src/errors/index.js';
import { buildRootlessMap, compareStoredMap, parseSubidFile, selectSubids, type IdMap, type SubidRange } from '../../src/idmap/index.js';

function errorOf(f: () => unknown): BerthError {
  try {
    f();
  } catch (e) {
    assert.ok(isBerthError(e), String(e));
    return e;
  }
  assert.fail('expected an error');
}

/** The user's ranges from file text, as host/ would select them. */
function subids(text: string, user: string, uid: number): SubidRange[] {
  return selectSubids(parseSubidFile(text), { user, uid });
}

describe('buildRootlessMap: built (userns.md rule 18, Step 2)', () => {
  const cases: { name: string; uid: number; ranges: SubidRange[]; want: IdMap }[] = [
    {
      name: 'scenario 1: tester 1001 with 100000:65536',
      uid: 1001,
      ranges: subids('tester:100000:65536\n', 'tester', 1001),
      want: [
        { container: 0, host: 1001, size: 1 },
        { container: 1, host: 100000, size: 65536 },
      ],
    },
    {
      name: 'scenario 17: 1002:400000:65536 + tester2:500000:1000 (one uid-keyed, one name-keyed line)',
      uid: 1002,
      ranges: subids('1002:400000:65536\ntester2:500000:1000\n', 'tester2', 1002),
      want: [
        { container: 0, host: 1002, size: 1 },
        { container: 1, host: 400000, size: 65536 },
        { container: 65537, host: 500000, size: 1000 },
      ],
    },
    {
      name: 'ranges are sorted by host start whatever the file order',
      uid: 1002,
      ranges: [
        { start: 500000, count: 1000 },
        { start: 400000, count: 65536 },
      ],
      want: [
        { container: 0, host: 1002, size: 1 },
        { container: 1, host: 400000, size: 65536 },
        { container: 65537, host: 500000, size: 1000 },
      ],
    },
    {
      name: 'adjacent ranges are merged into one line',
      uid: 1001,
      ranges: [
        { start: 165536, count: 65536 },
        { start: 100000, count: 65536 },
      ],
      want: [
        { container: 0, host: 1001, size: 1 },
        { container: 1, host: 100000, size: 131072 },
      ],
    },
    {
      name: 'a range ending at the highest ID, 4294967294',
      uid: 1001,
      ranges: [{ start: 4294967200, count: 95 }],
      want: [
        { container: 0, host: 1001, size: 1 },
        { container: 1, host: 4294967200, size: 95 },
      ],
    },
    {
      name: 'a range just below the own uid is fine',
      uid: 1001,
      ranges: [{ start: 1, count: 1000 }],
      want: [
        { container: 0, host: 1001, size: 1 },
        { container: 1, host: 1, size: 1000 },
      ],
    },
    {
      name: '320 one-ID ranges (321 lines) still fit in a page',
      uid: 1001,
      ranges: Array.from({ length: 320 }, (_, i) => ({ start: 100000 + 2 * i, count: 1 })),
      want: [
        { container: 0, host: 1001, size: 1 },
        ...Array.from({ length: 320 }, (_, i) => ({ container: 1 + i, host: 100000 + 2 * i, size: 1 })),
      ],
    },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(buildRootlessMap(c.uid, c.ranges, { user: 'tester' }), c.want));
});

describe('buildRootlessMap: refused (Step 1 table)', () => {
  const cases: { name: string; uid: number; ranges: SubidRange[]; kind?: 'uid' | 'gid'; code: string; message: RegExp; hint?: RegExp }[] = [
    {
      name: 'scenario 11: no subordinate UIDs',
      uid: 1001,
      ranges: [],
      code: 'E_NO_SUBIDS',
      message: /no subordinate UIDs for tester in \/etc\/subuid \(or NSS subid\)/,
      hint: /sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 tester/,
    },
    {
      name: 'no subordinate GIDs names /etc/subgid',
      uid: 1001,
      ranges: [],
      kind: 'gid',
      code: 'E_NO_SUBIDS',
      message: /no subordinate GIDs for tester in \/etc\/subgid/,
    },
    {
      name: 'scenario 15: u:165536:65536 + 1002:200000:65536 overlap (newuidmap passes, kernel EINVAL)',
      uid: 1002,
      ranges: subids('u:165536:65536\n1002:200000:65536\n', 'u', 1002),
      code: 'E_SUBID_OVERLAP',
      message: /subuid ranges 165536\+65536 and 200000\+65536 overlap \(kernel would say EINVAL\)/,
    },
    {
      name: 'the same line twice overlaps',
      uid: 1001,
      ranges: subids('tester:100000:65536\ntester:100000:65536\n', 'tester', 1001),
      code: 'E_SUBID_OVERLAP',
      message: /100000\+65536 and 100000\+65536 overlap/,
    },
    {
      name: 'scenario 16: a range containing the own uid (podman: "includes the user UID")',
      uid: 1001,
      ranges: [{ start: 1000, count: 65536 }],
      code: 'E_SUBID_CONTAINS_OWN_ID',
      message: /subuid range 1000\+65536 contains your own uid 1001/,
    },
    {
      name: 'the own gid inside a subgid range',
      uid: 1001,
      ranges: [{ start: 1001, count: 1 }],
      kind: 'gid',
      code: 'E_SUBID_CONTAINS_OWN_ID',
      message: /subgid range 1001\+1 contains your own gid 1001/,
    },
    {
      name: 'scenario 18: 330 one-ID ranges make 331 lines, over the page (observed EINVAL)',
      uid: 1001,
      ranges: Array.from({ length: 330 }, (_, i) => ({ start: 100000 + 2 * i, count: 1 })),
      code: 'E_IDMAP_TOO_LARGE',
      message: /330 separate subuid ranges make a uid_map of 331 lines/,
    },
    {
      name: 'a range reaching ID 4294967295',
      uid: 1001,
      ranges: [{ start: 4294967200, count: 96 }],
      code: 'E_SUBID_INVALID',
      message: /4294967200\+96 reaches past ID 4294967294/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const e = errorOf(() => buildRootlessMap(c.uid, c.ranges, { user: 'tester', ...(c.kind ? { kind: c.kind } : {}) }));
      assert.equal(e.code, c.code);
      assert.match(e.message, c.message);
      if (c.hint) assert.match(e.hint ?? '', c.hint);
    });
  }
  test('without a passwd entry the messages name the uid', () => {
    const e = errorOf(() => buildRootlessMap(1234, []));
    assert.match(e.message, /no subordinate UIDs for uid 1234/);
  });
});

describe('compareStoredMap (scenario 25)', () => {
  const was = {
    uidMap: buildRootlessMap(1001, [{ start: 100000, count: 65536 }]),
    gidMap: buildRootlessMap(1001, [{ start: 100000, count: 65536 }], { kind: 'gid' }),
  };
  test('nothing stored yet is fine', () => compareStoredMap(undefined, was));
  test('the same maps are fine', () => compareStoredMap(was, structuredClone(was)));
  test('the same mapping split differently is fine', () => {
    const split = { ...was, uidMap: [was.uidMap[0]!, { container: 1, host: 100000, size: 10 }, { container: 11, host: 100010, size: 65526 }] };
    compareStoredMap(was, split);
  });
  test('a changed /etc/subuid is refused with the Step 2 message', () => {
    const now = { ...was, uidMap: buildRootlessMap(1001, [{ start: 200000, count: 65536 }]) };
    const e = errorOf(() => compareStoredMap(was, now));
    assert.equal(e.code, 'E_SUBID_CHANGED');
    assert.match(e.message, /subordinate ID configuration changed since this store was created \(subuids were 100000\+65536, now 200000\+65536\)/);
    assert.match(e.message, /run `berth system migrate-ids` or restore \/etc\/subuid$/);
  });
  test('both files changed are both named', () => {
    const now = {
      uidMap: buildRootlessMap(1001, [{ start: 200000, count: 65536 }]),
      gidMap: buildRootlessMap(1001, [{ start: 100000, count: 1000 }], { kind: 'gid' }),
    };
    const e = errorOf(() => compareStoredMap(was, now));
    assert.match(e.message, /subgids were 100000\+65536, now 100000\+1000/);
    assert.match(e.message, /restore \/etc\/subuid and \/etc\/subgid/);
  });
  test('another user on the same store names the uids', () => {
    const now = { ...was, uidMap: buildRootlessMap(1002, [{ start: 100000, count: 65536 }]) };
    const e = errorOf(() => compareStoredMap(was, now));
    assert.match(e.message, /subuids were uid 1001, 100000\+65536, now uid 1002, 100000\+65536/);
  });
});
