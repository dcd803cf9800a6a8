import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { goAtoi, goAtoiLenient, goAtoiLenientNumber, goParseInt, goParseUint, goTrimSpace, goUint32, goQuote, goNumErrorText } from '../../src/identity/numeric.js';

describe('goAtoi: strconv.Atoi on a 64-bit host (identity.md rule 4)', () => {
  const cases: { name: string; s: string; kind: 'ok' | 'syntax' | 'range'; value?: bigint }[] = [
    { name: 'plain number', s: '1000', kind: 'ok', value: 1000n },
    { name: 'leading plus is numeric', s: '+1000', kind: 'ok', value: 1000n },
    { name: 'leading zeros are numeric', s: '01000', kind: 'ok', value: 1000n },
    { name: 'minus zero is numeric', s: '-0', kind: 'ok', value: 0n },
    { name: 'negative number', s: '-42', kind: 'ok', value: -42n },
    { name: 'hex is a name', s: '0x10', kind: 'syntax' },
    { name: 'exponent is a name', s: '1e3', kind: 'syntax' },
    { name: 'leading space is a name', s: ' 1', kind: 'syntax' },
    { name: 'trailing space is a name', s: '1 ', kind: 'syntax' },
    { name: 'underscore is a name (base 10 given)', s: '1_000', kind: 'syntax' },
    { name: 'empty is a syntax error', s: '', kind: 'syntax' },
    { name: 'sign alone is a syntax error', s: '+', kind: 'syntax' },
    { name: 'int64 max', s: '9223372036854775807', kind: 'ok', value: 9223372036854775807n },
    { name: 'int64 max + 1 is a range error, clamped', s: '9223372036854775808', kind: 'range', value: 9223372036854775807n },
    { name: 'int64 min', s: '-9223372036854775808', kind: 'ok', value: -9223372036854775808n },
    { name: 'below int64 min is a range error, clamped', s: '-9223372036854775809', kind: 'range', value: -9223372036854775808n },
    { name: 'uint64 overflow before trailing garbage is a range error', s: '99999999999999999999x', kind: 'range' },
    { name: 'int64 overflow within uint64 then garbage is a syntax error', s: '9223372036854775808x', kind: 'syntax' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = goAtoi(c.s);
      assert.equal(r.kind, c.kind);
      if (c.value !== undefined) assert.equal(r.value, c.value);
    });
  }
});

describe('goParseUint / goParseInt with bit sizes', () => {
  test('ParseUint 32 rejects a sign', () => assert.equal(goParseUint('+5', 32).kind, 'syntax'));
  test('ParseUint 32 accepts 4294967295', () => assert.deepEqual(goParseUint('4294967295', 32), { kind: 'ok', value: 4294967295n }));
  test('ParseUint 32 range error above 2^32-1', () => assert.equal(goParseUint('4294967296', 32).kind, 'range'));
  test('ParseInt 32 accepts -2147483648', () => assert.deepEqual(goParseInt('-2147483648', 32), { kind: 'ok', value: -2147483648n }));
  test('ParseInt 32 range error at 2147483648', () => assert.equal(goParseInt('2147483648', 32).kind, 'range'));
  test('uint32 conversion keeps the low 32 bits', () => {
    assert.equal(goUint32(4294967296n), 0);
    assert.equal(goUint32(-1n), 4294967295);
    assert.equal(goUint32(9223372036854775807n), 4294967295);
  });
  test('property: ParseUint 64 agrees with BigInt for digit strings', () => {
    fc.assert(fc.property(fc.stringMatching(/^[0-9]{1,25}$/), (s) => {
      const r = goParseUint(s, 64);
      const v = BigInt(s);
      if (v <= (1n << 64n) - 1n) assert.deepEqual(r, { kind: 'ok', value: v });
      else assert.equal(r.kind, 'range');
    }));
  });
});

describe('goTrimSpace: bytes.TrimSpace (unicode.IsSpace), not String.prototype.trim', () => {
  const cases: { name: string; s: string; out: string }[] = [
    { name: 'ASCII spaces and CR', s: ' \t\r\n\v\fa b\r', out: 'a b' },
    { name: 'NEL U+0085 is space in Go', s: '\u0085root', out: 'root' },
    { name: 'NBSP U+00A0 is space', s: '\u00a0root\u00a0', out: 'root' },
    { name: 'BOM U+FEFF is NOT space in Go', s: '\ufeffroot', out: '\ufeffroot' },
    { name: 'ideographic space U+3000', s: '\u3000x', out: 'x' },
    { name: 'inner spaces kept', s: '  a  b  ', out: 'a  b' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(goTrimSpace(c.s), c.out));
});

describe('Go error texts', () => {
  test('goQuote escapes like strconv.Quote for common characters', () => assert.equal(goQuote('a"b\\\n'), '"a\\"b\\\\\\n"'));
  test('NumError text', () => assert.equal(goNumErrorText('ParseUint', '-5', 'syntax'), 'strconv.ParseUint: parsing "-5": invalid syntax'));
});

describe('goAtoiLenientNumber: the fast path agrees with Atoi', () => {
  test('property: same value as goAtoiLenient for short and long inputs', () => {
    fc.assert(fc.property(fc.oneof(fc.stringMatching(/^[+-]?[0-9]{0,20}$/), fc.string({ maxLength: 20 })), (s) => {
      const slow = goAtoiLenient(s);
      const fast = goAtoiLenientNumber(s);
      if (slow >= -(2n ** 53n) && slow <= 2n ** 53n) assert.ok(Object.is(fast, Number(slow)), `${s}: ${fast} vs ${slow}`);
    }));
  });
});
