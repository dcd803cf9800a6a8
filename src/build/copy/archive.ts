/**
 * build/copy/archive: `ADD <local archive> <dest>`: whether a context file is a tar archive, and
 * its members as layer entries confined under the destination.
 *
 * Detection follows BuildKit (solver/llbsolver/file/unpack.go isArchivePath): the file is
 * decompressed if it is compressed, and it is an archive when what comes out starts with a valid
 * tar header. So `notes.txt.gz` (gzip, but no tar inside) is copied as it is. gzip and zstd are
 * decoded in process (layer/compress.ts); bzip2 and xz through `bzip2 -dc` / `xz -dc` when
 * installed, else a clear error.
 *
 * Members keep their owners (unless --chown), modes, mtimes, xattrs (after the layer policy),
 * devices and hard links; --chmod does not apply (BuildKit extracts with go-archive Untar, which
 * has no mode override). Safety (layers-and-capabilities.md 5 rows 12-13; buildah CVE-2020-10696):
 * - names are cleaned; a leading `/` is dropped (as GNU tar and go-archive do) and a `..` that
 *   climbs above the archive root is refused (E_BUILD_ADD_UNSAFE naming the member), as is a hard
 *   link target that does;
 * - a member below a symlink member of the same archive is refused: extracted in the image root,
 *   it would be written wherever the symlink points, outside the destination;
 * - whiteout names (`.wh.*`) are refused: in a layer they would delete files of the image.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { BerthError, errnoOf, type WarningSink } from '../../errors/index.js';
import { decompress } from '../../layer/compress.js';
import { decodeTar } from '../../layer/tar/index.js';
import { BLOCK_SIZE, signedChecksum, unsignedChecksum } from '../../layer/tar/header.js';
import type { BytePath, TarHeader } from '../../layer/tar/types.js';
import { filterXattrs } from '../../layer/xattrs.js';

export type ArchiveFormat = 'tar' | 'gzip' | 'zstd' | 'bzip2' | 'xz';

type InEntry = { header: TarHeader; body?: AsyncIterable<Buffer> | Buffer };

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

function magicOf(head: Buffer): Exclude<ArchiveFormat, 'tar'> | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(XZ_MAGIC)) return 'xz';
  return undefined;
}

/** Whether a 512-byte block is a tar header: not all zero, and its checksum field is right. */
export function isTarHeaderBlock(b: Buffer): boolean {
  if (b.length < BLOCK_SIZE) return false;
  if (b.every((x) => x === 0)) return false;
  const field = b.toString('latin1', 148, 156).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (!/^[0-7]+$/.test(field)) return false;
  const want = parseInt(field, 8);
  return want === unsignedChecksum(b) || want === signedChecksum(b);
}

function decompressError(op: string, file: string, reason: string, cause?: unknown): BerthError {
  return new BerthError('E_BUILD_ADD_DECOMPRESS', `${op} ${file}: ${reason}`, {
    hint: 'install the decompressor (Debian: apt-get install bzip2 xz-utils), or decompress the archive before the build',
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** The decompressed bytes of a bzip2 or xz file, from the external tool. */
async function* throughTool(tool: 'bzip2' | 'xz', file: Buffer, op: string): AsyncGenerator<Buffer> {
  const shown = file.toString('utf8');
  const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (e) => reject(errnoOf(e) === 'ENOENT' ? decompressError(op, shown, `${tool} is not installed, so this ${tool} archive cannot be read`, e) : e));
  });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  await spawned;
  const input = createReadStream(file);
  input.on('error', (e) => child.stdin.destroy(e));
  child.stdin.on('error', () => undefined); // EPIPE when the consumer stops early
  input.pipe(child.stdin);
  let complete = false;
  try {
    for await (const c of child.stdout as AsyncIterable<Buffer>) yield c;
    complete = true;
  } finally {
    if (!complete) {
      input.destroy();
      child.kill();
    }
  }
  const code = await exited;
  if (code !== 0) throw decompressError(op, shown, `${tool} -dc failed (exit ${code}): ${Buffer.concat(stderr).toString('utf8').trim()}`);
}

/** The archive's decompressed byte stream. */
export function archiveStream(file: Buffer, format: ArchiveFormat, op: string): AsyncIterable<Buffer> {
  if (format === 'bzip2' || format === 'xz') return throughTool(format, file, op);
  return decompress(createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>);
}

/** Reads the first bytes of a stream (at most `n`), then abandons it. */
async function headOf(stream: AsyncIterable<Buffer>, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  const it = stream[Symbol.asyncIterator]();
  try {
    while (got < n) {
      const r = await it.next();
      if (r.done === true) break;
      parts.push(r.value);
      got += r.value.length;
    }
  } finally {
    await it.return?.();
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** The archive format of a regular context file, or undefined when ADD copies it as it is. */
export async function detectArchive(file: Buffer, op: string): Promise<ArchiveFormat | undefined> {
  const head = await headOf(createReadStream(file, { start: 0, end: BLOCK_SIZE - 1 }) as AsyncIterable<Buffer>, BLOCK_SIZE);
  const magic = magicOf(head);
  if (magic === undefined) return isTarHeaderBlock(head) ? 'tar' : undefined;
  let block: Buffer;
  try {
    block = await headOf(archiveStream(file, magic, op), BLOCK_SIZE);
  } catch (e) {
    if (e instanceof BerthError && e.code === 'E_BUILD_ADD_DECOMPRESS') throw e;
    // Damaged compressed data is not an archive BuildKit would extract: copied as it is.
    return undefined;
  }
  return isTarHeaderBlock(block) ? magic : undefined;
}

function unsafe(op: string, archive: string, member: BytePath, reason: string): BerthError {
  const name = Buffer.from(member, 'latin1').toString('utf8');
  return new BerthError('E_BUILD_ADD_UNSAFE', `${op} ${archive}: member "${name}" ${reason}`, {
    hint: 'fix the archive: every member must stay inside it (no "..", no paths through its own symlinks, no .wh. names)',
    details: { archive, member: name },
  });
}

/** Cleans a member name to components under the archive root; null when it climbs above it. */
function memberComponents(name: BytePath): BytePath[] | null {
  const out: BytePath[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(c);
  }
  return out;
}

export interface ArchiveEntryOptions {
  op: string;
  chown?: { uid: number; gid: number };
  onWarning: WarningSink;
}

/** The archive's members as layer entries under `dest` (absolute, resolved), in archive order. */
export async function* archiveEntries(file: Buffer, format: ArchiveFormat, dest: BytePath, opts: ArchiveEntryOptions): AsyncGenerator<InEntry> {
  const shown = file.toString('utf8');
  const base = dest === '/' ? '' : dest.slice(1);
  const under = (parts: BytePath[]) => (base === '' ? parts.join('/') : `${base}/${parts.join('/')}`);
  const symlinks = new Set<string>();
  for await (const e of decodeTar(archiveStream(file, format, opts.op), { onWarning: opts.onWarning })) {
    const parts = memberComponents(e.header.path);
    if (parts === null) throw unsafe(opts.op, shown, e.header.path, 'leaves the destination ("..")');
    if (parts.length === 0) continue; // the destination itself: its metadata is the copy's
    if (parts[parts.length - 1].startsWith('.wh.')) throw unsafe(opts.op, shown, e.header.path, 'is a whiteout name, which would delete files of the image');
    for (let k = 1; k < parts.length; k++) {
      const prefix = parts.slice(0, k).join('/');
      if (symlinks.has(prefix)) throw unsafe(opts.op, shown, e.header.path, `lies below the symlink "${Buffer.from(prefix, 'latin1').toString('utf8')}" of the same archive`);
    }
    const key = parts.join('/');
    if (e.header.type === 'symlink') symlinks.add(key);
    else symlinks.delete(key);
    const h: TarHeader = { ...e.header, path: under(parts) };
    if (h.type === 'hardlink') {
      const target = memberComponents(h.linkname);
      if (target === null || target.length === 0) throw unsafe(opts.op, shown, e.header.path, `is a hard link to "${Buffer.from(h.linkname, 'latin1').toString('utf8')}", outside the archive`);
      h.linkname = under(target);
    }
    if (opts.chown) {
      h.uid = opts.chown.uid;
      h.gid = opts.chown.gid;
    }
    if (h.xattrs.size > 0) h.xattrs = new Map(filterXattrs(h.xattrs, { direction: 'pack', type: h.type }).keep);
    yield h.type === 'file' ? { header: h, body: e.body } : { header: h };
  }
}
