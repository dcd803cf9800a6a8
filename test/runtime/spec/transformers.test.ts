import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CAPS } from '../../../src/caps/index.js';
import { containerUserns } from '../../../src/idmap/index.js';
import {
  DEFAULT_PATH,
  buildSpec,
  dockerMaskedPaths,
  type RuntimeSpec,
  type SpecInputs,
} from '../../../src/runtime/spec/index.js';
import { CONTAINER_ID, HOST_RLIMITS, ROOTLESS, ROOTLESS_MAP, codeOf, errorOf, identityFor, inputs } from './fixtures.js';

const spec = (over: Partial<SpecInputs> = {}): RuntimeSpec => buildSpec(inputs(over)).spec;

const DOCKER14 = [
  'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD',
  'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
];

/** A container user namespace rootful: container 0..65535 -> host 100000.. */
const USERNS_100K = containerUserns(
  { uidmap: ['0:100000:65536'] },
  { uidMap: [{ container: 0, host: 0, size: 4294967295 }], gidMap: [{ container: 0, host: 0, size: 4294967295 }], rootless: false, hostUid: 0, hostGid: 0 },
);
/** keep-id for uid 1001 in the rootless namespace of ROOTLESS. */
const KEEP_ID = containerUserns({ userns: 'keep-id' }, { uidMap: ROOTLESS_MAP, gidMap: ROOTLESS_MAP, rootless: true, hostUid: 1001, hostGid: 1001 });
/** A hand-made namespace in which gids 0..999 (and so tty gid 5) do not exist. */
const HIGH_ONLY = { mode: '--uidmap', userns: true, uidMap: [{ container: 0, host: 1, size: 65536 }], gidMap: [{ container: 1000, host: 1, size: 10 }] };

describe('user: uid, gid and additionalGids (primary gid included)', () => {
  const cases: { name: string; over: Partial<SpecInputs>; user: RuntimeSpec['process']['user'] }[] = [
    { name: 'image USER foo: groups from /etc/group (bar lists foo)', over: { identity: identityFor(undefined, 'foo') }, user: { uid: 10000, gid: 10000, additionalGids: [10000, 20000] } },
    { name: '-u 10000: the uid passwd name is used for groups', over: { identity: identityFor('10000') }, user: { uid: 10000, gid: 10000, additionalGids: [10000, 20000] } },
    { name: '-u foo:10: explicit group, no memberships', over: { identity: identityFor('foo:10') }, user: { uid: 10000, gid: 10, additionalGids: [10] } },
    { name: '-u 0: root with wheel', over: { identity: identityFor('0') }, user: { uid: 0, gid: 0, additionalGids: [0, 10] } },
    { name: 'no user: root', over: {}, user: { uid: 0, gid: 0, additionalGids: [0, 10] } },
    { name: '--group-add 65534', over: { identity: identityFor('foo', '', ['65534']) }, user: { uid: 10000, gid: 10000, additionalGids: [10000, 20000, 65534] } },
    { name: 'unknown uid: gid 0 and only it', over: { identity: identityFor('70000') }, user: { uid: 70000, gid: 0, additionalGids: [0] } },
    {
      name: 'a primary gid missing from the list is added; the list is sorted and unique',
      over: { identity: { uid: 5, gid: 7, additionalGids: [30, 10, 30], home: '/' } },
      user: { uid: 5, gid: 7, additionalGids: [7, 10, 30] },
    },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(spec(c.over).process.user, c.user));
  test('fails: an ID out of range', () => {
    assert.equal(codeOf(() => spec({ identity: { uid: -1, gid: 0, additionalGids: [], home: '/' } })), 'E_SPEC_INVALID');
    assert.equal(codeOf(() => spec({ identity: { uid: 0, gid: 4294967295, additionalGids: [], home: '/' } })), 'E_SPEC_INVALID');
  });
});

describe('capabilities: Docker 14 in bounding; effective/permitted only for uid 0; inheritable and ambient empty', () => {
  const all = CAPS.map((c) => c.name as string).sort();
  const cases: { name: string; over: Partial<SpecInputs>; bounding: string[]; ep: 'bounding' | 'empty' }[] = [
    { name: 'root: default set everywhere but inheritable/ambient', over: {}, bounding: DOCKER14, ep: 'bounding' },
    { name: 'non-root: bounding only', over: { identity: identityFor('foo') }, bounding: DOCKER14, ep: 'empty' },
    { name: '--cap-add NET_ADMIN', over: { capAdd: ['NET_ADMIN'] }, bounding: [...DOCKER14, 'CAP_NET_ADMIN'].sort(), ep: 'bounding' },
    { name: '--cap-drop NET_RAW (any spelling)', over: { capDrop: ['cap_net_raw'] }, bounding: DOCKER14.filter((c) => c !== 'CAP_NET_RAW'), ep: 'bounding' },
    { name: '--cap-drop ALL --cap-add CHOWN', over: { capDrop: ['ALL'], capAdd: ['CHOWN'] }, bounding: ['CAP_CHOWN'], ep: 'bounding' },
    { name: '--cap-drop ALL', over: { capDrop: ['ALL'] }, bounding: [], ep: 'bounding' },
    { name: '--cap-add ALL', over: { capAdd: ['ALL'] }, bounding: all, ep: 'bounding' },
    { name: '--cap-add ALL --cap-drop MKNOD', over: { capAdd: ['ALL'], capDrop: ['MKNOD'] }, bounding: all.filter((c) => c !== 'CAP_MKNOD'), ep: 'bounding' },
    { name: 'non-root --cap-add NET_ADMIN: bounding only', over: { identity: identityFor('foo'), capAdd: ['NET_ADMIN'] }, bounding: [...DOCKER14, 'CAP_NET_ADMIN'].sort(), ep: 'empty' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const caps = spec(c.over).process.capabilities!;
      assert.deepEqual(caps.bounding, c.bounding);
      const ep = c.ep === 'bounding' ? c.bounding : [];
      assert.deepEqual(caps.effective, ep);
      assert.deepEqual(caps.permitted, ep);
      assert.deepEqual(caps.inheritable, []);
      assert.deepEqual(caps.ambient, []);
    });
  }
  test('fails: unknown capability', () => assert.equal(codeOf(() => spec({ capAdd: ['NET_RAWW'] })), 'E_CAP_UNKNOWN'));
});

describe('cwd, args, env through the pipeline', () => {
  test('cwd: -w, image WorkingDir, default /', () => {
    assert.equal(spec({ image: { config: { Cmd: ['sh'], WorkingDir: '/app' } } }).process.cwd, '/app');
    assert.equal(spec({ image: { config: { Cmd: ['sh'], WorkingDir: '/app' } }, workdir: '/srv' }).process.cwd, '/srv');
    assert.equal(spec().process.cwd, '/');
    assert.equal(codeOf(() => spec({ workdir: 'rel' })), 'E_SPEC_WORKDIR');
  });
  test('args: entrypoint and cmd, or given args', () => {
    const config = { Entrypoint: ['/e'], Cmd: ['c'] };
    assert.deepEqual(spec({ image: { config } }).process.args, ['/e', 'c']);
    assert.deepEqual(spec({ image: { config }, entrypoint: 'id' }).process.args, ['id']);
    assert.deepEqual(spec({ image: { config }, cmd: ['x'] }).process.args, ['/e', 'x']);
    assert.deepEqual(spec({ image: { config }, args: ['true'] }).process.args, ['true']);
    assert.equal(codeOf(() => spec({ image: { config: {} } })), 'E_SPEC_NO_COMMAND');
    assert.equal(codeOf(() => spec({ args: [] })), 'E_SPEC_NO_COMMAND');
  });
  test('env: PATH default, HOSTNAME, HOME from passwd, TERM with -t, overrides', () => {
    assert.deepEqual(spec({ identity: identityFor('foo') }).process.env, [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=0123456789ab', 'HOME=/home/foo']);
    assert.deepEqual(spec({ identity: identityFor('70000') }).process.env, [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=0123456789ab', 'HOME=/']);
    assert.deepEqual(spec({ tty: true, hostname: 'web' }).process.env, [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=web', 'TERM=xterm', 'HOME=/root']);
    assert.deepEqual(
      spec({ image: { config: { Cmd: ['sh'], Env: ['PATH=/bin', 'HOME=/data'] } }, env: ['A=1'] }).process.env,
      ['PATH=/bin', 'HOSTNAME=0123456789ab', 'HOME=/data', 'A=1'],
    );
  });
  test('terminal follows -t', () => {
    assert.equal(spec({ tty: true }).process.terminal, true);
    assert.equal(spec().process.terminal, false);
  });
  test('noNewPrivileges and read-only rootfs', () => {
    assert.equal(spec({ noNewPrivileges: true }).process.noNewPrivileges, true);
    assert.equal(spec().process.noNewPrivileges, false);
    assert.deepEqual(spec({ readOnly: true }).root, { path: 'rootfs', readonly: true });
    assert.deepEqual(spec({ rootfsPath: 'merged' }).root, { path: 'merged', readonly: false });
  });
});

describe('hostname', () => {
  const cases: { name: string; over: Partial<SpecInputs>; hostname: string }[] = [
    { name: 'first 12 of the container ID', over: {}, hostname: CONTAINER_ID.slice(0, 12) },
    { name: '--hostname', over: { hostname: 'web' }, hostname: 'web' },
    { name: "--network host takes the host's name", over: { network: 'host', hostHostname: 'box' }, hostname: 'box' },
    { name: '--network host with --hostname', over: { network: 'host', hostHostname: 'box', hostname: 'web' }, hostname: 'web' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(spec(c.over).hostname, c.hostname));
  test('fails: longer than 64 or with spaces', () => {
    assert.equal(codeOf(() => spec({ hostname: 'x'.repeat(65) })), 'E_SPEC_HOSTNAME');
    assert.equal(codeOf(() => spec({ hostname: 'a b' })), 'E_SPEC_HOSTNAME');
  });
});

describe('network none/host and namespaces', () => {
  const cases: { name: string; over: Partial<SpecInputs>; namespaces: string[]; annotations: Record<string, string> }[] = [
    { name: 'default none: new netns, loopback by the runtime', over: {}, namespaces: ['mount', 'network', 'uts', 'pid', 'ipc'], annotations: { 'io.berth.network': 'none', 'io.berth.network.loopback': 'runtime' } },
    { name: 'host: no netns', over: { network: 'host' }, namespaces: ['mount', 'uts', 'pid', 'ipc'], annotations: { 'io.berth.network': 'host' } },
    { name: 'container userns adds user', over: { userns: USERNS_100K }, namespaces: ['mount', 'network', 'uts', 'pid', 'ipc', 'user'], annotations: { 'io.berth.network': 'none', 'io.berth.network.loopback': 'runtime' } },
    { name: 'cgroupns adds cgroup', over: { cgroupns: true, network: 'host' }, namespaces: ['mount', 'uts', 'pid', 'ipc', 'cgroup'], annotations: { 'io.berth.network': 'host' } },
    { name: '--userns host: no user namespace', over: { userns: { mode: 'host', userns: false, uidMap: ROOTLESS_MAP, gidMap: ROOTLESS_MAP }, namespace: ROOTLESS }, namespaces: ['mount', 'network', 'uts', 'pid', 'ipc'], annotations: { 'io.berth.network': 'none', 'io.berth.network.loopback': 'runtime' } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const s = spec(c.over);
      assert.deepEqual(s.linux.namespaces.map((n) => n.type), c.namespaces);
      assert.deepEqual(s.annotations, c.annotations);
    });
  }
});

describe('net.ipv4.ping_group_range (moby PR #41030)', () => {
  const key = 'net.ipv4.ping_group_range';
  const cases: { name: string; over: Partial<SpecInputs>; value: string | undefined }[] = [
    { name: 'rootful, own netns: Docker default', over: {}, value: '0 2147483647' },
    { name: 'rootless: limited to the intermediate gids', over: { namespace: ROOTLESS }, value: '0 65536' },
    { name: 'rootful container userns: limited to its map', over: { userns: USERNS_100K }, value: '0 65535' },
    { name: 'rootless keep-id: the container map', over: { namespace: ROOTLESS, userns: KEEP_ID }, value: '0 65536' },
    { name: 'a map without gid 0: from its lowest gid', over: { userns: HIGH_ONLY }, value: '1000 1009' },
    { name: 'user --sysctl wins', over: { sysctls: [`${key}=1 0`] }, value: '1 0' },
    { name: 'user --sysctl wins rootless', over: { namespace: ROOTLESS, sysctls: [`${key}=0 0`] }, value: '0 0' },
    { name: 'host network: not set', over: { network: 'host' }, value: undefined },
    { name: 'host network rootless: not set', over: { network: 'host', namespace: ROOTLESS }, value: undefined },
  ];
  for (const c of cases) test(c.name, () => assert.equal(spec(c.over).linux.sysctl?.[key], c.value));
  test('ip_unprivileged_port_start=0 with an own netns only (Docker)', () => {
    assert.equal(spec().linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '0');
    assert.equal(spec({ network: 'host' }).linux.sysctl, undefined);
    assert.equal(spec({ sysctls: ['net.ipv4.ip_unprivileged_port_start=1024'] }).linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '1024');
  });
});

describe('--sysctl', () => {
  test('namespaced keys are set; later flags win', () => {
    const s = spec({ sysctls: ['net.core.somaxconn=100', 'kernel.msgmax=8192', 'net.core.somaxconn=200'] });
    assert.equal(s.linux.sysctl?.['net.core.somaxconn'], '200');
    assert.equal(s.linux.sysctl?.['kernel.msgmax'], '8192');
  });
  const refusals: { name: string; over: Partial<SpecInputs>; message: RegExp }[] = [
    { name: 'net.* with --network host (Docker)', over: { network: 'host', sysctls: ['net.ipv4.ip_forward=1'] }, message: /apply --sysctl net.ipv4.ip_forward=1: sysctl "net.ipv4.ip_forward" not allowed in host network namespace/ },
    { name: 'ping_group_range with --network host', over: { network: 'host', sysctls: ['net.ipv4.ping_group_range=0 0'] }, message: /host network namespace/ },
    { name: 'a non-namespaced key', over: { sysctls: ['vm.swappiness=10'] }, message: /not in a separate kernel namespace/ },
    { name: 'kernel.hostname', over: { sysctls: ['kernel.hostname=x'] }, message: /conflicts with the OCI "hostname" field/ },
    { name: 'not KEY=VALUE', over: { sysctls: ['net.core.somaxconn'] }, message: /not KEY=VALUE/ },
  ];
  for (const c of refusals) {
    test(`refused: ${c.name}`, () => {
      assert.equal(codeOf(() => spec(c.over)), 'E_SPEC_SYSCTL');
      assert.match(errorOf(() => spec(c.over)).message, c.message);
    });
  }
});

describe('mounts: Docker defaults, user namespaces, volumes', () => {
  const dests = (s: RuntimeSpec): string[] => s.mounts.map((m) => m.destination);
  const byDest = (s: RuntimeSpec, d: string) => s.mounts.find((m) => m.destination === d);
  test("Docker's default mounts in moby's order", () => {
    const s = spec();
    assert.deepEqual(dests(s), ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']);
    assert.deepEqual(byDest(s, '/dev/pts')!.options, ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
    assert.deepEqual(byDest(s, '/dev/shm'), { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'] });
    assert.deepEqual(byDest(s, '/sys'), { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] });
    assert.deepEqual(byDest(s, '/sys/fs/cgroup')!.options, ['ro', 'nosuid', 'noexec', 'nodev']);
  });
  const cases: { name: string; over: Partial<SpecInputs>; gid5: boolean; sys: 'sysfs' | 'bind'; cgroup: boolean }[] = [
    { name: 'rootful', over: {}, gid5: true, sys: 'sysfs', cgroup: true },
    { name: 'rootful --network host', over: { network: 'host' }, gid5: true, sys: 'sysfs', cgroup: true },
    { name: 'rootless', over: { namespace: ROOTLESS }, gid5: true, sys: 'sysfs', cgroup: true },
    { name: 'rootless --network host: /sys rbind, no cgroup mount', over: { namespace: ROOTLESS, network: 'host' }, gid5: true, sys: 'bind', cgroup: false },
    { name: 'rootful userns --network host: /sys rbind', over: { userns: USERNS_100K, network: 'host' }, gid5: true, sys: 'bind', cgroup: false },
    { name: 'gid 5 unmapped: devpts without gid=', over: { userns: HIGH_ONLY, identity: { uid: 0, gid: 1000, additionalGids: [1000], home: '/' } }, gid5: false, sys: 'sysfs', cgroup: true },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const s = spec(c.over);
      assert.equal(byDest(s, '/dev/pts')!.options!.includes('gid=5'), c.gid5);
      assert.equal(byDest(s, '/sys')!.type, c.sys);
      if (c.sys === 'bind') assert.deepEqual(byDest(s, '/sys'), { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
      assert.equal(byDest(s, '/sys/fs/cgroup') !== undefined, c.cgroup);
    });
  }
  test('volumes: ro/rw binds after the defaults, parents first', () => {
    const s = spec({ volumes: ['/srv/logs:/data/logs', '/srv/data:/data:ro', '/etc/hosts:/etc/hosts:ro'] });
    assert.deepEqual(s.mounts.slice(7), [
      { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'ro', 'rprivate'] },
      { destination: '/data/logs', type: 'bind', source: '/srv/logs', options: ['rbind', 'rw', 'rprivate'] },
      { destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro', 'rprivate'] },
    ]);
  });
  test('recursiveReadOnly: ro binds become rro (Docker 25+), rw stays rw', () => {
    const s = spec({ recursiveReadOnly: true, volumes: ['/srv/a:/a:ro', '/srv/b:/b'] });
    assert.deepEqual(byDest(s, '/a')!.options, ['rbind', 'rro', 'rprivate']);
    assert.deepEqual(byDest(s, '/b')!.options, ['rbind', 'rw', 'rprivate']);
    const h = spec({ recursiveReadOnly: true, namespace: ROOTLESS, network: 'host' });
    assert.deepEqual(byDest(h, '/sys')!.options, ['rbind', 'nosuid', 'noexec', 'nodev', 'rro']);
  });
  test('a volume replaces the default mount at its destination', () => {
    const s = spec({ volumes: ['/srv/shm:/dev/shm'] });
    assert.equal(s.mounts.filter((m) => m.destination === '/dev/shm').length, 1);
    assert.equal(byDest(s, '/dev/shm')!.type, 'bind');
  });
  test('a volume on /dev replaces every /dev default', () => {
    assert.deepEqual(dests(spec({ volumes: ['/srv/dev:/dev'] })), ['/proc', '/sys', '/sys/fs/cgroup', '/dev']);
  });
  test('fails: two volumes on one destination', () => {
    assert.equal(codeOf(() => spec({ volumes: ['/a:/data', '/b:/data/'] })), 'E_SPEC_DUPLICATE_MOUNT');
    assert.match(errorOf(() => spec({ volumes: ['/a:/data', '/b:/data/'] })).message, /Duplicate mount point: \/data/);
  });
  test('fails: a bad volume', () => assert.equal(codeOf(() => spec({ volumes: ['data:/data'] })), 'E_SPEC_VOLUME'));
});

describe('user namespace mappings', () => {
  test('rootful --uidmap: maps in host IDs', () => {
    const s = spec({ userns: USERNS_100K });
    assert.deepEqual(s.linux.uidMappings, [{ containerID: 0, hostID: 100000, size: 65536 }]);
    assert.deepEqual(s.linux.gidMappings, [{ containerID: 0, hostID: 100000, size: 65536 }]);
  });
  test('rootless keep-id: maps in intermediate IDs', () => {
    const s = spec({ namespace: ROOTLESS, userns: KEEP_ID, identity: { uid: 1001, gid: 1001, additionalGids: [1001], home: '/' } });
    assert.deepEqual(s.linux.uidMappings, [
      { containerID: 0, hostID: 1, size: 1001 },
      { containerID: 1001, hostID: 0, size: 1 },
      { containerID: 1002, hostID: 1002, size: 64535 },
    ]);
  });
  test('--userns host: no mappings', () => {
    const s = spec({ namespace: ROOTLESS });
    assert.equal(s.linux.uidMappings, undefined);
    assert.equal(s.linux.gidMappings, undefined);
  });
});

describe('rootless: no cgroup resources', () => {
  test('rootful: Docker device rules; rootless: none', () => {
    assert.equal(spec().linux.resources!.devices!.length, 8);
    assert.deepEqual(spec().linux.resources!.devices![0], { allow: false, access: 'rwm' });
    assert.equal(spec({ namespace: ROOTLESS }).linux.resources, undefined);
  });
});

describe('rlimits: never above the host hard limit', () => {
  const cases: { name: string; over: Partial<SpecInputs>; rlimits: RuntimeSpec['process']['rlimits'] }[] = [
    { name: 'host hard below 1048576: clamped to it', over: {}, rlimits: [{ type: 'RLIMIT_NOFILE', soft: 524288, hard: 524288 }] },
    { name: 'host hard unlimited: 1048576', over: { hostRlimits: { RLIMIT_NOFILE: { soft: 1024, hard: 'unlimited' } } }, rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }] },
    { name: 'host hard above: 1048576', over: { hostRlimits: { RLIMIT_NOFILE: { soft: 1024, hard: 4194304 } } }, rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }] },
    { name: 'host hard 20000 (this machine)', over: { hostRlimits: { RLIMIT_NOFILE: { soft: 20000, hard: 20000 } } }, rlimits: [{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }] },
    {
      name: 'explicit rlimits replace by type, sorted',
      over: { hostRlimits: { ...HOST_RLIMITS, RLIMIT_NPROC: { soft: 100, hard: 4000 } }, rlimits: [{ type: 'RLIMIT_NPROC', soft: 50, hard: 4000 }, { type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }] },
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }, { type: 'RLIMIT_NPROC', soft: 50, hard: 4000 }],
    },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(spec(c.over).process.rlimits, c.rlimits));
  test('unknown host limit: no rlimit and a warning, never a guess', () => {
    const r = buildSpec(inputs({ hostRlimits: {} }));
    assert.equal(r.spec.process.rlimits, undefined);
    assert.deepEqual(r.warnings.map((w) => w.code), ['W_SPEC_RLIMIT_UNKNOWN']);
  });
  const failures: { name: string; over: Partial<SpecInputs> }[] = [
    { name: 'explicit hard above the host hard', over: { rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 600000 }] } },
    { name: 'soft above hard', over: { rlimits: [{ type: 'RLIMIT_NOFILE', soft: 20, hard: 10 }] } },
    { name: 'negative', over: { rlimits: [{ type: 'RLIMIT_NOFILE', soft: -1, hard: 10 }] } },
  ];
  for (const c of failures) test(`fails: ${c.name}`, () => assert.equal(codeOf(() => spec(c.over)), 'E_SPEC_RLIMIT'));
});

describe('masked and read-only paths (moby defaults)', () => {
  test('exactly moby defaultLinuxMaskedPaths and ReadonlyPaths', () => {
    const s = spec();
    assert.deepEqual(s.linux.maskedPaths, [
      '/proc/acpi', '/proc/asound', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/sched_debug',
      '/proc/scsi', '/proc/timer_list', '/proc/timer_stats', '/sys/devices/virtual/powercap', '/sys/firmware',
    ]);
    assert.deepEqual(s.linux.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  });
  test('host-specific paths are appended sorted and unique', () => {
    const s = spec({ extraMaskedPaths: ['/sys/devices/system/cpu/cpu1/thermal_throttle', '/sys/devices/system/cpu/cpu0/thermal_throttle', '/proc/kcore'] });
    assert.deepEqual(s.linux.maskedPaths!.slice(dockerMaskedPaths().length), [
      '/sys/devices/system/cpu/cpu0/thermal_throttle',
      '/sys/devices/system/cpu/cpu1/thermal_throttle',
    ]);
  });
});

describe('annotations', () => {
  test('user annotations are added', () => {
    assert.equal(spec({ annotations: { 'com.example.k': 'v' } }).annotations!['com.example.k'], 'v');
  });
  test('fails: io.berth. keys are reserved', () => {
    assert.equal(codeOf(() => spec({ annotations: { 'io.berth.network': 'host' } })), 'E_SPEC_ANNOTATION');
  });
});
