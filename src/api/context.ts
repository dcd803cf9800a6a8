/**
 * api/context: errors get the use case's operation and object prepended where they are raised deep
 * inside (a tar entry, a blob), so the user reads `import rootfs.tar: read tar entry #12 ...`.
 * System errors the user can act on (a full disk, a permission) become BerthErrors with a hint
 * instead of surfacing as internal errors.
 */
import { BerthError, errnoOf, isBerthError } from '../errors/index.js';

const SYSTEM_HINTS: Record<string, string> = {
  ENOSPC: 'the disk is full: free space (or point --root at a larger file system) and run the command again; `berth gc` removes what a failed command left',
  EDQUOT: 'the disk quota is exhausted: free space and run the command again; `berth gc` removes what a failed command left',
  EACCES: 'permission denied: check the owner and mode of the path, or use a store of your own with --root',
  EPERM: 'operation not permitted: this needs privileges the process does not have',
  EROFS: 'the file system is read-only: use a writable location (--root DIR)',
  EMFILE: 'too many open files: raise the soft limit (ulimit -n) within the hard limit',
  ENFILE: 'the system is out of file handles: retry when the load is lower',
  EIO: 'an I/O error from the device: check the disk',
  ENOENT: 'a path that was expected to exist is missing',
  ENOTDIR: 'a path component is not a directory',
};

export function inContext(e: unknown, prefix: string): unknown {
  if (isBerthError(e)) {
    if (e.message.startsWith(prefix)) return e;
    return new BerthError(e.code, `${prefix}: ${e.message}`, { hint: e.hint, details: e.details, cause: e });
  }
  const code = errnoOf(e);
  if (code !== undefined && SYSTEM_HINTS[code] !== undefined && e instanceof Error) {
    const path = (e as NodeJS.ErrnoException).path;
    return new BerthError(`E_SYS_${code}`, `${prefix}: ${e.message}`, {
      hint: SYSTEM_HINTS[code],
      cause: e,
      ...(path !== undefined ? { details: { path } } : {}),
    });
  }
  return e;
}

export async function withContext<T>(prefix: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw inContext(e, prefix);
  }
}
