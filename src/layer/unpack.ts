/**
 * Applies one layer (a stream of tar entries) onto a root directory: OCI image-spec layer.md
 * "Applying Changesets", hardened against the malicious-layer table of
 * layers-and-capabilities.md section 5.
 *
 * Invariants:
 * - Nothing is ever resolved by a path string. Every parent directory is opened inside the root
 *   (openat2 RESOLVE_IN_ROOT, or sys/'s fd-relative walk), every create, link, chown, xattr and
 *   chmod is relative to that fd and never follows a symlink in the last component. So symlinks
 *   and hardlinks (of this layer or of lower ones) can only ever point back into the root.
 * - Apply, not extract (layer.md rule 4): an existing path is unlinked and recreated unless
 *   both are directories (then the directory's attributes are replaced); creates use
 *   O_CREAT|O_EXCL|O_NOFOLLOW, so no write ever goes through an existing file or link.
 * - Per entry: create -> write data -> chown -> xattrs -> chmod (with setuid bits) -> times.
 *   chown clears setuid/setgid and `security.capability`, and unprivileged writes clear them
 *   too, so they are restored after both. chmod never touches a symlink. Directory modes (for a
 *   plain user, who needs u+rwx to fill them) and directory times are set in a final pass,
 *   deepest first, because creating children changes a directory's mtime.
 * - Regular files get their metadata through the still-open fd (fchown, fsetxattr, fchmod,
 *   futimens) and are closed last: the same order, on the inode just written, with no name
 *   lookup that a rename could redirect.
 * - Whiteouts delete only what lower layers put there: `.wh.x` leaves an `x` this layer added,
 *   and an opaque marker is applied as if it came first, wherever it appears (the paths this
 *   layer added are tracked, like containerd's unpackedPaths).
 * - The parent-directory fd cache is flushed whenever a directory or symlink is removed, the
 *   only operations that can change what a cached path resolves to (node-tar CVE-2021-32803).
 * - Losses (owners, file capabilities, devices, xattrs, setid bits) are counted per class and
 *   reported as one warning per class per layer; anything else that fails is a BerthError
 *   naming the layer, the entry and the reason.
 */
import { chmodSync, closeSync, fstatSync, openSync, writeSync, constants as fsConstants } from 'node:fs';
import { BerthError, isBerthError, type WarningSink } from '../errors/index.js';
import {
  AT_REMOVEDIR,
  AT_SYMLINK_NOFOLLOW,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_PATH,
  O_RDONLY,
  O_WRONLY,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  XATTR_SIZE_MAX,
  close,
  fchmod,
  fchmodat,
  fchown,
  fchownat,
  flistxattr,
  fremovexattr,
  fsetxattr,
  fstat,
  fstatat,
  futimens,
  linkat,
  lsetxattr,
  mkdirat,
  mknodat,
  openInRoot,
  openat,
  procFdPath,
  readdirAt,
  symlinkat,
  unlinkat,
  utimensat,
  walkInRoot,
  type FileStat,
  type TimeSpec,
} from '../sys/index.js';
import { AUFS_META_PREFIX, OPAQUE_WHITEOUT, classifyWhiteout, displayEntryPath, normaliseEntryPath, pathKey } from './paths.js';
import type { BytePath, TarHeader } from './tar/types.js';
import { filterXattrs, isManagedXattr, type Privilege, type XattrDropReason, type XattrPolicy } from './xattrs.js';
import { Tally } from './tally.js';

export type { Privilege } from './xattrs.js';

/** One entry to apply: a TarEntry, or anything shaped like one (packDirectory's output). */
export interface ApplyEntry {
  header: TarHeader;
  body?: AsyncIterable<Buffer> | Iterable<Buffer> | Buffer;
}

/** Limits for untrusted layers (layers-and-capabilities.md section 5 row 20). */
export interface ApplyLimits {
  /** Most entries in one layer. Default 10,000,000. */
  maxEntries: number;
  /** Most file data in one layer, in bytes. Default 1 TiB. */
  maxBytes: number;
  /** Most components in one entry name (and hardlink target). Default 1024. */
  maxDepth: number;
}

export const defaultApplyLimits: ApplyLimits = {
  maxEntries: 10_000_000,
  maxBytes: 2 ** 40,
  maxDepth: 1024,
};

export interface ApplyOptions {
  /** Receives one warning per class of loss per layer (W_UNPACK_*). */
  onWarning: WarningSink;
  /** Chosen once by the caller: real root; uid 0 inside a user namespace; a plain user. */
  privilege: Privilege;
  /**
   * Pure ID mapping applied to each header's owner before anything touches the disk (for
   * example container IDs to the IDs of the namespace doing the unpack). Identity by default.
   * It may throw a BerthError to refuse an owner.
   */
  mapOwner?: (uid: number, gid: number) => { uid: number; gid: number };
  limits?: Partial<ApplyLimits>;
  /** Names the layer in messages (its digest). */
  layerName?: string;
}

export interface ApplyStats {
  /** Entries read, whiteouts included. */
  entries: number;
  /** Objects created (or, for directories, created or merged). */
  created: { files: number; dirs: number; symlinks: number; hardlinks: number; devices: number; fifos: number };
  /** Bytes of file data written. */
  bytes: number;
  /** `.wh.<name>` markers and opaque markers seen. */
  whiteouts: number;
  opaques: number;
  /** What the layer asked for but could not be applied here, per class (each warned once). */
  lost: { owners: number; fileCaps: number; devices: number; xattrs: number; setid: number };
  /** Attributes dropped by policy (security.selinux, overlay, bookkeeping, ...). */
  xattrsFiltered: number;
  /** Entries skipped by rule: AUFS metadata (`.wh..wh.*`). */
  skipped: number;
  /** Owners as written in the layer (before mapOwner), sorted and unique: the store's ID sets. */
  uids: number[];
  gids: number[];
}

const OPTION_KEYS = new Set(['onWarning', 'privilege', 'mapOwner', 'limits', 'layerName']);
const LIMIT_KEYS = new Set(Object.keys(defaultApplyLimits));
const PRIVILEGES: readonly Privilege[] = ['root', 'userns', 'unprivileged'];

interface Normalised {
  onWarning: WarningSink;
  privilege: Privilege;
  mapOwner: ((uid: number, gid: number) => { uid: number; gid: number }) | undefined;
  limits: ApplyLimits;
  layerName: string;
}

function optionError(message: string): BerthError {
  return new BerthError('E_LAYER_OPTIONS', `apply layer: ${message}`, {
    hint: 'pass { onWarning, privilege: "root" | "userns" | "unprivileged", mapOwner?, limits?, layerName? }',
  });
}

function normaliseOptions(opts: ApplyOptions): Normalised {
  if (typeof opts !== 'object' || opts === null) throw optionError('options must be an object');
  for (const k of Object.keys(opts)) if (!OPTION_KEYS.has(k)) throw optionError(`unknown option "${k}"`);
  if (typeof opts.onWarning !== 'function') throw optionError('option "onWarning" must be a function');
  if (!PRIVILEGES.includes(opts.privilege)) throw optionError(`option "privilege" must be one of ${PRIVILEGES.join(', ')}, got ${String(opts.privilege)}`);
  if (opts.mapOwner !== undefined && typeof opts.mapOwner !== 'function') throw optionError('option "mapOwner" must be a function');
  const limits: ApplyLimits = { ...defaultApplyLimits };
  for (const [k, v] of Object.entries(opts.limits ?? {})) {
    if (!LIMIT_KEYS.has(k)) throw optionError(`unknown limit "${k}"`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw optionError(`limit "${k}" must be a non-negative integer`);
    limits[k as keyof ApplyLimits] = v;
  }
  return {
    onWarning: opts.onWarning,
    privilege: opts.privilege,
    mapOwner: opts.mapOwner,
    limits,
    layerName: opts.layerName ?? 'layer',
  };
}


/** A directory whose mode (deferred) and times are set in the final pass. */
interface DirRecord {
  key: BytePath;
  depth: number;
  ino: bigint;
  devMajor: number;
  devMinor: number;
  mode: number;
  mtime: TimeSpec;
}

const errnoCode = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' && !isBerthError(e) ? (e as { code: string }).code : undefined;

/** Most cached parent-directory fds; tar order is depth-first, so a few cover the working set. */
const CACHE_SIZE = 32;

/** Modes a plain user keeps on directories until the final pass, so it can fill them. */
const OWNER_RWX = 0o700;

const MODE_BITS = 0o7777;

class Applier {
  readonly o: Normalised;
  readonly rootfd: number;
  readonly stats: ApplyStats;
  private readonly uids = new Set<number>();
  private readonly gids = new Set<number>();
  /** Normalised paths this layer created or merged. */
  private readonly added = new Set<BytePath>();
  /** Every proper ancestor of a path in `added` (so opaque pruning knows where to descend). */
  private readonly addedAncestors = new Set<BytePath>();
  /** Parent path -> directory fd, oldest first. */
  private readonly cache = new Map<BytePath, number>();
  /** dev:ino -> final-pass record (a later record for the same inode replaces an earlier one). */
  private readonly dirs = new Map<string, DirRecord>();
  private readonly tallies = {
    owners: new Tally(),
    fileCaps: new Tally(),
    devices: new Tally(),
    xattrs: new Tally(),
    setid: new Tally(),
    filtered: new Tally(),
    capRootId: new Tally(),
    capInvalid: new Tally(),
    clamped: new Tally(),
    aufs: new Tally(),
  };
  /** Normalised path of the entry being applied; `current` renders it for messages. */
  private currentKey: BytePath = '';
  private get current(): string {
    return displayEntryPath(this.currentKey);
  }
  /** Cached fds dropped by flushCache; closed once the current entry is done (it may still use one). */
  private retired: number[] = [];

  constructor(rootfd: number, o: Normalised) {
    this.rootfd = rootfd;
    this.o = o;
    this.stats = {
      entries: 0,
      created: { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, devices: 0, fifos: 0 },
      bytes: 0,
      whiteouts: 0,
      opaques: 0,
      lost: { owners: 0, fileCaps: 0, devices: 0, xattrs: 0, setid: 0 },
      xattrsFiltered: 0,
      skipped: 0,
      uids: [],
      gids: [],
    };
  }

  // ---------------------------------------------------------------- errors

  private error(code: string, reason: string, hint: string, details: Record<string, unknown> = {}, cause?: unknown): BerthError {
    return new BerthError(code, `apply layer ${this.o.layerName} entry ${this.current}: ${reason}`, {
      hint,
      details: { layer: this.o.layerName, entry: this.current, ...details },
      cause,
    });
  }

  /** Wraps an unexpected syscall failure with the layer and entry it concerns. */
  wrap(e: unknown): unknown {
    if (isBerthError(e)) return e;
    const code = errnoCode(e);
    const hint =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? 'free space on the filesystem that holds the target directory'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? 'check that the target directory is writable by this user and not on a read-only mount'
          : 'check the target filesystem; if the layer is at fault, this names the entry that failed';
    return this.error('E_LAYER_APPLY', (e as Error).message, hint, { errno: code }, e);
  }

  // ---------------------------------------------------------------- parent fds

  /**
   * Forgets every cached directory fd. They are closed only when the current entry is done:
   * the entry may hold one of them as its parent, which stays the right directory (removing a
   * child does not move its parent).
   */
  private flushCache(): void {
    for (const fd of this.cache.values()) this.retired.push(fd);
    this.cache.clear();
  }

  /** Closes the fds retired while applying the entry that just finished. */
  settle(): void {
    for (const fd of this.retired) close(fd);
    this.retired = [];
  }

  private remember(key: BytePath, fd: number): void {
    const old = this.cache.get(key);
    if (old !== undefined) {
      this.cache.delete(key);
      if (old !== fd) this.retired.push(old);
    }
    this.cache.set(key, fd);
    if (this.cache.size > CACHE_SIZE) {
      const [k, v] = this.cache.entries().next().value as [BytePath, number];
      this.cache.delete(k);
      this.retired.push(v);
    }
  }

  /** The directory fd of `key` (a path inside the root), creating missing directories on the way. */
  private parent(key: BytePath, comps: readonly BytePath[]): number {
    if (key === '') return this.rootfd;
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    let fd: number;
    try {
      fd = openInRoot(this.rootfd, key, O_PATH | O_DIRECTORY);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT' || code === 'ENAMETOOLONG') {
        try {
          fd = walkInRoot(this.rootfd, key, O_PATH | O_DIRECTORY, { onMissing: (d, n) => this.mkdirImplicit(d, n) });
        } catch (e2) {
          throw this.parentError(e2, comps);
        }
      } else {
        throw this.parentError(e, comps);
      }
    }
    this.remember(key, fd);
    return fd;
  }

  private parentError(e: unknown, comps: readonly BytePath[]): unknown {
    const code = errnoCode(e);
    if (code === 'ENOTDIR' || code === 'ELOOP') {
      return this.error(
        'E_LAYER_PARENT_NOT_DIR',
        `parent ${displayEntryPath(comps)} is not a directory${code === 'ELOOP' ? ' (symlink loop)' : ''}`,
        'the layer (or a lower one) has a file or a symlink loop where this entry needs a directory; the image is inconsistent',
        { errno: code },
        e,
      );
    }
    return this.wrap(e);
  }

  /** A directory the layer did not list but an entry needs: 0755, owned by the image's root. */
  private mkdirImplicit(dirfd: number, name: BytePath): void {
    try {
      mkdirat(dirfd, name, 0o700);
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') return;
      throw e;
    }
    const fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      if (this.o.privilege !== 'unprivileged') {
        const owner = this.mapOwner(0, 0);
        fchown(fd, owner.uid, owner.gid);
      }
      fchmod(fd, 0o755);
    } finally {
      close(fd);
    }
  }

  // ---------------------------------------------------------------- bookkeeping

  private mapOwner(uid: number, gid: number): { uid: number; gid: number } {
    if (this.o.mapOwner === undefined) return { uid, gid };
    const m = this.o.mapOwner(uid, gid);
    if (!Number.isInteger(m.uid) || !Number.isInteger(m.gid) || m.uid < 0 || m.gid < 0 || m.uid > 0xfffffffe || m.gid > 0xfffffffe) {
      throw this.error('E_LAYER_OWNER', `mapOwner(${uid}, ${gid}) returned ${m.uid}:${m.gid}, not a valid owner`, 'mapOwner must return IDs in 0..4294967294');
    }
    return m;
  }

  private markAdded(key: BytePath): void {
    this.added.add(key);
    for (let i = key.lastIndexOf('/'); i > 0; i = key.lastIndexOf('/', i - 1)) {
      const anc = key.slice(0, i);
      if (this.addedAncestors.has(anc)) break;
      this.addedAncestors.add(anc);
    }
  }

  // ---------------------------------------------------------------- removal

  /** Removes whatever is at dirfd/name (a whole tree for a directory). */
  private remove(dirfd: number, name: BytePath, st: FileStat): void {
    const type = st.mode & S_IFMT;
    if (type === S_IFDIR) {
      this.flushCache();
      this.removeTree(dirfd, name);
    } else {
      if (type === S_IFLNK) this.flushCache();
      unlinkat(dirfd, name, 0);
    }
  }

  /**
   * A readable fd on the directory dirfd/name. A plain user's own directory left at 0500 or 0000
   * by a lower layer's final pass is opened up first; when it is to survive (`keepKey`), its mode
   * and mtime are restored in the final pass.
   */
  private openDirForRemoval(dirfd: number, name: BytePath, keepKey?: BytePath): number {
    try {
      return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (e) {
      if (errnoCode(e) !== 'EACCES' || this.o.privilege !== 'unprivileged') throw e;
      const pathfd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW);
      try {
        this.unlockDir(pathfd, keepKey ?? '', keepKey === undefined ? -1 : keepKey.split('/').length, keepKey !== undefined);
      } finally {
        close(pathfd);
      }
      return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    }
  }

  private removeTree(dirfd: number, name: BytePath): void {
    const fd = this.openDirForRemoval(dirfd, name);
    try {
      if (this.o.privilege === 'unprivileged') {
        const st = fstat(fd);
        if ((st.mode & OWNER_RWX) !== OWNER_RWX) fchmod(fd, (st.mode & MODE_BITS) | OWNER_RWX);
      }
      for (const e of readdirAt(fd)) this.removeChild(fd, e.name, e.type);
    } finally {
      close(fd);
    }
    unlinkat(dirfd, name, AT_REMOVEDIR);
  }

  private removeChild(dirfd: number, name: BytePath, dtype: number): void {
    const DT_DIR = 4;
    const DT_UNKNOWN = 0;
    let isDir = dtype === DT_DIR;
    if (dtype === DT_UNKNOWN) isDir = (fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW).mode & S_IFMT) === S_IFDIR;
    if (isDir) this.removeTree(dirfd, name);
    else unlinkat(dirfd, name, 0);
  }

  /**
   * Deletes the lower-layer content at dirfd/name (path `key`) and keeps what this layer added:
   * a path added here stays (a directory keeps its added descendants and loses the rest).
   */
  private pruneLower(dirfd: number, name: BytePath, key: BytePath, st: FileStat): void {
    const isDir = (st.mode & S_IFMT) === S_IFDIR;
    const keepSelf = this.added.has(key) || this.addedAncestors.has(key);
    if (!keepSelf) {
      try {
        this.remove(dirfd, name, st);
      } catch (e) {
        // A plain user's directory left without u+w by a lower layer: open it up, restore later.
        const parentKey = key.slice(0, Math.max(0, key.lastIndexOf('/')));
        if (errnoCode(e) !== 'EACCES' || !this.unlockDir(dirfd, parentKey, parentKey === '' ? 0 : parentKey.split('/').length)) throw e;
        this.remove(dirfd, name, st);
      }
      return;
    }
    if (!isDir) return;
    const fd = this.openDirForRemoval(dirfd, name, key);
    try {
      for (const e of readdirAt(fd)) {
        const childKey = `${key}/${e.name}`;
        this.pruneLower(fd, e.name, childKey, fstatat(fd, e.name, AT_SYMLINK_NOFOLLOW));
      }
    } finally {
      close(fd);
    }
  }

  /** The fd of an existing directory `key`, or undefined when it does not exist (no creation). */
  private lookupDir(key: BytePath): number | undefined {
    if (key === '') return this.rootfd;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    try {
      const fd = openInRoot(this.rootfd, key, O_PATH | O_DIRECTORY);
      this.remember(key, fd);
      return fd;
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw e;
    }
  }

  private applyWhiteout(parentKey: BytePath, target: BytePath): void {
    this.stats.whiteouts++;
    const dirfd = this.lookupDir(parentKey);
    if (dirfd === undefined) return;
    let st: FileStat;
    try {
      st = fstatat(dirfd, target, AT_SYMLINK_NOFOLLOW);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return; // nothing below to hide
      throw e;
    }
    this.pruneLower(dirfd, target, parentKey === '' ? target : `${parentKey}/${target}`, st);
  }

  private applyOpaque(dirKey: BytePath): void {
    this.stats.opaques++;
    const dirfd = this.lookupDir(dirKey);
    if (dirfd === undefined) return;
    // Read the whole listing first: pruning changes the directory.
    const children = this.listDir(dirKey, dirfd);
    for (const e of children) {
      let st: FileStat;
      try {
        st = fstatat(dirfd, e.name, AT_SYMLINK_NOFOLLOW);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue;
        throw err;
      }
      this.pruneLower(dirfd, e.name, dirKey === '' ? e.name : `${dirKey}/${e.name}`, st);
    }
  }

  /** The names in directory `key` (whose fd, maybe O_PATH, is `dirfd`). */
  private listDir(key: BytePath, dirfd: number): ReturnType<typeof readdirAt> {
    let fd: number;
    try {
      fd = openat(dirfd, '.', O_RDONLY | O_DIRECTORY);
    } catch (e) {
      if (errnoCode(e) !== 'EACCES' || !this.unlockDir(dirfd, key, key === '' ? 0 : key.split('/').length, true)) throw e;
      fd = openat(dirfd, '.', O_RDONLY | O_DIRECTORY);
    }
    try {
      return readdirAt(fd);
    } finally {
      close(fd);
    }
  }

  // ---------------------------------------------------------------- metadata

  private applyOwnerFd(fd: number, uid: number, gid: number, path: string): void {
    try {
      fchown(fd, uid, gid);
    } catch (e) {
      this.ownerFailure(e, uid, gid, path);
    }
  }

  private applyOwnerAt(dirfd: number, name: BytePath, uid: number, gid: number, path: string): void {
    try {
      fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
    } catch (e) {
      this.ownerFailure(e, uid, gid, path);
    }
  }

  private ownerFailure(e: unknown, uid: number, gid: number, path: string): void {
    const code = errnoCode(e);
    if (this.o.privilege === 'unprivileged' && (code === 'EPERM' || code === 'EINVAL')) {
      this.tallies.owners.add(path);
      return;
    }
    if (this.o.privilege === 'userns' && code === 'EINVAL') {
      throw this.error(
        'E_LAYER_UNMAPPED_OWNER',
        `owned by ${uid}:${gid}, which this user namespace does not map`,
        'give the user more subordinate IDs (/etc/subuid, /etc/subgid) so the namespace covers this owner, or map owners into the namespace when unpacking',
        { uid, gid },
        e,
      );
    }
    throw e;
  }

  /** Filters and writes xattrs; `set` does the syscall (fd- or path-based). */
  private applyXattrs(
    header: TarHeader,
    path: string,
    set: (name: string, value: Buffer) => void,
    merge?: { list: () => string[]; remove: (name: string) => void },
  ): void {
    if (header.xattrs.size === 0 && merge === undefined) return;
    const policy: XattrPolicy = { direction: 'unpack', privilege: this.o.privilege, type: header.type };
    for (const [name, value] of header.xattrs) {
      if (value.length > XATTR_SIZE_MAX) {
        throw this.error('E_LAYER_LIMIT', `xattr ${name} has ${value.length} bytes, more than ${XATTR_SIZE_MAX}`, 'the layer is malformed; Linux cannot store such a value');
      }
    }
    const decision = filterXattrs(header.xattrs, policy);
    for (const d of decision.dropped) this.noteDrop(d.name, d.reason, path);
    if (decision.capabilityRootId !== undefined) this.tallies.capRootId.add(path, String(decision.capabilityRootId));
    if (merge !== undefined) {
      // The directory's attributes are replaced: remove managed ones the new entry lacks.
      const wanted = new Set(decision.keep.map(([n]) => n));
      for (const name of merge.list()) {
        if (!wanted.has(name) && isManagedXattr(name, policy)) {
          try {
            merge.remove(name);
          } catch (e) {
            this.xattrFailure(e, name, path);
          }
        }
      }
    }
    for (const [name, value] of decision.keep) {
      try {
        set(name, value);
      } catch (e) {
        this.xattrFailure(e, name, path);
      }
    }
  }

  private noteDrop(name: string, reason: XattrDropReason, path: string): void {
    switch (reason) {
      case 'capability-invalid':
        this.tallies.capInvalid.add(path);
        return;
      case 'trusted':
      case 'type':
        // Not a policy choice about the content: this caller or this file type cannot hold it.
        this.tallies.xattrs.add(path, name);
        return;
      default:
        this.stats.xattrsFiltered++;
        this.tallies.filtered.add(path, name);
    }
  }

  private xattrFailure(e: unknown, name: string, path: string): void {
    const code = errnoCode(e);
    const loss = code === 'EPERM' || code === 'EACCES' || code === 'ENOTSUP' || code === 'EOPNOTSUPP';
    if (name === 'security.capability' && (loss || code === 'EINVAL')) {
      this.tallies.fileCaps.add(path);
      return;
    }
    if (loss) {
      this.tallies.xattrs.add(path, name);
      return;
    }
    throw e;
  }

  /** chmod through an open fd; a plain user cannot always keep setgid, which the kernel drops silently. */
  private applyModeFd(fd: number, mode: number, path: string): void {
    fchmod(fd, mode);
    if ((mode & 0o2000) !== 0 && this.o.privilege === 'unprivileged') {
      if ((fstat(fd).mode & MODE_BITS) !== mode) this.tallies.setid.add(path);
    }
  }

  private applyModeAt(dirfd: number, name: BytePath, mode: number, path: string): void {
    try {
      fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW);
    } catch (e) {
      if ((mode & 0o6000) !== 0 && errnoCode(e) === 'EPERM') {
        this.tallies.setid.add(path);
        fchmodat(dirfd, name, mode & 0o1777, AT_SYMLINK_NOFOLLOW);
        return;
      }
      throw e;
    }
    if ((mode & 0o2000) !== 0 && this.o.privilege === 'unprivileged') {
      if ((fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW).mode & MODE_BITS) !== mode) this.tallies.setid.add(path);
    }
  }

  // ---------------------------------------------------------------- entries

  async apply(entry: ApplyEntry): Promise<void> {
    const h = entry.header;
    const s = this.stats;
    if (++s.entries > this.o.limits.maxEntries) {
      this.currentKey = pathKey(normaliseEntryPath(h.path).components);
      throw this.error('E_LAYER_LIMIT', `more than ${this.o.limits.maxEntries} entries`, 'the layer is too large for the configured limits; raise limits.maxEntries if it is trusted');
    }
    const { components, clamped } = normaliseEntryPath(h.path);
    this.currentKey = pathKey(components);
    if (h.path.includes('\0')) {
      throw this.error('E_LAYER_UNSAFE_PATH', 'the name contains a NUL byte', 'the layer is malformed or malicious; do not use it');
    }
    if (components.length > this.o.limits.maxDepth) {
      throw this.error('E_LAYER_LIMIT', `${components.length} path components, more than ${this.o.limits.maxDepth}`, 'the layer is malformed or malicious; raise limits.maxDepth only if it is trusted');
    }
    if (clamped) this.tallies.clamped.add(`${Buffer.from(h.path, 'latin1').toString('utf8')} -> ${this.current}`);

    if (components.length === 0) {
      this.applyRoot(h);
      return;
    }
    const name = components[components.length - 1];
    const parentComps = components.slice(0, -1);
    const parentKey = pathKey(parentComps);
    const key = this.currentKey;

    // AUFS metadata directories (.wh..wh.plnk) and everything under them are not content.
    if (components.some((c, i) => c.startsWith(AUFS_META_PREFIX) && !(c === OPAQUE_WHITEOUT && i === components.length - 1))) {
      s.skipped++;
      this.tallies.aufs.add(this.current);
      return;
    }
    const wh = classifyWhiteout(name);
    switch (wh.kind) {
      case 'none':
        break;
      case 'whiteout':
        this.applyWhiteout(parentKey, wh.target);
        return;
      case 'opaque':
        this.applyOpaque(parentKey);
        return;
      case 'aufs':
        // Unreachable: handled above with every other AUFS path.
        return;
      case 'invalid':
        throw this.error('E_LAYER_WHITEOUT', `invalid whiteout name '${name}': ${wh.reason}`, 'the layer is malformed or malicious; do not use it');
    }

    this.uids.add(h.uid);
    this.gids.add(h.gid);
    const owner = this.mapOwner(h.uid, h.gid);
    const dirfd = this.parent(parentKey, parentComps);
    try {
      await this.applyTyped(dirfd, name, key, components.length, h, entry.body, owner);
    } catch (e) {
      // A plain user's directory that a lower layer left without u+w (e.g. 0555): open it up
      // for this layer and restore it in the final pass. Nothing was changed before EACCES.
      if (errnoCode(e) !== 'EACCES' || !this.unlockDir(dirfd, parentKey, parentComps.length)) throw e;
      await this.applyTyped(dirfd, name, key, components.length, h, entry.body, owner);
    }
    this.markAdded(key);
  }

  private async applyTyped(
    dirfd: number,
    name: BytePath,
    key: BytePath,
    depth: number,
    h: TarHeader,
    body: ApplyEntry['body'],
    owner: { uid: number; gid: number },
  ): Promise<void> {
    switch (h.type) {
      case 'dir':
        this.applyDir(dirfd, name, key, depth, h, owner);
        return;
      case 'file':
        await this.applyFile(dirfd, name, h, body, owner);
        return;
      case 'symlink':
        this.applySymlink(dirfd, name, h, owner);
        return;
      case 'hardlink':
        this.applyHardlink(dirfd, name, h);
        return;
      case 'char':
      case 'block':
      case 'fifo':
        this.applyNode(dirfd, name, h, owner);
        return;
      default:
        throw this.error('E_LAYER_ENTRY_TYPE', `unsupported entry type ${String((h as { type: unknown }).type)}`, 'the layer uses a tar entry type OCI layers do not allow');
    }
  }

  /**
   * For a plain user only: gives the directory `dirfd` (path `key`) u+rwx so this layer can change
   * it and, when it is to survive (`restore`), records its mode and mtime for the final pass.
   * False when there was nothing to unlock.
   */
  private unlockDir(dirfd: number, key: BytePath, depth: number, restore = true): boolean {
    if (this.o.privilege !== 'unprivileged') return false;
    const st = fstat(dirfd);
    if ((st.mode & OWNER_RWX) === OWNER_RWX) return false;
    // dirfd may be O_PATH, which fchmod refuses; its /proc/self/fd link names the directory itself.
    chmodSync(`/proc/self/fd/${dirfd}`, (st.mode & MODE_BITS) | OWNER_RWX);
    const id = `${st.devMajor}:${st.devMinor}:${st.ino}`;
    if (restore && !this.dirs.has(id)) {
      this.dirs.set(id, { key, depth, ino: st.ino, devMajor: st.devMajor, devMinor: st.devMinor, mode: st.mode & MODE_BITS, mtime: st.mtime });
    }
    return true;
  }

  /** Creates a node with `create`; if the name exists (and is not a directory to merge), removes it first. */
  private createReplacing(dirfd: number, name: BytePath, create: () => void): void {
    try {
      create();
      return;
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
    this.remove(dirfd, name, fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW));
    create();
  }

  private applyRoot(h: TarHeader): void {
    if (h.type !== 'dir') {
      throw this.error(
        'E_LAYER_ROOT_ENTRY',
        `the root entry '${Buffer.from(h.path, 'latin1').toString('utf8')}' is a ${h.type}, not a directory`,
        'the layer tries to replace the root directory (umoci CVE-2021-29136); do not use it',
      );
    }
    this.uids.add(h.uid);
    this.gids.add(h.gid);
    const owner = this.mapOwner(h.uid, h.gid);
    this.dirMetadata(this.rootfd, h, owner, '', 0, '/', true);
  }

  private applyDir(dirfd: number, name: BytePath, key: BytePath, depth: number, h: TarHeader, owner: { uid: number; gid: number }): void {
    let merged = false;
    try {
      mkdirat(dirfd, name, OWNER_RWX);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
      const st = fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW);
      if ((st.mode & S_IFMT) === S_IFDIR) {
        merged = true;
      } else {
        this.remove(dirfd, name, st);
        mkdirat(dirfd, name, OWNER_RWX);
      }
    }
    const fd = merged ? this.openDirForRemoval(dirfd, name) : openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      this.dirMetadata(fd, h, owner, key, depth, this.current, merged);
    } catch (e) {
      close(fd);
      throw e;
    }
    this.stats.created.dirs++;
    // The entries that follow are usually this directory's children.
    this.remember(key, fd);
  }

  private dirMetadata(fd: number, h: TarHeader, owner: { uid: number; gid: number }, key: BytePath, depth: number, path: string, merge: boolean): void {
    this.applyOwnerFd(fd, owner.uid, owner.gid, path);
    this.applyXattrs(
      h,
      path,
      (n, v) => fsetxattr(fd, n, v),
      merge ? { list: () => flistxattr(fd), remove: (n) => fremovexattr(fd, n) } : undefined,
    );
    const mode = h.mode & MODE_BITS;
    // A plain user keeps u+rwx until the final pass (it must create and remove children).
    const now = this.o.privilege === 'unprivileged' ? mode | OWNER_RWX : mode;
    this.applyModeFd(fd, now, path);
    const st = fstat(fd);
    this.dirs.set(`${st.devMajor}:${st.devMinor}:${st.ino}`, {
      key,
      depth,
      ino: st.ino,
      devMajor: st.devMajor,
      devMinor: st.devMinor,
      mode,
      mtime: h.mtime,
    });
  }

  private async applyFile(
    dirfd: number,
    name: BytePath,
    h: TarHeader,
    body: ApplyEntry['body'],
    owner: { uid: number; gid: number },
  ): Promise<void> {
    const s = this.stats;
    if (s.bytes + h.size > this.o.limits.maxBytes) {
      throw this.error('E_LAYER_LIMIT', `file data exceeds ${this.o.limits.maxBytes} bytes`, 'the layer is too large for the configured limits; raise limits.maxBytes if it is trusted');
    }
    let fd = -1;
    this.createReplacing(dirfd, name, () => {
      fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    });
    try {
      const written = await writeBody(fd, body, h.size);
      if (written !== h.size) {
        throw this.error(
          'E_LAYER_TRUNCATED',
          `the header says ${h.size} bytes, the data has ${written > h.size ? 'more' : written}`,
          'the layer is truncated or corrupt; fetch it again',
          { expected: h.size, written },
        );
      }
      s.bytes += written;
      const path = this.current;
      this.applyOwnerFd(fd, owner.uid, owner.gid, path);
      this.applyXattrs(h, path, (n, v) => fsetxattr(fd, n, v));
      this.applyModeFd(fd, h.mode & MODE_BITS, path);
      futimens(fd, h.mtime, h.mtime);
    } finally {
      closeSync(fd);
    }
    s.created.files++;
  }

  private applySymlink(dirfd: number, name: BytePath, h: TarHeader, owner: { uid: number; gid: number }): void {
    if (h.linkname.includes('\0')) {
      throw this.error('E_LAYER_UNSAFE_PATH', 'the symlink target contains a NUL byte', 'the layer is malformed or malicious; do not use it');
    }
    if (h.linkname === '') {
      throw this.error('E_LAYER_UNSAFE_PATH', 'the symlink target is empty', 'the layer is malformed; Linux cannot create an empty symlink');
    }
    // The target is stored verbatim: it is only ever resolved later, inside the root.
    this.createReplacing(dirfd, name, () => symlinkat(h.linkname, dirfd, name));
    const path = this.current;
    this.applyOwnerAt(dirfd, name, owner.uid, owner.gid, path);
    if (h.xattrs.size > 0) this.applyXattrs(h, path, (n, v) => lsetxattr(procFdPath(dirfd, name), n, v));
    // No chmod: Linux symlinks have no mode of their own, and chmod would follow the link.
    utimensat(dirfd, name, h.mtime, h.mtime, AT_SYMLINK_NOFOLLOW);
    this.stats.created.symlinks++;
  }

  private applyHardlink(dirfd: number, name: BytePath, h: TarHeader): void {
    const fail = (reason: string, cause?: unknown) =>
      this.error('E_LAYER_HARDLINK', `hardlink to '${Buffer.from(h.linkname, 'latin1').toString('utf8')}': ${reason}`, 'the layer is malformed or malicious; do not use it', { linkname: h.linkname }, cause);
    if (h.linkname.includes('\0')) throw fail('the target contains a NUL byte');
    // Absolute targets (kaniko writes them) are relative to the root; '..' must not climb out.
    const target = normaliseEntryPath(h.linkname);
    if (target.clamped) throw fail('the target climbs above the root');
    if (target.components.length === 0) throw fail('the target is the root directory');
    if (target.components.length > this.o.limits.maxDepth) throw fail(`the target has more than ${this.o.limits.maxDepth} components`);
    if (target.components.some((c) => c.startsWith(AUFS_META_PREFIX))) throw fail('the target is AUFS metadata, which is not unpacked');
    const tname = target.components[target.components.length - 1];
    let tdir: number | undefined;
    try {
      tdir = this.lookupDir(pathKey(target.components.slice(0, -1)));
    } catch (e) {
      throw fail('its directory cannot be resolved inside the root', e);
    }
    if (tdir === undefined) throw fail('the target does not exist');
    let tst: FileStat;
    try {
      tst = fstatat(tdir, tname, AT_SYMLINK_NOFOLLOW);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw fail('the target does not exist');
      throw e;
    }
    if ((tst.mode & S_IFMT) === S_IFDIR) throw fail('the target is a directory');
    // Linking a name to itself (h => h) must not unlink the only copy first.
    let existing: FileStat | undefined;
    try {
      existing = fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
    }
    if (existing !== undefined) {
      if (existing.ino === tst.ino && existing.devMajor === tst.devMajor && existing.devMinor === tst.devMinor) {
        this.stats.created.hardlinks++;
        return;
      }
      this.remove(dirfd, name, existing);
      // Removing a directory may have removed the target with it.
      try {
        fstatat(tdir, tname, AT_SYMLINK_NOFOLLOW);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') throw fail('the target does not exist (it was inside the directory this entry replaces)');
        throw e;
      }
    }
    // No AT_SYMLINK_FOLLOW: a symlink target is linked itself, never what it points to.
    // The header's metadata is not applied: the inode keeps its own (row 4 of the table).
    linkat(tdir, tname, dirfd, name, 0);
    this.stats.created.hardlinks++;
  }

  private applyNode(dirfd: number, name: BytePath, h: TarHeader, owner: { uid: number; gid: number }): void {
    const path = this.current;
    const isDevice = h.type === 'char' || h.type === 'block';
    if (isDevice && this.o.privilege !== 'root') {
      this.tallies.devices.add(path);
      return;
    }
    const type = h.type === 'char' ? S_IFCHR : h.type === 'block' ? S_IFBLK : S_IFIFO;
    try {
      this.createReplacing(dirfd, name, () => mknodat(dirfd, name, type | 0o600, h.devmajor, h.devminor));
    } catch (e) {
      if (isDevice && errnoCode(e) === 'EPERM') {
        this.tallies.devices.add(path);
        return;
      }
      throw e;
    }
    this.applyOwnerAt(dirfd, name, owner.uid, owner.gid, path);
    if (h.xattrs.size > 0) this.applyXattrs(h, path, (n, v) => lsetxattr(procFdPath(dirfd, name), n, v));
    this.applyModeAt(dirfd, name, h.mode & MODE_BITS, path);
    utimensat(dirfd, name, h.mtime, h.mtime, AT_SYMLINK_NOFOLLOW);
    if (isDevice) this.stats.created.devices++;
    else this.stats.created.fifos++;
  }

  // ---------------------------------------------------------------- final pass

  /** Directory modes (deferred ones) and times, deepest first. */
  finish(): void {
    this.flushCache();
    this.settle();
    const records = [...this.dirs.values()].sort((a, b) => b.depth - a.depth || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const r of records) {
      this.currentKey = r.key;
      let fd: number;
      if (r.key === '') {
        fd = this.rootfd;
      } else {
        try {
          fd = openInRoot(this.rootfd, r.key, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        } catch (e) {
          const code = errnoCode(e);
          // Replaced or removed by a later entry of this layer: its attributes are moot.
          if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') continue;
          throw this.wrap(e);
        }
      }
      try {
        const st = fstat(fd);
        if (st.ino !== r.ino || st.devMajor !== r.devMajor || st.devMinor !== r.devMinor) continue;
        if ((st.mode & MODE_BITS) !== r.mode) this.applyModeFd(fd, r.mode, this.current);
        futimens(fd, r.mtime, r.mtime);
      } catch (e) {
        throw this.wrap(e);
      } finally {
        if (fd !== this.rootfd) close(fd);
      }
    }
    this.currentKey = '';
  }

  /** Closes cached fds after a failure (the root fd belongs to the caller). */
  abandon(): void {
    this.flushCache();
    for (const fd of this.retired) {
      try {
        close(fd);
      } catch {
        // Best effort: another error is already propagating, and it is the one to report.
      }
    }
    this.retired = [];
  }

  /** One warning per class of loss, then the sorted ID sets. */
  report(): ApplyStats {
    const t = this.tallies;
    const s = this.stats;
    const layer = this.o.layerName;
    const warn = (code: string, message: string, tally: Tally, details: Record<string, unknown> = {}) =>
      this.o.onWarning({ code, message: `apply layer ${layer}: ${message}`, path: tally.example, details: { layer, count: tally.count, ...details } });
    s.lost = { owners: t.owners.count, fileCaps: t.fileCaps.count, devices: t.devices.count, xattrs: t.xattrs.count, setid: t.setid.count };
    if (t.owners.count > 0) warn('W_UNPACK_CHOWN', `file owners not applied: not permitted (${t.owners.summary('entry', 'entries')})`, t.owners);
    if (t.fileCaps.count > 0) warn('W_UNPACK_FILECAPS', `file capabilities dropped: not permitted (${t.fileCaps.summary('file')})`, t.fileCaps);
    if (t.devices.count > 0) {
      warn('W_UNPACK_DEVICE', `device nodes skipped: creating them needs real root (${t.devices.summary('device')})`, t.devices);
    }
    if (t.xattrs.count > 0) {
      warn('W_UNPACK_XATTR', `extended attributes not applied: not permitted or not supported here: ${t.xattrs.nameList()}; e.g. ${t.xattrs.example}`, t.xattrs, {
        names: Object.fromEntries(t.xattrs.names),
      });
    }
    if (t.setid.count > 0) warn('W_UNPACK_SETID', `setuid/setgid bits not kept: not permitted (${t.setid.summary('file')})`, t.setid);
    if (t.filtered.count > 0) {
      warn('W_UNPACK_XATTR_FILTERED', `extended attributes dropped by policy: ${t.filtered.nameList()}; e.g. ${t.filtered.example}`, t.filtered, {
        names: Object.fromEntries(t.filtered.names),
      });
    }
    if (t.capRootId.count > 0) {
      warn(
        'W_UNPACK_FILECAPS_ROOTID',
        `file capabilities of another user namespace (rootid ${[...t.capRootId.names.keys()].sort().join(', ')}) applied as plain v2 capabilities (${t.capRootId.summary('file')})`,
        t.capRootId,
      );
    }
    if (t.capInvalid.count > 0) warn('W_UNPACK_FILECAPS_INVALID', `malformed file capabilities dropped (${t.capInvalid.summary('file')})`, t.capInvalid);
    if (t.clamped.count > 0) warn('W_UNPACK_PATH_CLAMPED', `entry names climbing above the root were kept inside it (${t.clamped.summary('entry', 'entries')})`, t.clamped);
    if (t.aufs.count > 0) warn('W_UNPACK_AUFS', `AUFS metadata entries skipped (${t.aufs.summary('entry', 'entries')})`, t.aufs);
    s.uids = [...this.uids].sort((a, b) => a - b);
    s.gids = [...this.gids].sort((a, b) => a - b);
    return s;
  }
}

/** Writes every chunk; returns the byte count (stops counting past `limit` + 1 to report excess). */
async function writeBody(fd: number, body: ApplyEntry['body'], size: number): Promise<number> {
  if (body === undefined) return 0;
  if (Buffer.isBuffer(body)) {
    if (body.length > size) return body.length;
    writeAll(fd, body);
    return body.length;
  }
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (n + chunk.length > size) return n + chunk.length;
    writeAll(fd, chunk);
    n += chunk.length;
  }
  return n;
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/**
 * Applies ONE layer onto `rootDir` (an existing directory). Call it once per layer, in order,
 * base first. Returns what was created, what could not be applied (each class also warned once),
 * and the layer's owner IDs.
 */
export async function applyLayer(rootDir: string, entries: AsyncIterable<ApplyEntry> | Iterable<ApplyEntry>, opts: ApplyOptions): Promise<ApplyStats> {
  const o = normaliseOptions(opts);
  let rootfd: number;
  try {
    rootfd = openSync(rootDir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | O_NONBLOCK);
    if (!fstatSync(rootfd).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, open '${rootDir}'`), { code: 'ENOTDIR' });
  } catch (e) {
    throw new BerthError('E_LAYER_ROOT', `apply layer ${o.layerName}: cannot open target ${rootDir}: ${(e as Error).message}`, {
      hint: 'create the target directory first; berth applies layers into an existing directory',
      cause: e,
    });
  }
  const applier = new Applier(rootfd, o);
  try {
    for await (const entry of entries as AsyncIterable<ApplyEntry>) {
      try {
        await applier.apply(entry);
      } catch (e) {
        throw applier.wrap(e);
      }
      applier.settle();
    }
    applier.finish();
  } catch (e) {
    applier.abandon();
    throw e;
  } finally {
    closeSync(rootfd);
  }
  return applier.report();
}
