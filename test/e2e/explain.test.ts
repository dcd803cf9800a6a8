/**
 * End to end: `berth import` the busybox fixture (users foo/bar/nonroot, /usr/bin/ping with
 * cap_net_raw=ep, /home/nonroot 0700 owned by 65532), then `berth explain` through the CLI and
 * through the library, in a temporary store. Needs root to build the fixture (setcap, chown).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { explainImage } from '../../src/api/explain.js';
import { isBerthError } from '../../src/errors/index.js';
import type { ExplainReport } from '../../src/explain/index.js';

/** The CLI compiled next to this test, wherever the build put it. */
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The repository root: the nearest ancestor with scripts/fixtures.mjs. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'scripts', 'fixtures.mjs'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('scripts/fixtures.mjs not found above the test');
    dir = up;
  }
  return dir;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function berth(root: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

async function explainJson(root: string, args: string[]): Promise<ExplainReport> {
  const r = await berth(root, ['explain', '--json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ExplainReport;
}

const isRoot = process.geteuid?.() === 0;

describe('berth explain end to end', { skip: !isRoot && 'building the fixture needs root (setcap, chown)' }, () => {
  let work: string;
  let store: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'berth-e2e-explain-'));
    store = join(work, 'store');
    const rootfs = join(work, 'rootfs');
    execFileSync(process.execPath, [join(repoRoot(), 'scripts', 'fixtures.mjs'), 'busybox', rootfs], { stdio: ['ignore', 'ignore', 'inherit'] });
    const a = await berth(store, ['import', '--change', 'CMD ["/bin/sh"]', rootfs, 'bb:1']);
    assert.equal(a.code, 0, a.stderr);
    const b = await berth(store, ['import', '--change', 'USER 65532', '--change', 'WORKDIR /home/nonroot', '--change', 'CMD ["/bin/sh"]', rootfs, 'nonroot:1']);
    assert.equal(b.code, 0, b.stderr);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  for (const [user, groups] of [
    ['foo', [10000, 20000]],
    ['10000', [10000, 20000]],
    ['foo:foo', [10000]],
  ] as const) {
    test(`-u ${user}: groups [${groups.join(', ')}]`, async () => {
      const r = await explainJson(store, ['-u', user, 'bb:1']);
      assert.equal(r.process.user?.uid, 10000);
      assert.deepEqual(r.process.user?.additionalGids, groups);
    });
  }

  test('--profile openshift on a USER 65532, WORKDIR 0700 image: uid from the range, gid 0, WORKDIR_NOT_ACCESSIBLE', async () => {
    const r = await explainJson(store, ['--profile', 'openshift', 'nonroot:1']);
    assert.equal(r.process.user?.uid, 1000680000);
    assert.equal(r.process.user?.gid, 0);
    const f = r.findings.find((x) => x.code === 'WORKDIR_NOT_ACCESSIBLE');
    assert.equal(f?.severity, 'error');
    assert.equal(f?.subject, '/home/nonroot');
  });

  test('ping with --cap-drop NET_RAW: EPERM; without: CAP_NET_RAW effective after exec', async () => {
    const dropped = await explainJson(store, ['-u', '1000', '--cap-drop', 'NET_RAW', 'bb:1', 'ping', '-c1', '127.0.0.1']);
    assert.equal(dropped.exec.path, '/usr/bin/ping');
    assert.equal(dropped.exec.fileCapabilities, 'cap_net_raw=ep');
    assert.equal(dropped.exec.outcome, 'EPERM');
    const kept = await explainJson(store, ['-u', '1000', 'bb:1', 'ping', '-c1', '127.0.0.1']);
    assert.equal(kept.exec.outcome, 'ok');
    assert.deepEqual(kept.exec.capabilities.effective, ['CAP_NET_RAW']);
  });

  test('the text report exits 0 with findings and reads like id(1)', async () => {
    const r = await berth(store, ['explain', '-u', 'foo', 'nonroot:1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}uid=10000\(foo\) gid=10000\(foo\) groups=10000\(foo\),20000\(bar\)$/m);
    assert.match(r.stdout, /WORKDIR_NOT_ACCESSIBLE/);
    assert.match(r.stdout, /SETUID_FILES/);
  });

  test('--pod: the container\'s securityContext and image apply under the kubernetes profile', async () => {
    const pod = join(work, 'deploy.yaml');
    writeFileSync(
      pod,
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: {name: web}',
        'spec:',
        '  template:',
        '    spec:',
        '      securityContext: {runAsUser: 1000, fsGroup: 2000}',
        '      containers:',
        '      - name: side',
        '        image: bb:1',
        '      - name: app',
        '        image: bb:1',
        '        command: ["/bin/sh"]',
        '        securityContext: {allowPrivilegeEscalation: false}',
        '',
      ].join('\n'),
    );
    const r = await explainJson(store, ['--pod', pod, '--container', 'app']);
    assert.equal(r.profile, 'kubernetes');
    assert.equal(r.process.user?.uid, 1000);
    assert.deepEqual(r.process.user?.additionalGids, [0, 2000]);
    assert.equal(r.process.noNewPrivileges, true);
    assert.equal(r.process.capabilities.bounding.length, 9);
    assert.ok(r.findings.some((f) => f.code === 'EXEC_FILE_CAPS_NOT_IN_BOUNDING' && f.subject === '/usr/bin/ping'));
  });

  test('an ignored --security-opt is warned about, not an error', async () => {
    const r = await berth(store, ['explain', '--security-opt', 'seccomp=unconfined', 'bb:1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: --security-opt seccomp=unconfined does not change/);
  });

  const failures: { name: string; args: string[]; message: RegExp }[] = [
    { name: 'an image not in the store', args: ['explain', 'nosuch:1'], message: /^berth: .*nosuch/m },
    { name: '--pod with --user', args: ['explain', '--pod', '/dev/null', '-u', '1000', 'bb:1'], message: /--user cannot be combined with --pod/ },
    { name: 'a malformed --subuid-range', args: ['explain', '--subuid-range', '100000', 'bb:1'], message: /expected START:COUNT/ },
    { name: 'an unknown profile', args: ['explain', '--profile', 'lxc', 'bb:1'], message: /unknown profile "lxc"/ },
    { name: 'no IMAGE', args: ['explain'], message: /expected an IMAGE/ },
  ];
  for (const c of failures) {
    test(`fails with exit 125: ${c.name}`, async () => {
      const r = await berth(store, c.args);
      assert.equal(r.code, 125, r.stdout);
      assert.match(r.stderr, c.message);
    });
  }

  describe('library: explainImage', () => {
    test('podYaml and a podman-rootless model with too few subordinate IDs', async () => {
      const r = await explainImage({ root: store, image: 'bb:1', profile: 'podman-rootless', subuidRange: { start: 100000, count: 1000 } });
      const f = r.findings.find((x) => x.code === 'IDS_OUTSIDE_MAPPING');
      assert.ok(f, JSON.stringify(r.findings.map((x) => x.code)));
      assert.match(f.subject, /65532/);
      const k = await explainImage({ root: store, podYaml: 'kind: Pod\nspec:\n  containers:\n  - name: c\n    image: bb:1\n    securityContext: {runAsUser: 0, runAsNonRoot: true}\n' });
      assert.ok(k.findings.some((x) => x.code === 'RUN_AS_NON_ROOT_VIOLATED'));
    });

    const optionFailures: { name: string; options: Record<string, unknown>; code: string }[] = [
      { name: 'an unknown option', options: { image: 'bb:1', capsAdd: ['NET_RAW'] }, code: 'E_OPTION_UNKNOWN' },
      { name: 'pod and podYaml together', options: { image: 'bb:1', pod: 'a.yaml', podYaml: 'kind: Pod' }, code: 'E_OPTION_CONFLICT' },
      { name: 'container without a pod', options: { image: 'bb:1', container: 'app' }, code: 'E_OPTION_CONFLICT' },
      { name: 'a capability list that is not an array', options: { image: 'bb:1', capAdd: 'NET_RAW' }, code: 'E_OPTION_INVALID' },
      { name: 'a subuid range with a negative start', options: { image: 'bb:1', subuidRange: { start: -1, count: 5 } }, code: 'E_OPTION_INVALID' },
      { name: 'a missing pod file', options: { pod: join(tmpdir(), 'berth-no-such-pod.yaml') }, code: 'E_POD_READ' },
    ];
    for (const c of optionFailures) {
      test(`rejects ${c.name}`, async () => {
        await assert.rejects(
          explainImage({ root: store, ...c.options } as never),
          (e: unknown) => isBerthError(e) && e.code === c.code,
        );
      });
    }
  });
});
