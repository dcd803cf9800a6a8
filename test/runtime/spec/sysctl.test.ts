import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBerthError } from '../../../src/errors/index.js';
import { checkSysctl, parseSysctl, sysctlNamespace, type SpecNamespaceType } from '../../../src/runtime/spec/index.js';
import { codeOf, errorOf } from './fixtures.js';

describe('parseSysctl', () => {
  const cases: { text: string; key: string; value: string }[] = [
    { text: 'net.ipv4.ping_group_range=0 2147483647', key: 'net.ipv4.ping_group_range', value: '0 2147483647' },
    { text: 'net.core.somaxconn=1024', key: 'net.core.somaxconn', value: '1024' },
    { text: 'kernel.shmmax=a=b', key: 'kernel.shmmax', value: 'a=b' },
    { text: 'net/ipv4/ip_forward=1', key: 'net.ipv4.ip_forward', value: '1' },
    { text: 'fs.mqueue.msg_max=', key: 'fs.mqueue.msg_max', value: '' },
  ];
  for (const c of cases) test(c.text, () => assert.deepEqual(parseSysctl(c.text), { key: c.key, value: c.value }));
  for (const bad of ['net.ipv4.ip_forward', '=1', ' =1', 'a b=1']) {
    test(`fails: ${JSON.stringify(bad)}`, () => assert.equal(codeOf(() => parseSysctl(bad)), 'E_SPEC_SYSCTL'));
  }
  test('property: KEY=VALUE round-trips for dotted keys', () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}(\.[a-z0-9_]{1,8}){0,3}$/);
    fc.assert(
      fc.property(key, fc.string({ maxLength: 20 }), (k, v) => {
        assert.deepEqual(parseSysctl(`${k}=${v}`), { key: k, value: v });
      }),
    );
  });
  test('property: any text parses or fails with E_SPEC_SYSCTL', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (t) => {
        try {
          parseSysctl(t);
        } catch (e) {
          assert.ok(isBerthError(e) && e.code === 'E_SPEC_SYSCTL');
        }
      }),
    );
  });
});

describe('checkSysctl: the namespace each key needs (runc validator)', () => {
  const all = new Set<SpecNamespaceType>(['mount', 'network', 'uts', 'pid', 'ipc']);
  const hostNet = new Set<SpecNamespaceType>(['mount', 'uts', 'pid', 'ipc']);
  const hostIpc = new Set<SpecNamespaceType>(['mount', 'network', 'uts', 'pid']);
  const hostUts = new Set<SpecNamespaceType>(['mount', 'network', 'pid', 'ipc']);
  const allowed: { key: string; ns: Set<SpecNamespaceType> }[] = [
    { key: 'net.ipv4.ip_forward', ns: all },
    { key: 'kernel.shmmax', ns: all },
    { key: 'kernel.sem', ns: hostNet },
    { key: 'fs.mqueue.msg_max', ns: all },
    { key: 'kernel.domainname', ns: all },
  ];
  for (const c of allowed) test(`allowed: ${c.key}`, () => assert.doesNotThrow(() => checkSysctl(c.key, c.ns, `--sysctl ${c.key}=1`)));

  const refused: { key: string; ns: Set<SpecNamespaceType>; message: RegExp }[] = [
    { key: 'net.ipv4.ip_forward', ns: hostNet, message: /sysctl "net.ipv4.ip_forward" not allowed in host network namespace/ },
    { key: 'kernel.msgmax', ns: hostIpc, message: /not allowed in the hosts ipc namespace/ },
    { key: 'fs.mqueue.queues_max', ns: hostIpc, message: /hosts ipc namespace/ },
    { key: 'kernel.hostname', ns: all, message: /conflicts with the OCI "hostname" field/ },
    { key: 'kernel.domainname', ns: hostUts, message: /not in a separate kernel namespace/ },
    { key: 'vm.swappiness', ns: all, message: /sysctl "vm.swappiness" is not in a separate kernel namespace/ },
    { key: 'kernel.pid_max', ns: all, message: /not in a separate kernel namespace/ },
  ];
  for (const c of refused) {
    test(`refused: ${c.key}`, () => {
      assert.equal(codeOf(() => checkSysctl(c.key, c.ns, `--sysctl ${c.key}=1`)), 'E_SPEC_SYSCTL');
      assert.match(errorOf(() => checkSysctl(c.key, c.ns, `--sysctl ${c.key}=1`)).message, c.message);
    });
  }
  test('sysctlNamespace', () => {
    assert.equal(sysctlNamespace('net.core.somaxconn'), 'network');
    assert.equal(sysctlNamespace('kernel.shm_rmid_forced'), 'ipc');
    assert.equal(sysctlNamespace('kernel.domainname'), 'uts');
    assert.equal(sysctlNamespace('vm.overcommit_memory'), undefined);
  });
});
