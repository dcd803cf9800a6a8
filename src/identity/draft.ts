/**
 * identity/draft: the mutable record a profile fills while it resolves, and the one place that
 * turns it into a ResolvedIdentity (sorted groups, group name, the Docker-rules comparison), so
 * every profile reports the same way.
 */
import { getExecUser, runcHome } from './execuser.js';
import { goAtoi, inIdRange } from './numeric.js';
import type { IdentityContext, IdentityNote, ProfileName, ResolvedIdentity } from './types.js';
import { passwdRef, type UserDb } from './userdb.js';

export interface Draft {
  uid: number;
  gid: number;
  raw: number[];
  home: string;
  userName?: string;
  groupName?: string;
  spec: string;
  because: string[];
  notes: IdentityNote[];
}

export function newDraft(spec: string): Draft {
  return { uid: 0, gid: 0, raw: [], home: '/', spec, because: [], notes: [] };
}

export function sortUnique(xs: readonly number[]): number[] {
  return [...new Set(xs)].sort((a, b) => a - b);
}

/** Appends ids not yet present, in order (runtime-tools AddProcessAdditionalGid and its kin). */
export function addUnique(list: number[], ids: readonly number[]): void {
  const seen = new Set(list);
  for (const id of ids) {
    if (!seen.has(id)) {
      seen.add(id);
      list.push(id);
    }
  }
}

/** The last HOME in an environment list, as runc's prepareEnv de-duplicates it. */
export function envHome(env: readonly string[] | undefined): string | undefined {
  let home: string | undefined;
  for (const kv of env ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0 && kv.slice(0, eq) === 'HOME') home = kv.slice(eq + 1);
  }
  return home;
}

/**
 * HOME under runc (and crun): a non-empty HOME in the environment stays; otherwise the home of the
 * first passwd entry with the uid, even an empty one; otherwise "/" (runc libcontainer/env.go).
 */
export function setRuncHome(d: Draft, db: UserDb, env: readonly string[] | undefined): void {
  const fromEnv = envHome(env);
  if (fromEnv !== undefined && fromEnv !== '') {
    d.home = fromEnv;
    d.because.push(`HOME ${fromEnv} from the environment`);
    return;
  }
  const r = runcHome(d.uid, db);
  d.home = r.home;
  d.because.push(r.entry
    ? `HOME ${r.home === '' ? '"" (the entry\'s home field is empty)' : r.home} from ${passwdRef(db, r.entry)} (runc prepareEnv looks up the uid)`
    : `HOME / because uid ${d.uid} has no /etc/passwd entry (runc prepareEnv default)`);
}

/** The Docker-rules groups of a user, for comparison (ResolvedIdentity.imageGroupsGids). */
export function dockerRuleGroups(db: UserDb, uid: number, userName: string | undefined): { gids: number[]; failed?: string } {
  // By name when the name resolves to this uid (two entries may share a uid); else by uid.
  const byName = userName !== undefined && userName !== '' && goAtoi(userName).kind === 'syntax' && !userName.includes(':');
  try {
    let ex = getExecUser(byName ? userName : String(uid), null, db);
    if (ex.uid !== uid) ex = getExecUser(String(uid), null, db);
    return { gids: sortUnique([ex.gid, ...ex.sgids].filter((g) => inIdRange(g))) };
  } catch (e) {
    return { gids: [], failed: e instanceof Error ? e.message : String(e) };
  }
}

export function finalize(profile: ProfileName, context: IdentityContext, d: Draft, db: UserDb): ResolvedIdentity {
  if (d.groupName === undefined) {
    const g = db.group?.find((x) => x.gid === d.gid);
    if (g) d.groupName = g.name;
  }
  if (!d.raw.includes(d.gid)) {
    d.notes.push({
      code: 'PRIMARY_GID_NOT_IN_GROUPS',
      message: `the primary gid ${d.gid} is not in the list passed to setgroups: the process has it only as its gid, and exec of a setgid program drops it (the CVE-2022-36109 class)`,
      details: { gid: d.gid, setgroups: [...d.raw] },
    });
  }
  const cmp = dockerRuleGroups(db, d.uid, d.userName);
  if (cmp.failed !== undefined) {
    d.notes.push({ code: 'IMAGE_GROUPS_UNKNOWN', message: `the image's own group rules could not be evaluated: ${cmp.failed}` });
  }
  const out: ResolvedIdentity = {
    profile,
    context,
    uid: d.uid,
    gid: d.gid,
    additionalGids: sortUnique([d.gid, ...d.raw]),
    rawAdditionalGids: [...d.raw],
    home: d.home,
    spec: d.spec,
    because: d.because,
    imageGroupsGids: cmp.gids,
    notes: d.notes,
  };
  if (d.userName !== undefined) out.userName = d.userName;
  if (d.groupName !== undefined) out.groupName = d.groupName;
  return out;
}

