/**
 * fd-relative file syscalls Node lacks (or offers only by path): openat, mkdirat, mknodat,
 * symlinkat, linkat, unlinkat, renameat2, fchownat, fchmod(at), utimensat with nanoseconds,
 * readlinkat, statx and getdents64.
 *
 * Conventions: paths are byte strings (see layer/tar/types.ts) passed as NUL-terminated Buffers;
 * every failure throws a Node-style SysError; every fd this module opens is O_CLOEXEC. Node's fs
 * accepts these raw integer fds (`fs.writeSync(fd, buf)`, `fs.closeSync(fd)`).
 */
import type { BytePath } from '../layer/tar/types.js';
import { AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, O_CLOEXEC, STATX_WANTED, S_IFMT } from './constants.js';
import { EMPTY_CPATH, cpath, fail, libc } from './libc.js';

type Fn<A extends unknown[], R> = (...args: A) => R;

const c_openat = libc.func('int openat(int dirfd, const char *path, int flags, ...)') as Fn<[number, Buffer, number, string, number], number>;
const c_close = libc.func('int close(int fd)') as Fn<[number], number>;
const c_mkdirat = libc.func('int mkdirat(int dirfd, const char *path, uint32_t mode)') as Fn<[number, Buffer, number], number>;
const c_mknodat = libc.func('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)') as Fn<[number, Buffer, number, bigint], number>;
const c_symlinkat = libc.func('int symlinkat(const char *target, int dirfd, const char *path)') as Fn<[Buffer, number, Buffer], number>;
const c_linkat = libc.func('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)') as Fn<
  [number, Buffer, number, Buffer, number],
  number
>;
const c_unlinkat = libc.func('int unlinkat(int dirfd, const char *path, int flags)') as Fn<[number, Buffer, number], number>;
const c_renameat2 = libc.func('int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, uint32_t flags)') as Fn<
  [number, Buffer, number, Buffer, number],
  number
>;
const c_fchownat = libc.func('int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)') as Fn<
  [number, Buffer, number, number, number],
  number
>;
const c_fchown = libc.func('int fchown(int fd, uint32_t uid, uint32_t gid)') as Fn<[number, number, number], number>;
const c_fchmod = libc.func('int fchmod(int fd, uint32_t mode)') as Fn<[number, number], number>;
const c_fchmodat = libc.func('int fchmodat(int dirfd, const char *path, uint32_t mode, int flags)') as Fn<[number, Buffer, number, number], number>;
const c_utimensat = libc.func('int utimensat(int dirfd, const char *path, const uint8_t *times, int flags)') as Fn<
  [number, Buffer, Buffer, number],
  number
>;
const c_futimens = libc.func('int futimens(int fd, const uint8_t *times)') as Fn<[number, Buffer], number>;
const c_readlinkat = libc.func('intptr_t readlinkat(int dirfd, const char *path, uint8_t *buf, size_t size)') as Fn<
  [number, Buffer, Buffer, number],
  number
>;
const c_statx = libc.func('int statx(int dirfd, const char *path, int flags, uint32_t mask, uint8_t *buf)') as Fn<
  [number, Buffer, number, number, Buffer],
  number
>;
const c_getdents64 = libc.func('intptr_t getdents64(int fd, uint8_t *buf, size_t count)') as Fn<[number, Buffer, number], number>;

/** Seconds and nanoseconds since the epoch (the shape of TarTime). */
export interface TimeSpec {
  sec: number;
  nsec: number;
}

/** What statx reports about one inode (the fields berth uses). */
export interface FileStat {
  /** st_mode: file type bits (S_IFMT) and permission bits. */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  ino: bigint;
  size: number;
  /** The device holding the inode (with `ino`, the hardlink identity). */
  devMajor: number;
  devMinor: number;
  /** For character and block devices: the device number. */
  rdevMajor: number;
  rdevMinor: number;
  mtime: TimeSpec;
}

export interface DirEntry {
  /** Byte-string name. */
  name: BytePath;
  /** d_type (DT_DIR 4, DT_REG 8, DT_LNK 10, ...; DT_UNKNOWN 0 on some filesystems). */
  type: number;
}

/** Opens `path` relative to `dirfd` (the kernel follows symlinks unless flags has O_NOFOLLOW). */
export function openat(dirfd: number, path: BytePath, flags: number, mode = 0): number {
  const fd = c_openat(dirfd, cpath(path, 'openat'), flags | O_CLOEXEC, 'uint32_t', mode);
  if (fd < 0) fail('openat', path);
  return fd;
}

export function close(fd: number): void {
  if (c_close(fd) < 0) fail('close');
}

export function mkdirat(dirfd: number, path: BytePath, mode: number): void {
  if (c_mkdirat(dirfd, cpath(path, 'mkdirat'), mode) < 0) fail('mkdirat', path);
}

/** glibc's makedev() layout of dev_t. */
function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** Creates a device, FIFO or socket node; `mode` includes the S_IF* type bits. */
export function mknodat(dirfd: number, path: BytePath, mode: number, major = 0, minor = 0): void {
  if (c_mknodat(dirfd, cpath(path, 'mknodat'), mode, makedev(major, minor)) < 0) fail('mknodat', path);
}

/** Creates the symlink `path` (relative to dirfd) whose content is `target`, stored verbatim. */
export function symlinkat(target: BytePath, dirfd: number, path: BytePath): void {
  if (c_symlinkat(cpath(target, 'symlinkat'), dirfd, cpath(path, 'symlinkat')) < 0) fail('symlinkat', target, path);
}

/** Hardlinks oldpath to newpath. Without AT_SYMLINK_FOLLOW a symlink oldpath is linked itself. */
export function linkat(olddirfd: number, oldpath: BytePath, newdirfd: number, newpath: BytePath, flags = 0): void {
  if (c_linkat(olddirfd, cpath(oldpath, 'linkat'), newdirfd, cpath(newpath, 'linkat'), flags) < 0) fail('linkat', oldpath, newpath);
}

/** Removes a name; with AT_REMOVEDIR an (empty) directory. */
export function unlinkat(dirfd: number, path: BytePath, flags = 0): void {
  if (c_unlinkat(dirfd, cpath(path, 'unlinkat'), flags) < 0) fail('unlinkat', path);
}

export function renameat2(olddirfd: number, oldpath: BytePath, newdirfd: number, newpath: BytePath, flags = 0): void {
  if (c_renameat2(olddirfd, cpath(oldpath, 'renameat2'), newdirfd, cpath(newpath, 'renameat2'), flags) < 0) {
    fail('renameat2', oldpath, newpath);
  }
}

/** Changes owner; pass AT_SYMLINK_NOFOLLOW to change a symlink itself (lchown). -1 keeps an ID. */
export function fchownat(dirfd: number, path: BytePath, uid: number, gid: number, flags: number): void {
  if (c_fchownat(dirfd, cpath(path, 'fchownat'), uid >>> 0, gid >>> 0, flags) < 0) fail('fchownat', path);
}

/** fchownat(fd, "", uid, gid, AT_EMPTY_PATH): works on O_PATH fds too. */
export function fchownFd(fd: number, uid: number, gid: number): void {
  if (c_fchownat(fd, EMPTY_CPATH, uid >>> 0, gid >>> 0, AT_EMPTY_PATH) < 0) fail('fchownat');
}

export function fchown(fd: number, uid: number, gid: number): void {
  if (c_fchown(fd, uid >>> 0, gid >>> 0) < 0) fail('fchown');
}

/** chmod of an open (non-O_PATH) fd: never a symlink, whatever happens to its name. */
export function fchmod(fd: number, mode: number): void {
  if (c_fchmod(fd, mode) < 0) fail('fchmod');
}

/**
 * chmod by name. With AT_SYMLINK_NOFOLLOW glibc opens the name O_PATH|O_NOFOLLOW, refuses a
 * symlink with EOPNOTSUPP and changes the inode through /proc/self/fd, so a symlink is never
 * followed (and never changed: Linux symlinks have no mode).
 */
export function fchmodat(dirfd: number, path: BytePath, mode: number, flags: number): void {
  if (c_fchmodat(dirfd, cpath(path, 'fchmodat'), mode, flags) < 0) fail('fchmodat', path);
}

const timesBuf = Buffer.alloc(32);
function fillTimes(atime: TimeSpec, mtime: TimeSpec): Buffer {
  timesBuf.writeBigInt64LE(BigInt(atime.sec), 0);
  timesBuf.writeBigInt64LE(BigInt(atime.nsec), 8);
  timesBuf.writeBigInt64LE(BigInt(mtime.sec), 16);
  timesBuf.writeBigInt64LE(BigInt(mtime.nsec), 24);
  return timesBuf;
}

/** Sets atime and mtime with nanoseconds; AT_SYMLINK_NOFOLLOW sets a symlink's own times. */
export function utimensat(dirfd: number, path: BytePath, atime: TimeSpec, mtime: TimeSpec, flags: number): void {
  if (c_utimensat(dirfd, cpath(path, 'utimensat'), fillTimes(atime, mtime), flags) < 0) fail('utimensat', path);
}

export function futimens(fd: number, atime: TimeSpec, mtime: TimeSpec): void {
  if (c_futimens(fd, fillTimes(atime, mtime)) < 0) fail('futimens');
}

/** Largest symlink target Linux stores (PATH_MAX including the NUL). */
const linkBuf = Buffer.alloc(4096);

/** A symlink's target, verbatim, as a byte string. `path` '' reads an O_PATH fd's own link. */
export function readlinkat(dirfd: number, path: BytePath): BytePath {
  const n = c_readlinkat(dirfd, path === '' ? EMPTY_CPATH : cpath(path, 'readlinkat'), linkBuf, linkBuf.length);
  if (n < 0) fail('readlinkat', path);
  return linkBuf.toString('latin1', 0, n);
}

const statxBuf = Buffer.alloc(256);
function decodeStatx(b: Buffer): FileStat {
  // struct statx (<linux/stat.h>): offsets are part of the kernel ABI.
  return {
    nlink: b.readUInt32LE(16),
    uid: b.readUInt32LE(20),
    gid: b.readUInt32LE(24),
    mode: b.readUInt16LE(28),
    ino: b.readBigUInt64LE(32),
    size: Number(b.readBigUInt64LE(40)),
    mtime: { sec: Number(b.readBigInt64LE(112)), nsec: b.readUInt32LE(120) },
    rdevMajor: b.readUInt32LE(128),
    rdevMinor: b.readUInt32LE(132),
    devMajor: b.readUInt32LE(136),
    devMinor: b.readUInt32LE(140),
  };
}

/** statx of `path` relative to dirfd; flags usually AT_SYMLINK_NOFOLLOW (lstat semantics). */
export function fstatat(dirfd: number, path: BytePath, flags: number): FileStat {
  if (c_statx(dirfd, cpath(path, 'statx'), flags, STATX_WANTED, statxBuf) < 0) fail('statx', path);
  return decodeStatx(statxBuf);
}

/** statx of an fd itself (also O_PATH fds). */
export function fstat(fd: number): FileStat {
  if (c_statx(fd, EMPTY_CPATH, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_WANTED, statxBuf) < 0) fail('statx');
  return decodeStatx(statxBuf);
}

/** The S_IFMT bits of a mode. */
export function fileType(mode: number): number {
  return mode & S_IFMT;
}

const direntBuf = Buffer.alloc(1 << 16);

/**
 * Every entry of an open directory (fd opened O_RDONLY|O_DIRECTORY, read from its current
 * offset to the end), without '.' and '..', in the filesystem's order.
 */
export function readdirAt(fd: number): DirEntry[] {
  const out: DirEntry[] = [];
  for (;;) {
    const n = c_getdents64(fd, direntBuf, direntBuf.length);
    if (n < 0) fail('getdents64');
    if (n === 0) return out;
    // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[].
    for (let off = 0; off < n; ) {
      const reclen = direntBuf.readUInt16LE(off + 16);
      const type = direntBuf[off + 18];
      const nameStart = off + 19;
      const nameEnd = direntBuf.indexOf(0, nameStart);
      const name = direntBuf.toString('latin1', nameStart, nameEnd);
      if (name !== '.' && name !== '..') out.push({ name, type });
      off += reclen;
    }
  }
}

