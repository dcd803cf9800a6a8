/**
 * Flag parsers and input checks: success and failure tables (failures assert the error code),
 * and property tests for the parsers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBerthError } from '../../src/errors/index.js';
import { explain, parseSecurityOpts, parseSubuidRange, parseUidRange, type ExplainInput } from '../../src/explain/index.js';
import { DEBIAN_CONFIG, debianFiles, image } from './fixtures.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (isBerthError(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe('parseSubuidRange', () => {
  for (const [s, want] of [
    ['100000:65536', { start: 100000, count: 65536 }],
    ['0:1', { start: 0, count: 1 }],
    ['4294967294:1', { start: 4294967294, count: 1 }],
  ] as const) {
    test(`parses ${s}`, () => assert.deepEqual(parseSubuidRange(s), want));
  }
  for (const s of ['100000', '100000:', ':5', '1e5:10', '-1:5', '100000:0', '4294967295:1', '10:20:30', ' 1:2']) {
    test(`rejects "${s}"`, () => assert.equal(code(() => parseSubuidRange(s)), 'E_OPTION_INVALID'));
  }
  test('property: formatting a valid range and parsing it gives it back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4294967294 }), fc.integer({ min: 1, max: 4294967295 }), (start, count) => {
        fc.pre(start + count <= 4294967295);
        assert.deepEqual(parseSubuidRange(`${start}:${count}`), { start, count });
      }),
    );
  });
  test('property: any string either parses to a valid range or fails with E_OPTION_INVALID', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          const r = parseSubuidRange(s);
          assert.ok(r.count >= 1 && r.start + r.count <= 4294967295);
        } catch (e) {
          assert.ok(isBerthError(e) && e.code === 'E_OPTION_INVALID');
        }
      }),
    );
  });
});

describe('parseUidRange', () => {
  test('parses the OpenShift annotation form', () => assert.deepEqual(parseUidRange('1000680000/10000'), { start: 1000680000, size: 10000 }));
  for (const s of ['1000680000', '1000680000:10000', '1/0', '2147483647/2', 'a/b', '']) {
    test(`rejects "${s}"`, () => assert.equal(code(() => parseUidRange(s)), 'E_OPTION_INVALID'));
  }
  test('property: START/SIZE round trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2147483647 }), fc.integer({ min: 1, max: 10000000 }), (start, size) => {
        fc.pre(start + size - 1 <= 2147483647);
        assert.deepEqual(parseUidRange(`${start}/${size}`), { start, size });
      }),
    );
  });
});

describe('parseSecurityOpts', () => {
  const cases: [string[], boolean | undefined, string[]][] = [
    [['no-new-privileges'], true, []],
    [['no-new-privileges:true'], true, []],
    [['no-new-privileges=true'], true, []],
    [['no-new-privileges:false'], false, []],
    [['seccomp=unconfined', 'no-new-privileges'], true, ['seccomp=unconfined']],
    [['label=disable'], undefined, ['label=disable']],
    [['no-new-privileges', 'no-new-privileges:false'], false, []],
  ];
  for (const [opts, nnp, ignored] of cases) {
    test(`${opts.join(' ')}`, () => {
      const r = parseSecurityOpts(opts);
      assert.equal(r.noNewPrivileges, nnp);
      assert.deepEqual(r.ignored, ignored);
    });
  }
  for (const bad of ['no-new-privileges:yes', '']) {
    test(`rejects "${bad}"`, () => assert.equal(code(() => parseSecurityOpts([bad])), 'E_OPTION_INVALID'));
  }
});

describe('explain input checks', () => {
  const img = image(debianFiles(), DEBIAN_CONFIG);
  const failures: { name: string; input: ExplainInput; code: string }[] = [
    { name: 'a relative --workdir', input: { image: img, run: { workdir: 'app' } }, code: 'E_WORKDIR_INVALID' },
    { name: 'an unknown profile', input: { image: img, profile: 'lxc' as never }, code: 'E_PROFILE_UNKNOWN' },
    { name: '--pod with --profile docker', input: { image: img, profile: 'docker', pod: {} }, code: 'E_OPTION_CONFLICT' },
    { name: '--pod with --user', input: { image: img, pod: {}, run: { user: '1000' } }, code: 'E_OPTION_CONFLICT' },
    { name: '--pod with a command after IMAGE', input: { image: img, pod: {}, run: { args: ['sh'] } }, code: 'E_OPTION_CONFLICT' },
    { name: '--uid-range without --profile openshift', input: { image: img, run: { uidRange: { start: 1, size: 2 } } }, code: 'E_OPTION_CONFLICT' },
    { name: '--subuid-range with --profile docker', input: { image: img, profile: 'docker', run: { subuidRange: { start: 100000, count: 65536 } } }, code: 'E_OPTION_CONFLICT' },
    { name: '--userns keep-id with --profile kubernetes', input: { image: img, profile: 'kubernetes', run: { userns: 'keep-id' } }, code: 'E_OPTION_CONFLICT' },
    { name: '--runtime-default with --profile berth', input: { image: img, cri: 'containerd' }, code: 'E_OPTION_CONFLICT' },
    { name: 'kubernetes takes a numeric --user', input: { image: img, profile: 'kubernetes', run: { user: 'foo' } }, code: 'E_OPTION_INVALID' },
    { name: 'kubernetes takes numeric --group-add', input: { image: img, profile: 'kubernetes', run: { groupAdd: ['bar'] } }, code: 'E_OPTION_INVALID' },
    { name: 'an unknown capability name', input: { image: img, run: { capAdd: ['NET_RWA'] } }, code: 'E_CAP_UNKNOWN' },
    { name: 'an unknown --userns mode', input: { image: img, profile: 'podman', run: { userns: 'sideways' } }, code: 'E_USERNS_MODE' },
  ];
  for (const c of failures) {
    test(`rejects ${c.name}`, () => assert.equal(code(() => explain(c.input)), c.code));
  }

  const successes: { name: string; input: ExplainInput; check: (r: ReturnType<typeof explain>) => void }[] = [
    { name: '--pod implies --profile kubernetes', input: { image: img, pod: { runAsUser: 1000 } }, check: (r) => assert.equal(r.profile, 'kubernetes') },
    {
      name: 'kubernetes without --pod: --user N:G becomes runAsUser/runAsGroup',
      input: { image: img, profile: 'kubernetes', run: { user: '1000:3000', groupAdd: ['4000'] } },
      check: (r) => assert.deepEqual([r.process.user?.uid, r.process.user?.gid, r.process.user?.additionalGids], [1000, 3000, [3000, 4000]]),
    },
    {
      name: 'kubernetes without --pod: --security-opt no-new-privileges is allowPrivilegeEscalation: false',
      input: { image: img, profile: 'kubernetes', run: { noNewPrivileges: true } },
      check: (r) => assert.equal(r.process.noNewPrivileges, true),
    },
    { name: '--userns host is accepted for every profile', input: { image: img, profile: 'docker', run: { userns: 'host' } }, check: (r) => assert.equal(r.profile, 'docker') },
  ];
  for (const c of successes) {
    test(c.name, () => c.check(explain(c.input)));
  }
});
