/**
 * identity/execuser: moby/sys `user.GetExecUser` and `GetAdditionalGroups` at HEAD (d7c3b9e), the
 * resolver Docker, podman, CRI-O and BuildKit share (identity.md rules 1-13 and 20), over an
 * already-parsed UserDb. Besides the ExecUser fields it returns the entries that decided each one,
 * so profiles can explain themselves.
 *
 * Invariants (moby/sys HEAD):
 * - the spec is cut at the FIRST `:` (`a:b:c` is user `a`, group `b:c`); nothing is trimmed;
 * - a part is numeric iff strconv.Atoi accepts it; a numeric part outside 0..2147483647 fails
 *   with ErrRange before any file is read, user part first;
 * - numeric parts match only the id column, names only the name column; first match wins;
 * - the group stage runs only if a group part was given or a passwd entry with a non-empty name
 *   matched; an explicit group disables the membership lookup.
 */
import { BerthError } from '../errors/index.js';
import { goAtoi, inIdRange, MAX_ID, toNumber } from './numeric.js';
import type { GroupEntry, PasswdEntry, UserDb } from './userdb.js';

export const RANGE_MESSAGE = `uids and gids must be in range 0-${MAX_ID}`;

export interface ExecUserDefaults {
  uid: number;
  gid: number;
  sgids: number[];
  home: string;
}

export interface ExecUser {
  uid: number;
  gid: number;
  /** Supplementary gids: file order, duplicates kept (moby/sys rule 11). */
  sgids: number[];
  home: string;
  /** The passwd entry that matched (first match), if any. */
  userEntry?: PasswdEntry;
  /** The group entry that gave an explicit group part its gid, if any. */
  groupEntry?: GroupEntry;
  /** The group entries whose member list named the user (implicit form only). */
  memberOf: GroupEntry[];
  /** How each part of the spec was read. */
  userArg: IdArg | null;
  groupArg: IdArg | null;
}

/** A parsed user or group part (moby/sys userArg/groupArg). */
export interface IdArg {
  name: string;
  numeric: boolean;
  /** The id when numeric (0..MAX_ID). */
  id: number;
}

/** moby/sys parseNumeric: numeric iff Atoi accepts it; out of range is an error either way. */
export function parseIdArg(part: string, spec: string, kind: 'user' | 'group'): IdArg | null {
  if (part === '') return null;
  const n = goAtoi(part);
  if (n.kind === 'syntax') return { name: part, numeric: false, id: 0 };
  if (n.kind === 'range' || !inIdRange(n.value)) throw rangeError(spec, kind, part);
  return { name: part, numeric: true, id: toNumber(n.value) };
}

export function rangeError(spec: string, kind: 'user' | 'group', part: string, extra?: string): BerthError {
  return new BerthError('E_ID_RANGE', `resolve user ${JSON.stringify(spec)}: ${extra ?? ''}${RANGE_MESSAGE}`, {
    hint: `use a ${kind === 'user' ? 'uid' : 'gid'} between 0 and ${MAX_ID}, or a name`,
    details: { spec, part, kind },
  });
}

export function userNotFound(name: string, details: Record<string, unknown> = {}): BerthError {
  return new BerthError('E_USER_NOT_FOUND', `unable to find user ${name}: no matching entries in passwd file`, {
    hint: `add ${name} to the image's /etc/passwd, or give a numeric uid`,
    details: { user: name, ...details },
  });
}

export function groupNotFound(name: string, details: Record<string, unknown> = {}): BerthError {
  return new BerthError('E_GROUP_NOT_FOUND', `unable to find group ${name}: no matching entries in group file`, {
    hint: `add ${name} to the image's /etc/group, or give a numeric gid`,
    details: { group: name, ...details },
  });
}

/** Re-raises a parse failure of a user file with the wrapping moby/sys gives it. */
function readFailure(prefix: string, cause: BerthError): BerthError {
  return new BerthError(cause.code, `${prefix}: bufio.Scanner: token too long`, {
    hint: cause.hint,
    details: cause.details,
    cause,
  });
}

function userMatches(arg: IdArg, u: PasswdEntry): boolean {
  return arg.numeric ? u.uid === arg.id : u.name === arg.name;
}

function groupMatches(arg: IdArg, g: GroupEntry): boolean {
  return arg.numeric ? g.gid === arg.id : g.name === arg.name;
}

/**
 * moby/sys GetExecUser(spec, defaults, passwd, group) at HEAD. `defaults` null means
 * {0, 0, [], ""} (Docker, CRI-O and BuildKit pass nil).
 */
export function getExecUser(spec: string, defaults: ExecUserDefaults | null, db: UserDb): ExecUser {
  const d = defaults ?? { uid: 0, gid: 0, sgids: [], home: '' };
  const cut = spec.indexOf(':');
  const usr = cut < 0 ? spec : spec.slice(0, cut);
  const grp = cut < 0 ? '' : spec.slice(cut + 1);
  const userArg = parseIdArg(usr, spec, 'user');
  const groupArg = parseIdArg(grp, spec, 'group');

  const out: ExecUser = {
    uid: d.uid,
    gid: d.gid,
    sgids: [...d.sgids],
    home: d.home,
    memberOf: [],
    userArg,
    groupArg,
  };

  if (db.passwdError) {
    throw readFailure(`unable to find user ${userArg === null ? String(out.uid) : usr}`, db.passwdError);
  }
  const passwd = db.passwd ?? [];
  const match = passwd.find((u) => (userArg === null ? u.uid === out.uid : userMatches(userArg, u)));
  let matchedUserName = '';
  if (match) {
    matchedUserName = match.name;
    out.uid = match.uid;
    out.gid = match.gid;
    out.home = match.home;
    out.userEntry = match;
  } else if (userArg !== null) {
    if (!userArg.numeric) throw userNotFound(userArg.name, { spec });
    out.uid = userArg.id;
  }

  if (groupArg !== null || matchedUserName !== '') {
    if (db.groupError) throw readFailure(`unable to find groups for spec ${matchedUserName}`, db.groupError);
    const groups = db.group ?? [];
    if (groupArg !== null) {
      const g = groups.find((x) => groupMatches(groupArg, x));
      if (g) {
        out.gid = g.gid;
        out.groupEntry = g;
      } else {
        if (!groupArg.numeric) throw groupNotFound(groupArg.name, { spec });
        out.gid = groupArg.id;
      }
    } else {
      const member = groups.filter((g) => g.members.includes(matchedUserName));
      if (member.length > 0) {
        out.sgids = member.map((g) => g.gid);
        out.memberOf = member;
      }
    }
  }
  return out;
}

export interface AdditionalGroup {
  /** The argument as given. */
  arg: string;
  gid: number;
  /** The group line that gave the gid, if any. */
  entry?: GroupEntry;
}

/**
 * moby/sys GetAdditionalGroups(list, group) at HEAD, used for `--group-add`. Differences, on
 * purpose: an empty item is rejected with E_GROUP_INVALID (HEAD dereferences nil and panics), and
 * the result is in first-appearance order, de-duplicated (HEAD returns Go map order, i.e. random).
 */
export function getAdditionalGroups(list: readonly string[], db: UserDb): AdditionalGroup[] {
  const args: IdArg[] = [];
  for (const item of list) {
    if (item === '') {
      throw new BerthError('E_GROUP_INVALID', 'resolve --group-add "": a group name or gid is required', {
        hint: 'remove the empty --group-add value',
      });
    }
    const n = goAtoi(item);
    if (n.kind === 'syntax') args.push({ name: item, numeric: false, id: 0 });
    else if (n.kind === 'range' || !inIdRange(n.value)) {
      throw new BerthError('E_ID_RANGE', `resolve --group-add ${JSON.stringify(item)}: ${RANGE_MESSAGE}`, {
        hint: `use a gid between 0 and ${MAX_ID}, or a group name`,
        details: { group: item },
      });
    } else args.push({ name: item, numeric: true, id: toNumber(n.value) });
  }
  if (args.length === 0) return [];
  if (db.groupError) {
    throw readFailure(`unable to find additional groups [${list.join(' ')}]`, db.groupError);
  }
  const groups = db.group;
  const out: AdditionalGroup[] = [];
  const seen = new Set<number>();
  for (const a of args) {
    const g = groups?.find((x) => groupMatches(a, x));
    let r: AdditionalGroup;
    if (g) {
      if (!inIdRange(g.gid)) {
        throw new BerthError('E_ID_RANGE', `resolve --group-add ${JSON.stringify(a.name)}: group line ${g.line} has gid ${g.gid}: ${RANGE_MESSAGE}`, {
          hint: `fix the gid of group ${g.name} in the image's /etc/group`,
          details: { group: a.name, line: g.line, gid: g.gid },
        });
      }
      r = { arg: a.name, gid: g.gid, entry: g };
    } else {
      if (!a.numeric) throw groupNotFound(a.name, { groupAdd: true });
      r = { arg: a.name, gid: a.id };
    }
    if (!seen.has(r.gid)) {
      seen.add(r.gid);
      out.push(r);
    }
  }
  return out;
}

/** The passwd home runc's prepareEnv gives when HOME is unset or empty: first entry with the uid, else "/". */
export function runcHome(uid: number, db: UserDb): { home: string; entry?: PasswdEntry } {
  if (db.passwdError) return { home: '/' };
  const e = db.passwd?.find((u) => u.uid === uid);
  return e ? { home: e.home, entry: e } : { home: '/' };
}
