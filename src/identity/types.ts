/**
 * identity/types: the input and result shapes of resolveIdentity and workdirCreationOwner, shared
 * by the profile implementations.
 */

export type ProfileName = 'berth' | 'docker' | 'podman' | 'podman-rootless' | 'kubernetes' | 'openshift' | 'kaniko';

export const PROFILE_NAMES: readonly ProfileName[] = ['berth', 'docker', 'podman', 'podman-rootless', 'kubernetes', 'openshift', 'kaniko'];

/** `run`: starting a container. `build`: a RUN step of the engine's image builder. */
export type IdentityContext = 'run' | 'build';

export type CriRuntimeName = 'containerd' | 'cri-o';

/** The effective (pod and container merged) security context of one Kubernetes container. */
export interface KubernetesIdentityInput {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  /** Pod-level only. */
  supplementalGroups?: number[];
  fsGroup?: number;
  supplementalGroupsPolicy?: 'Merge' | 'Strict';
  /** The node's CRI runtime; CRI-O by default (the runtime OpenShift ships). */
  runtime?: CriRuntimeName;
  /** GIDs the kubelet adds from volumes' `pv.beta.kubernetes.io/gid` annotations. */
  extraGroups?: number[];
  /**
   * true (default): the kubelet builds the CRI request (image user turned into runAsUser, runAsNonRoot
   * checked). false: the values reach the runtime as given (crictl-style), which is where
   * "runAsGroup without a user" fails.
   */
  viaKubelet?: boolean;
  /** For messages: the pod as the kubelet formats it, and the container name. */
  pod?: string;
  container?: string;
}

/** An OpenShift namespace's pre-allocated ranges and the restricted-v2 SCC inputs. */
export interface OpenShiftIdentityInput {
  /** `openshift.io/sa.scc.uid-range` (one block). Default DEFAULT_OPENSHIFT_UID_RANGE. */
  uidRange?: { start: number; size: number };
  /** `openshift.io/sa.scc.supplemental-groups` blocks; default: the uid range. */
  supplementalGroupRanges?: { start: number; size: number }[];
  /** A runAsUser the pod asks for (same as kubernetes.runAsUser). */
  runAsUser?: number;
}

/** Metadata of the image's /etc/passwd, for CRI-O's decision to append a line to a copy. */
export interface PasswdFileMeta {
  mode: number;
  uid: number;
  size: number;
}

export interface IdentityInput {
  profile: ProfileName;
  /** The image config's User (may be ''). */
  imageUser: string;
  /** `--user`/`-u`; '' or absent means the image's. For `build`, the USER in effect at the step. */
  user?: string;
  /** `--group-add` values. */
  groupAdd?: string[];
  /** Default `run`, except kaniko which only builds. */
  context?: IdentityContext;
  /** `--userns`: host (default), keep-id[:uid=N,gid=N,...], nomap, auto[:...], private. */
  userns?: string;
  /** The invoking user's uid/gid (keep-id maps them into the container). */
  hostUid?: number;
  hostGid?: number;
  /**
   * Rootless podman: how many gids exist in the container's user namespace (1 + subgid count);
   * podman skips image memberships at or above it. Default 65537.
   */
  availableGids?: number;
  /** The container's environment (NAME=VALUE), for HOME. */
  env?: string[];
  /** The container's working directory, which podman and CRI-O use as home of a line they add to passwd. */
  workingDir?: string;
  kubernetes?: KubernetesIdentityInput;
  openshift?: OpenShiftIdentityInput;
  passwdFile?: PasswdFileMeta;
}

/** A fact about the resolution worth reporting (not an error). `code` is stable. */
export interface IdentityNote {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface ResolvedIdentity {
  profile: ProfileName;
  context: IdentityContext;
  uid: number;
  gid: number;
  /**
   * The process's groups as `id -G` shows them: the primary gid plus everything the engine passes
   * to setgroups, sorted and unique (the kernel sorts the list; the gid is checked either way).
   */
  additionalGids: number[];
  /**
   * Exactly what the engine passes to setgroups, in its order and with its duplicates. It lacks the
   * primary gid in a few cases (podman with no user, containerd Strict with no user, kaniko for an
   * unknown uid); the note PRIMARY_GID_NOT_IN_GROUPS says so, because a setgid exec then drops the
   * primary group (the CVE-2022-36109 class).
   */
  rawAdditionalGids: number[];
  /** HOME as the process sees it when the environment does not set it otherwise. */
  home: string;
  /** Name of the passwd entry that resolved the user, if one did. */
  userName?: string;
  /** Name of the group entry for the primary gid, if the group file has one. */
  groupName?: string;
  /** The user string the engine resolved after its own rules (e.g. the image user with its group part dropped). */
  spec: string;
  /** Provenance: which input, which file line and which engine rule decided each field. */
  because: string[];
  /**
   * What Docker-compatible rules would give this uid (or user name) from the image's own files:
   * sorted unique [passwd gid] + memberships. A profile whose additionalGids differ (Kubernetes
   * Strict, kaniko, explicit groups) loses or adds groups relative to the image's intent.
   */
  imageGroupsGids: number[];
  notes: IdentityNote[];
}

export interface WorkdirOwner {
  /** Owner of the directory itself (the leaf). */
  uid: number;
  gid: number;
  /** Owner of missing parent directories the same step creates. */
  parents: { uid: number; gid: number };
  because: string[];
}

/** restricted-v2's default when the namespace's range is not known: the example range OpenShift docs use. */
export const DEFAULT_OPENSHIFT_UID_RANGE = { start: 1000680000, size: 10000 } as const;
