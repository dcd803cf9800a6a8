/**
 * runtime/userns/: the rootless user namespace. Preflight checks with a specific error per cause,
 * the holder that creates a namespace from Node (util-linux unshare + newuidmap/newgidmap, or
 * direct writes as root), verification of the applied maps, and joining a live namespace with
 * nsenter. The maps themselves are computed by idmap/ from host/ facts.
 */
export {
  joinUserNamespace,
  spawnInUserNamespace,
  type ExitStatus,
  type NamespaceKind,
  type StdioTarget,
  type UserNsChild,
  type UserNsJoinOptions,
  type UserNsSpawnOptions,
} from './holder.js';
export {
  diagnoseMapToolFailure,
  diagnoseUnshareFailure,
  preflightRootless,
  preflightRootlessTools,
  rootlessMaps,
  type MapToolFailure,
} from './preflight.js';
export { sharedUserNamespace } from './shared.js';
export { compareStoredMap, type StoredMaps } from '../../idmap/index.js';
