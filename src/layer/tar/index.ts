/**
 * layer/tar/: berth's own tar codec. Pure (no fs, no process state): bytes in, entries out, and
 * back. Reads ustar, GNU (long names, base-256 numbers) and POSIX pax (per-entry and global
 * records); writes ustar with pax records where a value does not fit. Paths, link targets and
 * xattr names are byte strings; xattr values and unknown pax records are kept as raw bytes, so
 * `decodeTar(encodeTar(x))` gives back `x`. See docs/tar-codec.md.
 */

export { decodeTar, displayPath, type DecodeTarOptions } from './decode.js';
export { encodeHeader, encodeTar, type TarEncodeEntry } from './encode.js';
export {
  defaultTarLimits,
  type BytePath,
  type EntryType,
  type TarEntry,
  type TarHeader,
  type TarLimits,
  type TarTime,
} from './types.js';
