/**
 * The one place berth loads the C library through koffi, and the error shape every binding throws.
 *
 * Functions are declared once at module load so a call costs one FFI transition, not a lookup.
 * Variadic C functions (openat, syscall) are declared variadic: passing a fixed prototype for
 * them happens to work on x86_64 and aarch64 Linux, but it is not the ABI.
 */
import type { LibraryHandle } from 'koffi';
import { koffi } from './koffi.js';
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { BerthError } from '../errors/index.js';
import type { BytePath } from '../layer/tar/types.js';

function loadLibc(): LibraryHandle {
  try {
    return koffi.load('libc.so.6');
  } catch (cause) {
    throw new BerthError('E_SYS_LIBC', 'load libc.so.6: the GNU C library could not be loaded', {
      hint: 'berth needs Linux with glibc (Debian, Ubuntu, Fedora, ...); musl-based systems are not supported',
      cause,
    });
  }
}

export const libc = loadLibc();

/** Reads errno as left by the last FFI call (koffi saves it right after the call returns). */
export const lastErrno = (): number => koffi.errno();

/** A Node-style system error: `code` ('EPERM'), negative `errno`, `syscall`, `path`, `dest`. */
export interface SysError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
  dest?: string;
}

const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(osConstants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);
const ERRNO_TEXT = getSystemErrorMap();

/** The errno name ('ENOENT') of a positive errno number. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/**
 * Builds the error Node's own fs functions would throw, so `errnoOf(e)` and `e.code === 'EPERM'`
 * work the same for both. Paths are shown as given (byte strings).
 */
export function sysError(errno: number, syscall: string, path?: string, dest?: string, attr?: string): SysError {
  const code = errnoName(errno);
  const text = ERRNO_TEXT.get(-errno)?.[1] ?? 'unknown error';
  let message = `${code}: ${text}, ${syscall}`;
  if (path !== undefined) message += ` '${path}'`;
  if (dest !== undefined) message += ` -> '${dest}'`;
  if (attr !== undefined) message += ` (${attr})`;
  const e = new Error(message) as SysError;
  e.code = code;
  e.errno = -errno;
  e.syscall = syscall;
  if (path !== undefined) e.path = path;
  if (dest !== undefined) e.dest = dest;
  return e;
}

/** Throws the current errno as a SysError. */
export function fail(syscall: string, path?: string, dest?: string): never {
  throw sysError(lastErrno(), syscall, path, dest);
}

/** Throws the current errno as a SysError about the extended attribute `attr`. */
export function failXattr(syscall: string, path: string | undefined, attr: string): never {
  throw sysError(lastErrno(), syscall, path, undefined, attr);
}

const NUL = 0;

/**
 * A NUL-terminated C string of a byte-string path. A path that itself contains NUL would be
 * silently truncated by the kernel (naming a different file), so it is refused with EINVAL.
 */
export function cpath(p: BytePath, syscall: string): Buffer {
  if (p.includes('\0')) throw sysError(osConstants.errno.EINVAL, syscall, p.replaceAll('\0', '\\0'));
  const b = Buffer.allocUnsafe(p.length + 1);
  b.write(p, 0, 'latin1');
  b[p.length] = NUL;
  return b;
}

/** An empty C string (for AT_EMPTY_PATH calls), shared: the kernel only reads it. */
export const EMPTY_CPATH = Buffer.from([NUL]);
