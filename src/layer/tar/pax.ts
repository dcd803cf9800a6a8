/**
 * POSIX pax extended-header records, byte-exact.
 *
 * A record is `"<len> <key>=<value>\n"` where `<len>` counts the whole record, itself included
 * (pax(1), "pax Extended Header"). Values are raw bytes: `SCHILY.xattr.*` values are binary and
 * may contain NUL and newline bytes, so records are cut by their length prefix only, and no value
 * is ever decoded as UTF-8 here. Keys are returned as byte strings (latin1), like paths.
 */

import { FieldError } from './header.js';

export const SCHILY_XATTR = 'SCHILY.xattr.';
export const LIBARCHIVE_XATTR = 'LIBARCHIVE.xattr.';
export const GNU_SPARSE = 'GNU.sparse.';

/**
 * Calls `each(key, value)` for every record in order. `value` is a view of `data`.
 * Trailing NUL bytes after the last record are tolerated (some writers pad the data).
 * Throws FieldError('pax record', ...) on any malformed record.
 */
export function parsePaxRecords(data: Buffer, each: (key: string, value: Buffer) => void): void {
  const n = data.length;
  let i = 0;
  while (i < n) {
    if (data[i] === 0) {
      for (let k = i; k < n; k++) {
        if (data[k] !== 0) throw new FieldError('pax record', `data after NUL padding at byte ${k}`);
      }
      return;
    }
    let j = i;
    let len = 0;
    while (j < n && data[j] >= 0x30 && data[j] <= 0x39) {
      len = len * 10 + (data[j] - 0x30);
      if (len > n) throw new FieldError('pax record', `record length at byte ${i} exceeds the header`);
      j++;
    }
    if (j === i || j >= n || data[j] !== 0x20) {
      throw new FieldError('pax record', `malformed record length at byte ${i}`);
    }
    const end = i + len;
    // The smallest record is "<len> k=\n": the key must be non-empty.
    if (end > n || end < j + 4) {
      throw new FieldError('pax record', `record length ${len} at byte ${i} is out of range`);
    }
    if (data[end - 1] !== 0x0a) {
      throw new FieldError('pax record', `record at byte ${i} does not end with a newline`);
    }
    const eq = data.indexOf(0x3d, j + 1);
    if (eq === -1 || eq >= end - 1) {
      throw new FieldError('pax record', `record at byte ${i} has no '='`);
    }
    if (eq === j + 1) throw new FieldError('pax record', `record at byte ${i} has an empty key`);
    each(data.toString('latin1', j + 1, eq), data.subarray(eq + 1, end - 1));
    i = end;
  }
}

/** One record with its self-referential length prefix. `key` is a byte string. */
export function formatPaxRecord(key: string, value: Uint8Array): Buffer {
  const keyLen = Buffer.byteLength(key, 'latin1');
  // " " + key + "=" + value + "\n", plus the digits of the total, which include themselves.
  const rest = keyLen + value.length + 3;
  let digits = String(rest).length;
  if (String(rest + digits).length > digits) digits++;
  const total = rest + digits;
  const out = Buffer.allocUnsafe(total);
  let o = out.write(`${total} `, 0, 'latin1');
  o += out.write(key, o, 'latin1');
  out[o++] = 0x3d;
  out.set(value, o);
  o += value.length;
  out[o] = 0x0a;
  return out;
}

/**
 * GNU tar's xattr key coding: only '=' (which would end the key) and '%' are escaped, as %3D and
 * %25 (GNU tar src/xheader.c xattr_encode_keyword / xattr_decode_keyword). Other '%' sequences are
 * literal.
 */
export function encodeSchilyName(name: string): string {
  return name.replace(/[%=]/g, (c) => (c === '%' ? '%25' : '%3D'));
}

export function decodeSchilyName(key: string): string {
  return key.indexOf('%') === -1 ? key : key.replace(/%(3D|25)/g, (_, x: string) => (x === '3D' ? '=' : '%'));
}

/** libarchive url-encodes the xattr name (any %XX); undecodable '%' sequences stay literal. */
export function decodeLibarchiveName(key: string): string {
  return key.indexOf('%') === -1
    ? key
    : key.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict base64 (padding optional, as bsdtar omits it); null when malformed. */
export function decodeBase64(text: string): Buffer | null {
  if (!BASE64.test(text) || text.length % 4 === 1) return null;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (pad > 0 && text.length % 4 !== 0) return null;
  return Buffer.from(text, 'base64');
}

/** A non-negative decimal integer record value (size, uid, gid). */
export function parsePaxInteger(value: Buffer, field: string): number {
  const s = value.toString('latin1');
  if (!/^[0-9]+$/.test(s)) {
    throw new FieldError(field, s.startsWith('-') ? 'negative value' : `not a decimal number (${JSON.stringify(s)})`);
  }
  const v = Number(s);
  if (!Number.isSafeInteger(v)) throw new FieldError(field, 'value out of range');
  return v;
}

/**
 * A pax time: decimal seconds with an optional fraction, possibly negative (before 1970).
 * The fraction is truncated to nanoseconds. Negative times are normalised so that
 * 0 <= nsec < 1e9 and sec + nsec/1e9 equals the value: "-1.5" is { sec: -2, nsec: 500000000 }.
 */
export function parsePaxTime(value: Buffer, field: string): { sec: number; nsec: number } {
  const s = value.toString('latin1');
  const m = /^(-?)([0-9]+)(?:\.([0-9]+))?$/.exec(s);
  if (m === null) throw new FieldError(field, `not a decimal time (${JSON.stringify(s)})`);
  const whole = Number(m[2]);
  if (!Number.isSafeInteger(whole)) throw new FieldError(field, 'value out of range');
  const frac = m[3] === undefined ? 0 : Number(m[3].slice(0, 9).padEnd(9, '0'));
  if (m[1] !== '-') return { sec: whole, nsec: frac };
  if (frac === 0) return { sec: whole === 0 ? 0 : -whole, nsec: 0 };
  return { sec: -whole - 1, nsec: 1e9 - frac };
}

/** Inverse of parsePaxTime; trailing zeros of the fraction are dropped, like GNU tar. */
export function formatPaxTime(t: { sec: number; nsec: number }): string {
  if (t.nsec === 0) return String(t.sec);
  const [whole, frac, sign] = t.sec >= 0 ? [t.sec, t.nsec, ''] : [-(t.sec + 1), 1e9 - t.nsec, '-'];
  return `${sign}${whole}.${String(frac).padStart(9, '0').replace(/0+$/, '')}`;
}
