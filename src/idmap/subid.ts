/**
 * The subordinate ID database: `/etc/subuid` and `/etc/subgid` text (subuid(5)), the output of
 * shadow's `getsubids`, and which lines belong to a user.
 */
import { ignoreWarnings, type WarningSink } from '../errors/index.js';
import { ID_LIMIT } from './ranges.js';

/** Host IDs `start .. start+count-1` delegated to a user. */
export interface SubidRange {
  start: number;
  count: number;
}

/** One parsed line of /etc/subuid or /etc/subgid. */
export interface SubidEntry extends SubidRange {
  /** A login name or a decimal uid, as written. */
  owner: string;
  /** 1-based line number, for messages. */
  line: number;
}

export interface ParseSubidOptions {
  /** Receives one W_SUBID_LINE warning per line that is skipped. */
  onWarning?: WarningSink;
  /** The file's path, for warnings; default /etc/subuid. */
  path?: string;
}

/** shadow copies a line into a 1024-byte buffer and rejects longer ones. */
const MAX_LINE = 1023;

/**
 * strtoul(s, _, 0) as shadow's getulong/a2ul use it: decimal, 0x hex, or leading-0 octal. Unlike
 * strtoul, signs and spaces are refused: shadow would wrap "-1" to a huge value.
 */
function parseUlong(s: string): number | undefined {
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) n = parseInt(s.slice(2), 16);
  else if (/^0[0-7]*$/.test(s)) n = s.length === 1 ? 0 : parseInt(s.slice(1), 8);
  else if (/^[1-9][0-9]*$/.test(s)) n = Number(s);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Parses subuid/subgid text into entries, in file order. Follows shadow's subordinate_parse:
 * exactly three colon-separated non-empty fields `owner:start:count`; start at most 2^32-1 and
 * start+count at most 2^32. Blank lines and `#` comments are skipped quietly; any other line that
 * does not parse is skipped with a warning, as shadow ignores it (containers/storage instead fails
 * the whole file, which turns one typo into "no rootless at all"). Ranges of 0 IDs are dropped with
 * a warning because shadow never matches them.
 */
export function parseSubidFile(text: string, opts: ParseSubidOptions = {}): SubidEntry[] {
  const warn = opts.onWarning ?? ignoreWarnings;
  const path = opts.path ?? '/etc/subuid';
  const out: SubidEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const n = i + 1;
    if (raw.trim() === '' || raw.startsWith('#')) continue;
    const skip = (reason: string) =>
      warn({
        code: 'W_SUBID_LINE',
        message: `${path}:${n}: skipped "${raw.length > 80 ? raw.slice(0, 77) + '...' : raw}": ${reason}`,
        path,
        details: { line: n, reason },
      });
    if (raw.length > MAX_LINE) {
      skip(`longer than ${MAX_LINE} characters`);
      continue;
    }
    const f = raw.split(':');
    if (f.length !== 3 || f.some((x) => x === '')) {
      skip('expected owner:start:count');
      continue;
    }
    const start = parseUlong(f[1]!);
    const count = parseUlong(f[2]!);
    if (start === undefined || start > ID_LIMIT) {
      skip(`start "${f[1]}" is not a number from 0 to ${ID_LIMIT}`);
      continue;
    }
    if (count === undefined || count > ID_LIMIT || start + count > ID_LIMIT + 1) {
      skip(`count "${f[2]}" is not a number, or start+count passes ${ID_LIMIT + 1}`);
      continue;
    }
    if (count === 0) {
      skip('a range of 0 IDs delegates nothing');
      continue;
    }
    out.push({ owner: f[0]!, start, count, line: n });
  }
  return out;
}

/** Serialises entries back into file text (what `usermod --add-subuids` writes). */
export function formatSubidFile(entries: readonly Omit<SubidEntry, 'line'>[]): string {
  return entries.map((e) => `${e.owner}:${e.start}:${e.count}\n`).join('');
}

export interface SubidOwner {
  /** Login name, from getpwuid (never $USER). */
  user?: string;
  uid: number;
}

/**
 * The ranges that belong to a user, in file order: lines whose owner is the login name, and
 * lines keyed by the decimal uid (shadow list_owner_ranges / is_same_user; a user may have several
 * lines of either kind). shadow also accepts a *different* name that resolves to the same uid; only
 * `getsubids`, which asks shadow itself, sees those.
 */
export function selectSubids(entries: readonly SubidEntry[], owner: SubidOwner): SubidRange[] {
  const uidKey = String(owner.uid);
  return entries
    .filter((e) => (owner.user !== undefined && e.owner === owner.user) || e.owner === uidKey)
    .map((e) => ({ start: e.start, count: e.count }));
}

/**
 * Parses `getsubids [-g] USER` output, lines `INDEX: OWNER START COUNT` (shadow src/getsubids.c).
 * Returns undefined when a line does not have that shape, so the caller can fall back to the
 * files and say why.
 */
export function parseGetsubidsOutput(text: string): SubidRange[] | undefined {
  const out: SubidRange[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^\s*\d+:\s+\S+\s+(\d+)\s+(\d+)\s*$/.exec(line);
    if (!m) return undefined;
    const start = Number(m[1]);
    const count = Number(m[2]);
    if (start > ID_LIMIT || count > ID_LIMIT + 1) return undefined;
    if (count > 0) out.push({ start, count });
  }
  return out;
}
