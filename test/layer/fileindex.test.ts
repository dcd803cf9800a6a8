/**
 * The per-layer file index: building from tar headers, merging layers (whiteouts, opaque
 * directories, hardlinks, symlinked parents), captured identity files, and the stored format.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FileIndexBuilder,
  mergeFileIndexes,
  normalizeLayerPath,
  parseFileIndex,
  serializeFileIndex,
  type FileIndex,
  type FileIndexEntry,
} from '../../src/layer/fileindex.js';
import type { EntryType, TarHeader } from '../../src/layer/tar/types.js';
import { isBerthError } from '../../src/errors/index.js';

function hdr(path: string, type: EntryType = 'file', over: Partial<TarHeader> = {}): TarHeader {
  return {
    path,
    type,
    mode: type === 'dir' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    size: 0,
    mtime: { sec: 0, nsec: 0 },
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...over,
  };
}

type Item = TarHeader | [TarHeader, string];

/** Builds one layer's index; `[header, body]` items pass their body like the import pipeline does. */
function layer(...items: Item[]): FileIndex {
  const b = new FileIndexBuilder();
  for (const it of items) {
    const [h, body] = Array.isArray(it) ? it : [it, undefined];
    const header = body !== undefined ? { ...h, size: Buffer.byteLength(body) } : h;
    b.add(header);
    if (body !== undefined && b.wantsBody(header)) b.addBody(header.path, Buffer.from(body));
  }
  return b.finish();
}

const CAP_NET_RAW = Buffer.from('0100000200200000000000000000000000000000', 'hex');

describe('normalizeLayerPath', () => {
  const cases: [string, string][] = [
    ['.', '/'],
    ['./', '/'],
    ['./usr/bin/', '/usr/bin'],
    ['usr//bin/./ping', '/usr/bin/ping'],
    ['../../etc/passwd', '/etc/passwd'],
    ['a/b/../../../c', '/c'],
    ['/abs/path', '/abs/path'],
    ['caf\u00c3\u00a9', '/caf\u00c3\u00a9'],
  ];
  for (const [input, want] of cases) test(JSON.stringify(input), () => assert.equal(normalizeLayerPath(input), want));
});

describe('FileIndexBuilder', () => {
  test('one entry per tar entry, with metadata, xattr names, capability and devices', () => {
    const idx = layer(
      hdr('./', 'dir'),
      hdr('usr/bin/', 'dir'),
      hdr('usr/bin/ping', 'file', { mode: 0o4755, uid: 0, gid: 0, size: 10, xattrs: new Map([['user.z', Buffer.from('1')], ['security.capability', CAP_NET_RAW]]) }),
      hdr('usr/bin/ping6', 'hardlink', { linkname: './usr/bin/ping' }),
      hdr('bin', 'symlink', { linkname: 'usr/bin' }),
      hdr('dev/null', 'char', { devmajor: 1, devminor: 3, mode: 0o666 }),
      hdr('run/fifo', 'fifo', { uid: 3_000_000, gid: 4_000_000 }),
    );
    assert.equal(idx.version, 1);
    assert.deepEqual(idx.entries, [
      { path: '/', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 },
      { path: '/usr/bin', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 },
      { path: '/usr/bin/ping', type: 'file', mode: 0o4755, uid: 0, gid: 0, size: 10, xattrs: ['security.capability', 'user.z'], capability: CAP_NET_RAW.toString('hex') },
      { path: '/usr/bin/ping6', type: 'hardlink', mode: 0o644, uid: 0, gid: 0, size: 0, linkname: '/usr/bin/ping' },
      { path: '/bin', type: 'symlink', mode: 0o644, uid: 0, gid: 0, size: 0, linkname: 'usr/bin' },
      { path: '/dev/null', type: 'char', mode: 0o666, uid: 0, gid: 0, size: 0, devmajor: 1, devminor: 3 },
      { path: '/run/fifo', type: 'fifo', mode: 0o644, uid: 3_000_000, gid: 4_000_000, size: 0 },
    ]);
  });

  test('whiteouts and opaque markers are recorded by what they remove', () => {
    const idx = layer(hdr('etc/.wh.motd'), hdr('var/lib/.wh..wh..opq'), hdr('.wh..wh.plnk/123.456'));
    assert.deepEqual(
      idx.entries.map((e) => [e.type, e.path]),
      [
        ['whiteout', '/etc/motd'],
        ['opaque', '/var/lib'],
        ['file', '/.wh..wh.plnk/123.456'],
      ],
    );
  });

  for (const name of ['.wh.', 'etc/.wh..', 'etc/.wh...']) {
    test(`invalid whiteout ${name}: E_LAYER_WHITEOUT`, () => {
      assert.throws(() => layer(hdr(name)), (e: unknown) => isBerthError(e) && e.code === 'E_LAYER_WHITEOUT');
    });
  }

  test('only small identity files are captured', () => {
    const b = new FileIndexBuilder({ maxCaptureBytes: 8 });
    const passwd = hdr('./etc/passwd', 'file', { size: 5 });
    const big = hdr('etc/group', 'file', { size: 9 });
    const other = hdr('etc/hosts', 'file', { size: 3 });
    const dir = hdr('etc/login.defs', 'dir');
    assert.equal(b.wantsBody(passwd), true);
    assert.equal(b.wantsBody(big), false);
    assert.equal(b.wantsBody(other), false);
    assert.equal(b.wantsBody(dir), false);
    b.add(passwd);
    b.addBody(passwd.path, Buffer.from('root:'));
    b.add(other);
    b.addBody(other.path, Buffer.from('x'));
    b.add(big);
    b.addBody(big.path, Buffer.from('123456789'));
    const idx = b.finish();
    assert.deepEqual(idx.entries[0].content, Buffer.from('root:'));
    assert.equal(idx.entries[1].content, undefined);
    assert.equal(idx.entries[2].content, undefined);
  });
});

describe('mergeFileIndexes', () => {
  const base = layer(
    hdr('etc', 'dir'),
    [hdr('etc/passwd', 'file'), 'root:x:0:0::/root:/bin/sh\n'],
    [hdr('etc/group', 'file'), 'root:x:0:\n'],
    hdr('etc/motd'),
    hdr('usr/bin', 'dir'),
    hdr('usr/bin/ping', 'file', { mode: 0o755, size: 10, xattrs: new Map([['security.capability', CAP_NET_RAW]]) }),
    hdr('opt/app', 'dir', { uid: 1000, gid: 1000, mode: 0o750 }),
    hdr('opt/app/data', 'file', { uid: 1000 }),
    hdr('var/cache', 'dir'),
    hdr('var/cache/a'),
    hdr('var/cache/sub', 'dir'),
    hdr('var/cache/sub/b'),
  );

  test('a single layer: lookup, implicit parents, list and sorted entries', () => {
    const v = mergeFileIndexes([base]);
    assert.equal(v.lookup('/usr/bin/ping')?.capability, CAP_NET_RAW.toString('hex'));
    assert.equal(v.lookup('usr/bin/../bin/ping')?.mode, 0o755);
    assert.deepEqual(v.lookup('/usr'), { path: '/usr', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, xattrs: [], layer: -1, implicit: true });
    assert.deepEqual(v.list('/etc'), ['group', 'motd', 'passwd']);
    assert.equal(v.list('/etc/passwd'), undefined);
    const paths = [...v.entries()].map((e) => e.path);
    assert.deepEqual(paths, [...paths].sort());
    assert.equal(paths[0], '/');
    assert.equal(v.size, paths.length);
  });

  test('whiteouts delete lower files and whole directories', () => {
    const v = mergeFileIndexes([base, layer(hdr('etc/.wh.motd'), hdr('var/.wh.cache'))]);
    assert.equal(v.lookup('/etc/motd'), undefined);
    assert.equal(v.lookup('/var/cache'), undefined);
    assert.equal(v.lookup('/var/cache/sub/b'), undefined);
    assert.ok(v.lookup('/etc/passwd'));
  });

  test('a whiteout never hides an entry of its own layer', () => {
    const v = mergeFileIndexes([base, layer(hdr('etc/new'), hdr('etc/.wh.new'), hdr('etc/.wh.motd'), hdr('etc/motd', 'file', { mode: 0o600 }))]);
    assert.ok(v.lookup('/etc/new'));
    assert.equal(v.lookup('/etc/motd')?.mode, 0o600, 'deleted from below, re-created by the same layer');
  });

  test('an opaque directory hides lower children but keeps the layer\'s own, wherever the marker is', () => {
    const v = mergeFileIndexes([base, layer(hdr('var/cache/mine'), hdr('var/cache/.wh..wh..opq'))]);
    assert.deepEqual(v.list('/var/cache'), ['mine']);
    assert.equal(v.lookup('/var/cache/sub/b'), undefined);
  });

  test('a directory over a directory replaces attributes only; a file over a directory removes its tree', () => {
    const v = mergeFileIndexes([base, layer(hdr('opt/app', 'dir', { uid: 2000, mode: 0o700 }), hdr('var/cache', 'file'))]);
    assert.equal(v.lookup('/opt/app')?.uid, 2000);
    assert.equal(v.lookup('/opt/app')?.mode, 0o700);
    assert.ok(v.lookup('/opt/app/data'), 'children kept');
    assert.equal(v.lookup('/var/cache')?.type, 'file');
    assert.equal(v.lookup('/var/cache/a'), undefined);
  });

  test('hardlinks take their target\'s metadata, including across layers', () => {
    const v = mergeFileIndexes([base, layer(hdr('usr/bin/ping6', 'hardlink', { linkname: 'usr/bin/ping' }), hdr('x/dangling', 'hardlink', { linkname: 'nope' }))]);
    const link = v.lookup('/usr/bin/ping6');
    assert.equal(link?.type, 'file');
    assert.equal(link?.mode, 0o755);
    assert.equal(link?.size, 10);
    assert.equal(link?.capability, CAP_NET_RAW.toString('hex'));
    assert.equal(link?.hardlinkTo, '/usr/bin/ping');
    assert.equal(link?.layer, 1);
    assert.equal(v.lookup('/x/dangling')?.type, 'hardlink', 'an unresolved link stays a hardlink');
  });

  test('a hardlink keeps the inode it linked to when the target name is replaced later', () => {
    const v = mergeFileIndexes([base, layer(hdr('usr/bin/ping6', 'hardlink', { linkname: '/usr/bin/ping' })), layer(hdr('usr/bin/ping', 'file', { mode: 0o700 }))]);
    assert.equal(v.lookup('/usr/bin/ping')?.mode, 0o700);
    assert.equal(v.lookup('/usr/bin/ping6')?.mode, 0o755);
    assert.equal(v.lookup('/usr/bin/ping6')?.capability, CAP_NET_RAW.toString('hex'));
  });

  test('hardlinks to AUFS .wh..wh.plnk sources resolve, and the plnk names stay hidden', () => {
    const v = mergeFileIndexes([layer(hdr('.wh..wh.plnk', 'dir'), hdr('.wh..wh.plnk/1.2', 'file', { mode: 0o711, uid: 7 }), hdr('bin/tool', 'hardlink', { linkname: '.wh..wh.plnk/1.2' }))]);
    assert.equal(v.lookup('/bin/tool')?.uid, 7);
    assert.equal(v.lookup('/.wh..wh.plnk/1.2'), undefined);
    assert.ok(![...v.entries()].some((e) => e.path.includes('.wh.')));
  });

  test('entries land where symlinked parents point, inside the root', () => {
    const v = mergeFileIndexes([
      layer(hdr('usr/bin', 'dir'), hdr('bin', 'symlink', { linkname: 'usr/bin' }), hdr('lib', 'symlink', { linkname: '/../../usr/lib' }), hdr('loop', 'symlink', { linkname: 'loop' })),
      layer(hdr('bin/ping', 'file', { mode: 0o4755 }), hdr('lib/libc.so', 'file')),
    ]);
    assert.equal(v.lookup('/usr/bin/ping')?.mode, 0o4755);
    assert.equal(v.lookup('/bin/ping')?.path, '/usr/bin/ping');
    assert.equal(v.lookup('/bin')?.type, 'symlink');
    assert.equal(v.lookup('/bin', { follow: true })?.type, 'dir');
    assert.equal(v.realpath('/bin/ping'), '/usr/bin/ping');
    assert.ok(v.lookup('/usr/lib/libc.so'), 'absolute targets and .. are resolved inside the root');
    assert.equal(v.lookup('/loop', { follow: true }), undefined);
    assert.equal(v.realpath('/loop/x'), undefined);
  });

  test('readFile follows the last writer of an identity file', () => {
    const deleted = layer(hdr('etc/.wh.passwd'));
    const rewritten = layer([hdr('etc/passwd'), 'app:x:1000:1000::/app:/bin/sh\n']);
    const tooBig = layer(hdr('etc/passwd', 'file', { size: 2 << 20 }));
    const opaque = layer(hdr('etc/.wh..wh..opq'), hdr('etc/hostname'));
    const symlinked = layer(hdr('etc/group', 'symlink', { linkname: '/etc/passwd' }));
    assert.equal(mergeFileIndexes([base]).readFile('/etc/passwd')?.toString(), 'root:x:0:0::/root:/bin/sh\n');
    assert.equal(mergeFileIndexes([base, deleted]).readFile('/etc/passwd'), undefined);
    assert.equal(mergeFileIndexes([base, deleted, rewritten]).readFile('/etc/passwd')?.toString(), 'app:x:1000:1000::/app:/bin/sh\n');
    assert.equal(mergeFileIndexes([base, tooBig]).readFile('/etc/passwd'), undefined, 'replaced by a file too large to capture');
    assert.equal(mergeFileIndexes([base, opaque]).readFile('/etc/group'), undefined);
    assert.equal(mergeFileIndexes([base, symlinked]).readFile('/etc/group')?.toString(), 'root:x:0:0::/root:/bin/sh\n');
    assert.equal(mergeFileIndexes([base]).readFile('/etc/motd'), undefined, 'not an identity file');
  });

  test('the root entry updates the root and is never replaced', () => {
    const v = mergeFileIndexes([base, layer(hdr('.', 'dir', { mode: 0o700, uid: 5 }))]);
    assert.equal(v.lookup('/')?.mode, 0o700);
    assert.ok(v.lookup('/etc/passwd'));
  });
});

describe('serializeFileIndex / parseFileIndex', () => {
  const byteString = fc
    .array(fc.integer({ min: 1, max: 255 }).filter((c) => c !== 0x2f), { minLength: 1, maxLength: 12 })
    .map((a) => String.fromCharCode(...a))
    .filter((c) => c !== '.' && c !== '..');
  const absPath = fc.array(byteString, { maxLength: 4 }).map((c) => `/${c.join('/')}`);
  const entry: fc.Arbitrary<FileIndexEntry> = fc.record(
    {
      path: absPath,
      type: fc.constantFrom('file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo', 'whiteout', 'opaque'),
      mode: fc.integer({ min: 0, max: 0o7777 }),
      uid: fc.integer({ min: 0, max: 0xffffffff }),
      gid: fc.integer({ min: 0, max: 0xffffffff }),
      size: fc.maxSafeNat(),
      linkname: fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)) }),
      xattrs: fc.array(fc.string({ minLength: 1 }), { maxLength: 3 }).map((a) => [...a].sort()),
      capability: fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b).toString('hex')),
      devmajor: fc.nat(4095),
      devminor: fc.nat(0xfffff),
      content: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    },
    { requiredKeys: ['path', 'type', 'mode', 'uid', 'gid', 'size'] },
  ).map((e) => {
    // Plain objects, as parse returns; device numbers come in pairs, as the builder writes them.
    const out = { ...e };
    if (out.devmajor !== undefined || out.devminor !== undefined) {
      out.devmajor ??= 0;
      out.devminor ??= 0;
    }
    return out;
  });
  const index = fc.array(entry, { maxLength: 20 }).map((entries): FileIndex => ({ version: 1, entries }));

  test('round trip (property), as text and as UTF-8 bytes', () => {
    fc.assert(
      fc.property(index, (idx) => {
        const text = serializeFileIndex(idx);
        assert.deepEqual(parseFileIndex(text), idx);
        assert.deepEqual(parseFileIndex(Buffer.from(text, 'utf8')), idx);
      }),
      { numRuns: 300 },
    );
  });

  test('the same index always serialises to the same bytes', () => {
    const idx = layer(hdr('a'), [hdr('etc/passwd'), 'x'], hdr('b', 'symlink', { linkname: 'a' }));
    assert.equal(serializeFileIndex(idx), serializeFileIndex(parseFileIndex(serializeFileIndex(idx))));
  });

  const good = JSON.parse(serializeFileIndex(layer(hdr('a'), hdr('b', 'symlink', { linkname: 'a' })))) as Record<string, unknown>;
  const bad: { doc: string; doc2: unknown; code: string }[] = [
    { doc: 'not JSON', doc2: '{', code: 'E_FILEINDEX_INVALID' },
    { doc: 'wrong format name', doc2: { ...good, format: 'x' }, code: 'E_FILEINDEX_INVALID' },
    { doc: 'newer version', doc2: { ...good, version: 2 }, code: 'E_FILEINDEX_VERSION' },
    { doc: 'count disagrees with a column', doc2: { ...good, count: 3 }, code: 'E_FILEINDEX_INVALID' },
    { doc: 'relative path', doc2: { ...good, path: ['a', '/b'] }, code: 'E_FILEINDEX_INVALID' },
    { doc: 'path with ..', doc2: { ...good, path: ['/a/../b', '/b'] }, code: 'E_FILEINDEX_INVALID' },
    { doc: 'path with a trailing slash', doc2: { ...good, path: ['/a/', '/b'] }, code: 'E_FILEINDEX_INVALID' },
    { doc: 'negative uid', doc2: { ...good, uid: [-1, 0] }, code: 'E_FILEINDEX_INVALID' },
    { doc: 'unknown type code', doc2: { ...good, type: 'fz' }, code: 'E_FILEINDEX_INVALID' },
    { doc: 'sparse key out of range', doc2: { ...good, link: { '7': 'x' } }, code: 'E_FILEINDEX_INVALID' },
    { doc: 'capability not hex', doc2: { ...good, cap: { '0': 'xyz' } }, code: 'E_FILEINDEX_INVALID' },
    { doc: 'content not base64', doc2: { ...good, content: { '0': '*' } }, code: 'E_FILEINDEX_INVALID' },
  ];
  for (const c of bad) {
    test(`${c.doc}: ${c.code}`, () => {
      const text = typeof c.doc2 === 'string' ? c.doc2 : JSON.stringify(c.doc2);
      assert.throws(() => parseFileIndex(text, 'sha256:x'), (e: unknown) => isBerthError(e) && e.code === c.code && e.message.includes('sha256:x'));
    });
  }
});
