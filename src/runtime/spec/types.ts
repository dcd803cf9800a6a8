/**
 * runtime/spec/types: the OCI runtime-spec subset berth writes (config.json), the plain inputs the
 * builder takes, and the provenance it returns.
 *
 * Field names and meanings follow opencontainers/runtime-spec `config.md` and `config-linux.md`
 * (spec 1.0.2, what runc 1.1 and crun 1.8 accept). Only the members berth sets are typed.
 */
import type { ContainerConfig, ImageConfig } from '../../oci/index.js';
import type { IdMap } from '../../idmap/index.js';
import type { ContainerUserns } from '../../idmap/index.js';
import type { Rlimit, RlimitName } from '../../host/parse.js';
import type { Warning } from '../../errors/index.js';

/** runtime-spec version written to `ociVersion` (runc 1.1.5 reports spec 1.0.2-dev). */
export const OCI_VERSION = '1.0.2';

export interface SpecUser {
  uid: number;
  gid: number;
  /** Passed to setgroups(2) as is; berth always includes the primary gid (initgroups semantics). */
  additionalGids?: number[];
  umask?: number;
}

/** Capability names as `CAP_X`, sorted. */
export interface SpecCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

export interface SpecRlimit {
  /** e.g. `RLIMIT_NOFILE`. */
  type: string;
  soft: number;
  hard: number;
}

export interface SpecProcess {
  terminal?: boolean;
  user: SpecUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: SpecCapabilities;
  rlimits?: SpecRlimit[];
  noNewPrivileges?: boolean;
}

export interface SpecRoot {
  /** Relative to the bundle directory. */
  path: string;
  readonly?: boolean;
}

export interface SpecMount {
  /** Absolute path inside the container. */
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export type SpecNamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

export interface SpecNamespace {
  type: SpecNamespaceType;
  /** Join an existing namespace instead of creating one. */
  path?: string;
}

/** One line of uid_map/gid_map: `containerID hostID size`, host IDs in the namespace the runtime runs in. */
export interface SpecIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface SpecDeviceCgroup {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}

export interface SpecLinux {
  namespaces: SpecNamespace[];
  uidMappings?: SpecIdMapping[];
  gidMappings?: SpecIdMapping[];
  sysctl?: Record<string, string>;
  resources?: { devices?: SpecDeviceCgroup[] };
  maskedPaths?: string[];
  readonlyPaths?: string[];
  rootfsPropagation?: string;
  cgroupsPath?: string;
}

/** config.json as berth writes it. */
export interface RuntimeSpec {
  ociVersion: string;
  process: SpecProcess;
  root: SpecRoot;
  hostname?: string;
  mounts: SpecMount[];
  annotations?: Record<string, string>;
  linux: SpecLinux;
}

/**
 * The identity core's answer for the process (identity.resolveIdentity's ResolvedIdentity fits as is).
 * `because` lines name the flag and the passwd/group lines behind each field; they become provenance.
 */
export interface SpecIdentity {
  uid: number;
  gid: number;
  /** The groups the process gets, primary gid included (sorted and deduplicated by the builder). */
  additionalGids: readonly number[];
  /** HOME when the environment does not set it. */
  home: string;
  because?: readonly string[];
}

/** An environment entry with the input it came from, e.g. `--env-file app.env:3`. */
export interface EnvSetting {
  /** `NAME=value`, or `NAME` alone: take it from the caller's environment, or unset it when absent there. */
  value: string;
  source: string;
}

/** The namespace the OCI runtime runs in: the initial one when rootful, berth's intermediate one when rootless. */
export interface RuntimeNamespace {
  /** Its uid map (inside -> outside); rootful: `0 0 4294967295`. */
  uidMap: IdMap;
  gidMap: IdMap;
  /** True when it is berth's rootless intermediate namespace. */
  rootless: boolean;
}

export type NetworkMode = 'none' | 'host';

/**
 * Everything `buildSpec` reads: one plain object produced by the caller's resolve phase. No field
 * is read from the environment; the same inputs give the same bytes.
 */
export interface SpecInputs {
  /** The image config (its `config` member: Entrypoint, Cmd, Env, WorkingDir). */
  image: Pick<ImageConfig, 'config'> | { config?: ContainerConfig };
  identity: SpecIdentity;
  /** The container ID (64 hex digits); the default hostname is its first 12 characters. */
  containerId: string;
  /** `--hostname`. */
  hostname?: string;
  /** The host's own hostname: Docker uses it with `--network host` when no --hostname is given. */
  hostHostname?: string;
  /** `--entrypoint`: a string is one word as Docker's CLI passes it; '' resets the image's. */
  entrypoint?: string | readonly string[];
  /** The command words after IMAGE. */
  cmd?: readonly string[];
  /** Arguments already resolved by the caller; cannot be combined with entrypoint/cmd. */
  args?: readonly string[];
  /** `--env-file` entries then `-e` values, in command-line order (later wins). Strings are `-e` values. */
  env?: readonly (string | EnvSetting)[];
  /** The caller's environment, consulted for `-e NAME` without a value (Docker's CLI semantics). */
  hostEnv?: Readonly<Record<string, string | undefined>>;
  /** `-w/--workdir`. */
  workdir?: string;
  /** `-t`: allocate a terminal (sets TERM=xterm unless the environment sets TERM). */
  tty?: boolean;
  capAdd?: readonly string[];
  capDrop?: readonly string[];
  /** `--security-opt no-new-privileges`. */
  noNewPrivileges?: boolean;
  /** `--read-only`. */
  readOnly?: boolean;
  /** `--network`; default none (a new network namespace with only a loopback). */
  network?: NetworkMode;
  /** `-v SRC:DST[:ro|rw]` values; SRC must already be an absolute host path. */
  volumes?: readonly string[];
  /** `--sysctl KEY=VALUE` values. */
  sysctls?: readonly string[];
  /** The container user namespace (idmap.containerUserns); absent or `userns: false` = none. */
  userns?: ContainerUserns;
  /** The namespace runc runs in; default: rootful, the initial namespace. */
  namespace?: RuntimeNamespace;
  /** The berth process's current limits (host facts); no rlimit in the spec exceeds a hard limit here. */
  hostRlimits: Partial<Record<RlimitName, Rlimit>>;
  /** Explicit rlimits (e.g. `--ulimit`); each must stay within the host hard limit. */
  rlimits?: readonly SpecRlimit[];
  /**
   * The runtime and kernel support `rro` (runc >= 1.1 and crun >= 1.4 on Linux >= 5.12, mount_setattr):
   * read-only binds (`-v ...:ro`, the /sys rbind) are then read-only all the way down, as Docker 25+
   * does by default; otherwise only their top mount is. Default false.
   */
  recursiveReadOnly?: boolean;
  /** Give the container its own cgroup namespace (cgroup v2 hosts). Default false. */
  cgroupns?: boolean;
  /** `root.path`, relative to the bundle. Default `rootfs`. */
  rootfsPath?: string;
  /** Masked paths that only exist on some hosts (moby masks each CPU's thermal_throttle directory that exists). */
  extraMaskedPaths?: readonly string[];
  /** User annotations (`--annotation`); berth's own `io.berth.*` keys cannot be overridden. */
  annotations?: Readonly<Record<string, string>>;
}

/** Which transformer set a field, and from which input. */
export interface ProvenanceEntry {
  transformer: string;
  /** The input, e.g. `--user foo`, `/etc/passwd:4 foo:x:...`, `image config WorkingDir`. */
  source: string;
}

/** JSON pointer (RFC 6901) into the spec -> where its value came from. Keys sorted. */
export type Provenance = Record<string, ProvenanceEntry>;

/** What a transformer may do besides editing the draft. */
export interface TransformContext {
  /**
   * Names the input behind the value at `pointer` (or any field under it). The builder still
   * decides from its diff which fields changed; a note only names the source.
   */
  source(pointer: string, source: string): void;
  warn(w: Warning): void;
}

/** One named, pure step of the build. `apply` edits the draft in place and must not read anything but its arguments. */
export interface SpecTransformer {
  name: string;
  /** Default source for the fields it changes without a more specific note. */
  source?: string | ((inputs: SpecInputs) => string);
  apply(draft: RuntimeSpec, inputs: SpecInputs, ctx: TransformContext): void;
}

export interface BuildResult {
  spec: RuntimeSpec;
  provenance: Provenance;
  /** Recoverable facts about the build (e.g. a host limit was unknown); never a silent change. */
  warnings: Warning[];
}
