/**
 * runtime/spec/: the OCI runtime config (config.json) berth hands to runc or crun. Pure: it takes
 * one plain SpecInputs object from the caller's resolve phase and builds the spec with an ordered
 * pipeline of named transformers that record, per field, which step and which input set it
 * (provenance, which `explain` reports); validateSpec checks the result before runc sees it.
 *
 * Defaults are Docker's (moby daemon/pkg/oci/defaults.go, daemon/oci_linux.go); rootless and
 * user-namespace adjustments follow runc specconv.ToRootless and podman. docs/runtime-spec.md
 * lists every transformer, its inputs and its sources.
 */
import { buildSpec as build, type BuildOptions } from './build.js';
import { checkInputs } from './inputs.js';
import { defaultPipeline } from './transformers.js';
import type { BuildResult, SpecInputs, SpecTransformer } from './types.js';

export type { BuildOptions };

/**
 * Builds config.json from `inputs` with `pipeline` (default: berth's). Same inputs, same bytes
 * (serializeSpec). Throws BerthError on invalid inputs: E_SPEC_INPUT (unknown key, contradictory
 * or malformed member), then whatever a step refuses (E_SPEC_*, E_CAP_UNKNOWN).
 */
export function buildSpec(inputs: SpecInputs, pipeline: readonly SpecTransformer[] = defaultPipeline, options: BuildOptions = {}): BuildResult {
  checkInputs(inputs);
  return build(inputs, pipeline, options);
}

export { emptySpec, pointer, pointerToken, serializeSpec } from './build.js';
export { SPEC_INPUT_KEYS, checkInputs } from './inputs.js';
export { INITIAL_NAMESPACE, SPEC_ANNOTATIONS, defaultPipeline, transformerNamed } from './transformers.js';
export { resolveArgs, resolveCwd, type ArgsFlags, type ResolvedArgs, type ResolvedCwd } from './process.js';
export { parseEnvFile, resolveEnv, type EnvOptions, type ResolvedEnv } from './env.js';
export { checkSysctl, parseSysctl, sysctlNamespace, type Sysctl } from './sysctl.js';
export { cleanPath, parseVolume, volumeMount, type Volume } from './volumes.js';
export { validateSpec, type ValidateContext } from './validate.js';
export {
  DEFAULT_NOFILE,
  DEFAULT_PATH,
  DEFAULT_SHM_SIZE,
  DOCKER_NAMESPACES,
  PING_GROUP_MAX,
  TTY_GID,
  dockerDefaultMounts,
  dockerDeviceRules,
  dockerMaskedPaths,
  dockerReadonlyPaths,
  sysRbindMount,
} from './defaults.js';
export { OCI_VERSION } from './types.js';
export type {
  BuildResult,
  EnvSetting,
  NetworkMode,
  Provenance,
  ProvenanceEntry,
  RuntimeNamespace,
  RuntimeSpec,
  SpecCapabilities,
  SpecDeviceCgroup,
  SpecIdMapping,
  SpecIdentity,
  SpecInputs,
  SpecLinux,
  SpecMount,
  SpecNamespace,
  SpecNamespaceType,
  SpecProcess,
  SpecRlimit,
  SpecRoot,
  SpecTransformer,
  SpecUser,
  TransformContext,
} from './types.js';
