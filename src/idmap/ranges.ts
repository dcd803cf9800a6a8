/**
 * ID ranges and maps: the data every other idmap function works on, the two translations, the
 * kernel's rules for a map (validateMap), and the kernel text format of uid_map/gid_map.
 *
 * Vocabulary: a range maps `size` consecutive IDs starting at `container` (the IDs seen inside the
 * namespace) to IDs starting at `host` (the IDs of the parent namespace). A container map built
 * for a rootless host is expressed in intermediate IDs, so there "host" means intermediate.
 */
import { BerthError } from '../errors/index.js';

export interface IdRange {
  /** First ID inside the namespace. */
  container: number;
  /** First ID in the parent namespace. */
  host: number;
  /** Number of consecutive IDs; at least 1. */
  size: number;
}

/** One line of `uid_map` or `gid_map` per range, in the order they are written. */
export type IdMap = IdRange[];

/**
 * 4294967295 ((u32)-1) is the kernel's "no ID" value: no range may start at it or reach past it
 * (kernel/user_namespace.c map_write rejects `first + count` overflowing u32), so the largest
 * exclusive end of a range is 2^32 - 1. `0 0 4294967295` is the full map of the initial namespace.
 */
export const ID_LIMIT = 4294967295;

/** user_namespaces(7): at most 340 lines since Linux 4.15. */
export const MAX_MAP_LINES = 340;

/** The map must be written in one write(2) smaller than a page (4096 bytes). */
export const MAX_MAP_BYTES = 4095;

/** Container ID -> host ID; undefined when `id` is not mapped. */
export function toHost(map: readonly IdRange[], id: number): number | undefined {
  for (const r of map) {
    if (id >= r.container && id < r.container + r.size) return r.host + (id - r.container);
  }
  return undefined;
}

/** Host ID -> container ID; undefined when `id` is not mapped. The inverse of toHost. */
export function toContainer(map: readonly IdRange[], id: number): number | undefined {
  for (const r of map) {
    if (id >= r.host && id < r.host + r.size) return r.container + (id - r.host);
  }
  return undefined;
}

/** The kernel text for a map: `inside outside count\n` per range (what newuidmap and root write). */
export function formatIdMap(map: readonly IdRange[]): string {
  return map.map((r) => `${r.container} ${r.host} ${r.size}\n`).join('');
}

/** `0..9 -> 100000..100009` (or `0 -> 1001` for one ID), for messages. */
export function describeRange(r: IdRange): string {
  return r.size === 1 ? `${r.container} -> ${r.host}` : `${r.container}..${r.container + r.size - 1} -> ${r.host}..${r.host + r.size - 1}`;
}

/** The map as `inside outside count` lines joined by " / ", for messages. */
export function describeMap(map: readonly IdRange[]): string {
  return map.length === 0 ? '(empty)' : map.map((r) => `${r.container} ${r.host} ${r.size}`).join(' / ');
}

/**
 * Parses `/proc/PID/uid_map` text (three right-aligned columns per line). The kernel writes this
 * file, so a malformed line is a bug worth reporting, not something to skip.
 */
export function parseIdMapText(text: string, what = 'uid_map'): IdMap {
  const out: IdMap = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const f = line.split(/\s+/);
    const nums = f.map((s) => (/^\d{1,10}$/.test(s) ? Number(s) : NaN));
    if (f.length !== 3 || nums.some((n) => !Number.isSafeInteger(n) || n > ID_LIMIT)) {
      throw new BerthError('E_IDMAP_INVALID', `parse ${what}: line ${i + 1} "${line}" is not "inside outside count"`, {
        details: { line: i + 1 },
      });
    }
    out.push({ container: nums[0]!, host: nums[1]!, size: nums[2]! });
  }
  return out;
}

/** Ranges ordered by container start, then host start: the canonical order for comparing maps. */
export function sortByContainer(map: readonly IdRange[]): IdMap {
  return [...map].sort((a, b) => a.container - b.container || a.host - b.host || a.size - b.size);
}

/**
 * Sorts by container start and joins ranges that continue each other on both sides. Two maps that
 * translate every ID the same way have the same normal form.
 */
export function normalizeMap(map: readonly IdRange[]): IdMap {
  const out: IdMap = [];
  for (const r of sortByContainer(map)) {
    const last = out[out.length - 1];
    if (last && last.container + last.size === r.container && last.host + last.size === r.host) {
      last.size += r.size;
    } else {
      out.push({ ...r });
    }
  }
  return out;
}

/** True when both maps translate every ID the same way (order and splitting do not matter). */
export function sameMapping(a: readonly IdRange[], b: readonly IdRange[]): boolean {
  const x = normalizeMap(a);
  const y = normalizeMap(b);
  return x.length === y.length && x.every((r, i) => r.container === y[i]!.container && r.host === y[i]!.host && r.size === y[i]!.size);
}

/** Total number of IDs the map holds. */
export function mapSize(map: readonly IdRange[]): number {
  return map.reduce((n, r) => n + r.size, 0);
}

/** The identity map over the container side of `map` (what "no user namespace" looks like from inside it). */
export function identityOver(map: readonly IdRange[]): IdMap {
  return normalizeMap(map.map((r) => ({ container: r.container, host: r.container, size: r.size })));
}

function firstOverlap(map: readonly IdRange[], side: 'container' | 'host'): [IdRange, IdRange] | undefined {
  const sorted = [...map].sort((a, b) => a[side] - b[side]);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur[side] < prev[side] + prev.size) return [prev, cur];
  }
  return undefined;
}

/**
 * Checks a map against the kernel's rules for writing uid_map/gid_map (user_namespaces(7);
 * userns.md rule 2), so a bad map fails here with a clear message rather than as EINVAL from the
 * kernel or "Invalid argument" from newuidmap:
 * - at least one range; every value an integer; size >= 1;
 * - no range reaches past 4294967294 on either side;
 * - no two ranges overlap inside, and none overlap outside;
 * - at most 340 lines and less than 4096 bytes of text (the page limit binds first in practice:
 *   320 one-ID lines fit, 330 do not).
 * `what` names the map in messages, e.g. "uid map" or "--uidmap 0:1:70000".
 */
export function validateMap(map: readonly IdRange[], what = 'uid map'): void {
  const op = `validate ${what}`;
  if (map.length === 0) {
    throw new BerthError('E_IDMAP_INVALID', `${op}: the map is empty`, {
      hint: 'a user namespace needs at least one range, e.g. 0 100000 65536',
    });
  }
  for (const r of map) {
    for (const k of ['container', 'host', 'size'] as const) {
      if (!Number.isSafeInteger(r[k]) || r[k] < 0) {
        throw new BerthError('E_IDMAP_INVALID', `${op}: ${k} ${String(r[k])} is not a non-negative integer`, {
          details: { range: r },
        });
      }
    }
    if (r.size < 1) {
      throw new BerthError('E_IDMAP_INVALID', `${op}: range ${r.container} ${r.host} ${r.size} has size 0`, {
        hint: 'every range needs at least one ID',
        details: { range: r },
      });
    }
    if (r.container + r.size > ID_LIMIT || r.host + r.size > ID_LIMIT) {
      throw new BerthError(
        'E_IDMAP_INVALID',
        `${op}: range ${r.container} ${r.host} ${r.size} reaches past ID ${ID_LIMIT - 1}, the largest the kernel maps`,
        { details: { range: r } },
      );
    }
  }
  for (const side of ['container', 'host'] as const) {
    const o = firstOverlap(map, side);
    if (o) {
      const [a, b] = o;
      throw new BerthError(
        'E_IDMAP_OVERLAP',
        `${op}: ${side === 'container' ? 'inside' : 'outside'} ranges ${a[side]}+${a.size} and ${b[side]}+${b.size} overlap (the kernel would say EINVAL)`,
        { hint: 'every ID may appear in only one range on each side of the map', details: { ranges: [a, b], side } },
      );
    }
  }
  const bytes = formatIdMap(map).length;
  if (map.length > MAX_MAP_LINES || bytes > MAX_MAP_BYTES) {
    throw new BerthError(
      'E_IDMAP_TOO_LARGE',
      `${op}: ${map.length} lines (${bytes} bytes) exceed the kernel's limit of ${MAX_MAP_LINES} lines and less than 4096 bytes`,
      {
        hint: 'merge adjacent ranges or use fewer, larger subordinate ranges',
        details: { lines: map.length, bytes },
      },
    );
  }
}
