/**
 * End to end: the specs buildSpec produces are accepted by the real runc, and the process gets what
 * the spec says (uid, gid, groups, capabilities, cwd, loopback, sysctls, rlimits, mounts). Rootful
 * cases run as root; the rootless case runs runc as uid 0 of berth's intermediate namespace, as the
 * unprivileged test user. Skipped clearly when root, runc or the test user is missing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capSetFromNames, capSetToMask } from '../../../src/caps/index.js';
import { parseProcLimits } from '../../../src/host/index.js';
import { resolveIdentity, userDbFromText } from '../../../src/identity/index.js';
import { containerUserns } from '../../../src/idmap/index.js';
import { buildSpec, serializeSpec, validateSpec, type RuntimeSpec, type SpecInputs } from '../../../src/runtime/spec/index.js';

/** The repository root: the nearest directory above this file with scripts/fixtures.mjs (works from any outDir). */
const REPO = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'scripts/fixtures.mjs'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found above the test file');
    dir = up;
  }
  return dir;
})();
const isRoot = process.geteuid?.() === 0;
const hasRunc = spawnSync('runc', ['--version']).status === 0;
const TEST_USER = 'berthtest';
const testUser = (() => {
  const u = spawnSync('id', ['-u', TEST_USER], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', TEST_USER], { encoding: 'utf8' });
  return u.status === 0 && g.status === 0 ? { uid: Number(u.stdout), gid: Number(g.stdout) } : undefined;
})();
const skip = !isRoot ? 'needs root (builds the fixture rootfs and runs runc)' : !hasRunc ? 'runc is not installed' : false;

/** Prints what a user checks, one `key=value` per line. */
const PROBE = [
  'echo "uid=$(id -u)"',
  'echo "gid=$(id -g)"',
  // id -G lists the primary gid first; sorted, it is the kernel's group list plus the gid.
  'echo "groups=$(id -G | tr " " "\\n" | sort -n | tr "\\n" " ")"',
  'sed -n "s/^\\(Cap[A-Za-z]*\\):\\t*/\\1=/p" /proc/self/status',
  'echo "pwd=$(pwd)"',
  'echo "hostname=$(hostname)"',
  'echo "nofile=$(ulimit -n)"',
  'echo "lo=$(ip -o link show lo 2>/dev/null | grep -c "[<,]UP[,>]")"',
  'echo "ping=$(cat /proc/sys/net/ipv4/ping_group_range | tr "\\t" " ")"',
  'echo "home=$HOME"',
  'echo "sys=$(grep " /sys " /proc/self/mounts | cut -d" " -f3,4 | cut -d, -f1)"',
  // The first mount below /sys (a cgroup hierarchy or the host's securityfs...): read-only or not.
  'echo "below=$(awk \'$2 ~ /^\\/sys\\/./ { split($4, o, ","); print o[1]; exit }\' /proc/self/mounts)"',
].join('; ');

let work = '';
let rootfs = '';
let hostRlimits: SpecInputs['hostRlimits'] = {};
let db: ReturnType<typeof userDbFromText>;
let seq = 0;

function parseProbe(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) r[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return r;
}

/** Writes a bundle for `spec` (rootfs bind-shared by path) and runs `runc run` in the foreground. */
function runRootful(spec: RuntimeSpec): { code: number | null; stdout: string; stderr: string } {
  const bundle = join(work, `bundle-${++seq}`);
  mkdirSync(bundle);
  writeFileSync(join(bundle, 'config.json'), serializeSpec({ ...spec, root: { ...spec.root, path: rootfs } }));
  const r = spawnSync('runc', ['--root', join(work, 'state'), 'run', '--bundle', bundle, `berth-spec-${process.pid}-${seq}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function identity(user: string) {
  return resolveIdentity({ profile: 'berth', imageUser: '', user }, db);
}

function inputsFor(over: Partial<SpecInputs>): SpecInputs {
  return {
    image: { config: { Cmd: ['sh', '-c', PROBE], WorkingDir: '/home' } },
    identity: identity('0'),
    containerId: 'feedfacecafe'.repeat(5) + 'beef',
    hostRlimits,
    ...over,
  };
}

/** What the spec predicts, in the probe's terms. */
function expected(spec: RuntimeSpec): Record<string, string> {
  const capHex = (names: string[]) => capSetToMask(capSetFromNames(names));
  return {
    uid: String(spec.process.user.uid),
    gid: String(spec.process.user.gid),
    groups: [...new Set(spec.process.user.additionalGids)].sort((a, b) => a - b).join(' '),
    CapEff: capHex(spec.process.capabilities!.effective),
    CapPrm: capHex(spec.process.capabilities!.permitted),
    CapInh: '0000000000000000',
    CapAmb: '0000000000000000',
    pwd: spec.process.cwd,
    hostname: spec.hostname!,
    nofile: String(spec.process.rlimits!.find((r) => r.type === 'RLIMIT_NOFILE')!.soft),
  };
}

function assertMatches(got: Record<string, string>, want: Record<string, string>): void {
  const pick = Object.fromEntries(Object.keys(want).map((k) => [k, got[k]]));
  assert.deepEqual(pick, want);
}

describe('runc accepts the spec and applies it (rootful)', { skip }, () => {
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'berth-spec-runc-'));
    chmodSync(work, 0o755);
    rootfs = join(work, 'rootfs');
    const r = spawnSync(process.execPath, [join(REPO, 'scripts/fixtures.mjs'), 'busybox', rootfs], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    db = userDbFromText({ passwd: readFileSync(join(rootfs, 'etc/passwd')), group: readFileSync(join(rootfs, 'etc/group')) });
    hostRlimits = parseProcLimits(readFileSync('/proc/self/limits', 'utf8'));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const cases: { name: string; over: () => Partial<SpecInputs>; extra: Record<string, string> }[] = [
    { name: 'root: Docker 14 effective, groups 0 and wheel', over: () => ({}), extra: { CapEff: '00000000a80425fb', groups: '0 10', lo: '1', ping: '0 2147483647', home: '/root' } },
    { name: '-u foo: bar from /etc/group, no capabilities', over: () => ({ identity: identity('foo') }), extra: { uid: '10000', groups: '10000 20000', CapEff: '0000000000000000', home: '/home/foo' } },
    { name: '-u 10000: the passwd name gives the same groups', over: () => ({ identity: identity('10000') }), extra: { groups: '10000 20000' } },
    { name: '-u 65534:65534 --group-add 10', over: () => ({ identity: resolveIdentity({ profile: 'berth', imageUser: '', user: '65534:65534', groupAdd: ['10'] }, db) }), extra: { groups: '10 65534' } },
    { name: '-w /tmp --hostname web', over: () => ({ workdir: '/tmp', hostname: 'web' }), extra: { pwd: '/tmp', hostname: 'web' } },
    {
      name: '--uidmap 0:100000:65536 (container user namespace): same identity, ping range limited to the map',
      over: () => ({
        identity: identity('foo'),
        userns: containerUserns(
          { uidmap: ['0:100000:65536'] },
          { uidMap: [{ container: 0, host: 0, size: 4294967295 }], gidMap: [{ container: 0, host: 0, size: 4294967295 }], rootless: false, hostUid: 0, hostGid: 0 },
        ),
      }),
      extra: { groups: '10000 20000', ping: '0 65535', lo: '1' },
    },
    {
      name: '--network host with a container user namespace: /sys is a read-only bind',
      over: () => ({
        network: 'host' as const,
        userns: containerUserns(
          { uidmap: ['0:100000:65536'] },
          { uidMap: [{ container: 0, host: 0, size: 4294967295 }], gidMap: [{ container: 0, host: 0, size: 4294967295 }], rootless: false, hostUid: 0, hostGid: 0 },
        ),
      }),
      extra: { sys: 'sysfs ro' },
    },
    {
      name: '--network host with a container user namespace and rro: the mounts below /sys are read-only too',
      over: () => ({
        network: 'host' as const,
        recursiveReadOnly: true,
        userns: containerUserns(
          { uidmap: ['0:100000:65536'] },
          { uidMap: [{ container: 0, host: 0, size: 4294967295 }], gidMap: [{ container: 0, host: 0, size: 4294967295 }], rootless: false, hostUid: 0, hostGid: 0 },
        ),
      }),
      extra: { sys: 'sysfs ro', below: 'ro' },
    },
    { name: '--cap-drop ALL --cap-add CHOWN as root', over: () => ({ capDrop: ['ALL'], capAdd: ['CHOWN'] }), extra: { CapEff: '0000000000000001', CapPrm: '0000000000000001' } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const { spec } = buildSpec(inputsFor(c.over()));
      validateSpec(spec, { hostRlimits });
      const r = runRootful(spec);
      assert.equal(r.code, 0, r.stderr);
      const got = parseProbe(r.stdout);
      assertMatches(got, { ...expected(spec), ...c.extra });
    });
  }

  test('--read-only with ro and rw volumes', () => {
    const rw = join(work, 'rw');
    const ro = join(work, 'ro');
    mkdirSync(rw);
    mkdirSync(ro);
    const script = 'touch /rootfile 2>/dev/null && echo root=rw || echo root=ro; touch /ro/f 2>/dev/null && echo ro=rw || echo ro=ro; touch /rw/f && echo rw=rw';
    const { spec } = buildSpec(inputsFor({ readOnly: true, volumes: [`${ro}:/ro:ro`, `${rw}:/rw`], args: ['sh', '-c', script] }));
    const r = runRootful(spec);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseProbe(r.stdout), { root: 'ro', ro: 'ro', rw: 'rw' });
  });

  test('a --sysctl value is applied', () => {
    const { spec } = buildSpec(inputsFor({ sysctls: ['net.ipv4.ping_group_range=1 0'] }));
    const r = runRootful(spec);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(parseProbe(r.stdout).ping, '1 0');
  });

  test('rootless: runc as uid 0 of the intermediate namespace, as the test user', { skip: testUser ? false : `user ${TEST_USER} does not exist` }, () => {
    const dir = join(work, 'rootless');
    mkdirSync(dir);
    chownSync(dir, testUser!.uid, testUser!.gid);
    const moduleUrl = (p: string) => new URL(p, import.meta.url).href;
    const script = `
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
const { buildSpec, serializeSpec, validateSpec } = await import(${JSON.stringify(moduleUrl('../../../src/runtime/spec/index.js'))});
const { readHostFacts } = await import(${JSON.stringify(moduleUrl('../../../src/host/index.js'))});
const { resolveIdentity, userDbFromText } = await import(${JSON.stringify(moduleUrl('../../../src/identity/index.js'))});
const { rootlessMaps, spawnInUserNamespace } = await import(${JSON.stringify(moduleUrl('../../../src/runtime/userns/index.js'))});
const facts = await readHostFacts();
const maps = rootlessMaps(facts);
const inside = (m) => m.map((r) => ({ container: r.container, host: r.container, size: r.size }));
const namespace = { uidMap: inside(maps.uidMap), gidMap: inside(maps.gidMap), rootless: true };
const db = userDbFromText({ passwd: readFileSync(${JSON.stringify(join(rootfs, 'etc/passwd'))}), group: readFileSync(${JSON.stringify(join(rootfs, 'etc/group'))}) });
const identity = resolveIdentity({ profile: 'berth', imageUser: '', user: process.argv[2] }, db);
const { spec } = buildSpec({ image: { config: { Cmd: ['sh', '-c', ${JSON.stringify(PROBE)}] } }, identity, containerId: 'ab'.repeat(32), hostRlimits: facts.rlimits, namespace, network: process.argv[3], recursiveReadOnly: process.argv[3] === 'host' });
validateSpec(spec, { hostRlimits: facts.rlimits, uidMap: namespace.uidMap, gidMap: namespace.gidMap, rootless: true, setgroups: 'allow' });
const bundle = ${JSON.stringify(dir)} + '/b-' + process.argv[3];
mkdirSync(bundle);
writeFileSync(bundle + '/config.json', serializeSpec({ ...spec, root: { path: ${JSON.stringify(rootfs)}, readonly: false } }));
writeFileSync(bundle + '/expected.json', JSON.stringify(spec));
const child = await spawnInUserNamespace('runc', ['--root', ${JSON.stringify(dir)} + '/state', 'run', '--bundle', bundle, 'berth-spec-rl-' + process.pid], 'auto', { facts, stdio: ['ignore', 'inherit', 'inherit'] });
const st = await child.wait();
process.exit(st.code ?? 1);
`;
    writeFileSync(join(dir, 'run.mjs'), script, { mode: 0o644 });
    for (const network of ['none', 'host']) {
      const r = spawnSync(
        'setpriv',
        ['--reuid', TEST_USER, '--regid', TEST_USER, '--init-groups', '--reset-env', process.execPath, join(dir, 'run.mjs'), 'foo', network],
        { encoding: 'utf8', cwd: dir, timeout: 60_000 },
      );
      assert.equal(r.status, 0, `${network}: ${r.stderr}`);
      const spec = JSON.parse(readFileSync(join(dir, `b-${network}`, 'expected.json'), 'utf8')) as RuntimeSpec;
      const got = parseProbe(r.stdout);
      const extra: Record<string, string> =
        network === 'none' ? { groups: '10000 20000', lo: '1', ping: spec.linux.sysctl!['net.ipv4.ping_group_range']! } : { sys: 'sysfs ro', below: 'ro' };
      assertMatches(got, { ...expected(spec), ...extra });
      if (network === 'none') assert.match(got.ping!, /^0 \d+$/);
    }
  });
});
