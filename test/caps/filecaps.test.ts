import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ALL_CAPS,
  caps,
  decodeFileCaps,
  encodeFileCaps,
  widenV1,
  type FileCaps,
} from '../../src/caps/index.js';
import { isBerthError } from '../../src/errors/index.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isBerthError(e) ? e.code : `non-BerthError: ${String(e)}`;
  }
  return undefined;
}

/** Little-endian u32 words to bytes: the way the value is stored on disk. */
function le(...words: number[]): Buffer {
  const b = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => b.writeUInt32LE(w >>> 0, i * 4));
  return b;
}

describe('decodeFileCaps (layers-and-capabilities.md section 3)', () => {
  const ok: { name: string; value: Buffer; want: FileCaps }[] = [
    {
      name: 'v2 cap_net_raw=ep (what setcap writes for ping)',
      value: le(0x02000001, 0x2000, 0, 0, 0),
      want: { version: 2, effective: true, permitted: caps('NET_RAW'), inheritable: 0n },
    },
    {
      name: 'v2 cap_net_raw=ip, no effective flag',
      value: le(0x02000000, 0x2000, 0x2000, 0, 0),
      want: { version: 2, effective: false, permitted: caps('NET_RAW'), inheritable: caps('NET_RAW') },
    },
    {
      name: 'v2 all caps with the effective flag (upper word 0x1ff)',
      value: le(0x02000001, 0xffffffff, 0, 0x1ff, 0),
      want: { version: 2, effective: true, permitted: ALL_CAPS, inheritable: 0n },
    },
    {
      name: 'v1, 12 bytes, 32 caps',
      value: le(0x01000001, 0x2000, 0),
      want: { version: 1, effective: true, permitted: caps('NET_RAW'), inheritable: 0n },
    },
    {
      name: 'v3 with rootid 1001 (written by setcap inside a 0->1001 namespace)',
      value: le(0x03000001, 0x2000, 0, 0, 0, 1001),
      want: { version: 3, effective: true, permitted: caps('NET_RAW'), inheritable: 0n, rootid: 1001 },
    },
    {
      name: 'v3 with rootid 0',
      value: le(0x03000000, 0, 0x1, 0, 0, 0),
      want: { version: 3, effective: false, permitted: 0n, inheritable: caps('CHOWN'), rootid: 0 },
    },
    {
      name: 'unknown flag bits are ignored as the kernel does',
      value: le(0x02000003, 0x2000, 0, 0, 0),
      want: { version: 2, effective: true, permitted: caps('NET_RAW'), inheritable: 0n },
    },
    {
      name: 'bits above CAP_LAST_CAP are kept',
      value: le(0x02000000, 0, 0, 0x80000000, 0),
      want: { version: 2, effective: false, permitted: 1n << 63n, inheritable: 0n },
    },
  ];
  for (const c of ok) {
    test(c.name, () => assert.deepEqual(decodeFileCaps(c.value), c.want));
  }

  test('reads through a view into a larger buffer', () => {
    const big = Buffer.concat([Buffer.from([9, 9, 9]), le(0x02000001, 0x2000, 0, 0, 0)]);
    assert.deepEqual(decodeFileCaps(big.subarray(3)), { version: 2, effective: true, permitted: caps('NET_RAW'), inheritable: 0n });
  });

  const bad: { name: string; value: Buffer }[] = [
    { name: 'empty', value: Buffer.alloc(0) },
    { name: '3 bytes', value: Buffer.from([1, 0, 0]) },
    { name: 'v1 with 20 bytes', value: le(0x01000000, 0, 0, 0, 0) },
    { name: 'v2 with 12 bytes', value: le(0x02000000, 0, 0) },
    { name: 'v2 with 24 bytes', value: le(0x02000000, 0, 0, 0, 0, 0) },
    { name: 'v3 with 20 bytes', value: le(0x03000000, 0, 0, 0, 0) },
    { name: 'v2 with one byte extra', value: Buffer.concat([le(0x02000000, 0, 0, 0, 0), Buffer.from([0])]) },
    { name: 'revision 0', value: le(0x00000001, 0, 0, 0, 0) },
    { name: 'revision 4', value: le(0x04000000, 0, 0, 0, 0, 0) },
    { name: 'big-endian magic', value: Buffer.from('0200000100200000000000000000000000000000', 'hex') },
  ];
  for (const c of bad) {
    test(`rejects ${c.name} with E_FILECAP_INVALID`, () => assert.equal(codeOf(() => decodeFileCaps(c.value)), 'E_FILECAP_INVALID'));
  }
});

describe('encodeFileCaps', () => {
  test('v2 bytes for cap_net_raw=ep', () => {
    assert.equal(
      encodeFileCaps({ version: 2, effective: true, permitted: caps('NET_RAW'), inheritable: 0n }).toString('hex'),
      '0100000200200000000000000000000000000000',
    );
  });
  test('v3 keeps the rootid', () => {
    const b = encodeFileCaps({ version: 3, effective: true, permitted: caps('NET_RAW'), inheritable: 0n, rootid: 1001 });
    assert.equal(b.length, 24);
    assert.equal(b.readUInt32LE(20), 1001);
    assert.equal(b.readUInt32LE(0), 0x03000001);
  });
  test('a v1 value encodes as v2 by default', () => {
    assert.equal(encodeFileCaps({ version: 1, effective: false, permitted: 1n, inheritable: 0n }).length, 20);
  });
  test('v3 without a rootid writes rootid 0', () => {
    assert.equal(encodeFileCaps({ version: 2, effective: false, permitted: 1n, inheritable: 0n }, 3).readUInt32LE(20), 0);
  });

  const bad: { name: string; fc: FileCaps; version?: 2 | 3 }[] = [
    { name: 'v2 with a non-zero rootid', fc: { version: 3, effective: true, permitted: 1n, inheritable: 0n, rootid: 5 }, version: 2 },
    { name: 'a set above 64 bits', fc: { version: 2, effective: true, permitted: 1n << 64n, inheritable: 0n } },
    { name: 'a negative set', fc: { version: 2, effective: true, permitted: -1n, inheritable: 0n } },
    { name: 'v1 with bit 32', fc: { version: 1, effective: false, permitted: 1n << 32n, inheritable: 0n } },
    { name: 'rootid above 32 bits', fc: { version: 3, effective: false, permitted: 0n, inheritable: 0n, rootid: 2 ** 32 } },
    { name: 'version 1 requested', fc: { version: 2, effective: false, permitted: 0n, inheritable: 0n }, version: 1 as 2 },
  ];
  for (const c of bad) {
    test(`rejects ${c.name} with E_FILECAP_INVALID`, () => assert.equal(codeOf(() => encodeFileCaps(c.fc, c.version)), 'E_FILECAP_INVALID'));
  }

  const arbFileCaps = fc.oneof(
    fc.record({
      version: fc.constant(2 as const),
      effective: fc.boolean(),
      permitted: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      inheritable: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    }),
    fc.record({
      version: fc.constant(3 as const),
      effective: fc.boolean(),
      permitted: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      inheritable: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      rootid: fc.integer({ min: 0, max: 0xffffffff }),
    }),
  ).map((r): FileCaps => ({ ...r })); // fc.record builds null-prototype objects
  test('property: decode(encode(x)) == x', () => {
    fc.assert(fc.property(arbFileCaps, (x) => assert.deepEqual(decodeFileCaps(encodeFileCaps(x)), x)), { numRuns: 1000 });
  });
  test('property: encode(decode(b)) == b for canonical values', () => {
    fc.assert(
      fc.property(arbFileCaps, (x) => {
        const b = encodeFileCaps(x);
        assert.deepEqual(encodeFileCaps(decodeFileCaps(b)), b);
      }),
      { numRuns: 300 },
    );
  });
});

describe('widenV1 (the kernel refuses v1 writes)', () => {
  test('v1 becomes v2 with zero upper words and the flags kept', () => {
    const v2 = widenV1(le(0x01000001, 0x2000, 0x4));
    assert.equal(v2.toString('hex'), le(0x02000001, 0x2000, 0x4, 0, 0).toString('hex'));
    assert.deepEqual(decodeFileCaps(v2), { version: 2, effective: true, permitted: caps('NET_RAW'), inheritable: caps('DAC_READ_SEARCH') });
  });
  test('v2 and v3 come back unchanged', () => {
    const v2 = le(0x02000001, 0x2000, 0, 0, 0);
    const v3 = le(0x03000001, 0x2000, 0, 0, 0, 1000);
    assert.deepEqual(widenV1(v2), v2);
    assert.deepEqual(widenV1(v3), v3);
  });
  test('an invalid value is refused', () => {
    assert.equal(codeOf(() => widenV1(le(0x01000000, 0))), 'E_FILECAP_INVALID');
  });
  test('property: widening keeps the meaning of any v1 value', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (eff, p, i) => {
        const v1 = le(0x01000000 | (eff ? 1 : 0), p, i);
        const before = decodeFileCaps(v1);
        const after = decodeFileCaps(widenV1(v1));
        assert.deepEqual(after, { ...before, version: 2 });
      }),
      { numRuns: 300 },
    );
  });
});
