/**
 * runtime/run/: running a container on an OCI runtime (runc, or crun). It owns the image rootfs
 * cache (unpacked once per chain ID, inside the rootless user namespace when rootless), the
 * per-container bundle and overlay, the payload that mounts the rootfs in a private mount namespace
 * and execs the runtime in the foreground, signal forwarding and exit status, the container
 * records, and the cleanup that removes everything even after berth itself was killed.
 * The config.json itself comes from runtime/spec; the user namespace from runtime/userns.
 */
export { executeContainer, rootfsMethod, type ExecuteInput, type ExecuteResult, type RunStdio } from './execute.js';
export { reapStale, removeContainer, removeTree, stopLeftovers, type CleanupContext, type ReapResult } from './cleanup.js';
export { BUNDLE, ContainerLayout, checkContainerName, isContainerId } from './layout.js';
export {
  PAYLOAD_SETUP_FAILED,
  parseRuntimeLog,
  payloadArgv,
  runtimeArgv,
  startFailure,
  type PayloadInput,
  type RootfsMethod,
  type RuntimeArgvInput,
  type RuntimeLogEntry,
  type StartFailureKind,
} from './payload.js';
export {
  RECORD_VERSION,
  listContainerIds,
  parseRecord,
  parseStatStart,
  processStamp,
  readRecord,
  stampAlive,
  writeRecord,
  type ContainerRecord,
  type ContainerStatus,
  type ProcessStamp,
} from './record.js';
export { ensureRootfs, rootfsKey, unpackChildPath, type CachedRootfs, type RootfsRequest } from './rootfs.js';
export { startPayload, type RunningPayload, type StartPayloadOptions } from './runner.js';
export { parseRuntimeState, readInitProcess, signalInit, waitGone } from './state.js';
export { mapOwnerThrough, type UnpackRequest } from './unpack-request.js';
