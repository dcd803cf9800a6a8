/**
 * The OCI image-spec and Docker schema2 document shapes berth reads and writes.
 *
 * Field names are the wire names (so a parsed document is used as is and re-serialises to the same
 * keys). Docker's schema2 manifest and manifest list have the same shape as the OCI manifest and
 * index; only the media types differ (image-spec media-types.md, "compatibility matrix").
 */

/** A content reference: what a manifest says about a blob (image-spec descriptor.md). */
export interface Descriptor {
  mediaType: string;
  /** `<algorithm>:<hex>`; see digest.ts. */
  digest: string;
  /** Exact byte length of the blob. */
  size: number;
  /** Alternate download locations; never followed automatically (nondistributable layers). */
  urls?: string[];
  annotations?: Record<string, string>;
  /** Base64 of the blob itself, for small embedded blobs (image-spec 1.1). */
  data?: string;
  artifactType?: string;
  /** Only meaningful in an index's `manifests`. */
  platform?: Platform;
}

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  /** e.g. `v7` for arm, `v8` for arm64. */
  variant?: string;
  features?: string[];
}

/** Image manifest: OCI `application/vnd.oci.image.manifest.v1+json` or Docker schema2. */
export interface Manifest {
  schemaVersion: 2;
  /** Optional in OCI (the descriptor pointing here carries it), required by Docker schema2. */
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  /** Base layer first (image-spec manifest.md). */
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** Image index (OCI) or manifest list (Docker). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** Docker's HEALTHCHECK; durations are nanoseconds. */
export interface HealthConfig {
  /** `[]` inherit, `["NONE"]` disable, `["CMD", ...]` exec, `["CMD-SHELL", cmd]` shell. */
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The `config` member of an image config: how to run a container (image-spec config.md). */
export interface ContainerConfig {
  /** `user`, `uid`, `user:group`, `uid:gid`, `uid:group` or `user:gid` (config.md). */
  User?: string;
  /** Keys are `port/tcp`, `port/udp` or `port` (tcp); values are empty objects. */
  ExposedPorts?: Record<string, Record<string, never>>;
  /** `NAME=value` entries. */
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  /** Windows-only meaning; kept because Docker writes it and reproducing configs needs it. */
  ArgsEscaped?: boolean;
  /** Docker extension. */
  Healthcheck?: HealthConfig;
  /** Docker extension: the SHELL instruction. */
  Shell?: string[];
  /** Docker extension: ONBUILD triggers. */
  OnBuild?: string[] | null;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** Image configuration (`application/vnd.oci.image.config.v1+json` or Docker's container image JSON). */
export interface ImageConfig {
  /** RFC 3339. */
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
}

/** The `oci-layout` file at the top of an image layout. */
export interface ImageLayoutHeader {
  imageLayoutVersion: string;
}
