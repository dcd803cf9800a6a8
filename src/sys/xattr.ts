/**
 * Extended attributes without following symlinks: the l* calls (by path, the last component
 * never followed) and the f* calls (by open fd). Node has no xattr API, and the npm `fs-xattr`
 * package uses the following variants, which write through a symlink to its target.
 *
 * Names are byte strings (latin1), values raw bytes. To reach a name relative to a directory fd
 * use `procFdPath(dirfd, name)`: the magic link /proc/self/fd/N is followed as an intermediate
 * component (it is the directory itself), while the last component is not.
 */
import type { BytePath } from '../layer/tar/types.js';
import { XATTR_LIST_MAX, XATTR_SIZE_MAX } from './constants.js';
import { cpath, fail, failXattr, lastErrno, libc } from './libc.js';
import { constants as osConstants } from 'node:os';

type Fn<A extends unknown[], R> = (...args: A) => R;

const c_lsetxattr = libc.func('int lsetxattr(const char *path, const char *name, const uint8_t *value, size_t size, int flags)') as Fn<
  [Buffer, Buffer, Buffer, number, number],
  number
>;
const c_lgetxattr = libc.func('intptr_t lgetxattr(const char *path, const char *name, uint8_t *value, size_t size)') as Fn<
  [Buffer, Buffer, Buffer, number],
  number
>;
const c_llistxattr = libc.func('intptr_t llistxattr(const char *path, uint8_t *list, size_t size)') as Fn<[Buffer, Buffer, number], number>;
const c_lremovexattr = libc.func('int lremovexattr(const char *path, const char *name)') as Fn<[Buffer, Buffer], number>;
const c_fsetxattr = libc.func('int fsetxattr(int fd, const char *name, const uint8_t *value, size_t size, int flags)') as Fn<
  [number, Buffer, Buffer, number, number],
  number
>;
const c_fgetxattr = libc.func('intptr_t fgetxattr(int fd, const char *name, uint8_t *value, size_t size)') as Fn<
  [number, Buffer, Buffer, number],
  number
>;
const c_flistxattr = libc.func('intptr_t flistxattr(int fd, uint8_t *list, size_t size)') as Fn<[number, Buffer, number], number>;
const c_fremovexattr = libc.func('int fremovexattr(int fd, const char *name)') as Fn<[number, Buffer], number>;

/** setxattr flags. */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

const valueBuf = Buffer.alloc(XATTR_SIZE_MAX);
const listBuf = Buffer.alloc(XATTR_LIST_MAX);
const ENODATA = osConstants.errno.ENODATA;

/** `/proc/self/fd/<dirfd>/<name>`: the name inside an open directory, for the l* calls. */
export function procFdPath(dirfd: number, name: BytePath): BytePath {
  return `/proc/self/fd/${dirfd}/${name}`;
}

function splitNames(n: number): string[] {
  const names: string[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    if (listBuf[i] === 0) {
      if (i > start) names.push(listBuf.toString('latin1', start, i));
      start = i + 1;
    }
  }
  return names;
}

export function lsetxattr(path: BytePath, name: string, value: Buffer, flags = 0): void {
  if (c_lsetxattr(cpath(path, 'lsetxattr'), cpath(name, 'lsetxattr'), value, value.length, flags) < 0) failXattr('lsetxattr', path, name);
}

/** The value, or undefined when the attribute does not exist (ENODATA). */
export function lgetxattr(path: BytePath, name: string): Buffer | undefined {
  const n = c_lgetxattr(cpath(path, 'lgetxattr'), cpath(name, 'lgetxattr'), valueBuf, valueBuf.length);
  if (n < 0) {
    if (lastErrno() === ENODATA) return undefined;
    failXattr('lgetxattr', path, name);
  }
  return Buffer.from(valueBuf.subarray(0, n));
}

/** Attribute names in the kernel's order (callers sort when order matters). */
export function llistxattr(path: BytePath): string[] {
  const n = c_llistxattr(cpath(path, 'llistxattr'), listBuf, listBuf.length);
  if (n < 0) fail('llistxattr', path);
  return splitNames(n);
}

export function lremovexattr(path: BytePath, name: string): void {
  if (c_lremovexattr(cpath(path, 'lremovexattr'), cpath(name, 'lremovexattr')) < 0) failXattr('lremovexattr', path, name);
}

export function fsetxattr(fd: number, name: string, value: Buffer, flags = 0): void {
  if (c_fsetxattr(fd, cpath(name, 'fsetxattr'), value, value.length, flags) < 0) failXattr('fsetxattr', undefined, name);
}

export function fgetxattr(fd: number, name: string): Buffer | undefined {
  const n = c_fgetxattr(fd, cpath(name, 'fgetxattr'), valueBuf, valueBuf.length);
  if (n < 0) {
    if (lastErrno() === ENODATA) return undefined;
    failXattr('fgetxattr', undefined, name);
  }
  return Buffer.from(valueBuf.subarray(0, n));
}

export function flistxattr(fd: number): string[] {
  const n = c_flistxattr(fd, listBuf, listBuf.length);
  if (n < 0) fail('flistxattr');
  return splitNames(n);
}

export function fremovexattr(fd: number, name: string): void {
  if (c_fremovexattr(fd, cpath(name, 'fremovexattr')) < 0) failXattr('fremovexattr', undefined, name);
}
