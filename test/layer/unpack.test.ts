/**
 * applyLayer: OCI changeset semantics (whiteouts, opaque directories, replacement, merging,
 * cross-layer hardlinks), metadata order, statistics and warnings, option checking, and the
 * three privilege modes (root here; a user namespace and a plain user in child processes).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyLayer } from '../../src/layer/index.js';
import {
  CAP_NET_RAW,
  NOBODY,
  applyAll,
  applyAsNobody,
  capV2,
  dir,
  entry,
  file,
  getfattr,
  hardlink,
  isRoot,
  nobodyDir,
  rejectsWith,
  sandbox,
  symlink,
  toChild,
  type Sandbox,
} from './advisories/harness.js';

const ns = (st: { mtimeNs: bigint }) => st.mtimeNs;
const stat = (p: string) => lstatSync(p, { bigint: true });

async function inSandbox(f: (sb: Sandbox) => Promise<void>): Promise<void> {
  const sb = sandbox('unpack');
  try {
    await f(sb);
  } finally {
    sb.cleanup();
  }
}

describe('applyLayer as root', { skip: !isRoot && 'needs root' }, () => {
  test('creates every type with owners, modes, nanosecond mtimes, xattrs', () =>
    inSandbox(async (sb) => {
      const { stats } = await applyAll(sb.root, [
        [
          dir('etc', { mode: 0o751, uid: 1, gid: 2, mtime: { sec: 1000, nsec: 1 } }),
          file('etc/motd', 'hi\n', { mode: 0o640, uid: 3000000, gid: 4000000, mtime: { sec: 2000, nsec: 999_999_999 }, xattrs: { 'user.bin': Buffer.from([0, 0xff]) } }),
          symlink('etc/link', '../nowhere', { uid: 5, gid: 6, mtime: { sec: 3000, nsec: 3 } }),
          hardlink('etc/motd2', 'etc/motd'),
          dir('tmp', { mode: 0o1777 }),
          entry('tmp/fifo', 'fifo', { mode: 0o600 }),
        ],
      ]);
      const etc = stat(join(sb.root, 'etc'));
      assert.equal(Number(etc.mode & 0o7777n), 0o751);
      assert.equal([etc.uid, etc.gid].join(':'), '1:2');
      assert.equal(ns(etc), 1000_000_000_001n, 'directory mtime set after its children were created');
      const motd = stat(join(sb.root, 'etc/motd'));
      assert.equal(Number(motd.mode & 0o7777n), 0o640);
      assert.equal([motd.uid, motd.gid].join(':'), '3000000:4000000');
      assert.equal(ns(motd), 2000_999_999_999n);
      assert.equal(motd.nlink, 2n);
      assert.equal(getfattr(join(sb.root, 'etc/motd')), 'user.bin=0x00ff');
      assert.equal(readlinkSync(join(sb.root, 'etc/link')), '../nowhere');
      const link = stat(join(sb.root, 'etc/link'));
      assert.equal([link.uid, link.gid].join(':'), '5:6');
      assert.equal(ns(link), 3000_000_000_003n);
      assert.equal(Number(stat(join(sb.root, 'tmp')).mode & 0o7777n), 0o1777);
      assert.ok(lstatSync(join(sb.root, 'tmp/fifo')).isFIFO());
      assert.deepEqual(stats.created, { files: 1, dirs: 2, symlinks: 1, hardlinks: 1, devices: 0, fifos: 1 });
      assert.equal(stats.bytes, 3);
      assert.deepEqual(stats.uids, [0, 1, 5, 3000000]);
      assert.deepEqual(stats.gids, [0, 2, 6, 4000000]);
    }));

  test('missing parent directories are created 0755 and owned by the (mapped) root', () =>
    inSandbox(async (sb) => {
      const { stats } = await applyAll(sb.root, [[file('a/b/c', 'x', { uid: 1000, gid: 1000 })]], {
        mapOwner: (uid, gid) => ({ uid: uid + 100000, gid: gid + 100000 }),
      });
      for (const d of ['a', 'a/b']) {
        const st = lstatSync(join(sb.root, d));
        assert.equal(st.mode & 0o7777, 0o755);
        assert.equal(`${st.uid}:${st.gid}`, '100000:100000');
      }
      assert.equal(lstatSync(join(sb.root, 'a/b/c')).uid, 101000);
      assert.deepEqual(stats.uids, [1000], 'ID sets are the layer\'s, before mapping');
    }));

  test('a directory entry over an existing directory replaces its attributes and keeps its children', () =>
    inSandbox(async (sb) => {
      await applyAll(sb.root, [
        [dir('d', { mode: 0o700, uid: 1, xattrs: { 'user.a': Buffer.from('1'), 'user.b': Buffer.from('2') } }), file('d/keep', 'k')],
        [dir('d', { mode: 0o2755, uid: 2, gid: 3, xattrs: { 'user.b': Buffer.from('3') } })],
      ]);
      const st = lstatSync(join(sb.root, 'd'));
      assert.equal(st.mode & 0o7777, 0o2755);
      assert.equal(`${st.uid}:${st.gid}`, '2:3');
      assert.equal(getfattr(join(sb.root, 'd')), 'user.b=0x33');
      assert.equal(readFileSync(join(sb.root, 'd/keep'), 'utf8'), 'k');
    }));

  test('a file replaces a directory tree, and a directory replaces a file', () =>
    inSandbox(async (sb) => {
      await applyAll(sb.root, [
        [dir('d'), dir('d/e', { mode: 0o500 }), file('d/e/f', 'x', { mode: 0o400 }), file('g', 'file')],
        [file('d', 'now a file'), dir('g'), file('g/inside', 'y')],
      ]);
      assert.equal(readFileSync(join(sb.root, 'd'), 'utf8'), 'now a file');
      assert.equal(readFileSync(join(sb.root, 'g/inside'), 'utf8'), 'y');
    }));

  test('whiteouts remove lower files and whole directories; opaque directories hide lower children', () =>
    inSandbox(async (sb) => {
      const { stats } = await applyAll(sb.root, [
        [file('a', 'a'), dir('b'), file('b/c', 'c'), dir('o'), file('o/old', 'old'), dir('o/sub'), file('o/sub/x', 'x')],
        [file('.wh.a'), file('.wh.b'), file('.wh.missing'), dir('o'), file('o/.wh..wh..opq'), file('o/new', 'new')],
      ]);
      assert.deepEqual(readdirSync(sb.root).sort(), ['o']);
      assert.deepEqual(readdirSync(join(sb.root, 'o')), ['new']);
      assert.equal(stats.whiteouts, 3);
      assert.equal(stats.opaques, 1);
    }));

  test('hardlinks to lower-layer files share the inode; replacing one name leaves the other', () =>
    inSandbox(async (sb) => {
      await applyAll(sb.root, [[file('bin/a', 'shared', { mode: 0o755 })], [hardlink('bin/b', 'bin/a'), hardlink('/bin/c', '/bin/a')], [file('bin/a', 'new')]]);
      assert.equal(lstatSync(join(sb.root, 'bin/b')).ino, lstatSync(join(sb.root, 'bin/c')).ino);
      assert.equal(readFileSync(join(sb.root, 'bin/b'), 'utf8'), 'shared');
      assert.equal(readFileSync(join(sb.root, 'bin/a'), 'utf8'), 'new');
      assert.equal(lstatSync(join(sb.root, 'bin/b')).nlink, 2);
    }));

  test('a root entry changes the root directory metadata', () =>
    inSandbox(async (sb) => {
      await applyAll(sb.root, [[dir('./', { mode: 0o700, mtime: { sec: 42, nsec: 42 } }), file('x', '')]]);
      const st = stat(sb.root);
      assert.equal(Number(st.mode & 0o7777n), 0o700);
      assert.equal(ns(st), 42_000_000_042n);
    }));

  test('a body given as one Buffer and as sync chunks is written whole', () =>
    inSandbox(async (sb) => {
      const big = Buffer.alloc(3 << 20, 7);
      const e1 = file('one', '');
      e1.header.size = big.length;
      e1.body = big;
      const e2 = file('two', '');
      e2.header.size = 6;
      e2.body = [Buffer.from('abc'), Buffer.from('def')];
      await applyAll(sb.root, [[e1, e2]]);
      assert.deepEqual(readFileSync(join(sb.root, 'one')), big);
      assert.equal(readFileSync(join(sb.root, 'two'), 'utf8'), 'abcdef');
    }));

  test('no warnings for a clean layer', () =>
    inSandbox(async (sb) => {
      const { warnings } = await applyAll(sb.root, [[dir('a'), file('a/b', 'x', { xattrs: { 'security.capability': capV2(CAP_NET_RAW) } })]]);
      assert.deepEqual(warnings, []);
    }));
});

describe('applyLayer failures', { skip: !isRoot && 'needs root' }, () => {
  const cases: { name: string; run: (sb: Sandbox) => Promise<unknown>; code: string; message?: RegExp }[] = [
    {
      name: 'an unknown option',
      run: (sb) => applyLayer(sb.root, [], { onWarning: () => {}, privilege: 'root', rootless: true } as never),
      code: 'E_LAYER_OPTIONS',
      message: /unknown option "rootless"/,
    },
    { name: 'a bad privilege', run: (sb) => applyLayer(sb.root, [], { onWarning: () => {}, privilege: 'admin' as never }), code: 'E_LAYER_OPTIONS' },
    { name: 'no warning sink', run: (sb) => applyLayer(sb.root, [], { privilege: 'root' } as never), code: 'E_LAYER_OPTIONS' },
    {
      name: 'an unknown limit',
      run: (sb) => applyLayer(sb.root, [], { onWarning: () => {}, privilege: 'root', limits: { maxFiles: 1 } as never }),
      code: 'E_LAYER_OPTIONS',
    },
    { name: 'a missing target', run: (sb) => applyLayer(join(sb.root, 'nope'), [], { onWarning: () => {}, privilege: 'root' }), code: 'E_LAYER_ROOT' },
    {
      name: 'a target that is a file',
      run: (sb) => {
        writeFileSync(join(sb.base, 'f'), '');
        return applyLayer(join(sb.base, 'f'), [], { onWarning: () => {}, privilege: 'root' });
      },
      code: 'E_LAYER_ROOT',
    },
    {
      name: 'a parent that is a regular file names the layer, the entry and the parent',
      run: (sb) => applyLayer(sb.root, [file('a', 'x'), file('a/b', 'y')], { onWarning: () => {}, privilege: 'root', layerName: 'sha256:abc' }),
      code: 'E_LAYER_PARENT_NOT_DIR',
      message: /^apply layer sha256:abc entry \/a\/b: parent \/a is not a directory$/,
    },
    {
      name: 'mapOwner returning an invalid owner',
      run: (sb) => applyLayer(sb.root, [file('a', 'x')], { onWarning: () => {}, privilege: 'root', mapOwner: () => ({ uid: -1, gid: 0 }) }),
      code: 'E_LAYER_OWNER',
    },
    {
      name: 'a hardlink to a name the same layer removed',
      run: (sb) => applyLayer(sb.root, [dir('d'), file('d/f', 'x'), file('d', 'replaced'), hardlink('h', 'd/f')], { onWarning: () => {}, privilege: 'root' }),
      code: 'E_LAYER_HARDLINK',
    },
  ];
  for (const c of cases) {
    test(c.name, () =>
      inSandbox(async (sb) => {
        const err = await rejectsWith(c.run(sb), c.code);
        if (c.message) assert.match(err.message, c.message);
      }),
    );
  }

  test('a failed layer leaves no file descriptors open', () =>
    inSandbox(async (sb) => {
      const before = readdirSync('/proc/self/fd').length;
      await rejectsWith(applyLayer(sb.root, [dir('a'), dir('a/b'), file('a/b/c', 'x'), file('a/b/c/d', 'y')], { onWarning: () => {}, privilege: 'root' }), 'E_LAYER_PARENT_NOT_DIR');
      await applyLayer(sb.root, [dir('x'), dir('x/y'), file('x/y/z', 'x'), symlink('x', '/'), file('x/q', 'q')], { onWarning: () => {}, privilege: 'root' });
      assert.equal(readdirSync('/proc/self/fd').length, before);
    }));
});

/** The layer an unprivileged unpack meets in practice: root-owned files, a cap, setid, a device. */
function busyboxLikeLayer() {
  return [
    toChild(dir('etc')),
    toChild(file('etc/passwd', 'root:x:0:0::/root:/bin/sh\n'), Buffer.from('root:x:0:0::/root:/bin/sh\n')),
    toChild(file('etc/shadow', '', { mode: 0o640, gid: 42 }), Buffer.from('root:*:1::::::\n')),
    toChild(dir('usr')),
    toChild(dir('usr/bin')),
    toChild(file('usr/bin/ping', '', { mode: 0o755, xattrs: { 'security.capability': capV2(CAP_NET_RAW), 'user.note': Buffer.from([1, 2, 0xff]) } }), Buffer.from('ELF')),
    toChild(file('usr/bin/su', '', { mode: 0o4755 }), Buffer.from('ELF')),
    toChild(file('usr/bin/wall', '', { mode: 0o2755, gid: 5 }), Buffer.from('ELF')),
    toChild(file('usr/bin/tr', '', { xattrs: { 'trusted.x': Buffer.from('1') } }), Buffer.from('ELF')),
    toChild(dir('dev')),
    toChild(entry('dev/null', 'char', { devmajor: 1, devminor: 3, mode: 0o666 })),
    toChild(entry('dev/fifo', 'fifo')),
    toChild(symlink('bin', 'usr/bin')),
    toChild(hardlink('usr/bin/ping6', 'usr/bin/ping')),
    toChild(dir('ro', { mode: 0o555 })),
    toChild(file('ro/f', ''), Buffer.from('f')),
  ];
}

describe('applyLayer as a plain user (nobody, no user namespace)', { skip: !isRoot && 'needs root to switch to nobody' }, () => {
  test('keeps data, modes, setid bits, symlinks and user.* xattrs; owners, the capability, trusted.* and devices lost, one warning each', () => {
    const work = nobodyDir();
    try {
      const root = join(work.dir, 'rootfs');
      mkdirSync(root);
      chownSync(root, NOBODY.uid, NOBODY.gid);
      const res = applyAsNobody(root, [busyboxLikeLayer(), [toChild(file('ro/g', ''), Buffer.from('g')), toChild(file('ro/.wh.f')), toChild(file('usr/bin/ping', '', { mode: 0o755, xattrs: { 'security.capability': capV2(CAP_NET_RAW) } }), Buffer.from('ELF2'))]], 'unprivileged');
      assert.equal(res.error, undefined, res.error?.message);
      // Data, modes, links.
      assert.equal(readFileSync(join(root, 'etc/passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
      assert.equal(lstatSync(join(root, 'etc/shadow')).mode & 0o7777, 0o640);
      assert.equal(lstatSync(join(root, 'usr/bin/su')).mode & 0o7777, 0o4755, 'setuid on a file the caller owns is kept');
      // The group could not be applied, so the file has the caller's group, and setgid stays.
      assert.equal(lstatSync(join(root, 'usr/bin/wall')).mode & 0o7777, 0o2755);
      assert.equal(readlinkSync(join(root, 'bin')), 'usr/bin');
      assert.equal(lstatSync(join(root, 'usr/bin/ping6')).nlink, 1, 'ping was replaced in layer 2; ping6 keeps the old inode');
      assert.ok(lstatSync(join(root, 'dev/fifo')).isFIFO());
      assert.equal(existsSync(join(root, 'dev/null')), false);
      assert.equal(getfattr(join(root, 'usr/bin/ping6')), 'user.note=0x0102ff');
      // The read-only directory was changed by both layers (a file added, a whiteout) and ends 0555.
      assert.deepEqual(readdirSync(join(root, 'ro')).sort(), ['g']);
      assert.equal(lstatSync(join(root, 'ro')).mode & 0o7777, 0o555);
      // Owners are the caller's.
      assert.equal(lstatSync(join(root, 'usr/bin/ping')).uid, NOBODY.uid);
      // One warning per class per layer.
      const codes = res.warnings.map((w) => w.code);
      const l1 = res.warnings.filter((w) => w.message.startsWith('apply layer L1:')).map((w) => w.code).sort();
      assert.deepEqual(l1, ['W_UNPACK_CHOWN', 'W_UNPACK_DEVICE', 'W_UNPACK_FILECAPS', 'W_UNPACK_XATTR']);
      assert.equal(codes.filter((c) => c === 'W_UNPACK_FILECAPS').length, 2);
      const caps = res.warnings.find((w) => w.code === 'W_UNPACK_FILECAPS')!;
      assert.match(caps.message, /^apply layer L1: file capabilities dropped: not permitted \(1 file, e\.g\. \/usr\/bin\/ping\)$/);
      assert.equal(res.warnings.filter((w) => /capabilit/i.test(w.message) && w.message.startsWith('apply layer L1')).length, 1);
      const chown = res.warnings.find((w) => w.code === 'W_UNPACK_CHOWN')!;
      assert.match(chown.message, /file owners not applied: not permitted \(\d+ entries, e\.g\. \//);
      assert.match(res.warnings.find((w) => w.code === 'W_UNPACK_XATTR')!.message, /trusted\.x \(1\)/);
      // Stats of the last layer report its own losses.
      assert.deepEqual(res.stats!.lost, { owners: 2, fileCaps: 1, devices: 0, xattrs: 0, setid: 0 });
    } finally {
      work.cleanup();
    }
  });
});

describe('applyLayer as root of a user namespace (nobody, unshare --map-root-user)', { skip: !isRoot && 'needs root to switch to nobody' }, () => {
  test('owners squashed to the namespace root, the capability written (the kernel makes it v3), devices skipped', () => {
    const work = nobodyDir();
    try {
      const res = applyAsNobody(work.dir, [busyboxLikeLayer()], 'userns', true);
      assert.equal(res.error, undefined, res.error?.message);
      assert.equal(lstatSync(join(work.dir, 'usr/bin/ping')).uid, NOBODY.uid);
      // Seen from the host, the capability belongs to the namespace whose root is nobody.
      const fattr = getfattr(join(work.dir, 'usr/bin/ping'));
      assert.match(fattr, /security\.capability=0x0100000300200000000000000000000000000000feff0000/);
      assert.equal(lstatSync(join(work.dir, 'usr/bin/su')).mode & 0o7777, 0o4755);
      assert.equal(existsSync(join(work.dir, 'dev/null')), false);
      const codes = res.warnings.map((w) => w.code).sort();
      assert.deepEqual(codes, ['W_UNPACK_DEVICE', 'W_UNPACK_XATTR']);
      assert.deepEqual(res.stats!.lost, { owners: 0, fileCaps: 0, devices: 1, xattrs: 1, setid: 0 });
    } finally {
      work.cleanup();
    }
  });

  test('an owner the namespace does not map is an error naming the owner', () => {
    const work = nobodyDir();
    try {
      const res = applyAsNobody(work.dir, [[toChild(file('data/f70000', '', { uid: 70000, gid: 70000 }), Buffer.from('x'))]], 'userns');
      assert.equal(res.error?.code, 'E_LAYER_UNMAPPED_OWNER');
      assert.match(res.error!.message, /entry \/data\/f70000: owned by 70000:70000, which this user namespace does not map/);
    } finally {
      work.cleanup();
    }
  });
});
