import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBerthError } from '../../src/errors/index.js';
import {
  breakInsert,
  buildRootlessMap,
  formatIdMapSpecEntry,
  parseIdMapSpec,
  resolveIdMapSpecs,
  type IdMap,
  type IdMapSpecEntry,
} from '../../src/idmap/index.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isBerthError(e) ? e.code : `non-BerthError: ${String(e)}`;
  }
  return undefined;
}

const plain = (container: number, host: number, size: number): IdMapSpecEntry => ({
  container,
  host,
  size,
  fromParent: false,
  extend: false,
  appliesTo: 'both',
});

describe('parseIdMapSpec: accepted (podman [flags]CONTAINER:[@]FROM[:COUNT])', () => {
  const cases: { name: string; spec: string; want: IdMapSpecEntry[] }[] = [
    { name: 'full triple', spec: '0:1:65536', want: [plain(0, 1, 65536)] },
    { name: 'COUNT defaults to 1', spec: '1000:0', want: [plain(1000, 0, 1)] },
    { name: 'several triples in one value', spec: '0:1:10:10:20:5', want: [plain(0, 1, 10), plain(10, 20, 5)] },
    { name: '+ flag', spec: '+100000:1:1', want: [{ ...plain(100000, 1, 1), extend: true }] },
    { name: '@ host ID', spec: '100000:@2000:2', want: [{ ...plain(100000, 2000, 2), fromParent: true }] },
    { name: 'u flag', spec: 'u20000:2000:1', want: [{ ...plain(20000, 2000, 1), appliesTo: 'uid' }] },
    { name: 'g flag with + and @ (podman docs example)', spec: '+g100000:@2000', want: [{ ...plain(100000, 2000, 1), appliesTo: 'gid', extend: true, fromParent: true }] },
    { name: 'u and g together mean both', spec: 'ug0:0:1', want: [plain(0, 0, 1)] },
    { name: 'largest numbers', spec: '4294967294:4294967294:1', want: [plain(4294967294, 4294967294, 1)] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(parseIdMapSpec(c.spec), c.want));
});

describe('parseIdMapSpec: refused', () => {
  const cases: { name: string; spec: string }[] = [
    { name: 'empty', spec: '' },
    { name: 'one field', spec: '0' },
    { name: 'four fields', spec: '0:1:2:3' },
    { name: 'empty container ID', spec: ':1:2' },
    { name: 'empty FROM', spec: '0::2' },
    { name: 'COUNT 0 (podman drops it silently)', spec: '0:1:0' },
    { name: 'unknown flag', spec: 'x0:1:2' },
    { name: 'negative', spec: '-1:1:2' },
    { name: 'hex', spec: '0x10:1:2' },
    { name: 'over 2^32-1', spec: '4294967296:1:1' },
    { name: 'flag after digits', spec: '0+:1:1' },
    { name: 'spaces', spec: '0: 1:2' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(codeOf(() => parseIdMapSpec(c.spec)), 'E_IDMAP_SPEC'));
  test('the message names the option and the value', () => {
    try {
      parseIdMapSpec('0:1:0', '--gidmap');
      assert.fail('expected an error');
    } catch (e) {
      assert.ok(isBerthError(e));
      assert.match(e.message, /^parse --gidmap "0:1:0": COUNT is 0/);
      assert.match(e.hint ?? '', /CONTAINER:\[@\]FROM\[:COUNT\]/);
    }
  });
});

describe('parseIdMapSpec property', () => {
  const arbEntry = fc.record({
    container: fc.integer({ min: 0, max: 4294967294 }),
    host: fc.integer({ min: 0, max: 4294967294 }),
    size: fc.integer({ min: 1, max: 4294967295 }),
    fromParent: fc.boolean(),
    extend: fc.boolean(),
    appliesTo: fc.constantFrom('both' as const, 'uid' as const, 'gid' as const),
  });
  test('parse(format(entries)) == entries', () => {
    fc.assert(
      fc.property(fc.array(arbEntry, { minLength: 1, maxLength: 5 }), (entries) => {
        // fc.record builds null-prototype objects; compare as plain ones.
        assert.deepEqual(parseIdMapSpec(entries.map(formatIdMapSpecEntry).join(':')), entries.map((e) => ({ ...e })));
      }),
    );
  });
  test('arbitrary text either parses or fails with E_IDMAP_SPEC', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('0', '1', '9', ':', '+', 'u', 'g', '@', 'x', '-', ' ') }), (s) => {
        const code = codeOf(() => parseIdMapSpec(s));
        assert.ok(code === undefined || code === 'E_IDMAP_SPEC', code);
      }),
    );
  });
});

describe('breakInsert (the + flag)', () => {
  test('podman docs: 0:0:65000 then +100000:1:1 leaves container 1 unassigned', () => {
    assert.deepEqual(breakInsert([{ container: 0, host: 0, size: 65000 }], { container: 100000, host: 1, size: 1 }), [
      { container: 0, host: 0, size: 1 },
      { container: 2, host: 2, size: 64998 },
      { container: 100000, host: 1, size: 1 },
    ]);
  });
  test('a conflict on the container side removes that part', () => {
    assert.deepEqual(breakInsert([{ container: 0, host: 100, size: 10 }], { container: 5, host: 500, size: 2 }), [
      { container: 0, host: 100, size: 5 },
      { container: 7, host: 107, size: 3 },
      { container: 5, host: 500, size: 2 },
    ]);
  });
  test('no conflict keeps everything', () => {
    assert.deepEqual(breakInsert([{ container: 0, host: 0, size: 10 }], { container: 20, host: 20, size: 1 }), [
      { container: 0, host: 0, size: 10 },
      { container: 20, host: 20, size: 1 },
    ]);
  });
});

describe('resolveIdMapSpecs', () => {
  // The intermediate namespace of a user 1001 with 200000:65536 (N = 65537).
  const ns = buildRootlessMap(1001, [{ start: 200000, count: 65536 }], { user: 'tester' });
  const cases: { name: string; specs: string[]; kind: 'uid' | 'gid'; fill: boolean; want: IdMap }[] = [
    { name: 'plain ranges, sorted and merged', specs: ['10:11:5', '0:1:10'], kind: 'uid', fill: true, want: [{ container: 0, host: 1, size: 15 }] },
    { name: 'u entries are skipped for gid', specs: ['u0:1:10', '0:0:1'], kind: 'gid', fill: false, want: [{ container: 0, host: 0, size: 1 }] },
    {
      name: 'podman docs: 0:0:65000 +100000:1:1 1:65001:1 (rootful, no fill)',
      specs: ['0:0:65000', '+100000:1:1', '1:65001:1'],
      kind: 'gid',
      fill: false,
      want: [
        { container: 0, host: 0, size: 1 },
        { container: 1, host: 65001, size: 1 },
        { container: 2, host: 2, size: 64998 },
        { container: 100000, host: 1, size: 1 },
      ],
    },
    {
      name: '@ names a host ID: host 200005 is intermediate 6',
      specs: ['100000:@200005:2'],
      kind: 'uid',
      fill: false,
      want: [{ container: 100000, host: 6, size: 2 }],
    },
    {
      name: 'rootless +g100000:@1001 maps the own gid and fills the rest from 0 (podman docs)',
      specs: ['+g100000:@1001'],
      kind: 'gid',
      fill: true,
      want: [
        { container: 0, host: 1, size: 65536 },
        { container: 100000, host: 0, size: 1 },
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(resolveIdMapSpecs(c.specs, { kind: c.kind, namespace: ns, fill: c.fill }), c.want));
  }
  test('@ with a host ID not delegated -> E_IDMAP_SPEC naming it', () => {
    try {
      resolveIdMapSpecs(['0:@1000:1'], { kind: 'uid', namespace: ns, fill: true });
      assert.fail('expected an error');
    } catch (e) {
      assert.ok(isBerthError(e));
      assert.equal(e.code, 'E_IDMAP_SPEC');
      assert.match(e.message, /host uid 1000 is not mapped/);
    }
  });
});
