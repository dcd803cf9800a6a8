import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ALL_CAPS,
  CAP,
  CAP_MASK_64,
  capCount,
  capHas,
  capIntersect,
  capIsSubset,
  capMinus,
  capNumber,
  capSetFromMask,
  capSetFromNames,
  capSetToMask,
  capSetToNames,
  capUnion,
  caps,
  parseCapName,
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

describe('parseCapName', () => {
  const ok: [string, string][] = [
    ['NET_RAW', 'CAP_NET_RAW'],
    ['CAP_NET_RAW', 'CAP_NET_RAW'],
    ['cap_net_raw', 'CAP_NET_RAW'],
    ['net_raw', 'CAP_NET_RAW'],
    ['Cap_Sys_Admin', 'CAP_SYS_ADMIN'],
    [' chown ', 'CAP_CHOWN'],
    ['ALL', 'ALL'],
    ['all', 'ALL'],
    ['checkpoint_restore', 'CAP_CHECKPOINT_RESTORE'],
  ];
  for (const [input, want] of ok) {
    test(`accepts ${JSON.stringify(input)} as ${want}`, () => assert.equal(parseCapName(input), want));
  }

  const bad: [string, string][] = [
    ['NET_RAWW', 'E_CAP_UNKNOWN'],
    ['CAP_', 'E_CAP_UNKNOWN'],
    ['', 'E_CAP_UNKNOWN'],
    ['13', 'E_CAP_UNKNOWN'],
    ['CAP_ALL', 'E_CAP_UNKNOWN'],
    ['SYS-ADMIN', 'E_CAP_UNKNOWN'],
  ];
  for (const [input, code] of bad) {
    test(`rejects ${JSON.stringify(input)} with ${code}`, () => assert.equal(codeOf(() => parseCapName(input)), code));
  }

  test('the hint lists near names', () => {
    try {
      parseCapName('NET_RWA');
      assert.fail('should throw');
    } catch (e) {
      assert.ok(isBerthError(e));
      assert.match(e.hint ?? '', /did you mean CAP_NET_RAW/);
      assert.match(e.message, /^parse capability "NET_RWA": unknown capability name$/);
    }
  });

  test('a substring suggests the names containing it', () => {
    try {
      parseCapName('RAWIO');
      assert.fail('should throw');
    } catch (e) {
      assert.ok(isBerthError(e));
      assert.match(e.hint ?? '', /CAP_SYS_RAWIO/);
    }
  });
});

describe('capNumber', () => {
  test('names and numbers', () => {
    assert.equal(capNumber('NET_RAW'), 13);
    assert.equal(capNumber(40), 40);
    assert.equal(capNumber(63), 63);
  });
  const bad: [string | number, string][] = [
    [64, 'E_CAP_UNKNOWN'],
    [-1, 'E_CAP_UNKNOWN'],
    [1.5, 'E_CAP_UNKNOWN'],
    ['ALL', 'E_CAP_UNKNOWN'],
  ];
  for (const [input, code] of bad) {
    test(`rejects ${JSON.stringify(input)}`, () => assert.equal(codeOf(() => capNumber(input)), code));
  }
});

describe('set algebra', () => {
  test('from names, to sorted names', () => {
    const s = capSetFromNames(['SETUID', 'cap_chown', 'CAP_NET_RAW', 'chown']);
    assert.deepEqual(capSetToNames(s), ['CAP_CHOWN', 'CAP_NET_RAW', 'CAP_SETUID']);
    assert.equal(capCount(s), 3);
  });

  test('ALL is every named capability', () => {
    assert.equal(capSetFromNames(['ALL']), ALL_CAPS);
    assert.equal(capCount(ALL_CAPS), 41);
  });

  test('unnamed bits are listed by number after the names', () => {
    const s = caps('CHOWN', 45, 41);
    assert.deepEqual(capSetToNames(s), ['CAP_CHOWN', '41', '45']);
  });

  test('union, intersect, minus, has, subset', () => {
    const a = caps('CHOWN', 'KILL');
    const b = caps('KILL', 'NET_RAW');
    assert.equal(capUnion(a, b), caps('CHOWN', 'KILL', 'NET_RAW'));
    assert.equal(capIntersect(a, b), caps('KILL'));
    assert.equal(capMinus(a, b), caps('CHOWN'));
    assert.equal(capHas(a, 'CAP_KILL'), true);
    assert.equal(capHas(a, CAP.NET_RAW), false);
    assert.equal(capIsSubset(caps('KILL'), a), true);
    assert.equal(capIsSubset(b, a), false);
    assert.equal(capUnion(), 0n);
  });

  test('a value outside 64 bits is refused', () => {
    assert.equal(codeOf(() => capUnion(1n << 64n)), 'E_CAP_SET_INVALID');
    assert.equal(codeOf(() => capMinus(-1n, 0n)), 'E_CAP_SET_INVALID');
  });
});

describe('/proc/PID/status masks', () => {
  const ok: [string, bigint][] = [
    ['000001ffffffffff', ALL_CAPS],
    ['0000000000000000', 0n],
    ['00000000a80425fb', caps('CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'NET_BIND_SERVICE', 'NET_RAW', 'SYS_CHROOT', 'MKNOD', 'AUDIT_WRITE', 'SETFCAP')],
    ['0x2000', caps('NET_RAW')],
    ['FFFFFFFFFFFFFFFF', CAP_MASK_64],
  ];
  for (const [hex, set] of ok) {
    test(`parses ${hex}`, () => assert.equal(capSetFromMask(hex), set));
  }
  test('prints 16 lower-case hex digits', () => {
    assert.equal(capSetToMask(ALL_CAPS), '000001ffffffffff');
    assert.equal(capSetToMask(caps('NET_RAW')), '0000000000002000');
  });
  const bad = ['', '0x', '00000000000000000', 'xyz', '12 34', '-1'];
  for (const hex of bad) {
    test(`rejects ${JSON.stringify(hex)}`, () => assert.equal(codeOf(() => capSetFromMask(hex)), 'E_CAP_MASK_INVALID'));
  }
  test('property: capSetFromMask(capSetToMask(s)) == s', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: CAP_MASK_64 }), (s) => capSetFromMask(capSetToMask(s)) === s),
      { numRuns: 500 },
    );
  });
  test('property: names round trip for named sets', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: ALL_CAPS }), (s) => capSetFromNames(capSetToNames(s)) === s),
      { numRuns: 300 },
    );
  });
});
