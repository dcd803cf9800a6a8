import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeBase64,
  decodeLibarchiveName,
  decodeSchilyName,
  encodeSchilyName,
  formatPaxRecord,
  formatPaxTime,
  parsePaxRecords,
  parsePaxTime,
} from '../../../src/layer/tar/pax.js';
import { FieldError } from '../../../src/layer/tar/header.js';

const byteString = (min: number, max: number, exclude: number[] = []) =>
  fc
    .uint8Array({ minLength: min, maxLength: max })
    .map((a) => Buffer.from(a.map((b) => (exclude.includes(b) ? 0x41 : b))).toString('latin1'));

function records(data: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  parsePaxRecords(data, (k, v) => out.push([k, v.toString('hex')]));
  return out;
}

describe('pax records', () => {
  test('parse(format(records)) gives back the keys and the raw value bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(byteString(1, 40, [0x3d]), fc.uint8Array({ maxLength: 300 })), { maxLength: 8 }),
        (recs) => {
          const data = Buffer.concat(recs.map(([k, v]) => formatPaxRecord(k, v)));
          assert.deepEqual(
            records(data),
            recs.map(([k, v]) => [k, Buffer.from(v).toString('hex')]),
          );
        },
      ),
    );
  });

  test('the length prefix counts itself across digit boundaries', () => {
    // Records of total length 9/10/11 and 99/100/101 are where a naive prefix is off by one.
    for (let valueLen = 0; valueLen < 1100; valueLen++) {
      const rec = formatPaxRecord('k', Buffer.alloc(valueLen, 0x76));
      const space = rec.indexOf(0x20);
      assert.equal(Number(rec.toString('latin1', 0, space)), rec.length, `value length ${valueLen}`);
    }
  });

  test('the value is cut by length only: newline, NUL and "=" inside a value', () => {
    const v = Buffer.from('a\nb\0c=d\n', 'latin1');
    assert.deepEqual(records(formatPaxRecord('SCHILY.xattr.user.x', v)), [['SCHILY.xattr.user.x', v.toString('hex')]]);
  });

  test('GNU tar output parses (lengths as GNU writes them)', () => {
    const data = Buffer.from('30 mtime=1795331332.176661424\n57 SCHILY.xattr.security.capability=', 'latin1');
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    assert.deepEqual(records(Buffer.concat([data, cap, Buffer.from('\n')])), [
      ['mtime', Buffer.from('1795331332.176661424').toString('hex')],
      ['SCHILY.xattr.security.capability', cap.toString('hex')],
    ]);
  });

  test('arbitrary bytes either parse or fail with a FieldError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (a) => {
        try {
          parsePaxRecords(Buffer.from(a), () => {});
        } catch (e) {
          assert.ok(e instanceof FieldError, String(e));
        }
      }),
    );
  });

  const malformed: Array<[string, string]> = [
    ['no length', 'uid=1\n'],
    ['length too short for the record', '3 uid=1\n'],
    ['length beyond the data', '12 uid=1\n'],
    ['no newline at the end', '9 uid=123'],
    ['no equals sign', '8 uid12\n'],
    ['empty key', '5 =1\n'],
    ['data after NUL padding', '8 uid=1\n\0x'],
  ];
  for (const [name, text] of malformed) {
    test(`refuses: ${name}`, () => {
      assert.throws(() => parsePaxRecords(Buffer.from(text, 'latin1'), () => {}), FieldError);
    });
  }
});

describe('pax time', () => {
  test('format then parse is the identity, including before 1970', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999_999_999 })),
        (sec, nsec) => {
          assert.deepEqual(parsePaxTime(Buffer.from(formatPaxTime({ sec, nsec })), 'mtime'), { sec, nsec });
        },
      ),
    );
  });

  const rows: Array<[string, { sec: number; nsec: number }]> = [
    ['0', { sec: 0, nsec: 0 }],
    ['-0', { sec: 0, nsec: 0 }],
    ['1.5', { sec: 1, nsec: 500_000_000 }],
    ['1795331332.19949142', { sec: 1_795_331_332, nsec: 199_491_420 }],
    ['1.1234567899', { sec: 1, nsec: 123_456_789 }],
    ['-1.5', { sec: -2, nsec: 500_000_000 }],
    ['-0.000000001', { sec: -1, nsec: 999_999_999 }],
  ];
  for (const [text, want] of rows) test(`parses ${text}`, () => assert.deepEqual(parsePaxTime(Buffer.from(text), 'mtime'), want));
  for (const bad of ['', '1.', '.5', '1e9', ' 1', '1.2.3', '+1', '99999999999999999999']) {
    test(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => parsePaxTime(Buffer.from(bad), 'mtime'), FieldError));
  }
});

describe('xattr name coding', () => {
  test('GNU %-coding is reversible for any byte-string name', () => {
    fc.assert(
      fc.property(byteString(1, 60, [0]), (name) => {
        const enc = encodeSchilyName(name);
        assert.ok(!enc.includes('='));
        assert.equal(decodeSchilyName(enc), name);
      }),
    );
  });

  const rows: Array<[string, string]> = [
    ['user.a%3Db%25c', 'user.a=b%c'],
    ['user.%253D', 'user.%3D'],
    ['user.%41', 'user.%41'],
    ['user.%3d', 'user.%3d'],
  ];
  for (const [key, name] of rows) test(`SCHILY ${key} -> ${name}`, () => assert.equal(decodeSchilyName(key), name));

  test('libarchive names decode any %XX', () => {
    assert.equal(decodeLibarchiveName('user.a%3Db%20c%ff'), 'user.a=b c\xff');
    assert.equal(decodeLibarchiveName('user.100%'), 'user.100%');
  });

  test('base64 with or without padding; malformed is null', () => {
    assert.deepEqual(decodeBase64('AP/+gA'), Buffer.from('00fffe80', 'hex'));
    assert.deepEqual(decodeBase64('AP/+gA=='), Buffer.from('00fffe80', 'hex'));
    assert.deepEqual(decodeBase64(''), Buffer.alloc(0));
    for (const bad of ['A', 'AP/+gA=', 'a b', '!!!!', 'AAA==']) assert.equal(decodeBase64(bad), null, bad);
  });
});
