/**
 * berth's library entry: the use cases (api/), their option and result types, and BerthError.
 */
export { BerthError, isBerthError } from './errors/index.js';
export type { Warning, WarningSink, Finding, Severity } from './errors/index.js';
export { importImage } from './api/import.js';
export type { ImportOptions, ImportResult } from './api/import.js';
export { loadArchive } from './api/load.js';
export type { LoadOptions, LoadResult } from './api/load.js';
export { saveImages } from './api/save.js';
export type { SaveOptions, ArchiveFormat } from './api/save.js';
export { unpackImage } from './api/unpack.js';
export type { UnpackOptions, UnpackResult } from './api/unpack.js';
export { listImages, inspectImage, tagImage, removeImages, collectGarbage } from './api/images.js';
export { explainImage } from './api/explain.js';
export type { ExplainImageOptions } from './api/explain.js';
export type { ExplainReport } from './explain/index.js';
export { run, listContainers, removeContainers } from './api/run.js';
export type { RunOptions, RunResult, RunStdioOption, ContainerSummary, RemoveContainerOptions } from './api/run.js';
export { spawnInUserNamespace } from './runtime/userns/index.js';
export type { UserNsChild, UserNsSpawnOptions, StdioTarget, ExitStatus } from './runtime/userns/index.js';
export { build } from './api/build.js';
export type { BuildOptions, BuildResult, BuildEvent } from './api/build.js';
export { pullImage, pushImage, login, logout, ensureImage } from './api/registry.js';
export type { PullOptions, PullResult, PullEvent, PushOptions, PushResult, PushEvent, LoginOptions } from './api/registry.js';
