/**
 * Path resolution confined to a root directory: the primitive that defeats every
 * symlink/hardlink/`..` escape in layer extraction (layers-and-capabilities.md section 5).
 *
 * `openInRoot(rootfd, path, flags)` resolves `path` as if `rootfd` were `/`: absolute symlinks
 * restart at the root, `..` stops at the root. It uses openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) (Linux >= 5.6), where the kernel does this atomically, and falls back to
 * `walkInRoot`, an fd-relative walk with the same semantics, when the kernel (or a seccomp
 * filter) says ENOSYS. The walk never resolves a component by path string: each step is an
 * O_PATH|O_NOFOLLOW open relative to the previous directory's fd, and symlinks are read and
 * re-resolved by the walk itself, inside the root.
 */
import { constants as osConstants } from 'node:os';
import type { BytePath } from '../layer/tar/types.js';
import {
  MAXSYMLINKS,
  O_CLOEXEC,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
  SYS_openat2,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
} from './constants.js';
import { close, fstat, openat, readlinkat } from './fs.js';
import { cpath, lastErrno, libc, sysError } from './libc.js';

const c_syscall = libc.func('long syscall(long nr, ...)') as (...args: unknown[]) => number;

const E = osConstants.errno;

/** struct open_how { u64 flags; u64 mode; u64 resolve; } */
const howBuf = Buffer.alloc(24);

/** openat2(2). Throws SysError (ENOSYS on kernels before 5.6). */
export function openat2(dirfd: number, path: BytePath, flags: number, resolve: number, mode = 0): number {
  howBuf.writeBigUInt64LE(BigInt(flags | O_CLOEXEC), 0);
  howBuf.writeBigUInt64LE(BigInt(mode), 8);
  howBuf.writeBigUInt64LE(BigInt(resolve), 16);
  const fd = c_syscall(SYS_openat2, 'int', dirfd, 'const char *', cpath(path, 'openat2'), 'void *', howBuf, 'size_t', 24);
  if (fd < 0) throw sysError(lastErrno(), 'openat2', path);
  return fd;
}

let openat2Usable: boolean | undefined;

/** Whether openInRoot uses openat2 (probed on first use; false after an ENOSYS). */
export function openat2Available(): boolean {
  if (openat2Usable === undefined) {
    try {
      close(openat2(-100 /* AT_FDCWD */, '/', O_PATH | O_DIRECTORY, RESOLVE_NO_MAGICLINKS));
      openat2Usable = true;
    } catch (e) {
      // Old kernels say ENOSYS; some seccomp profiles answer EPERM for syscalls they do not know.
      const code = (e as { code?: string }).code;
      if (code !== 'ENOSYS' && code !== 'EPERM') throw e;
      openat2Usable = false;
    }
  }
  return openat2Usable;
}

/**
 * Chooses the resolver: `true` uses openat2 where the kernel has it, `false` always walks. Only
 * for environments where openat2 misbehaves and for testing both resolvers on the same input.
 */
export function setOpenat2Enabled(enabled: boolean): void {
  openat2Usable = enabled ? undefined : false;
}

/**
 * Opens `path` (relative; a leading '/' means the root too) inside the root `rootfd`. The last
 * component is followed if it is a symlink unless `flags` has O_NOFOLLOW (then, with O_PATH, the
 * symlink itself is opened). Returns a new fd (O_CLOEXEC); throws SysError (ENOENT, ENOTDIR,
 * ELOOP, ...) naming `path`.
 */
export function openInRoot(rootfd: number, path: BytePath, flags: number): number {
  if (openat2Available()) {
    try {
      return openat2(rootfd, path === '' ? '.' : path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOSYS') throw e;
      openat2Usable = false;
    }
  }
  return walkInRoot(rootfd, path, flags);
}

export interface WalkOptions {
  /**
   * Called for a missing component (ENOENT) with the fd of the directory that should hold it and
   * its name; it must create it (as a directory) and return, and the walk retries the component.
   * Without it, a missing component throws ENOENT. This makes the walk `mkdir -p` inside a root.
   */
  onMissing?: (dirfd: number, name: BytePath) => void;
}

function components(path: BytePath): BytePath[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * The fd-relative walk behind openInRoot, usable directly to create missing directories on the
 * way (`onMissing`). Same semantics as openat2 RESOLVE_IN_ROOT: symlinks are expanded in the
 * root, `..` never climbs above it, at most 40 symlinks (ELOOP).
 */
export function walkInRoot(rootfd: number, path: BytePath, flags: number, opts: WalkOptions = {}): number {
  // stack[i] is the fd of the i-th directory below the root on the physical path walked so far;
  // stack[0] is the root itself (borrowed, never closed here).
  const stack: number[] = [rootfd];
  const queue = components(path);
  let links = 0;
  const cur = (): number => stack[stack.length - 1];
  try {
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (name === '..') {
        if (stack.length > 1) close(stack.pop()!);
        continue;
      }
      const last = queue.length === 0;
      let fd: number;
      try {
        fd = openat(cur(), name, O_PATH | O_NOFOLLOW);
      } catch (e) {
        if ((e as { code?: string }).code !== 'ENOENT' || opts.onMissing === undefined) throw e;
        opts.onMissing(cur(), name);
        fd = openat(cur(), name, O_PATH | O_NOFOLLOW);
      }
      const type = fstat(fd).mode & S_IFMT;
      if (type === S_IFLNK && (!last || (flags & O_NOFOLLOW) === 0)) {
        let target: BytePath;
        try {
          target = readlinkat(fd, '');
        } finally {
          close(fd);
        }
        if (++links > MAXSYMLINKS) throw sysError(E.ELOOP, 'openat', path);
        if (target.startsWith('/')) while (stack.length > 1) close(stack.pop()!);
        // A link to "/" or "." expands to nothing: the walk goes on from the current directory.
        queue.unshift(...components(target));
        continue;
      }
      if (!last) {
        if (type !== S_IFDIR) {
          close(fd);
          throw sysError(E.ENOTDIR, 'openat', path);
        }
        stack.push(fd);
        continue;
      }
      if ((flags & O_DIRECTORY) !== 0 && type !== S_IFDIR) {
        close(fd);
        throw sysError(type === S_IFLNK ? E.ELOOP : E.ENOTDIR, 'openat', path);
      }
      if ((flags & O_PATH) !== 0) return fd;
      // The caller wants a real fd: open the same name again, not following, and make sure it is
      // still the inode the walk checked.
      try {
        const real = reopen(cur(), name, flags, path);
        const a = fstat(fd);
        const b = fstat(real);
        if (a.ino !== b.ino || a.devMajor !== b.devMajor || a.devMinor !== b.devMinor) {
          close(real);
          throw sysError(E.EAGAIN, 'openat', path);
        }
        return real;
      } finally {
        close(fd);
      }
    }
    // Empty path, or one that ended on '..' or a link to the root: the current directory.
    return reopen(cur(), '.', flags, path);
  } finally {
    for (let i = stack.length - 1; i > 0; i--) close(stack[i]);
  }
}

function reopen(dirfd: number, name: BytePath, flags: number, path: BytePath): number {
  try {
    return openat(dirfd, name, flags | O_NOFOLLOW);
  } catch (e) {
    const err = e as { path?: string; message: string };
    err.message = err.message.replace(`'${name}'`, `'${path}'`);
    err.path = path;
    throw e;
  }
}
