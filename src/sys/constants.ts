/**
 * Linux ABI constants for the *at syscalls, openat2 and statx (values from <fcntl.h>,
 * <linux/openat2.h>, <linux/stat.h>; identical on x86_64 and aarch64, the two architectures berth
 * supports). Node's `fs.constants` lacks most of them (O_PATH, AT_*, RESOLVE_*).
 */

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_EMPTY_PATH = 0x1000;

export const O_RDONLY = 0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

/** openat2 `resolve` flags (<linux/openat2.h>). */
export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

/** renameat2 flags. */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** The syscall number of openat2 (437 in the unified table, the same on every architecture). */
export const SYS_openat2 = 437;

/** statx mask: type, mode, nlink, uid, gid, mtime, ino, size (STATX_BASIC_STATS minus blocks/atime/ctime). */
export const STATX_WANTED = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x40 | 0x100 | 0x200;

/** Largest xattr value (XATTR_SIZE_MAX) and name list (XATTR_LIST_MAX), <linux/limits.h>. */
export const XATTR_SIZE_MAX = 65536;
export const XATTR_LIST_MAX = 65536;

/** Most symlinks one path resolution follows before ELOOP (the kernel's MAXSYMLINKS). */
export const MAXSYMLINKS = 40;
