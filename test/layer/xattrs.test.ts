import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { filterXattrs, normaliseCapability, type XattrPolicy } from '../../src/layer/xattrs.js';
import type { EntryType } from '../../src/layer/tar/types.js';

function le(...words: number[]): Buffer {
  const b = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => b.writeUInt32LE(w >>> 0, i * 4));
  return b;
}

const v2NetRaw = le(0x02000001, 0x2000, 0, 0, 0);

describe('normaliseCapability (layers-and-capabilities.md section 3)', () => {
  const ok: { name: string; value: Buffer; want: Buffer; revision: number; rootid?: number }[] = [
    { name: 'v2 is kept byte for byte', value: v2NetRaw, want: v2NetRaw, revision: 2 },
    { name: 'v2 without the effective flag', value: le(0x02000000, 0, 0x2000, 0, 0), want: le(0x02000000, 0, 0x2000, 0, 0), revision: 2 },
    { name: 'v2 with upper words (all caps)', value: le(0x02000001, 0xffffffff, 0, 0x1ff, 0), want: le(0x02000001, 0xffffffff, 0, 0x1ff, 0), revision: 2 },
    { name: 'v1 is widened to v2 with zero upper words', value: le(0x01000001, 0x2000, 0x4), want: le(0x02000001, 0x2000, 0x4, 0, 0), revision: 1 },
    { name: 'v3 rootid 0 becomes v2', value: le(0x03000001, 0x2000, 0, 0, 0, 0), want: v2NetRaw, revision: 3, rootid: 0 },
    { name: 'v3 rootid 1001 becomes v2 and reports the rootid', value: le(0x03000001, 0x2000, 0, 0x1, 0, 1001), want: le(0x02000001, 0x2000, 0, 0x1, 0), revision: 3, rootid: 1001 },
  ];
  for (const c of ok) {
    test(c.name, () => {
      const r = normaliseCapability(c.value);
      assert.ok(r.ok);
      assert.equal(r.value.toString('hex'), c.want.toString('hex'));
      assert.equal(r.revision, c.revision);
      assert.equal(r.rootid, c.rootid);
    });
  }
  const bad: { name: string; value: Buffer; reason: RegExp }[] = [
    { name: 'empty', value: Buffer.alloc(0), reason: /too short/ },
    { name: 'v2 magic with 16 bytes', value: le(0x02000001, 0, 0, 0), reason: /revision 2 needs 20 bytes/ },
    { name: 'v1 magic with 20 bytes', value: le(0x01000001, 0, 0, 0, 0), reason: /revision 1 needs 12 bytes/ },
    { name: 'v3 magic with 20 bytes', value: le(0x03000001, 0, 0, 0, 0), reason: /revision 3 needs 24 bytes/ },
    { name: 'unknown revision 5', value: le(0x05000000, 0, 0, 0, 0), reason: /unknown revision 0x05000000/ },
  ];
  for (const c of bad) {
    test(`invalid: ${c.name}`, () => {
      const r = normaliseCapability(c.value);
      assert.equal(r.ok, false);
      assert.match(!r.ok ? r.reason : '', c.reason);
    });
  }
  test('property: the result is always a 20-byte v2 value with the permitted/inheritable words of the input', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3), fc.boolean(), fc.array(fc.nat(0xffffffff), { minLength: 5, maxLength: 5 }), (rev, eff, w) => {
        const words = rev === 1 ? [w[0], w[1]] : rev === 2 ? [w[0], w[1], w[2], w[3]] : [w[0], w[1], w[2], w[3], w[4]];
        const value = le(rev * 0x01000000 + (eff ? 1 : 0), ...words);
        const r = normaliseCapability(value);
        assert.ok(r.ok);
        assert.equal(r.value.length, 20);
        assert.equal(r.value.readUInt32LE(0), 0x02000000 + (eff ? 1 : 0));
        assert.equal(r.value.readUInt32LE(4), w[0]);
        assert.equal(r.value.readUInt32LE(8), w[1]);
        assert.equal(r.value.readUInt32LE(12), rev === 1 ? 0 : w[2]);
      }),
      { numRuns: 500 },
    );
  });
});

const x = (s: string) => Buffer.from(s);
const names = (d: { keep: [string, Buffer][] }) => d.keep.map(([n]) => n);
const unpackRoot = (type: EntryType = 'file'): XattrPolicy => ({ direction: 'unpack', privilege: 'root', type });

describe('filterXattrs', () => {
  const cases: { name: string; policy: XattrPolicy; input: Record<string, Buffer>; keep: string[]; dropped: Record<string, string> }[] = [
    {
      name: 'user.*, security.ima and ACLs are kept, sorted',
      policy: unpackRoot(),
      input: { 'user.b': x('1'), 'system.posix_acl_access': x('2'), 'security.ima': x('3'), 'user.a': x('4') },
      keep: ['security.ima', 'system.posix_acl_access', 'user.a', 'user.b'],
      dropped: {},
    },
    {
      name: 'selinux, overlay and bookkeeping are dropped',
      policy: unpackRoot(),
      input: {
        'security.selinux': x('l'),
        'trusted.overlay.opaque': x('y'),
        'user.overlay.redirect': x('/x'),
        'user.containers.override_stat': x('0:0:0755:dir'),
        'user.rootlesscontainers': x(''),
        'user.berth.owner': x(''),
        'trusted.berth.owner': x(''),
      },
      keep: [],
      dropped: {
        'security.selinux': 'selinux',
        'trusted.overlay.opaque': 'overlay',
        'user.overlay.redirect': 'overlay',
        'user.containers.override_stat': 'bookkeeping',
        'user.rootlesscontainers': 'bookkeeping',
        'user.berth.owner': 'bookkeeping',
        'trusted.berth.owner': 'bookkeeping',
      },
    },
    { name: 'trusted.* kept for real root', policy: unpackRoot(), input: { 'trusted.x': x('1') }, keep: ['trusted.x'], dropped: {} },
    {
      name: 'trusted.* dropped in a user namespace',
      policy: { direction: 'unpack', privilege: 'userns', type: 'file' },
      input: { 'trusted.x': x('1') },
      keep: [],
      dropped: { 'trusted.x': 'trusted' },
    },
    { name: 'trusted.* never exported', policy: { direction: 'pack', type: 'file' }, input: { 'trusted.x': x('1') }, keep: [], dropped: { 'trusted.x': 'trusted' } },
    { name: 'user.* on a symlink is dropped', policy: unpackRoot('symlink'), input: { 'user.a': x('1'), 'security.ima': x('2') }, keep: ['security.ima'], dropped: { 'user.a': 'type' } },
    { name: 'user.* on a directory is kept', policy: unpackRoot('dir'), input: { 'user.a': x('1') }, keep: ['user.a'], dropped: {} },
    { name: 'a capability on a directory is dropped', policy: unpackRoot('dir'), input: { 'security.capability': v2NetRaw }, keep: [], dropped: { 'security.capability': 'type' } },
    { name: 'a malformed capability is dropped', policy: unpackRoot(), input: { 'security.capability': x('abc') }, keep: [], dropped: { 'security.capability': 'capability-invalid' } },
    {
      name: 'pack: v3 with a foreign rootid is dropped',
      policy: { direction: 'pack', type: 'file' },
      input: { 'security.capability': le(0x03000001, 0x2000, 0, 0, 0, 1001) },
      keep: [],
      dropped: { 'security.capability': 'capability-foreign' },
    },
    {
      name: "pack: v3 whose rootid is the image's root is exported as v2",
      policy: { direction: 'pack', type: 'file', isImageRoot: (r) => r === 1001 },
      input: { 'security.capability': le(0x03000001, 0x2000, 0, 0, 0, 1001) },
      keep: ['security.capability'],
      dropped: {},
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const d = filterXattrs(Object.entries(c.input), c.policy);
      assert.deepEqual(names(d), c.keep);
      assert.deepEqual(Object.fromEntries(d.dropped.map((e) => [e.name, e.reason])), c.dropped);
    });
  }

  test('unpack: a v3 capability is kept as v2 and its rootid reported', () => {
    const d = filterXattrs([['security.capability', le(0x03000001, 0x2000, 0, 0, 0, 1000)]], unpackRoot());
    assert.equal(d.keep[0][1].toString('hex'), v2NetRaw.toString('hex'));
    assert.equal(d.capabilityRootId, 1000);
  });

  test('property: every name is kept or dropped exactly once, and values of kept non-capability names are unchanged', () => {
    const nameArb = fc.oneof(
      fc.constantFrom('security.selinux', 'security.capability', 'security.ima', 'trusted.overlay.x', 'user.overlay.y', 'trusted.z', 'user.berth.q', 'system.posix_acl_access'),
      fc.string({ minLength: 1, maxLength: 6 }).map((s) => `user.${s}`),
    );
    const policyArb = fc.record({
      direction: fc.constantFrom<'unpack' | 'pack'>('unpack', 'pack'),
      privilege: fc.constantFrom<'root' | 'userns' | 'unprivileged'>('root', 'userns', 'unprivileged'),
      type: fc.constantFrom<EntryType>('file', 'dir', 'symlink', 'char', 'fifo'),
    });
    fc.assert(
      fc.property(fc.uniqueArray(nameArb, { maxLength: 8 }), fc.uint8Array({ maxLength: 24 }), policyArb, (ns, bytes, policy) => {
        const input = ns.map((n): [string, Buffer] => [n, Buffer.from(bytes)]);
        const d = filterXattrs(input, policy);
        const seen = [...names(d), ...d.dropped.map((e) => e.name)].sort();
        assert.deepEqual(seen, [...ns].sort());
        for (const [n, v] of d.keep) if (n !== 'security.capability') assert.deepEqual(v, Buffer.from(bytes));
      }),
      { numRuns: 1000 },
    );
  });
});
