/**
 * layer/: image layers as changesets of a root filesystem. Applying a layer onto a directory
 * (unpack.ts: OCI whiteouts, unlink-then-recreate, every path resolved inside the root, owners,
 * xattrs, file capabilities, setuid bits and nanosecond mtimes), reading a directory back as
 * layer entries (pack.ts), and the pure rules both share: entry-name normalisation and
 * whiteout names (paths.ts), and which extended attributes cross the boundary (xattrs.ts).
 * The tar byte format is tar/, compression compress.ts, the per-layer file index fileindex.ts.
 */
export {
  applyLayer,
  defaultApplyLimits,
  type ApplyEntry,
  type ApplyLimits,
  type ApplyOptions,
  type ApplyStats,
  type Privilege,
} from './unpack.js';
export { packDirectory, type PackEntry, type PackOptions } from './pack.js';
export {
  AUFS_META_PREFIX,
  OPAQUE_WHITEOUT,
  WHITEOUT_PREFIX,
  classifyWhiteout,
  displayEntryPath,
  normaliseEntryPath,
  pathKey,
  type NormalisedPath,
  type WhiteoutKind,
} from './paths.js';
export {
  filterXattrs,
  isManagedXattr,
  normaliseCapability,
  type CapabilityNormalisation,
  type XattrDecision,
  type XattrDrop,
  type XattrDropReason,
  type XattrPolicy,
} from './xattrs.js';
