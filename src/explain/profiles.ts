/**
 * explain/profiles: what each engine profile does around the process, beyond user resolution
 * (which src/identity owns): default capability set, OCI runtime, no_new_privs default, the
 * `ping_group_range` sysctl it writes into a private network namespace, and how it treats a
 * missing working directory. Each fact names its source so a report can say where it comes from.
 */
import type { ProfileName } from '../identity/types.js';

/** The container runtime interface a Kubernetes node uses; it decides caps and group merging. */
export type CriRuntime = 'containerd' | 'cri-o';

/** The default capability sets src/caps knows (layers-and-capabilities.md section 4.3). */
export type CapDefaults = 'docker' | 'containerd' | 'podman' | 'cri-o';

/**
 * The program that performs setgroups/setuid/chdir/execve: runc and crun differ in how they
 * retry the chdir (identity.md rules 48 and 51); kaniko runs RUN steps through Go's os/exec,
 * which changes user before it changes directory.
 */
export type ProcessStarter = 'runc' | 'crun' | 'go-exec';

export interface EngineProfile {
  name: ProfileName;
  /** One line for the report header, e.g. "Docker (moby) with runc". */
  title: string;
  capDefaults: CapDefaults;
  capDefaultsSource: string;
  starter: ProcessStarter;
  starterSource: string;
  /** Runs the container in a user namespace built from the host user's subordinate IDs. */
  rootless: boolean;
  /** OpenShift restricted-v2 SCC: arbitrary UID from the namespace range, drop ALL, no_new_privs. */
  restrictedV2: boolean;
  /** Takes its user and capabilities from a Pod securityContext instead of run flags. */
  kubernetes: boolean;
  /** CRI runtime assumed for kubernetes/openshift. */
  cri?: CriRuntime;
  /**
   * `net.ipv4.ping_group_range` the engine writes into the container's own network namespace, or
   * undefined when it leaves the kernel default ("1 0": nobody may open ICMP datagram sockets).
   */
  pingGroupRange?: { low: number; high: number; source: string };
  /** podman refuses a `--workdir` that does not exist (identity.md rule 53). */
  cliWorkdirMustExist: boolean;
}

const RUNC_ORDER = 'runc chdirs as container root first and retries after setuid only on EPERM/EACCES (runc >= 1.0.0-rc94, PR #2894)';

const ALL_GIDS = { low: 0, high: 2147483647 };

function kubernetesProfile(name: 'kubernetes' | 'openshift', cri: CriRuntime): EngineProfile {
  const openshift = name === 'openshift';
  if (cri === 'containerd') {
    return {
      name,
      title: `${openshift ? 'OpenShift restricted-v2' : 'Kubernetes'} on containerd with runc`,
      capDefaults: 'containerd',
      capDefaultsSource: 'containerd pkg/oci/spec.go defaultUnixCaps (14 capabilities)',
      starter: 'runc',
      starterSource: 'containerd runs runc through its runc shim by default',
      rootless: false,
      restrictedV2: openshift,
      kubernetes: true,
      cri,
      pingGroupRange: { ...ALL_GIDS, source: 'containerd CRI enable_unprivileged_icmp, true by default (internal/cri/config/config_unix.go)' },
      cliWorkdirMustExist: false,
    };
  }
  return {
    name,
    title: `${openshift ? 'OpenShift restricted-v2' : 'Kubernetes'} on CRI-O with crun`,
    capDefaults: 'cri-o',
    capDefaultsSource: 'cri-o internal/config/capabilities/capabilities_linux.go (9 capabilities)',
    starter: 'crun',
    starterSource: openshift ? 'crun is CRI-O\'s default runtime in OpenShift 4.18 and later' : 'crun is CRI-O\'s packaged default runtime since CRI-O 1.31',
    rootless: false,
    restrictedV2: openshift,
    kubernetes: true,
    cri,
    ...(openshift
      ? { pingGroupRange: { ...ALL_GIDS, source: 'OpenShift configures CRI-O with default_sysctls net.ipv4.ping_group_range=0 2147483647' } }
      : {}),
    cliWorkdirMustExist: false,
  };
}

/**
 * The profile table. `cri` picks the node runtime for kubernetes/openshift (CRI-O by default,
 * the runtime OpenShift ships); it is ignored for the other profiles.
 */
export function engineProfile(name: ProfileName, cri: CriRuntime = 'cri-o'): EngineProfile {
  switch (name) {
    case 'berth':
      return {
        name,
        title: 'berth with runc',
        capDefaults: 'docker',
        capDefaultsSource: 'berth uses the Docker/containerd default set (14 capabilities) so images that run under Docker run under berth',
        starter: 'runc',
        starterSource: 'berth drives runc (crun with --runtime crun)',
        rootless: false,
        restrictedV2: false,
        kubernetes: false,
        pingGroupRange: { ...ALL_GIDS, source: 'berth writes ping_group_range into a private network namespace like Docker, limited to the mapped GIDs when rootless' },
        cliWorkdirMustExist: false,
      };
    case 'docker':
      return {
        name,
        title: 'Docker (moby) with runc',
        capDefaults: 'docker',
        capDefaultsSource: 'moby oci/caps/defaults.go (14 capabilities)',
        starter: 'runc',
        starterSource: 'runc is dockerd\'s default runtime',
        rootless: false,
        restrictedV2: false,
        kubernetes: false,
        pingGroupRange: { ...ALL_GIDS, source: 'moby PR #41030 (Docker 20.10) sets it when the container has its own network namespace' },
        cliWorkdirMustExist: false,
      };
    case 'podman':
    case 'podman-rootless':
      return {
        name,
        title: name === 'podman' ? 'podman (rootful) with crun' : 'rootless podman with crun',
        capDefaults: 'podman',
        capDefaultsSource: 'containers/common pkg/config/default.go (11 capabilities, no NET_RAW, MKNOD or AUDIT_WRITE)',
        starter: 'crun',
        starterSource: 'crun is podman\'s default runtime where installed',
        rootless: name === 'podman-rootless',
        restrictedV2: false,
        kubernetes: false,
        pingGroupRange: { low: 0, high: 0, source: 'containers.conf default_sysctls net.ipv4.ping_group_range=0 0' },
        cliWorkdirMustExist: true,
      };
    case 'kaniko':
      return {
        name,
        title: 'kaniko RUN step (inside a Docker-default executor container)',
        capDefaults: 'docker',
        capDefaultsSource: 'the kaniko executor container\'s own set; assumed to be the Docker/containerd default (14 capabilities)',
        starter: 'go-exec',
        starterSource: 'kaniko pkg/commands/run.go runs the step with os/exec and SysProcAttr.Credential',
        rootless: false,
        restrictedV2: false,
        kubernetes: false,
        pingGroupRange: { ...ALL_GIDS, source: 'inherited from the executor container (Docker or containerd default)' },
        cliWorkdirMustExist: false,
      };
    case 'kubernetes':
    case 'openshift':
      return kubernetesProfile(name, cri);
  }
}

export { PROFILE_NAMES } from '../identity/types.js';

/** What the process's starter does with a working directory the user cannot search. */
export function chdirBehaviour(starter: ProcessStarter): { startsInDirectory: boolean; text: string } {
  switch (starter) {
    case 'runc':
      return {
        startsInDirectory: true,
        text: `${RUNC_ORDER}; the first chdir runs with container root's capabilities and succeeds, so the process STARTS in the directory (runc libcontainer/init_linux.go finalizeNamespace)`,
      };
    case 'crun':
      return {
        startsInDirectory: true,
        text: 'crun chdirs before setresuid, ignores any error and retries as the user (containers/crun PR #794, crun >= 1.4); the first chdir succeeds as container root, so the process STARTS in the directory',
      };
    case 'go-exec':
      return {
        startsInDirectory: false,
        text: 'Go\'s os/exec switches to the user (setgroups, setgid, setuid) before chdir(Dir), so the step fails before exec with "chdir: permission denied"',
      };
  }
}
