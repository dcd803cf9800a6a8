import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { release } from 'node:os';
import { readHostFacts, type HostFacts } from '../../src/host/index.js';
import { spawnInUserNamespace } from '../../src/runtime/userns/index.js';

const isRoot = process.geteuid?.() === 0;
const hostModule = new URL('../../src/host/index.js', import.meta.url).href;

/** Facts as seen by a fresh node process started through `prefix` (e.g. setpriv). */
function factsVia(prefix: string[]): HostFacts {
  const script = `import { readHostFacts } from '${hostModule}'; console.log(JSON.stringify(await readHostFacts()));`;
  const r = spawnSync(prefix[0]!, [...prefix.slice(1), process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as HostFacts;
}

function sh(cmd: string): string {
  return execFileSync('/bin/sh', ['-c', cmd], { encoding: 'utf8' }).trim();
}

describe('readHostFacts as root', { skip: isRoot ? false : 'needs root (the rootless view is tested in test/runtime/userns/rootless.test.ts)' }, () => {
  test('identity, mode and maps of the initial namespace', async () => {
    const f = await readHostFacts();
    assert.equal(f.uid, 0);
    assert.equal(f.euid, 0);
    assert.equal(f.userName, 'root');
    assert.equal(f.mode, 'rootful');
    assert.deepEqual(f.uidMap, [{ container: 0, host: 0, size: 4294967295 }]);
    assert.deepEqual(f.gidMap, [{ container: 0, host: 0, size: 4294967295 }]);
    assert.equal(f.setgroups, 'allow');
    assert.deepEqual(f.groups, sh('id -G').split(/\s+/).map(Number).sort((a, b) => a - b));
  });
  test('no subordinate IDs are read (getsubids runs only when rootless)', async () => {
    const f = await readHostFacts();
    assert.deepEqual(f.subuids, []);
    assert.equal(f.subidSource, undefined);
  });
  test('capabilities and no_new_privs match /proc/self/status as the shell sees it', async () => {
    const f = await readHostFacts();
    assert.equal(f.noNewPrivs, false);
    assert.equal(f.capEff, sh('grep CapEff /proc/self/status | cut -f2'));
    assert.equal(f.capBnd, sh('grep CapBnd /proc/self/status | cut -f2'));
  });
  test('rlimits match `ulimit` (the hard limit a runtime must stay under)', async () => {
    const f = await readHostFacts();
    const [soft, hard] = sh('ulimit -Sn; ulimit -Hn').split('\n');
    const num = (s: string) => (s === 'unlimited' ? 'unlimited' : Number(s));
    assert.deepEqual(f.rlimits.RLIMIT_NOFILE, { soft: num(soft!), hard: num(hard!) });
    // dash spells the process limit -p.
    assert.deepEqual(f.rlimits.RLIMIT_NPROC, { soft: num(sh('ulimit -Sp')), hard: num(sh('ulimit -Hp')) });
  });
  test('kernel release and the overlay gate', async () => {
    const f = await readHostFacts();
    assert.equal(f.kernel.release, release());
    assert.equal(f.kernel.release, sh('uname -r'));
    const [maj, min] = f.kernel.release.split('.').map((x) => parseInt(x, 10));
    assert.equal(f.overlayInUserns, maj! > 5 || (maj === 5 && min! >= 11));
  });
  test('user namespace sysctls where present', async () => {
    const f = await readHostFacts();
    assert.equal(f.userns.maxUserNamespaces, Number(sh('cat /proc/sys/user/max_user_namespaces')));
  });
  test('tools are found in PATH with their setuid bit', async () => {
    const f = await readHostFacts();
    for (const name of ['unshare', 'nsenter', 'newuidmap', 'newgidmap'] as const) {
      const path = sh(`command -v ${name}`);
      assert.equal(f.tools[name]?.path, path, name);
      const st = statSync(path);
      assert.equal(f.tools[name]!.setuidRoot, st.uid === 0 && (st.mode & 0o4000) !== 0, name);
    }
    assert.equal(f.tools.newuidmap!.setuidRoot, true, 'Debian ships newuidmap setuid root');
  });
  test('a PATH without the tools finds none of them', async () => {
    const f = await readHostFacts({ env: { PATH: '/nonexistent' } });
    assert.deepEqual(f.tools, {});
  });
  test('relative PATH entries are never searched (a setuid program must not come from the cwd)', async () => {
    const f = await readHostFacts({ env: { PATH: '.:usr/bin' } });
    assert.deepEqual(f.tools, {});
  });
  test('under setpriv --no-new-privs, noNewPrivs is seen', () => {
    const f = factsVia(['setpriv', '--no-new-privs']);
    assert.equal(f.noNewPrivs, true);
    assert.equal(f.mode, 'rootful');
  });
  test('inside a user namespace: mode in-userns, the namespace maps, and the outer identity from the environment', async () => {
    const script = `import { readHostFacts } from '${hostModule}'; console.log(JSON.stringify(await readHostFacts()));`;
    const map = [{ container: 0, host: 100000, size: 65536 }];
    const child = await spawnInUserNamespace(process.execPath, ['--input-type=module', '-e', script], { uidMap: map, gidMap: map }, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BERTH_ROOTLESS_UID: '1001', BERTH_ROOTLESS_GID: '1002', BERTH_ROOTLESS_USER: 'tester' },
    });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    assert.equal((await child.wait()).code, 0);
    const f = JSON.parse(out) as HostFacts;
    assert.equal(f.euid, 0);
    assert.equal(f.mode, 'in-userns');
    assert.deepEqual(f.uidMap, map);
    assert.deepEqual(f.outer, { uid: 1001, gid: 1002, userName: 'tester' });
    // The user's own IDs are not in this map, so every line counts as delegated.
    assert.deepEqual(f.subuids, [{ start: 100000, count: 65536 }]);
    assert.equal(f.subidSource, 'namespace');
  });
  test('the result is plain JSON data', async () => {
    const f = await readHostFacts();
    assert.deepEqual(JSON.parse(JSON.stringify(f)), f);
  });
});
