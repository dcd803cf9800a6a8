import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FieldError,
  headerFormat,
  octalMax,
  readBytesField,
  readNumberField,
  signedChecksum,
  unsignedChecksum,
  writeChecksum,
  writeOctalField,
} from '../../../src/layer/tar/header.js';

/** GNU base-256: marker bit, then a two's complement number over the remaining bits. */
function base256(len: number, v: bigint): Buffer {
  const out = Buffer.alloc(len);
  let x = v < 0n ? (1n << BigInt(8 * len)) + v : v;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  out[0] |= 0x80;
  return out;
}

describe('numeric fields', () => {
  test('octal write then read is the identity for every value that fits', () => {
    fc.assert(
      fc.property(fc.constantFrom(8, 12), fc.nat(), (len, seed) => {
        const v = seed % (octalMax(len) + 1);
        const b = Buffer.alloc(len);
        writeOctalField(b, 0, len, v);
        assert.equal(readNumberField(b, 0, len, 'f'), v);
      }),
    );
  });

  test('base-256 reads any safe integer, negative only where allowed', () => {
    fc.assert(
      fc.property(fc.constantFrom(8, 12), fc.maxSafeInteger(), (len, v) => {
        const b = base256(len, BigInt(v));
        if (v >= 0) assert.equal(readNumberField(b, 0, len, 'f'), v);
        else assert.throws(() => readNumberField(b, 0, len, 'f'), FieldError);
        assert.equal(readNumberField(b, 0, len, 'f', true), v);
      }),
    );
  });

  const ok: Array<[string, string | Buffer, number]> = [
    ['zero-padded with NUL', '0000644\0', 0o644],
    ['space-terminated', '000644 \0', 0o644],
    ['leading spaces', '    644\0', 0o644],
    ['blank', '\0\0\0\0\0\0\0\0', 0],
    ['all spaces', '        ', 0],
    ['field-filling digits, no terminator', '77777777', 0o77777777],
    ['base-256 3000000', base256(8, 3_000_000n), 3_000_000],
  ];
  for (const [name, text, want] of ok) {
    test(`reads ${name}`, () => {
      const b = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
      assert.equal(readNumberField(b, 0, b.length, 'f'), want);
    });
  }

  const bad: Array<[string, string | Buffer]> = [
    ['a non-octal digit', '0000648\0'],
    ['a letter', '00x0644\0'],
    ['digits after the terminator', '064 4\0\0\0'],
    ['a minus sign', '-000001\0'],
    ['base-256 beyond 2^53', Buffer.from([0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
  ];
  for (const [name, text] of bad) {
    test(`refuses ${name}`, () => {
      const b = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
      assert.throws(() => readNumberField(b, 0, b.length, 'uid'), (e) => e instanceof FieldError && e.field === 'uid');
    });
  }
});

describe('header block', () => {
  test('writeChecksum gives the unsigned sum; the signed sum differs only for bytes >= 0x80', () => {
    const b = Buffer.alloc(512);
    b.write('caf\xe9', 0, 'latin1');
    writeChecksum(b);
    assert.equal(readNumberField(b, 148, 8, 'chksum'), unsignedChecksum(b));
    assert.equal(unsignedChecksum(b) - signedChecksum(b), 256);
  });

  test('magic decides the format', () => {
    const b = Buffer.alloc(512);
    assert.equal(headerFormat(b), 'v7');
    b.write('ustar\x0000', 257, 'latin1');
    assert.equal(headerFormat(b), 'ustar');
    b.write('ustar  \0', 257, 'latin1');
    assert.equal(headerFormat(b), 'gnu');
  });

  test('string fields end at NUL or fill the field', () => {
    const b = Buffer.alloc(20, 0x61);
    b[3] = 0;
    assert.equal(readBytesField(b, 0, 10), 'aaa');
    assert.equal(readBytesField(b, 4, 10), 'a'.repeat(10));
  });
});
