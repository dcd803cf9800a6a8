import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHeader, encodeTar, paxHeaderName, splitUstarPath } from '../../../src/layer/tar/encode.js';
import { parsePaxRecords } from '../../../src/layer/tar/pax.js';
import type { TarHeader } from '../../../src/layer/tar/types.js';
import { bytesOf, codeOf, decodeAll, header } from './fixtures.js';

/** The pax records (key -> value as latin1) of an encoded header, or null without a pax block. */
function paxOf(buf: Buffer): { keys: string[]; values: Map<string, string>; paxName: string; ustar: Buffer } | null {
  if (buf.length === 512) return null;
  assert.equal(String.fromCharCode(buf[156]), 'x');
  const size = parseInt(buf.toString('latin1', 124, 135), 8);
  const data = buf.subarray(512, 512 + size);
  const keys: string[] = [];
  const values = new Map<string, string>();
  parsePaxRecords(data, (k, v) => {
    keys.push(k);
    values.set(k, v.toString('latin1'));
  });
  const nul = buf.indexOf(0);
  return { keys, values, paxName: buf.toString('latin1', 0, Math.min(nul, 100)), ustar: buf.subarray(buf.length - 512) };
}

const field = (b: Buffer, off: number, len: number): string => {
  const s = b.toString('latin1', off, off + len);
  const nul = s.indexOf('\0');
  return nul === -1 ? s : s.slice(0, nul);
};

interface EncodeCase {
  name: string;
  header: Partial<TarHeader>;
  /** Expected pax keys in order; [] means no pax header at all. */
  pax: string[];
  values?: Record<string, string>;
  ustar?: Array<[off: number, len: number, text: string]>;
}

const cases: EncodeCase[] = [
  { name: 'plain entry: one ustar block', header: { path: 'etc/passwd', size: 0 }, pax: [], ustar: [[0, 100, 'etc/passwd']] },
  {
    name: 'a 150-byte path with a slash is split into prefix and name',
    header: { path: 'p'.repeat(100) + '/' + 'n'.repeat(49) },
    pax: [],
    ustar: [
      [345, 155, 'p'.repeat(100)],
      [0, 100, 'n'.repeat(49)],
    ],
  },
  {
    name: 'a name of exactly 100 bytes fills the field',
    header: { path: 'n'.repeat(100) },
    pax: [],
    ustar: [[0, 100, 'n'.repeat(100)]],
  },
  { name: 'a 150-byte path without a slash needs pax', header: { path: 'n'.repeat(150) }, pax: ['path'] },
  { name: 'a final component over 100 bytes needs pax', header: { path: 'a/' + 'n'.repeat(101) }, pax: ['path'] },
  { name: 'a path over 256 bytes needs pax', header: { path: 'd/'.repeat(200) + 'f' }, pax: ['path'] },
  { name: 'a directory whose only slash is the last byte needs pax', header: { path: 'd'.repeat(120) + '/', type: 'dir' }, pax: ['path'] },
  { name: 'a 100-byte link target fits', header: { type: 'symlink', linkname: 't'.repeat(100) }, pax: [] },
  { name: 'a 101-byte link target needs pax', header: { type: 'symlink', linkname: 't'.repeat(101) }, pax: ['linkpath'] },
  { name: 'uid 2097151 fits the octal field', header: { uid: 2097151, gid: 2097151 }, pax: [], ustar: [[108, 8, '7777777']] },
  {
    name: 'uid 2097152 needs pax and zeroes the field',
    header: { uid: 2097152, gid: 4294967295 },
    pax: ['uid', 'gid'],
    values: { uid: '2097152', gid: '4294967295' },
    ustar: [[108, 8, '0000000']],
  },
  { name: 'size 8 GiB - 1 fits', header: { size: 8 * 2 ** 30 - 1 }, pax: [] },
  { name: 'size 8 GiB needs pax', header: { size: 8 * 2 ** 30 }, pax: ['size'], values: { size: String(8 * 2 ** 30) } },
  {
    name: 'mtime with nanoseconds',
    header: { mtime: { sec: 1795331332, nsec: 199491420 } },
    pax: ['mtime'],
    values: { mtime: '1795331332.19949142' },
    ustar: [[136, 12, (1795331332).toString(8)]],
  },
  { name: 'mtime before 1970', header: { mtime: { sec: -2, nsec: 500000000 } }, pax: ['mtime'], values: { mtime: '-1.5' } },
  { name: 'mtime past the octal range', header: { mtime: { sec: 8 ** 11, nsec: 0 } }, pax: ['mtime'] },
  { name: 'ASCII uname of 31 bytes fits', header: { uname: 'u'.repeat(31) }, pax: [] },
  { name: 'uname of 32 bytes needs pax', header: { uname: 'u'.repeat(32) }, pax: ['uname'] },
  {
    name: 'non-ASCII names go to pax as UTF-8',
    header: { uname: 'jürgen', gname: 'ørsted' },
    pax: ['uname', 'gname'],
    values: { uname: Buffer.from('jürgen').toString('latin1'), gname: Buffer.from('ørsted').toString('latin1') },
    ustar: [[265, 32, '']],
  },
  {
    name: 'xattrs are sorted by name and %-encoded like GNU tar',
    header: {
      xattrs: new Map([
        ['user.z', Buffer.from([0xff])],
        ['security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex')],
        ['user.a=b%c', Buffer.from('v')],
      ]),
    },
    pax: ['SCHILY.xattr.security.capability', 'SCHILY.xattr.user.a%3Db%25c', 'SCHILY.xattr.user.z'],
  },
  {
    name: 'records come in the fixed order',
    header: {
      path: 'n'.repeat(150),
      type: 'symlink',
      linkname: 't'.repeat(150),
      uid: 3000000,
      gid: 4000000,
      uname: 'ü',
      gname: 'ö',
      mtime: { sec: 1, nsec: 1 },
      xattrs: new Map([['user.b', Buffer.from('1')], ['user.a', Buffer.from('2')]]),
      paxExtra: new Map([['comment', Buffer.from('c')], ['SCHILY.acl.access', Buffer.from('user::rw-')]]),
    },
    pax: ['path', 'linkpath', 'uid', 'gid', 'uname', 'gname', 'mtime', 'SCHILY.xattr.user.a', 'SCHILY.xattr.user.b', 'SCHILY.acl.access', 'comment'],
  },
];

describe('encodeHeader: when pax records are written', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const h = header(c.header);
      const buf = encodeHeader(h);
      assert.equal(buf.length % 512, 0);
      const pax = paxOf(buf);
      assert.deepEqual(pax?.keys ?? [], c.pax);
      for (const [k, v] of Object.entries(c.values ?? {})) assert.equal(pax?.values.get(k), v, k);
      const ustar = buf.subarray(buf.length - 512);
      for (const [off, len, text] of c.ustar ?? []) assert.equal(field(ustar, off, len), text, `field at ${off}`);
      assert.equal(ustar.toString('latin1', 257, 265), 'ustar\x0000');
      // And the decoder reads back what was encoded (body-less: size taken from the header only).
      if (h.size === 0) {
        const { entries } = await decodeAll(Buffer.concat([buf, Buffer.alloc(1024)]));
        assert.deepEqual(entries[0].header.path, h.path);
        assert.deepEqual(entries[0].header.mtime, h.mtime);
        assert.deepEqual(entries[0].header.uid, h.uid);
      }
    });
  }
});

describe('encodeHeader: determinism', () => {
  test('the same header gives the same bytes, whatever the xattr insertion order', () => {
    const a = header({ xattrs: new Map([['user.a', Buffer.from('1')], ['user.b', Buffer.from('2')]]), mtime: { sec: 5, nsec: 5 } });
    const b = header({ xattrs: new Map([['user.b', Buffer.from('2')], ['user.a', Buffer.from('1')]]), mtime: { sec: 5, nsec: 5 } });
    assert.deepEqual(encodeHeader(a), encodeHeader(b));
  });

  test('the pax header block is named, owned and dated deterministically', () => {
    const buf = encodeHeader(header({ path: 'usr/bin/ping', mtime: { sec: 1000, nsec: 7 }, xattrs: new Map([['user.x', Buffer.from('y')]]) }));
    assert.equal(field(buf, 0, 100), 'usr/bin/PaxHeaders/ping');
    assert.equal(field(buf, 100, 8), '0000644');
    assert.equal(field(buf, 108, 8), '0000000');
    assert.equal(field(buf, 136, 12), (1000).toString(8).padStart(11, '0'));
    assert.equal(buf.indexOf('atime'), -1);
    assert.equal(buf.indexOf('ctime'), -1);
  });
});

describe('paxHeaderName', () => {
  const rows: Array<[string, string]> = [
    ['a/b/c', 'a/b/PaxHeaders/c'],
    ['c', './PaxHeaders/c'],
    ['./', './PaxHeaders/.'],
    ['dir/', './PaxHeaders/dir'],
    ['a/dir//', 'a/PaxHeaders/dir'],
    ['/abs', '/PaxHeaders/abs'],
  ];
  for (const [path, want] of rows) test(`${path} -> ${want}`, () => assert.equal(paxHeaderName(path), want));
  test('long names are cut to the 100-byte field', () => {
    const name = paxHeaderName('d'.repeat(80) + '/' + 'f'.repeat(80));
    assert.equal(name.length, 100);
    assert.ok(name.startsWith('d'.repeat(80) + '/PaxHeaders/'));
  });
});

describe('splitUstarPath', () => {
  test('never splits into an empty name or prefix, or one that does not fit', () => {
    assert.equal(splitUstarPath('/' + 'n'.repeat(120)), null);
    assert.equal(splitUstarPath('p'.repeat(156) + '/n'), null);
    assert.deepEqual(splitUstarPath('p'.repeat(155) + '/n'), ['p'.repeat(155), 'n']);
    assert.equal(splitUstarPath('p/' + 'n'.repeat(101)), null);
  });
});

describe('encodeTar', () => {
  test('header, body, padding and the 1024-byte end marker', async () => {
    async function* body() {
      yield Buffer.from('he');
      yield new Uint8Array([0x6c, 0x6c, 0x6f]);
    }
    const out = await bytesOf(
      encodeTar([
        { header: header({ path: 'a', size: 5 }), body: body() },
        { header: header({ path: 'b', size: 3 }), body: Buffer.from('xyz') },
        { header: header({ path: 'c', size: 2 }), body: [Buffer.from('q'), Buffer.from('r')] },
        { header: header({ path: 'd/', type: 'dir' }) },
      ]),
    );
    assert.equal(out.length, 4 * 512 + 3 * 512 + 1024);
    assert.ok(out.subarray(out.length - 1024).equals(Buffer.alloc(1024)));
    const { entries, warnings } = await decodeAll(out);
    assert.deepEqual(
      entries.map((e) => [e.header.path, e.data.toString()]),
      [['a', 'hello'], ['b', 'xyz'], ['c', 'qr'], ['d/', '']],
    );
    assert.deepEqual(warnings, []);
  });

  test('accepts an async iterable of entries', async () => {
    async function* entries() {
      yield { header: header({ path: 'x', size: 1 }), body: Buffer.from('1') };
    }
    const { entries: got } = await decodeAll(await bytesOf(encodeTar(entries())));
    assert.equal(got[0].data.toString(), '1');
  });
});

interface EncodeFailure {
  name: string;
  run: () => Promise<unknown>;
  code: string;
}

const tarBytes = (entries: Parameters<typeof encodeTar>[0]) => bytesOf(encodeTar(entries));
const enc = (over: Partial<TarHeader>) => async () => encodeHeader(header(over));

const failures: EncodeFailure[] = [
  { name: 'Buffer body shorter than size', run: () => tarBytes([{ header: header({ size: 4 }), body: Buffer.from('abc') }]), code: 'E_TAR_SIZE_MISMATCH' },
  {
    name: 'streamed body longer than size',
    run: () => tarBytes([{ header: header({ size: 2 }), body: [Buffer.from('ab'), Buffer.from('c')] }]),
    code: 'E_TAR_SIZE_MISMATCH',
  },
  { name: 'streamed body shorter than size', run: () => tarBytes([{ header: header({ size: 2 }), body: [Buffer.from('a')] }]), code: 'E_TAR_SIZE_MISMATCH' },
  { name: 'missing body for a non-empty file', run: () => tarBytes([{ header: header({ size: 1 }) }]), code: 'E_TAR_SIZE_MISMATCH' },
  { name: 'text (not a byte string) path', run: enc({ path: '日本' }), code: 'E_TAR_HEADER' },
  { name: 'NUL in path', run: enc({ path: 'a\0b' }), code: 'E_TAR_HEADER' },
  { name: 'NUL in linkname', run: enc({ type: 'symlink', linkname: 'a\0b' }), code: 'E_TAR_HEADER' },
  { name: 'mode with file-type bits', run: enc({ mode: 0o100644 }), code: 'E_TAR_HEADER' },
  { name: 'negative uid', run: enc({ uid: -1 }), code: 'E_TAR_HEADER' },
  { name: 'fractional gid', run: enc({ gid: 1.5 }), code: 'E_TAR_HEADER' },
  { name: 'size on a directory', run: enc({ type: 'dir', size: 1 }), code: 'E_TAR_HEADER' },
  { name: 'devmajor beyond the octal field', run: enc({ type: 'char', devmajor: 2097152 }), code: 'E_TAR_HEADER' },
  { name: 'nsec out of range', run: enc({ mtime: { sec: 0, nsec: 1e9 } }), code: 'E_TAR_HEADER' },
  { name: 'unknown type', run: enc({ type: 'socket' as TarHeader['type'] }), code: 'E_TAR_HEADER' },
  { name: 'empty xattr name', run: enc({ xattrs: new Map([['', Buffer.from('x')]]) }), code: 'E_TAR_HEADER' },
  { name: 'xattr value that is not bytes', run: enc({ xattrs: new Map([['user.x', 'text' as unknown as Buffer]]) }), code: 'E_TAR_HEADER' },
  { name: 'paxExtra carrying a field the codec owns', run: enc({ paxExtra: new Map([['path', Buffer.from('x')]]) }), code: 'E_TAR_HEADER' },
  { name: 'paxExtra carrying an xattr', run: enc({ paxExtra: new Map([['SCHILY.xattr.user.x', Buffer.from('x')]]) }), code: 'E_TAR_HEADER' },
  { name: "paxExtra key with '='", run: enc({ paxExtra: new Map([['a=b', Buffer.from('x')]]) }), code: 'E_TAR_HEADER' },
];

describe('encode: refused input', () => {
  for (const c of failures) test(c.name, async () => assert.equal(await codeOf(c.run()), c.code));
});
