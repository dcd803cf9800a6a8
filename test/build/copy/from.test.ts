import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyEntries, planCopy, type CopyRequest, type CopySource } from '../../../src/build/copy.js';
import { importImage } from '../../../src/api/import.js';
import { readLayer, writeLayer } from '../../../src/api/layers.js';
import { loadView } from '../../../src/api/store.js';
import { isBerthError } from '../../../src/errors/index.js';
import { mergeFileIndexes } from '../../../src/layer/fileindex.js';
import type { TarHeader } from '../../../src/layer/tar/types.js';
import { Store } from '../../../src/store/index.js';
import { collect, lines, request, run, tempDir } from './helpers.js';

/** The repository root: the nearest directory above this file with scripts/fixtures.mjs. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'scripts/fixtures.mjs'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('scripts/fixtures.mjs not found above the test');
    dir = up;
  }
  return dir;
}
const REPO = repoRoot();
const isRoot = process.geteuid?.() === 0;
const CAP_NET_RAW_EP = '0100000200200000000000000000000000000000';

let tmp: { dir: string; cleanup: () => void };
let store: Store;
let image: CopySource;
let crafted: CopySource;

function h(path: string, over: Partial<TarHeader> = {}): TarHeader {
  return { path, type: 'file', mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', size: 0, mtime: { sec: 1000, nsec: 0 }, linkname: '', devmajor: 0, devminor: 0, xattrs: new Map(), ...over };
}
const f = (path: string, body: string, over: Partial<TarHeader> = {}) => ({ header: h(path, { size: body.length, ...over }), body: Buffer.from(body) });
const d = (path: string, over: Partial<TarHeader> = {}) => ({ header: h(path, { type: 'dir', mode: 0o755, ...over }) });
const link = (path: string, target: string) => ({ header: h(path, { type: 'hardlink', linkname: target }) });

before(async () => {
  tmp = tempDir('from');
  const root = join(tmp.dir, 'store');
  if (isRoot) {
    const rootfs = join(tmp.dir, 'rootfs');
    execFileSync(process.execPath, [join(REPO, 'scripts/fixtures.mjs'), 'busybox', rootfs], { stdio: ['ignore', 'ignore', 'inherit'] });
    await importImage({ source: rootfs, reference: 'test/busybox:1', root });
  }
  store = await Store.open(root, { create: true });
  if (isRoot) {
    const img = await store.resolveImage('test/busybox:1');
    const layers = img.manifest.layers.map((l, i) => ({ digest: l.digest, diffId: img.config.rootfs.diff_ids[i] }));
    image = { kind: 'layers', store, layers, view: await loadView(store, 'test/busybox:1', layers), label: 'image test/busybox:1' };
  }

  // Two layers: replacements, whiteouts, an opaque directory, hard links, directory metadata.
  const l0 = await writeLayer(store, [
    d('a'),
    f('a/f1', 'one'),
    f('a/f2', 'two'),
    link('a/hl', 'a/f1'),
    d('a2'),
    f('a2/p', 'P', { mode: 0o4750, uid: 3, gid: 4 }),
    link('a2/q', 'a2/p'),
    d('h'),
    f('h/orig', 'data'),
    link('h/link', 'h/orig'),
    d('d'),
    d('d/sub', { mode: 0o700, uid: 5, gid: 6, mtime: { sec: 12345, nsec: 0 }, xattrs: new Map([['user.x', Buffer.from([0, 1])]]) }),
    d('o'),
    f('o/old', 'old'),
  ]);
  const l1 = await writeLayer(store, [f('a/.wh.f2', ''), f('a/f1', 'uno'), f('h/.wh.orig', ''), f('o/.wh..wh..opq', ''), f('o/new', 'new')]);
  crafted = {
    kind: 'layers',
    store,
    layers: [l0, l1].map((l) => ({ digest: l.descriptor.digest, diffId: l.diffId })),
    view: mergeFileIndexes([l0.index, l1.index]),
    label: 'stage crafted',
  };
});

after(async () => {
  await store.close();
  tmp.cleanup();
});

type Req = Partial<CopyRequest> & Pick<CopyRequest, 'sources' | 'dest'>;

describe('COPY --from a stored stage: layers, whiteouts, hard links', () => {
  const cases: { name: string; req: Req; expect: string[] }[] = [
    {
      name: 'the final version of each file; whited-out files absent; a link whose first name was replaced keeps its own data',
      req: { sources: ['/a'], dest: '/x' },
      expect: ['x dir 0755 0:0', 'x/hl file 0644 0:0 =one', 'x/f1 file 0644 0:0 =uno'],
    },
    { name: 'a hard link whose first name was deleted is a file with the data', req: { sources: ['/h/link'], dest: '/y' }, expect: ['y file 0644 0:0 =data'] },
    { name: 'hard links between copied files stay hard links; owners and setuid kept', req: { sources: ['a2'], dest: '/w/' }, expect: ['w dir 0755 0:0', 'w/p file 4750 3:4 =P', 'w/q hardlink 4750 3:4 -> w/p'] },
    { name: 'one name of a linked pair is a plain file', req: { sources: ['/a2/q'], dest: '/q' }, expect: ['q file 4750 3:4 =P'] },
    { name: 'an opaque directory hides the lower contents', req: { sources: ['/o'], dest: '/oo' }, expect: ['oo dir 0755 0:0', 'oo/new file 0644 0:0 =new'] },
    { name: 'directories keep owners and modes from their layer', req: { sources: ['/d'], dest: '/dd' }, expect: ['dd dir 0755 0:0', 'dd/sub dir 0700 5:6'] },
    { name: '--chown and --chmod apply to every entry', req: { sources: ['a2'], dest: '/w/', chown: { uid: 9, gid: 9 }, chmod: '0700' }, expect: ['w dir 0755 9:9', 'w/p file 0700 9:9 =P', 'w/q hardlink 0700 9:9 -> w/p'] },
    { name: 'a glob over the image tree', req: { sources: ['/a*/p'], dest: '/g/' }, expect: ['g dir 0755 0:0', 'g/p file 4750 3:4 =P'] },
    { name: '--exclude below a directory source', req: { sources: ['/a'], dest: '/x', excludes: ['hl'] }, expect: ['x dir 0755 0:0', 'x/f1 file 0644 0:0 =uno'] },
  ];
  for (const c of cases) {
    test(c.name, async () => assert.deepEqual(lines(await run(crafted, c.req)), c.expect));
  }

  test('directory mtime and xattr values come from the layer header', async () => {
    const rows = await run(crafted, { sources: ['/d'], dest: '/dd' });
    const sub = rows.find((r) => r.path === 'dd/sub');
    assert.equal(sub?.mtime, 12345);
    assert.deepEqual(sub?.xattrs, { 'user.x': '0001' });
  });

  const failures: { name: string; req: Req; code: string }[] = [
    { name: 'a whited-out path', req: { sources: ['/a/f2'], dest: '/x' }, code: 'E_BUILD_COPY_NOT_FOUND' },
    { name: 'a path no layer has', req: { sources: ['/nope'], dest: '/x' }, code: 'E_BUILD_COPY_NOT_FOUND' },
    { name: 'two sources to a file destination', req: { sources: ['/a/f1', '/o/new'], dest: '/x' }, code: 'E_BUILD_COPY_DEST' },
    { name: 'a URL', req: { sources: ['https://example.com/a'], dest: '/x' }, code: 'E_BUILD_COPY_URL' },
  ];
  for (const c of failures) {
    test(`fails: ${c.name}`, async () => {
      await assert.rejects(run(crafted, c.req), (e: unknown) => isBerthError(e) && e.code === c.code);
    });
  }

  test('the cache key names the layer content, not its mtimes', async () => {
    const key = async (src: CopySource, sources: string[]) => (await planCopy(src, request({ sources, dest: '/x' }))).cacheKey;
    assert.equal(await key(crafted, ['/a/f1']), await key(crafted, ['/a/f1']));
    assert.notEqual(await key(crafted, ['/a/f1']), await key(crafted, ['/o/new']));
    // The same path in a stage whose layer has other content.
    const other = await writeLayer(store, [d('a'), f('a/f1', 'ONE')]);
    const src2: CopySource = { kind: 'layers', store, layers: [{ digest: other.descriptor.digest, diffId: other.diffId }], view: mergeFileIndexes([other.index]) };
    const base = await writeLayer(store, [d('a'), f('a/f1', 'one')]);
    const src3: CopySource = { kind: 'layers', store, layers: [{ digest: base.descriptor.digest, diffId: base.diffId }], view: mergeFileIndexes([base.index]) };
    assert.notEqual(await key(src2, ['/a/f1']), await key(src3, ['/a/f1']));
  });
});

describe('the entries form a valid layer', () => {
  test('writeLayer stores them and reading the layer back gives the same headers', async () => {
    const plan = await planCopy(crafted, request({ sources: ['/a', '/a2', '/d'], dest: '/t/' }));
    const expected = lines(await collect(plan));
    const again = await planCopy(crafted, request({ sources: ['/a', '/a2', '/d'], dest: '/t/' }));
    const layer = await writeLayer(store, copyEntries(again));
    const back: string[] = [];
    for await (const e of readLayer(store, layer.descriptor.digest)) {
      const parts: Buffer[] = [];
      for await (const c of e.body) parts.push(c);
      const hd = e.header;
      const body = hd.type === 'file' ? ` =${Buffer.concat(parts).toString('utf8')}` : '';
      back.push(`${hd.path} ${hd.type} ${hd.mode.toString(8).padStart(4, '0')} ${hd.uid}:${hd.gid}${hd.linkname ? ` -> ${hd.linkname}` : ''}${body}`);
    }
    assert.deepEqual(back, expected);
    assert.equal(layer.entries, expected.length);
  });
});

describe('COPY --from an imported image keeps what the image says', { skip: !isRoot && 'the fixture image needs root (setcap, chown)' }, () => {
  test('file capabilities, setuid bits, owners and user xattrs survive', async () => {
    const rows = await run(image, { sources: ['/usr/bin/ping', '/usr/bin/su-test', '/etc/passwd'], dest: '/out/' });
    const by = new Map(rows.map((r) => [r.path, r]));
    assert.equal(by.get('out/ping')?.xattrs?.['security.capability'], CAP_NET_RAW_EP);
    assert.equal(by.get('out/ping')?.mode, '0755');
    assert.equal(by.get('out/su-test')?.mode, '4755');
    assert.equal(by.get('out/ping')?.size, statSync('/bin/busybox').size);
    assert.equal(by.get('out/passwd')?.xattrs?.['user.berth-test'], '00fffe80');
  });

  test('--chown keeps the capability and the setuid bit (BuildKit re-applies them after chown)', async () => {
    const rows = await run(image, { sources: ['/usr/bin/ping', '/usr/bin/su-test'], dest: '/out/', chown: { uid: 1, gid: 1 } });
    assert.deepEqual(
      rows.map((r) => [r.path, r.owner, r.mode, r.xattrs?.['security.capability'] ?? null]),
      [
        ['out', '1:1', '0755', null],
        ['out/ping', '1:1', '0755', CAP_NET_RAW_EP],
        ['out/su-test', '1:1', '4755', null],
      ],
    );
  });

  test('directory owners and modes come from the image', async () => {
    const rows = await run(image, { sources: ['/home'], dest: '/h' });
    assert.deepEqual(lines(rows), ['h dir 0755 0:0', 'h/foo dir 0755 10000:10000', 'h/nonroot dir 0700 65532:65532']);
  });

  test('a symlink source is followed; symlinks inside a directory stay symlinks', async () => {
    const [sh] = await run(image, { sources: ['/bin/sh'], dest: '/sh' });
    assert.equal(sh.type, 'file');
    assert.equal(sh.size, statSync('/bin/busybox').size);
    const bin = await run(image, { sources: ['/bin'], dest: '/b' });
    assert.equal(bin.find((r) => r.path === 'b/sh')?.link, 'busybox');
  });
});
