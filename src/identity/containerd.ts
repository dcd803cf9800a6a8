/**
 * identity/containerd: containerd's own user resolution (pkg/oci/spec_opts.go at 301026e:
 * WithUser, WithUserID, WithUsername, WithAdditionalGIDs, ensureAdditionalGids; identity.md rules
 * 26-29), which its CRI plugin uses for Kubernetes. It re-implements moby/sys differently:
 *
 * - the user string is split on EVERY `:`; more than two parts is an error;
 * - `uid` alone takes the gid of the first passwd entry with that uid, or 0;
 * - in the two-part form the user's passwd gid is never used;
 * - memberships come from the passwd NAME of the uid, and a group whose own name equals that
 *   username is left out;
 * - every option that sets the user prepends the primary gid to additionalGids if it is absent
 *   (CVE-2023-25173).
 *
 * It reads the same files through moby/sys parsers (UserFromFS), so it shares UserDb.
 */
import { BerthError } from '../errors/index.js';
import { goAtoi, goUint32, inIdRange, toNumber } from './numeric.js';
import { exactField, type GroupEntry, type PasswdEntry, type UserDb } from './userdb.js';

/** containerd's uint32(usr.Uid) on the exact passwd/group value. */
function u32(entry: { text: string }, idx: number, because: string[], what: string): number {
  const exact = exactField(entry, idx);
  const v = goUint32(exact);
  if (BigInt(v) !== exact) because.push(`containerd converts ${what} ${exact} with uint32(): ${v}`);
  return v;
}

export interface ContainerdUser {
  uid: number;
  gid: number;
  userEntry?: PasswdEntry;
  groupEntry?: GroupEntry;
  because: string[];
}

function invalid(userstr: string, what: 'uid' | 'gid'): BerthError {
  return new BerthError('E_ID_RANGE', `invalid USER value ${JSON.stringify(userstr)}: ${what} out of range`, {
    hint: `use a ${what} between 0 and 2147483647`,
    details: { user: userstr },
  });
}

function readError(db: UserDb, which: 'passwd' | 'group'): BerthError | undefined {
  return which === 'passwd' ? db.passwdError : db.groupError;
}

function noUsers(name: string): BerthError {
  return new BerthError('E_USER_NOT_FOUND', `no users found`, {
    hint: `containerd found no /etc/passwd entry named ${name}; add it to the image or use a numeric uid`,
    details: { user: name },
  });
}

function missingFile(path: string): BerthError {
  return new BerthError('E_USER_DB_MISSING', `open ${path.replace(/^\//, '')}: no such file or directory`, {
    hint: `containerd needs ${path} in the image to resolve a name; add it or use numeric ids`,
    details: { path },
  });
}

/** containerd oci.WithUser(userstr) (with WithUserID/WithUsername for the one-part form). */
export function containerdWithUser(userstr: string, db: UserDb): ContainerdUser {
  const because: string[] = [];
  const parts = userstr.split(':');
  if (parts.length > 2) {
    throw new BerthError('E_USER_INVALID', `invalid USER value ${userstr}`, {
      hint: 'containerd accepts user, uid, user:group or uid:gid',
      details: { user: userstr },
    });
  }
  if (parts.length === 1) {
    const n = goAtoi(parts[0]);
    if (n.kind === 'range') throw invalid(userstr, 'uid');
    if (n.kind === 'syntax') {
      // WithUsername: the name must exist.
      if (db.passwdError) throw db.passwdError;
      if (db.passwd === null) throw missingFile('/etc/passwd');
      const e = db.passwd.find((u) => u.name === parts[0]);
      if (!e) throw noUsers(parts[0]);
      because.push(`containerd WithUsername: ${db.paths?.passwd ?? '/etc/passwd'}:${e.line} ${e.text} gives uid ${e.uid}, gid ${e.gid}`);
      return { uid: u32(e, 2, because, 'uid'), gid: u32(e, 3, because, 'gid'), userEntry: e, because };
    }
    if (!inIdRange(n.value)) throw invalid(userstr, 'uid');
    const uid = toNumber(n.value);
    // WithUserID: missing file or uid gives gid 0; other read errors fail.
    if (db.passwdError) throw db.passwdError;
    const e = db.passwd?.find((u) => u.uid === uid);
    if (e) {
      because.push(`containerd WithUserID: ${db.paths?.passwd ?? '/etc/passwd'}:${e.line} ${e.text} gives gid ${e.gid}`);
      return { uid, gid: u32(e, 3, because, 'gid'), userEntry: e, because };
    }
    because.push(`containerd WithUserID: uid ${uid} is not in /etc/passwd, so gid 0`);
    return { uid, gid: 0, because };
  }
  let username = '';
  let groupname = '';
  let uid = 0;
  let gid = 0;
  const u = goAtoi(parts[0]);
  if (u.kind === 'range') throw invalid(userstr, 'uid');
  if (u.kind === 'syntax') username = parts[0];
  else if (!inIdRange(u.value)) throw invalid(userstr, 'uid');
  else uid = toNumber(u.value);
  const g = goAtoi(parts[1]);
  if (g.kind === 'range') throw invalid(userstr, 'gid');
  if (g.kind === 'syntax') groupname = parts[1];
  else if (!inIdRange(g.value)) throw invalid(userstr, 'gid');
  else gid = toNumber(g.value);
  if (username === '' && groupname === '') {
    because.push(`containerd WithUser: ${userstr} is numeric, no file is read`);
    return { uid, gid, because };
  }
  const out: ContainerdUser = { uid, gid, because };
  if (username !== '') {
    if (readError(db, 'passwd')) throw db.passwdError!;
    if (db.passwd === null) throw missingFile('/etc/passwd');
    const e = db.passwd.find((x) => x.name === username);
    if (!e) throw noUsers(username);
    out.uid = u32(e, 2, because, 'uid');
    out.userEntry = e;
    because.push(`containerd WithUser: ${db.paths?.passwd ?? '/etc/passwd'}:${e.line} ${e.text} gives uid ${e.uid}; in the user:group form its passwd gid is not used`);
  }
  if (groupname !== '') {
    if (readError(db, 'group')) throw db.groupError!;
    if (db.group === null) throw missingFile('/etc/group');
    const e = db.group.find((x) => x.name === groupname);
    if (!e) {
      throw new BerthError('E_GROUP_NOT_FOUND', 'no groups found', {
        hint: `containerd found no /etc/group entry named ${groupname}; add it to the image or use a numeric gid`,
        details: { group: groupname },
      });
    }
    out.gid = u32(e, 2, because, 'gid');
    out.groupEntry = e;
    because.push(`containerd WithUser: ${db.paths?.group ?? '/etc/group'}:${e.line} ${e.text} gives gid ${e.gid}`);
  }
  return out;
}

/**
 * containerd oci.WithAdditionalGIDs(userstr): the gids of groups listing the user's name, minus a
 * group named like the user, in file order. A numeric userstr is first turned into the name of its
 * first passwd entry; no entry or no file means no groups.
 */
export function containerdAdditionalGids(userstr: string, db: UserDb): { gids: number[]; entries: GroupEntry[]; username?: string; because: string[] } {
  const because: string[] = [];
  let username: string;
  const n = goAtoi(userstr);
  if (n.kind === 'ok') {
    if (db.passwdError) throw db.passwdError;
    const e = db.passwd?.find((u) => u.uid === toNumber(n.value));
    if (!e) {
      because.push(`containerd WithAdditionalGIDs: uid ${userstr} has no passwd name, so no image memberships`);
      return { gids: [], entries: [], because };
    }
    username = e.name;
  } else {
    username = userstr;
  }
  if (db.group === null && !db.groupError) {
    because.push('containerd WithAdditionalGIDs: no /etc/group, so no image memberships');
    return { gids: [], entries: [], username, because };
  }
  if (db.groupError) throw db.groupError;
  const entries = db.group!.filter((g) => g.name !== username && g.members.includes(username));
  const skipped = db.group!.filter((g) => g.name === username && g.members.includes(username));
  because.push(entries.length === 0
    ? `containerd WithAdditionalGIDs: no group lists ${username}`
    : `containerd WithAdditionalGIDs: ${entries.slice(0, 20).map((g) => `${db.paths?.group ?? '/etc/group'}:${g.line} ${g.text}`).join(', ')}${entries.length > 20 ? ` and ${entries.length - 20} more lines` : ''} list ${username}`);
  for (const g of skipped) because.push(`containerd WithAdditionalGIDs: ${db.paths?.group ?? '/etc/group'}:${g.line} ${g.text} is skipped: a group named like the user is not a supplementary group`);
  return { gids: entries.map((g) => u32(g, 2, because, 'gid')), entries, username, because };
}

/**
 * The image user as a CRI runtime reports it to the kubelet (containerd and CRI-O
 * getUserFromImage): only the part before the first `:`; strconv.ParseInt(…, 10, 64) decides
 * whether it is a uid. An empty or absent USER reports nothing, which the kubelet treats as uid 0.
 */
export function criImageUser(imageUser: string): { uid?: number; username?: string } {
  const user = imageUser.split(':')[0];
  if (user === '') return {};
  const n = goAtoi(user);
  if (n.kind !== 'ok') return { username: user };
  return { uid: toNumber(n.value) };
}
