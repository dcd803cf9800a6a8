/**
 * `--uidmap` / `--gidmap` strings in podman's syntax, `[flags]CONTAINER:[@]FROM[:COUNT]`, and their
 * resolution into a map (podman pkg/util/utils.go ParseIDMap, parseTriple, breakInsert, fillIDMap;
 * docs/source/markdown/options/uidmap.container.md):
 * - COUNT defaults to 1; one value may hold several triples, `0:1:10:10:20:5`;
 * - FROM is an ID of the namespace the runtime runs in (an intermediate ID when rootless);
 *   `@FROM` names a host ID instead, translated through that namespace's map one ID at a time;
 * - flag `+` removes whatever conflicts with this range (inside or outside) from the ranges
 *   before it; when it comes first on a rootless host, the remaining IDs fill the gaps;
 * - flags `u` / `g` restrict a range to the uid or the gid map (useful when one list serves both).
 */
import { BerthError } from '../errors/index.js';
import { normalizeIntervals, subtractIntervals, type Interval } from './intervals.js';
import { ID_LIMIT, normalizeMap, toContainer, type IdMap, type IdRange } from './ranges.js';

export type IdKind = 'uid' | 'gid';

/** One triple of a `--uidmap` value. Without flags it is a plain IdRange (`host` = FROM). */
export interface IdMapSpecEntry extends IdRange {
  /** `@`: `host` is an ID of the parent namespace, to be translated through the namespace's map. */
  fromParent: boolean;
  /** `+`: break earlier ranges that conflict with this one instead of requiring them to be disjoint. */
  extend: boolean;
  /** `u` or `g` restrict the entry to one kind; no flag (or both) means both maps. */
  appliesTo: 'both' | IdKind;
}

const SYNTAX = 'use [+ug]CONTAINER:[@]FROM[:COUNT], e.g. 0:1:65536 or +g100000:@2000';

function specError(flag: string, spec: string, reason: string): BerthError {
  return new BerthError('E_IDMAP_SPEC', `parse ${flag} "${spec}": ${reason}`, { hint: SYNTAX, details: { spec } });
}

function parseNumber(flag: string, spec: string, field: string, what: string): number {
  if (!/^\d{1,10}$/.test(field) || Number(field) > ID_LIMIT) {
    throw specError(flag, spec, `${what} "${field}" is not a number from 0 to ${ID_LIMIT}`);
  }
  return Number(field);
}

/**
 * Parses one `--uidmap` value into its triples. `flag` names the option in messages.
 * Throws E_IDMAP_SPEC; COUNT 0 is refused (podman drops such a range silently).
 */
export function parseIdMapSpec(spec: string, flag = '--uidmap'): IdMapSpecEntry[] {
  if (spec === '') throw specError(flag, spec, 'the value is empty');
  const fields = spec.split(':');
  if (fields.length === 2) fields.push('1');
  if (fields.length % 3 !== 0) {
    throw specError(flag, spec, `${fields.length} fields; each mapping needs CONTAINER:FROM or CONTAINER:FROM:COUNT`);
  }
  const out: IdMapSpecEntry[] = [];
  for (let i = 0; i < fields.length; i += 3) {
    const head = fields[i]!;
    const m = /^([+ug]*)(.*)$/.exec(head)!;
    const flags = m[1]!;
    const container = parseNumber(flag, spec, m[2]!, 'container ID');
    let fromField = fields[i + 1]!;
    const fromParent = fromField.startsWith('@');
    if (fromParent) fromField = fromField.slice(1);
    const host = parseNumber(flag, spec, fromField, fromParent ? 'host ID' : 'FROM ID');
    const size = parseNumber(flag, spec, fields[i + 2]!, 'COUNT');
    if (size === 0) throw specError(flag, spec, 'COUNT is 0; a mapping needs at least one ID');
    const u = flags.includes('u');
    const g = flags.includes('g');
    out.push({
      container,
      host,
      size,
      fromParent,
      extend: flags.includes('+'),
      appliesTo: u === g ? 'both' : u ? 'uid' : 'gid',
    });
  }
  return out;
}

/** The inverse of parseIdMapSpec for one entry (canonical flag order `+`, `u`/`g`). */
export function formatIdMapSpecEntry(e: IdMapSpecEntry): string {
  const flags = (e.extend ? '+' : '') + (e.appliesTo === 'both' ? '' : e.appliesTo[0]);
  return `${flags}${e.container}:${e.fromParent ? '@' : ''}${e.host}:${e.size}`;
}

/**
 * Removes from `map` every piece that conflicts with `ext` on either side, then appends `ext`
 * (podman breakInsert: the `+` flag).
 */
export function breakInsert(map: readonly IdRange[], ext: IdRange): IdMap {
  const out: IdMap = [];
  for (const piece of map) {
    // Offsets into `piece` that `ext` takes away, by container side and by host side.
    const cut = normalizeIntervals([
      { start: ext.container - piece.container, end: ext.container - piece.container + ext.size },
      { start: ext.host - piece.host, end: ext.host - piece.host + ext.size },
    ]);
    for (const keep of subtractIntervals([{ start: 0, end: piece.size }], cut)) {
      out.push({ container: piece.container + keep.start, host: piece.host + keep.start, size: keep.end - keep.start });
    }
  }
  out.push({ container: ext.container, host: ext.host, size: ext.size });
  return out;
}

/** Free IDs of the namespace: its inside IDs not yet used as FROM by `map`. */
function freeIds(map: readonly IdRange[], namespace: readonly IdRange[]): Interval[] {
  return subtractIntervals(
    namespace.map((r) => ({ start: r.container, end: r.container + r.size })),
    map.map((r) => ({ start: r.host, end: r.host + r.size })),
  );
}

/**
 * Gives every container ID from 0 upwards that `map` leaves unassigned one of the free IDs, in
 * order, until they run out (podman fillIDMap).
 */
export function fillIdMap(map: readonly IdRange[], namespace: readonly IdRange[]): IdMap {
  const free = freeIds(map, namespace);
  const pieces = [...map].sort((a, b) => a.container - b.container);
  const out: IdMap = [];
  let fi = 0;
  let nextHost = free[0]?.start ?? 0;
  let nextContainer = 0;
  const take = (upTo: number) => {
    while (nextContainer < upTo && fi < free.length) {
      const avail = free[fi]!.end - nextHost;
      const size = Math.min(upTo - nextContainer, avail);
      out.push({ container: nextContainer, host: nextHost, size });
      nextContainer += size;
      nextHost += size;
      if (nextHost >= free[fi]!.end) {
        fi++;
        nextHost = free[fi]?.start ?? 0;
      }
    }
  };
  for (const p of pieces) {
    take(p.container);
    out.push({ ...p });
    nextContainer = Math.max(nextContainer, p.container + p.size);
  }
  take(ID_LIMIT);
  return out;
}

export interface ResolveIdMapOptions {
  kind: IdKind;
  /**
   * The map of the namespace the runtime runs in: inside = the IDs a container map may use as
   * FROM (intermediate IDs when rootless), outside = host IDs (for `@`).
   */
  namespace: readonly IdRange[];
  /** Rootless: a leading `+` range, or an empty result, is completed with the free IDs. */
  fill: boolean;
  /** Names the option in messages; default `--uidmap` / `--gidmap` by kind. */
  flag?: string;
}

/**
 * Resolves the `--uidmap` (or `--gidmap`) values into one map of container -> FROM IDs, sorted by
 * container ID with consecutive ranges merged. Returns [] when no entry applies to `kind`.
 * Overlaps and the namespace's size are checked by the caller (validateMap, containerMaps).
 */
export function resolveIdMapSpecs(specs: readonly string[], opts: ResolveIdMapOptions): IdMap {
  const flag = opts.flag ?? (opts.kind === 'uid' ? '--uidmap' : '--gidmap');
  let map: IdMap = [];
  let fill = false;
  for (const spec of specs) {
    for (const e of parseIdMapSpec(spec, flag)) {
      if (e.appliesTo !== 'both' && e.appliesTo !== opts.kind) continue;
      const ranges: IdRange[] = [];
      if (e.fromParent) {
        // One ID at a time: host IDs that are adjacent need not be adjacent in the namespace.
        for (let i = 0; i < e.size; i++) {
          const mapped = toContainer(opts.namespace, e.host + i);
          if (mapped === undefined) {
            throw new BerthError('E_IDMAP_SPEC', `parse ${flag} "${spec}": host ${opts.kind} ${e.host + i} is not mapped into this user namespace`, {
              hint: `only host IDs delegated to you (see /etc/sub${opts.kind}) or your own ${opts.kind} can be named with @`,
              details: { spec, hostId: e.host + i },
            });
          }
          ranges.push({ container: e.container + i, host: mapped, size: 1 });
        }
      } else {
        ranges.push({ container: e.container, host: e.host, size: e.size });
      }
      for (const r of ranges) {
        if (!e.extend) {
          map.push(r);
          continue;
        }
        if (map.length === 0 && opts.fill) fill = true;
        map = breakInsert(map, r);
      }
    }
  }
  if (fill) map = fillIdMap(map, opts.namespace);
  return normalizeMap(map);
}
