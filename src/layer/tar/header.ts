/**
 * The 512-byte tar header block: field layout, numeric fields and the checksum, shared by the
 * decoder and the encoder.
 *
 * Layout (POSIX ustar, pax(1) "ustar Interchange Format"):
 *   name 0..100, mode 100..108, uid 108..116, gid 116..124, size 124..136, mtime 136..148,
 *   chksum 148..156, typeflag 156, linkname 157..257, magic 257..263, version 263..265,
 *   uname 265..297, gname 297..329, devmajor 329..337, devminor 337..345, prefix 345..500.
 * Old GNU headers carry the magic "ustar  \0" across magic+version and reuse the prefix area
 * for atime/ctime/sparse data, so the prefix is only joined for the POSIX magic "ustar\0".
 */

import type { BytePath, TarHeader } from './types.js';

export const BLOCK_SIZE = 512;

/**
 * A header with every field at its neutral value (a 0644 regular file owned by 0:0, time 0, no
 * xattrs), overridden by `over`: what code that makes entries (build steps, whiteouts) starts from.
 */
export function newHeader(path: BytePath, over: Partial<TarHeader> = {}): TarHeader {
  return {
    path,
    type: 'file',
    mode: 0o644,
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

export const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;

export type FieldName = keyof typeof F;

export const ZERO_BLOCK: Buffer = Buffer.alloc(BLOCK_SIZE);

/** A malformed field; the decoder adds the entry number and offset before reporting it. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** Header magic, decides how the prefix area is read. */
export type HeaderFormat = 'ustar' | 'gnu' | 'v7';

export function headerFormat(b: Buffer): HeaderFormat {
  // "ustar\0" (POSIX; version "00", but some writers put spaces) or "ustar  \0" (old GNU).
  if (b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72) {
    if (b[262] === 0) return 'ustar';
    if (b[262] === 0x20 && b[263] === 0x20 && b[264] === 0) return 'gnu';
  }
  return 'v7';
}

/** Bytes of a NUL-terminated (or field-filling) string field, as a byte string. */
export function readBytesField(b: Buffer, off: number, len: number): string {
  return b.toString('latin1', off, fieldEnd(b, off, len));
}

function fieldEnd(b: Buffer, off: number, len: number): number {
  const end = off + len;
  for (let i = off; i < end; i++) if (b[i] === 0) return i;
  return end;
}

/** A NUL-terminated text field (uname/gname), as UTF-8. */
export function readTextField(b: Buffer, off: number, len: number): string {
  return b.toString('utf8', off, fieldEnd(b, off, len));
}

/**
 * A numeric field: octal ASCII (leading spaces or NULs, then digits, then NUL/space padding) or
 * the GNU base-256 form (first byte 0x80 positive, 0xff negative; big-endian two's complement).
 * A field of only spaces/NULs reads as 0 (writers leave devmajor/devminor blank).
 * Negative values are only returned when `allowNegative` (mtime before 1970).
 */
export function readNumberField(
  b: Buffer,
  off: number,
  len: number,
  field: string,
  allowNegative = false,
): number {
  const first = b[off];
  if (first & 0x80) return readBase256(b, off, len, field, allowNegative);
  const end = off + len;
  let i = off;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  for (; i < end; i++) {
    const c = b[i];
    if (c >= 0x30 && c <= 0x37) {
      v = v * 8 + (c - 0x30);
    } else break;
  }
  for (; i < end; i++) {
    const c = b[i];
    if (c !== 0 && c !== 0x20) {
      if (c === 0x2d) throw new FieldError(field, 'negative value');
      throw new FieldError(field, `not an octal number (${JSON.stringify(b.toString('latin1', off, end))})`);
    }
  }
  // 12 octal digits (the widest field) stay below 2^36, so `v` is exact.
  return v;
}

function readBase256(b: Buffer, off: number, len: number, field: string, allowNegative: boolean): number {
  // The marker bit (0x80) is not part of the number; the next bit is the sign of a two's
  // complement value over the remaining 8*len-1 bits (GNU tar, star; Go's parseNumeric).
  const negative = (b[off] & 0x40) !== 0;
  if (negative && !allowNegative) throw new FieldError(field, 'negative value');
  let v = BigInt(b[off] & 0x7f);
  for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(b[off + i]);
  if (negative) v -= 1n << BigInt(8 * len - 1);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new FieldError(field, 'value out of range');
  }
  return Number(v);
}

/** Largest value that fits a field as octal digits with a terminating NUL. */
export function octalMax(len: number): number {
  return 8 ** (len - 1) - 1;
}

/** Writes `v` (0 <= v <= octalMax(len)) as zero-padded octal followed by NUL. */
export function writeOctalField(b: Buffer, off: number, len: number, v: number): void {
  const s = v.toString(8).padStart(len - 1, '0');
  b.write(s, off, len - 1, 'latin1');
  b[off + len - 1] = 0;
}

/** Unsigned sum of the block with the checksum field read as spaces (POSIX). */
export function unsignedChecksum(b: Buffer): number {
  let u = 0;
  for (let i = 0; i < 148; i++) u += b[i];
  for (let i = 156; i < BLOCK_SIZE; i++) u += b[i];
  return u + 8 * 0x20;
}

/** Signed-char sum, as historic writers (old Sun tar) computed it. */
export function signedChecksum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i];
    s += c > 127 ? c - 256 : c;
  }
  return s;
}

/** Fills in the checksum the way GNU tar does: six octal digits, NUL, space. */
export function writeChecksum(b: Buffer): void {
  const unsigned = unsignedChecksum(b);
  b.write(unsigned.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  b[154] = 0;
  b[155] = 0x20;
}
