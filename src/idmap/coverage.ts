/**
 * Which file owners an image needs that a map cannot hold: the facts behind `explain`'s
 * IDS_OUTSIDE_MAPPING and behind unpack's "owned by 70000:70000 but this user namespace has
 * container IDs 0-65536" (userns.md U1; podman's "potentially insufficient UIDs or GIDs").
 */
import { toHost, type IdRange } from './ranges.js';

export interface UncoveredIds {
  /** Owner IDs the map does not hold, ascending. Empty when the map holds every owner. */
  ids: number[];
  /** Up to `maxPaths` sample paths per uncovered ID (in input order), for the first `maxIds` IDs. */
  samples: { id: number; paths: string[] }[];
  /** Number of files (input pairs) whose owner is not held. */
  files: number;
  /** The smallest `[0, n)` holding every uncovered owner: highest uncovered ID + 1 (0 when none). */
  requiredSize: number;
  /**
   * Subordinate IDs needed for the default rootless layout (container ID x is intermediate x,
   * which is the x-th subordinate ID): the highest uncovered ID. 0 when nothing is missing.
   */
  requiredSubids: number;
}

export interface UncoveredOptions {
  /** Sample paths kept per ID; default 3. */
  maxPaths?: number;
  /** IDs that get samples; default 10. */
  maxIds?: number;
}

/**
 * Lists the owners in `owners` that `map` (container side) does not hold. `owners` is either
 * `{ id, path }` pairs (one per file, e.g. every uid of a layer's index) or a map ID -> paths.
 */
export function uncoveredIds(
  map: readonly IdRange[],
  owners: Iterable<{ id: number; path: string }> | ReadonlyMap<number, readonly string[]>,
  opts: UncoveredOptions = {},
): UncoveredIds {
  const maxPaths = opts.maxPaths ?? 3;
  const maxIds = opts.maxIds ?? 10;
  const missing = new Map<number, { paths: string[]; files: number }>();
  const held = new Map<number, boolean>();
  const visit = (id: number, path: string | undefined, files: number) => {
    let ok = held.get(id);
    if (ok === undefined) {
      ok = toHost(map, id) !== undefined;
      held.set(id, ok);
    }
    if (ok) return;
    let m = missing.get(id);
    if (!m) missing.set(id, (m = { paths: [], files: 0 }));
    m.files += files;
    if (path !== undefined && m.paths.length < maxPaths) m.paths.push(path);
  };
  if (owners instanceof Map) {
    for (const [id, paths] of owners as ReadonlyMap<number, readonly string[]>) {
      if (paths.length === 0) visit(id, undefined, 0);
      paths.forEach((p) => visit(id, p, 1));
    }
  } else {
    for (const o of owners as Iterable<{ id: number; path: string }>) visit(o.id, o.path, 1);
  }
  const ids = [...missing.keys()].sort((a, b) => a - b);
  const highest = ids.length > 0 ? ids[ids.length - 1]! : -1;
  return {
    ids,
    samples: ids.slice(0, maxIds).map((id) => ({ id, paths: missing.get(id)!.paths })),
    files: ids.reduce((n, id) => n + missing.get(id)!.files, 0),
    requiredSize: highest + 1,
    requiredSubids: Math.max(0, highest),
  };
}
