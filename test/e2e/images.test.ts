/**
 * End to end: import -> save -> load -> unpack through the CLI keeps every bit of file metadata
 * (the ping-capability bug), interoperates with GNU tar and skopeo archives, and behaves on bad
 * input, as root and as an unprivileged user.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { berth, getcap, isRoot, makeBusyboxRootfs, snapshot, tempDir, testUserIds } from './helpers.js';

const hasSkopeo = spawnSync('skopeo', ['--version']).status === 0;

describe('images end to end (root)', { skip: !isRoot && 'needs root' }, () => {
  let work: { dir: string; cleanup: () => void };
  let rootfs: string;
  let store: string;

  before(() => {
    work = tempDir('e2e-images');
    rootfs = makeBusyboxRootfs(join(work.dir, 'rootfs'));
    store = join(work.dir, 'store');
  });
  after(() => work.cleanup());

  test('import a directory, then unpack: getcap still prints cap_net_raw=ep and nothing changed', async () => {
    const imp = await berth(['import', '--change', 'USER foo', '--change', 'WORKDIR /home/foo', rootfs, 'demo:1'], { root: store });
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    const out = join(work.dir, 'out1');
    const up = await berth(['unpack', 'demo:1', out], { root: store });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(getcap(join(out, 'usr/bin/ping')), `${join(out, 'usr/bin/ping')} cap_net_raw=ep`);
    assert.equal(statSync(join(out, 'usr/bin/su-test')).mode & 0o7777, 0o4755);
    assert.equal(statSync(join(out, 'home/foo')).uid, 10000);
    assert.equal(snapshot(out), snapshot(rootfs));
  });

  test('images --json and inspect show the image with its config changes', async () => {
    const ls = await berth(['images', '--json'], { root: store });
    assert.equal(ls.code, 0, ls.stderr);
    const images = JSON.parse(ls.stdout) as { familiar?: string; id: string }[];
    assert.ok(images.some((i) => i.familiar === 'demo:1'), ls.stdout);
    const ins = await berth(['inspect', 'demo:1'], { root: store });
    assert.equal(ins.code, 0, ins.stderr);
    const [info] = JSON.parse(ins.stdout) as { config: { config: { User: string; WorkingDir: string }; rootfs: { diff_ids: string[] } }; manifest: { layers: { mediaType: string }[] } }[];
    assert.equal(info.config.config.User, 'foo');
    assert.equal(info.config.config.WorkingDir, '/home/foo');
    assert.equal(info.manifest.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  });

  for (const format of ['oci-archive', 'docker-archive'] as const) {
    test(`save --format ${format}, load into a new store, unpack: identical metadata`, async () => {
      const archive = join(work.dir, `demo-${format}.tar`);
      const sv = await berth(['save', '--format', format, '-o', archive, 'demo:1'], { root: store });
      assert.equal(sv.code, 0, sv.stderr);
      const store2 = join(work.dir, `store-${format}`);
      const ld = await berth(['load', '-i', archive], { root: store2 });
      assert.equal(ld.code, 0, ld.stderr);
      assert.match(ld.stdout, /Loaded image: .*demo:1/);
      const out = join(work.dir, `out-${format}`);
      const up = await berth(['unpack', 'demo:1', out], { root: store2 });
      assert.equal(up.code, 0, up.stderr);
      assert.equal(snapshot(out), snapshot(rootfs));
      // Same image ID (config digest) after the round trip.
      const a = JSON.parse((await berth(['inspect', 'demo:1'], { root: store })).stdout)[0].id;
      const b = JSON.parse((await berth(['inspect', 'demo:1'], { root: store2 })).stdout)[0].id;
      assert.equal(a, b);
    });
  }

  test('docker-archive from berth save has manifest.json and repositories like docker save', async () => {
    const archive = join(work.dir, 'demo-docker-archive.tar');
    const listing = execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).split('\n');
    for (const f of ['manifest.json', 'repositories', 'index.json', 'oci-layout']) assert.ok(listing.includes(f), `${f} in ${listing.join(',')}`);
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', archive, 'manifest.json'], { encoding: 'utf8' }));
    assert.deepEqual(manifest[0].RepoTags, ['demo:1']);
    // Legacy layers are uncompressed tars that GNU tar lists and extracts with the capability.
    const layer = manifest[0].Layers[0] as string;
    const x = join(work.dir, 'gnu-x');
    execFileSync('mkdir', ['-p', x]);
    execFileSync('sh', ['-c', `tar -xOf '${archive}' '${layer}' | tar --xattrs --xattrs-include='*' --numeric-owner -xpf - -C '${x}'`]);
    assert.match(getcap(join(x, 'usr/bin/ping')), /cap_net_raw=ep/);
  });

  test('skopeo reads berth oci-archive and writes a docker-archive that berth loads', { skip: !hasSkopeo && 'skopeo not installed' }, async () => {
    const oci = join(work.dir, 'demo-oci-archive.tar');
    const dock = join(work.dir, 'skopeo-docker.tar');
    execFileSync('skopeo', ['copy', '--quiet', `oci-archive:${oci}`, `docker-archive:${dock}:skopeo/demo:2`]);
    const store3 = join(work.dir, 'store-skopeo');
    const ld = await berth(['load', '-i', dock], { root: store3 });
    assert.equal(ld.code, 0, ld.stderr);
    const out = join(work.dir, 'out-skopeo');
    const up = await berth(['unpack', 'skopeo/demo:2', out], { root: store3 });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(snapshot(out), snapshot(rootfs));
  });

  for (const [name, flags] of [['gzip', '-z'], ['zstd', '--zstd'], ['plain', '']] as const) {
    test(`import a GNU tar ${name} tarball made with --xattrs: caps and setuid survive`, async () => {
      const tarball = join(work.dir, `rootfs-${name}.tar`);
      execFileSync('sh', ['-c', `tar --xattrs --xattrs-include='*' --numeric-owner ${flags} -cf '${tarball}' -C '${rootfs}' .`]);
      const imp = await berth(['import', tarball, `tarball-${name}`], { root: store });
      assert.equal(imp.code, 0, imp.stderr);
      const out = join(work.dir, `out-tar-${name}`);
      const up = await berth(['unpack', `tarball-${name}`, out], { root: store });
      assert.equal(up.code, 0, up.stderr);
      assert.equal(snapshot(out), snapshot(rootfs));
    });
  }

  test('import from stdin', async () => {
    const tarball = execFileSync('tar', ['--xattrs', "--xattrs-include=*", '-cf', '-', '-C', rootfs, '.'], { maxBuffer: 1 << 28 });
    const imp = await berth(['import', '-', 'stdin:1'], { root: store, input: tarball });
    assert.equal(imp.code, 0, imp.stderr);
    const out = join(work.dir, 'out-stdin');
    assert.equal((await berth(['unpack', 'stdin:1', out], { root: store })).code, 0);
    assert.match(getcap(join(out, 'usr/bin/ping')), /cap_net_raw=ep/);
  });

  test('tag, rmi and gc', async () => {
    assert.equal((await berth(['tag', 'demo:1', 'other/name:2'], { root: store })).code, 0);
    const ins = await berth(['inspect', 'other/name:2'], { root: store });
    assert.equal(ins.code, 0, ins.stderr);
    const rm = await berth(['rmi', 'other/name:2'], { root: store });
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /Untagged: .*other\/name:2/);
    assert.equal((await berth(['inspect', 'other/name:2'], { root: store })).code, 125);
    assert.equal((await berth(['inspect', 'demo:1'], { root: store })).code, 0, 'the other name keeps the image');
    const gc = await berth(['gc', '--json'], { root: store });
    assert.equal(gc.code, 0, gc.stderr);
  });
});

describe('bad input gets a clear error and loses nothing (root)', { skip: !isRoot && 'needs root' }, () => {
  let work: { dir: string; cleanup: () => void };
  let store: string;
  let tarball: string;
  before(async () => {
    work = tempDir('e2e-bad');
    store = join(work.dir, 'store');
    const rootfs = makeBusyboxRootfs(join(work.dir, 'rootfs'));
    tarball = join(work.dir, 'rootfs.tar');
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-cf', tarball, '-C', rootfs, '.']);
    assert.equal((await berth(['import', tarball, 'good:1'], { root: store })).code, 0);
  });
  after(() => work.cleanup());

  const cases: { name: string; args: (d: string) => string[]; prepare?: (d: string) => void; message: RegExp }[] = [
    { name: 'unknown image', args: () => ['unpack', 'nope:1', join(work.dir, 'x1')], message: /nope/ },
    { name: 'missing import source', args: (d) => ['import', join(d, 'missing.tar'), 'x:1'], message: /missing\.tar.*no such file/i },
    {
      name: 'truncated tarball',
      prepare: (d) => {
        execFileSync('cp', [tarball, join(d, 'trunc.tar')]);
        truncateSync(join(d, 'trunc.tar'), 700_000);
      },
      args: (d) => ['import', join(d, 'trunc.tar'), 'trunc:1'],
      message: /import .*trunc\.tar: .*(archive ends|truncat)/i,
    },
    { name: 'bad --change', args: () => ['import', '--change', 'RUN rm -rf /', tarball, 'x:2'], message: /--change/ },
    {
      name: 'not an archive for load',
      prepare: (d) => writeFileSync(join(d, 'junk.tar'), Buffer.alloc(4096, 7)),
      args: (d) => ['load', '-i', join(d, 'junk.tar')],
      message: /load .*junk\.tar: [\s\S]*not a tar archive/i,
    },
    { name: 'invalid reference', args: () => ['import', tarball, 'Upper:1'], message: /must be lowercase/i },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      c.prepare?.(work.dir);
      const r = await berth(c.args(work.dir), { root: store });
      assert.equal(r.code, 125, r.stdout + r.stderr);
      assert.match(r.stderr, c.message);
      assert.doesNotMatch(r.stderr, /internal error/);
      // The good image is still there and intact.
      assert.equal((await berth(['inspect', 'good:1'], { root: store })).code, 0);
    });
  }

  test('a corrupted blob in the store is detected on read', async () => {
    const ins = JSON.parse((await berth(['inspect', 'good:1'], { root: store })).stdout)[0];
    const layer = ins.manifest.layers[0].digest.split(':')[1];
    const blob = join(store, 'blobs/sha256', layer);
    const copy = readFileSync(blob);
    chmodSync(blob, 0o644);
    const bad = Buffer.from(copy);
    bad[bad.length - 100] ^= 0xff;
    writeFileSync(blob, bad);
    try {
      const r = await berth(['unpack', 'good:1', join(work.dir, 'corrupt-out')], { root: store });
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, /sha256|digest|corrupt/i);
    } finally {
      writeFileSync(blob, copy);
    }
  });

  test('a full disk is a clear error and leaves nothing half-written', async () => {
    const small = join(work.dir, 'small-store');
    execFileSync('mkdir', ['-p', small]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'berth-test-tmpfs', small]);
    try {
      assert.equal((await berth(['import', tarball, 'fits:1'], { root: small })).code, 0);
      const big = join(work.dir, 'incompressible');
      execFileSync('mkdir', ['-p', big]);
      execFileSync('sh', ['-c', `head -c 8000000 /dev/urandom > '${big}/data.bin'`]);
      const r = await berth(['import', big, 'toobig:1'], { root: small });
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, /^berth: import .*incompressible: .*no space left on device/m);
      assert.match(r.stderr, /hint: the disk is full/);
      assert.doesNotMatch(r.stderr, /internal error/);
      const ls = await berth(['images', '--json'], { root: small });
      assert.equal(ls.code, 0, ls.stderr);
      const names = (JSON.parse(ls.stdout) as { familiar?: string }[]).map((i) => i.familiar);
      assert.deepEqual(names, ['fits:1']);
      assert.equal((await berth(['gc'], { root: small })).code, 0);
      assert.equal((await berth(['unpack', 'fits:1', join(work.dir, 'after-full')], { root: small })).code, 0);
    } finally {
      execFileSync('umount', [small]);
    }
  });

  test('an import killed with SIGKILL leaves a store the next command can use', async () => {
    const big = join(work.dir, 'big.tar');
    execFileSync('sh', ['-c', `head -c 200000000 /dev/urandom > '${work.dir}/blob.bin' && tar -cf '${big}' -C '${work.dir}' blob.bin`]);
    const r = await berth(['import', big, 'killed:1'], { root: store, killAfterMs: 700 });
    assert.notEqual(r.code, 0);
    const ls = await berth(['images', '--json'], { root: store });
    assert.equal(ls.code, 0, ls.stderr);
    assert.ok(!ls.stdout.includes('killed'));
    assert.equal((await berth(['gc'], { root: store })).code, 0);
    assert.equal((await berth(['unpack', 'good:1', join(work.dir, 'after-kill')], { root: store })).code, 0);
    assert.ok(existsSync(join(work.dir, 'after-kill/usr/bin/ping')));
  });
});

describe('rootless: an unprivileged user imports and unpacks', { skip: (!isRoot || !testUserIds()) && 'needs root to switch to the test user' }, () => {
  test('import a tarball and unpack it as the test user: data kept, losses warned once per class', async () => {
    const ids = testUserIds()!;
    const work = tempDir('e2e-rootless', ids);
    try {
      const rootfs = makeBusyboxRootfs(join(work.dir, 'rootfs'));
      const tarball = join(work.dir, 'rootfs.tar');
      execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-cf', tarball, '-C', rootfs, '.']);
      execFileSync('chown', [`${ids.uid}:${ids.gid}`, tarball]);
      const store = join(work.dir, 'store');
      const imp = await berth(['import', tarball, 'rl:1'], { root: store, asTestUser: true });
      assert.equal(imp.code, 0, imp.stderr);
      const out = join(work.dir, 'out');
      const up = await berth(['unpack', 'rl:1', out], { root: store, asTestUser: true });
      assert.equal(up.code, 0, up.stderr);
      // Data and modes arrive; owners and the capability cannot, and berth says so once each.
      assert.equal(readFileSync(join(out, 'etc/passwd'), 'utf8'), readFileSync(join(rootfs, 'etc/passwd'), 'utf8'));
      assert.equal(statSync(join(out, 'usr/bin/ping')).uid, ids.uid);
      assert.match(up.stderr, /capabilit/i);
      const capLines = up.stderr.split('\n').filter((l) => /capabilit/i.test(l));
      assert.equal(capLines.length, 1, up.stderr);
      // The store is the user's: default location works without --root too.
      const ls = await berth(['images'], { root: store, asTestUser: true });
      assert.match(ls.stdout, /rl/);
    } finally {
      work.cleanup();
    }
  });

  test('import a directory the user owns, save, load and unpack as the test user: user xattrs and modes survive', async () => {
    const ids = testUserIds()!;
    const work = tempDir('e2e-rootless-dir', ids);
    try {
      const rootfs = makeBusyboxRootfs(join(work.dir, 'rootfs'));
      execFileSync('chown', ['-R', '-h', `${ids.uid}:${ids.gid}`, rootfs]);
      // chown cleared the setuid bit and the capability; the user's own tree keeps its user.* xattr.
      execFileSync('setfattr', ['-n', 'user.berth-test', '-v', '0x00fffe80', join(rootfs, 'etc/passwd')]);
      const store = join(work.dir, 'store');
      const imp = await berth(['import', rootfs, 'mine:1'], { root: store, asTestUser: true });
      assert.equal(imp.code, 0, imp.stderr);
      const archive = join(work.dir, 'mine.tar');
      assert.equal((await berth(['save', '-o', archive, 'mine:1'], { root: store, asTestUser: true })).code, 0);
      const store2 = join(work.dir, 'store2');
      assert.equal((await berth(['load', '-i', archive], { root: store2, asTestUser: true })).code, 0);
      const out = join(work.dir, 'out');
      const up = await berth(['unpack', 'mine:1', out], { root: store2, asTestUser: true });
      assert.equal(up.code, 0, up.stderr);
      assert.equal(snapshot(out), snapshot(rootfs));
    } finally {
      work.cleanup();
    }
  });
});
