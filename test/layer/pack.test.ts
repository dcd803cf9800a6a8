/**
 * packDirectory: order, header fields, hardlinks, the export policy for xattrs and capabilities,
 * and the fidelity promise: pack a directory, apply the entries into a fresh one, and every path
 * looks the same to stat, getfattr and getcap.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, linkSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { applyLayer, packDirectory, type PackEntry, type PackOptions } from '../../src/layer/index.js';
import { lsetxattr } from '../../src/sys/index.js';
import type { Warning } from '../../src/errors/index.js';
import { CAP_NET_RAW, NOBODY, capV2, isRoot, nobodyDir, packAsNobodyInUserns, rejectsWith, sandbox, type Sandbox } from './advisories/harness.js';

async function collect(dir: string, opts: Partial<PackOptions> = {}): Promise<{ entries: (PackEntry & { data?: Buffer })[]; warnings: Warning[] }> {
  const warnings: Warning[] = [];
  const entries: (PackEntry & { data?: Buffer })[] = [];
  for await (const e of packDirectory(dir, { onWarning: (w) => warnings.push(w), ...opts })) {
    const chunks: Buffer[] = [];
    if (e.body) for await (const c of e.body) chunks.push(c);
    entries.push(e.body ? { ...e, data: Buffer.concat(chunks) } : e);
  }
  return { entries, warnings };
}

async function inSandbox(f: (sb: Sandbox) => Promise<void>): Promise<void> {
  const sb = sandbox('pack');
  try {
    await f(sb);
  } finally {
    sb.cleanup();
  }
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

describe('packDirectory', { skip: !isRoot && 'needs root (owners, devices, capabilities)' }, () => {
  test('sorted byte order, depth first, relative names without ./ or a trailing /', () =>
    inSandbox(async (sb) => {
      const d = sb.root;
      for (const p of ['b', 'a', 'a/z', 'a-c']) mkdirSync(join(d, p));
      writeFileSync(join(d, 'a/y'), 'y');
      writeFileSync(join(d, 'B'), 'B');
      writeFileSync(join(d, Buffer.from('\xff', 'latin1').toString('latin1')), '');
      const { entries } = await collect(d);
      assert.deepEqual(
        entries.map((e) => e.header.path),
        ['B', 'a', 'a/y', 'a/z', 'a-c', 'b', '\xc3\xbf'],
      );
    }));

  test('header fields: type, full mode, owners, mtime in ns, size, link targets, device numbers', () =>
    inSandbox(async (sb) => {
      const d = sb.root;
      writeFileSync(join(d, 'f'), 'hello');
      chownSync(join(d, 'f'), 3000000, 4000000);
      chmodSync(join(d, 'f'), 0o4751); // after chown, which clears setuid
      execFileSync('touch', ['-h', '-d', '@1700000000.123456789', join(d, 'f')]);
      mkdirSync(join(d, 't'));
      chmodSync(join(d, 't'), 0o1777);
      symlinkSync('../f\xff', join(d, 'l'));
      execFileSync('mknod', [join(d, 'tty'), 'c', '136', '300']);
      execFileSync('mknod', [join(d, 'sda'), 'b', '8', '0']);
      execFileSync('mkfifo', [join(d, 'p')]);
      const { entries } = await collect(d);
      const h = Object.fromEntries(entries.map((e) => [e.header.path, e.header]));
      assert.deepEqual(
        { type: h.f.type, mode: h.f.mode, uid: h.f.uid, gid: h.f.gid, size: h.f.size, mtime: h.f.mtime },
        { type: 'file', mode: 0o4751, uid: 3000000, gid: 4000000, size: 5, mtime: { sec: 1700000000, nsec: 123456789 } },
      );
      assert.equal(entries.find((e) => e.header.path === 'f')!.data!.toString(), 'hello');
      assert.deepEqual([h.t.type, h.t.mode, h.t.size], ['dir', 0o1777, 0]);
      assert.deepEqual([h.l.type, h.l.linkname, h.l.size], ['symlink', Buffer.from('../f\xff').toString('latin1'), 0]);
      assert.deepEqual([h.tty.type, h.tty.devmajor, h.tty.devminor], ['char', 136, 300]);
      assert.deepEqual([h.sda.type, h.sda.devmajor, h.sda.devminor], ['block', 8, 0]);
      assert.equal(h.p.type, 'fifo');
      for (const x of Object.values(h)) assert.deepEqual([x.uname, x.gname], ['', '']);
    }));

  test('the second and later names of an inode are hardlinks to the first', () =>
    inSandbox(async (sb) => {
      writeFileSync(join(sb.root, 'b'), 'data');
      linkSync(join(sb.root, 'b'), join(sb.root, 'a'));
      linkSync(join(sb.root, 'b'), join(sb.root, 'c'));
      const { entries } = await collect(sb.root);
      assert.deepEqual(
        entries.map((e) => [e.header.path, e.header.type, e.header.linkname, e.header.size]),
        [
          ['a', 'file', '', 4],
          ['b', 'hardlink', 'a', 0],
          ['c', 'hardlink', 'a', 0],
        ],
      );
    }));

  test('sockets are skipped with one warning', () =>
    inSandbox(async (sb) => {
      const servers = ['s1', 's2'].map((n) => createServer().listen(join(sb.root, n)));
      await Promise.all(servers.map((s) => new Promise((r) => s.on('listening', r))));
      try {
        writeFileSync(join(sb.root, 'f'), '');
        const { entries, warnings } = await collect(sb.root);
        assert.deepEqual(entries.map((e) => e.header.path), ['f']);
        assert.deepEqual(warnings.map((w) => w.code), ['W_PACK_SOCKET']);
        assert.match(warnings[0].message, /2 sockets, e\.g\. \/s1/);
      } finally {
        for (const s of servers) s.close();
      }
    }));

  test('export policy: user.* and security.capability out; trusted.*, selinux-like bookkeeping and berth\'s own xattrs not', () =>
    inSandbox(async (sb) => {
      const f = join(sb.root, 'f');
      writeFileSync(f, '');
      lsetxattr(f, 'user.bin', Buffer.from([0, 0xff]));
      lsetxattr(f, 'trusted.secret', Buffer.from('x'));
      lsetxattr(f, 'user.berth.owner', Buffer.from('0:0'));
      lsetxattr(f, 'user.rootlesscontainers', Buffer.from(''));
      lsetxattr(f, 'security.capability', capV2(CAP_NET_RAW));
      const { entries, warnings } = await collect(sb.root);
      assert.deepEqual([...entries[0].header.xattrs.keys()], ['security.capability', 'user.bin']);
      assert.deepEqual(entries[0].header.xattrs.get('user.bin'), Buffer.from([0, 0xff]));
      assert.deepEqual(warnings.map((w) => w.code), ['W_PACK_XATTR_FILTERED']);
      assert.match(warnings[0].message, /trusted\.secret \(1\)/);
    }));

  test('a v3 capability of another namespace is not exported; one whose rootid maps to 0 is exported as v2', () =>
    inSandbox(async (sb) => {
      const v3 = Buffer.concat([capV2(CAP_NET_RAW), Buffer.alloc(4)]);
      v3.writeUInt32LE(0x03000001, 0);
      v3.writeUInt32LE(100000, 20);
      writeFileSync(join(sb.root, 'ping'), '');
      lsetxattr(join(sb.root, 'ping'), 'security.capability', v3);
      const foreign = await collect(sb.root);
      assert.equal(foreign.entries[0].header.xattrs.size, 0);
      assert.deepEqual(foreign.warnings.map((w) => w.code), ['W_PACK_FILECAPS_FOREIGN']);
      // The namespace that wrote it maps container 0 to host 100000.
      const own = await collect(sb.root, { unmapOwner: (uid, gid) => ({ uid: uid >= 100000 ? uid - 100000 : 65534, gid: gid >= 100000 ? gid - 100000 : 65534 }) });
      assert.deepEqual(own.entries[0].header.xattrs.get('security.capability'), capV2(CAP_NET_RAW));
      assert.equal(own.entries[0].header.uid, 65534);
      assert.deepEqual(own.warnings, []);
    }));

  test('a body read after the next entry was requested is an error, and no file stays open', () =>
    inSandbox(async (sb) => {
      writeFileSync(join(sb.root, 'a'), 'a');
      writeFileSync(join(sb.root, 'b'), 'b');
      const it = packDirectory(sb.root, { onWarning: () => {} });
      const first = (await it.next()).value as PackEntry;
      await it.next();
      await rejectsWith((async () => {
        for await (const c of first.body!) void c;
      })(), 'E_PACK_BODY_STALE');
      await it.return(undefined);
    }));

  const failures: { name: string; run: (sb: Sandbox) => Promise<unknown>; code: string }[] = [
    { name: 'a missing directory', run: (sb) => collect(join(sb.root, 'nope')), code: 'E_PACK_SOURCE' },
    { name: 'an unknown option', run: (sb) => collect(sb.root, { sorted: true } as never), code: 'E_PACK_OPTIONS' },
    { name: 'sort: false', run: (sb) => collect(sb.root, { sort: false } as never), code: 'E_PACK_OPTIONS' },
  ];
  for (const c of failures) test(`fails: ${c.name}`, () => inSandbox(async (sb) => void (await rejectsWith(c.run(sb), c.code))));
});

describe('packDirectory inside a user namespace (the rootless build export, userns.md U6)', { skip: !isRoot && 'needs root to switch to nobody' }, () => {
  test('a capability set in the namespace exports as v2; one of another namespace is not exported', () => {
    const work = nobodyDir();
    try {
      const v3 = (rootid: number) => {
        const b = Buffer.concat([capV2(CAP_NET_RAW), Buffer.alloc(4)]);
        b.writeUInt32LE(0x03000001, 0);
        b.writeUInt32LE(rootid, 20);
        return b;
      };
      writeFileSync(join(work.dir, 'ours'), '');
      writeFileSync(join(work.dir, 'theirs'), '');
      // chown first: it would remove the capability.
      for (const f of ['ours', 'theirs']) chownSync(join(work.dir, f), NOBODY.uid, NOBODY.gid);
      // As the host sees them: written inside the 0 -> nobody namespace, and inside another one.
      lsetxattr(join(work.dir, 'ours'), 'security.capability', v3(NOBODY.uid));
      lsetxattr(join(work.dir, 'theirs'), 'security.capability', v3(100000));
      const r = packAsNobodyInUserns(work.dir);
      assert.equal(r.error, undefined, r.error?.message);
      const by = Object.fromEntries(r.entries.map((e) => [e.path, e]));
      assert.deepEqual(by.ours.xattrs, { 'security.capability': capV2(CAP_NET_RAW).toString('hex') });
      assert.deepEqual([by.ours.uid, by.ours.gid], [0, 0]);
      assert.deepEqual(by.theirs.xattrs, {});
      assert.deepEqual(r.warnings.map((w) => w.code), ['W_PACK_FILECAPS_FOREIGN']);
      assert.match(r.warnings[0].message, /1 file, e\.g\. \/theirs/);
    } finally {
      work.cleanup();
    }
  });
});

/** For every path: `stat -c '%a %u %g %F %s %Y'`, nanosecond mtime, getfattr (hex) and getcap. */
function describeTree(dir: string): string[] {
  const list = spawnSync('find', ['.', '-mindepth', '1', '-print0'], { cwd: dir, encoding: 'latin1' }).stdout.split('\0').filter(Boolean).sort();
  return list.map((p) => {
    const stat = spawnSync('stat', ['-c', '%a %u %g %F %s %Y %y %t:%T %N', p], { cwd: dir, encoding: 'utf8' }).stdout.trim();
    const fattr = spawnSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', p], { cwd: dir, encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => l && !l.startsWith('# file'))
      .join(' ');
    const cap = spawnSync('getcap', [p], { cwd: dir, encoding: 'utf8' }).stdout.trim();
    return `${stat} | ${fattr} | ${cap}`;
  });
}

describe('fidelity: pack a directory, apply the entries, compare', { skip: !isRoot && 'needs root' }, () => {
  test('stat, getfattr and getcap agree on every path', () =>
    inSandbox(async (sb) => {
      const src = join(sb.base, 'src');
      mkdirSync(src);
      const p = (x: string) => join(src, x);
      for (const d of ['usr', 'usr/bin', 'dev', 'tmp', 'home', 'home/big', 'data']) mkdirSync(p(d));
      copyFileSync(process.execPath, p('usr/bin/ping'));
      chmodSync(p('usr/bin/ping'), 0o755);
      sh('setcap', ['cap_net_raw+ep', p('usr/bin/ping')]);
      writeFileSync(p('usr/bin/su'), 'setuid root with a capability');
      chmodSync(p('usr/bin/su'), 0o4755);
      sh('setcap', ['cap_setuid,cap_setgid+ep', p('usr/bin/su')]);
      chmodSync(p('usr/bin/su'), 0o4755);
      writeFileSync(p('data/bin'), 'x');
      sh('setfattr', ['-n', 'user.blob', '-v', '0x00fffe80', p('data/bin')]);
      sh('setfattr', ['-n', 'user.dir', '-v', 'yes', p('data')]);
      writeFileSync(p('data/linked'), 'three names');
      linkSync(p('data/linked'), p('data/linked2'));
      linkSync(p('data/linked'), p('usr/linked3'));
      symlinkSync('../usr/bin/ping', p('data/rel'));
      symlinkSync('/usr/bin/su', p('data/abs'));
      // A symlink can carry security.* attributes (not user.*): read and written without following it.
      sh('setfattr', ['-h', '-n', 'security.berth-test', '-v', '0x01ff', p('data/abs')]);
      sh('mkfifo', ['-m', '0620', p('tmp/fifo')]);
      sh('mknod', ['-m', '0666', p('dev/null'), 'c', '1', '3']);
      writeFileSync(p('home/big/f'), 'owned by a high uid');
      chownSync(p('home/big/f'), 3000000, 3000001);
      chownSync(p('home/big'), 3000000, 3000001);
      chmodSync(p('tmp'), 0o1777);
      chmodSync(p('home/big'), 0o2750);
      for (const [i, x] of ['usr/bin/ping', 'data/bin', 'data/linked', 'tmp/fifo', 'dev/null', 'home/big/f'].entries()) {
        sh('touch', ['-h', '-d', `@${1600000000 + i}.${String(100000001 * (i + 1)).slice(0, 9)}`, p(x)]);
      }
      for (const x of ['data/rel', 'data/abs']) sh('touch', ['-h', '-d', '@1500000000.5', p(x)]);
      for (const x of ['usr/bin', 'usr', 'dev', 'tmp', 'home/big', 'home', 'data']) utimesSync(p(x), 1400000000.25, 1400000000.25);

      const warnings: Warning[] = [];
      const stats = await applyLayer(sb.root, packDirectory(src, { onWarning: (w) => warnings.push(w) }), {
        onWarning: (w) => warnings.push(w),
        privilege: 'root',
      });
      assert.deepEqual(warnings, []);
      assert.equal(stats.created.hardlinks, 2);
      const want = describeTree(src);
      assert.ok(want.some((l) => l.includes('cap_net_raw=ep')));
      assert.ok(want.some((l) => l.includes("'./data/abs' -> '/usr/bin/su' | security.berth-test=0x01ff")), want.join('\n'));
      assert.ok(want.some((l) => /^4755 0 0 .*cap_setgid,cap_setuid=ep$/.test(l)), want.join('\n'));
      assert.deepEqual(describeTree(sb.root), want);
    }));
});
