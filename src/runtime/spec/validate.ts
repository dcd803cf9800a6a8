/**
 * validateSpec: the last, pure check before a spec reaches runc. It catches what runc would report
 * late or vaguely ("can't get final child's PID from pipe: EOF", "cannot setuid to unmapped uid"),
 * what it would silently ignore (setgroups under "deny", userns.md rule 26), and capability sets
 * the kernel would reject or that would reopen CVE-2022-24769.
 */
import { BerthError } from '../../errors/index.js';
import { capIsSubset, capIntersect, capSetFromNames, capSetToNames, type CapSet } from '../../caps/index.js';
import { toHost, validateContainerMap, type IdMap } from '../../idmap/index.js';
import type { Rlimit, RlimitName } from '../../host/parse.js';
import { checkSysctl } from './sysctl.js';
import { cleanPath } from './volumes.js';
import type { RuntimeSpec, SpecNamespaceType } from './types.js';

export interface ValidateContext {
  /** Maps of the namespace runc runs in (inside -> outside); absent: the initial namespace. */
  uidMap?: IdMap;
  gidMap?: IdMap;
  /** True when that namespace is berth's rootless intermediate namespace (for messages). */
  rootless?: boolean;
  /** /proc/self/setgroups of that namespace: with "deny", runc skips setgroups without a word. */
  setgroups?: 'allow' | 'deny';
  /** Current limits of the process that starts runc. */
  hostRlimits: Partial<Record<RlimitName, Rlimit>>;
}

function fail(code: string, field: string, reason: string, hint: string, details?: Record<string, unknown>): never {
  throw new BerthError(code, `validate config.json ${field}: ${reason}`, { hint, details });
}

function checkAbsolute(path: string, field: string): void {
  if (!path.startsWith('/')) {
    fail('E_SPEC_RELATIVE_PATH', field, `"${path}" is not an absolute path`, 'paths inside the container must start with /', { path });
  }
}

function fromSpecMappings(m: readonly { containerID: number; hostID: number; size: number }[]): IdMap {
  return m.map((r) => ({ container: r.containerID, host: r.hostID, size: r.size }));
}

function capsOf(names: readonly string[] | undefined): CapSet {
  return capSetFromNames(names ?? []);
}

/**
 * Throws the first problem found, as a BerthError:
 * E_SPEC_NO_COMMAND, E_SPEC_RELATIVE_PATH (cwd, mount destination, masked or read-only path),
 * E_SPEC_DUPLICATE_MOUNT, E_SPEC_INVALID (user namespace without maps or the reverse),
 * E_USERNS_MAP_TOO_BIG (a map needs IDs the runtime's namespace lacks), E_SPEC_UNMAPPED_ID,
 * E_SPEC_SETGROUPS, E_CAP_UNKNOWN, E_SPEC_CAPS, E_SPEC_INHERITABLE_CAPS, E_SPEC_RLIMIT, E_SPEC_SYSCTL.
 */
export function validateSpec(spec: RuntimeSpec, ctx: ValidateContext): void {
  const p = spec.process;
  if (!p.args || p.args.length === 0) fail('E_SPEC_NO_COMMAND', 'process.args', 'no command specified', 'give a command');
  checkAbsolute(p.cwd, 'process.cwd');

  // Mounts: absolute destinations, each at most once (runc would stack them silently).
  const seen = new Set<string>();
  for (const m of spec.mounts) {
    checkAbsolute(m.destination, `mounts destination`);
    const d = cleanPath(m.destination);
    if (seen.has(d)) {
      fail('E_SPEC_DUPLICATE_MOUNT', 'mounts', `Duplicate mount point: ${d}`, 'mount one thing per container path', { destination: d });
    }
    seen.add(d);
  }
  for (const path of spec.linux.maskedPaths ?? []) checkAbsolute(path, 'linux.maskedPaths');
  for (const path of spec.linux.readonlyPaths ?? []) checkAbsolute(path, 'linux.readonlyPaths');

  // Identity: every ID the process takes must exist in its user namespace.
  const ownUserns = spec.linux.namespaces.some((n) => n.type === 'user' && n.path === undefined);
  const hasMaps = (spec.linux.uidMappings?.length ?? 0) > 0 || (spec.linux.gidMappings?.length ?? 0) > 0;
  if (ownUserns && (!spec.linux.uidMappings?.length || !spec.linux.gidMappings?.length)) {
    fail('E_SPEC_INVALID', 'linux.uidMappings', 'a new user namespace needs both uid and gid mappings', 'set --userns or --uidmap/--gidmap');
  }
  if (hasMaps && !ownUserns) {
    fail('E_SPEC_INVALID', 'linux.namespaces', 'uid/gid mappings are set but the container creates no user namespace', 'add a user namespace or drop the mappings');
  }
  const label = 'the container user namespace';
  const outerUid = ctx.uidMap;
  const outerGid = ctx.gidMap;
  let uidSpace: IdMap | undefined;
  let gidSpace: IdMap | undefined;
  if (ownUserns) {
    uidSpace = fromSpecMappings(spec.linux.uidMappings!);
    gidSpace = fromSpecMappings(spec.linux.gidMappings!);
    if (outerUid) validateContainerMap(uidSpace, outerUid, 'uid', 'linux.uidMappings', ctx.rootless === true);
    if (outerGid) validateContainerMap(gidSpace, outerGid, 'gid', 'linux.gidMappings', ctx.rootless === true);
  } else {
    uidSpace = outerUid;
    gidSpace = outerGid;
  }
  const mapped = (space: IdMap | undefined, id: number): boolean => space === undefined || toHost(space, id) !== undefined;
  const unmapped = (kind: 'uid' | 'gid', id: number, field: string): never =>
    fail('E_SPEC_UNMAPPED_ID', field, `${kind} ${id} is not mapped in ${label}`, ownUserns
      ? `choose a ${kind} inside the container's ${kind} map, or widen the map (--userns, --${kind}map)`
      : ctx.rootless
        ? `rootless containers have the ${kind}s of your subordinate range only: choose a smaller ${kind}, or delegate more IDs in /etc/sub${kind}`
        : `choose a ${kind} that exists in this namespace`, { kind, id });
  if (!mapped(uidSpace, p.user.uid)) unmapped('uid', p.user.uid, 'process.user.uid');
  if (!mapped(gidSpace, p.user.gid)) unmapped('gid', p.user.gid, 'process.user.gid');
  for (const g of p.user.additionalGids ?? []) {
    if (!mapped(gidSpace, g)) unmapped('gid', g, 'process.user.additionalGids');
  }
  // "deny" is inherited by child user namespaces, so a container userns does not help.
  if (ctx.setgroups === 'deny' && (p.user.additionalGids?.length ?? 0) > 0) {
    fail(
      'E_SPEC_SETGROUPS',
      'process.user.additionalGids',
      'supplementary groups cannot be set: setgroups is disabled in this user namespace (no subordinate GIDs), and runc would silently keep the host groups, which show as 65534',
      'delegate subordinate GIDs in /etc/subgid so the namespace allows setgroups',
      { additionalGids: p.user.additionalGids },
    );
  }

  // Capabilities: names known, effective ⊆ permitted ⊆ bounding, ambient ⊆ permitted ∩ inheritable, inheritable empty.
  const c = p.capabilities;
  if (c) {
    const bounding = capsOf(c.bounding);
    const effective = capsOf(c.effective);
    const permitted = capsOf(c.permitted);
    const inheritable = capsOf(c.inheritable);
    const ambient = capsOf(c.ambient);
    const extra = (a: CapSet, b: CapSet): string => capSetToNames(a & ~b).join(', ');
    if (!capIsSubset(effective, permitted)) {
      fail('E_SPEC_CAPS', 'process.capabilities.effective', `${extra(effective, permitted)} effective but not permitted (the kernel refuses capset)`, 'effective capabilities must also be permitted');
    }
    if (!capIsSubset(permitted, bounding)) {
      fail('E_SPEC_CAPS', 'process.capabilities.permitted', `${extra(permitted, bounding)} permitted but not in the bounding set (lost at execve)`, 'add them with --cap-add');
    }
    if (!capIsSubset(ambient, capIntersect(permitted, inheritable))) {
      fail('E_SPEC_CAPS', 'process.capabilities.ambient', `${extra(ambient, capIntersect(permitted, inheritable))} ambient but not both permitted and inheritable (capabilities(7))`, 'an ambient capability must be permitted and inheritable');
    }
    if (inheritable !== 0n) {
      fail('E_SPEC_INHERITABLE_CAPS', 'process.capabilities.inheritable', `${capSetToNames(inheritable).join(', ')} inheritable: a non-root process would gain them from file-inheritable capabilities (CVE-2022-24769)`, 'keep the inheritable set empty');
    }
  }

  // Rlimits: soft <= hard <= the current host hard limit, one per type.
  const rlimitTypes = new Set<string>();
  for (const r of p.rlimits ?? []) {
    if (rlimitTypes.has(r.type)) fail('E_SPEC_RLIMIT', 'process.rlimits', `${r.type} appears twice`, 'set each rlimit once', { type: r.type });
    rlimitTypes.add(r.type);
    if (!(r.soft <= r.hard)) fail('E_SPEC_RLIMIT', 'process.rlimits', `${r.type} soft ${r.soft} is above hard ${r.hard}`, 'keep soft <= hard', { ...r });
    const host = ctx.hostRlimits[r.type as RlimitName];
    if (host && host.hard !== 'unlimited' && r.hard > host.hard) {
      fail('E_SPEC_RLIMIT', 'process.rlimits', `${r.type} hard ${r.hard} is above the current hard limit ${host.hard}`, `use at most ${host.hard}; raising a hard limit needs CAP_SYS_RESOURCE`, { ...r, hostHard: host.hard });
    }
  }

  // Sysctls need the namespace they belong to (runc's validator, checked before runc runs).
  const own = new Set<SpecNamespaceType>(spec.linux.namespaces.filter((n) => n.path === undefined).map((n) => n.type));
  for (const key of Object.keys(spec.linux.sysctl ?? {}).sort()) checkSysctl(key, own, `config.json linux.sysctl ${key}`, 'validate');
}
