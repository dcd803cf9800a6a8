/**
 * Tar encoder: POSIX ustar headers, preceded by a pax `x` header whenever a value does not fit
 * the ustar fields exactly.
 *
 * Invariants:
 * - Deterministic: the same header gives the same bytes. The pax header is named
 *   `<dir>/PaxHeaders/<base>` (GNU tar's `exthdr.name=%d/PaxHeaders/%f`, without the pid), its
 *   mode is 0644, owner 0:0 and mtime the entry's whole seconds; records come in a fixed order
 *   (path, linkpath, size, uid, gid, uname, gname, mtime, SCHILY.xattr.* by name, paxExtra by
 *   key); atime/ctime are never written.
 * - Lossless for everything the decoder returns: decodeTar(encodeTar(x)) gives back x.
 * - Fields moved to pax records are zeroed in the ustar block (or, for names, truncated), as Go's
 *   archive/tar does, so readers that ignore pax see an obviously incomplete entry rather than a
 *   wrong one.
 */

import { BerthError } from '../../errors/index.js';
import { BLOCK_SIZE, F, octalMax, writeChecksum, writeOctalField } from './header.js';
import { GNU_SPARSE, LIBARCHIVE_XATTR, SCHILY_XATTR, encodeSchilyName, formatPaxRecord, formatPaxTime } from './pax.js';
import type { EntryType, TarHeader } from './types.js';

const TYPEFLAG: Record<EntryType, number> = {
  file: 0x30,
  hardlink: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  dir: 0x35,
  fifo: 0x36,
};

/** pax keywords the codec interprets: paxExtra may not carry them. */
const RESERVED_KEYS = new Set(['path', 'linkpath', 'size', 'uid', 'gid', 'uname', 'gname', 'mtime', 'atime', 'ctime']);
const RESERVED_PREFIXES = [SCHILY_XATTR, LIBARCHIVE_XATTR, GNU_SPARSE];

const MAX_ID = octalMax(F.uid[1]); // 0o7777777 = 2097151
const MAX_SIZE = octalMax(F.size[1]); // 0o77777777777 = 8 GiB - 1
const MAX_TIME = octalMax(F.mtime[1]);
const MAX_DEV = octalMax(F.devmajor[1]);

/** One entry to encode. `body` must yield exactly `header.size` bytes. */
export interface TarEncodeEntry {
  header: TarHeader;
  body?: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array;
}

function isByteString(s: string): boolean {
  // Code units above 0xff cannot be bytes: the caller passed text, not a byte string.
  return !/[^\x00-\xff]/.test(s);
}

/**
 * Encodes one header: the ustar block, preceded by a pax `x` header block and its records when
 * needed. Throws E_TAR_HEADER for values no tar header can carry.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const bad = (reason: string, hint?: string): BerthError =>
    new BerthError('E_TAR_HEADER', `encode tar entry ${JSON.stringify(String(h.path))}: ${reason}`, {
      hint: hint ?? 'fix the entry metadata before encoding',
      details: { path: h.path },
    });

  const typeflag = TYPEFLAG[h.type];
  if (typeflag === undefined) throw bad(`unknown entry type ${JSON.stringify(h.type)}`);
  const bytesOnly = 'paths are byte strings: convert text with Buffer.from(s, "utf8").toString("latin1")';
  if (typeof h.path !== 'string' || !isByteString(h.path)) throw bad('path is not a byte string', bytesOnly);
  if (typeof h.linkname !== 'string' || !isByteString(h.linkname)) throw bad('linkname is not a byte string', bytesOnly);
  if (h.path.includes('\0')) throw bad('path contains a NUL byte');
  if (h.linkname.includes('\0')) throw bad('linkname contains a NUL byte');
  const uint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!uint(h.mode) || h.mode > 0o7777) throw bad(`mode ${String(h.mode)} is not a permission value (0..0o7777)`);
  if (!uint(h.uid)) throw bad(`uid ${String(h.uid)} is not a non-negative integer`);
  if (!uint(h.gid)) throw bad(`gid ${String(h.gid)} is not a non-negative integer`);
  if (!uint(h.size)) throw bad(`size ${String(h.size)} is not a non-negative integer`);
  if (h.size !== 0 && h.type !== 'file') throw bad(`size must be 0 for a ${h.type} entry, got ${h.size}`);
  if (!uint(h.devmajor) || h.devmajor > MAX_DEV) throw bad(`devmajor ${String(h.devmajor)} is out of range (0..${MAX_DEV})`);
  if (!uint(h.devminor) || h.devminor > MAX_DEV) throw bad(`devminor ${String(h.devminor)} is out of range (0..${MAX_DEV})`);
  const t = h.mtime;
  if (t === null || typeof t !== 'object' || !Number.isSafeInteger(t.sec) || !Number.isInteger(t.nsec) || t.nsec < 0 || t.nsec > 999_999_999) {
    throw bad('mtime must be { sec: integer, nsec: 0..999999999 }');
  }
  if (typeof h.uname !== 'string' || typeof h.gname !== 'string') throw bad('uname and gname must be strings');

  const records: Buffer[] = [];
  const block = Buffer.alloc(BLOCK_SIZE);

  // Name: fits as is, or split at a '/' into prefix (<= 155) and a non-empty name (<= 100).
  const pathLen = h.path.length; // byte strings: one code unit per byte
  let name = h.path;
  let prefix = '';
  if (pathLen > F.name[1]) {
    const split = splitUstarPath(h.path);
    if (split === null) {
      records.push(formatPaxRecord('path', Buffer.from(h.path, 'latin1')));
      name = h.path.slice(0, F.name[1]);
    } else [prefix, name] = split;
  }
  block.write(name, F.name[0], F.name[1], 'latin1');
  block.write(prefix, F.prefix[0], F.prefix[1], 'latin1');

  if (h.linkname.length > F.linkname[1]) {
    records.push(formatPaxRecord('linkpath', Buffer.from(h.linkname, 'latin1')));
    block.write(h.linkname.slice(0, F.linkname[1]), F.linkname[0], F.linkname[1], 'latin1');
  } else {
    block.write(h.linkname, F.linkname[0], F.linkname[1], 'latin1');
  }

  writeOctalField(block, F.mode[0], F.mode[1], h.mode);
  const numeric = (key: 'size' | 'uid' | 'gid', v: number, max: number): void => {
    const [off, len] = F[key];
    if (v <= max) writeOctalField(block, off, len, v);
    else {
      records.push(formatPaxRecord(key, Buffer.from(String(v), 'latin1')));
      writeOctalField(block, off, len, 0);
    }
  };
  numeric('size', h.size, MAX_SIZE);
  numeric('uid', h.uid, MAX_ID);
  numeric('gid', h.gid, MAX_ID);

  const unameFits = fitsUstarText(h.uname, F.uname[1]);
  const gnameFits = fitsUstarText(h.gname, F.gname[1]);
  if (!unameFits) records.push(formatPaxRecord('uname', Buffer.from(h.uname, 'utf8')));
  if (!gnameFits) records.push(formatPaxRecord('gname', Buffer.from(h.gname, 'utf8')));
  block.write(unameFits ? h.uname : '', F.uname[0], F.uname[1], 'latin1');
  block.write(gnameFits ? h.gname : '', F.gname[0], F.gname[1], 'latin1');

  const secFits = t.sec >= 0 && t.sec <= MAX_TIME;
  if (!secFits || t.nsec !== 0) records.push(formatPaxRecord('mtime', Buffer.from(formatPaxTime(t), 'latin1')));
  const ustarTime = secFits ? t.sec : 0;
  writeOctalField(block, F.mtime[0], F.mtime[1], ustarTime);

  // Xattrs by name (byte order), then unknown pax records by key: deterministic output.
  if (h.xattrs !== undefined && h.xattrs.size > 0) {
    const names = [...h.xattrs.keys()].sort(compareBytes);
    for (const n of names) {
      if (typeof n !== 'string' || n === '' || n.includes('\0') || !isByteString(n)) {
        throw bad(`xattr name ${JSON.stringify(n)} must be a non-empty byte string without NUL`);
      }
      const v = h.xattrs.get(n);
      if (!(v instanceof Uint8Array)) throw bad(`xattr ${JSON.stringify(n)} value must be a Buffer`);
      records.push(formatPaxRecord(SCHILY_XATTR + encodeSchilyName(n), v));
    }
  }
  if (h.paxExtra !== undefined && h.paxExtra.size > 0) {
    const keys = [...h.paxExtra.keys()].sort(compareBytes);
    for (const k of keys) {
      if (typeof k !== 'string' || k === '' || /[=\0\n]/.test(k) || !isByteString(k)) {
        throw bad(`pax record key ${JSON.stringify(k)} must be a non-empty byte string without '=', NUL or newline`);
      }
      if (RESERVED_KEYS.has(k) || RESERVED_PREFIXES.some((p) => k.startsWith(p))) {
        throw bad(`pax record ${JSON.stringify(k)} is interpreted by the codec and cannot be in paxExtra`, 'set the header field (or xattrs) instead');
      }
      const v = h.paxExtra.get(k);
      if (!(v instanceof Uint8Array)) throw bad(`pax record ${JSON.stringify(k)} value must be a Buffer`);
      records.push(formatPaxRecord(k, v));
    }
  }

  writeOctalField(block, F.devmajor[0], F.devmajor[1], h.devmajor);
  writeOctalField(block, F.devminor[0], F.devminor[1], h.devminor);
  block[F.typeflag[0]] = typeflag;
  block.write('ustar\x0000', F.magic[0], 8, 'latin1');
  writeChecksum(block);

  if (records.length === 0) return block;

  const data = Buffer.concat(records);
  const pax = Buffer.alloc(BLOCK_SIZE);
  pax.write(paxHeaderName(h.path), F.name[0], F.name[1], 'latin1');
  writeOctalField(pax, F.mode[0], F.mode[1], 0o644);
  writeOctalField(pax, F.uid[0], F.uid[1], 0);
  writeOctalField(pax, F.gid[0], F.gid[1], 0);
  if (data.length > MAX_SIZE) throw bad(`pax records total ${data.length} bytes, more than a tar header can describe`);
  writeOctalField(pax, F.size[0], F.size[1], data.length);
  writeOctalField(pax, F.mtime[0], F.mtime[1], ustarTime);
  pax[F.typeflag[0]] = 0x78; // 'x'
  pax.write('ustar\x0000', F.magic[0], 8, 'latin1');
  writeOctalField(pax, F.devmajor[0], F.devmajor[1], 0);
  writeOctalField(pax, F.devminor[0], F.devminor[1], 0);
  writeChecksum(pax);
  const padding = (BLOCK_SIZE - (data.length % BLOCK_SIZE)) % BLOCK_SIZE;
  return Buffer.concat([pax, data, Buffer.alloc(padding), block]);
}

function compareBytes(a: string, b: string): number {
  // Byte strings: code-unit order is byte order.
  return a < b ? -1 : a > b ? 1 : 0;
}

/** ustar text fields hold printable-range ASCII without NUL; one byte is left for the NUL. */
function fitsUstarText(s: string, fieldLen: number): boolean {
  return s.length < fieldLen && /^[\x01-\x7f]*$/.test(s);
}

/**
 * Splits a byte-string path into ustar prefix and name: the cut is a '/' such that the prefix is
 * non-empty and at most 155 bytes and the name non-empty and at most 100 bytes. The last such
 * '/' is taken, which keeps the name short. Returns null when no cut works.
 */
export function splitUstarPath(path: string): [prefix: string, name: string] | null {
  const n = path.length;
  if (n > F.prefix[1] + 1 + F.name[1]) return null;
  // The '/' may sit at index <= 155 (prefix length) and must leave a non-empty name.
  const last = path.lastIndexOf('/', Math.min(F.prefix[1], n - 2));
  if (last <= 0) return null;
  if (n - last - 1 > F.name[1]) return null;
  return [path.slice(0, last), path.slice(last + 1)];
}

/** `<dir>/PaxHeaders/<base>` of the entry path, cut to the 100-byte name field. */
export function paxHeaderName(path: string): string {
  let p = path;
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  const slash = p.lastIndexOf('/');
  const dir = slash === -1 ? '.' : slash === 0 ? '' : p.slice(0, slash);
  const base = slash === -1 ? p : p.slice(slash + 1);
  return `${dir}/PaxHeaders/${base}`.slice(0, F.name[1]);
}

/**
 * Encodes entries into a tar stream: for each entry its header, its body (which must have exactly
 * `header.size` bytes, else E_TAR_SIZE_MISMATCH) and zero padding to 512 bytes; then the
 * 1024-byte end-of-archive marker. Body chunks are passed through without copying.
 */
export async function* encodeTar(
  entries: AsyncIterable<TarEncodeEntry> | Iterable<TarEncodeEntry>,
): AsyncGenerator<Buffer> {
  for await (const { header, body } of entries) {
    const mismatch = (n: number, more: boolean): BerthError =>
      new BerthError(
        'E_TAR_SIZE_MISMATCH',
        `encode tar entry ${JSON.stringify(String(header.path))}: body has ${more ? 'more than ' : ''}${n} bytes but header.size is ${header.size}`,
        {
          hint: 'set header.size to the exact length of the data (the file may have changed while it was read)',
          details: { path: header.path, size: header.size, bodyBytes: n },
        },
      );
    if (body instanceof Uint8Array && body.length !== header.size) throw mismatch(body.length, false);
    yield encodeHeader(header);
    let n = 0;
    if (body instanceof Uint8Array) {
      n = body.length;
      if (n > 0) yield toBuffer(body);
    } else if (body !== undefined) {
      for await (const chunk of body) {
        if (!(chunk instanceof Uint8Array)) {
          throw new TypeError(`tar entry body must yield Buffer or Uint8Array chunks, got ${typeof chunk}`);
        }
        n += chunk.length;
        if (n > header.size) throw mismatch(n, true);
        if (chunk.length > 0) yield toBuffer(chunk);
      }
    }
    if (n !== header.size) throw mismatch(n, false);
    const padding = (BLOCK_SIZE - (n % BLOCK_SIZE)) % BLOCK_SIZE;
    if (padding > 0) yield Buffer.alloc(padding);
  }
  yield Buffer.alloc(2 * BLOCK_SIZE);
}

function toBuffer(c: Uint8Array): Buffer {
  return Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}
