/**
 * The koffi bindings in src/sys: Node-style errors, byte-exact names, nanosecond times, xattrs
 * that never follow symlinks, and resolution inside a root (openat2 and the fd walk agree).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errnoOf } from '../../src/errors/index.js';
import {
  AT_REMOVEDIR,
  AT_SYMLINK_NOFOLLOW,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_WRONLY,
  RENAME_NOREPLACE,
  S_IFCHR,
  S_IFIFO,
  S_IFMT,
  close,
  fchmodat,
  fgetxattr,
  flistxattr,
  fremovexattr,
  fsetxattr,
  fstat,
  fstatat,
  futimens,
  lgetxattr,
  linkat,
  llistxattr,
  lremovexattr,
  lsetxattr,
  mkdirat,
  mknodat,
  openInRoot,
  openat,
  openat2Available,
  procFdPath,
  readdirAt,
  readlinkat,
  renameat2,
  symlinkat,
  unlinkat,
  utimensat,
  walkInRoot,
} from '../../src/sys/index.js';
import { removeTree } from './advisories/harness.js';

const isRoot = process.geteuid?.() === 0;
let base: string;
let dirfd: number;

before(() => {
  base = mkdtempSync(join(tmpdir(), 'berth-sys-'));
  dirfd = openSync(base, 'r');
});
after(() => {
  closeSync(dirfd);
  removeTree(base);
});

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return errnoOf(e);
  }
  return undefined;
}

describe('errors', () => {
  test('a failing call throws what Node fs would: code, negative errno, syscall, path', () => {
    try {
      openat(dirfd, 'missing', O_RDONLY);
      assert.fail('no error');
    } catch (e) {
      const err = e as { code: string; errno: number; syscall: string; path: string; message: string };
      assert.equal(err.code, 'ENOENT');
      assert.equal(err.errno, -2);
      assert.equal(err.syscall, 'openat');
      assert.equal(err.path, 'missing');
      assert.equal(err.message, "ENOENT: no such file or directory, openat 'missing'");
      assert.equal(errnoOf(e), 'ENOENT');
    }
  });
  test('a name with a NUL byte is refused before the kernel sees a truncated name', () => {
    writeFileSync(join(base, 'trunc'), 'x');
    assert.equal(codeOf(() => openat(dirfd, 'trunc\0ated', O_RDONLY)), 'EINVAL');
  });
});

describe('files, links and nodes by fd', () => {
  test('create, write through Node, stat with nanoseconds, rename without replacing, unlink', () => {
    const fd = openat(dirfd, 'f1', O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    writeFileSync(fd, 'hello');
    futimens(fd, { sec: 1, nsec: 2 }, { sec: 1_600_000_000, nsec: 999_999_999 });
    const st = fstat(fd);
    closeSync(fd);
    assert.equal(st.size, 5);
    assert.equal(st.mode & S_IFMT, 0o100000);
    assert.deepEqual(st.mtime, { sec: 1_600_000_000, nsec: 999_999_999 });
    assert.equal(codeOf(() => openat(dirfd, 'f1', O_WRONLY | O_CREAT | O_EXCL)), 'EEXIST');
    writeFileSync(join(base, 'f2'), 'other');
    assert.equal(codeOf(() => renameat2(dirfd, 'f1', dirfd, 'f2', RENAME_NOREPLACE)), 'EEXIST');
    renameat2(dirfd, 'f1', dirfd, 'f3', RENAME_NOREPLACE);
    assert.equal(readFileSync(join(base, 'f3'), 'utf8'), 'hello');
    unlinkat(dirfd, 'f3');
    assert.equal(codeOf(() => fstatat(dirfd, 'f3', AT_SYMLINK_NOFOLLOW)), 'ENOENT');
  });

  test('symlinks store bytes verbatim (not UTF-8) and utimensat changes the link, not its target', () => {
    const target = 'caf\xe9-\xff/../x';
    symlinkat(target, dirfd, 'l\xe9');
    assert.equal(readlinkat(dirfd, 'l\xe9'), target);
    assert.deepEqual(readdirSync(base, { encoding: 'buffer' }).map((b) => b.toString('latin1')).filter((n) => n.startsWith('l')), ['l\xe9']);
    writeFileSync(join(base, 'tgt'), 't');
    symlinkat('tgt', dirfd, 'lt');
    const before = lstatSync(join(base, 'tgt')).mtimeMs;
    utimensat(dirfd, 'lt', { sec: 5, nsec: 0 }, { sec: 5, nsec: 6 }, AT_SYMLINK_NOFOLLOW);
    assert.deepEqual(fstatat(dirfd, 'lt', AT_SYMLINK_NOFOLLOW).mtime, { sec: 5, nsec: 6 });
    assert.equal(lstatSync(join(base, 'tgt')).mtimeMs, before);
  });

  test('fchmodat with AT_SYMLINK_NOFOLLOW refuses a symlink and leaves the target alone', () => {
    writeFileSync(join(base, 'cm'), 'x', { mode: 0o600 });
    symlinkat('cm', dirfd, 'cml');
    // EOPNOTSUPP, which Node (and so this module) names ENOTSUP: the same number on Linux.
    assert.equal(codeOf(() => fchmodat(dirfd, 'cml', 0o777, AT_SYMLINK_NOFOLLOW)), 'ENOTSUP');
    assert.equal(lstatSync(join(base, 'cm')).mode & 0o7777, 0o600);
    fchmodat(dirfd, 'cm', 0o4711, AT_SYMLINK_NOFOLLOW);
    assert.equal(lstatSync(join(base, 'cm')).mode & 0o7777, 0o4711);
  });

  test('linkat without AT_SYMLINK_FOLLOW links a symlink itself', () => {
    symlinkat('/nowhere', dirfd, 'sl');
    linkat(dirfd, 'sl', dirfd, 'hl');
    const a = fstatat(dirfd, 'sl', AT_SYMLINK_NOFOLLOW);
    const b = fstatat(dirfd, 'hl', AT_SYMLINK_NOFOLLOW);
    assert.equal(a.ino, b.ino);
    assert.equal(b.nlink, 2);
  });

  test('mkdirat, readdirAt with types, unlinkat AT_REMOVEDIR', () => {
    mkdirat(dirfd, 'd', 0o755);
    const d = openat(dirfd, 'd', O_RDONLY | O_DIRECTORY);
    mkdirat(d, 'sub', 0o700);
    writeFileSync(join(base, 'd/f'), '');
    symlinkat('f', d, 'l');
    const names = readdirAt(d).sort((x, y) => (x.name < y.name ? -1 : 1));
    close(d);
    assert.deepEqual(names, [
      { name: 'f', type: 8 },
      { name: 'l', type: 10 },
      { name: 'sub', type: 4 },
    ]);
    assert.equal(codeOf(() => unlinkat(dirfd, 'd', AT_REMOVEDIR)), 'ENOTEMPTY');
  });

  test('mknodat makes FIFOs, and devices with major/minor as root', { skip: !isRoot && 'needs root' }, () => {
    mknodat(dirfd, 'fifo', S_IFIFO | 0o600);
    assert.equal(fstatat(dirfd, 'fifo', AT_SYMLINK_NOFOLLOW).mode & S_IFMT, S_IFIFO);
    mknodat(dirfd, 'tty', S_IFCHR | 0o620, 136, 300);
    const st = fstatat(dirfd, 'tty', AT_SYMLINK_NOFOLLOW);
    assert.equal(st.mode & S_IFMT, S_IFCHR);
    assert.equal(st.rdevMajor, 136);
    assert.equal(st.rdevMinor, 300);
    assert.equal(lstatSync(join(base, 'tty')).rdev, (136 << 8) | (300 & 0xff) | ((300 & ~0xff) << 12));
  });
});

describe('extended attributes', () => {
  test('binary values round-trip on an fd; a missing name reads as undefined', () => {
    const fd = openat(dirfd, 'x1', O_WRONLY | O_CREAT, 0o600);
    const value = Buffer.from([0, 0xff, 0xfe, 0x80]);
    fsetxattr(fd, 'user.bin', value);
    fsetxattr(fd, 'user.empty', Buffer.alloc(0));
    assert.deepEqual(fgetxattr(fd, 'user.bin'), value);
    assert.deepEqual(fgetxattr(fd, 'user.empty'), Buffer.alloc(0));
    assert.equal(fgetxattr(fd, 'user.none'), undefined);
    assert.deepEqual(flistxattr(fd).sort(), ['user.bin', 'user.empty']);
    fremovexattr(fd, 'user.empty');
    assert.deepEqual(flistxattr(fd), ['user.bin']);
    close(fd);
    const path = join(base, 'x1');
    assert.deepEqual(lgetxattr(path, 'user.bin'), value);
    assert.deepEqual(llistxattr(path), ['user.bin']);
    lremovexattr(path, 'user.bin');
    assert.deepEqual(llistxattr(path), []);
  });

  test('l* calls act on the symlink, never on its target', { skip: !isRoot && 'needs root (trusted.* on a symlink)' }, () => {
    writeFileSync(join(base, 'xt'), '');
    symlinkSync('xt', join(base, 'xl'));
    // Linux refuses user.* on a symlink: fs-xattr's setxattr would have written the target.
    assert.equal(codeOf(() => lsetxattr(join(base, 'xl'), 'user.a', Buffer.from('1'))), 'EPERM');
    lsetxattr(procFdPath(dirfd, 'xl'), 'trusted.a', Buffer.from('1'));
    assert.deepEqual(llistxattr(join(base, 'xl')), ['trusted.a']);
    assert.deepEqual(llistxattr(join(base, 'xt')), []);
  });
});

describe('openInRoot: resolution confined to a root (openat2 and the fd walk agree)', () => {
  let root: string;
  let rootfd: number;
  before(() => {
    root = join(base, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'sub/deeper'), { recursive: true });
    writeFileSync(join(root, 'etc/passwd'), 'in-root');
    writeFileSync(join(root, 'file'), 'f');
    symlinkSync('/etc', join(root, 'abs'));
    symlinkSync('../../../../etc', join(root, 'rel'));
    symlinkSync('loop', join(root, 'loop'));
    symlinkSync('..', join(root, 'sub/up'));
    symlinkSync('/', join(root, 'slash'));
    symlinkSync('/proc/self/root/etc', join(root, 'p'));
    symlinkSync('deeper/../../etc/passwd', join(root, 'sub/chain'));
    rootfd = openSync(root, 'r');
  });
  after(() => closeSync(rootfd));

  const inode = (p: string) => lstatSync(p, { bigint: true }).ino;
  const cases: { name: string; path: string; flags?: number; want: string | ((root: string) => string) }[] = [
    { name: 'absolute path', path: '/etc/passwd', want: (r) => join(r, 'etc/passwd') },
    { name: '.. above the root', path: '../../etc/passwd', want: (r) => join(r, 'etc/passwd') },
    { name: 'absolute symlink', path: 'abs/passwd', want: (r) => join(r, 'etc/passwd') },
    { name: 'relative symlink climbing out', path: 'rel/passwd', want: (r) => join(r, 'etc/passwd') },
    { name: 'symlink to ..', path: 'sub/up/sub/up/etc/passwd', want: (r) => join(r, 'etc/passwd') },
    { name: 'symlink to .. at the root stays at the root', path: 'sub/up/sub/up/../../../etc/passwd', want: (r) => join(r, 'etc/passwd') },
    { name: 'symlink to /', path: 'slash', want: (r) => r },
    { name: 'chain through .. inside a link', path: 'sub/chain', want: (r) => join(r, 'etc/passwd') },
    { name: 'empty path is the root', path: '', want: (r) => r },
    { name: 'O_NOFOLLOW|O_PATH opens the link itself', path: 'abs', flags: O_PATH | O_NOFOLLOW, want: (r) => join(r, 'abs') },
    { name: '/proc/self/root is just a path in the root', path: 'p/passwd', want: 'ENOENT' },
    { name: 'a symlink loop', path: 'loop', want: 'ELOOP' },
    { name: 'a file as a directory', path: 'file/x', want: 'ENOTDIR' },
    { name: 'missing', path: 'nope/x', want: 'ENOENT' },
    { name: 'O_DIRECTORY on a file', path: 'file', flags: O_PATH | O_DIRECTORY, want: 'ENOTDIR' },
  ];
  for (const resolver of ['openat2', 'walk'] as const) {
    for (const c of cases) {
      test(`${resolver}: ${c.name}`, () => {
        const open = () => (resolver === 'walk' ? walkInRoot(rootfd, c.path, c.flags ?? O_RDONLY) : openInRoot(rootfd, c.path, c.flags ?? O_RDONLY));
        if (typeof c.want === 'string') {
          assert.equal(codeOf(open), c.want);
          return;
        }
        const fd = open();
        try {
          assert.equal(fstat(fd).ino, inode(c.want(root)));
        } finally {
          close(fd);
        }
      });
    }
  }

  test('this kernel has openat2', () => assert.equal(openat2Available(), true));

  test('walkInRoot with onMissing creates the directories, following links inside the root', () => {
    symlinkSync('/made/by/walk', join(root, 'dangling'));
    const created: string[] = [];
    const fd = walkInRoot(rootfd, 'dangling/more', O_PATH | O_DIRECTORY, {
      onMissing: (d, n) => {
        created.push(n);
        mkdirat(d, n, 0o755);
      },
    });
    close(fd);
    assert.deepEqual(created, ['made', 'by', 'walk', 'more']);
    assert.ok(lstatSync(join(root, 'made/by/walk/more')).isDirectory());
  });
});
