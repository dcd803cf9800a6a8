/**
 * mount(2) and umount2(2), for the one mount berth makes from its own process: a rootful
 * container's overlay (runtime/run/execute.ts). Paths are UTF-8 strings (the store's own paths).
 */
import { cpath, fail, lastErrno, libc } from './libc.js';
import { constants as osConstants } from 'node:os';

type Fn<A extends unknown[], R> = (...args: A) => R;
const c_mount = libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)') as Fn<
  [Buffer, Buffer, Buffer, number, Buffer],
  number
>;
const c_umount2 = libc.func('int umount2(const char *target, int flags)') as Fn<[Buffer, number], number>;

const MNT_DETACH = 2;
const UMOUNT_NOFOLLOW = 8;

const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

/** Mounts an overlay at `target` with the given option string (lowerdir=...,upperdir=...,workdir=...). */
export function mountOverlay(source: string, target: string, options: string): void {
  if (c_mount(cpath(utf8(source), 'mount'), cpath(utf8(target), 'mount'), cpath('overlay', 'mount'), 0, cpath(utf8(options), 'mount')) !== 0) fail('mount', target);
}

/**
 * Detaches whatever is mounted at `target` (lazily: a process still inside keeps its view until it
 * leaves). Returns false when nothing is mounted there or the path does not exist.
 */
export function detachMount(target: string): boolean {
  if (c_umount2(cpath(utf8(target), 'umount2'), MNT_DETACH | UMOUNT_NOFOLLOW) === 0) return true;
  const e = lastErrno();
  if (e === osConstants.errno.EINVAL || e === osConstants.errno.ENOENT) return false;
  return fail('umount2', target);
}
