/**
 * `-v/--volume SRC:DST[:ro|rw]`: bind mounts from absolute host paths. Parsing follows moby
 * `volume/mounts/linux_parser.go` (split on `:`, absolute destination, `/` refused, duplicate
 * destinations refused); berth has no named or anonymous volumes, so a SRC that is not an absolute
 * path is an error rather than a volume name.
 */
import { posix } from 'node:path';
import { BerthError } from '../../errors/index.js';
import type { SpecMount } from './types.js';

export interface Volume {
  /** Absolute host path (cleaned). */
  source: string;
  /** Absolute container path (cleaned). */
  destination: string;
  readOnly: boolean;
  /** The flag text, for messages and provenance. */
  text: string;
}

function volumeError(text: string, reason: string, hint: string): BerthError {
  return new BerthError('E_SPEC_VOLUME', `parse --volume ${text}: ${reason}`, { hint, details: { volume: text } });
}

/** filepath.Clean for absolute paths: no `.`/`..`/duplicate slashes, no trailing slash. */
export function cleanPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

export function parseVolume(text: string): Volume {
  const parts = text.split(':');
  if (parts.length === 1) {
    throw volumeError(text, 'anonymous volumes are not supported', 'give a host directory and a container path: -v /host/dir:/container/dir');
  }
  if (parts.length > 3 || parts.some((p) => p === '')) {
    throw volumeError(text, `invalid volume specification: '${text}'`, 'write -v SRC:DST or -v SRC:DST:ro');
  }
  const [src, dst, mode] = parts as [string, string, string | undefined];
  if (!src.startsWith('/')) {
    throw volumeError(text, `"${src}" is not an absolute host path (named volumes are not supported)`, 'give the host directory as an absolute path');
  }
  if (!dst.startsWith('/')) {
    throw volumeError(text, `invalid mount path: '${dst}' mount path must be absolute`, 'give the container path as an absolute path');
  }
  const destination = cleanPath(dst);
  if (destination === '/') throw volumeError(text, "invalid specification: destination can't be '/'", 'mount over a directory inside the container');
  let readOnly = false;
  if (mode !== undefined) {
    if (mode === 'ro') readOnly = true;
    else if (mode !== 'rw') throw volumeError(text, `invalid mode: ${mode}`, 'the mode is ro or rw');
  }
  return { source: cleanPath(src), destination, readOnly, text };
}

/**
 * The OCI mount for a volume: a recursive bind with private propagation (Docker's default
 * `rprivate`). Read-only when asked: `ro` remounts the top of the bind read-only and mounts below
 * the source keep their flags; with `recursiveReadOnly` it is `rro`, read-only all the way down
 * (Docker 25+ `bind-recursive=enabled`, its default where the kernel supports it).
 */
export function volumeMount(v: Volume, recursiveReadOnly = false): SpecMount {
  const mode = v.readOnly ? (recursiveReadOnly ? 'rro' : 'ro') : 'rw';
  return { destination: v.destination, type: 'bind', source: v.source, options: ['rbind', mode, 'rprivate'] };
}

/** Number of path components: Docker mounts parents before children (daemon/volumes.go sortMounts). */
export function pathDepth(p: string): number {
  return p === '/' ? 0 : p.split('/').length - 1;
}
