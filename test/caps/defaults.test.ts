import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_CAPS, applyCapFlags, capCount, capSetToMask, capSetToNames, caps, defaultCaps, type CapFlagSemantics } from '../../src/caps/index.js';
import { isBerthError } from '../../src/errors/index.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isBerthError(e) ? e.code : `non-BerthError: ${String(e)}`;
  }
  return undefined;
}

describe('defaultCaps (layers-and-capabilities.md section 4.3)', () => {
  test('docker: the 14 of moby oci/caps/defaults.go (CapBnd a80425fb)', () => {
    assert.equal(capCount(defaultCaps('docker')), 14);
    assert.equal(capSetToMask(defaultCaps('docker')), '00000000a80425fb');
    assert.deepEqual(capSetToNames(defaultCaps('docker')), [
      'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD',
      'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
    ]);
  });
  test('containerd: the same 14', () => assert.equal(defaultCaps('containerd'), defaultCaps('docker')));
  test('podman: 11, without NET_RAW, MKNOD and AUDIT_WRITE', () => {
    assert.equal(capCount(defaultCaps('podman')), 11);
    assert.equal(defaultCaps('podman'), defaultCaps('docker') & ~caps('NET_RAW', 'MKNOD', 'AUDIT_WRITE'));
  });
  test('cri-o: 9', () => {
    assert.deepEqual(capSetToNames(defaultCaps('cri-o')), [
      'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID',
    ]);
  });
  test('an unknown engine is refused', () => {
    assert.equal(codeOf(() => defaultCaps('lxc' as never)), 'E_CAP_ENGINE_UNKNOWN');
  });
});

describe('applyCapFlags', () => {
  const docker = defaultCaps('docker');
  const cases: { name: string; sem: CapFlagSemantics; base: bigint; add: string[]; drop: string[]; want: bigint }[] = [
    { name: 'docker: no flags keep the base', sem: 'docker', base: docker, add: [], drop: [], want: docker },
    { name: 'docker: --cap-drop NET_RAW', sem: 'docker', base: docker, add: [], drop: ['NET_RAW'], want: docker & ~caps('NET_RAW') },
    { name: 'docker: --cap-add SYS_ADMIN (any spelling)', sem: 'docker', base: docker, add: ['cap_sys_admin'], drop: [], want: docker | caps('SYS_ADMIN') },
    { name: 'docker: --cap-drop ALL --cap-add NET_BIND_SERVICE', sem: 'docker', base: docker, add: ['NET_BIND_SERVICE'], drop: ['ALL'], want: caps('NET_BIND_SERVICE') },
    { name: 'docker: --cap-add ALL --cap-drop MKNOD', sem: 'docker', base: docker, add: ['ALL'], drop: ['MKNOD'], want: ALL_CAPS & ~caps('MKNOD') },
    { name: 'docker: --cap-add ALL --cap-drop ALL gives everything (add ALL is checked first)', sem: 'docker', base: docker, add: ['all'], drop: ['all'], want: ALL_CAPS },
    { name: 'docker: the same cap added and dropped stays (drop, then add)', sem: 'docker', base: docker, add: ['NET_RAW'], drop: ['NET_RAW'], want: docker },
    { name: 'podman: --cap-drop ALL --cap-add CHOWN', sem: 'podman', base: defaultCaps('podman'), add: ['CHOWN'], drop: ['ALL'], want: caps('CHOWN') },
    { name: 'podman: --cap-add ALL --cap-drop SYS_ADMIN', sem: 'podman', base: defaultCaps('podman'), add: ['ALL'], drop: ['SYS_ADMIN'], want: ALL_CAPS & ~caps('SYS_ADMIN') },
    { name: 'podman: --cap-add NET_RAW', sem: 'podman', base: defaultCaps('podman'), add: ['NET_RAW'], drop: [], want: defaultCaps('podman') | caps('NET_RAW') },
    { name: 'cri: add ALL, drop CHOWN', sem: 'cri', base: defaultCaps('cri-o'), add: ['ALL'], drop: ['CHOWN'], want: ALL_CAPS & ~caps('CHOWN') },
    { name: 'cri: drop ALL, add NET_BIND_SERVICE (restricted profile)', sem: 'cri', base: defaultCaps('containerd'), add: ['NET_BIND_SERVICE'], drop: ['ALL'], want: caps('NET_BIND_SERVICE') },
    { name: 'cri: the same cap added and dropped is dropped', sem: 'cri', base: defaultCaps('containerd'), add: ['SYS_ADMIN'], drop: ['SYS_ADMIN'], want: defaultCaps('containerd') },
    { name: 'cri: add ALL and drop ALL leave only the adds', sem: 'cri', base: defaultCaps('containerd'), add: ['ALL', 'KILL'], drop: ['ALL'], want: caps('KILL') },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(applyCapFlags(c.base, c.add, c.drop, c.sem), c.want));
  }

  const failures: { name: string; sem: CapFlagSemantics; add: string[]; drop: string[]; code: string }[] = [
    { name: 'docker: unknown name in add', sem: 'docker', add: ['NET_RAWW'], drop: [], code: 'E_CAP_UNKNOWN' },
    { name: 'docker: unknown name in drop', sem: 'docker', add: [], drop: ['FOO'], code: 'E_CAP_UNKNOWN' },
    { name: 'podman: add ALL with drop ALL', sem: 'podman', add: ['ALL'], drop: ['ALL'], code: 'E_CAP_FLAGS_CONFLICT' },
    { name: 'podman: one cap both added and dropped', sem: 'podman', add: ['NET_RAW'], drop: ['net_raw'], code: 'E_CAP_FLAGS_CONFLICT' },
    { name: 'unknown semantics', sem: 'lxc' as CapFlagSemantics, add: ['CHOWN'], drop: [], code: 'E_CAP_FLAGS_INVALID' },
  ];
  for (const f of failures) {
    test(`fails: ${f.name}`, () => assert.equal(codeOf(() => applyCapFlags(docker, f.add, f.drop, f.sem)), f.code));
  }
});
