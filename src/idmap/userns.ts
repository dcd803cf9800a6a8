/**
 * Container user namespaces for `--userns host|keep-id|nomap|auto` and `--uidmap/--gidmap`,
 * expressed in the IDs of the namespace the runtime runs in (intermediate IDs when rootless, host
 * IDs when rootful), the way podman builds them (userns.md rule 19; podman pkg/util/utils.go
 * getRootlessKeepIDMapping, GetNoMapMapping, ParseIDMapping; containers/storage userns.go
 * getAutoUserNS). Every result is checked against the IDs that namespace really has, because runc
 * otherwise reports only "can't get final child's PID from pipe: EOF".
 */
import { BerthError } from '../errors/index.js';
import { countIntervals, normalizeIntervals, subtractIntervals, takeLowest, type Interval } from './intervals.js';
import { identityOver, normalizeMap, toHost, validateMap, type IdMap, type IdRange } from './ranges.js';
import { parseIdMapSpec, resolveIdMapSpecs, type IdKind } from './spec.js';

export type UsernsMode =
  | { kind: 'host' }
  | { kind: 'keep-id'; uid?: number; gid?: number; size?: number }
  | { kind: 'nomap' }
  | { kind: 'auto'; size?: number; uidMappings: string[]; gidMappings: string[] };

const MODES_HINT = 'use host, keep-id[:uid=N,gid=N,size=N], nomap or auto[:size=N,uidmapping=C:[@]H[:N],gidmapping=...]';

function modeError(text: string, reason: string): BerthError {
  return new BerthError('E_USERNS_MODE', `parse --userns "${text}": ${reason}`, { hint: MODES_HINT, details: { mode: text } });
}

function optNumber(text: string, key: string, value: string): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) > 4294967294) throw modeError(text, `${key}=${value} is not a number`);
  return Number(value);
}

/** Parses a `--userns` value. '' means host, as in podman. */
export function parseUsernsMode(text: string): UsernsMode {
  const colon = text.indexOf(':');
  const name = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? undefined : text.slice(colon + 1);
  const opts = (allowed: readonly string[]): [string, string][] => {
    if (rest === undefined) return [];
    if (rest === '') throw modeError(text, 'empty option list after ":"');
    return rest.split(',').map((o) => {
      const eq = o.indexOf('=');
      if (eq <= 0) throw modeError(text, `option "${o}" is not KEY=VALUE`);
      const k = o.slice(0, eq);
      if (!allowed.includes(k)) throw modeError(text, `unknown option "${k}" for ${name} (valid: ${allowed.join(', ')})`);
      return [k, o.slice(eq + 1)];
    });
  };
  switch (name) {
    case '':
    case 'host':
      if (rest !== undefined) throw modeError(text, `${name || 'host'} takes no options`);
      return { kind: 'host' };
    case 'nomap':
      if (rest !== undefined) throw modeError(text, 'nomap takes no options');
      return { kind: 'nomap' };
    case 'keep-id': {
      const m: UsernsMode = { kind: 'keep-id' };
      for (const [k, v] of opts(['uid', 'gid', 'size'])) {
        const n = optNumber(text, k, v);
        if (k === 'size' && n === 0) throw modeError(text, 'size must be at least 1');
        m[k as 'uid' | 'gid' | 'size'] = n;
      }
      return m;
    }
    case 'auto': {
      const m: UsernsMode = { kind: 'auto', uidMappings: [], gidMappings: [] };
      for (const [k, v] of opts(['size', 'uidmapping', 'gidmapping'])) {
        if (k === 'size') {
          const n = optNumber(text, k, v);
          if (n === 0) throw modeError(text, 'size must be at least 1');
          m.size = n;
        } else {
          // Validate the syntax now; flags are not allowed here (podman parseAutoIDMap).
          for (const e of parseIdMapSpec(v, `--userns auto ${k}`)) {
            if (e.extend || e.appliesTo !== 'both') throw modeError(text, `${k} takes no +, u or g flags`);
          }
          (k === 'uidmapping' ? m.uidMappings : m.gidMappings).push(v);
        }
      }
      return m;
    }
    default:
      throw modeError(text, `unknown mode "${name}"`);
  }
}

export interface ContainerUsernsRequest {
  /** A parsed mode or the `--userns` text; default host. */
  userns?: UsernsMode | string;
  /** `--uidmap` values (podman syntax); conflicts with a --userns other than host. */
  uidmap?: readonly string[];
  gidmap?: readonly string[];
}

export interface ContainerUsernsContext {
  /**
   * The uid map of the namespace the runtime runs in: inside = IDs usable by container maps,
   * outside = host IDs. Rootless: buildRootlessMap's result; rootful: `0 0 4294967295`.
   */
  uidMap: readonly IdRange[];
  gidMap: readonly IdRange[];
  /** True when that namespace is berth's rootless intermediate namespace. */
  rootless: boolean;
  /** The user's uid/gid on the host: keep-id's default container user. */
  hostUid: number;
  hostGid: number;
  /** auto: the highest ID the image uses + 1 (layer ID sets, /etc/passwd, /etc/group); default 0. */
  imageIdsSize?: number;
  /** auto: the container maps (FROM side) of existing containers, which auto avoids. */
  usedUidMaps?: readonly (readonly IdRange[])[];
  usedGidMaps?: readonly (readonly IdRange[])[];
  /** auto without size= (storage.conf auto_userns_min_size / max_size); default 1024 / 65536. */
  autoMinSize?: number;
  autoMaxSize?: number;
  /** Rootful auto: host ranges it may use (containers/storage: the subuids of user "containers"). */
  autoUidPool?: readonly Interval[];
  autoGidPool?: readonly Interval[];
}

export interface ContainerUserns {
  /** The mode as given, e.g. "keep-id" or "--uidmap". */
  mode: string;
  /** False for host: the spec gets no user namespace and container IDs are the namespace's IDs. */
  userns: boolean;
  /** Container ID -> ID of the runtime's namespace (for host: the identity over that namespace). */
  uidMap: IdMap;
  gidMap: IdMap;
  /** keep-id: the process user the mode implies when no --user is given. */
  user?: { uid: number; gid: number };
}

/** Inside IDs of the runtime's namespace as intervals. */
function insideIds(map: readonly IdRange[]): Interval[] {
  return normalizeIntervals(map.map((r) => ({ start: r.container, end: r.container + r.size })));
}

/** S: how many subordinate IDs the rootless namespace holds (all IDs but the user's own). */
function subordinateCount(map: readonly IdRange[]): number {
  return Math.max(0, countIntervals(insideIds(map)) - 1);
}

/**
 * Checks that every FROM ID of `map` exists in the runtime's namespace (E_USERNS_MAP_TOO_BIG), then
 * the kernel's rules (validateMap). `label` is what the user asked for, e.g. "--uidmap 0:1:70000".
 */
export function validateContainerMap(map: readonly IdRange[], namespace: readonly IdRange[], kind: IdKind, label: string, rootless: boolean): void {
  const have = insideIds(namespace);
  for (const r of map) {
    const missing = subtractIntervals([{ start: r.host, end: r.host + r.size }], have);
    if (missing.length === 0) continue;
    const n = countIntervals(have);
    const contiguous = have.length === 1 && have[0]!.start === 0;
    const available = contiguous ? `only 0..${n - 1} exist` : `this namespace has only ${have.map((i) => `${i.start}..${i.end - 1}`).join(', ')}`;
    const why = rootless && contiguous ? ` (1 + ${n - 1} sub${kind}s)` : '';
    throw new BerthError(
      'E_USERNS_MAP_TOO_BIG',
      `${label} needs intermediate ${kind.toUpperCase()}s ${r.host}..${r.host + r.size - 1} but ${available}${why}`,
      {
        hint: rootless
          ? `use a smaller mapping, or delegate more IDs in /etc/sub${kind} (then every store made with the old map must be migrated)`
          : `use a mapping inside the IDs of this namespace`,
        details: { kind, range: r, missing, available: have },
      },
    );
  }
  validateMap(map, `${kind} map for ${label}`);
}

function keepId(mode: Extract<UsernsMode, { kind: 'keep-id' }>, ctx: ContainerUsernsContext): ContainerUserns {
  const uid = mode.uid ?? (ctx.rootless ? ctx.hostUid : 0);
  const gid = mode.gid ?? (ctx.rootless ? ctx.hostGid : 0);
  if (!ctx.rootless) {
    // Rootful (podman GetKeepIDMapping): the namespace's own IDs, and the chosen user.
    return { mode: 'keep-id', userns: true, uidMap: identityOver(ctx.uidMap), gidMap: identityOver(ctx.gidMap), user: { uid, gid } };
  }
  // podman getRootlessKeepIDMapping: the user's namespace root (intermediate 0) becomes `id`;
  // 0..id-1 come from intermediate 1.., and id+1..max keep their number. With size=N the map
  // ends at N-1. When id is beyond the subordinate IDs the gap stays unmapped (podman PR#4839).
  const build = (id: number, ns: readonly IdRange[]): IdMap => {
    let max = subordinateCount(ns);
    if (mode.size !== undefined) max = Math.min(max, mode.size - 1);
    const out: IdMap = [];
    if (max > 0 && id !== 0) out.push({ container: 0, host: 1, size: Math.min(id, max) });
    out.push({ container: id, host: 0, size: 1 });
    if (max > id) out.push({ container: id + 1, host: id + 1, size: max - id });
    return out;
  };
  return { mode: 'keep-id', userns: true, uidMap: build(uid, ctx.uidMap), gidMap: build(gid, ctx.gidMap), user: { uid, gid } };
}

function noMap(ctx: ContainerUsernsContext): ContainerUserns {
  if (!ctx.rootless) {
    throw new BerthError('E_USERNS_MODE', 'apply --userns nomap: nomap is only supported rootless', {
      hint: 'nomap keeps your own uid out of the container; as root use --uidmap instead',
    });
  }
  const build = (ns: readonly IdRange[], kind: IdKind): IdMap => {
    const s = subordinateCount(ns);
    if (s === 0) {
      throw new BerthError('E_USERNS_MODE', `apply --userns nomap: nomap needs subordinate ${kind.toUpperCase()}s and there are none`, {
        hint: `delegate a range in /etc/sub${kind}`,
      });
    }
    return [{ container: 0, host: 1, size: s }];
  };
  return { mode: 'nomap', userns: true, uidMap: build(ctx.uidMap, 'uid'), gidMap: build(ctx.gidMap, 'gid') };
}

function auto(mode: Extract<UsernsMode, { kind: 'auto' }>, ctx: ContainerUsernsContext): ContainerUserns {
  const min = ctx.autoMinSize ?? 1024;
  const max = ctx.autoMaxSize ?? 65536;
  let size = mode.size;
  if (size === undefined) {
    size = Math.max(min, ctx.imageIdsSize ?? 0);
    if (size > max) {
      throw new BerthError(
        'E_USERNS_MAP_TOO_BIG',
        `apply --userns auto: the image needs a user namespace of ${size} IDs (its highest ID is ${size - 1}) but auto allows at most ${max}`,
        { hint: `pass --userns auto:size=${size} if enough IDs are delegated, or fix the image's file owners`, details: { size, max } },
      );
    }
  }
  const build = (kind: IdKind): IdMap => {
    const ns = kind === 'uid' ? ctx.uidMap : ctx.gidMap;
    const extra = resolveIdMapSpecs(kind === 'uid' ? mode.uidMappings : mode.gidMappings, {
      kind,
      namespace: ns,
      fill: false,
      flag: `--userns auto ${kind}mapping`,
    });
    let pool: Interval[];
    if (ctx.rootless) {
      // storage getAvailableIDs: intermediate 1..S; 0 (the user) is never handed out.
      pool = subtractIntervals(insideIds(ns), [{ start: 0, end: 1 }]);
    } else {
      const p = kind === 'uid' ? ctx.autoUidPool : ctx.autoGidPool;
      if (p === undefined || p.length === 0) {
        throw new BerthError('E_USERNS_MODE', `apply --userns auto: no ${kind.toUpperCase()} ranges are set aside for automatic namespaces`, {
          hint: `as root, auto takes IDs from the sub${kind}s of user "containers": add a line such as containers:2147483647:2147483648 to /etc/sub${kind}`,
        });
      }
      pool = normalizeIntervals(p);
    }
    const used = [...((kind === 'uid' ? ctx.usedUidMaps : ctx.usedGidMaps) ?? []), extra].flatMap((m) =>
      m.map((r) => ({ start: r.host, end: r.host + r.size })),
    );
    const wanted = subtractIntervals([{ start: 0, end: size! }], extra.map((r) => ({ start: r.container, end: r.container + r.size })));
    const free = subtractIntervals(pool, used);
    const got = takeLowest(free, countIntervals(wanted));
    if (got === undefined) {
      throw new BerthError(
        'E_USERNS_MAP_TOO_BIG',
        `apply --userns auto: a namespace of ${size} ${kind.toUpperCase()}s does not fit; only ${countIntervals(free)} unused IDs are left`,
        {
          hint: ctx.rootless
            ? `remove containers, pass a smaller auto:size=, or delegate more IDs in /etc/sub${kind}`
            : 'remove containers or pass a smaller auto:size=',
          details: { kind, size, free: countIntervals(free) },
        },
      );
    }
    // Zip the container IDs wanted with the free IDs taken, both in ascending order.
    const out: IdMap = [];
    let gi = 0;
    let gpos = got[0]?.start ?? 0;
    for (const w of wanted) {
      let c = w.start;
      while (c < w.end) {
        const g = got[gi]!;
        const n = Math.min(w.end - c, g.end - gpos);
        out.push({ container: c, host: gpos, size: n });
        c += n;
        gpos += n;
        if (gpos >= g.end) {
          gi++;
          gpos = got[gi]?.start ?? 0;
        }
      }
    }
    return normalizeMap([...out, ...extra]);
  };
  return { mode: 'auto', userns: true, uidMap: build('uid'), gidMap: build('gid') };
}

function explicitMaps(req: ContainerUsernsRequest, ctx: ContainerUsernsContext): ContainerUserns {
  let uidSpecs = req.uidmap ?? [];
  let gidSpecs = req.gidmap ?? [];
  // podman: when only one of the two is given, it serves both (entries flagged u or g stay on their side).
  if (uidSpecs.length === 0) uidSpecs = gidSpecs;
  if (gidSpecs.length === 0) gidSpecs = uidSpecs;
  let uidMap = resolveIdMapSpecs(uidSpecs, { kind: 'uid', namespace: ctx.uidMap, fill: ctx.rootless });
  let gidMap = resolveIdMapSpecs(gidSpecs, { kind: 'gid', namespace: ctx.gidMap, fill: ctx.rootless });
  // Rootless: a side that ended up empty gets every namespace ID, in order (podman ParseIDMapping).
  if (ctx.rootless && uidMap.length === 0) uidMap = identityOver(ctx.uidMap);
  if (ctx.rootless && gidMap.length === 0) gidMap = identityOver(ctx.gidMap);
  if (uidMap.length === 0 || gidMap.length === 0) {
    const missing = uidMap.length === 0 ? 'uid' : 'gid';
    throw new BerthError('E_USERNS_MODE', `apply --uidmap/--gidmap: every ${missing} entry is flagged for the other map, so the container would have no ${missing}s`, {
      hint: `add a --${missing}map`,
    });
  }
  return { mode: '--uidmap', userns: true, uidMap, gidMap };
}

/**
 * The container's user namespace for a request, in the runtime namespace's IDs, validated against
 * the IDs that namespace has. Throws E_USERNS_MODE (bad or conflicting mode), E_IDMAP_SPEC (bad
 * --uidmap), E_USERNS_MAP_TOO_BIG (needs IDs the namespace lacks), E_IDMAP_OVERLAP/E_IDMAP_TOO_LARGE.
 */
export function containerUserns(req: ContainerUsernsRequest, ctx: ContainerUsernsContext): ContainerUserns {
  const mode = typeof req.userns === 'string' ? parseUsernsMode(req.userns) : (req.userns ?? { kind: 'host' as const });
  const hasMaps = (req.uidmap?.length ?? 0) > 0 || (req.gidmap?.length ?? 0) > 0;
  if (hasMaps && mode.kind !== 'host') {
    throw new BerthError('E_USERNS_MODE', `apply --uidmap/--gidmap: they conflict with --userns ${mode.kind}`, {
      hint: 'give either --userns or --uidmap/--gidmap',
    });
  }
  let result: ContainerUserns;
  let label: string;
  if (hasMaps) {
    result = explicitMaps(req, ctx);
    label = [...(req.uidmap ?? []).map((s) => `--uidmap ${s}`), ...(req.gidmap ?? []).map((s) => `--gidmap ${s}`)].join(' ');
  } else {
    switch (mode.kind) {
      case 'host':
        return { mode: 'host', userns: false, uidMap: identityOver(ctx.uidMap), gidMap: identityOver(ctx.gidMap) };
      case 'keep-id':
        result = keepId(mode, ctx);
        break;
      case 'nomap':
        result = noMap(ctx);
        break;
      case 'auto':
        result = auto(mode, ctx);
        break;
    }
    label = `--userns ${mode.kind}`;
  }
  validateContainerMap(result.uidMap, ctx.uidMap, 'uid', label, ctx.rootless);
  validateContainerMap(result.gidMap, ctx.gidMap, 'gid', label, ctx.rootless);
  return result;
}

/**
 * The host ID a container ID ends up as, through the container map and then the runtime
 * namespace's map; undefined when either leaves it unmapped.
 */
export function containerIdToHost(userns: ContainerUserns, namespace: readonly IdRange[], kind: IdKind, id: number): number | undefined {
  const intermediate = toHost(kind === 'uid' ? userns.uidMap : userns.gidMap, id);
  return intermediate === undefined ? undefined : toHost(namespace, intermediate);
}
