/**
 * Interop with GNU tar (Debian's tar 1.34) in both directions, on the metadata that matters for
 * layers: file capabilities, binary xattrs, setuid, links, FIFOs, devices, long names and large
 * IDs. Needs root (setcap, mknod, chown) and the tar/setcap/getcap/setfattr/getfattr commands.
 */

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, lstatSync, readFileSync, readlinkSync, symlinkSync, linkSync, chmodSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTar } from '../../../src/layer/tar/decode.js';
import { encodeTar, type TarEncodeEntry } from '../../../src/layer/tar/encode.js';
import type { TarHeader } from '../../../src/layer/tar/types.js';
import { bytesOf, header } from './fixtures.js';

const CAP_HEX = '0100000200200000000000000000000000000000';
const LONG = 'n'.repeat(150);

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}
const missing = ['tar', 'setcap', 'getcap', 'setfattr', 'getfattr', 'mknod', 'mkfifo'].filter((c) => !have(c));
const skip =
  process.getuid?.() !== 0 ? 'needs root (setcap, mknod, chown)' : missing.length > 0 ? `missing commands: ${missing.join(', ')}` : false;

interface Got {
  header: TarHeader;
  data: Buffer;
}

async function decodeFile(file: string): Promise<Map<string, Got>> {
  const out = new Map<string, Got>();
  const warnings: string[] = [];
  for await (const e of decodeTar([readFileSync(file)], { onWarning: (w) => warnings.push(w.code) })) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(Buffer.from(c));
    out.set(e.header.path, { header: e.header, data: Buffer.concat(parts) });
  }
  assert.deepEqual(warnings, []);
  return out;
}

function mtimeOf(path: string): { sec: number; nsec: number } {
  const ns = lstatSync(path, { bigint: true }).mtimeNs;
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

describe('GNU tar interop', { skip }, () => {
  let dir = '';
  let src = '';

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-tar-'));
    src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'ping'), 'ping\n');
    execFileSync('setcap', ['cap_net_raw+ep', join(src, 'ping')]);
    writeFileSync(join(src, 'bin'), 'bin\n');
    execFileSync('setfattr', ['-n', 'user.bin', '-v', '0x00fffe80', join(src, 'bin')]);
    writeFileSync(join(src, 'suid'), 's\n');
    chmodSync(join(src, 'suid'), 0o4755);
    linkSync(join(src, 'bin'), join(src, 'hard'));
    symlinkSync('bin', join(src, 'sym'));
    execFileSync('mkfifo', [join(src, 'fifo')]);
    execFileSync('mknod', [join(src, 'null'), 'c', '1', '3']);
    writeFileSync(join(src, LONG), 'long\n');
    writeFileSync(join(src, 'owned'), 'o\n');
    chownSync(join(src, 'owned'), 3_000_000, 4_000_000);
  });

  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  function checkCommon(got: Map<string, Got>, nsec: boolean): void {
    const at = (name: string): Got => {
      const g = got.get(`./${name}`);
      assert.ok(g, `entry ./${name} missing; have ${[...got.keys()].join(', ')}`);
      return g;
    };
    assert.equal(at('').header.type, 'dir');
    assert.equal(at('ping').data.toString(), 'ping\n');
    assert.equal(at('suid').header.mode, 0o4755);
    assert.equal(at('sym').header.type, 'symlink');
    assert.equal(at('sym').header.linkname, 'bin');
    assert.equal(at('fifo').header.type, 'fifo');
    assert.deepEqual([at('null').header.type, at('null').header.devmajor, at('null').header.devminor], ['char', 1, 3]);
    assert.equal(at(LONG).data.toString(), 'long\n');
    assert.deepEqual([at('owned').header.uid, at('owned').header.gid], [3_000_000, 4_000_000]);
    // One of bin/hard carries the data, the other links to it.
    const [file, link] = at('bin').header.type === 'file' ? ['bin', 'hard'] : ['hard', 'bin'];
    assert.equal(at(file).data.toString(), 'bin\n');
    assert.equal(at(link).header.type, 'hardlink');
    assert.equal(at(link).header.linkname, `./${file}`);
    const m = mtimeOf(join(src, 'suid'));
    assert.deepEqual(at('suid').header.mtime, nsec ? m : { sec: m.sec, nsec: 0 });
    for (const g of got.values()) assert.equal(g.header.paxExtra, undefined, `${g.header.path}: atime/ctime must not leak`);
  }

  test('decodes tar --xattrs --format=posix exactly', async () => {
    const file = join(dir, 'posix.tar');
    execFileSync('tar', ['--xattrs', "--xattrs-include=*", '--format=posix', '-C', src, '-cf', file, '.']);
    const got = await decodeFile(file);
    checkCommon(got, true);
    assert.deepEqual([...got.get('./ping')!.header.xattrs].map(([k, v]) => [k, v.toString('hex')]), [['security.capability', CAP_HEX]]);
    const withXattr = got.get('./bin')!.header.type === 'file' ? './bin' : './hard';
    assert.deepEqual([...got.get(withXattr)!.header.xattrs].map(([k, v]) => [k, v.toString('hex')]), [['user.bin', '00fffe80']]);
  });

  test('decodes tar --format=gnu exactly (long-name records, base-256 IDs)', async () => {
    const file = join(dir, 'gnu.tar');
    execFileSync('tar', ['--format=gnu', '-C', src, '-cf', file, '.']);
    checkCommon(await decodeFile(file), false);
  });

  test('GNU tar extracts what encodeTar wrote, with caps, xattrs, owners and modes', async () => {
    const t = { sec: 1_700_000_000, nsec: 123_456_789 };
    const entries: TarEncodeEntry[] = [
      { header: header({ path: 'out/', type: 'dir', mode: 0o755, mtime: t }) },
      {
        header: header({ path: 'out/ping', mode: 0o755, size: 5, mtime: t, xattrs: new Map([['security.capability', Buffer.from(CAP_HEX, 'hex')]]) }),
        body: Buffer.from('ping\n'),
      },
      {
        header: header({ path: 'out/bin', size: 4, mtime: t, xattrs: new Map([['user.bin', Buffer.from('00fffe80', 'hex')], ['user.a=b%c', Buffer.from('v')]]) }),
        body: Buffer.from('bin\n'),
      },
      { header: header({ path: 'out/hard', type: 'hardlink', linkname: 'out/bin', mtime: t }) },
      { header: header({ path: 'out/sym', type: 'symlink', linkname: 'bin', mode: 0o777, mtime: t }) },
      { header: header({ path: 'out/suid', mode: 0o4755, size: 2, mtime: t }), body: Buffer.from('s\n') },
      { header: header({ path: 'out/fifo', type: 'fifo', mtime: t }) },
      { header: header({ path: 'out/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666, mtime: t }) },
      { header: header({ path: `out/${LONG}`, size: 5, mtime: t }), body: Buffer.from('long\n') },
      { header: header({ path: 'out/owned', uid: 3_000_000, gid: 4_000_000, uname: 'nosuchuser', size: 2, mtime: t }), body: Buffer.from('o\n') },
    ];
    const tarFile = join(dir, 'ours.tar');
    writeFileSync(tarFile, await bytesOf(encodeTar(entries)));
    const dest = join(dir, 'x');
    mkdirSync(dest);
    const r = spawnSync('tar', ['--xattrs', "--xattrs-include=*", '--numeric-owner', '-xpf', tarFile, '-C', dest], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', 'GNU tar printed warnings');

    const out = join(dest, 'out');
    assert.match(execFileSync('getcap', [join(out, 'ping')], { encoding: 'utf8' }), /cap_net_raw=ep/);
    const attrs = execFileSync('getfattr', ['-d', '-m', '-', '-e', 'hex', join(out, 'bin')], { encoding: 'utf8' });
    assert.match(attrs, /user\.bin=0x00fffe80/);
    // getfattr escapes '=' in names as \075: the name is user.a=b%c.
    assert.match(attrs, /user\.a\\075b%c=0x76/);
    assert.equal(lstatSync(join(out, 'suid')).mode & 0o7777, 0o4755);
    assert.equal(lstatSync(join(out, 'ping')).mode & 0o7777, 0o755);
    const owned = lstatSync(join(out, 'owned'));
    assert.deepEqual([owned.uid, owned.gid], [3_000_000, 4_000_000]);
    assert.equal(lstatSync(join(out, 'hard')).ino, lstatSync(join(out, 'bin')).ino);
    assert.equal(readlinkSync(join(out, 'sym')), 'bin');
    assert.ok(lstatSync(join(out, 'fifo')).isFIFO());
    const dev = lstatSync(join(out, 'null'));
    assert.ok(dev.isCharacterDevice());
    assert.equal(dev.rdev, (1 << 8) | 3);
    assert.equal(readFileSync(join(out, LONG), 'utf8'), 'long\n');
    assert.deepEqual(mtimeOf(join(out, 'suid')), t);
  });
});
