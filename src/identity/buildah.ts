/**
 * identity/buildah: buildah's own reading of /etc/passwd and /etc/group (pkg/chrootuser
 * user_unix.go, at 5b1b18e), used by `buildah build`/`podman build` RUN steps (add.go userForRun,
 * run_common.go configureUIDGID), by buildah's WORKDIR ownership (userForCopy) and by podman's
 * WORKDIR chown (libpod resolveWorkDir). It differs from moby/sys in ways that change results:
 *
 * - the parser STOPS at the first malformed line (identity.md rule 45): a passwd line without
 *   exactly 7 fields or with a uid/gid that strconv.ParseUint(…, 10, 32) refuses, including a blank
 *   line or a `#` comment; a group line (after skipping `#` lines) without exactly 4 fields or a
 *   bad gid. Entries after it are invisible. Lines are not trimmed.
 * - numbers are ParseUint(…, 10, 32): no sign, up to 4294967295 (no MaxInt32 check);
 * - supplementary groups match the member list by SUBSTRING (rule 44): `bob` matches `bobby`.
 */
import { BerthError } from '../errors/index.js';
import { goParseUint, goTrimSpace, toNumber } from './numeric.js';
import { fileText, PASSWD_SCAN_BUFFER_BYTES, type UserDb } from './userdb.js';

export interface BuildahPasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  line: number;
  text: string;
}

export interface BuildahGroupEntry {
  name: string;
  gid: number;
  /** The raw member list; buildah tests it with strings.Contains. */
  members: string;
  line: number;
  text: string;
}

/** Where and why a buildah parse stopped early; entries after that line are invisible to buildah. */
export interface BuildahStop {
  line: number;
  text: string;
  reason: string;
}

export interface BuildahParse<T> {
  entries: T[];
  stoppedAt?: BuildahStop;
}

/** bufio.Scanner lines with the default 64 KiB limit; an over-long line ends the scan silently. */
function scannerLines(text: string): { lines: { line: number; text: string }[]; tooLongAt?: number } {
  const parts = text.split('\n');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  const lines: { line: number; text: string }[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (Buffer.byteLength(p, 'utf8') > PASSWD_SCAN_BUFFER_BYTES - 1) return { lines, tooLongAt: i + 1 };
    lines.push({ line: i + 1, text: p.endsWith('\r') ? p.slice(0, -1) : p });
  }
  return { lines };
}

function uint32Field(s: string): number | undefined {
  const n = goParseUint(s, 32);
  return n.kind === 'ok' ? toNumber(n.value) : undefined;
}

/** chrootuser parseNextPasswd, applied until it returns nil. */
export function parsePasswdBuildah(text: string): BuildahParse<BuildahPasswdEntry> {
  const { lines, tooLongAt } = scannerLines(text);
  const entries: BuildahPasswdEntry[] = [];
  for (const l of lines) {
    const f = l.text.split(':');
    let reason: string | undefined;
    let uid: number | undefined;
    let gid: number | undefined;
    if (f.length !== 7) reason = `has ${f.length} fields, not 7`;
    else if ((uid = uint32Field(f[2])) === undefined) reason = `uid "${f[2]}" is not a decimal number below 2^32`;
    else if ((gid = uint32Field(f[3])) === undefined) reason = `gid "${f[3]}" is not a decimal number below 2^32`;
    if (reason !== undefined) return { entries, stoppedAt: { line: l.line, text: l.text, reason } };
    entries.push({ name: f[0], uid: uid!, gid: gid!, home: f[5], line: l.line, text: l.text });
  }
  if (tooLongAt !== undefined) return { entries, stoppedAt: { line: tooLongAt, text: '', reason: 'is longer than 64 KiB' } };
  return { entries };
}

/** chrootuser parseNextGroup (scanWithoutComments skips lines whose trimmed text starts with `#`). */
export function parseGroupBuildah(text: string): BuildahParse<BuildahGroupEntry> {
  const { lines, tooLongAt } = scannerLines(text);
  const entries: BuildahGroupEntry[] = [];
  for (const l of lines) {
    if (goTrimSpace(l.text).startsWith('#')) continue;
    const f = l.text.split(':');
    let reason: string | undefined;
    let gid: number | undefined;
    if (f.length !== 4) reason = `has ${f.length} fields, not 4`;
    else if ((gid = uint32Field(f[2])) === undefined) reason = `gid "${f[2]}" is not a decimal number below 2^32`;
    if (reason !== undefined) return { entries, stoppedAt: { line: l.line, text: l.text, reason } };
    entries.push({ name: f[0], gid: gid!, members: f[3], line: l.line, text: l.text });
  }
  if (tooLongAt !== undefined) return { entries, stoppedAt: { line: tooLongAt, text: '', reason: 'is longer than 64 KiB' } };
  return { entries };
}

export interface BuildahDb {
  passwd: BuildahParse<BuildahPasswdEntry>;
  group: BuildahParse<BuildahGroupEntry>;
}

/** buildah's view of a UserDb. A missing file reads as empty (the chrooted reader prints nothing). */
export function buildahView(db: UserDb): BuildahDb {
  const p = fileText(db, 'passwd');
  const g = fileText(db, 'group');
  return {
    passwd: p === null ? { entries: [] } : parsePasswdBuildah(p),
    group: g === null ? { entries: [] } : parseGroupBuildah(g),
  };
}

export interface BuildahUser {
  uid: number;
  gid: number;
  home: string;
  /** The entry that gave uid/gid (a name lookup, or the uid lookup of a bare number). */
  userEntry?: BuildahPasswdEntry;
  groupEntry?: BuildahGroupEntry;
  homeEntry?: BuildahPasswdEntry;
  /** The spec actually resolved: "" becomes "0". */
  spec: string;
  because: string[];
}

function runError(kind: 'uid' | 'gid', what: string): BerthError {
  const code = kind === 'uid' ? 'E_USER_NOT_FOUND' : 'E_GROUP_NOT_FOUND';
  return new BerthError(code, `determining run ${kind}: error looking up ${kind === 'uid' ? 'user' : 'group'} ${JSON.stringify(what)}`, {
    hint: kind === 'uid'
      ? `add ${what} to the image's /etc/passwd (buildah stops reading at the first malformed line), or use a numeric uid`
      : `add ${what} to the image's /etc/group (buildah stops reading at the first malformed line), or use a numeric gid`,
    details: { [kind === 'uid' ? 'user' : 'group']: what },
  });
}

function stopNote(label: string, p: BuildahParse<unknown>): string[] {
  return p.stoppedAt
    ? [`buildah stops reading ${label} at line ${p.stoppedAt.line} (${p.stoppedAt.reason}); later entries are invisible to it`]
    : [];
}

/**
 * chrootuser.GetUser(rootdir, userspec) (identity.md rule 43): uid, gid and home as buildah
 * resolves them; failures use buildah's wording ("determining run uid: error looking up user").
 */
export function buildahGetUser(userspec: string, bdb: BuildahDb): BuildahUser {
  const because: string[] = [];
  const cut = userspec.indexOf(':');
  let user = cut < 0 ? userspec : userspec.slice(0, cut);
  const group = cut < 0 ? '' : userspec.slice(cut + 1);
  if (user === '') user = '0';
  const out: BuildahUser = { uid: 0, gid: 0, home: '/', spec: group === '' ? user : `${user}:${group}`, because };
  const passwd = bdb.passwd.entries;
  const uidN = goParseUint(user, 32);
  let uerr = false;
  let gerr = false;
  if (uidN.kind === 'ok') {
    out.uid = toNumber(uidN.value);
    if (group === '') {
      const e = passwd.find((p) => p.uid === out.uid);
      if (e) {
        out.gid = e.gid;
        out.userEntry = e;
        because.push(`buildah: uid ${out.uid} is listed at /etc/passwd:${e.line} ${e.text}, so gid ${e.gid}`);
      } else {
        because.push(`buildah: uid ${out.uid} has no /etc/passwd entry, so gid 0`);
      }
    }
  } else {
    const e = passwd.find((p) => p.name === user);
    if (e) {
      out.uid = e.uid;
      out.gid = e.gid;
      out.userEntry = e;
      because.push(`buildah: /etc/passwd:${e.line} ${e.text} gives uid ${e.uid}, gid ${e.gid}`);
    } else {
      uerr = true;
    }
  }
  if (group !== '') {
    const gN = goParseUint(group, 32);
    if (gN.kind === 'ok') {
      out.gid = toNumber(gN.value);
      because.push(`buildah: group part ${group} is numeric, gid ${out.gid}`);
    } else {
      const g = bdb.group.entries.find((x) => x.name === group);
      if (g) {
        out.gid = g.gid;
        out.groupEntry = g;
        because.push(`buildah: /etc/group:${g.line} ${g.text} gives gid ${g.gid}`);
      } else {
        gerr = true;
      }
    }
  }
  if (uerr) throw runError('uid', user);
  if (gerr) throw runError('gid', group);
  // lookupHomedirInContainer(uid): the first entry with the uid, else "/".
  const h = passwd.find((p) => p.uid === out.uid);
  out.home = h ? h.home : '/';
  if (h) out.homeEntry = h;
  because.push(...stopNote('/etc/passwd', bdb.passwd), ...stopNote('/etc/group', bdb.group));
  return out;
}

/**
 * chrootuser.GetAdditionalGroupsForUser(rootdir, uid): the username of the first passwd entry with
 * that uid, then every group whose raw member list CONTAINS it as a substring, in file order.
 * undefined when the uid has no passwd entry (ErrNoSuchUser, which buildah ignores).
 */
export function buildahAdditionalGroups(uid: number, bdb: BuildahDb): { username: string; groups: BuildahGroupEntry[] } | undefined {
  const e = bdb.passwd.entries.find((p) => p.uid === uid);
  if (!e) return undefined;
  return { username: e.name, groups: bdb.group.entries.filter((g) => g.members.includes(e.name)) };
}

/**
 * buildah userForCopy (add.go), used for WORKDIR ownership through EnsureContainerPathAs
 * (identity.md rule 46): a bare numeric user gives gid = uid; numeric user:group needs no files;
 * anything else goes through GetUser. Returns undefined where buildah's caller falls back to 0:0
 * (EnsureContainerPathAs ignores the error).
 */
export function buildahUserForCopy(userspec: string, bdb: BuildahDb): { uid: number; gid: number; because: string } | { error: BerthError } {
  const cut = userspec.indexOf(':');
  const user = cut < 0 ? userspec : userspec.slice(0, cut);
  const group = cut < 0 ? '' : userspec.slice(cut + 1);
  if (user === '' && group === '') {
    return { error: new BerthError('E_USER_NOT_FOUND', `can't find uid for user ${userspec}`, { hint: 'set a USER' }) };
  }
  let ok = true;
  let uid = 0n;
  let gid = 0n;
  if (user !== '') {
    const u = goParseUint(user, 32);
    ok = u.kind === 'ok';
    uid = u.value;
  }
  if (ok) {
    gid = uid;
    if (group !== '') {
      const g = goParseUint(group, 32);
      ok = g.kind === 'ok';
      gid = g.value;
    }
  }
  if (ok) {
    return {
      uid: toNumber(uid),
      gid: toNumber(gid),
      because: group === '' ? `buildah userForCopy: numeric user ${user || '0'} alone gives gid = uid` : `buildah userForCopy: numeric ${userspec} needs no lookup`,
    };
  }
  try {
    const r = buildahGetUser(userspec, bdb);
    return { uid: r.uid, gid: r.gid, because: `buildah userForCopy: ${r.because.join('; ')}` };
  } catch (e) {
    if (e instanceof BerthError) return { error: e };
    throw e;
  }
}
