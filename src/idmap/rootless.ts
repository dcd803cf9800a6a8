/**
 * The rootless ("intermediate") map: the user's own ID as 0, then the subordinate ranges numbered
 * from 1 (userns.md rule 18 and section 3 Step 2; containers/storage idtools createIDMap). Built
 * deterministically and checked before anything is spawned, because newuidmap does not check
 * overlap and the kernel only answers EINVAL. Also the comparison that keeps a store from being
 * used with a different map than the one its files were written with.
 */
import { BerthError } from '../errors/index.js';
import { formatIdMap, ID_LIMIT, MAX_MAP_BYTES, MAX_MAP_LINES, sameMapping, validateMap, type IdMap, type IdRange } from './ranges.js';
import type { IdKind } from './spec.js';
import type { SubidRange } from './subid.js';

export interface RootlessMapContext {
  /** Which map is built; default 'uid'. */
  kind?: IdKind;
  /** Login name, for messages and the suggested fix. */
  user?: string;
  /** Where the ranges came from, e.g. "/etc/subuid" or "getsubids"; default the file. */
  source?: string;
}

function nameOf(id: number, ctx: RootlessMapContext): string {
  return ctx.user ?? `${ctx.kind === 'gid' ? 'gid' : 'uid'} ${id}`;
}

/**
 * `0 -> id (1)`, then `subids` sorted by host start, adjacent ones merged, numbered from 1.
 * Throws:
 * - E_NO_SUBIDS when there are none (berth never falls back to a one-ID map silently: that
 *   disables setgroups and runc then drops supplementary groups without a word, rule 26);
 * - E_SUBID_INVALID when a range reaches past 4294967294;
 * - E_SUBID_OVERLAP when two ranges overlap (newuidmap passes them; the kernel says EINVAL);
 * - E_SUBID_CONTAINS_OWN_ID when a range holds the user's own ID (the map would list it twice);
 * - E_IDMAP_TOO_LARGE beyond 340 lines or 4095 bytes of map text.
 */
export function buildRootlessMap(id: number, subids: readonly SubidRange[], ctx: RootlessMapContext = {}): IdMap {
  const kind = ctx.kind ?? 'uid';
  const KIND = kind.toUpperCase();
  const file = `/etc/sub${kind}`;
  const source = ctx.source ?? file;
  const who = nameOf(id, ctx);
  const op = `create user namespace for ${who}`;
  const example = ctx.user ?? 'USER';
  const ranges = subids.filter((r) => r.count > 0).sort((a, b) => a.start - b.start || a.count - b.count);

  if (ranges.length === 0) {
    throw new BerthError('E_NO_SUBIDS', `${op}: no subordinate ${KIND}s for ${who} in ${file} (or NSS subid)`, {
      hint: `delegate a range, e.g. \`sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${example}\``,
      details: { kind, user: ctx.user, id, source },
    });
  }
  for (const r of ranges) {
    if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.count) || r.start < 0 || r.start + r.count > ID_LIMIT) {
      throw new BerthError('E_SUBID_INVALID', `${op}: sub${kind} range ${r.start}+${r.count} reaches past ID ${ID_LIMIT - 1}`, {
        hint: `fix the line in ${source}`,
        details: { kind, range: r, source },
      });
    }
  }
  for (let i = 1; i < ranges.length; i++) {
    const a = ranges[i - 1]!;
    const b = ranges[i]!;
    if (b.start < a.start + a.count) {
      throw new BerthError(
        'E_SUBID_OVERLAP',
        `${op}: sub${kind} ranges ${a.start}+${a.count} and ${b.start}+${b.count} overlap (kernel would say EINVAL)`,
        {
          hint: `remove or shrink one of the overlapping lines for ${example} in ${source}`,
          details: { kind, ranges: [a, b], source },
        },
      );
    }
  }
  for (const r of ranges) {
    if (id >= r.start && id < r.start + r.count) {
      throw new BerthError('E_SUBID_CONTAINS_OWN_ID', `${op}: sub${kind} range ${r.start}+${r.count} contains your own ${kind} ${id}`, {
        hint: `delegate a range that does not include ${id} in ${source}; your own ${kind} is always mapped as 0`,
        details: { kind, range: r, id, source },
      });
    }
  }
  const merged: SubidRange[] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && last.start + last.count === r.start) last.count += r.count;
    else merged.push({ ...r });
  }
  const map: IdMap = [{ container: 0, host: id, size: 1 }];
  let next = 1;
  for (const r of merged) {
    map.push({ container: next, host: r.start, size: r.count });
    next += r.count;
  }
  const bytes = formatIdMap(map).length;
  if (map.length > MAX_MAP_LINES || bytes > MAX_MAP_BYTES) {
    throw new BerthError(
      'E_IDMAP_TOO_LARGE',
      `${op}: ${merged.length} separate sub${kind} ranges make a ${kind}_map of ${map.length} lines (${bytes} bytes); the kernel accepts at most ${MAX_MAP_LINES} lines and less than 4096 bytes`,
      { hint: `merge the ranges for ${example} in ${source} into fewer, larger ones`, details: { kind, lines: map.length, bytes } },
    );
  }
  if (next > ID_LIMIT) {
    throw new BerthError('E_SUBID_INVALID', `${op}: ${next - 1} sub${kind}s do not fit in one namespace`, {
      hint: `delegate fewer IDs in ${source}`,
      details: { kind, total: next - 1 },
    });
  }
  validateMap(map, `${kind} map`);
  return map;
}

/** N: how many IDs a namespace with this map has, if its inside IDs are 0..N-1 (else the total). */
export function namespaceSize(map: readonly IdRange[]): number {
  return map.reduce((n, r) => n + r.size, 0);
}

export interface StoredMaps {
  uidMap: IdMap;
  gidMap: IdMap;
}

/** `100000+65536, 300000+10` (own ID line left out unless `withOwn`). */
function summarize(map: readonly IdRange[], kind: IdKind, withOwn: boolean): string {
  const own = map.find((r) => r.container === 0 && r.size === 1);
  const subs = map.filter((r) => r !== own).map((r) => `${r.host}+${r.size}`);
  const parts = [...(withOwn && own ? [`${kind} ${own.host}`] : []), ...(subs.length > 0 ? subs : ['no subordinate IDs'])];
  return parts.join(', ');
}

/**
 * Refuses to use a store with a map other than the one its files were written with (Step 2): the
 * owners on disk are host IDs, so a changed /etc/subuid silently re-owns every file. Nothing is
 * stored yet (`stored` undefined) is fine. Throws E_SUBID_CHANGED naming what changed.
 */
export function compareStoredMap(stored: StoredMaps | undefined, current: StoredMaps): void {
  if (stored === undefined) return;
  const changes: string[] = [];
  const files: string[] = [];
  for (const kind of ['uid', 'gid'] as const) {
    const was = kind === 'uid' ? stored.uidMap : stored.gidMap;
    const now = kind === 'uid' ? current.uidMap : current.gidMap;
    if (sameMapping(was, now)) continue;
    const ownChanged = was[0]?.host !== now[0]?.host;
    changes.push(`sub${kind}s were ${summarize(was, kind, ownChanged)}, now ${summarize(now, kind, ownChanged)}`);
    files.push(`/etc/sub${kind}`);
  }
  if (changes.length === 0) return;
  throw new BerthError(
    'E_SUBID_CHANGED',
    `open store: subordinate ID configuration changed since this store was created (${changes.join('; ')}); run \`berth system migrate-ids\` or restore ${files.join(' and ')}`,
    {
      hint: `file owners in the store were written through the old map; restore ${files.join(' and ')} or migrate the store`,
      details: { stored, current },
    },
  );
}
