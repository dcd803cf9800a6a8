import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { containerUserns } from '../../../src/idmap/index.js';
import { buildSpec, validateSpec, type RuntimeSpec, type SpecInputs, type ValidateContext } from '../../../src/runtime/spec/index.js';
import { HOST_RLIMITS, ROOTLESS, ROOTLESS_MAP, codeOf, errorOf, identityFor, inputs } from './fixtures.js';

const rootful: ValidateContext = { hostRlimits: HOST_RLIMITS };
const rootless: ValidateContext = { hostRlimits: HOST_RLIMITS, uidMap: ROOTLESS_MAP, gidMap: ROOTLESS_MAP, rootless: true, setgroups: 'allow' };
const KEEP_ID = containerUserns({ userns: 'keep-id' }, { uidMap: ROOTLESS_MAP, gidMap: ROOTLESS_MAP, rootless: true, hostUid: 1001, hostGid: 1001 });

const built = (over: Partial<SpecInputs> = {}): RuntimeSpec => buildSpec(inputs(over)).spec;
const edit = (over: Partial<SpecInputs>, f: (s: RuntimeSpec) => void): RuntimeSpec => {
  const s = built(over);
  f(s);
  return s;
};

describe('validateSpec: specs berth builds pass', () => {
  const cases: { name: string; spec: RuntimeSpec; ctx: ValidateContext }[] = [
    { name: 'rootful root', spec: built(), ctx: rootful },
    { name: 'rootful foo with volumes and sysctls', spec: built({ identity: identityFor('foo'), volumes: ['/srv:/data:ro'], sysctls: ['kernel.msgmax=1'] }), ctx: rootful },
    { name: 'rootless foo', spec: built({ identity: identityFor('foo'), namespace: ROOTLESS }), ctx: rootless },
    { name: 'rootless --network host', spec: built({ namespace: ROOTLESS, network: 'host' }), ctx: rootless },
    { name: 'rootless keep-id', spec: built({ namespace: ROOTLESS, userns: KEEP_ID, identity: { uid: 1001, gid: 1001, additionalGids: [1001], home: '/' } }), ctx: rootless },
    { name: 'host limit unlimited', spec: built({ hostRlimits: { RLIMIT_NOFILE: { soft: 1, hard: 'unlimited' } } }), ctx: { hostRlimits: { RLIMIT_NOFILE: { soft: 1, hard: 'unlimited' } } } },
  ];
  for (const c of cases) test(c.name, () => assert.doesNotThrow(() => validateSpec(c.spec, c.ctx)));
});

describe('validateSpec: failures', () => {
  const cases: { name: string; spec: RuntimeSpec; ctx: ValidateContext; code: string; message?: RegExp }[] = [
    {
      name: 'rootless uid outside the subordinate range',
      spec: built({ identity: identityFor('70000'), namespace: ROOTLESS }),
      ctx: rootless,
      code: 'E_SPEC_UNMAPPED_ID',
      message: /uid 70000 is not mapped in the container user namespace/,
    },
    { name: 'rootless gid outside', spec: built({ identity: { uid: 0, gid: 70000, additionalGids: [], home: '/' }, namespace: ROOTLESS }), ctx: rootless, code: 'E_SPEC_UNMAPPED_ID', message: /gid 70000/ },
    { name: 'rootless additional gid outside', spec: built({ identity: { uid: 0, gid: 0, additionalGids: [65537], home: '/' }, namespace: ROOTLESS }), ctx: rootless, code: 'E_SPEC_UNMAPPED_ID', message: /gid 65537/ },
    {
      name: 'container userns: uid not in its map',
      spec: built({ namespace: ROOTLESS, userns: KEEP_ID, identity: { uid: 70000, gid: 0, additionalGids: [], home: '/' } }),
      ctx: rootless,
      code: 'E_SPEC_UNMAPPED_ID',
    },
    {
      name: 'container map needs IDs the namespace lacks',
      spec: edit({}, (s) => {
        s.linux.namespaces.push({ type: 'user' });
        s.linux.uidMappings = [{ containerID: 0, hostID: 1, size: 70000 }];
        s.linux.gidMappings = [{ containerID: 0, hostID: 1, size: 100 }];
      }),
      ctx: rootless,
      code: 'E_USERNS_MAP_TOO_BIG',
    },
    { name: 'user namespace without maps', spec: edit({}, (s) => s.linux.namespaces.push({ type: 'user' })), ctx: rootful, code: 'E_SPEC_INVALID' },
    { name: 'maps without a user namespace', spec: edit({}, (s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }])), ctx: rootful, code: 'E_SPEC_INVALID' },
    { name: 'setgroups deny with groups', spec: built({ namespace: ROOTLESS }), ctx: { ...rootless, setgroups: 'deny' }, code: 'E_SPEC_SETGROUPS' },
    {
      name: 'setgroups deny is inherited by a container user namespace',
      spec: built({ namespace: ROOTLESS, userns: KEEP_ID, identity: { uid: 1001, gid: 1001, additionalGids: [1001], home: '/' } }),
      ctx: { ...rootless, setgroups: 'deny' },
      code: 'E_SPEC_SETGROUPS',
    },
    { name: 'effective not permitted', spec: edit({}, (s) => (s.process.capabilities!.permitted = ['CAP_CHOWN'])), ctx: rootful, code: 'E_SPEC_CAPS', message: /effective but not permitted/ },
    { name: 'permitted not in bounding', spec: edit({}, (s) => s.process.capabilities!.permitted.push('CAP_SYS_ADMIN') && s.process.capabilities!.effective.push('CAP_SYS_ADMIN')), ctx: rootful, code: 'E_SPEC_CAPS', message: /not in the bounding set/ },
    { name: 'ambient not inheritable', spec: edit({}, (s) => (s.process.capabilities!.ambient = ['CAP_CHOWN'])), ctx: rootful, code: 'E_SPEC_CAPS', message: /ambient/ },
    {
      name: 'ambient not permitted',
      spec: edit({ identity: identityFor('foo') }, (s) => {
        s.process.capabilities!.ambient = ['CAP_CHOWN'];
        s.process.capabilities!.inheritable = ['CAP_CHOWN'];
      }),
      ctx: rootful,
      code: 'E_SPEC_CAPS',
    },
    { name: 'inheritable not empty (CVE-2022-24769)', spec: edit({}, (s) => (s.process.capabilities!.inheritable = ['CAP_CHOWN'])), ctx: rootful, code: 'E_SPEC_INHERITABLE_CAPS' },
    { name: 'unknown capability name', spec: edit({}, (s) => (s.process.capabilities!.bounding = ['CAP_BOGUS'])), ctx: rootful, code: 'E_CAP_UNKNOWN' },
    {
      name: 'rlimit above the host hard limit',
      spec: edit({}, (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }])),
      ctx: rootful,
      code: 'E_SPEC_RLIMIT',
      message: /RLIMIT_NOFILE hard 1048576 is above the current hard limit 524288/,
    },
    { name: 'rlimit soft above hard', spec: edit({}, (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 5 }])), ctx: rootful, code: 'E_SPEC_RLIMIT' },
    {
      name: 'rlimit twice',
      spec: edit({}, (s) => (s.process.rlimits = [{ type: 'RLIMIT_CORE', soft: 0, hard: 0 }, { type: 'RLIMIT_CORE', soft: 0, hard: 0 }])),
      ctx: rootful,
      code: 'E_SPEC_RLIMIT',
    },
    { name: 'relative cwd', spec: edit({}, (s) => (s.process.cwd = 'app')), ctx: rootful, code: 'E_SPEC_RELATIVE_PATH' },
    { name: 'relative mount destination', spec: edit({}, (s) => s.mounts.push({ destination: 'data', type: 'bind', source: '/srv' })), ctx: rootful, code: 'E_SPEC_RELATIVE_PATH' },
    { name: 'relative masked path', spec: edit({}, (s) => s.linux.maskedPaths!.push('proc/x')), ctx: rootful, code: 'E_SPEC_RELATIVE_PATH' },
    {
      name: 'duplicate mount destination (after cleaning)',
      spec: edit({}, (s) => s.mounts.push({ destination: '/dev/shm/', type: 'bind', source: '/srv' })),
      ctx: rootful,
      code: 'E_SPEC_DUPLICATE_MOUNT',
      message: /Duplicate mount point: \/dev\/shm/,
    },
    { name: 'no args', spec: edit({}, (s) => (s.process.args = [])), ctx: rootful, code: 'E_SPEC_NO_COMMAND' },
    {
      name: 'net sysctl without a network namespace',
      spec: edit({ network: 'host' }, (s) => (s.linux.sysctl = { 'net.ipv4.ip_forward': '1' })),
      ctx: rootful,
      code: 'E_SPEC_SYSCTL',
      message: /not allowed in host network namespace/,
    },
    {
      name: 'ipc sysctl without an ipc namespace',
      spec: edit({}, (s) => {
        s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== 'ipc');
        s.linux.sysctl = { 'kernel.shmmax': '1' };
      }),
      ctx: rootful,
      code: 'E_SPEC_SYSCTL',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(codeOf(() => validateSpec(c.spec, c.ctx)), c.code);
      if (c.message) assert.match(errorOf(() => validateSpec(c.spec, c.ctx)).message, c.message);
    });
  }
});
