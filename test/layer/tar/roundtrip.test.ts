import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTar } from '../../../src/layer/tar/decode.js';
import { encodeHeader, encodeTar } from '../../../src/layer/tar/encode.js';
import type { EntryType, TarHeader } from '../../../src/layer/tar/types.js';
import { bytesOf, chunked } from './fixtures.js';

/** Byte strings biased towards '/', '=' and '%' so splits and escapes are exercised. */
const byteString = (min: number, max: number) =>
  fc
    .array(
      fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 1, max: 255 }) },
        { weight: 2, arbitrary: fc.constant(0x2f) },
        { weight: 1, arbitrary: fc.constantFrom(0x3d, 0x25, 0x0a) },
      ),
      { minLength: min, maxLength: max },
    )
    .map((a) => Buffer.from(a).toString('latin1'));

const pathArb = fc.oneof(byteString(1, 100), byteString(101, 255), byteString(256, 400));

const idArb = fc.oneof(
  fc.integer({ min: 0, max: 2097151 }),
  fc.integer({ min: 2097152, max: 2 ** 32 - 1 }),
  fc.constantFrom(0, 2097151, 2097152, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER),
);

const timeArb = fc.record({
  sec: fc.oneof(fc.integer({ min: 0, max: 8 ** 11 - 1 }), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })),
  nsec: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999_999_999 })),
});

const nameArb = fc.oneof(fc.constantFrom('', 'root', 'nobody'), fc.string({ unit: 'grapheme', maxLength: 40 }));

const xattrName = byteString(1, 60).map((s) => s.replace(/\0/g, 'x'));
const binaryValue = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.constantFrom(Buffer.from('00fffe80', 'hex'), Buffer.from('0100000200200000000000000000000000000000', 'hex'), Buffer.alloc(0)),
);

const reserved = /^(path|linkpath|size|uid|gid|uname|gname|mtime|atime|ctime)$|^(SCHILY\.xattr\.|LIBARCHIVE\.xattr\.|GNU\.sparse\.)/;
const extraKey = fc
  .oneof(fc.constantFrom('SCHILY.acl.access', 'comment', 'SCHILY.fflags'), byteString(1, 30))
  .map((k) => k.replace(/[=\0\n]/g, '_'))
  .filter((k) => !reserved.test(k));

const types: EntryType[] = ['file', 'hardlink', 'symlink', 'char', 'block', 'dir', 'fifo'];

const entryArb = fc
  .record({
    path: pathArb,
    type: fc.constantFrom(...types),
    mode: fc.integer({ min: 0, max: 0o7777 }),
    uid: idArb,
    gid: idArb,
    uname: nameArb,
    gname: nameArb,
    mtime: timeArb,
    linkname: fc.oneof(fc.constant(''), pathArb),
    devmajor: fc.integer({ min: 0, max: 2097151 }),
    devminor: fc.integer({ min: 0, max: 2097151 }),
    xattrs: fc.uniqueArray(fc.tuple(xattrName, binaryValue), { selector: ([k]) => k, maxLength: 5 }),
    paxExtra: fc.uniqueArray(fc.tuple(extraKey, binaryValue), { selector: ([k]) => k, maxLength: 3 }),
    body: fc.uint8Array({ maxLength: 1500 }),
  })
  .map((r) => {
    const isFile = r.type === 'file';
    // The encoder writes typeflag '0' for files, so the pre-POSIX trailing-slash rule never applies.
    const header: TarHeader = {
      path: r.path,
      type: r.type,
      mode: r.mode,
      uid: r.uid,
      gid: r.gid,
      uname: r.uname,
      gname: r.gname,
      size: isFile ? r.body.length : 0,
      mtime: { sec: r.mtime.sec, nsec: r.mtime.nsec },
      linkname: r.linkname,
      devmajor: r.devmajor,
      devminor: r.devminor,
      xattrs: new Map(r.xattrs),
    };
    if (r.paxExtra.length > 0) header.paxExtra = new Map(r.paxExtra);
    return { header, body: isFile ? Buffer.from(r.body) : undefined };
  });

/** A header as plain data: maps become sorted [key, hex] lists (the encoder sorts xattrs). */
function plain(h: TarHeader): Record<string, unknown> {
  const { xattrs, paxExtra, ...rest } = h;
  const list = (m?: Map<string, Buffer>) => [...(m ?? [])].map(([k, v]) => [k, Buffer.from(v).toString('hex')]).sort();
  return { ...rest, xattrs: list(xattrs), paxExtra: list(paxExtra) };
}

describe('round trip', () => {
  test('decodeTar(encodeTar(x)) equals x for arbitrary entries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entryArb, { maxLength: 6 }), fc.integer({ min: 1, max: 2000 }), async (entries, chunk) => {
        const tar = await bytesOf(encodeTar(entries));
        const got: Array<{ header: TarHeader; body: Buffer }> = [];
        for await (const e of decodeTar(chunked(tar, chunk))) {
          const parts: Buffer[] = [];
          for await (const c of e.body) parts.push(Buffer.from(c));
          got.push({ header: e.header, body: Buffer.concat(parts) });
        }
        assert.equal(got.length, entries.length);
        got.forEach((g, i) => {
          assert.deepEqual(plain(g.header), plain(entries[i].header));
          assert.equal(g.header.paxExtra === undefined, entries[i].header.paxExtra === undefined);
          assert.deepEqual(g.body, entries[i].body ?? Buffer.alloc(0));
        });
      }),
      { numRuns: 300 },
    );
  });

  test('encoding is a function of the header: decode then encode gives the same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(entryArb, async (entry) => {
        const first = encodeHeader(entry.header);
        const dec = decodeTar([first]);
        const r = await dec.next();
        assert.equal(r.done, false);
        const again = encodeHeader((r.value as { header: TarHeader }).header);
        await dec.return(undefined);
        assert.deepEqual(again, first);
      }),
      { numRuns: 200 },
    );
  });

  test('headers of entries over 8 GiB round-trip without a body', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 8 * 2 ** 30, max: Number.MAX_SAFE_INTEGER }),
        entryArb,
        async (size, entry) => {
          const h: TarHeader = { ...entry.header, type: 'file', size };
          const dec = decodeTar([encodeHeader(h)]);
          const r = await dec.next();
          assert.equal(r.done, false);
          assert.deepEqual(plain((r.value as { header: TarHeader }).header), plain(h));
          await dec.return(undefined);
        },
      ),
      { numRuns: 100 },
    );
  });
});
