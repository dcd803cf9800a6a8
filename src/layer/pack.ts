/**
 * Reads a rootfs directory as layer entries with every bit of metadata a layer can carry:
 * numeric owners, the full mode (setuid, setgid, sticky), mtime with nanoseconds, extended
 * attributes as raw bytes (the same policy as unpacking, xattrs.ts), hardlinks, symlinks,
 * device numbers and FIFOs.
 *
 * Invariants:
 * - Deterministic: each directory's names are sorted bytewise and a directory's contents follow
 *   it (GNU tar --sort=name order); no atime, no user/group names, so the same tree gives the
 *   same entries.
 * - Headers name paths relative to the directory, without './' or a trailing '/'
 *   (`usr/bin/ping`). The directory itself is not an entry: its metadata belongs to whoever
 *   unpacks (the unpack target).
 * - The second and later names of an inode with more than one link become `hardlink` entries
 *   to the first name, so links survive and data is stored once.
 * - Traversal is fd-relative (getdents64, statx, openat with O_NOFOLLOW): a symlink is never
 *   followed, and a file is read through the fd whose metadata the header reports.
 * - A file body yields exactly `size` bytes from a file opened when its entry is produced; the
 *   consumer must read it (or not) before asking for the next entry, like a decoded TarEntry.
 *   A file that shrinks while being read is an error, one that changes otherwise a warning.
 */
import { closeSync, openSync, readSync, constants as fsConstants } from 'node:fs';
import { BerthError, errnoOf, type WarningSink } from '../errors/index.js';
import {
  AT_SYMLINK_NOFOLLOW,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_RDONLY,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  close,
  fgetxattr,
  flistxattr,
  fstat,
  fstatat,
  lgetxattr,
  llistxattr,
  openat,
  procFdPath,
  readdirAt,
  readlinkat,
  type FileStat,
} from '../sys/index.js';
import { displayEntryPath } from './paths.js';
import type { BytePath, EntryType, TarHeader } from './tar/types.js';
import { filterXattrs, type XattrDropReason } from './xattrs.js';
import { Tally } from './tally.js';

export interface PackOptions {
  /** Receives one warning per class (W_PACK_*), after the last entry. */
  onWarning: WarningSink;
  /**
   * Maps on-disk owners (as this process sees them) to the owners written in the layer, e.g. the
   * inverse of a user-namespace mapping. Also decides which v3 capability rootid is the image's
   * root (the one whose uid maps to 0). Identity by default.
   */
  unmapOwner?: (uid: number, gid: number) => { uid: number; gid: number };
  /** Entries are always in sorted order; the option exists to make that explicit. */
  sort?: true;
}

export interface PackEntry {
  header: TarHeader;
  /** Regular files only: exactly `header.size` bytes. */
  body?: AsyncIterable<Buffer>;
}

const OPTION_KEYS = new Set(['onWarning', 'unmapOwner', 'sort']);
const MODE_BITS = 0o7777;
const CHUNK = 1 << 20;
const DT_REG = 8;

function optionError(message: string): BerthError {
  return new BerthError('E_PACK_OPTIONS', `pack directory: ${message}`, { hint: 'pass { onWarning, unmapOwner?, sort? }' });
}


interface Frame {
  fd: number;
  /** Path of this directory relative to the packed one ('' for the top). */
  prefix: BytePath;
  names: { name: BytePath; type: number }[];
  next: number;
}

/** The open file behind one body, closed when the body ends or the next entry is requested. */
interface OpenBody {
  fd: number;
  done: boolean;
}

/**
 * Yields the entries of `dir` in sorted order. The top directory is opened with Node (its name
 * is an ordinary UTF-8 path); everything below is byte names.
 */
export async function* packDirectory(dir: string, opts: PackOptions): AsyncGenerator<PackEntry> {
  if (typeof opts !== 'object' || opts === null) throw optionError('options must be an object');
  for (const k of Object.keys(opts)) if (!OPTION_KEYS.has(k)) throw optionError(`unknown option "${k}"`);
  if (typeof opts.onWarning !== 'function') throw optionError('option "onWarning" must be a function');
  if (opts.unmapOwner !== undefined && typeof opts.unmapOwner !== 'function') throw optionError('option "unmapOwner" must be a function');
  if (opts.sort !== undefined && opts.sort !== true) throw optionError('option "sort" can only be true');
  const unmap = opts.unmapOwner ?? ((uid: number, gid: number) => ({ uid, gid }));
  const isImageRoot = (rootid: number): boolean => {
    try {
      return unmap(rootid, 0).uid === 0;
    } catch {
      // An unmapped rootid is, by definition, not the image's root.
      return false;
    }
  };

  let rootfd: number;
  try {
    rootfd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | O_NONBLOCK);
  } catch (e) {
    throw new BerthError('E_PACK_SOURCE', `pack ${dir}: ${(e as Error).message}`, { hint: 'give a readable directory', cause: e });
  }

  const tallies = {
    sockets: new Tally(),
    filtered: new Tally(),
    foreignCaps: new Tally(),
    invalidCaps: new Tally(),
    unreadableXattrs: new Tally(),
    changed: new Tally(),
    type: new Tally(),
  };
  const firstName = new Map<string, BytePath>();
  const stack: Frame[] = [];
  let pending: OpenBody | undefined;
  const settle = () => {
    if (pending !== undefined && !pending.done) {
      pending.done = true;
      closeSync(pending.fd);
    }
    pending = undefined;
  };

  const fail = (rel: BytePath, e: unknown): BerthError =>
    e instanceof BerthError
      ? e
      : new BerthError('E_PACK_READ', `pack ${dir}: ${displayEntryPath(rel)}: ${(e as Error).message}`, {
          hint: 'make sure the directory is readable by this user and not changing while it is packed',
          details: { path: displayEntryPath(rel), errno: errnoOf(e) },
          cause: e,
        });

  /** Xattrs through the open fd, or (symlinks, devices, FIFOs: nothing to open) by name in dirfd. */
  const readXattrs = (rel: BytePath, type: EntryType, fd: number | undefined, dirfd: number, name: BytePath): Map<string, Buffer> => {
    const path = procFdPath(dirfd, name);
    const names = fd === undefined ? llistxattr(path) : flistxattr(fd);
    const raw: [string, Buffer][] = [];
    for (const attr of names) {
      let value: Buffer | undefined;
      try {
        value = fd === undefined ? lgetxattr(path, attr) : fgetxattr(fd, attr);
      } catch (e) {
        // U6: a capability of a namespace this process cannot see reads as EOVERFLOW.
        if (errnoOf(e) !== 'EOVERFLOW') throw e;
      }
      if (value === undefined) {
        // ENODATA for a listed name: the kernel hides a v3 capability that is not ours (U6).
        (attr === 'security.capability' ? tallies.foreignCaps : tallies.unreadableXattrs).add(displayEntryPath(rel), attr);
        continue;
      }
      raw.push([attr, value]);
    }
    const decision = filterXattrs(raw, { direction: 'pack', type, isImageRoot });
    for (const d of decision.dropped) noteDrop(d.name, d.reason, displayEntryPath(rel));
    return new Map(decision.keep);
  };
  const noteDrop = (name: string, reason: XattrDropReason, path: string) => {
    if (reason === 'capability-foreign') tallies.foreignCaps.add(path, name);
    else if (reason === 'capability-invalid') tallies.invalidCaps.add(path, name);
    else if (reason === 'type') tallies.type.add(path, name);
    else tallies.filtered.add(path, name);
  };

  const header = (rel: BytePath, st: FileStat, type: EntryType): TarHeader => {
    const owner = unmap(st.uid, st.gid);
    return {
      path: rel,
      type,
      mode: st.mode & MODE_BITS,
      uid: owner.uid,
      gid: owner.gid,
      uname: '',
      gname: '',
      size: 0,
      mtime: { sec: st.mtime.sec, nsec: st.mtime.nsec },
      linkname: '',
      devmajor: 0,
      devminor: 0,
      xattrs: new Map(),
    };
  };

  const listing = (fd: number): Frame['names'] =>
    readdirAt(fd)
      .map((e) => ({ name: e.name, type: e.type }))
      // Byte strings: comparing UTF-16 code units is comparing bytes.
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  try {
    stack.push({ fd: rootfd, prefix: '', names: listing(rootfd), next: 0 });
    while (stack.length > 0) {
      settle();
      const frame = stack[stack.length - 1];
      if (frame.next >= frame.names.length) {
        stack.pop();
        if (frame.fd !== rootfd) close(frame.fd);
        continue;
      }
      const { name, type: dtype } = frame.names[frame.next++];
      const rel = frame.prefix === '' ? name : `${frame.prefix}/${name}`;
      let out: PackEntry | undefined;
      let descend: Frame | undefined;
      try {
        let fd: number | undefined;
        let st: FileStat;
        if (dtype === DT_REG) {
          // Open first, then describe what was opened. O_NONBLOCK: if the name became a FIFO
          // since the listing, the open must not hang.
          fd = openat(frame.fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
          st = fstat(fd);
        } else {
          st = fstatat(frame.fd, name, AT_SYMLINK_NOFOLLOW);
        }
        const ftype = st.mode & S_IFMT;
        if (fd !== undefined && ftype !== S_IFREG) {
          close(fd);
          fd = undefined;
        }
        if (ftype === S_IFSOCK) {
          tallies.sockets.add(displayEntryPath(rel));
          continue;
        }
        const idKey = `${st.devMajor}:${st.devMinor}:${st.ino}`;
        if (ftype !== S_IFDIR && st.nlink > 1) {
          const first = firstName.get(idKey);
          if (first !== undefined) {
            if (fd !== undefined) close(fd);
            const h = header(rel, st, 'hardlink');
            h.linkname = first;
            yield { header: h };
            continue;
          }
          firstName.set(idKey, rel);
        }
        switch (ftype) {
          case S_IFREG: {
            if (fd === undefined) {
              fd = openat(frame.fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
              const again = fstat(fd);
              if (again.ino !== st.ino) throw new Error('the file was replaced while being read');
            }
            const h = header(rel, st, 'file');
            h.size = st.size;
            h.xattrs = readXattrs(rel, 'file', fd, frame.fd, name);
            const body: OpenBody = { fd, done: false };
            pending = body;
            out = { header: h, body: readBody(body, st, rel, tallies.changed) };
            break;
          }
          case S_IFDIR: {
            const dfd = openat(frame.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            try {
              const again = fstat(dfd);
              if (again.ino !== st.ino) throw new Error('the directory was replaced while being read');
              const h = header(rel, again, 'dir');
              h.xattrs = readXattrs(rel, 'dir', dfd, frame.fd, name);
              out = { header: h };
              descend = { fd: dfd, prefix: rel, names: listing(dfd), next: 0 };
            } catch (e) {
              close(dfd);
              throw e;
            }
            break;
          }
          case S_IFLNK: {
            const h = header(rel, st, 'symlink');
            h.linkname = readlinkat(frame.fd, name);
            h.xattrs = readXattrs(rel, 'symlink', undefined, frame.fd, name);
            out = { header: h };
            break;
          }
          case S_IFCHR:
          case S_IFBLK: {
            const h = header(rel, st, ftype === S_IFCHR ? 'char' : 'block');
            h.devmajor = st.rdevMajor;
            h.devminor = st.rdevMinor;
            h.xattrs = readXattrs(rel, h.type, undefined, frame.fd, name);
            out = { header: h };
            break;
          }
          case S_IFIFO: {
            const h = header(rel, st, 'fifo');
            h.xattrs = readXattrs(rel, 'fifo', undefined, frame.fd, name);
            out = { header: h };
            break;
          }
          default:
            throw new Error(`unknown file type 0o${ftype.toString(8)}`);
        }
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') {
          // Removed between the listing and now: there is nothing to pack, say so.
          tallies.changed.add(displayEntryPath(rel));
          continue;
        }
        throw fail(rel, e);
      }
      yield out;
      if (descend !== undefined) stack.push(descend);
    }
  } finally {
    settle();
    for (const f of stack) if (f.fd !== rootfd) close(f.fd);
    closeSync(rootfd);
  }

  const warn = (code: string, message: string, t: Tally) =>
    opts.onWarning({ code, message: `pack ${dir}: ${message}`, path: t.example, details: { count: t.count, names: Object.fromEntries(t.names) } });
  if (tallies.sockets.count > 0) warn('W_PACK_SOCKET', `sockets skipped: a layer cannot carry them (${tallies.sockets.summary('socket', 'sockets')})`, tallies.sockets);
  if (tallies.filtered.count > 0) warn('W_PACK_XATTR_FILTERED', `extended attributes not exported by policy: ${tallies.filtered.nameList()}; e.g. ${tallies.filtered.example}`, tallies.filtered);
  if (tallies.type.count > 0) warn('W_PACK_XATTR', `extended attributes Linux does not allow on this file type not exported: ${tallies.type.nameList()}; e.g. ${tallies.type.example}`, tallies.type);
  if (tallies.foreignCaps.count > 0) {
    warn('W_PACK_FILECAPS_FOREIGN', `file capabilities of another user namespace not exported (${tallies.foreignCaps.summary('file', 'files')})`, tallies.foreignCaps);
  }
  if (tallies.invalidCaps.count > 0) warn('W_PACK_FILECAPS_INVALID', `malformed file capabilities not exported (${tallies.invalidCaps.summary('file', 'files')})`, tallies.invalidCaps);
  if (tallies.unreadableXattrs.count > 0) {
    warn('W_PACK_XATTR_UNREADABLE', `extended attributes listed but not readable, not exported: ${tallies.unreadableXattrs.nameList()}`, tallies.unreadableXattrs);
  }
  if (tallies.changed.count > 0) warn('W_PACK_CHANGED', `files changed while being packed (${tallies.changed.summary('file', 'files')})`, tallies.changed);
}

/** Streams exactly st.size bytes of an open file in 1 MiB chunks, then closes it. */
async function* readBody(body: OpenBody, st: FileStat, rel: BytePath, changed: Tally): AsyncGenerator<Buffer> {
  if (body.done) {
    throw new BerthError('E_PACK_BODY_STALE', `pack: ${displayEntryPath(rel)}: the body was read after the next entry was requested`, {
      hint: 'read each entry body before asking for the next entry',
    });
  }
  try {
    let remaining = st.size;
    while (remaining > 0) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, remaining));
      let filled = 0;
      while (filled < chunk.length) {
        const n = readSync(body.fd, chunk, filled, chunk.length - filled, null);
        if (n === 0) {
          throw new BerthError('E_PACK_CHANGED', `pack: ${displayEntryPath(rel)}: the file shrank while being read (${st.size - remaining + filled} of ${st.size} bytes)`, {
            hint: 'pack a directory nothing is writing to',
          });
        }
        filled += n;
      }
      remaining -= filled;
      yield chunk;
    }
    const after = fstat(body.fd);
    if (after.size !== st.size || after.mtime.sec !== st.mtime.sec || after.mtime.nsec !== st.mtime.nsec) changed.add(displayEntryPath(rel));
  } finally {
    if (!body.done) {
      body.done = true;
      closeSync(body.fd);
    }
  }
}
