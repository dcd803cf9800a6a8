/**
 * identity/engines: the per-engine rules for berth, Docker (run and BuildKit RUN), podman (run and
 * buildah RUN) and kaniko. Each function turns a normalised input into a Draft, recording the
 * file lines and engine rules that decided each field; resolve.ts dispatches and finalizes.
 */
import { BerthError } from '../errors/index.js';
import { buildahAdditionalGroups, buildahGetUser, buildahView } from './buildah.js';
import { addUnique, envHome, newDraft, setRuncHome, type Draft } from './draft.js';
import { getAdditionalGroups, getExecUser, RANGE_MESSAGE, runcHome, type ExecUser } from './execuser.js';
import { kanikoHome, kanikoRunCredentials } from './kaniko.js';
import { goAtoi, goNumErrorText, goParseUint, goUint32, inIdRange, MAX_ID, toNumber } from './numeric.js';
import type { IdentityInput } from './types.js';
import { exactField, fieldIsNumber, groupRef, passwdRef, type GroupEntry, type PasswdEntry, type UserDb } from './userdb.js';

/** Provenance lists at most this many file lines of one kind; the rest are counted. */
const MAX_LISTED = 20;

/** Where the spec came from, for the first provenance line. */
export function specSource(inp: IdentityInput): { spec: string; from: string } {
  if (inp.user !== undefined && inp.user !== '') return { spec: inp.user, from: inp.context === 'build' ? 'the USER in effect' : '--user' };
  if (inp.imageUser !== '') return { spec: inp.imageUser, from: inp.context === 'build' ? 'the USER in effect' : 'the image config User' };
  return { spec: '', from: 'no USER anywhere' };
}

/** Provenance lines for a moby/sys GetExecUser result. */
export function describeExecUser(d: Draft, ex: ExecUser, db: UserDb, spec: string): void {
  const b = d.because;
  if (ex.userEntry) {
    b.push(`${passwdRef(db, ex.userEntry)} gives uid ${ex.userEntry.uid}, gid ${ex.userEntry.gid}${ex.userArg === null ? ' (no user part: the entry of uid 0 decides, moby/sys rule 6)' : ''}`);
  } else if (ex.userArg?.numeric) {
    b.push(`uid ${ex.userArg.id} has no /etc/passwd entry, so no passwd gid, home or memberships apply${ex.groupArg === null ? `: gid ${ex.gid} (moby/sys rules 7 and 12, nil defaults)` : ' (moby/sys rules 7 and 12)'}`);
  } else if (ex.userArg === null) {
    b.push(`no user given and no /etc/passwd entry for uid 0: uid 0, gid 0 (moby/sys rule 1)`);
  }
  if (ex.groupArg !== null) {
    if (ex.groupEntry) b.push(`${groupRef(db, ex.groupEntry)} gives gid ${ex.groupEntry.gid} for the group part ${JSON.stringify(ex.groupArg.name)}`);
    else b.push(`gid ${ex.groupArg.id} is used as given (no /etc/group entry has it)`);
    b.push(`the spec ${JSON.stringify(spec)} names a group, so the image's /etc/group memberships are not looked up (moby/sys rule 10)`);
  } else if (ex.userEntry && ex.userEntry.name === '') {
    b.push('the matched entry has an empty name, so no membership lookup runs (moby/sys rule 9)');
  } else if (ex.userEntry) {
    if (ex.memberOf.length === 0) b.push(`no /etc/group line lists ${ex.userEntry.name} as a member`);
    for (const g of ex.memberOf.slice(0, MAX_LISTED)) b.push(`${groupRef(db, g)} lists ${ex.userEntry.name}: supplementary gid ${g.gid}`);
    if (ex.memberOf.length > MAX_LISTED) b.push(`... and ${ex.memberOf.length - MAX_LISTED} more /etc/group lines list ${ex.userEntry.name}`);
  }
}

function dbInvalid(spec: string, what: string, hint: string, details: Record<string, unknown>): BerthError {
  return new BerthError('E_USER_DB_INVALID', `resolve user ${JSON.stringify(spec)}: ${what}`, { hint, details });
}

/**
 * berth's own checks on top of moby/sys: a line that decides the identity must have numeric ids
 * in range (moby/sys silently reads `abc` as 0, i.e. root, and Docker truncates to 32 bits).
 */
function checkPasswdId(spec: string, db: UserDb, e: PasswdEntry, idx: 2 | 3, what: 'uid' | 'gid'): void {
  if (!fieldIsNumber(e, idx)) {
    throw dbInvalid(spec, `${passwdRef(db, e)} has ${what} field ${JSON.stringify(e.text.split(':')[idx] ?? '')}, which is not a number (moby/sys would read it as ${e[what]})`,
      `fix the ${what} of ${e.name || 'this entry'} in the image's /etc/passwd`, { line: e.line, field: what });
  }
  const v = exactField(e, idx);
  if (!inIdRange(v)) {
    throw new BerthError('E_ID_RANGE', `resolve user ${JSON.stringify(spec)}: ${passwdRef(db, e)} gives ${what} ${v}: ${RANGE_MESSAGE}`, {
      hint: `fix the ${what} of ${e.name || 'this entry'} in the image's /etc/passwd`,
      details: { line: e.line, field: what, value: v.toString() },
    });
  }
}

function checkGroupIds(spec: string, db: UserDb, groups: readonly GroupEntry[]): void {
  for (const g of groups) {
    if (!fieldIsNumber(g, 2)) {
      throw dbInvalid(spec, `${groupRef(db, g)} has gid field ${JSON.stringify(g.text.split(':')[2] ?? '')}, which is not a number (moby/sys would read it as ${g.gid})`,
        `fix the gid of group ${g.name} in the image's /etc/group`, { line: g.line });
    }
    const v = exactField(g, 2);
    if (!inIdRange(v)) {
      throw new BerthError('E_ID_RANGE', `resolve user ${JSON.stringify(spec)}: ${groupRef(db, g)} gives gid ${v}: ${RANGE_MESSAGE}`, {
        hint: `fix the gid of group ${g.name} in the image's /etc/group`,
        details: { line: g.line, value: v.toString() },
      });
    }
  }
}

function checkStrict(spec: string, db: UserDb, ex: ExecUser): void {
  if (ex.userEntry) {
    checkPasswdId(spec, db, ex.userEntry, 2, 'uid');
    if (!ex.groupArg) checkPasswdId(spec, db, ex.userEntry, 3, 'gid');
  }
  checkGroupIds(spec, db, [...(ex.groupEntry ? [ex.groupEntry] : []), ...ex.memberOf]);
}

/** Go's uint32(x) on the exact value an entry gave, noting when it changes the id. */
export function uint32Of(d: Draft, value: number, entry: { text: string } | undefined, idx: number, what: string): number {
  const exact = entry ? exactField(entry, idx) : BigInt(value);
  const v = goUint32(exact);
  if (BigInt(v) !== exact) {
    d.notes.push({
      code: 'ID_TRUNCATED',
      message: `${what} ${exact} does not fit 32 bits; the engine converts it with uint32() and runs with ${v}`,
      details: { value: exact.toString(), becomes: v },
    });
  }
  return v;
}

/** The uid and gid an engine using Go's uint32() gets from a GetExecUser result. */
export function execIds(d: Draft, ex: ExecUser): { uid: number; gid: number } {
  const uid = ex.userEntry ? uint32Of(d, ex.uid, ex.userEntry, 2, 'uid') : ex.uid;
  let gid: number;
  if (ex.groupArg !== null) gid = ex.groupEntry ? uint32Of(d, ex.gid, ex.groupEntry, 2, 'gid') : ex.gid;
  else gid = ex.userEntry ? uint32Of(d, ex.gid, ex.userEntry, 3, 'gid') : ex.gid;
  return { uid, gid };
}

function addGroupAddLines(d: Draft, db: UserDb, list: readonly string[], prefix?: string, strict?: (entries: GroupEntry[]) => void): number[] {
  let groups;
  try {
    groups = getAdditionalGroups(list, db);
  } catch (e) {
    if (prefix !== undefined && e instanceof BerthError) throw new BerthError(e.code, `${prefix}${e.message}`, { hint: e.hint, details: e.details, cause: e });
    throw e;
  }
  strict?.(groups.flatMap((g) => (g.entry ? [g.entry] : [])));
  for (const g of groups) {
    d.because.push(g.entry ? `--group-add ${g.arg}: ${groupRef(db, g.entry)} gives gid ${g.gid}` : `--group-add ${g.arg}: gid ${g.gid} used as given`);
  }
  return groups.map((g) => g.gid);
}

/** berth: Docker's rules (identity.md section 2.1) made strict and deterministic. */
export function resolveBerth(inp: IdentityInput, db: UserDb, keepId: { uid: number; gid: number } | undefined): Draft {
  let { spec, from } = specSource(inp);
  const d = newDraft(spec);
  if (keepId && spec === '') {
    spec = `${keepId.uid}:${keepId.gid}`;
    from = '--userns keep-id (no USER anywhere, so the invoking user\'s ids)';
    d.spec = spec;
  }
  d.because.push(`user spec ${JSON.stringify(spec)} from ${from}${spec === '' ? ' (empty means the uid 0 entry)' : ''}`);
  const ex = getExecUser(spec, null, db);
  checkStrict(spec, db, ex);
  describeExecUser(d, ex, db, spec);
  d.uid = ex.uid;
  d.gid = ex.gid;
  if (ex.userEntry) d.userName = ex.userEntry.name;
  if (ex.groupEntry) d.groupName = ex.groupEntry.name;
  if (keepId) {
    d.raw.push(keepId.gid);
    d.because.push(`--userns keep-id adds the invoking user's gid ${keepId.gid} to the groups`);
  }
  addUnique(d.raw, [ex.gid]);
  d.because.push(`berth: the primary gid ${ex.gid} is always in the groups (initgroups semantics; CVE-2022-36109, CVE-2023-25173)`);
  addUnique(d.raw, ex.sgids);
  if (inp.groupAdd && inp.groupAdd.length > 0) {
    addUnique(d.raw, addGroupAddLines(d, db, inp.groupAdd, undefined, (entries) => checkGroupIds(spec, db, entries)));
  }
  if (inp.availableGids !== undefined) {
    for (const g of d.raw) {
      if (g >= inp.availableGids) {
        d.notes.push({
          code: 'GID_NOT_IN_USERNS',
          message: `gid ${g} is outside the user namespace (gids 0-${inp.availableGids - 1}); setgroups fails with EINVAL for a gid the namespace does not map`,
          details: { gid: g, available: inp.availableGids },
        });
      }
    }
  }
  setRuncHome(d, db, inp.env);
  return d;
}

/** Docker `run` (moby daemon/oci_linux.go getUser; identity.md rules 21-24). */
export function resolveDockerRun(inp: IdentityInput, db: UserDb): Draft {
  const { spec, from } = specSource(inp);
  const d = newDraft(spec);
  d.because.push(`user spec ${JSON.stringify(spec)} from ${from}; Docker reads the image's own /etc/passwd and /etc/group, not files bind-mounted over them`);
  const ex = getExecUser(spec, null, db);
  describeExecUser(d, ex, db, spec);
  ({ uid: d.uid, gid: d.gid } = execIds(d, ex));
  if (ex.userEntry) d.userName = ex.userEntry.name;
  if (ex.groupEntry) d.groupName = ex.groupEntry.name;
  d.raw.push(d.gid);
  ex.memberOf.forEach((g, i) => d.raw.push(uint32Of(d, ex.sgids[i], g, 2, 'gid')));
  d.because.push('Docker: additionalGids = [gid] + image memberships + --group-add, not de-duplicated (the primary gid since 20.10.18, CVE-2022-36109)');
  if (inp.groupAdd && inp.groupAdd.length > 0) {
    d.raw.push(...addGroupAddLines(d, db, inp.groupAdd));
    d.notes.push({ code: 'GROUP_ADD_ORDER_RANDOM', message: 'Docker passes --group-add gids in Go map order (random); the kernel sorts the list, so only the order differs' });
  }
  setRuncHome(d, db, inp.env);
  return d;
}

/** BuildKit's parseUID: the literal `root` or strconv.ParseUint(…, 10, 32). */
function buildkitUid(s: string): number | undefined {
  if (s === 'root') return 0;
  const n = goParseUint(s, 32);
  return n.kind === 'ok' ? toNumber(n.value) : undefined;
}

/** Docker `build` RUN step with BuildKit (executor/oci/user.go GetUser; identity.md rule 39). */
export function resolveBuildkitRun(inp: IdentityInput, db: UserDb): Draft {
  const src = specSource(inp);
  const isDefault = src.spec === '';
  const spec = isDefault ? '0' : src.spec;
  const d = newDraft(spec);
  d.because.push(`user spec ${JSON.stringify(spec)} from ${src.from}${isDefault ? ' (BuildKit uses "0" for an empty USER)' : ''}`);
  const cut = spec.indexOf(':');
  const fastU = cut < 0 ? undefined : buildkitUid(spec.slice(0, cut));
  const fastG = cut < 0 ? undefined : buildkitUid(spec.slice(cut + 1));
  let sgids: number[] = [];
  if (fastU !== undefined && fastG !== undefined) {
    d.uid = fastU;
    d.gid = fastG;
    d.because.push(`BuildKit fast path: both parts of ${JSON.stringify(spec)} are numeric or "root", so no file is read and there are no image memberships`);
  } else {
    let ex: ExecUser;
    try {
      ex = getExecUser(spec, null, db);
    } catch (e) {
      if (!isDefault) throw e;
      d.because.push(`BuildKit ignores the lookup error for an empty USER (${e instanceof Error ? e.message : String(e)}) and runs as 0:0`);
      d.notes.push({ code: 'LOOKUP_ERROR_IGNORED', message: 'BuildKit swallows user lookup errors when USER is empty and runs as 0:0' });
      d.raw.push(0);
      setRuncHome(d, db, inp.env);
      return d;
    }
    describeExecUser(d, ex, db, spec);
    ({ uid: d.uid, gid: d.gid } = execIds(d, ex));
    if (ex.userEntry) d.userName = ex.userEntry.name;
    if (ex.groupEntry) d.groupName = ex.groupEntry.name;
    sgids = ex.sgids.map((g) => goUint32(BigInt(g)));
  }
  d.raw = sgids.includes(d.gid) ? sgids : [d.gid, ...sgids];
  d.because.push('BuildKit: additionalGids = image memberships with the primary gid prepended if absent (ensureAdditionalGids)');
  if (inp.groupAdd && inp.groupAdd.length > 0) {
    d.notes.push({ code: 'GROUP_ADD_IGNORED', message: 'a BuildKit RUN step has no --group-add; the values are ignored' });
  }
  setRuncHome(d, db, inp.env);
  return d;
}

/** Parsed `--userns` value, as far as it changes the process identity. */
export interface UsernsSpec {
  kind: 'host' | 'keep-id' | 'nomap' | 'auto' | 'private' | 'other';
  uid?: number;
  gid?: number;
}

export function parseUserns(userns: string | undefined): UsernsSpec {
  const v = userns ?? '';
  if (v === '' || v === 'host') return { kind: 'host' };
  if (v === 'private') return { kind: 'private' };
  if (v === 'nomap') return { kind: 'nomap' };
  if (v === 'auto' || v.startsWith('auto:')) return { kind: 'auto' };
  if (v === 'keep-id' || v.startsWith('keep-id:')) {
    const out: UsernsSpec = { kind: 'keep-id' };
    if (v.length > 'keep-id'.length) {
      for (const opt of v.slice('keep-id:'.length).split(',')) {
        const eq = opt.indexOf('=');
        const key = eq < 0 ? opt : opt.slice(0, eq);
        const val = eq < 0 ? '' : opt.slice(eq + 1);
        if (key !== 'uid' && key !== 'gid' && key !== 'size') {
          throw new BerthError('E_IDENTITY_INPUT_INVALID', `resolve --userns ${v}: unknown keep-id option ${JSON.stringify(key)}`, {
            hint: 'keep-id takes uid=N, gid=N and size=N',
          });
        }
        const n = goParseUint(val, 32);
        if (n.kind !== 'ok') {
          throw new BerthError('E_IDENTITY_INPUT_INVALID', `resolve --userns ${v}: ${key} must be a number, got ${JSON.stringify(val)}`, {
            hint: `e.g. --userns keep-id:${key}=1000`,
          });
        }
        if (key === 'uid') out.uid = toNumber(n.value);
        if (key === 'gid') out.gid = toNumber(n.value);
      }
    }
    return out;
  }
  if (v.startsWith('container:') || v.startsWith('ns:') || v === 'pod') return { kind: 'other' };
  throw new BerthError('E_IDENTITY_INPUT_INVALID', `resolve --userns ${v}: unknown mode`, {
    hint: 'use host, private, keep-id[:uid=N,gid=N], nomap or auto[:size=N]',
  });
}

/** The ids keep-id puts the process at (podman GetKeepIDMapping). */
export function keepIdIds(inp: IdentityInput, ns: UsernsSpec, rootless: boolean): { uid: number; gid: number } {
  if (!rootless) return { uid: ns.uid ?? 0, gid: ns.gid ?? 0 };
  const uid = ns.uid ?? inp.hostUid;
  const gid = ns.gid ?? inp.hostGid;
  if (uid === undefined || gid === undefined) {
    throw new BerthError('E_IDENTITY_INPUT_INVALID', `resolve --userns ${inp.userns}: keep-id needs the invoking user's uid and gid`, {
      hint: 'pass hostUid and hostGid (the host facts), or keep-id:uid=N,gid=N',
    });
  }
  return { uid, gid };
}

function lastLine(db: UserDb, which: 'passwd' | 'group'): number {
  const t = db.text?.[which];
  if (t != null) return t.split('\n').length - (t.endsWith('\n') ? 1 : 0);
  const e = db[which];
  return e && e.length > 0 ? e[e.length - 1].line : 0;
}

/**
 * The lines podman appends to the container's /etc/passwd and /etc/group before it resolves the
 * user (libpod generateUserPasswdEntry, generateUserGroupEntry): for a numeric user with no passwd
 * entry, `uid:*:uid:gid:container user:WORKDIR:/bin/sh`; for a numeric group (or "0" when none is
 * given) with no group entry, `gid:x:gid:USERPART`.
 */
function podmanSynthesize(d: Draft, spec: string, db: UserDb, workingDir: string | undefined): UserDb {
  if (spec === '') return db;
  if (db.passwdError) throw db.passwdError;
  const cut = spec.indexOf(':');
  const userPart = cut < 0 ? spec : spec.slice(0, cut);
  const groupPart = cut < 0 ? '' : spec.slice(cut + 1);
  let passwd = db.passwd;
  let group = db.group;
  const uidN = goParseUint(userPart, 32);
  if (uidN.kind === 'ok') {
    const uid = toNumber(uidN.value);
    if (!(db.passwd ?? []).some((u) => u.uid === uid)) {
      let gid = 0;
      if (groupPart !== '') {
        const g = goParseUint(groupPart, 32);
        if (g.kind === 'ok') gid = toNumber(g.value);
        else {
          if (db.groupError) throw db.groupError;
          const a = goAtoi(groupPart);
          const e = (db.group ?? []).find((x) => (a.kind === 'ok' ? x.gid === toNumber(a.value) : x.name === groupPart));
          if (!e) {
            throw new BerthError('E_GROUP_NOT_FOUND', `unable to get gid ${groupPart} from group file: no matching entries in group file`, {
              hint: `add ${groupPart} to the image's /etc/group, or use a numeric gid`,
              details: { group: groupPart },
            });
          }
          gid = e.gid;
        }
      }
      const home = workingDir || '/';
      const text = `${uid}:*:${uid}:${gid}:container user:${home}:/bin/sh`;
      const entry: PasswdEntry = { name: String(uid), password: '*', uid, gid, gecos: 'container user', home, shell: '/bin/sh', line: lastLine(db, 'passwd') + 1, text };
      passwd = [...(db.passwd ?? []), entry];
      d.notes.push({ code: 'PASSWD_ENTRY_ADDED', message: `podman appends "${text}" to the container's /etc/passwd because uid ${uid} has none (on a host with a user of that uid, its name is used instead)`, details: { line: text } });
    }
  }
  const grp = groupPart === '' ? '0' : groupPart;
  const gidN = goParseUint(grp, 32);
  if (gidN.kind === 'ok') {
    const gid = toNumber(gidN.value);
    if (db.groupError) throw db.groupError;
    if (!(db.group ?? []).some((g) => g.gid === gid)) {
      const text = `${gid}:x:${gid}:${userPart}`;
      const entry: GroupEntry = { name: String(gid), password: 'x', gid, members: userPart === '' ? [] : userPart.split(','), line: lastLine(db, 'group') + 1, text };
      group = [...(db.group ?? []), entry];
      d.notes.push({ code: 'GROUP_ENTRY_ADDED', message: `podman appends "${text}" to the container's /etc/group because gid ${gid} has none`, details: { line: text } });
    }
  }
  if (passwd === db.passwd && group === db.group) return db;
  const out: UserDb = { ...db, passwd, group };
  delete out.text;
  return out;
}

/**
 * podman `run` (libpod generateSpec + specgen SetupUserNS; identity.md rules 19, 53): moby/sys
 * GetExecUser against the container's files (bind mounts included, plus the lines podman adds),
 * the primary gid added only when a user is set, image memberships only when the spec has no
 * `:`, and in rootless mode memberships outside the user namespace skipped with a warning.
 */
export function resolvePodmanRun(inp: IdentityInput, db: UserDb, rootless: boolean): Draft {
  const ns = parseUserns(inp.userns);
  let { spec, from } = specSource(inp);
  const d = newDraft(spec);
  let uid = 0;
  let gid = 0;
  if (ns.kind === 'keep-id') {
    const k = keepIdIds(inp, ns, rootless);
    uid = k.uid;
    gid = k.gid;
    d.raw.push(k.gid);
    d.because.push(`--userns keep-id: the process starts as ${k.uid}:${k.gid} and gid ${k.gid} is added to the groups (podman SetupUserNS)`);
    if (spec === '') {
      spec = `${k.uid}:${k.gid}`;
      from = '--userns keep-id (no USER anywhere)';
    }
    if (ns.uid === undefined && ns.gid === undefined && rootless) {
      d.notes.push({ code: 'HOST_USER_PASSWD_ENTRY', message: 'with keep-id podman also adds the invoking user\'s own passwd and group entries (host name and home) when the image has none for them' });
    }
  } else if (ns.kind === 'nomap') {
    if (!rootless) {
      throw new BerthError('E_IDENTITY_INPUT_INVALID', 'resolve --userns nomap: nomap is only supported in rootless mode', { hint: 'use the podman-rootless profile' });
    }
    d.raw.push(0);
    d.because.push('--userns nomap: the process starts as 0:0 and gid 0 is added to the groups (podman SetupUserNS)');
  }
  d.spec = spec;
  d.because.push(`user spec ${JSON.stringify(spec)} from ${from}; podman resolves it against the container's /etc/passwd and /etc/group, including bind mounts over them`);
  const work = podmanSynthesize(d, spec, db, inp.workingDir);
  const ex = getExecUser(spec, null, work);
  describeExecUser(d, ex, work, spec);
  if (spec !== '') {
    ({ uid, gid } = execIds(d, ex));
    addUnique(d.raw, [gid]);
    d.because.push(`podman: a user is set, so its gid ${gid} is added to the groups`);
  } else {
    d.because.push('podman: no user is set, so the process keeps the spec default 0:0 and podman does not add a primary gid');
  }
  d.uid = uid;
  d.gid = gid;
  if (ex.userEntry) d.userName = ex.userEntry.name;
  if (ex.groupEntry) d.groupName = ex.groupEntry.name;
  const groupAdd = inp.groupAdd ?? [];
  if (groupAdd.includes('keep-groups')) {
    if (groupAdd.length > 1) {
      throw new BerthError('E_GROUP_INVALID', "the '--group-add keep-groups' option is not allowed with any other --group-add options", { hint: 'use keep-groups alone' });
    }
    d.notes.push({ code: 'KEEP_GROUPS', message: '--group-add keep-groups sets the crun annotation run.oci.keep_original_groups: the process keeps the invoking user\'s own groups and setgroups is skipped (crun only; runc ignores it)' });
  } else if (groupAdd.length > 0) {
    addUnique(d.raw, addGroupAddLines(d, work, groupAdd, 'looking up supplemental groups for container: '));
    d.notes.push({ code: 'GROUP_ADD_ORDER_RANDOM', message: 'podman adds --group-add gids in Go map order (random); the kernel sorts the list, so only the order differs' });
  }
  if (!spec.includes(':')) {
    // podman checks each gid against the namespace's gid ranges: 0..available-1 rootless, 0..MaxInt32-1 rootful.
    const limit = rootless ? inp.availableGids ?? 65537 : MAX_ID;
    if (rootless && inp.availableGids === undefined) d.because.push('podman-rootless: assuming 65536 subordinate gids (gids 0-65536 exist in the user namespace)');
    const kept: number[] = [];
    for (const g of ex.sgids) {
      if (g >= 0 && g < limit) kept.push(g);
      else {
        d.notes.push({ code: 'GID_NOT_IN_USERNS', message: `Additional gid=${g} is not present in the user namespace, skip setting it`, details: { gid: g, available: limit } });
      }
    }
    addUnique(d.raw, kept);
  }
  // setHomeEnvIfNeeded: any HOME= in the env wins; else execUser.Home, which runc replaces when empty.
  const hasHome = (inp.env ?? []).some((kv) => kv.startsWith('HOME='));
  const fromEnv = envHome(inp.env);
  if (hasHome && fromEnv !== '') {
    d.home = fromEnv!;
    d.because.push(`HOME ${d.home} from the environment`);
  } else if (!hasHome && ex.home !== '') {
    d.home = ex.home;
    d.because.push(`HOME ${ex.home} from the resolved passwd entry (podman setHomeEnvIfNeeded)`);
  } else {
    const r = runcHome(uid, work);
    d.home = r.home;
    d.because.push(r.entry ? `HOME ${r.home} from ${passwdRef(work, r.entry)} (the OCI runtime fills an empty HOME)` : 'HOME / (the OCI runtime\'s default)');
  }
  return d;
}

/** podman/buildah `build` RUN step (buildah userForRun + configureUIDGID; identity.md rules 43-45). */
export function resolveBuildahRun(inp: IdentityInput, db: UserDb): Draft {
  const { spec, from } = specSource(inp);
  const d = newDraft(spec === '' ? '0' : spec);
  d.because.push(`user spec ${JSON.stringify(spec)} from ${from}${spec === '' ? ' (buildah uses "0")' : ''}; buildah parses the files itself`);
  const bdb = buildahView(db);
  const r = buildahGetUser(spec, bdb);
  d.because.push(...r.because);
  d.uid = r.uid;
  d.gid = r.gid;
  if (r.userEntry) d.userName = r.userEntry.name;
  if (r.groupEntry) d.groupName = r.groupEntry.name;
  d.raw.push(r.gid);
  d.because.push(`buildah: the primary gid ${r.gid} is added to the groups`);
  if (!spec.includes(':')) {
    const add = buildahAdditionalGroups(r.uid, bdb);
    if (add === undefined) d.because.push(`buildah: uid ${r.uid} has no passwd entry, so no image memberships`);
    else {
      addUnique(d.raw, add.groups.map((g) => g.gid));
      add.groups.forEach((g, i) => {
        const exact = g.members.split(',').includes(add.username);
        if (i < MAX_LISTED) d.because.push(`buildah: /etc/group:${g.line} ${g.text} ${exact ? 'lists' : 'contains the text'} ${add.username}: gid ${g.gid}`);
        if (!exact) {
          d.notes.push({ code: 'SUBSTRING_MEMBER_MATCH', message: `buildah grants gid ${g.gid} because the member list "${g.members}" contains "${add.username}" as a substring (strings.Contains), although ${add.username} is not a member`, details: { line: g.line, gid: g.gid } });
        }
      });
      if (add.groups.length > MAX_LISTED) d.because.push(`buildah: ... and ${add.groups.length - MAX_LISTED} more /etc/group lines`);
      if (add.groups.length === 0) d.because.push(`buildah: no /etc/group member list contains ${add.username}`);
    }
  }
  const groupAdd = inp.groupAdd ?? [];
  for (const g of groupAdd) {
    if (g === 'keep-groups') {
      if (groupAdd.length > 1) {
        throw new BerthError('E_GROUP_INVALID', "the '--group-add keep-groups' option is not allowed with any other --group-add options", { hint: 'use keep-groups alone' });
      }
      d.notes.push({ code: 'KEEP_GROUPS', message: '--group-add keep-groups sets the crun annotation run.oci.keep_original_groups (crun only)' });
      continue;
    }
    const n = goParseUint(g, 32);
    if (n.kind !== 'ok') {
      throw new BerthError('E_GROUP_INVALID', goNumErrorText('ParseUint', g, n.kind), { hint: 'buildah --group-add takes numeric gids or keep-groups', details: { group: g } });
    }
    addUnique(d.raw, [toNumber(n.value)]);
    d.because.push(`--group-add ${g}: gid ${toNumber(n.value)}`);
  }
  const fromEnv = envHome(inp.env);
  if ((inp.env ?? []).some((kv) => kv.startsWith('HOME='))) {
    d.home = fromEnv ?? '';
    d.because.push('HOME from the environment');
  } else {
    d.home = r.home;
    d.because.push(r.homeEntry ? `HOME ${r.home} from /etc/passwd:${r.homeEntry.line} (buildah looks up the uid)` : 'HOME / (buildah\'s default for a uid without an entry)');
  }
  return d;
}

/** kaniko RUN step (pkg/commands/run.go, util.SyscallCredentials; identity.md rules 41-42). */
export function resolveKanikoRun(inp: IdentityInput, db: UserDb): Draft {
  const { spec, from } = specSource(inp);
  const userStr = spec.split(':')[0];
  const d = newDraft(userStr);
  d.because.push(`USER ${JSON.stringify(spec)} from ${from}`);
  if (spec.includes(':')) {
    d.notes.push({ code: 'RUN_GROUP_DROPPED', message: `kaniko RUN passes only "${userStr}" (the part before ':'); the group "${spec.slice(spec.indexOf(':') + 1)}" is ignored and the gid comes from the passwd entry`, details: { user: spec } });
    d.because.push('kaniko RUN keeps only the part of USER before the first ":" (run.go; fixed only in the osscontainertools fork, FF_KANIKO_RUN_HONOR_GROUP)');
  }
  if (userStr === '') {
    d.uid = 0;
    d.gid = 0;
    d.raw = [0];
    d.because.push('kaniko sets no credentials for an empty USER: the step runs as the executor process itself (root)');
    d.notes.push({ code: 'EXECUTOR_CREDENTIALS', message: 'the step inherits the kaniko executor\'s own credentials; its supplementary groups are the executor container\'s, assumed [0]' });
  } else {
    const c = kanikoRunCredentials(db, userStr);
    d.because.push(...c.because);
    d.uid = c.uid;
    d.gid = c.gid;
    d.raw = c.groups;
    if (c.user.username !== '') d.userName = c.user.username;
    if ((c.firstVia === 'name' && goAtoi(userStr).kind === 'ok') || c.via === 'name') {
      const what = c.firstVia === 'name' && goAtoi(userStr).kind === 'ok' ? `"${userStr}"` : `the uid text "${c.uid}"`;
      d.notes.push({ code: 'NAME_BEATS_UID', message: `kaniko looks ${what} up as a user NAME first, so a user named like a number wins over the uid (kaniko util.LookupUser)`, details: { uid: c.uid } });
    }
  }
  const h = kanikoHome(db, userStr, inp.env);
  d.home = h.home;
  d.because.push(h.because);
  return d;
}
