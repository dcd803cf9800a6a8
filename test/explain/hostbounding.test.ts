/**
 * --cap-add against the bounding set of the process running berth: the decision `berth run`
 * (fitCapAddToHost) and `berth explain` (CAP_NOT_IN_HOST_BOUNDING) share.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ALL_CAPS, capSetFromNames, capSetToMask, capSetToNames } from '../../src/caps/set.js';
import type { Warning } from '../../src/errors/index.js';
import { capAddWithinBounding } from '../../src/explain/hostbounding.js';
import { fitCapAddToHost } from '../../src/api/run.js';

const NO_SYS_RESOURCE = ALL_CAPS & ~capSetFromNames(['CAP_SYS_RESOURCE']);
const NO_SYS_RESOURCE_MASK = '000001fffeffffff';

describe('capAddWithinBounding', () => {
  const ok: { name: string; add: string[]; host: bigint; want: { add: string[]; missing: string[]; allNotHeld: string[] } }[] = [
    { name: 'a full host set leaves the list alone', add: ['ALL'], host: ALL_CAPS, want: { add: ['ALL'], missing: [], allNotHeld: [] } },
    { name: 'a held capability passes', add: ['net_admin'], host: NO_SYS_RESOURCE, want: { add: ['net_admin'], missing: [], allNotHeld: [] } },
    { name: 'a missing capability is reported by its CAP_ name', add: ['sys_resource', 'NET_ADMIN'], host: NO_SYS_RESOURCE, want: { add: ['sys_resource', 'NET_ADMIN'], missing: ['CAP_SYS_RESOURCE'], allNotHeld: [] } },
    {
      name: 'ALL becomes every held capability',
      add: ['ALL'],
      host: NO_SYS_RESOURCE,
      want: { add: capSetToNames(NO_SYS_RESOURCE), missing: [], allNotHeld: ['CAP_SYS_RESOURCE'] },
    },
  ];
  for (const c of ok) {
    test(c.name, () => assert.deepEqual(capAddWithinBounding(c.add, c.host), c.want));
  }

  test('an unknown name is E_CAP_UNKNOWN', () => {
    assert.throws(() => capAddWithinBounding(['NOPE'], ALL_CAPS), { code: 'E_CAP_UNKNOWN' });
  });

  test('property: what it returns stays inside the host set, and ALL is fully replaced', () => {
    const names = capSetToNames(ALL_CAPS);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: ALL_CAPS }), fc.subarray(names), fc.boolean(), (host, picked, all) => {
        const r = capAddWithinBounding(all ? ['ALL', ...picked] : picked, host);
        assert.equal(capSetFromNames(r.missing), capSetFromNames(picked) & ~host);
        if (r.missing.length > 0) return;
        if (all && host !== ALL_CAPS) {
          assert.ok(!r.add.includes('ALL'));
          assert.equal(capSetFromNames(r.add), host);
          assert.equal(capSetFromNames(r.allNotHeld), ALL_CAPS & ~host);
        }
      }),
    );
  });
});

describe('fitCapAddToHost (berth run)', () => {
  test('rootful: an explicit capability outside the host set is E_CAP_NOT_IN_HOST_BOUNDING naming it', () => {
    assert.throws(() => fitCapAddToHost(['SYS_RESOURCE'], NO_SYS_RESOURCE_MASK, false, () => {}), (e: Error & { code?: string; hint?: string }) => {
      assert.equal(e.code, 'E_CAP_NOT_IN_HOST_BOUNDING');
      assert.match(e.message, /CAP_SYS_RESOURCE/);
      assert.match(e.hint ?? '', /bounding set/);
      return true;
    });
  });
  test('rootful: ALL is every held capability, with one W_CAP_HOST_BOUNDING', () => {
    const warnings: Warning[] = [];
    const add = fitCapAddToHost(['ALL'], NO_SYS_RESOURCE_MASK, false, (w) => warnings.push(w));
    assert.equal(capSetFromNames(add), NO_SYS_RESOURCE);
    assert.deepEqual(warnings.map((w) => w.code), ['W_CAP_HOST_BOUNDING']);
    assert.match(warnings[0]!.message, /CAP_SYS_RESOURCE/);
  });
  test('rootless: the user namespace has a full bounding set, nothing changes', () => {
    const warnings: Warning[] = [];
    assert.deepEqual(fitCapAddToHost(['ALL', 'SYS_RESOURCE'], NO_SYS_RESOURCE_MASK, true, (w) => warnings.push(w)), ['ALL', 'SYS_RESOURCE']);
    assert.deepEqual(warnings, []);
  });
  test('a full host set changes nothing', () => {
    assert.deepEqual(fitCapAddToHost(['ALL'], capSetToMask(ALL_CAPS), false, () => {}), ['ALL']);
  });
});
