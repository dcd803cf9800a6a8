/**
 * Sets of IDs as sorted, disjoint half-open intervals `[start, end)`: what is free, what is used,
 * and how to take IDs from what is free. Used to fill `--uidmap +...` gaps and to place
 * `--userns auto` namespaces among other containers'.
 */

export interface Interval {
  start: number;
  /** Exclusive. */
  end: number;
}

/** Sorted, merged copy; empty intervals dropped. */
export function normalizeIntervals(list: readonly Interval[]): Interval[] {
  const sorted = list.filter((i) => i.end > i.start).sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else out.push({ ...i });
  }
  return out;
}

/** Every ID in `full` that is not in `used`. */
export function subtractIntervals(full: readonly Interval[], used: readonly Interval[]): Interval[] {
  const u = normalizeIntervals(used);
  const out: Interval[] = [];
  for (const f of normalizeIntervals(full)) {
    let cur = f.start;
    for (const x of u) {
      if (x.end <= cur) continue;
      if (x.start >= f.end) break;
      if (x.start > cur) out.push({ start: cur, end: x.start });
      cur = Math.max(cur, x.end);
      if (cur >= f.end) break;
    }
    if (cur < f.end) out.push({ start: cur, end: f.end });
  }
  return out;
}

export function countIntervals(list: readonly Interval[]): number {
  return list.reduce((n, i) => n + (i.end - i.start), 0);
}

/** The lowest `n` IDs of `list` (which must be normalized); undefined when it holds fewer. */
export function takeLowest(list: readonly Interval[], n: number): Interval[] | undefined {
  const out: Interval[] = [];
  let left = n;
  for (const i of list) {
    if (left === 0) break;
    const take = Math.min(left, i.end - i.start);
    out.push({ start: i.start, end: i.start + take });
    left -= take;
  }
  return left === 0 ? out : undefined;
}
