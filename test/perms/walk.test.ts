import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ALL_CAPS, caps, defaultCaps } from '../../src/caps/index.js';
import { isBerthError } from '../../src/errors/index.js';
import { canExecute, walkPath, type Credential, type InodeInfo, type PathFs, type WalkOptions } from '../../src/perms/index.js';

const d = (mode = 0o755, uid = 0, gid = 0): InodeInfo => ({ type: 'dir', mode, uid, gid });
const f = (mode = 0o644, uid = 0, gid = 0): InodeInfo => ({ type: 'file', mode, uid, gid });
const l = (linkname: string, uid = 0): InodeInfo => ({ type: 'symlink', mode: 0o777, uid, gid: 0, linkname });

function image(entries: Record<string, InodeInfo>): PathFs & { asked: string[] } {
  const map = new Map(Object.entries(entries));
  const asked: string[] = [];
  return {
    asked,
    lookup(p: string) {
      asked.push(p);
      return map.get(p);
    },
  };
}

const user = (uid: number, gid = uid, effective = 0n, groups: number[] = []): Credential => ({ uid, gid, groups, effective });
const ROOT = user(0, 0, defaultCaps('docker'));
const NOBODY = user(65534);
const OPENSHIFT = user(1000680000, 0, 0n, [1000680000]);

/** A small Debian-like image. */
const IMG = image({
  '/': d(),
  '/etc': d(),
  '/etc/passwd': f(0o644),
  '/etc/shadow': f(0o640, 0, 42),
  '/usr': d(),
  '/usr/bin': d(),
  '/usr/bin/busybox': f(0o755),
  '/usr/bin/sh': l('busybox'),
  '/usr/bin/notes': f(0o644),
  '/usr/lib': d(),
  '/usr/lib/libc.so.6': f(0o755),
  '/bin': l('usr/bin'),
  '/lib': l('/usr/lib'),
  '/home': d(),
  '/home/app': d(0o700, 65532, 65532),
  '/home/app/data': f(0o644, 65532, 65532),
  '/home/app/run': f(0o755, 65532, 65532),
  '/evil': l('../../../../etc/shadow'),
  '/up': l('/../../..'),
  '/a': d(),
  '/a/link': l('/x/y'),
  '/x': d(),
  '/x/y': d(),
  '/dangling': l('/nowhere'),
  '/empty': l(''),
  '/loop': l('/loop'),
  '/tmp': d(0o1777),
  '/tmp/mine': l('/etc/passwd', 1000),
  '/tmp/dirlink': l('/etc', 1000),
  '/srv': d(0o755),
  '/srv/dev': { type: 'char', mode: 0o666, uid: 0, gid: 0 },
});

const walk = (path: string, cred: Credential = ROOT, opts: Partial<WalkOptions> = {}) =>
  walkPath(path, IMG, cred, { followFinal: true, ...opts });

describe('walkPath: resolves', () => {
  const ok: { name: string; path: string; cred?: Credential; opts?: Partial<WalkOptions>; resolved: string; symlinks?: number; type?: string }[] = [
    { name: 'a plain path', path: '/etc/passwd', resolved: '/etc/passwd', symlinks: 0, type: 'file' },
    { name: 'the root', path: '/', resolved: '/', type: 'dir' },
    { name: 'repeated and trailing slashes, "." components', path: '//etc/./passwd', resolved: '/etc/passwd' },
    { name: 'a symlink chain: /bin -> usr/bin (relative), sh -> busybox', path: '/bin/sh', resolved: '/usr/bin/busybox', symlinks: 2 },
    { name: 'an absolute symlink target restarts at the root', path: '/lib/libc.so.6', resolved: '/usr/lib/libc.so.6', symlinks: 1 },
    { name: 'a symlink escaping with ../.. is clamped at the root', path: '/evil', resolved: '/etc/shadow', symlinks: 1 },
    { name: 'a symlink to /../../.. is the root', path: '/up/etc', resolved: '/etc' },
    { name: '".." clamps at "/"', path: '/../../etc/../../etc/passwd', resolved: '/etc/passwd' },
    { name: '".." after a symlink goes to the target\'s parent (physical walk)', path: '/a/link/..', resolved: '/x' },
    { name: 'followFinal false stops at the symlink itself', path: '/bin', opts: { followFinal: false }, resolved: '/bin', type: 'symlink' },
    { name: 'a trailing slash follows the final symlink anyway', path: '/bin/', opts: { followFinal: false }, resolved: '/usr/bin', type: 'dir' },
    { name: 'followFinal false still follows symlinks in the middle', path: '/bin/sh', opts: { followFinal: false }, resolved: '/usr/bin/sh', type: 'symlink' },
    { name: 'a relative path starts at cwd', path: '../etc/passwd', opts: { cwd: '/usr' }, resolved: '/etc/passwd' },
    { name: 'the owner passes its own 0700 directory', path: '/home/app/data', cred: user(65532), resolved: '/home/app/data' },
    { name: 'root with CAP_DAC_OVERRIDE passes a 0700 directory of another user', path: '/home/app/data', resolved: '/home/app/data' },
    { name: 'CAP_DAC_READ_SEARCH alone is enough to search', path: '/home/app/data', cred: user(1000, 1000, caps('DAC_READ_SEARCH')), resolved: '/home/app/data' },
    { name: 'the final directory itself needs no search permission', path: '/home/app', cred: NOBODY, resolved: '/home/app' },
    { name: 'protected_symlinks: the link owner may follow its own link in /tmp', path: '/tmp/mine', cred: user(1000), resolved: '/etc/passwd' },
    { name: 'protected_symlinks applies to the trailing link only', path: '/tmp/dirlink/passwd', cred: user(2000), resolved: '/etc/passwd' },
    { name: 'protected_symlinks off: anyone follows', path: '/tmp/mine', cred: user(2000), opts: { protectedSymlinks: false }, resolved: '/etc/passwd' },
    { name: 'want read on a world-readable file', path: '/etc/passwd', cred: NOBODY, opts: { want: { read: true } }, resolved: '/etc/passwd' },
  ];
  for (const c of ok) {
    test(c.name, () => {
      const r = walk(c.path, c.cred ?? ROOT, c.opts ?? {});
      assert.equal(r.ok, true, r.failure?.because);
      assert.equal(r.failure, undefined);
      assert.equal(r.resolvedPath, c.resolved);
      if (c.symlinks !== undefined) assert.equal(r.symlinks, c.symlinks);
      if (c.type !== undefined) assert.equal(r.inode?.type, c.type);
    });
  }

  test('an image without an entry for "/" gets a 0755 root directory', () => {
    const r = walkPath('/etc', image({ '/etc': d() }), NOBODY, { followFinal: true });
    assert.equal(r.ok, true);
  });

  test('exactly 40 symlinks resolve; the 41st is ELOOP', () => {
    const entries: Record<string, InodeInfo> = { '/': d(), '/target': f() };
    for (let i = 0; i < 41; i++) entries[`/l${i}`] = l(i === 0 ? '/target' : `/l${i - 1}`);
    const fs = image(entries);
    const ok = walkPath('/l39', fs, NOBODY, { followFinal: true });
    assert.equal(ok.ok, true);
    assert.equal(ok.symlinks, 40);
    const loop = walkPath('/l40', fs, NOBODY, { followFinal: true });
    assert.equal(loop.failure?.errno, 'ELOOP');
  });
});

describe('walkPath: fails', () => {
  const bad: {
    name: string;
    path: string;
    cred?: Credential;
    opts?: Partial<WalkOptions>;
    errno: string;
    at: string;
    because?: string | RegExp;
  }[] = [
    {
      name: 'search on a 0700 directory owned by 65532 for uid 1000680000 gid 0 (OpenShift)',
      path: '/home/app/data',
      cred: OPENSHIFT,
      errno: 'EACCES',
      at: '/home/app',
      because:
        'search (x) is denied on /home/app: uid 1000680000 is not the owner (65532) and not in group 65532; mode 0700 grants others --- but search (--x) is needed; no CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH in the effective set',
    },
    { name: 'root without capabilities (drop ALL) cannot search another user\'s 0700 directory', path: '/home/app/data', cred: user(0), errno: 'EACCES', at: '/home/app' },
    { name: '"." as the last component needs search on the directory', path: '/home/app/.', cred: NOBODY, errno: 'EACCES', at: '/home/app' },
    { name: '".." out of a directory needs search on it', path: '/home/app/..', cred: NOBODY, errno: 'EACCES', at: '/home/app' },
    { name: 'a missing middle component', path: '/opt/app/bin', errno: 'ENOENT', at: '/opt', because: 'there is no entry "opt" in /' },
    { name: 'a missing final component', path: '/etc/hosts', errno: 'ENOENT', at: '/etc/hosts' },
    { name: 'a dangling symlink', path: '/dangling', errno: 'ENOENT', at: '/nowhere' },
    { name: 'an empty symlink target', path: '/empty', errno: 'ENOENT', at: '/empty' },
    { name: 'an empty path', path: '', errno: 'ENOENT', at: '' },
    { name: 'a file in the middle', path: '/etc/passwd/x', errno: 'ENOTDIR', at: '/etc/passwd', because: /is a regular file, not a directory/ },
    { name: 'a device in the middle', path: '/srv/dev/x', errno: 'ENOTDIR', at: '/srv/dev', because: /is a character device/ },
    { name: 'a trailing slash on a file', path: '/etc/passwd/', errno: 'ENOTDIR', at: '/etc/passwd' },
    { name: 'a trailing slash on a symlink to a file', path: '/usr/bin/sh/', errno: 'ENOTDIR', at: '/usr/bin/busybox' },
    { name: 'a symlink loop is ELOOP after 40 links', path: '/loop', errno: 'ELOOP', at: '/loop', because: /more than 40 symbolic links/ },
    { name: 'protected_symlinks: another user\'s link in sticky world-writable /tmp', path: '/tmp/mine', cred: user(2000), errno: 'EACCES', at: '/tmp/mine', because: /fs.protected_symlinks/ },
    { name: 'want read on /etc/shadow 0640 root:42 as nobody', path: '/etc/shadow', cred: NOBODY, opts: { want: { read: true } }, errno: 'EACCES', at: '/etc/shadow', because: /mode 0640 grants others ---/ },
    { name: 'a component longer than NAME_MAX', path: `/${'a'.repeat(256)}`, errno: 'ENAMETOOLONG', at: `/${'a'.repeat(32)}...` },
    { name: 'a path of PATH_MAX bytes', path: `/${'a/'.repeat(2048)}`, errno: 'ENAMETOOLONG', at: `/${'a/'.repeat(2048)}`.slice(0, 64) + '...' },
    { name: 'a relative path from a missing cwd', path: 'x', opts: { cwd: '/nope' }, errno: 'ENOENT', at: '/nope' },
  ];
  for (const c of bad) {
    test(c.name, () => {
      const r = walk(c.path, c.cred ?? ROOT, c.opts ?? {});
      assert.equal(r.ok, false);
      assert.equal(r.failure?.errno, c.errno, r.failure?.because);
      assert.equal(r.failure?.path, c.at);
      if (typeof c.because === 'string') assert.equal(r.failure?.because, c.because);
      else if (c.because) assert.match(r.failure?.because ?? '', c.because);
    });
  }

  for (const cwd of ['usr', '/usr/', '/usr/../etc', '//usr']) {
    test(`a non-canonical cwd ${JSON.stringify(cwd)} is a caller error (E_PATH_CWD_INVALID)`, () => {
      assert.throws(() => walk('x', ROOT, { cwd }), (e: unknown) => isBerthError(e) && e.code === 'E_PATH_CWD_INVALID');
    });
  }

  test('a failed want check still reports the inode', () => {
    const r = walk('/etc/shadow', NOBODY, { want: { read: true } });
    assert.equal(r.inode?.mode, 0o640);
  });
});

describe('canExecute', () => {
  const cases: { name: string; path: string; cred: Credential; ok: boolean; errno?: string; at?: string; because?: RegExp }[] = [
    { name: 'a 0755 binary through a symlink chain', path: '/bin/sh', cred: NOBODY, ok: true },
    { name: 'the owner runs its program in its 0700 home', path: '/home/app/run', cred: user(65532), ok: true },
    { name: 'a missing program is ENOENT', path: '/usr/bin/node', cred: NOBODY, ok: false, errno: 'ENOENT', at: '/usr/bin/node' },
    { name: 'a 0644 file is EACCES', path: '/usr/bin/notes', cred: NOBODY, ok: false, errno: 'EACCES', at: '/usr/bin/notes', because: /execute is denied on \/usr\/bin\/notes \(mode 0644\)/ },
    { name: 'a 0644 file is EACCES even for root with every capability', path: '/usr/bin/notes', cred: user(0, 0, ALL_CAPS), ok: false, errno: 'EACCES', because: /no x bit is set/ },
    { name: 'a directory is EACCES', path: '/usr/bin', cred: ROOT, ok: false, errno: 'EACCES', because: /only regular files can be executed/ },
    { name: 'a device is EACCES', path: '/srv/dev', cred: ROOT, ok: false, errno: 'EACCES' },
    { name: 'an unreachable program: EACCES on the directory', path: '/home/app/run', cred: OPENSHIFT, ok: false, errno: 'EACCES', at: '/home/app' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = canExecute(c.path, IMG, c.cred);
      assert.equal(r.ok, c.ok, r.failure?.because);
      if (c.errno) assert.equal(r.failure?.errno, c.errno);
      if (c.at) assert.equal(r.failure?.path, c.at);
      if (c.because) assert.match(r.failure?.because ?? '', c.because);
    });
  }
});

describe('walkPath properties', () => {
  const names = ['a', 'b', 'c'];
  /** Random trees of directories, files and symlinks whose targets mix names, ".", "..", and absolute paths. */
  const arbTarget = fc
    .array(fc.constantFrom(...names, '.', '..', ''), { minLength: 1, maxLength: 5 })
    .chain((parts) => fc.boolean().map((abs) => (abs ? '/' : '') + parts.join('/')));
  const arbEntry = fc.oneof(
    fc.constant(d()),
    fc.constant(f()),
    arbTarget.map((t) => l(t)),
  );
  const arbFs = fc
    .dictionary(
      fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 3 }).map((p) => '/' + p.join('/')),
      arbEntry,
      { maxKeys: 20 },
    )
    .map((entries) => ({ '/': d(), ...entries }));
  const arbPath = fc
    .array(fc.constantFrom(...names, '.', '..', ''), { maxLength: 6 })
    .chain((parts) => fc.boolean().map((abs) => (abs ? '/' : '') + parts.join('/')));

  test('property: every lookup is a canonical absolute path inside the root, and results are canonical', () => {
    const canonical = (p: string): boolean => p === '/' || (/^(\/[^/]+)+$/.test(p) && !p.split('/').some((c) => c === '.' || c === '..'));
    fc.assert(
      fc.property(arbFs, arbPath, fc.boolean(), (entries, path, followFinal) => {
        const fs = image(entries);
        const r = walkPath(path, fs, ROOT, { followFinal });
        for (const p of fs.asked) assert.ok(canonical(p), `looked up ${JSON.stringify(p)}`);
        if (r.ok) {
          assert.ok(canonical(r.resolvedPath), r.resolvedPath);
          assert.equal(r.inode, entries[r.resolvedPath as keyof typeof entries]);
        } else {
          assert.ok(['ENOENT', 'ENOTDIR', 'ELOOP', 'EACCES', 'ENAMETOOLONG'].includes(r.failure!.errno));
        }
        assert.ok(r.symlinks <= 40);
      }),
      { numRuns: 1000 },
    );
  });

  test('property: without symlinks, the result is the lexical normalisation with ".." clamped', () => {
    const normalise = (p: string): string => {
      const out: string[] = [];
      for (const c of p.split('/')) {
        if (c === '' || c === '.') continue;
        if (c === '..') out.pop();
        else out.push(c);
      }
      return '/' + out.join('/');
    };
    const full: Record<string, InodeInfo> = { '/': d() };
    const add = (prefix: string, depth: number): void => {
      if (depth === 0) return;
      for (const n of names) {
        full[`${prefix}/${n}`] = d();
        add(`${prefix}/${n}`, depth - 1);
      }
    };
    add('', 6);
    const fs = image(full);
    fc.assert(
      fc.property(arbPath.map((p) => '/' + p), (path) => {
        const r = walkPath(path, fs, NOBODY, { followFinal: true });
        assert.equal(r.ok, true);
        assert.equal(r.resolvedPath, normalise(path));
      }),
      { numRuns: 500 },
    );
  });
});
