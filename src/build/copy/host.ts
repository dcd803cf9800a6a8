/**
 * build/copy/host: one file of the build context as a layer entry: its header (mode, mtime,
 * device numbers, link target), the extended attributes a context copy keeps, its content hash for
 * the cache key, and its body, read from a descriptor that is checked to be the file the plan saw.
 *
 * Which xattrs: `user.*` and `security.capability` (the capability normalised to v2, a foreign v3
 * one dropped), after the layer policy of layer/xattrs.ts. The rest of what a context file may
 * carry (ACLs, IMA, SELinux labels) belongs to the host, not to the image.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, type BigIntStats } from 'node:fs';
import { BerthError, errnoOf, type WarningSink } from '../../errors/index.js';
import type { BytePath, EntryType, TarHeader } from '../../layer/tar/types.js';
import { filterXattrs } from '../../layer/xattrs.js';
import { lgetxattr, llistxattr } from '../../sys/index.js';

const CHUNK = 1 << 20;

/** A tar time from a bigint stat's nanosecond mtime. */
export function mtimeOf(st: BigIntStats): { sec: number; nsec: number } {
  return { sec: Number(st.mtimeNs / 1_000_000_000n), nsec: Number(st.mtimeNs % 1_000_000_000n) };
}

/** Linux's major/minor split of a dev_t (glibc gnu_dev_major/minor). */
export function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

/** The xattrs a context file contributes; drops are reported once per file as a warning. */
export function contextXattrs(host: Buffer, type: EntryType, onWarning: WarningSink): Map<string, Buffer> {
  const path = host.toString('latin1');
  let names: string[];
  try {
    names = llistxattr(path);
  } catch (e) {
    // A filesystem without xattrs has none to copy.
    if (errnoOf(e) === 'ENOTSUP' || errnoOf(e) === 'EOPNOTSUPP') return new Map();
    throw new BerthError('E_BUILD_CONTEXT', `copy ${host.toString('utf8')}: cannot list extended attributes: ${(e as Error).message}`, {
      hint: 'make the build context readable by this user',
      cause: e,
    });
  }
  const wanted = names.filter((n) => n.startsWith('user.') || n === 'security.capability');
  if (wanted.length === 0) return new Map();
  const raw: [string, Buffer][] = [];
  for (const n of wanted) {
    const v = lgetxattr(path, n);
    if (v !== undefined) raw.push([n, v]);
  }
  const decision = filterXattrs(raw, { direction: 'pack', type });
  if (decision.dropped.length > 0) {
    onWarning({
      code: 'W_BUILD_COPY_XATTR',
      message: `copy ${Buffer.from(path, 'latin1').toString('utf8')}: extended attributes not copied: ${decision.dropped.map((d) => `${d.name} (${d.reason})`).join(', ')}`,
      path: Buffer.from(path, 'latin1').toString('utf8'),
    });
  }
  return new Map(decision.keep);
}

function changed(host: Buffer): BerthError {
  const shown = host.toString('utf8');
  return new BerthError('E_BUILD_CONTEXT_CHANGED', `copy ${shown}: the file changed while the build was reading it`, {
    hint: 'do not modify the build context during a build, then build again',
    details: { path: shown },
  });
}

function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs && a.mode === b.mode;
}

/** Opens a regular file without following a symlink and checks it is the one `st` describes. */
function openChecked(host: Buffer, st: BigIntStats): number {
  let fd: number;
  try {
    fd = openSync(host, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ELOOP') throw changed(host);
    throw new BerthError('E_BUILD_CONTEXT', `copy ${host.toString('utf8')}: ${(e as Error).message}`, { hint: 'make the build context readable by this user', cause: e });
  }
  if (!sameFile(fstatSync(fd, { bigint: true }), st)) {
    closeSync(fd);
    throw changed(host);
  }
  return fd;
}

/** sha256 (hex) of a context file's content, read through a checked descriptor. */
export function hashContextFile(host: Buffer, st: BigIntStats): string {
  const fd = openChecked(host, st);
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let total = 0n;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      total += BigInt(n);
      h.update(buf.subarray(0, n));
    }
    if (total !== st.size) throw changed(host);
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}

/**
 * Exactly `st.size` bytes of a context file; the file must still be the one the plan hashed. The
 * file is opened on the first read and closed when the body ends or is abandoned.
 */
export async function* contextFileBody(host: Buffer, st: BigIntStats): AsyncGenerator<Buffer> {
  const fd = openChecked(host, st);
  try {
    let remaining = Number(st.size);
    while (remaining > 0) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, remaining));
      let filled = 0;
      while (filled < chunk.length) {
        const n = readSync(fd, chunk, filled, chunk.length - filled, null);
        if (n === 0) throw changed(host);
        filled += n;
      }
      remaining -= filled;
      yield chunk;
    }
    if (!sameFile(fstatSync(fd, { bigint: true }), st)) throw changed(host);
  } finally {
    closeSync(fd);
  }
}

/** A header with berth's defaults (root-owned, no names, no xattrs). */
export { newHeader as blankHeader } from '../../layer/tar/header.js';
