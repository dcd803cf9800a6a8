import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decideHostMode,
  fileCapGrants,
  overlayInUsernsSupported,
  parseKernelRelease,
  parseProcLimits,
  parseProcStatus,
  parseSysctlInt,
  type HostMode,
} from '../../src/host/index.js';
import type { IdMap } from '../../src/idmap/index.js';

describe('decideHostMode (userns.md Step 0)', () => {
  const full: IdMap = [{ container: 0, host: 0, size: 4294967295 }];
  const inner: IdMap = [
    { container: 0, host: 1001, size: 1 },
    { container: 1, host: 100000, size: 65536 },
  ];
  const cases: { name: string; euid: number; map: IdMap; want: HostMode }[] = [
    { name: 'root in the initial namespace', euid: 0, map: full, want: 'rootful' },
    { name: 'root inside a user namespace (berth re-entered, or in a container)', euid: 0, map: inner, want: 'in-userns' },
    { name: 'a plain user', euid: 1001, map: full, want: 'rootless' },
    { name: 'a plain user inside a user namespace', euid: 1000, map: inner, want: 'rootless' },
    { name: 'root with a map that is only large, not full', euid: 0, map: [{ container: 0, host: 0, size: 4294967294 }], want: 'in-userns' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(decideHostMode(c.euid, c.map), c.want));
});

describe('parseProcStatus', () => {
  const status = [
    'Name:\tnode',
    'Uid:\t1001\t1001\t1001\t1001',
    'CapInh:\t0000000000000000',
    'CapPrm:\t0000000000000000',
    'CapEff:\t0000000000000000',
    'CapBnd:\t000001fffeffffff',
    'CapAmb:\t0000000000000000',
    'NoNewPrivs:\t1',
    'Seccomp:\t2',
    'Seccomp_filters:\t1',
  ].join('\n');
  test('no_new_privs, caps and seccomp of a process under setpriv --no-new-privs in a container', () => {
    assert.deepEqual(parseProcStatus(status), {
      noNewPrivs: true,
      capEff: '0000000000000000',
      capPrm: '0000000000000000',
      capBnd: '000001fffeffffff',
      seccomp: 2,
    });
  });
  test('NoNewPrivs: 0 is off', () => assert.equal(parseProcStatus('NoNewPrivs:\t0\n').noNewPrivs, false));
  test('missing fields read as off and empty', () => {
    assert.deepEqual(parseProcStatus(''), { noNewPrivs: false, capEff: '0'.repeat(16), capPrm: '0'.repeat(16), capBnd: '0'.repeat(16) });
  });
});

describe('parseProcLimits', () => {
  const text = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max cpu time              unlimited            unlimited            seconds   ',
    'Max stack size            8388608              unlimited            bytes     ',
    'Max processes             96365                96365                processes ',
    'Max open files            1024                 524288               files     ',
    'Max nice priority         0                    0                    ',
    'Max realtime timeout      unlimited            unlimited            us        ',
    'Max future thing          1                    2                    things    ',
  ].join('\n');
  test('rows become OCI rlimit names; unknown rows are ignored', () => {
    assert.deepEqual(parseProcLimits(text), {
      RLIMIT_CPU: { soft: 'unlimited', hard: 'unlimited' },
      RLIMIT_STACK: { soft: 8388608, hard: 'unlimited' },
      RLIMIT_NPROC: { soft: 96365, hard: 96365 },
      RLIMIT_NOFILE: { soft: 1024, hard: 524288 },
      RLIMIT_NICE: { soft: 0, hard: 0 },
      RLIMIT_RTTIME: { soft: 'unlimited', hard: 'unlimited' },
    });
  });
  test('a row whose values do not parse is left out', () => {
    assert.deepEqual(parseProcLimits('Max open files            lots                 524288               files\n'), {});
  });
  test('any text parses without throwing', () => {
    fc.assert(fc.property(fc.string(), (s) => void parseProcLimits(s)));
  });
});

describe('kernel release and overlay in a user namespace (Linux >= 5.11)', () => {
  const cases: { release: string; major: number; minor: number; overlay: boolean }[] = [
    { release: '6.18.44-fc-v657', major: 6, minor: 18, overlay: true },
    { release: '6.1.0-18-amd64', major: 6, minor: 1, overlay: true },
    { release: '5.11.0', major: 5, minor: 11, overlay: true },
    { release: '5.10.0-28-amd64', major: 5, minor: 10, overlay: false },
    { release: '4.19.0', major: 4, minor: 19, overlay: false },
    { release: 'weird', major: 0, minor: 0, overlay: false },
  ];
  for (const c of cases) {
    test(c.release, () => {
      const k = parseKernelRelease(c.release);
      assert.deepEqual(k, { release: c.release, major: c.major, minor: c.minor });
      assert.equal(overlayInUsernsSupported(k), c.overlay);
    });
  }
});

describe('parseSysctlInt', () => {
  const cases: [string | undefined, number | undefined][] = [
    ['96365\n', 96365],
    ['0\n', 0],
    ['1', 1],
    [undefined, undefined],
    ['', undefined],
    ['yes', undefined],
  ];
  for (const [text, want] of cases) test(JSON.stringify(text), () => assert.equal(parseSysctlInt(text), want));
});

describe('fileCapGrants (security.capability of a map tool)', () => {
  // Observed: `setcap cap_setuid+ep newuidmap` stores v2 0x0100000280000000 + zeros.
  const setuidEp = Buffer.from('0100000280000000000000000000000000000000', 'hex');
  const setgidEp = Buffer.from('0100000240000000000000000000000000000000', 'hex');
  const setuidPOnly = Buffer.from('0000000280000000000000000000000000000000', 'hex');
  const v3 = Buffer.from('01000003800000000000000000000000000000000000e903', 'hex');
  const cases: { name: string; value: Buffer; bit: number; want: boolean }[] = [
    { name: 'cap_setuid=ep grants CAP_SETUID (7)', value: setuidEp, bit: 7, want: true },
    { name: 'cap_setuid=ep does not grant CAP_SETGID (6)', value: setuidEp, bit: 6, want: false },
    { name: 'cap_setgid=ep grants CAP_SETGID', value: setgidEp, bit: 6, want: true },
    { name: 'cap_setuid=p without the effective flag does not count', value: setuidPOnly, bit: 7, want: false },
    { name: 'v3 with a rootid still carries the bits', value: v3, bit: 7, want: true },
    { name: 'a truncated value grants nothing', value: setuidEp.subarray(0, 8), bit: 7, want: false },
  ];
  for (const c of cases) test(c.name, () => assert.equal(fileCapGrants(c.value, c.bit), c.want));
});
