/**
 * Builders shared by the tar codec tests: headers with defaults, raw header blocks for
 * malformed-input cases, and collectors for decoder output.
 */

import { decodeTar, type DecodeTarOptions } from '../../../src/layer/tar/decode.js';
import { encodeTar, type TarEncodeEntry } from '../../../src/layer/tar/encode.js';
import { formatPaxRecord } from '../../../src/layer/tar/pax.js';
import type { TarHeader } from '../../../src/layer/tar/types.js';
import type { Warning } from '../../../src/errors/index.js';

export function header(over: Partial<TarHeader> = {}): TarHeader {
  return {
    path: 'f',
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    size: 0,
    mtime: { sec: 1_700_000_000, nsec: 0 },
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...over,
  };
}

export async function bytesOf(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of gen) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

export function tarOf(entries: Iterable<TarEncodeEntry>): Promise<Buffer> {
  return bytesOf(encodeTar(entries));
}

/** Splits a buffer into chunks of `size` bytes (to exercise reads that span chunks). */
export function* chunked(buf: Buffer, size: number): Generator<Buffer> {
  for (let o = 0; o < buf.length; o += size) yield buf.subarray(o, Math.min(o + size, buf.length));
}

export interface Decoded {
  header: TarHeader;
  data: Buffer;
}

export async function decodeAll(
  input: Buffer,
  opts: DecodeTarOptions & { chunk?: number } = {},
): Promise<{ entries: Decoded[]; warnings: Warning[] }> {
  const warnings: Warning[] = [];
  const entries: Decoded[] = [];
  const src = opts.chunk === undefined ? [input] : chunked(input, opts.chunk);
  for await (const e of decodeTar(src, { limits: opts.limits, onWarning: (w) => warnings.push(w) })) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(Buffer.from(c));
    entries.push({ header: e.header, data: Buffer.concat(parts) });
  }
  return { entries, warnings };
}

/** Recomputes a raw header block's checksum after a test edits it. */
export function fixChecksum(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block.subarray(0, 512)) sum += b;
  block.write(sum.toString(8).padStart(6, '0'), 148, 'latin1');
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

/** A raw 512-byte header block: a valid ustar file header with edits applied. */
export function rawBlock(edit: (b: Buffer) => void = () => {}, opts: { magic?: 'ustar' | 'gnu' | 'v7' } = {}): Buffer {
  const b = Buffer.alloc(512);
  b.write('f', 0, 'latin1');
  b.write('0000644\0', 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  b.write('00000000000\0', 124, 'latin1');
  b.write('14524770400\0', 136, 'latin1');
  b[156] = 0x30;
  const magic = opts.magic ?? 'ustar';
  if (magic === 'ustar') b.write('ustar\x0000', 257, 'latin1');
  if (magic === 'gnu') b.write('ustar  \0', 257, 'latin1');
  edit(b);
  return fixChecksum(b);
}

/** Sets an octal-or-anything field of a raw block. */
export function setField(b: Buffer, off: number, len: number, text: string | Buffer): void {
  b.fill(0, off, off + len);
  if (typeof text === 'string') b.write(text, off, len, 'latin1');
  else text.copy(b, off, 0, Math.min(len, text.length));
}

/** Data of `size` bytes padded to the block size. */
export function padded(data: Buffer): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([data, Buffer.alloc(pad)]);
}

/** A pax extended header (typeflag 'x' or 'g') with the given records. */
export function paxHeader(records: Array<[string, Buffer | string]>, flag: 'x' | 'g' = 'x'): Buffer {
  const data = Buffer.concat(
    records.map(([k, v]) => formatPaxRecord(k, typeof v === 'string' ? Buffer.from(v, 'latin1') : v)),
  );
  return rawMeta(flag, data);
}

/** A metadata header (x, g, L, K) followed by its padded data. */
export function rawMeta(flag: string, data: Buffer): Buffer {
  const block = rawBlock((b) => {
    setField(b, 0, 100, flag === 'L' || flag === 'K' ? '././@LongLink' : 'PaxHeaders/f');
    setField(b, 124, 12, data.length.toString(8).padStart(11, '0'));
    b[156] = flag.charCodeAt(0);
  });
  return Buffer.concat([block, padded(data)]);
}

export const END = Buffer.alloc(1024);

/** Sorted [name, hex] pairs, to compare xattr maps regardless of insertion order. */
export function xattrList(m: Map<string, Buffer> | undefined): Array<[string, string]> {
  return [...(m ?? new Map<string, Buffer>())].map(([k, v]): [string, string] => [k, v.toString('hex')]).sort();
}

/** Rejects with the BerthError code of the promise, or fails. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? `not a BerthError: ${String(e)}`;
  }
  return 'no error';
}
