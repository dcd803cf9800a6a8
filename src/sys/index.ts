/**
 * sys/: typed bindings (koffi, libc) for the Linux syscalls Node lacks: fd-relative file
 * operations (openat, mkdirat, mknodat, symlinkat, linkat, unlinkat, renameat2, fchownat,
 * fchmod, utimensat with nanoseconds, readlinkat, statx, getdents64), extended attributes that
 * never follow symlinks (l* and f* variants), and resolution confined to a root (openat2
 * RESOLVE_IN_ROOT with an fd-relative fallback walk). Edge module: it does I/O and nothing else;
 * policy (what to create, which xattrs to keep) lives in layer/.
 *
 * Every failure is a Node-style error ({ code: 'EPERM', errno, syscall, path }), so `errnoOf()`
 * from errors/ reads it. Paths are byte strings (layer/tar/types.ts). flock lives in flock.ts.
 */
export * from './constants.js';
export { errnoName, sysError, type SysError } from './libc.js';
export {
  close,
  fchmod,
  fchmodat,
  fchown,
  fchownFd,
  fchownat,
  fileType,
  fstat,
  fstatat,
  futimens,
  linkat,
  mkdirat,
  mknodat,
  openat,
  readdirAt,
  readlinkat,
  renameat2,
  symlinkat,
  unlinkat,
  utimensat,
  type DirEntry,
  type FileStat,
  type TimeSpec,
} from './fs.js';
export {
  XATTR_CREATE,
  XATTR_REPLACE,
  fgetxattr,
  flistxattr,
  fremovexattr,
  fsetxattr,
  lgetxattr,
  llistxattr,
  lremovexattr,
  lsetxattr,
  procFdPath,
} from './xattr.js';
export { openInRoot, openat2, openat2Available, setOpenat2Enabled, walkInRoot, type WalkOptions } from './resolve.js';
