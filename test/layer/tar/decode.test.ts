import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTar } from '../../../src/layer/tar/decode.js';
import { encodeHeader } from '../../../src/layer/tar/encode.js';
import type { TarHeader, TarLimits } from '../../../src/layer/tar/types.js';
import type { Warning } from '../../../src/errors/index.js';
import {
  END,
  codeOf,
  decodeAll,
  fixChecksum,
  header,
  padded,
  paxHeader,
  rawBlock,
  rawMeta,
  setField,
  tarOf,
  xattrList,
} from './fixtures.js';

const bin = (hex: string): Buffer => Buffer.from(hex.replace(/\s/g, ''), 'hex');

/** A raw file entry: header block edited by `edit`, then padded data. */
function rawFile(edit: (b: Buffer) => void, data = Buffer.alloc(0), magic?: 'ustar' | 'gnu' | 'v7'): Buffer {
  const block = rawBlock((b) => {
    setField(b, 124, 12, data.length.toString(8).padStart(11, '0'));
    edit(b);
  }, { magic });
  return Buffer.concat([block, padded(data)]);
}

function base256(len: number, v: bigint): Buffer {
  const out = Buffer.alloc(len);
  let x = v < 0n ? (1n << BigInt(8 * len)) + v : v;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (v >= 0n) out[0] |= 0x80;
  return out;
}

interface SuccessCase {
  name: string;
  input: () => Buffer | Promise<Buffer>;
  expect: Array<Partial<Omit<TarHeader, 'xattrs' | 'paxExtra'>> & { data?: string; xattrs?: Array<[string, string]>; paxExtra?: Array<[string, string]> | null }>;
  warnings?: string[];
  limits?: Partial<TarLimits>;
}

const LONG = 'd'.repeat(120) + '/' + 'n'.repeat(90); // 211 bytes: fits prefix + name
const LONGER = 'x/'.repeat(100) + 'y'.repeat(150); // 350 bytes: needs a long-name record

const success: SuccessCase[] = [
  {
    name: 'ustar prefix is joined to the name with a slash',
    input: () => tarOf([{ header: header({ path: LONG }) }]),
    expect: [{ path: LONG }],
  },
  {
    name: 'GNU L and K records give long path and link target',
    input: () =>
      Buffer.concat([
        rawMeta('L', Buffer.from(LONGER + '\0', 'latin1')),
        rawMeta('K', Buffer.from('t'.repeat(300) + '\0', 'latin1')),
        rawBlock((b) => {
          setField(b, 0, 100, LONGER.slice(0, 100));
          b[156] = 0x32;
        }, { magic: 'gnu' }),
        END,
      ]),
    expect: [{ path: LONGER, linkname: 't'.repeat(300), type: 'symlink' }],
  },
  {
    name: 'GNU base-256 uid, gid, size and mtime',
    input: () =>
      Buffer.concat([
        rawFile((b) => {
          base256(8, 3_000_000n).copy(b, 108);
          base256(8, 4_000_000n).copy(b, 116);
          base256(12, 5n).copy(b, 124);
          base256(12, 1_700_000_000n).copy(b, 136);
        }, Buffer.from('hello'), 'gnu'),
        END,
      ]),
    expect: [{ uid: 3_000_000, gid: 4_000_000, size: 5, mtime: { sec: 1_700_000_000, nsec: 0 }, data: 'hello' }],
  },
  {
    name: 'GNU negative base-256 mtime is a time before 1970',
    input: () => Buffer.concat([rawFile((b) => base256(12, -86_400n).copy(b, 136), undefined, 'gnu'), END]),
    expect: [{ mtime: { sec: -86_400, nsec: 0 } }],
  },
  {
    name: 'old GNU header: the prefix area (atime/ctime) is not part of the name',
    input: () =>
      Buffer.concat([rawFile((b) => setField(b, 345, 24, '14524770400\x0014524770400'), undefined, 'gnu'), END]),
    expect: [{ path: 'f' }],
  },
  {
    name: 'v7 header without magic: no uname/gname/devices',
    input: () => Buffer.concat([rawFile((b) => setField(b, 265, 32, 'ignored'), Buffer.from('v7'), 'v7'), END]),
    expect: [{ path: 'f', uname: '', data: 'v7' }],
  },
  {
    name: 'pax records override the ustar fields',
    input: () =>
      Buffer.concat([
        paxHeader([
          ['path', LONGER],
          ['linkpath', 'L'.repeat(200)],
          ['uid', '3000000'],
          ['gid', '4294967295'],
          ['uname', Buffer.from('jürgen', 'utf8')],
          ['gname', Buffer.from('staff', 'utf8')],
          ['mtime', '1795331332.19949142'],
          ['size', '3'],
        ]),
        rawFile(() => {}, Buffer.from('abc')),
        END,
      ]),
    expect: [
      {
        path: LONGER,
        linkname: 'L'.repeat(200),
        uid: 3_000_000,
        gid: 4_294_967_295,
        uname: 'jürgen',
        gname: 'staff',
        mtime: { sec: 1_795_331_332, nsec: 199_491_420 },
        size: 3,
        data: 'abc',
      },
    ],
  },
  {
    name: 'pax negative fractional mtime',
    input: () => Buffer.concat([paxHeader([['mtime', '-1.5']]), rawFile(() => {}), END]),
    expect: [{ mtime: { sec: -2, nsec: 500_000_000 } }],
  },
  {
    name: 'pax atime/ctime are dropped; unknown records are kept verbatim as bytes',
    input: () =>
      Buffer.concat([
        paxHeader([
          ['atime', '1.5'],
          ['ctime', '2.5'],
          ['SCHILY.acl.access', Buffer.from('user::rw-\n', 'latin1')],
          ['comment', bin('00ff0a')],
        ]),
        rawFile(() => {}),
        END,
      ]),
    expect: [{ paxExtra: [['SCHILY.acl.access', Buffer.from('user::rw-\n').toString('hex')], ['comment', '00ff0a']] }],
  },
  {
    name: 'SCHILY.xattr values are raw bytes (NUL, newline, 0xff) and names are %-decoded',
    input: () =>
      Buffer.concat([
        paxHeader([
          ['SCHILY.xattr.security.capability', bin('0100000200200000000000000000000000000000')],
          ['SCHILY.xattr.user.bin', bin('00fffe80')],
          ['SCHILY.xattr.user.nl', bin('0a0a000a')],
          ['SCHILY.xattr.user.a%3Db%25c', 'v'],
          ['SCHILY.xattr.user.lit%41', 'w'],
          ['SCHILY.xattr.user.empty', ''],
        ]),
        rawFile(() => {}),
        END,
      ]),
    expect: [
      {
        xattrs: [
          ['security.capability', '0100000200200000000000000000000000000000'],
          ['user.a=b%c', '76'],
          ['user.bin', '00fffe80'],
          ['user.empty', ''],
          ['user.lit%41', '77'],
          ['user.nl', '0a0a000a'],
        ],
        paxExtra: null,
      },
    ],
  },
  {
    name: 'LIBARCHIVE.xattr is base64 (unpadded) with a %-encoded name and agrees with SCHILY',
    input: () =>
      Buffer.concat([
        paxHeader([
          ['LIBARCHIVE.xattr.user.bin', Buffer.from('AP/+gA')],
          ['SCHILY.xattr.user.bin', bin('00fffe80')],
          ['LIBARCHIVE.xattr.user.sp%20ace', Buffer.from('eA==')],
        ]),
        rawFile(() => {}),
        END,
      ]),
    expect: [{ xattrs: [['user.bin', '00fffe80'], ['user.sp ace', '78']] }],
  },
  {
    name: 'global pax records apply to every later entry; per-entry records win',
    input: () =>
      Buffer.concat([
        paxHeader([['uid', '5000000'], ['SCHILY.xattr.user.g', 'G'], ['comment', 'c']], 'g'),
        rawFile((b) => setField(b, 0, 100, 'a')),
        paxHeader([['uid', '6000000']]),
        rawFile((b) => setField(b, 0, 100, 'b')),
        paxHeader([['comment', '']], 'g'),
        rawFile((b) => setField(b, 0, 100, 'c')),
        END,
      ]),
    expect: [
      { path: 'a', uid: 5_000_000, xattrs: [['user.g', '47']], paxExtra: [['comment', '63']] },
      { path: 'b', uid: 6_000_000, xattrs: [['user.g', '47']], paxExtra: [['comment', '63']] },
      { path: 'c', uid: 5_000_000, xattrs: [['user.g', '47']], paxExtra: null },
    ],
  },
  {
    name: 'an empty per-entry pax path falls back to the header name',
    input: () =>
      Buffer.concat([paxHeader([['path', 'global']], 'g'), paxHeader([['path', '']]), rawFile((b) => setField(b, 0, 100, 'own')), END]),
    expect: [{ path: 'own' }],
  },
  {
    name: 'pax data padded with NUL bytes',
    input: () => Buffer.concat([rawMeta('x', Buffer.concat([Buffer.from('10 uid=42\n'), Buffer.alloc(6)])), rawFile(() => {}), END]),
    expect: [{ uid: 42 }],
  },
  {
    name: "typeflags '0', NUL and '7' are files; NUL with a trailing slash is a directory",
    input: () =>
      Buffer.concat([
        rawFile((b) => setField(b, 0, 100, 'zero')),
        rawFile((b) => {
          setField(b, 0, 100, 'nul');
          b[156] = 0;
        }),
        rawFile((b) => {
          setField(b, 0, 100, 'seven');
          b[156] = 0x37;
        }),
        rawFile((b) => {
          setField(b, 0, 100, 'olddir/');
          b[156] = 0;
        }),
        END,
      ]),
    expect: [
      { path: 'zero', type: 'file' },
      { path: 'nul', type: 'file' },
      { path: 'seven', type: 'file' },
      { path: 'olddir/', type: 'dir' },
    ],
  },
  {
    name: 'all entry types with devices and link targets',
    input: () =>
      tarOf([
        { header: header({ path: 'd/', type: 'dir', mode: 0o755 }) },
        { header: header({ path: 'h', type: 'hardlink', linkname: 'f' }) },
        { header: header({ path: 's', type: 'symlink', linkname: '../x', mode: 0o777 }) },
        { header: header({ path: 'c', type: 'char', devmajor: 1, devminor: 3 }) },
        { header: header({ path: 'b', type: 'block', devmajor: 8, devminor: 0 }) },
        { header: header({ path: 'p', type: 'fifo' }) },
      ]),
    expect: [
      { path: 'd/', type: 'dir', mode: 0o755 },
      { path: 'h', type: 'hardlink', linkname: 'f' },
      { path: 's', type: 'symlink', linkname: '../x', mode: 0o777 },
      { path: 'c', type: 'char', devmajor: 1, devminor: 3 },
      { path: 'b', type: 'block', devmajor: 8, devminor: 0 },
      { path: 'p', type: 'fifo' },
    ],
  },
  {
    name: 'mode keeps setuid/setgid/sticky and drops file-type bits',
    input: () => Buffer.concat([rawFile((b) => setField(b, 100, 8, '0107755\0')), END]),
    expect: [{ mode: 0o7755 }],
  },
  {
    name: 'octal fields with leading spaces and a space terminator',
    input: () =>
      Buffer.concat([
        rawFile((b) => {
          setField(b, 108, 8, '  1750 \0');
          setField(b, 116, 8, '    144 ');
        }),
        END,
      ]),
    expect: [{ uid: 1000, gid: 100 }],
  },
  {
    name: 'a signed-char checksum is accepted',
    input: () => {
      const block = rawBlock((b) => setField(b, 0, 100, Buffer.from('caf\xe9', 'latin1')));
      let signed = 0;
      block.fill(0x20, 148, 156);
      for (const c of block) signed += c > 127 ? c - 256 : c;
      setField(block, 148, 8, signed.toString(8).padStart(6, '0') + '\0 ');
      return Buffer.concat([block, END]);
    },
    expect: [{ path: 'caf\xe9' }],
  },
  {
    name: 'non-UTF-8 name bytes come back unchanged as a byte string',
    input: () => tarOf([{ header: header({ path: 'bad\xff\xfename' }) }]),
    expect: [{ path: 'bad\xff\xfename' }],
  },
  {
    name: 'a size on a header-only type is ignored with a warning and no data is consumed',
    input: () =>
      Buffer.concat([
        rawBlock((b) => {
          setField(b, 0, 100, 'dir/');
          setField(b, 124, 12, '00000001000');
          b[156] = 0x35;
        }),
        rawFile((b) => setField(b, 0, 100, 'next'), Buffer.from('n')),
        END,
      ]),
    expect: [{ path: 'dir/', type: 'dir', size: 0 }, { path: 'next', data: 'n' }],
    warnings: ['W_TAR_IGNORED_SIZE'],
  },
  {
    name: 'EOF after one zero block is accepted with a warning',
    input: () => Buffer.concat([rawFile(() => {}, Buffer.from('x')), Buffer.alloc(512)]),
    expect: [{ data: 'x' }],
    warnings: ['W_TAR_NO_EOF_MARKER'],
  },
  {
    name: 'EOF right after a complete entry is accepted with a warning',
    input: () => rawFile(() => {}, Buffer.from('x')),
    expect: [{ data: 'x' }],
    warnings: ['W_TAR_NO_EOF_MARKER'],
  },
  {
    name: 'anything after the end marker is ignored',
    input: () => Buffer.concat([rawFile(() => {}, Buffer.from('x')), END, Buffer.from('garbage that is not a header')]),
    expect: [{ data: 'x' }],
  },
  {
    name: 'GNU tar record padding (10240 bytes) after the marker',
    input: async () => {
      const t = await tarOf([{ header: header({ size: 1 }), body: Buffer.from('z') }]);
      return Buffer.concat([t, Buffer.alloc(10240 - t.length)]);
    },
    expect: [{ data: 'z' }],
  },
  {
    name: 'global pax records do not count against the next entry',
    input: () =>
      Buffer.concat([paxHeader([['a', 'x'.repeat(150)]], 'g'), paxHeader([['b', 'y'.repeat(150)]]), rawFile(() => {}), END]),
    limits: { maxMetaSize: 256 },
    expect: [{ paxExtra: [['a', Buffer.from('x'.repeat(150)).toString('hex')], ['b', Buffer.from('y'.repeat(150)).toString('hex')]] }],
  },
  {
    name: 'an empty archive (end marker only)',
    input: () => END,
    expect: [],
  },
];

function check(got: { header: TarHeader; data: Buffer }, want: SuccessCase['expect'][number], label: string): void {
  const { data, xattrs, paxExtra, ...fields } = want;
  for (const [k, v] of Object.entries(fields)) {
    assert.deepEqual(got.header[k as keyof TarHeader], v, `${label}: ${k}`);
  }
  if (data !== undefined) assert.equal(got.data.toString('latin1'), data, `${label}: data`);
  if (xattrs !== undefined) assert.deepEqual(xattrList(got.header.xattrs), xattrs.slice().sort(), `${label}: xattrs`);
  if (paxExtra === null) assert.equal(got.header.paxExtra, undefined, `${label}: paxExtra`);
  else if (paxExtra !== undefined) assert.deepEqual(xattrList(got.header.paxExtra), paxExtra.slice().sort(), `${label}: paxExtra`);
}

describe('decodeTar: accepted input', () => {
  for (const c of success) {
    test(c.name, async () => {
      const input = await c.input();
      // Same result whatever the chunking: reads that span chunks must not change anything.
      for (const chunk of [undefined, 1, 7, 512, 513]) {
        const label = `chunk ${chunk ?? 'whole'}`;
        const { entries, warnings } = await decodeAll(input, { chunk, limits: c.limits });
        assert.equal(entries.length, c.expect.length, `${label}: entry count`);
        entries.forEach((e, i) => check(e, c.expect[i], `${label} entry ${i}`));
        assert.deepEqual(warnings.map((w) => w.code), c.warnings ?? [], `${label}: warnings`);
      }
    });
  }
});

interface FailureCase {
  name: string;
  input: () => Buffer | Promise<Buffer>;
  code: string;
  limits?: Partial<TarLimits>;
  /** Substrings the message must contain (entry number, offset, field). */
  message?: string[];
}

const failures: FailureCase[] = [
  {
    name: 'bad checksum names the entry and the header offset',
    input: async () => {
      const t = await tarOf([
        { header: header({ path: 'a', size: 600 }), body: Buffer.alloc(600, 1) },
        { header: header({ path: 'b' }) },
      ]);
      t[512 + 1024 + 10] ^= 1; // second header starts at 512 + 1024
      return t;
    },
    code: 'E_TAR_CHECKSUM',
    message: ['entry #2', 'byte 1536'],
  },
  {
    name: 'not a tar archive at all',
    input: () => Buffer.from('\x1f\x8b'.padEnd(600, 'x'), 'latin1'),
    code: 'E_TAR_CHECKSUM',
    message: ['entry #1', 'byte 0'],
  },
  { name: 'empty input', input: () => Buffer.alloc(0), code: 'E_TAR_TRUNCATED' },
  { name: 'truncated header', input: () => rawBlock().subarray(0, 300), code: 'E_TAR_TRUNCATED' },
  {
    name: 'truncated body',
    input: () => rawFile(() => {}, Buffer.alloc(1000, 7)).subarray(0, 512 + 700),
    code: 'E_TAR_TRUNCATED',
    message: ['entry #1', 'byte 0', '700 of 1000'],
  },
  {
    name: 'truncated padding',
    input: () => rawFile(() => {}, Buffer.alloc(1000, 7)).subarray(0, 512 + 1010),
    code: 'E_TAR_TRUNCATED',
  },
  {
    name: 'truncated pax data',
    input: () => paxHeader([['path', 'p'.repeat(600)]]).subarray(0, 512 + 100),
    code: 'E_TAR_TRUNCATED',
  },
  { name: 'pax header then EOF', input: () => paxHeader([['uid', '1']]), code: 'E_TAR_TRUNCATED' },
  { name: 'pax header then end marker', input: () => Buffer.concat([paxHeader([['uid', '1']]), END]), code: 'E_TAR_HEADER' },
  {
    name: 'oversized pax header (Go CVE-2022-2879 class): refused before reading it',
    input: () =>
      rawBlock((b) => {
        setField(b, 124, 12, (2 << 20).toString(8).padStart(11, '0'));
        b[156] = 0x78;
      }),
    code: 'E_TAR_LIMIT_META',
  },
  {
    name: 'pax header over a lowered limit',
    input: () => Buffer.concat([paxHeader([['comment', 'c'.repeat(200)]]), rawFile(() => {}), END]),
    limits: { maxMetaSize: 100 },
    code: 'E_TAR_LIMIT_META',
  },
  {
    name: 'GNU long name over the limit',
    input: () => Buffer.concat([rawMeta('L', Buffer.alloc(300, 0x61)), rawFile(() => {}), END]),
    limits: { maxMetaSize: 256 },
    code: 'E_TAR_LIMIT_META',
  },
  {
    name: 'x and L headers for one entry add up against the limit',
    input: () =>
      Buffer.concat([paxHeader([['comment', 'c'.repeat(150)]]), rawMeta('L', Buffer.alloc(150, 0x61)), rawFile(() => {}), END]),
    limits: { maxMetaSize: 256 },
    code: 'E_TAR_LIMIT_META',
  },
  {
    name: 'global pax records accumulating over the limit',
    input: () =>
      Buffer.concat([
        paxHeader([['a', 'x'.repeat(150)]], 'g'),
        paxHeader([['b', 'x'.repeat(150)]], 'g'),
        rawFile(() => {}),
        END,
      ]),
    limits: { maxMetaSize: 256 },
    code: 'E_TAR_LIMIT_META',
  },
  {
    name: 'xattr value over 64 KiB',
    input: () => Buffer.concat([paxHeader([['SCHILY.xattr.user.big', Buffer.alloc(65537, 1)]]), rawFile(() => {}), END]),
    code: 'E_TAR_LIMIT_XATTR',
  },
  {
    name: 'LIBARCHIVE xattr value over the limit',
    input: () =>
      Buffer.concat([paxHeader([['LIBARCHIVE.xattr.user.big', Buffer.alloc(200, 1).toString('base64')]]), rawFile(() => {}), END]),
    limits: { maxXattrSize: 100 },
    code: 'E_TAR_LIMIT_XATTR',
  },
  {
    name: 'too many entries',
    input: () => tarOf([{ header: header({ path: 'a' }) }, { header: header({ path: 'b' }) }, { header: header({ path: 'c' }) }]),
    limits: { maxEntries: 2 },
    code: 'E_TAR_LIMIT_ENTRIES',
  },
  {
    name: 'garbage in the uid field names the field',
    input: () => Buffer.concat([rawFile((b) => setField(b, 108, 8, '12x4567\0')), END]),
    code: 'E_TAR_HEADER',
    message: ['uid'],
  },
  {
    name: 'garbage in the size field',
    input: () => Buffer.concat([rawFile((b) => setField(b, 124, 12, 'zzzzzzzzzzz\0')), END]),
    code: 'E_TAR_HEADER',
    message: ['size'],
  },
  {
    name: 'negative base-256 size',
    input: () => Buffer.concat([rawFile((b) => base256(12, -1n).copy(b, 124), undefined, 'gnu'), END]),
    code: 'E_TAR_HEADER',
    message: ['size', 'negative'],
  },
  {
    name: 'negative pax uid',
    input: () => Buffer.concat([paxHeader([['uid', '-1']]), rawFile(() => {}), END]),
    code: 'E_TAR_HEADER',
    message: ['pax uid'],
  },
  {
    name: 'non-numeric pax size',
    input: () => Buffer.concat([paxHeader([['size', '12abc']]), rawFile(() => {}), END]),
    code: 'E_TAR_HEADER',
    message: ['pax size'],
  },
  {
    name: 'malformed pax mtime',
    input: () => Buffer.concat([paxHeader([['mtime', '1.2.3']]), rawFile(() => {}), END]),
    code: 'E_TAR_HEADER',
    message: ['pax mtime'],
  },
  {
    name: 'pax record length pointing past the data',
    input: () => Buffer.concat([rawMeta('x', Buffer.from('99 uid=1\n')), rawFile(() => {}), END]),
    code: 'E_TAR_HEADER',
    message: ['pax record'],
  },
  {
    name: 'pax record without a newline at its end',
    input: () => Buffer.concat([rawMeta('x', Buffer.from('10 uid=12x')), rawFile(() => {}), END]),
    code: 'E_TAR_HEADER',
  },
  {
    name: 'pax record without a key',
    input: () => Buffer.concat([rawMeta('x', Buffer.from('6 =ab\n')), rawFile(() => {}), END]),
    code: 'E_TAR_HEADER',
  },
  {
    name: 'invalid base64 in a LIBARCHIVE xattr',
    input: () => Buffer.concat([paxHeader([['LIBARCHIVE.xattr.user.x', '!!!']]), rawFile(() => {}), END]),
    code: 'E_TAR_HEADER',
  },
  {
    name: 'SCHILY and LIBARCHIVE values for one xattr disagree',
    input: () =>
      Buffer.concat([
        paxHeader([['SCHILY.xattr.user.x', 'a'], ['LIBARCHIVE.xattr.user.x', Buffer.from('b').toString('base64')]]),
        rawFile(() => {}),
        END,
      ]),
    code: 'E_TAR_XATTR_CONFLICT',
  },
  {
    name: 'xattr name with a NUL byte',
    input: () => Buffer.concat([paxHeader([['SCHILY.xattr.user.a\0b', 'v']]), rawFile(() => {}), END]),
    code: 'E_TAR_HEADER',
  },
  {
    name: "GNU sparse entry (typeflag 'S')",
    input: () => Buffer.concat([rawFile((b) => (b[156] = 0x53), undefined, 'gnu'), END]),
    code: 'E_TAR_UNSUPPORTED',
  },
  {
    name: 'pax GNU sparse records',
    input: () => Buffer.concat([paxHeader([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0']]), rawFile(() => {}), END]),
    code: 'E_TAR_UNSUPPORTED',
  },
  {
    name: "unknown typeflag ('V' volume label)",
    input: () => Buffer.concat([rawFile((b) => (b[156] = 0x56)), END]),
    code: 'E_TAR_UNSUPPORTED',
  },
  {
    name: "GNU dumpdir ('D')",
    input: () => Buffer.concat([rawFile((b) => (b[156] = 0x44), undefined, 'gnu'), END]),
    code: 'E_TAR_UNSUPPORTED',
  },
  {
    name: 'a single zero block followed by another header',
    input: () => Buffer.concat([rawFile(() => {}), Buffer.alloc(512), rawFile(() => {}), END]),
    code: 'E_TAR_HEADER',
  },
  {
    name: 'an unknown limit name',
    input: () => END,
    limits: { maxEntires: 5 } as unknown as Partial<TarLimits>,
    code: 'E_OPTION_UNKNOWN',
  },
  {
    name: 'a negative limit',
    input: () => END,
    limits: { maxEntries: -1 },
    code: 'E_OPTION_INVALID',
  },
];

describe('decodeTar: refused input', () => {
  for (const c of failures) {
    test(c.name, async () => {
      const input = await c.input();
      for (const chunk of [undefined, 100]) {
        let err: unknown;
        try {
          await decodeAll(input, { chunk, limits: c.limits });
        } catch (e) {
          err = e;
        }
        assert.ok(err instanceof Error, `chunk ${chunk ?? 'whole'}: expected an error`);
        assert.equal((err as { code?: string }).code, c.code, `chunk ${chunk ?? 'whole'}: ${(err as Error).message}`);
        for (const s of c.message ?? []) assert.match((err as Error).message, new RegExp(s), (err as Error).message);
      }
    });
  }
});

describe('decodeTar: entry bodies', () => {
  const twoFiles = () =>
    tarOf([
      { header: header({ path: 'a', size: 2000 }), body: Buffer.alloc(2000, 0x61) },
      { header: header({ path: 'b', size: 3 }), body: Buffer.from('bbb') },
    ]);

  test('unread bodies are skipped when the next entry is requested', async () => {
    const paths: string[] = [];
    for await (const e of decodeTar([await twoFiles()])) paths.push(e.header.path);
    assert.deepEqual(paths, ['a', 'b']);
  });

  test('a partly read body: the rest is skipped', async () => {
    const got: string[] = [];
    for await (const e of decodeTar(chunkedArray(await twoFiles(), 700))) {
      for await (const c of e.body) {
        got.push(`${e.header.path}:${c.length}`);
        break;
      }
    }
    assert.deepEqual(got, ['a:188', 'b:3']);
  });

  test('body slices never run past the entry', async () => {
    let total = 0;
    for await (const e of decodeTar([await twoFiles()])) {
      if (e.header.path !== 'a') continue;
      for await (const c of e.body) {
        assert.ok(c.every((x) => x === 0x61));
        total += c.length;
      }
    }
    assert.equal(total, 2000);
  });

  test('reading a body after moving to the next entry is an error, not silent data loss', async () => {
    const dec = decodeTar([await twoFiles()]);
    const first = await dec.next();
    assert.equal(first.done, false);
    await dec.next();
    const code = await codeOf((async () => {
      for await (const c of (first.value as { body: AsyncIterable<Buffer> }).body) void c;
    })());
    assert.equal(code, 'E_TAR_BODY_STALE');
    await dec.return(undefined);
  });

  test('a body can be iterated only once', async () => {
    const dec = decodeTar([await twoFiles()]);
    const first = (await dec.next()).value as { body: AsyncIterable<Buffer> };
    for await (const c of first.body) void c;
    const code = await codeOf((async () => {
      for await (const c of first.body) void c;
    })());
    assert.equal(code, 'E_TAR_BODY_STALE');
    await dec.return(undefined);
  });

  test('bodies of empty entries can be iterated after the decoder moved on', async () => {
    const entries = [];
    for await (const e of decodeTar([await tarOf([{ header: header({ path: 'd/', type: 'dir' }) }, { header: header() }])])) {
      entries.push(e);
    }
    for (const e of entries) for await (const c of e.body) assert.fail(`unexpected data ${c.length}`);
  });

  test('stopping early closes the source; finishing reads it to the end', async () => {
    const tar = Buffer.concat([await twoFiles(), Buffer.alloc(4096)]);
    const track = { closed: false, ended: false };
    async function* source() {
      try {
        for (let o = 0; o < tar.length; o += 512) yield tar.subarray(o, o + 512);
        track.ended = true;
      } finally {
        track.closed = true;
      }
    }
    for await (const e of decodeTar(source())) {
      void e;
      break;
    }
    assert.deepEqual(track, { closed: true, ended: false });

    track.closed = false;
    for await (const e of decodeTar(source())) void e;
    assert.deepEqual(track, { closed: true, ended: true });
  });

  test('errors from the source pass through unchanged', async () => {
    const boom = new Error('disk on fire');
    async function* source() {
      yield (await twoFiles()).subarray(0, 600);
      throw boom;
    }
    let caught: unknown;
    try {
      for await (const e of decodeTar(source())) for await (const c of e.body) void c;
    } catch (e) {
      caught = e;
    }
    assert.equal(caught, boom);
  });

  test('warnings carry their code and offset', async () => {
    const warnings: Warning[] = [];
    for await (const e of decodeTar([rawFile(() => {}, Buffer.from('x'))], { onWarning: (w) => warnings.push(w) })) void e;
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].code, 'W_TAR_NO_EOF_MARKER');
    assert.deepEqual(warnings[0].details, { offset: 1024, zeroBlocks: 0 });
  });
});

describe('decodeTar: header blocks alone', () => {
  test('an entry larger than 8 GiB is described by a pax size record', async () => {
    const size = 10 * 2 ** 30 + 5;
    const h = header({ path: 'huge', size });
    const dec = decodeTar([encodeHeader(h)]);
    const first = await dec.next();
    assert.equal(first.done, false);
    assert.equal((first.value as { header: TarHeader }).header.size, size);
    await dec.return(undefined);
  });

  test('the checksum of an edited block is what the decoder verifies', async () => {
    const b = rawBlock();
    b[0] = 0x67; // 'g' in the name: checksum now stale
    assert.equal(await codeOf(decodeAll(Buffer.concat([b, END]))), 'E_TAR_CHECKSUM');
    fixChecksum(b);
    const { entries } = await decodeAll(Buffer.concat([b, END]));
    assert.equal(entries[0].header.path, 'g');
  });
});

function* chunkedArray(buf: Buffer, size: number): Generator<Buffer> {
  for (let o = 0; o < buf.length; o += size) yield buf.subarray(o, o + size);
}
