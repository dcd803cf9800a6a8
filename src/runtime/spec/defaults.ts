/**
 * Docker's defaults for a Linux container, as data. Source: moby `daemon/pkg/oci/defaults.go`
 * (DefaultLinuxSpec, defaultLinuxMaskedPaths; formerly `oci/defaults.go`) and
 * `daemon/oci_linux.go` (the /dev/shm size from HostConfig.ShmSize, 64 MiB by default).
 * Each call returns fresh copies, so a transformer can edit them.
 */
import type { SpecDeviceCgroup, SpecMount, SpecNamespaceType } from './types.js';

/** moby oci.DefaultPathEnv for Linux; also BuildKit's and containerd's default. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's default `--shm-size` (daemon config default-shm-size): 64 MiB. */
export const DEFAULT_SHM_SIZE = 67108864;

/** The gid of group `tty` that devpts gives new ptys (`gid=5`). */
export const TTY_GID = 5;

/** RLIMIT_NOFILE berth sets (soft = hard), lowered to the host's hard limit: podman's rootful default. */
export const DEFAULT_NOFILE = 1048576;

/**
 * Largest value net.ipv4.ping_group_range accepts: GID_T_MAX, `(gid_t)~0U >> 1`
 * (net/ipv4/sysctl_net_ipv4.c), which is also the upper bound Docker writes.
 */
export const PING_GROUP_MAX = 2147483647;

/** DefaultLinuxSpec mounts, in moby's order; /dev/shm gets the daemon's size option. */
export function dockerDefaultMounts(): SpecMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', `gid=${TTY_GID}`],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${DEFAULT_SHM_SIZE}`] },
  ];
}

/**
 * runc `specconv.ToRootless` (and podman when it cannot mount sysfs): /sys as a read-only recursive
 * bind of the host's /sys. sysfs can only be mounted by the user namespace that owns the network
 * namespace, which a container sharing the host's network namespace from a user namespace does not.
 * `ro` makes only the top mount read-only; `rro` (recursive) also the mounts below it, such as the
 * host's cgroup hierarchies.
 */
export function sysRbindMount(recursiveReadOnly = false): SpecMount {
  return { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', recursiveReadOnly ? 'rro' : 'ro'] };
}

/**
 * defaultLinuxMaskedPaths: bound over with /dev/null (files) or an empty read-only tmpfs (dirs).
 * /proc/interrupts: GHSA-6fw5-f8r9-fgfm; /sys/devices/virtual/powercap: GHSA-jq35-85cj-fj4p.
 * moby also masks `/sys/devices/system/cpu/cpuN/thermal_throttle` for each CPU where it exists;
 * that depends on the host, so the caller passes those (SpecInputs.extraMaskedPaths).
 */
export function dockerMaskedPaths(): string[] {
  return [
    '/proc/acpi',
    '/proc/asound',
    '/proc/interrupts',
    '/proc/kcore',
    '/proc/keys',
    '/proc/latency_stats',
    '/proc/sched_debug',
    '/proc/scsi',
    '/proc/timer_list',
    '/proc/timer_stats',
    '/sys/devices/virtual/powercap',
    '/sys/firmware',
  ];
}

/** DefaultLinuxSpec ReadonlyPaths. */
export function dockerReadonlyPaths(): string[] {
  return ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
}

/** DefaultLinuxSpec namespaces in moby's order; user and cgroup are appended when used. */
export const DOCKER_NAMESPACES: readonly SpecNamespaceType[] = ['mount', 'network', 'uts', 'pid', 'ipc'];

/**
 * DefaultLinuxSpec device cgroup rules: deny all, allow zero, null, urandom, random, tty, console,
 * deny fuse (10:229). runc appends its own allowed defaults (pty, full, tun) when it applies them.
 */
export function dockerDeviceRules(): SpecDeviceCgroup[] {
  const allow = (major: number, minor: number): SpecDeviceCgroup => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
  return [
    { allow: false, access: 'rwm' },
    allow(1, 5),
    allow(1, 3),
    allow(1, 9),
    allow(1, 8),
    allow(5, 0),
    allow(5, 1),
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  ];
}
