/**
 * The capability table: numbers 0..CAP_LAST_CAP and their names, built from one list.
 *
 * Source: /usr/include/linux/capability.h (`#define CAP_CHOWN 0` ... `#define CAP_CHECKPOINT_RESTORE 40`,
 * `CAP_LAST_CAP CAP_CHECKPOINT_RESTORE`). The list below is that header's order; a capability's number is
 * its index. A test compares the list with the installed header when there is one.
 */

/** Short names in kernel order: index = capability number. Append only; never reorder. */
const SHORT_NAMES = [
  'CHOWN', // 0
  'DAC_OVERRIDE', // 1
  'DAC_READ_SEARCH', // 2
  'FOWNER', // 3
  'FSETID', // 4
  'KILL', // 5
  'SETGID', // 6
  'SETUID', // 7
  'SETPCAP', // 8
  'LINUX_IMMUTABLE', // 9
  'NET_BIND_SERVICE', // 10
  'NET_BROADCAST', // 11
  'NET_ADMIN', // 12
  'NET_RAW', // 13
  'IPC_LOCK', // 14
  'IPC_OWNER', // 15
  'SYS_MODULE', // 16
  'SYS_RAWIO', // 17
  'SYS_CHROOT', // 18
  'SYS_PTRACE', // 19
  'SYS_PACCT', // 20
  'SYS_ADMIN', // 21
  'SYS_BOOT', // 22
  'SYS_NICE', // 23
  'SYS_RESOURCE', // 24
  'SYS_TIME', // 25
  'SYS_TTY_CONFIG', // 26
  'MKNOD', // 27
  'LEASE', // 28
  'AUDIT_WRITE', // 29
  'AUDIT_CONTROL', // 30
  'SETFCAP', // 31
  'MAC_OVERRIDE', // 32
  'MAC_ADMIN', // 33
  'SYSLOG', // 34
  'WAKE_ALARM', // 35
  'BLOCK_SUSPEND', // 36
  'AUDIT_READ', // 37
  'PERFMON', // 38
  'BPF', // 39
  'CHECKPOINT_RESTORE', // 40
] as const;

export type CapShortName = (typeof SHORT_NAMES)[number];
/** The canonical spelling used in OCI runtime specs and by Docker/podman: `CAP_NET_RAW`. */
export type CapName = `CAP_${CapShortName}`;

export interface CapInfo {
  /** Bit number in every capability mask. */
  readonly number: number;
  /** `CAP_NET_RAW` */
  readonly name: CapName;
  /** `cap_net_raw`: the spelling libcap prints and parses (getcap, setcap, capsh). */
  readonly textName: string;
}

/** The highest capability number this table knows (the kernel header's CAP_LAST_CAP). */
export const CAP_LAST_CAP: number = SHORT_NAMES.length - 1;

/**
 * Number of bits a capability mask can carry in the kernel ABI and in `security.capability` v2/v3:
 * two 32-bit words. Bits above CAP_LAST_CAP are "unnamed" (a newer kernel's capabilities).
 */
export const CAP_MASK_BITS = 64;

/** Every known capability, in number order. */
export const CAPS: readonly CapInfo[] = Object.freeze(
  SHORT_NAMES.map((short, number) =>
    Object.freeze({ number, name: `CAP_${short}` as CapName, textName: `cap_${short.toLowerCase()}` }),
  ),
);

/** Capability numbers by short name: `CAP.NET_RAW === 13`. */
export const CAP: Readonly<Record<CapShortName, number>> = Object.freeze(
  Object.fromEntries(SHORT_NAMES.map((short, number) => [short, number])) as Record<CapShortName, number>,
);

const BY_NAME: ReadonlyMap<string, CapInfo> = new Map(CAPS.map((c) => [c.name, c]));

/** Looks up an exact canonical name (`CAP_NET_RAW`); see parseCapName for user input. */
export function capInfo(name: string): CapInfo | undefined {
  return BY_NAME.get(name);
}

/** The canonical name of a capability number, or undefined above CAP_LAST_CAP. */
export function capNameOf(n: number): CapName | undefined {
  return CAPS[n]?.name;
}
