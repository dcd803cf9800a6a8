import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openBuildContext, planCopy, type BuildContext, type CopyRequest } from '../../../src/build/copy.js';
import { isBerthError } from '../../../src/errors/index.js';
import { encodeTar } from '../../../src/layer/tar/index.js';
import type { TarHeader } from '../../../src/layer/tar/types.js';
import { collect, lines, request, run, stageView, tempDir } from './helpers.js';

const isRoot = process.geteuid?.() === 0;
let tmp: { dir: string; cleanup: () => void };
let ctx: BuildContext;
let server: Server;
let base: string;

function h(path: string, over: Partial<TarHeader> = {}): TarHeader {
  return { path, type: 'file', mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', size: 0, mtime: { sec: 1, nsec: 0 }, linkname: '', devmajor: 0, devminor: 0, xattrs: new Map(), ...over };
}

async function tarFile(file: string, entries: { header: TarHeader; body?: Buffer }[]): Promise<void> {
  const parts: Buffer[] = [];
  for await (const c of encodeTar(entries)) parts.push(c);
  writeFileSync(file, Buffer.concat(parts));
}

before(async () => {
  tmp = tempDir('add');
  const tree = join(tmp.dir, 'tree');
  const c = join(tmp.dir, 'ctx');
  mkdirSync(join(tree, 'bin'), { recursive: true });
  mkdirSync(join(tree, 'etc'));
  mkdirSync(c);
  writeFileSync(join(tree, 'bin/tool'), 'T');
  // chmod after chown: chown clears setuid.
  if (isRoot) chownSync(join(tree, 'bin/tool'), 1234, 5678);
  chmodSync(join(tree, 'bin/tool'), 0o4755);
  writeFileSync(join(tree, 'etc/conf'), 'C');
  chmodSync(join(tree, 'etc/conf'), 0o640);
  chmodSync(join(tree, 'etc'), 0o750);
  execFileSync('setfattr', ['-n', 'user.origin', '-v', '0x0102', join(tree, 'etc/conf')]);
  linkSync(join(tree, 'etc/conf'), join(tree, 'hl'));
  symlinkSync('etc/conf', join(tree, 'link'));
  const tar = (out: string, ...flags: string[]) =>
    execFileSync('tar', ['--sort=name', '--numeric-owner', '--xattrs', '--xattrs-include=user.*', ...flags, '-cf', join(c, out), '-C', tree, '.']);
  tar('app.tar');
  tar('app.tar.gz', '-z');
  tar('app.tar.zst', '--zstd');
  tar('app.tar.bz2', '-j');
  tar('app.tar.xz', '-J');
  writeFileSync(join(c, 'notes.txt.gz'), gzipSync('not a tar'));
  writeFileSync(join(c, 'plain.txt'), 'plain');
  const body = Buffer.from('x');
  await tarFile(join(c, 'dotdot.tar'), [{ header: h('ok'), body: Buffer.alloc(0) }, { header: h('a/../../evil', { size: 1 }), body }]);
  await tarFile(join(c, 'abs.tar'), [{ header: h('/etc/x', { size: 1 }), body }]);
  await tarFile(join(c, 'via-symlink.tar'), [{ header: h('s', { type: 'symlink', mode: 0o777, linkname: '/etc' }) }, { header: h('s/passwd', { size: 1 }), body }]);
  await tarFile(join(c, 'hardlink-out.tar'), [{ header: h('h', { type: 'hardlink', linkname: '../../etc/shadow' }) }]);
  await tarFile(join(c, 'whiteout.tar'), [{ header: h('.wh.bin', { size: 0 }), body: Buffer.alloc(0) }]);
  ctx = await openBuildContext(c);

  server = createServer((req, res) => {
    if (req.url === '/files/data.bin') {
      res.writeHead(200, { 'last-modified': 'Tue, 14 Nov 2023 22:13:20 GMT', 'content-type': 'application/octet-stream' });
      res.end('downloaded');
    } else if (req.url === '/') {
      res.writeHead(200);
      res.end('index');
    } else {
      res.writeHead(404);
      res.end('no');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
  tmp.cleanup();
});

type Req = Partial<CopyRequest> & Pick<CopyRequest, 'sources' | 'dest'>;
const add = (req: Req) => run({ kind: 'context', context: ctx }, { instruction: 'ADD', ...req });

/** The archives are made by this user: members are owned by it, except what root chowned. */
const MEMBER_OWNER = isRoot ? '0:0' : `${process.getuid?.()}:${process.getgid?.()}`;
const TOOL_OWNER = isRoot ? '1234:5678' : MEMBER_OWNER;
const EXTRACTED = (o?: string) => [
  'opt dir 0755 0:0',
  'opt/app dir 0755 0:0',
  `opt/app/bin dir 0755 ${o ?? MEMBER_OWNER}`,
  `opt/app/bin/tool file 4755 ${o ?? TOOL_OWNER} =T`,
  `opt/app/etc dir 0750 ${o ?? MEMBER_OWNER}`,
  `opt/app/etc/conf file 0640 ${o ?? MEMBER_OWNER} =C`,
  `opt/app/hl hardlink 0640 ${o ?? MEMBER_OWNER} -> opt/app/etc/conf`,
  `opt/app/link symlink 0777 ${o ?? MEMBER_OWNER} -> etc/conf`,
];

describe('ADD of a local archive: success', () => {
  const cases: { name: string; req: Req; expect: string[] }[] = [
    { name: 'a plain tar (GNU tar)', req: { sources: ['app.tar'], dest: '/opt/app/' }, expect: EXTRACTED() },
    { name: 'a gzip tar (GNU tar -z)', req: { sources: ['app.tar.gz'], dest: '/opt/app' }, expect: EXTRACTED() },
    { name: 'a zstd tar', req: { sources: ['app.tar.zst'], dest: '/opt/app' }, expect: EXTRACTED() },
    { name: 'a bzip2 tar, through bzip2 -dc', req: { sources: ['app.tar.bz2'], dest: '/opt/app' }, expect: EXTRACTED() },
    { name: 'an xz tar, through xz -dc', req: { sources: ['app.tar.xz'], dest: '/opt/app' }, expect: EXTRACTED() },
    { name: '--chown owns every member and the created destination', req: { sources: ['app.tar.gz'], dest: '/opt/app', chown: { uid: 7, gid: 8 } }, expect: ['opt dir 0755 7:8', 'opt/app dir 0755 7:8', ...EXTRACTED('7:8').slice(2)] },
    { name: '--chmod does not apply to members (BuildKit extracts with go-archive)', req: { sources: ['app.tar'], dest: '/opt/app', chmod: '700' }, expect: EXTRACTED() },
    { name: 'a gzip file that holds no tar is copied as it is', req: { sources: ['notes.txt.gz'], dest: '/n/' }, expect: ['n dir 0755 0:0', `n/notes.txt.gz file 0644 0:0 =${gzipSync('not a tar').toString('utf8')}`] },
    { name: 'a plain file is copied like COPY', req: { sources: ['plain.txt'], dest: '/p' }, expect: ['p file 0644 0:0 =plain'] },
    { name: 'an absolute member name stays under the destination', req: { sources: ['abs.tar'], dest: '/d' }, expect: ['d dir 0755 0:0', 'd/etc/x file 0644 0:0 =x'] },
  ];
  for (const c of cases) {
    test(c.name, async () => assert.deepEqual(lines(await add(c.req)), c.expect));
  }

  test('member xattrs are kept byte-exact', async () => {
    const rows = await add({ sources: ['app.tar.gz'], dest: '/opt/app' });
    assert.deepEqual(rows.find((r) => r.path === 'opt/app/etc/conf')?.xattrs, { 'user.origin': '0102' });
  });

  test('the cache key follows the archive bytes', async () => {
    const k = async (s: string) => (await planCopy({ kind: 'context', context: ctx }, request({ instruction: 'ADD', sources: [s], dest: '/x' }))).cacheKey;
    assert.notEqual(await k('app.tar.gz'), await k('app.tar'));
    assert.equal(await k('app.tar'), await k('app.tar'));
  });
});

describe('ADD of a local archive: failure', () => {
  const cases: { name: string; source: string; code: string; message?: RegExp }[] = [
    { name: 'buildah CVE-2020-10696: a member that climbs out with ..', source: 'dotdot.tar', code: 'E_BUILD_ADD_UNSAFE', message: /member "a\/..\/..\/evil"/ },
    { name: 'a member below a symlink member of the same archive', source: 'via-symlink.tar', code: 'E_BUILD_ADD_UNSAFE', message: /member "s\/passwd"/ },
    { name: 'a hard link to a path outside the archive', source: 'hardlink-out.tar', code: 'E_BUILD_ADD_UNSAFE' },
    { name: 'a whiteout member', source: 'whiteout.tar', code: 'E_BUILD_ADD_UNSAFE' },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      await assert.rejects(add({ sources: [c.source], dest: '/d/' }), (e: unknown) => isBerthError(e) && e.code === c.code && (c.message === undefined || c.message.test(e.message)));
    });
  }
});

describe('ADD of a URL', () => {
  test('is named after the URL path, mode 0600, mtime from Last-Modified', async () => {
    const rows = await add({ sources: [`${base}/files/data.bin`], dest: '/dl/' });
    assert.deepEqual(lines(rows), ['dl dir 0755 0:0', 'dl/data.bin file 0600 0:0 =downloaded']);
    assert.equal(rows[1].mtime, 1_700_000_000);
  });

  test('to a file destination, with --chown, --chmod and a matching --checksum', async () => {
    const sum = 'sha256:' + (await import('node:crypto')).createHash('sha256').update('downloaded').digest('hex');
    const rows = await add({ sources: [`${base}/files/data.bin`], dest: '/f', chown: { uid: 5, gid: 5 }, chmod: '644', checksum: sum });
    assert.deepEqual(lines(rows), ['f file 0644 5:5 =downloaded']);
  });

  test('a URL without a file name is __unnamed__', async () => {
    assert.deepEqual(lines(await add({ sources: [`${base}/`], dest: '/u/' })), ['u dir 0755 0:0', 'u/__unnamed__ file 0600 0:0 =index']);
  });

  test('the download is removed when the entries are done, or when the plan is disposed', async () => {
    const dir = join(tmp.dir, 'dl-tmp');
    mkdirSync(dir);
    const plan = await planCopy({ kind: 'context', context: ctx }, request({ instruction: 'ADD', sources: [`${base}/files/data.bin`], dest: '/x', tmpDir: dir }));
    assert.equal(readdirSync(dir).length, 1);
    await collect(plan);
    assert.equal(readdirSync(dir).length, 0);
    const unused = await planCopy({ kind: 'context', context: ctx }, request({ instruction: 'ADD', sources: [`${base}/files/data.bin`], dest: '/x', tmpDir: dir }));
    await unused.dispose();
    assert.equal(readdirSync(dir).length, 0);
  });

  test('a plan that fails after downloading leaves no temporary file', async () => {
    const dir = join(tmp.dir, 'dl-fail');
    mkdirSync(dir);
    const target = stageView([['dir', '/d', 0o755], ['dir', '/d/data.bin', 0o755]]);
    await assert.rejects(
      planCopy({ kind: 'context', context: ctx }, request({ instruction: 'ADD', sources: [`${base}/files/data.bin`], dest: '/d/', tmpDir: dir, target })),
      (e: unknown) => isBerthError(e) && e.code === 'E_BUILD_COPY_DEST',
    );
    assert.deepEqual(readdirSync(dir), []);
  });

  const failures: { name: string; req: Req; code: string; message?: RegExp }[] = [
    { name: 'a 404 names the status', req: { sources: ['BASE/missing'], dest: '/x' }, code: 'E_BUILD_ADD_URL', message: /HTTP 404/ },
    { name: 'a checksum mismatch', req: { sources: ['BASE/files/data.bin'], dest: '/x', checksum: 'sha256:' + '0'.repeat(64) }, code: 'E_BUILD_ADD_CHECKSUM' },
    { name: 'a malformed checksum', req: { sources: ['BASE/files/data.bin'], dest: '/x', checksum: 'md5:abc' }, code: 'E_BUILD_ADD_CHECKSUM' },
    { name: 'a checksum with a local source', req: { sources: ['plain.txt'], dest: '/x', checksum: 'sha256:' + '0'.repeat(64) }, code: 'E_BUILD_ADD_CHECKSUM' },
    { name: 'an unreachable server', req: { sources: ['http://127.0.0.1:1/x'], dest: '/x' }, code: 'E_BUILD_ADD_URL' },
  ];
  for (const c of failures) {
    test(c.name, async () => {
      const sources = c.req.sources.map((x) => x.replace('BASE', base));
      await assert.rejects(add({ ...c.req, sources }), (e: unknown) => isBerthError(e) && e.code === c.code && (c.message === undefined || c.message.test(e.message)));
    });
  }
});
