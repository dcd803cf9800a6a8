/**
 * The named transformers of berth's default pipeline, in order. Each one owns a few fields of
 * config.json, reads only its inputs and the draft, and names the input behind what it writes.
 *
 * Order matters where one step reads another's result: `hostname` before `env` (HOSTNAME),
 * `user` before `capabilities` (uid 0 or not), `namespaces` before `sysctls` (which namespace a key
 * needs) and `ping-group-range`, `default-mounts` before `userns-mounts` and `volumes`.
 */
import { BerthError } from '../../errors/index.js';
import { applyCapFlags, capSetToNames, defaultCaps } from '../../caps/index.js';
import { toHost, type IdMap } from '../../idmap/index.js';
import {
  DEFAULT_NOFILE,
  DOCKER_NAMESPACES,
  PING_GROUP_MAX,
  TTY_GID,
  dockerDefaultMounts,
  dockerDeviceRules,
  dockerMaskedPaths,
  dockerReadonlyPaths,
  sysRbindMount,
} from './defaults.js';
import { resolveEnv } from './env.js';
import { pointer } from './build.js';
import { resolveArgs, resolveCwd } from './process.js';
import { checkSysctl, parseSysctl } from './sysctl.js';
import { parseVolume, pathDepth, volumeMount, type Volume } from './volumes.js';
import type { RuntimeNamespace, SpecInputs, SpecNamespaceType, SpecRlimit, SpecTransformer } from './types.js';

/** The initial user namespace: what runc runs in when berth is rootful. */
export const INITIAL_NAMESPACE: RuntimeNamespace = {
  uidMap: [{ container: 0, host: 0, size: 4294967295 }],
  gidMap: [{ container: 0, host: 0, size: 4294967295 }],
  rootless: false,
};

/** Annotation keys berth writes; user annotations cannot set `io.berth.*`. */
export const SPEC_ANNOTATIONS = {
  /** `none` or `host`. */
  network: 'io.berth.network',
  /**
   * `runtime`: the container has its own network namespace and the OCI runtime brings its loopback
   * up (runc specconv adds a `loopback` network for a new netns and libcontainer sets lo up; crun
   * configures lo the same way). The runner checks it; no hook is involved.
   */
  loopback: 'io.berth.network.loopback',
} as const;

const namespaceOf = (inputs: SpecInputs): RuntimeNamespace => inputs.namespace ?? INITIAL_NAMESPACE;
const hasUserns = (inputs: SpecInputs): boolean => inputs.userns?.userns === true;
const networkOf = (inputs: SpecInputs): 'none' | 'host' => inputs.network ?? 'none';

/**
 * The gids that exist for the container process: the container side of its own user namespace's
 * map, else the inside of the namespace runc runs in (the intermediate namespace when rootless).
 */
function containerGidMap(inputs: SpecInputs): IdMap {
  return hasUserns(inputs) ? inputs.userns!.gidMap : namespaceOf(inputs).gidMap;
}

function checkId(id: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id > 4294967294) {
    throw new BerthError('E_SPEC_INVALID', `build config.json ${what}: ${id} is not an ID (0..4294967294)`, {
      hint: 'this is a bug in the caller: the identity core returns IDs in range',
      details: { id },
    });
  }
}

/** Picks identity explanation lines about one field; all of them when none match. */
function becauseFor(lines: readonly string[] | undefined, match: (l: string) => boolean, fallback: string): string {
  const all = lines ?? [];
  const picked = all.filter(match);
  return (picked.length > 0 ? picked : all.length > 0 ? all : [fallback]).join('; ');
}

const isHomeLine = (l: string): boolean => /^HOME\b/.test(l);
const isGroupLine = (l: string): boolean => /supplementary|--group-add|primary gid|groups|memberships/.test(l);

export const base: SpecTransformer = {
  name: 'base',
  apply(draft, inputs, ctx) {
    draft.root.path = inputs.rootfsPath ?? 'rootfs';
    ctx.source('/root/path', inputs.rootfsPath ? 'the bundle layout given by the caller' : 'bundle layout: rootfs beside config.json');
  },
};

export const processArgs: SpecTransformer = {
  name: 'args',
  apply(draft, inputs, ctx) {
    if (inputs.args !== undefined) {
      if (inputs.args.length === 0) {
        throw new BerthError('E_SPEC_NO_COMMAND', 'build config.json process.args: no command specified', {
          hint: 'give a command after the image name',
        });
      }
      draft.process.args = [...inputs.args];
      ctx.source('/process/args', 'arguments resolved by the caller');
      return;
    }
    const r = resolveArgs(inputs.image.config, { entrypoint: inputs.entrypoint, cmd: inputs.cmd });
    draft.process.args = r.args;
    ctx.source('/process/args', r.because.join('; '));
  },
};

export const user: SpecTransformer = {
  name: 'user',
  apply(draft, inputs, ctx) {
    const id = inputs.identity;
    checkId(id.uid, 'process.user.uid');
    checkId(id.gid, 'process.user.gid');
    for (const g of id.additionalGids) checkId(g, 'process.user.additionalGids');
    // Initgroups semantics: the primary gid is always in the list (CVE-2022-36109, CVE-2023-25173).
    const gids = [...new Set([id.gid, ...id.additionalGids])].sort((a, b) => a - b);
    draft.process.user = { uid: id.uid, gid: id.gid, additionalGids: gids };
    const b = id.because;
    ctx.source('/process/user/uid', becauseFor(b, (l) => /\buid\b|user spec/.test(l) && !isHomeLine(l), `uid ${id.uid}`));
    ctx.source(
      '/process/user/gid',
      becauseFor(b, (l) => /\bgid\b|user spec/.test(l) && !isGroupLine(l) && !isHomeLine(l), `gid ${id.gid}`),
    );
    ctx.source('/process/user/additionalGids', becauseFor(b, isGroupLine, `groups ${gids.join(',')}`));
  },
};

export const cwd: SpecTransformer = {
  name: 'cwd',
  apply(draft, inputs, ctx) {
    const r = resolveCwd(inputs.image.config, inputs.workdir);
    draft.process.cwd = r.cwd;
    ctx.source('/process/cwd', r.because);
  },
};

export const hostname: SpecTransformer = {
  name: 'hostname',
  apply(draft, inputs, ctx) {
    let name: string;
    if (inputs.hostname !== undefined && inputs.hostname !== '') {
      name = inputs.hostname;
      ctx.source('/hostname', `--hostname ${name}`);
    } else if (networkOf(inputs) === 'host' && inputs.hostHostname) {
      // Docker: with the host network the container takes the host's name (daemon/create.go).
      name = inputs.hostHostname;
      ctx.source('/hostname', "the host's hostname (--network host, as Docker)");
    } else {
      name = inputs.containerId.slice(0, 12);
      ctx.source('/hostname', 'the first 12 characters of the container ID (Docker)');
    }
    // sethostname(2) fails with EINVAL beyond HOST_NAME_MAX (64).
    if (name.length === 0 || name.length > 64 || /[\s/]/.test(name)) {
      throw new BerthError('E_SPEC_HOSTNAME', `build config.json hostname "${name}": not a valid hostname (1 to 64 characters, no spaces or slashes)`, {
        hint: 'pass --hostname with a short name such as app1',
        details: { hostname: name },
      });
    }
    draft.hostname = name;
  },
};

export const env: SpecTransformer = {
  name: 'env',
  apply(draft, inputs, ctx) {
    const homeLine = inputs.identity.because?.find(isHomeLine);
    const r = resolveEnv(inputs.image.config, {
      env: inputs.env,
      hostEnv: inputs.hostEnv,
      tty: inputs.tty,
      hostname: draft.hostname ?? inputs.containerId.slice(0, 12),
      home: inputs.identity.home,
      homeSource: homeLine ?? `HOME ${inputs.identity.home} from the identity`,
    });
    draft.process.env = r.env;
    ctx.source('/process/env', 'Docker defaults, image config Env, --env-file, -e, HOME from the identity');
    r.sources.forEach((s, i) => ctx.source(pointer('process', 'env', i), s));
  },
};

export const terminal: SpecTransformer = {
  name: 'terminal',
  apply(draft, inputs, ctx) {
    draft.process.terminal = inputs.tty === true;
    ctx.source('/process/terminal', inputs.tty ? '-t' : 'default: no terminal (no -t)');
  },
};

export const capabilities: SpecTransformer = {
  name: 'capabilities',
  apply(draft, inputs, ctx) {
    const add = inputs.capAdd ?? [];
    const drop = inputs.capDrop ?? [];
    const bounding = capSetToNames(applyCapFlags(defaultCaps('docker'), add, drop, 'docker'));
    const root = draft.process.user.uid === 0;
    draft.process.capabilities = {
      bounding,
      effective: root ? [...bounding] : [],
      permitted: root ? [...bounding] : [],
      inheritable: [],
      ambient: [],
    };
    const flags = [...add.map((c) => `--cap-add ${c}`), ...drop.map((c) => `--cap-drop ${c}`)];
    ctx.source('/process/capabilities/bounding', ['Docker default capabilities (moby oci/caps DefaultCapabilities, 14)', ...flags].join('; '));
    const ep = root
      ? 'uid 0: effective and permitted = bounding (moby oci.SetCapabilities)'
      : `uid ${draft.process.user.uid} is not 0: no effective or permitted capabilities, as execve gives a non-root user (moby oci.SetCapabilities)`;
    ctx.source('/process/capabilities/effective', ep);
    ctx.source('/process/capabilities/permitted', ep);
    ctx.source('/process/capabilities/inheritable', 'always empty: file-inheritable capabilities must not be granted (CVE-2022-24769)');
    ctx.source('/process/capabilities/ambient', 'always empty: ambient needs inheritable (capabilities(7))');
  },
};

export const noNewPrivileges: SpecTransformer = {
  name: 'no-new-privileges',
  apply(draft, inputs, ctx) {
    draft.process.noNewPrivileges = inputs.noNewPrivileges === true;
    ctx.source('/process/noNewPrivileges', inputs.noNewPrivileges ? '--security-opt no-new-privileges' : 'default: off (Docker)');
  },
};

export const readonlyRootfs: SpecTransformer = {
  name: 'readonly-rootfs',
  apply(draft, inputs, ctx) {
    draft.root.readonly = inputs.readOnly === true;
    ctx.source('/root/readonly', inputs.readOnly ? '--read-only' : 'default: writable root filesystem');
  },
};

export const namespaces: SpecTransformer = {
  name: 'namespaces',
  apply(draft, inputs, ctx) {
    const types: SpecNamespaceType[] = DOCKER_NAMESPACES.filter((t) => !(t === 'network' && networkOf(inputs) === 'host'));
    if (hasUserns(inputs)) types.push('user');
    if (inputs.cgroupns === true) types.push('cgroup');
    draft.linux.namespaces = types.map((type) => ({ type }));
    const why = [
      'Docker default namespaces (mount, network, uts, pid, ipc)',
      networkOf(inputs) === 'host' ? '--network host: no network namespace' : '--network none: a new network namespace',
      hasUserns(inputs) ? `a user namespace for --userns ${inputs.userns!.mode}` : 'no user namespace of its own',
      inputs.cgroupns ? 'a cgroup namespace' : '',
    ].filter(Boolean);
    ctx.source('/linux/namespaces', why.join('; '));
  },
};

export const idMappings: SpecTransformer = {
  name: 'userns-mappings',
  apply(draft, inputs, ctx) {
    if (!hasUserns(inputs)) return;
    const u = inputs.userns!;
    draft.linux.uidMappings = u.uidMap.map((r) => ({ containerID: r.container, hostID: r.host, size: r.size }));
    draft.linux.gidMappings = u.gidMap.map((r) => ({ containerID: r.container, hostID: r.host, size: r.size }));
    const where = namespaceOf(inputs).rootless ? 'intermediate IDs of the rootless namespace' : 'host IDs';
    ctx.source('/linux/uidMappings', `--userns ${u.mode} (${where})`);
    ctx.source('/linux/gidMappings', `--userns ${u.mode} (${where})`);
  },
};

export const defaultMounts: SpecTransformer = {
  name: 'default-mounts',
  source: 'Docker default mounts (moby daemon/pkg/oci/defaults.go DefaultLinuxSpec; /dev/shm size: default --shm-size 64m)',
  apply(draft) {
    draft.mounts = dockerDefaultMounts();
  },
};

/**
 * What a user namespace changes in the default mounts:
 * - devpts `gid=5` fails the mount when gid 5 does not exist in the container (podman drops it);
 * - sysfs can only be mounted by the user namespace owning the network namespace: with --network
 *   host from a user namespace (rootless, or a container userns) /sys becomes a read-only rbind of
 *   the host's /sys and no separate cgroup mount is made (runc specconv.ToRootless; podman
 *   canMountSys).
 * Docker also clears `ro` on the cgroup mount under userns-remap (daemon/oci_linux.go WithMounts), a
 * workaround for runtimes that could not remount it from a user namespace; runc 1.1 can (checked
 * by the end-to-end test), so berth keeps the cgroup mount read-only.
 */
export const usernsMounts: SpecTransformer = {
  name: 'userns-mounts',
  apply(draft, inputs, ctx) {
    const ns = namespaceOf(inputs);
    const inUserns = ns.rootless || hasUserns(inputs);
    const gidMap = containerGidMap(inputs);
    const gid5 = toHost(gidMap, TTY_GID) !== undefined;
    draft.mounts.forEach((m, i) => {
      if (m.type === 'devpts' && !gid5 && m.options) {
        m.options = m.options.filter((o) => o !== `gid=${TTY_GID}`);
        ctx.source(pointer('mounts', i, 'options'), `gid ${TTY_GID} (tty) is not mapped in the container, so devpts gets no gid= option (podman)`);
      }
    });
    if (networkOf(inputs) === 'host' && inUserns) {
      const i = draft.mounts.findIndex((m) => m.destination === '/sys');
      if (i >= 0) {
        draft.mounts[i] = sysRbindMount(inputs.recursiveReadOnly === true);
        ctx.source(
          pointer('mounts', i),
          '--network host from a user namespace: sysfs cannot be mounted, so /sys is a read-only rbind (runc specconv.ToRootless, podman)',
        );
      }
      draft.mounts = draft.mounts.filter((m) => m.destination !== '/sys/fs/cgroup');
    }
  },
};

export const volumes: SpecTransformer = {
  name: 'volumes',
  apply(draft, inputs, ctx) {
    const list: Volume[] = (inputs.volumes ?? []).map(parseVolume);
    if (list.length === 0) return;
    const seen = new Map<string, Volume>();
    for (const v of list) {
      const prev = seen.get(v.destination);
      if (prev) {
        throw new BerthError('E_SPEC_DUPLICATE_MOUNT', `parse --volume ${v.text}: Duplicate mount point: ${v.destination}`, {
          hint: `--volume ${prev.text} already mounts there; keep one`,
          details: { destination: v.destination },
        });
      }
      seen.set(v.destination, v);
    }
    // A volume replaces a default mount at the same place; a volume on /dev replaces all of /dev/* (moby WithMounts).
    const devVolume = seen.has('/dev');
    draft.mounts = draft.mounts.filter((m) => !seen.has(m.destination) && !(devVolume && m.destination.startsWith('/dev/')));
    // Parents before children, then by path: deterministic whatever the flag order.
    const sorted = [...list].sort((a, b) => pathDepth(a.destination) - pathDepth(b.destination) || (a.destination < b.destination ? -1 : 1));
    const start = draft.mounts.length;
    draft.mounts.push(...sorted.map((v) => volumeMount(v, inputs.recursiveReadOnly === true)));
    sorted.forEach((v, i) => ctx.source(pointer('mounts', start + i), `--volume ${v.text}`));
  },
};

export const maskedPaths: SpecTransformer = {
  name: 'masked-paths',
  apply(draft, inputs, ctx) {
    const extra = [...new Set(inputs.extraMaskedPaths ?? [])].sort();
    draft.linux.maskedPaths = [...dockerMaskedPaths(), ...extra.filter((p) => !dockerMaskedPaths().includes(p))];
    draft.linux.readonlyPaths = dockerReadonlyPaths();
    ctx.source(
      '/linux/maskedPaths',
      `Docker default masked paths (moby defaultLinuxMaskedPaths)${extra.length > 0 ? `; host-specific: ${extra.join(', ')}` : ''}`,
    );
    ctx.source('/linux/readonlyPaths', 'Docker default read-only paths (moby DefaultLinuxSpec ReadonlyPaths)');
  },
};

export const sysctls: SpecTransformer = {
  name: 'sysctls',
  apply(draft, inputs, ctx) {
    const list = inputs.sysctls ?? [];
    if (list.length === 0) return;
    const have = new Set(draft.linux.namespaces.filter((n) => n.path === undefined).map((n) => n.type));
    const out: Record<string, string> = { ...(draft.linux.sysctl ?? {}) };
    for (const text of list) {
      const { key, value } = parseSysctl(text);
      checkSysctl(key, have, `--sysctl ${text}`);
      out[key] = value;
      ctx.source(pointer('linux', 'sysctl', key), `--sysctl ${text}`);
    }
    draft.linux.sysctl = out;
  },
};

/**
 * moby PR #41030 (Docker 20.10): a container with its own network namespace may open ICMP echo
 * sockets without CAP_NET_RAW: `net.ipv4.ping_group_range = 0 2147483647`. The kernel refuses a
 * range whose ends are not gids of the writer's user namespace (EINVAL), which is why Docker skips
 * it under userns-remap; berth instead limits it to the gids the container has (rootless: the
 * intermediate namespace's; with a container userns: its map). A --sysctl value wins.
 */
export const pingGroupRange: SpecTransformer = {
  name: 'ping-group-range',
  apply(draft, inputs, ctx) {
    const key = 'net.ipv4.ping_group_range';
    if (!draft.linux.namespaces.some((n) => n.type === 'network' && n.path === undefined)) return;
    if (draft.linux.sysctl?.[key] !== undefined) return;
    const gids = containerGidMap(inputs);
    if (gids.length === 0) return;
    const low = Math.min(...gids.map((r) => r.container));
    const high = Math.min(PING_GROUP_MAX, Math.max(...gids.map((r) => r.container + r.size - 1)));
    if (low > high) return;
    draft.linux.sysctl = { ...(draft.linux.sysctl ?? {}), [key]: `${low} ${high}` };
    const limited = hasUserns(inputs) || namespaceOf(inputs).rootless;
    ctx.source(
      pointer('linux', 'sysctl', key),
      limited
        ? `own network namespace: ping sockets for every gid mapped in the container (${low}..${high}), like Docker's default limited to the user namespace (moby PR #41030)`
        : 'own network namespace: Docker default 0 2147483647 (moby PR #41030)',
    );
  },
};

/**
 * Docker (daemon/oci_linux.go WithSysctls, same PR): with its own network namespace a container
 * may bind ports below 1024 without CAP_NET_BIND_SERVICE: `net.ipv4.ip_unprivileged_port_start=0`.
 * The sysctl is per network namespace, so it is settable from a user namespace too. A --sysctl wins.
 */
export const unprivilegedPorts: SpecTransformer = {
  name: 'unprivileged-ports',
  apply(draft, _inputs, ctx) {
    const key = 'net.ipv4.ip_unprivileged_port_start';
    if (!draft.linux.namespaces.some((n) => n.type === 'network' && n.path === undefined)) return;
    if (draft.linux.sysctl?.[key] !== undefined) return;
    draft.linux.sysctl = { ...(draft.linux.sysctl ?? {}), [key]: '0' };
    ctx.source(pointer('linux', 'sysctl', key), 'own network namespace: Docker default 0 (moby daemon/oci_linux.go WithSysctls)');
  },
};

function rlimitNumber(v: number | 'unlimited'): number {
  return v === 'unlimited' ? Number.POSITIVE_INFINITY : v;
}

/**
 * RLIMIT_NOFILE soft = hard = min(1048576, the host's hard limit) (podman's default, lowered as
 * rootless podman does); explicit rlimits replace it by type. Raising a hard limit needs
 * CAP_SYS_RESOURCE in the initial namespace, which berth does not assume: no rlimit goes above
 * the current hard limit.
 */
export const rlimits: SpecTransformer = {
  name: 'rlimits',
  apply(draft, inputs, ctx) {
    const out = new Map<string, SpecRlimit>();
    const host = inputs.hostRlimits.RLIMIT_NOFILE;
    if (host === undefined) {
      ctx.warn({
        code: 'W_SPEC_RLIMIT_UNKNOWN',
        message: 'build config.json process.rlimits: the host limit for RLIMIT_NOFILE is unknown, so the container inherits it',
        details: { type: 'RLIMIT_NOFILE' },
      });
    } else {
      const n = Math.min(DEFAULT_NOFILE, rlimitNumber(host.hard));
      out.set('RLIMIT_NOFILE', { type: 'RLIMIT_NOFILE', soft: n, hard: n });
      ctx.source(
        '/process/rlimits',
        n === DEFAULT_NOFILE
          ? `RLIMIT_NOFILE ${DEFAULT_NOFILE} (podman default; the host hard limit is ${host.hard})`
          : `RLIMIT_NOFILE lowered to the host hard limit ${n} (never above it)`,
      );
    }
    const explicit: string[] = [];
    for (const r of inputs.rlimits ?? []) {
      const type = r.type.toUpperCase();
      const h = inputs.hostRlimits[type as keyof typeof inputs.hostRlimits];
      if (!Number.isSafeInteger(r.soft) || !Number.isSafeInteger(r.hard) || r.soft < 0 || r.soft > r.hard) {
        throw new BerthError('E_SPEC_RLIMIT', `apply rlimit ${type}: soft ${r.soft} and hard ${r.hard} are not 0 <= soft <= hard`, {
          hint: 'give soft:hard with soft not above hard',
          details: { type, soft: r.soft, hard: r.hard },
        });
      }
      if (h !== undefined && r.hard > rlimitNumber(h.hard)) {
        throw new BerthError('E_SPEC_RLIMIT', `apply rlimit ${type}: hard limit ${r.hard} is above the current hard limit ${h.hard}`, {
          hint: `use at most ${h.hard}; raising a hard limit needs CAP_SYS_RESOURCE on the host`,
          details: { type, hard: r.hard, hostHard: h.hard },
        });
      }
      out.set(type, { type, soft: r.soft, hard: r.hard });
      explicit.push(`${type} ${r.soft}:${r.hard}`);
    }
    if (out.size === 0) return;
    draft.process.rlimits = [...out.values()].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
    if (explicit.length > 0) {
      ctx.source('/process/rlimits', [...(host ? [`RLIMIT_NOFILE default min(${DEFAULT_NOFILE}, host hard ${host.hard})`] : []), ...explicit.map((e) => `explicit ${e}`)].join('; '));
    }
  },
};

/**
 * Rootful: Docker's device cgroup rules. Rootless: no cgroup resources at all (runc
 * specconv.ToRootless), since an unprivileged user cannot configure cgroups there.
 */
export const resources: SpecTransformer = {
  name: 'resources',
  apply(draft, inputs, ctx) {
    if (namespaceOf(inputs).rootless) {
      delete draft.linux.resources;
      return;
    }
    draft.linux.resources = { devices: dockerDeviceRules() };
    ctx.source('/linux/resources', 'Docker default device cgroup rules (moby DefaultLinuxSpec)');
  },
};

export const network: SpecTransformer = {
  name: 'network',
  apply(draft, inputs, ctx) {
    const mode = networkOf(inputs);
    const a: Record<string, string> = { ...(draft.annotations ?? {}), [SPEC_ANNOTATIONS.network]: mode };
    if (mode === 'none') a[SPEC_ANNOTATIONS.loopback] = 'runtime';
    draft.annotations = a;
    ctx.source(pointer('annotations', SPEC_ANNOTATIONS.network), inputs.network ? `--network ${mode}` : 'default --network none');
    if (mode === 'none') {
      ctx.source(pointer('annotations', SPEC_ANNOTATIONS.loopback), 'a new network namespace: the OCI runtime brings lo up (runc specconv loopback network)');
    }
  },
};

export const annotations: SpecTransformer = {
  name: 'annotations',
  apply(draft, inputs, ctx) {
    const user = inputs.annotations ?? {};
    const keys = Object.keys(user).sort();
    if (keys.length === 0) return;
    const out: Record<string, string> = { ...(draft.annotations ?? {}) };
    for (const k of keys) {
      if (k.startsWith('io.berth.')) {
        throw new BerthError('E_SPEC_ANNOTATION', `apply --annotation ${k}: the io.berth. prefix is reserved for berth`, {
          hint: 'use your own prefix, e.g. com.example.key',
          details: { key: k },
        });
      }
      out[k] = user[k]!;
      ctx.source(pointer('annotations', k), `--annotation ${k}=${user[k]}`);
    }
    draft.annotations = out;
  },
};

/** berth's default pipeline, in the order it runs. */
export const defaultPipeline: readonly SpecTransformer[] = Object.freeze([
  base,
  processArgs,
  user,
  cwd,
  hostname,
  env,
  terminal,
  capabilities,
  noNewPrivileges,
  readonlyRootfs,
  namespaces,
  idMappings,
  defaultMounts,
  usernsMounts,
  volumes,
  maskedPaths,
  sysctls,
  pingGroupRange,
  unprivilegedPorts,
  rlimits,
  resources,
  network,
  annotations,
]);

/** Looks a transformer up by name, e.g. to build a pipeline with one step replaced. */
export function transformerNamed(name: string, pipeline: readonly SpecTransformer[] = defaultPipeline): SpecTransformer | undefined {
  return pipeline.find((t) => t.name === name);
}

