/**
 * api/context: errors get the use case's operation and object prepended where they are raised deep
 * inside (a tar entry, a blob), so the user reads `import rootfs.tar: read tar entry #12 ...`.
 */
import { BerthError, isBerthError } from '../errors/index.js';

export function inContext(e: unknown, prefix: string): unknown {
  if (!isBerthError(e) || e.message.startsWith(prefix)) return e;
  return new BerthError(e.code, `${prefix}: ${e.message}`, { hint: e.hint, details: e.details, cause: e });
}

export async function withContext<T>(prefix: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw inContext(e, prefix);
  }
}
