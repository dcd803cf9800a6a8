/**
 * identity/workdir: who owns a working directory that does not exist yet when an engine creates
 * it (identity.md section 4 and rules 40, 42e, 46, 50, 52, 53).
 *
 * - run: runc/crun create a missing cwd as container root (0:0, mode 0755) before switching
 *   user (runc prepareRootfs); Docker creates it as (remapped) root at create/start; podman
 *   creates an image WORKDIR and chowns only the leaf to USER (chrootuser rules).
 * - build: BuildKit's WORKDIR mkdir chowns every created directory to USER (a bare number gives
 *   gid = uid; a missing name silently gives 0:0); buildah chowns every created directory through
 *   userForCopy (lookup failures give 0:0); kaniko chowns only the leaf to GetUserGroup(USER).
 * berth follows runc for run and BuildKit for build, except that a name it cannot find is an
 * error rather than a silent root.
 */
import { BerthError } from '../errors/index.js';
import { buildahGetUser, buildahUserForCopy, buildahView } from './buildah.js';
import { kanikoUserGroup } from './kaniko.js';
import { goParseInt, goUint32 } from './numeric.js';
import type { IdentityContext, ProfileName, WorkdirOwner } from './types.js';
import { groupRef, passwdRef, type UserDb } from './userdb.js';

const ROOT = { uid: 0, gid: 0 };

/** BuildKit llb.WithUser's parseUID: `root`, or strconv.ParseInt(…, 10, 32) converted to uint32. */
function llbId(s: string): number | undefined {
  if (s === 'root') return 0;
  const n = goParseInt(s, 32);
  return n.kind === 'ok' ? goUint32(n.value) : undefined;
}

/**
 * BuildKit's chown of a WORKDIR (dockerfile2llb dispatchWorkdir -> llb.Mkdir WithParents
 * WithUser(USER) -> solver/llbsolver/ops readUser). `strict` turns its silent fallbacks into errors.
 */
function buildkitOwner(userSpec: string, db: UserDb, strict: boolean, because: string[]): { uid: number; gid: number } {
  if (userSpec === '') {
    because.push('no USER: the directory is created by the builder itself, as 0:0');
    return ROOT;
  }
  const cut = userSpec.indexOf(':');
  const user = cut < 0 ? userSpec : userSpec.slice(0, cut);
  const group = cut < 0 ? undefined : userSpec.slice(cut + 1);
  let uid = 0;
  let gid = 0;
  const uNum = llbId(user);
  if (uNum !== undefined) {
    if (strict && uNum > 2147483647) {
      throw new BerthError('E_ID_RANGE', `resolve WORKDIR owner ${JSON.stringify(userSpec)}: uids and gids must be in range 0-2147483647`, { hint: 'use a uid between 0 and 2147483647' });
    }
    uid = uNum;
    gid = uNum;
    because.push(`numeric user ${user} alone gives gid = uid = ${uNum} (BuildKit readUser ByID)`);
  } else {
    if (db.passwdError) throw db.passwdError;
    const e = db.passwd?.find((u) => u.name === user);
    if (e) {
      uid = e.uid;
      gid = e.gid;
      because.push(`${passwdRef(db, e)} gives ${e.uid}:${e.gid}`);
    } else if (strict) {
      throw new BerthError('E_USER_NOT_FOUND', `unable to find user ${user}: no matching entries in passwd file`, {
        hint: `add ${user} to the image's /etc/passwd before WORKDIR, or use a numeric USER`,
        details: { user },
      });
    } else {
      because.push(`user ${user} is not in /etc/passwd${db.passwd === null ? ' (no file)' : ''}: BuildKit silently uses 0:0`);
    }
  }
  if (group !== undefined) {
    const gNum = llbId(group);
    if (gNum !== undefined) {
      gid = gNum;
      because.push(`group part ${group} gives gid ${gNum}`);
    } else {
      if (db.groupError) throw db.groupError;
      const g = db.group?.find((x) => x.name === group);
      if (g) {
        gid = g.gid;
        because.push(`${groupRef(db, g)} gives gid ${g.gid}`);
      } else if (strict) {
        throw new BerthError('E_GROUP_NOT_FOUND', `unable to find group ${group}: no matching entries in group file`, {
          hint: `add ${group} to the image's /etc/group before WORKDIR, or use a numeric gid`,
          details: { group },
        });
      } else {
        because.push(`group ${group} is not in /etc/group: BuildKit keeps gid ${gid}`);
      }
    }
  }
  return { uid, gid };
}

/**
 * The owner a profile gives a working directory it has to create. `userSpec` is the USER in effect
 * (the container's user for run, the stage's USER for build).
 */
export function workdirCreationOwner(profile: ProfileName, context: IdentityContext, userSpec: string, db: UserDb): WorkdirOwner {
  const because: string[] = [];
  const same = (o: { uid: number; gid: number }): WorkdirOwner => ({ ...o, parents: { ...o }, because });
  if ((profile === 'kubernetes' || profile === 'openshift') && context === 'build') {
    throw new BerthError('E_IDENTITY_INPUT_INVALID', `workdirCreationOwner(): ${profile} does not build images`, { hint: 'use context run' });
  }
  if (profile === 'kaniko' && context === 'run') {
    throw new BerthError('E_IDENTITY_INPUT_INVALID', 'workdirCreationOwner(): kaniko only builds images', { hint: 'use context build' });
  }
  if (context === 'run') {
    switch (profile) {
      case 'berth':
      case 'kubernetes':
      case 'openshift':
        because.push(`${profile === 'berth' ? 'berth leaves it to runc' : 'the CRI runtime leaves it to runc/crun'}: a missing cwd is created 0755 as container root (0:0) before the process switches user (runc prepareRootfs, crun)`);
        return same(ROOT);
      case 'docker':
        because.push('Docker creates a missing WORKDIR at create/start as (remapped) root, 0755, not as USER (daemon SetupWorkingDirectory)');
        return same(ROOT);
      case 'podman':
      case 'podman-rootless': {
        const r = buildahGetUserForPodman(userSpec, db);
        because.push('podman creates an image WORKDIR (MkdirAll 0755, parents as container root) and chowns only the leaf to USER with buildah\'s chrootuser rules (libpod resolveWorkDir)', ...r.because);
        return { uid: r.uid, gid: r.gid, parents: { ...ROOT }, because };
      }
    }
  }
  switch (profile) {
    case 'berth': {
      because.push('berth creates a WORKDIR like BuildKit: every missing directory is owned by USER');
      return same(buildkitOwner(userSpec, db, true, because));
    }
    case 'docker': {
      because.push('BuildKit WORKDIR: llb.Mkdir with parents, every created directory chowned to USER');
      return same(buildkitOwner(userSpec, db, false, because));
    }
    case 'podman':
    case 'podman-rootless': {
      because.push('buildah WORKDIR: EnsureContainerPathAs(WORKDIR, USER) chowns every created directory (userForCopy)');
      if (userSpec === '') {
        because.push('no USER: 0:0');
        return same(ROOT);
      }
      const r = buildahUserForCopy(userSpec, buildahView(db));
      if ('error' in r) {
        because.push(`userForCopy fails (${r.error.message}); EnsureContainerPathAs ignores the error and uses 0:0`);
        return same(ROOT);
      }
      because.push(r.because);
      return same({ uid: r.uid, gid: r.gid });
    }
    case 'kaniko': {
      because.push('kaniko WORKDIR: MkdirAll 0755, then chown of the leaf only; parents stay root-owned');
      if (userSpec === '') {
        because.push('no USER: no chown, so 0:0');
        return same(ROOT);
      }
      const r = kanikoUserGroup(db, userSpec);
      because.push(r.because);
      return { uid: r.uid, gid: r.gid, parents: { ...ROOT }, because };
    }
    default:
      throw new BerthError('E_IDENTITY_INPUT_INVALID', `workdirCreationOwner(): ${profile} does not build images`, { hint: 'use context run' });
  }
}

/** podman resolveWorkDir: chrootuser.GetUser(c.User()); a lookup failure fails the container start. */
function buildahGetUserForPodman(userSpec: string, db: UserDb): { uid: number; gid: number; because: string[] } {
  try {
    const r = buildahGetUser(userSpec, buildahView(db));
    return { uid: r.uid, gid: r.gid, because: r.because };
  } catch (e) {
    if (e instanceof BerthError) {
      throw new BerthError(e.code, `looking up ${userSpec} inside of the container: ${e.message}`, { hint: e.hint, details: e.details, cause: e });
    }
    throw e;
  }
}
