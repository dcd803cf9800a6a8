import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CAP_FS_SET,
  capSetToNames,
  caps,
  defaultCaps,
  processCapsFor,
  setuidTransition,
  type CapEngine,
  type CapSet,
  type SetuidCall,
  type SetuidRule,
  type SetuidState,
} from '../../src/caps/index.js';
import { isBerthError } from '../../src/errors/index.js';

const N = (s: CapSet): string[] => capSetToNames(s);

describe('processCapsFor: what each runtime gives the process before exec', () => {
  const cases: {
    name: string;
    engine: CapEngine;
    uid: number;
    capAdd?: CapSet;
    effective: CapSet;
    permitted: CapSet;
    inheritable: CapSet;
    ambient: CapSet;
  }[] = [
    { name: 'docker uid 0: effective = permitted = bounding', engine: 'docker', uid: 0, effective: defaultCaps('docker'), permitted: defaultCaps('docker'), inheritable: 0n, ambient: 0n },
    { name: 'docker uid 1000: bounding only (moby oci.SetCapabilities)', engine: 'docker', uid: 1000, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n },
    { name: 'containerd uid 1000: effective = permitted = bounding, no ambient', engine: 'containerd', uid: 1000, effective: defaultCaps('docker'), permitted: defaultCaps('docker'), inheritable: 0n, ambient: 0n },
    { name: 'cri-o uid 1000: effective = permitted = bounding, no ambient', engine: 'cri-o', uid: 1000, effective: defaultCaps('docker'), permitted: defaultCaps('docker'), inheritable: 0n, ambient: 0n },
    { name: 'podman uid 0: effective = permitted = bounding', engine: 'podman', uid: 0, effective: defaultCaps('docker'), permitted: defaultCaps('docker'), inheritable: 0n, ambient: 0n },
    { name: 'podman uid 1000 without --cap-add: nothing', engine: 'podman', uid: 1000, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n },
    {
      name: 'podman uid 1000 with --cap-add NET_BIND_SERVICE: raised in E, P, I and A',
      engine: 'podman',
      uid: 1000,
      capAdd: caps('NET_BIND_SERVICE'),
      effective: caps('NET_BIND_SERVICE'),
      permitted: caps('NET_BIND_SERVICE'),
      inheritable: caps('NET_BIND_SERVICE'),
      ambient: caps('NET_BIND_SERVICE'),
    },
    {
      name: 'podman uid 1000: --cap-add caps outside the bounding set are not given',
      engine: 'podman',
      uid: 1000,
      capAdd: caps('SYS_ADMIN'),
      effective: 0n,
      permitted: 0n,
      inheritable: 0n,
      ambient: 0n,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const bounding = defaultCaps('docker');
      const r = processCapsFor({ uid: c.uid, bounding, engine: c.engine, capAdd: c.capAdd });
      assert.equal(r.bounding, bounding);
      assert.deepEqual(N(r.effective), N(c.effective));
      assert.deepEqual(N(r.permitted), N(c.permitted));
      assert.deepEqual(N(r.inheritable), N(c.inheritable));
      assert.deepEqual(N(r.ambient), N(c.ambient));
      assert.ok(r.because.length > 0);
    });
  }
  test('docker is the default engine', () => {
    assert.equal(processCapsFor({ uid: 1000, bounding: defaultCaps('docker') }).permitted, 0n);
  });
  test('a bounding set beyond 64 bits is refused', () => {
    assert.throws(
      () => processCapsFor({ uid: 0, bounding: 1n << 64n }),
      (e: unknown) => isBerthError(e) && e.code === 'E_CAP_SET_INVALID',
    );
  });
  test('an unknown engine is refused', () => {
    assert.throws(
      () => processCapsFor({ uid: 0, bounding: 0n, engine: 'lxc' as CapEngine }),
      (e: unknown) => isBerthError(e) && e.code === 'E_CAP_ENGINE_UNKNOWN',
    );
  });
});

describe('setuidTransition: section 4.2 rules, one per case', () => {
  const FULL = defaultCaps('docker');
  const root = (extra: Partial<SetuidState> = {}): SetuidState => ({
    effective: FULL,
    permitted: FULL,
    inheritable: caps('NET_BIND_SERVICE'),
    ambient: caps('NET_BIND_SERVICE'),
    bounding: FULL,
    uid: { r: 0, e: 0, s: 0 },
    ...extra,
  });
  const cases: {
    name: string;
    state: SetuidState;
    call: SetuidCall;
    outcome: 'ok' | 'EPERM';
    effective: CapSet;
    permitted: CapSet;
    ambient: CapSet;
    uid: { r: number; e: number; s: number };
    fsuid: number;
    rules: SetuidRule[];
  }[] = [
    {
      name: '4.2 all uids leave 0 without keep-caps: P and E cleared, A cleared',
      state: root(),
      call: { call: 'setresuid', uid: { r: 1000, e: 1000, s: 1000 } },
      outcome: 'ok', effective: 0n, permitted: 0n, ambient: 0n, uid: { r: 1000, e: 1000, s: 1000 }, fsuid: 1000,
      rules: ['leave-root-clear', 'ambient-cleared', 'euid-leave-root'],
    },
    {
      name: '4.2 runtime recipe: keep-caps then setresuid keeps P, clears E (euid left 0) and A',
      state: root({ securebits: { keepCaps: true } }),
      call: { call: 'setresuid', uid: { r: 1000, e: 1000, s: 1000 } },
      outcome: 'ok', effective: 0n, permitted: FULL, ambient: 0n, uid: { r: 1000, e: 1000, s: 1000 }, fsuid: 1000,
      rules: ['leave-root-keepcaps', 'ambient-cleared', 'euid-leave-root'],
    },
    {
      name: '4.2 euid 0 -> 1000 with the saved uid still 0: E cleared, P and A kept',
      state: root(),
      call: { call: 'setresuid', uid: { r: 0, e: 1000, s: 0 } },
      outcome: 'ok', effective: 0n, permitted: FULL, ambient: caps('NET_BIND_SERVICE'), uid: { r: 0, e: 1000, s: 0 }, fsuid: 1000,
      rules: ['euid-leave-root'],
    },
    {
      name: '4.2 euid back to 0: E = P',
      state: root({ effective: 0n, uid: { r: 0, e: 1000, s: 0 } }),
      call: { call: 'setresuid', uid: { r: 0, e: 0, s: 0 } },
      outcome: 'ok', effective: FULL, permitted: FULL, ambient: caps('NET_BIND_SERVICE'), uid: { r: 0, e: 0, s: 0 }, fsuid: 0,
      rules: ['euid-enter-root'],
    },
    {
      name: '4.2 setfsuid 0 -> 1000 drops the filesystem caps from E only',
      state: root(),
      call: { call: 'setfsuid', fsuid: 1000 },
      outcome: 'ok', effective: FULL & ~CAP_FS_SET, permitted: FULL, ambient: caps('NET_BIND_SERVICE'), uid: { r: 0, e: 0, s: 0 }, fsuid: 1000,
      rules: ['fsuid-leave-root'],
    },
    {
      name: '4.2 setfsuid back to 0 raises the filesystem caps that are permitted',
      state: root({ effective: FULL & ~CAP_FS_SET, fsuid: 1000 }),
      call: { call: 'setfsuid', fsuid: 0 },
      outcome: 'ok', effective: FULL, permitted: FULL, ambient: caps('NET_BIND_SERVICE'), uid: { r: 0, e: 0, s: 0 }, fsuid: 0,
      rules: ['fsuid-enter-root'],
    },
    {
      name: '4.2 SECBIT_NO_SETUID_FIXUP: nothing changes',
      state: root({ securebits: { noSetuidFixup: true } }),
      call: { call: 'setresuid', uid: { r: 1000, e: 1000, s: 1000 } },
      outcome: 'ok', effective: FULL, permitted: FULL, ambient: caps('NET_BIND_SERVICE'), uid: { r: 1000, e: 1000, s: 1000 }, fsuid: 1000,
      rules: ['no-setuid-fixup'],
    },
    {
      name: 'setuid(1000) with CAP_SETUID sets real, effective and saved',
      state: root(),
      call: { call: 'setuid', uid: 1000 },
      outcome: 'ok', effective: 0n, permitted: 0n, ambient: 0n, uid: { r: 1000, e: 1000, s: 1000 }, fsuid: 1000,
      rules: ['leave-root-clear', 'ambient-cleared', 'euid-leave-root'],
    },
    {
      name: 'setuid back to the real uid without CAP_SETUID moves only the effective uid',
      state: { effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n, bounding: FULL, uid: { r: 1000, e: 0, s: 0 } },
      call: { call: 'setuid', uid: 1000 },
      outcome: 'ok', effective: 0n, permitted: 0n, ambient: 0n, uid: { r: 1000, e: 1000, s: 0 }, fsuid: 1000,
      rules: ['euid-leave-root'],
    },
    {
      name: 'setresuid without CAP_SETUID to an unrelated uid: EPERM, nothing changes',
      state: { effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n, bounding: FULL, uid: { r: 1000, e: 1000, s: 1000 } },
      call: { call: 'setresuid', uid: { r: 1000, e: 0, s: 1000 } },
      outcome: 'EPERM', effective: 0n, permitted: 0n, ambient: 0n, uid: { r: 1000, e: 1000, s: 1000 }, fsuid: 1000,
      rules: ['eperm'],
    },
    {
      name: 'setuid without CAP_SETUID to an unrelated uid: EPERM',
      state: { effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n, bounding: FULL, uid: { r: 1000, e: 1000, s: 1000 } },
      call: { call: 'setuid', uid: 0 },
      outcome: 'EPERM', effective: 0n, permitted: 0n, ambient: 0n, uid: { r: 1000, e: 1000, s: 1000 }, fsuid: 1000,
      rules: ['eperm'],
    },
    {
      name: 'setfsuid without CAP_SETUID to an unrelated uid is silently ignored',
      state: { effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n, bounding: FULL, uid: { r: 1000, e: 1000, s: 1000 } },
      call: { call: 'setfsuid', fsuid: 0 },
      outcome: 'ok', effective: 0n, permitted: 0n, ambient: 0n, uid: { r: 1000, e: 1000, s: 1000 }, fsuid: 1000,
      rules: ['setfsuid-ignored'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = setuidTransition(c.state, c.call);
      assert.equal(r.outcome, c.outcome, r.reason.join('\n'));
      assert.deepEqual(N(r.caps.effective), N(c.effective));
      assert.deepEqual(N(r.caps.permitted), N(c.permitted));
      assert.deepEqual(N(r.caps.ambient), N(c.ambient));
      assert.deepEqual(r.uid, c.uid);
      assert.equal(r.fsuid, c.fsuid);
      assert.deepEqual(r.rules, c.rules);
      assert.equal(r.caps.bounding, c.state.bounding);
      assert.equal(r.caps.inheritable, c.state.inheritable);
    });
  }

  test('CAP_FS_SET is the eight filesystem capabilities of capabilities(7)', () => {
    assert.deepEqual(N(CAP_FS_SET), [
      'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_LINUX_IMMUTABLE', 'CAP_MAC_OVERRIDE', 'CAP_MKNOD',
    ]);
  });

  test('an invalid state is refused', () => {
    assert.throws(
      () => setuidTransition({ ...root(), ambient: caps('KILL') }, { call: 'setuid', uid: 0 }),
      (e: unknown) => isBerthError(e) && e.code === 'E_CAP_STATE_INVALID',
    );
  });
});
