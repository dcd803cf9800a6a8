/**
 * idmap/: user-namespace ID mapping as pure data. ID ranges and maps with their translations and
 * the kernel's rules; subuid/subgid text and getsubids output; the rootless (intermediate) map
 * built from them; container maps for `--userns` modes and `--uidmap`; and coverage checks that
 * name the file owners a map cannot hold. No I/O: host/ reads the files, runtime/userns applies maps.
 */
export {
  ID_LIMIT,
  MAX_MAP_BYTES,
  MAX_MAP_LINES,
  describeMap,
  describeRange,
  formatIdMap,
  identityOver,
  mapSize,
  normalizeMap,
  parseIdMapText,
  sameMapping,
  sortByContainer,
  toContainer,
  toHost,
  validateMap,
  type IdMap,
  type IdRange,
} from './ranges.js';
export {
  breakInsert,
  fillIdMap,
  formatIdMapSpecEntry,
  parseIdMapSpec,
  resolveIdMapSpecs,
  type IdKind,
  type IdMapSpecEntry,
  type ResolveIdMapOptions,
} from './spec.js';
export {
  formatSubidFile,
  parseGetsubidsOutput,
  parseSubidFile,
  selectSubids,
  type ParseSubidOptions,
  type SubidEntry,
  type SubidOwner,
  type SubidRange,
} from './subid.js';
export { buildRootlessMap, compareStoredMap, namespaceSize, type RootlessMapContext, type StoredMaps } from './rootless.js';
export {
  containerIdToHost,
  containerUserns,
  parseUsernsMode,
  validateContainerMap,
  type ContainerUserns,
  type ContainerUsernsContext,
  type ContainerUsernsRequest,
  type UsernsMode,
} from './userns.js';
export { uncoveredIds, type UncoveredIds, type UncoveredOptions } from './coverage.js';
export { countIntervals, normalizeIntervals, subtractIntervals, takeLowest, type Interval } from './intervals.js';
