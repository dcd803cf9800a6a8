import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkOwners, normaliseRunOptions, signalOfStatus, type RunOptions } from '../../../src/api/run.js';
import { mergeFileIndexes, FileIndexBuilder } from '../../../src/layer/fileindex.js';
import { containerUserns, buildRootlessMap } from '../../../src/idmap/index.js';
import { mapOwnerThrough, rootfsKey } from '../../../src/runtime/run/index.js';
import type { TarHeader } from '../../../src/layer/tar/types.js';

describe('normaliseRunOptions: accepted', () => {
  const cases: { name: string; in: RunOptions; check: (o: ReturnType<typeof normaliseRunOptions>) => void }[] = [
    {
      name: 'defaults: library removes its container, no network, runc, captured output',
      in: { image: 'busybox' },
      check: (o) => {
        assert.equal(o.rm, true);
        assert.equal(o.network, 'none');
        assert.equal(o.runtime, 'runc');
        assert.equal(o.stdio, 'pipe');
        assert.equal(o.forwardSignals, false);
        assert.equal(o.stopTimeoutMs, 10_000);
      },
    },
    {
      name: '--security-opt no-new-privileges sets noNewPrivileges; other options are listed for a warning',
      in: { image: 'x', securityOpt: ['no-new-privileges', 'seccomp=unconfined'] },
      check: (o) => {
        assert.equal(o.noNewPrivileges, true);
        assert.deepEqual(o.ignoredSecurityOpts, ['seccomp=unconfined']);
      },
    },
    { name: 'an entrypoint string stays one word', in: { image: 'x', entrypoint: 'echo hi' }, check: (o) => assert.equal(o.entrypoint, 'echo hi') },
    { name: 'input with stdio pipe', in: { image: 'x', input: 'data', stdio: 'pipe' }, check: (o) => assert.equal(o.input, 'data') },
    { name: 'uidmap with --userns host', in: { image: 'x', userns: 'host', uidmap: ['0:1:10'] }, check: (o) => assert.deepEqual(o.uidmap, ['0:1:10']) },
  ];
  for (const c of cases) test(c.name, () => c.check(normaliseRunOptions(c.in)));
});

describe('normaliseRunOptions: refused', () => {
  const cases: { name: string; in: unknown; code: string }[] = [
    { name: 'no image', in: {}, code: 'E_OPTION_INVALID' },
    { name: 'unknown option', in: { image: 'x', detach: true }, code: 'E_OPTION_UNKNOWN' },
    { name: 'network bridge', in: { image: 'x', network: 'bridge' }, code: 'E_OPTION_INVALID' },
    { name: 'runtime kata', in: { image: 'x', runtime: 'kata' }, code: 'E_OPTION_INVALID' },
    { name: 'relative workdir (Docker wording)', in: { image: 'x', workdir: 'app' }, code: 'E_WORKDIR_INVALID' },
    { name: 'env not a list', in: { image: 'x', env: 'A=1' }, code: 'E_OPTION_INVALID' },
    { name: 'input without stdio pipe', in: { image: 'x', input: 'a', stdio: 'inherit' }, code: 'E_OPTION_CONFLICT' },
    { name: '--userns with --uidmap', in: { image: 'x', userns: 'keep-id', uidmap: ['0:1:1'] }, code: 'E_OPTION_CONFLICT' },
    { name: 'contradicting no-new-privileges', in: { image: 'x', noNewPrivileges: false, securityOpt: ['no-new-privileges'] }, code: 'E_OPTION_CONFLICT' },
    { name: 'negative stop timeout', in: { image: 'x', stopTimeoutMs: -1 }, code: 'E_OPTION_INVALID' },
    { name: 'signal that is not an AbortSignal', in: { image: 'x', signal: 'SIGTERM' }, code: 'E_OPTION_INVALID' },
    { name: 'stdio that is not a mode', in: { image: 'x', stdio: 'tty' }, code: 'E_OPTION_INVALID' },
  ];
  for (const c of cases) {
    test(c.name, () => assert.throws(() => normaliseRunOptions(c.in as RunOptions), (e: { code?: string }) => e.code === c.code));
  }
});

test('signalOfStatus: 128+n names the signal, other statuses none', () => {
  assert.equal(signalOfStatus(137), 'SIGKILL');
  assert.equal(signalOfStatus(130), 'SIGINT');
  assert.equal(signalOfStatus(0), null);
  assert.equal(signalOfStatus(1), null);
  assert.equal(signalOfStatus(128), null);
});

function viewOf(entries: { path: string; uid: number; gid: number }[]) {
  const b = new FileIndexBuilder();
  for (const e of entries) {
    b.add({ path: e.path, type: 'file', mode: 0o644, uid: e.uid, gid: e.gid, size: 0, linkname: '', xattrs: new Map() } as unknown as TarHeader);
  }
  return mergeFileIndexes([b.finish()]);
}

describe('checkOwners (userns.md U1: refuse before any work)', () => {
  const rootless = {
    uidMap: buildRootlessMap(1001, [{ start: 200000, count: 65536 }]),
    gidMap: buildRootlessMap(1001, [{ start: 200000, count: 65536 }]),
    rootless: true,
    hostUid: 1001,
    hostGid: 1001,
  };
  const userns = containerUserns({}, rootless);

  test('an image whose owners fit is accepted', () => {
    checkOwners(viewOf([{ path: 'etc/passwd', uid: 0, gid: 0 }, { path: 'home/u', uid: 65536, gid: 65536 }]), userns, rootless, 'img');
  });

  test('owners beyond the subordinate range are listed with paths and the range needed', () => {
    assert.throws(
      () => checkOwners(viewOf([{ path: 'data/high/f70000', uid: 70000, gid: 70000 }, { path: 'etc/passwd', uid: 0, gid: 0 }]), userns, rootless, 'img'),
      (e: { code?: string; message: string; hint?: string; details?: Record<string, unknown> }) => {
        assert.equal(e.code, 'E_RUN_IDS_UNMAPPED');
        assert.match(e.message, /70000 \(\/data\/high\/f70000\)/);
        assert.match(e.message, /container IDs 0-65536 \(1 \+ 65536 subordinate IDs\)/);
        assert.equal(e.details?.requiredSubids, 70000);
        assert.match(e.hint ?? '', /70000 subordinate IDs/);
        return true;
      },
    );
  });
});

describe('owner mapping for the rootfs cache', () => {
  test('identity when no container namespace', () => assert.equal(mapOwnerThrough({}), undefined));
  test('container IDs go through the container map; unmapped owners are refused', () => {
    const f = mapOwnerThrough({ uidMap: [{ container: 0, host: 1, size: 10 }], gidMap: [{ container: 0, host: 1, size: 10 }] })!;
    assert.deepEqual(f(0, 9), { uid: 1, gid: 10 });
    assert.throws(() => f(10, 0), (e: { code?: string }) => e.code === 'E_RUN_OWNER_UNMAPPED');
  });
  test('rootfsKey: chain ID hex, with a map hash when owners are rewritten', () => {
    const chain = `sha256:${'d'.repeat(64)}`;
    assert.equal(rootfsKey(chain), 'd'.repeat(64));
    const a = rootfsKey(chain, { uidMap: [{ container: 0, host: 1, size: 10 }], gidMap: [{ container: 0, host: 1, size: 10 }] });
    const b = rootfsKey(chain, { uidMap: [{ container: 0, host: 2, size: 10 }], gidMap: [{ container: 0, host: 1, size: 10 }] });
    assert.match(a, /^d{64}-[0-9a-f]{12}$/);
    assert.notEqual(a, b);
    assert.throws(() => rootfsKey('sha256:zz'), (e: { code?: string }) => e.code === 'E_DIGEST_INVALID');
  });
});
