import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBerthError } from '../../src/errors/index.js';
import {
  formatIdMap,
  identityOver,
  normalizeMap,
  parseIdMapText,
  sameMapping,
  toContainer,
  toHost,
  validateMap,
  type IdMap,
} from '../../src/idmap/index.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isBerthError(e) ? e.code : `non-BerthError: ${String(e)}`;
  }
  return undefined;
}

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  assert.fail('expected an error');
}

/** The map of scenario 17: `0 1002 1 / 1 400000 65536 / 65537 500000 1000`. */
const rootless: IdMap = [
  { container: 0, host: 1002, size: 1 },
  { container: 1, host: 400000, size: 65536 },
  { container: 65537, host: 500000, size: 1000 },
];

describe('toHost / toContainer', () => {
  const cases: { name: string; map: IdMap; container: number; host: number | undefined }[] = [
    { name: 'container root is the user', map: rootless, container: 0, host: 1002 },
    { name: 'first subordinate ID', map: rootless, container: 1, host: 400000 },
    { name: 'last ID of the first range', map: rootless, container: 65536, host: 465535 },
    { name: 'first ID of the second range', map: rootless, container: 65537, host: 500000 },
    { name: 'last ID of the map', map: rootless, container: 66536, host: 500999 },
    { name: 'one past the map is unmapped', map: rootless, container: 66537, host: undefined },
    { name: 'full map is the identity', map: [{ container: 0, host: 0, size: 4294967295 }], container: 4294967294, host: 4294967294 },
    { name: 'empty map maps nothing', map: [], container: 0, host: undefined },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(toHost(c.map, c.container), c.host);
      if (c.host !== undefined) assert.equal(toContainer(c.map, c.host), c.container);
    });
  }
  test('a host ID outside every range has no container ID (the own uid of another user)', () => {
    assert.equal(toContainer(rootless, 1001), undefined);
    assert.equal(toContainer(rootless, 399999), undefined);
  });
});

/** Random valid maps: disjoint on both sides, small enough for the kernel. */
const arbMap = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 })), { minLength: 1, maxLength: 20 })
  .chain((specs) =>
    fc.shuffledSubarray(specs.map((_, i) => i), { minLength: specs.length, maxLength: specs.length }).map((perm) => {
      // Lay ranges out in order inside, and in a shuffled order outside, with gaps.
      let inside = 0;
      const ranges = specs.map(([size, gap]) => {
        const r = { container: inside + gap, size };
        inside = r.container + size;
        return r;
      });
      let outside = 0;
      const host = new Array<number>(specs.length);
      for (const i of perm) {
        host[i] = outside + specs[i]![2];
        outside = host[i]! + ranges[i]!.size;
      }
      return ranges.map((r, i) => ({ container: r.container, host: host[i]!, size: r.size }));
    }),
  );

describe('toHost / toContainer properties', () => {
  test('toContainer(toHost(x)) == x for every mapped x', () => {
    fc.assert(
      fc.property(arbMap, fc.nat(), (map, pick) => {
        const r = map[pick % map.length]!;
        const x = r.container + (pick % r.size);
        const h = toHost(map, x);
        assert.notEqual(h, undefined);
        assert.equal(toContainer(map, h!), x);
      }),
    );
  });
  test('toHost(toContainer(y)) == y for every host ID the map holds', () => {
    fc.assert(
      fc.property(arbMap, fc.nat(), (map, pick) => {
        const r = map[pick % map.length]!;
        const y = r.host + (pick % r.size);
        assert.equal(toHost(map, toContainer(map, y)!), y);
      }),
    );
  });
  test('generated maps pass validateMap, and survive the kernel text round trip', () => {
    fc.assert(
      fc.property(arbMap, (map) => {
        validateMap(map);
        assert.deepEqual(parseIdMapText(formatIdMap(map)), map);
      }),
    );
  });
  test('normalizeMap keeps the translation', () => {
    fc.assert(
      fc.property(arbMap, fc.nat(), (map, pick) => {
        const n = normalizeMap(map);
        const r = map[pick % map.length]!;
        const x = r.container + (pick % r.size);
        assert.equal(toHost(n, x), toHost(map, x));
        assert.ok(sameMapping(map, n));
      }),
    );
  });
});

describe('parseIdMapText (/proc/PID/uid_map)', () => {
  test('right-aligned kernel columns', () => {
    assert.deepEqual(parseIdMapText('         0       1001          1\n         1     200000      65536\n'), [
      { container: 0, host: 1001, size: 1 },
      { container: 1, host: 200000, size: 65536 },
    ]);
  });
  test('the initial namespace', () => {
    assert.deepEqual(parseIdMapText('         0          0 4294967295\n'), [{ container: 0, host: 0, size: 4294967295 }]);
  });
  test('an empty file (no map written yet) is an empty map', () => assert.deepEqual(parseIdMapText(''), []));
  const bad = ['0 1001', '0 1001 1 5', 'a b c', '0 1001 4294967296'];
  for (const t of bad) test(`malformed "${t}" -> E_IDMAP_INVALID`, () => assert.equal(codeOf(() => parseIdMapText(t)), 'E_IDMAP_INVALID'));
});

describe('validateMap: accepted', () => {
  const ok: { name: string; map: IdMap }[] = [
    { name: 'rootless map of scenario 17', map: rootless },
    { name: 'initial namespace 0 0 4294967295', map: [{ container: 0, host: 0, size: 4294967295 }] },
    { name: 'ranges touching but not overlapping', map: [{ container: 0, host: 10, size: 10 }, { container: 10, host: 0, size: 10 }] },
    {
      name: '320 one-ID lines (4052 bytes) fit (userns.md rule 2: observed 4050)',
      map: Array.from({ length: 320 }, (_, i) => ({ container: 1 + i, host: 100000 + 2 * i, size: 1 })),
    },
    { name: 'highest ID 4294967294', map: [{ container: 4294967294, host: 4294967294, size: 1 }] },
  ];
  for (const c of ok) test(c.name, () => validateMap(c.map));
  test('320 lines really are under the page', () => {
    assert.equal(formatIdMap(ok[3]!.map).length, 4052);
  });
});

describe('validateMap: refused', () => {
  const bad: { name: string; map: IdMap; code: string; message?: RegExp }[] = [
    { name: 'empty map', map: [], code: 'E_IDMAP_INVALID' },
    { name: 'size 0', map: [{ container: 0, host: 1000, size: 0 }], code: 'E_IDMAP_INVALID', message: /size 0/ },
    { name: 'negative ID', map: [{ container: -1, host: 1000, size: 1 }], code: 'E_IDMAP_INVALID' },
    { name: 'fractional size', map: [{ container: 0, host: 1000, size: 1.5 }], code: 'E_IDMAP_INVALID' },
    { name: 'reaches 4294967295 inside', map: [{ container: 4294967295, host: 0, size: 1 }], code: 'E_IDMAP_INVALID' },
    { name: 'reaches past 2^32-1 outside', map: [{ container: 0, host: 1, size: 4294967295 }], code: 'E_IDMAP_INVALID' },
    {
      name: 'overlapping inside ranges',
      map: [{ container: 0, host: 100, size: 10 }, { container: 5, host: 500, size: 10 }],
      code: 'E_IDMAP_OVERLAP',
      message: /inside ranges 0\+10 and 5\+10 overlap/,
    },
    {
      name: 'overlapping outside ranges (observed: kernel EINVAL)',
      map: [{ container: 0, host: 165536, size: 65536 }, { container: 65536, host: 200000, size: 65536 }],
      code: 'E_IDMAP_OVERLAP',
      message: /outside ranges 165536\+65536 and 200000\+65536 overlap/,
    },
    { name: 'the same range twice', map: [rootless[1]!, rootless[1]!], code: 'E_IDMAP_OVERLAP' },
    {
      name: '330 one-ID lines (4182 bytes): over the page (scenario 18: observed 4180, EINVAL)',
      map: Array.from({ length: 330 }, (_, i) => ({ container: 1 + i, host: 100000 + 2 * i, size: 1 })),
      code: 'E_IDMAP_TOO_LARGE',
      message: /330 lines \(4182 bytes\)/,
    },
    {
      name: '341 short lines: over the 340-line limit although under the page',
      map: Array.from({ length: 341 }, (_, i) => ({ container: i, host: i * 2, size: 1 })),
      code: 'E_IDMAP_TOO_LARGE',
      message: /341 lines/,
    },
  ];
  for (const c of bad) {
    test(c.name, () => {
      const e = errorOf(() => validateMap(c.map));
      assert.ok(isBerthError(e), String(e));
      assert.equal(e.code, c.code);
      if (c.message) assert.match(e.message, c.message);
    });
  }
  test('341 short lines are under 4096 bytes, so the line limit is what refuses them', () => {
    assert.ok(formatIdMap(bad.at(-1)!.map).length < 4096);
  });
});

describe('identityOver', () => {
  test('the inside IDs of a rootless map, identity-mapped and merged', () => {
    assert.deepEqual(identityOver(rootless), [{ container: 0, host: 0, size: 66537 }]);
  });
});
