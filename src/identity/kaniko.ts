/**
 * identity/kaniko: how kaniko (GoogleContainerTools/kaniko at 236ba56, archived 2025-06) resolves
 * USER for RUN steps and WORKDIR (identity.md rules 41-42). kaniko is built with CGO_ENABLED=0, so
 * it reads the image's files (the image being built IS `/` for kaniko) with Go's pure os/user
 * parser and, for groups, with its own fallback parser (pkg/util/groupids_fallback.go).
 *
 * The quirks reproduced here:
 * (a) RUN passes only `strings.Split(USER, ":")[0]`: the group part is dropped (run.go);
 * (b) lookups go by NAME first, then by id (util.LookupUser): a user named `1000` beats uid 1000;
 * (c) a uid not in passwd gets gid = uid and no supplementary groups (setgroups of an empty list);
 * (d) HOME: the env's HOME if set, `/root` for an empty or `root` user, else the passwd home, or
 *     `/` for an unknown uid (addDefaultHOME);
 * (e) WORKDIR creates a missing directory owned by GetUserGroup(USER): the explicit group if
 *     given, else gid = uid; only the leaf is chowned;
 * and the fallback group parser's crash: a non-comment line with fewer than 4 fields indexes past
 * the end of SplitN's result (Go panics), except a 3-field line whose gid is not a number, which is
 * skipped first.
 *
 * Go os/user's pure parser (os/user/lookup_unix.go): lines are TrimSpace'd, blank and `#` lines
 * skipped; a passwd row needs at least 6 colons, a non-empty name not starting with `+` or `-`,
 * and Atoi-valid uid and gid; it matches the raw field TEXT (`LookupId("1000")` does not match
 * `01000`). A group row needs at least 3 colons and an Atoi-valid gid.
 */
import { BerthError } from '../errors/index.js';
import { goAtoi, goNumErrorText, goParseUint, goTrimSpace, toNumber } from './numeric.js';
import { fileText, PASSWD_SCAN_BUFFER_BYTES, type UserDb } from './userdb.js';

/** A row as Go's os/user returns it: ids are the field texts. */
export interface GoUser {
  username: string;
  uid: string;
  gid: string;
  homeDir: string;
  /** Set when the row came from the file. */
  line?: number;
  text?: string;
}

export interface GoGroup {
  name: string;
  gid: string;
  line: number;
  text: string;
}

type Miss = 'unknown' | 'missing';

function colonRows(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  const parts = text.split('\n');
  for (let i = 0; i < parts.length; i++) {
    const t = goTrimSpace(parts[i]);
    if (t.length === 0 || t.startsWith('#')) continue;
    out.push({ line: i + 1, text: t });
  }
  return out;
}

function countColons(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 0x3a) n++;
  return n;
}

/** Go strings.SplitN(s, sep, n) for n > 0. */
function splitN(s: string, sep: string, n: number): string[] {
  const all = s.split(sep);
  if (all.length <= n) return all;
  return [...all.slice(0, n - 1), all.slice(n - 1).join(sep)];
}

function matchUser(text: string | null, value: string, idx: 0 | 2): GoUser | Miss {
  if (text === null) return 'missing';
  const substr = `${idx > 0 ? ':' : ''}${value}:`;
  for (const r of colonRows(text)) {
    if (!r.text.includes(substr) || countColons(r.text) < 6) continue;
    const p = splitN(r.text, ':', 7);
    if (p.length < 6 || p[idx] !== value || p[0] === '' || p[0][0] === '+' || p[0][0] === '-') continue;
    if (goAtoi(p[2]).kind !== 'ok' || goAtoi(p[3]).kind !== 'ok') continue;
    return { username: p[0], uid: p[2], gid: p[3], homeDir: p[5], line: r.line, text: r.text };
  }
  return 'unknown';
}

function matchGroup(text: string | null, value: string, idx: 0 | 2): GoGroup | Miss {
  if (text === null) return 'missing';
  const substr = `${idx > 0 ? ':' : ''}${value}:`;
  for (const r of colonRows(text)) {
    if (!r.text.includes(substr) || countColons(r.text) < 3) continue;
    const p = splitN(r.text, ':', 4);
    if (p.length < 4 || p[0] === '' || p[idx] !== value || p[0][0] === '+' || p[0][0] === '-') continue;
    if (goAtoi(p[2]).kind !== 'ok') continue;
    return { name: p[0], gid: p[2], line: r.line, text: r.text };
  }
  return 'unknown';
}

/** os/user.Lookup(name) with the pure-Go parser. */
export function goLookupUser(passwdText: string | null, name: string): GoUser | Miss {
  return matchUser(passwdText, name, 0);
}

/** os/user.LookupId(uid): 'invalid' when Atoi refuses the argument. */
export function goLookupUserId(passwdText: string | null, uid: string): GoUser | Miss | 'invalid' {
  if (goAtoi(uid).kind !== 'ok') return 'invalid';
  return matchUser(passwdText, uid, 2);
}

export function goLookupGroup(groupText: string | null, name: string): GoGroup | Miss {
  return matchGroup(groupText, name, 0);
}

export function goLookupGroupId(groupText: string | null, gid: string): GoGroup | Miss | 'invalid' {
  if (goAtoi(gid).kind !== 'ok') return 'invalid';
  return matchGroup(groupText, gid, 2);
}

function kanikoError(code: string, message: string, hint: string, details: Record<string, unknown> = {}): BerthError {
  return new BerthError(code, message, { hint, details });
}

/** getUID / getGID: strconv.ParseUint(s, 10, 32). */
function parseId(s: string): { ok: true; value: number } | { ok: false; text: string } {
  const n = goParseUint(s, 32);
  if (n.kind === 'ok') return { ok: true, value: toNumber(n.value) };
  return { ok: false, text: goNumErrorText('ParseUint', s, n.kind) };
}

/**
 * kaniko util.LookupUser(userStr): by name, then by id, then a bare number becomes a user with
 * that uid, no gid and HomeDir "/". `via` says which step found it.
 */
export function kanikoLookupUser(db: UserDb, userStr: string): { user: GoUser; via: 'name' | 'id' | 'number' } {
  const text = fileText(db, 'passwd');
  const byName = goLookupUser(text, userStr);
  if (typeof byName !== 'string') return { user: byName, via: 'name' };
  const byId = goLookupUserId(text, userStr);
  if (typeof byId !== 'string') return { user: byId, via: 'id' };
  const n = parseId(userStr);
  if (!n.ok) {
    throw kanikoError('E_USER_NOT_FOUND', `user ${userStr} is not a uid and does not exist on the system`,
      `add ${userStr} to the image's /etc/passwd before this step, or use a numeric USER`, { user: userStr });
  }
  return { user: { username: '', uid: String(n.value), gid: '', homeDir: '/' }, via: 'number' };
}

export interface KanikoGroupRow {
  name: string;
  gid: string;
  members: string[];
  line: number;
  text: string;
}

/**
 * groupids_fallback.go localGroups: bufio.Scanner lines (an over-long line silently ends the scan),
 * TrimSpace, blank and `#` skipped, SplitN(line, ":", 4), a non-Atoi gid skipped. A line too short
 * for the indexing crashes kaniko with Go's "index out of range" panic: E_USER_DB_INVALID.
 */
export function kanikoLocalGroups(groupText: string): KanikoGroupRow[] {
  const out: KanikoGroupRow[] = [];
  const parts = groupText.split('\n');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  for (let i = 0; i < parts.length; i++) {
    if (Buffer.byteLength(parts[i], 'utf8') > PASSWD_SCAN_BUFFER_BYTES - 1) break;
    const t = goTrimSpace(parts[i]);
    if (t.length === 0 || t.startsWith('#')) continue;
    const p = splitN(t, ':', 4);
    const panic = (idx: number): BerthError =>
      kanikoError('E_USER_DB_INVALID', `parse /etc/group: line ${i + 1} ${JSON.stringify(t)} crashes kaniko: panic: runtime error: index out of range [${idx}] with length ${p.length}`,
        `give line ${i + 1} of /etc/group four fields (name:x:gid:members)`, { line: i + 1, text: t });
    if (p.length < 3) throw panic(2);
    if (goAtoi(p[2]).kind !== 'ok') continue;
    if (p.length < 4) throw panic(3);
    out.push({ name: p[0], gid: p[2], members: p[3].split(','), line: i + 1, text: t });
  }
  return out;
}

export interface KanikoCredentials {
  uid: number;
  gid: number;
  /** What kaniko passes to setgroups, in its order ([passwd gid] + memberships, duplicates kept). */
  groups: number[];
  /** The user row SyscallCredentials worked with (looked up by the uid string). */
  user: GoUser;
  /** How USER itself was found, and how the uid text was found again. */
  firstVia: 'name' | 'id' | 'number';
  via: 'name' | 'id' | 'number';
  memberRows: KanikoGroupRow[];
  because: string[];
}

/**
 * kaniko util.SyscallCredentials(userStr) for a RUN step, where userStr is USER's part before the
 * first `:`. Errors carry kaniko's wording, prefixed "credentials:" as run.go wraps them.
 */
export function kanikoRunCredentials(db: UserDb, userStr: string): KanikoCredentials {
  const because: string[] = [];
  // getUIDAndGIDFromString splits on every ':'; for RUN there is none.
  const parts = userStr.split(':');
  let first: { user: GoUser; via: 'name' | 'id' | 'number' };
  try {
    first = kanikoLookupUser(db, parts[0]);
  } catch (e) {
    if (e instanceof BerthError) throw new BerthError(e.code, `credentials: get uid/gid: ${e.message}`, { hint: e.hint, details: e.details, cause: e });
    throw e;
  }
  const uidP = parseId(first.user.uid);
  if (!uidP.ok) {
    throw kanikoError('E_ID_INVALID', `credentials: get uid/gid: ${uidP.text}`, 'give the passwd entry a uid between 0 and 4294967295 without a sign',
      { user: parts[0], uid: first.user.uid });
  }
  const uid = uidP.value;
  let gid = uid;
  because.push(first.via === 'number'
    ? `kaniko: ${parts[0]} is not a user in /etc/passwd; as a number it is uid ${uid}`
    : `kaniko: /etc/passwd:${first.user.line} ${first.user.text} found by ${first.via === 'name' ? 'name' : 'uid'} gives uid ${uid}`);

  // SyscallCredentials looks the user up again by the uid's decimal text, name first.
  const again = kanikoLookupUser(db, String(uid));
  const u = again.user;
  if (again.via === 'name') because.push(`kaniko: the uid lookup "${uid}" matched a user NAMED ${uid} (/etc/passwd:${u.line}); names are tried before ids`);
  else if (again.via === 'id' && (u.line !== first.user.line)) because.push(`kaniko: the uid lookup "${uid}" uses /etc/passwd:${u.line} ${u.text}`);

  const groups: number[] = [];
  const memberRows: KanikoGroupRow[] = [];
  if (u.gid === '') {
    because.push(`kaniko: uid ${uid} has no passwd entry, so gid = uid = ${uid} and setgroups gets an empty list (kaniko issue #2929)`);
  } else {
    const gtext = fileText(db, 'group');
    if (gtext === null) {
      throw kanikoError('E_USER_DB_MISSING', 'credentials: group ids for user: open: open /etc/group: no such file or directory',
        'add an /etc/group file to the image before RUN steps with a USER', { user: parts[0] });
    }
    const gidStrs = [u.gid];
    for (const row of kanikoLocalGroups(gtext)) {
      if (row.members.includes(u.username)) {
        gidStrs.push(row.gid);
        memberRows.push(row);
      }
    }
    for (const s of gidStrs) {
      const p = parseId(s);
      if (!p.ok) {
        throw kanikoError('E_ID_INVALID', `credentials: parseuint: ${p.text}`, 'use plain decimal gids in /etc/passwd and /etc/group', { gid: s });
      }
      groups.push(p.value);
    }
    const listed = memberRows.slice(0, 20).map((r) => `/etc/group:${r.line} ${r.text}`).join(', ');
    const more = memberRows.length > 20 ? ` and ${memberRows.length - 20} more lines` : '';
    because.push(`kaniko: groups = passwd gid ${u.gid} + ${memberRows.length === 0 ? 'no /etc/group memberships' : `${listed}${more}`} (groupids_fallback.go)`);
    // No ':' in userStr: gid comes from the passwd entry; a gid ParseUint refuses becomes 0.
    if (parts.length <= 1) {
      const g = parseId(u.gid);
      gid = g.ok ? g.value : 0;
    }
  }
  return { uid, gid, groups, user: u, firstVia: first.via, via: again.via, memberRows, because };
}

/** kaniko addDefaultHOME: env HOME (any value) wins; `/root` for "" and "root"; else the user's HomeDir. */
export function kanikoHome(db: UserDb, userStr: string, env: readonly string[] | undefined): { home: string; because: string } {
  for (const kv of env ?? []) {
    const eq = kv.indexOf('=');
    if ((eq < 0 ? kv : kv.slice(0, eq)) === 'HOME') return { home: eq < 0 ? '' : kv.slice(eq + 1), because: 'kaniko: HOME is set in the environment' };
  }
  if (userStr === '' || userStr === 'root') return { home: '/root', because: `kaniko: HOME defaults to /root for ${userStr === '' ? 'an empty USER' : 'USER root'}` };
  const u = kanikoLookupUser(db, userStr);
  return {
    home: u.user.homeDir,
    because: u.via === 'number' ? `kaniko: unknown uid ${userStr} gets HOME /` : `kaniko: HOME ${u.user.homeDir || '""'} from /etc/passwd:${u.user.line}`,
  };
}

/**
 * kaniko util.GetUserGroup(USER) for WORKDIR and --chown: the whole USER, split on every ':'.
 * Without a group part gid = uid, even for a named user with another passwd gid. A group is looked
 * up by name first, then parsed as a number.
 */
export function kanikoUserGroup(db: UserDb, chown: string): { uid: number; gid: number; because: string } {
  const parts = chown.split(':');
  const userStr = parts[0];
  const groupStr = parts[1] ?? '';
  const wrap = (e: BerthError): BerthError =>
    new BerthError(e.code, `identifying uid and gid for user ${chown}: ${e.message}`, { hint: e.hint, details: e.details, cause: e });
  let lu: { user: GoUser; via: 'name' | 'id' | 'number' };
  try {
    lu = kanikoLookupUser(db, userStr);
  } catch (e) {
    if (e instanceof BerthError) throw wrap(e);
    throw e;
  }
  const uidP = parseId(lu.user.uid);
  if (!uidP.ok) throw wrap(kanikoError('E_ID_INVALID', uidP.text, 'use a uid between 0 and 4294967295 without a sign'));
  const uid = uidP.value;
  if (groupStr === '') return { uid, gid: uid, because: `kaniko GetUserGroup: no group part, so gid = uid = ${uid}` };
  const gtext = fileText(db, 'group');
  let gidText = groupStr;
  let via = `group part ${groupStr} read as a number`;
  const byName = goLookupGroup(gtext, groupStr);
  if (typeof byName !== 'string') {
    gidText = byName.gid;
    via = `/etc/group:${byName.line} ${byName.text}`;
  } else if (byName === 'missing') {
    const byId = goLookupGroupId(gtext, groupStr);
    if (typeof byId !== 'string') {
      gidText = byId.gid;
      via = `/etc/group:${byId.line} ${byId.text}`;
    }
  }
  const g = parseId(gidText);
  if (!g.ok) {
    throw wrap(kanikoError('E_GROUP_NOT_FOUND', g.text, `add group ${groupStr} to the image's /etc/group before this step, or use a numeric gid`, { group: groupStr }));
  }
  return { uid, gid: g.value, because: `kaniko GetUserGroup: gid ${g.value} from ${via}` };
}
