/**
 * identity/kube: the Kubernetes and OpenShift profiles (identity.md sections 2.3 and 5).
 *
 * The kubelet builds the CRI request: the image's USER reaches the runtime only as a uid or a
 * username (its `:group` part is discarded, kubernetes#61967), an image without USER counts as
 * uid 0, runAsNonRoot is checked, and SupplementalGroups = [fsGroup] + supplementalGroups + the
 * volumes' extra gids. The CRI runtime then resolves the user in the image:
 * - CRI-O (server/container_create.go setupContainerUser): moby/sys GetExecUser, runAsGroup
 *   overrides the gid, groups = [gid] + (Merge: image memberships) + SupplementalGroups,
 *   de-duplicated in insertion order; it may append a line for an unknown uid to a copy of
 *   /etc/passwd (utils.GeneratePasswd);
 * - containerd (internal/cri): its own WithUser on "user[:runAsGroup]", then sorted unique
 *   {gid} ∪ (Merge: memberships of the uid's NAME, minus a same-named group) ∪ SupplementalGroups.
 * OpenShift's restricted-v2 SCC first rewrites the pod: runAsUser from the namespace's uid range
 * (the image's USER is overridden), fsGroup from its supplemental-groups range; the runtime is
 * CRI-O, so an arbitrary uid absent from /etc/passwd gets gid 0.
 */
import { BerthError } from '../errors/index.js';
import { containerdAdditionalGids, containerdWithUser, criImageUser } from './containerd.js';
import { addUnique, newDraft, setRuncHome, sortUnique, type Draft } from './draft.js';
import { describeExecUser, execIds } from './engines.js';
import { getExecUser, type ExecUser } from './execuser.js';
import { goUint32, inIdRange, MAX_ID } from './numeric.js';
import { DEFAULT_OPENSHIFT_UID_RANGE, type IdentityInput, type KubernetesIdentityInput } from './types.js';
import type { UserDb } from './userdb.js';

function podSuffix(k: KubernetesIdentityInput): string {
  if (k.pod === undefined && k.container === undefined) return '';
  return ` (pod: ${JSON.stringify(k.pod ?? '')}, container: ${k.container ?? ''})`;
}

function nonRoot(message: string, hint: string, details: Record<string, unknown>): BerthError {
  return new BerthError('E_RUN_AS_NON_ROOT', message, { hint, details });
}

/** The uid a passwd name has, for hints. */
function uidOfName(db: UserDb, name: string): number | undefined {
  return db.passwd?.find((u) => u.name === name)?.uid;
}

/** Whether CRI-O appends a passwd line for the uid (utils.GeneratePasswd), and why not. */
function crioInjects(inp: IdentityInput, db: UserDb, uid: number): { inject: boolean; why: string } {
  if ((db.passwd ?? []).some((u) => u.uid === uid)) return { inject: false, why: `uid ${uid} is in /etc/passwd` };
  if (db.passwd === null && !db.passwdError) return { inject: false, why: 'the image has no /etc/passwd' };
  const size = inp.passwdFile?.size ?? Buffer.byteLength(db.text?.passwd ?? (db.passwd ?? []).map((e) => e.text).join('\n'), 'utf8');
  if (size === 0) return { inject: false, why: 'the image\'s /etc/passwd is empty' };
  const meta = inp.passwdFile ?? { mode: 0o644, uid: 0, size };
  if ((meta.mode & 0o022) !== 0) return { inject: false, why: `/etc/passwd is group- or world-writable (mode ${(meta.mode & 0o7777).toString(8).padStart(4, '0')}), so CRI-O leaves it to the image` };
  if (meta.uid === uid && (meta.mode & 0o200) !== 0) return { inject: false, why: `/etc/passwd is owned and writable by uid ${uid}, so CRI-O leaves it to the image` };
  return { inject: true, why: inp.passwdFile ? '' : ' (assuming /etc/passwd is a root-owned 0644 file)' };
}

/** Kubernetes through the kubelet and a CRI runtime. */
export function resolveKubernetes(inp: IdentityInput, db: UserDb): Draft {
  const k = inp.kubernetes ?? {};
  const runtime = k.runtime ?? 'cri-o';
  const viaKubelet = k.viaKubelet ?? true;
  const policy = k.supplementalGroupsPolicy ?? 'Merge';
  const d = newDraft('');
  const b = d.because;
  const img = criImageUser(inp.imageUser);
  let runAsUser = k.runAsUser;
  let runAsUsername = '';

  if (viaKubelet) {
    let imgUid = img.uid;
    const imgName = img.username;
    if (inp.imageUser.includes(':')) {
      d.notes.push({
        code: 'IMAGE_GROUP_DISCARDED',
        message: `the image USER "${inp.imageUser}" names a group, which Kubernetes never applies: the runtime reports only "${inp.imageUser.split(':')[0]}" to the kubelet (kubernetes#61967)`,
        details: { imageUser: inp.imageUser },
      });
    }
    if (imgUid === undefined && imgName === undefined) {
      imgUid = 0;
      if (k.runAsUser === undefined) b.push('the image has no USER: the kubelet treats it as uid 0');
    }
    if (k.runAsNonRoot === true) {
      const sfx = podSuffix(k);
      if (k.runAsUser !== undefined) {
        if (k.runAsUser === 0) {
          throw nonRoot(`container's runAsUser breaks non-root policy${sfx}`, 'set runAsUser to a non-zero uid, or drop runAsNonRoot', { runAsUser: 0 });
        }
      } else if (imgUid === undefined) {
        const known = uidOfName(db, imgName!);
        throw nonRoot(`container has runAsNonRoot and image has non-numeric user (${imgName}), cannot verify user is non-root${sfx}`,
          known !== undefined
            ? `set securityContext.runAsUser: ${known} (the uid of ${imgName} in the image's /etc/passwd), or make the image USER numeric (USER ${known})`
            : `set securityContext.runAsUser to a numeric non-zero uid, or make the image USER numeric`,
          { imageUser: inp.imageUser });
      } else if (imgUid === 0) {
        throw nonRoot(`container has runAsNonRoot and image will run as root${sfx}`, 'set securityContext.runAsUser to a non-zero uid, or give the image a non-root USER', { imageUser: inp.imageUser });
      } else if (!inIdRange(imgUid)) {
        throw nonRoot(`container has runAsNonRoot and image has an invalid user id (${imgUid}). (Must be 1-(${MAX_ID})): must be between 0 and ${MAX_ID}, inclusive${sfx}`,
          'give the image a USER between 1 and 2147483647', { imageUser: inp.imageUser });
      }
      b.push('runAsNonRoot: the kubelet verified the user is not root');
    }
    if (runAsUser === undefined) {
      if (imgUid !== undefined) {
        runAsUser = imgUid;
        if (inp.imageUser !== '') b.push(`no runAsUser: the kubelet takes uid ${imgUid} from the image USER "${inp.imageUser}"`);
      } else {
        runAsUsername = imgName!;
        b.push(`no runAsUser: the kubelet passes the image USER's name "${imgName}" as runAsUsername`);
      }
    } else {
      b.push(`runAsUser ${runAsUser} from the pod${inp.imageUser !== '' ? ` (the image USER "${inp.imageUser}" is not used)` : ''}`);
    }
  } else {
    b.push('the CRI request is given directly (no kubelet): the image user reaches the runtime unchanged');
  }

  const sg: number[] = [];
  if (k.fsGroup !== undefined) sg.push(k.fsGroup);
  sg.push(...(k.supplementalGroups ?? []), ...(k.extraGroups ?? []));
  if (sg.length > 0) b.push(`CRI SupplementalGroups = [${sg.join(', ')}] ([fsGroup] + supplementalGroups + volume gids, kubelet determineEffectiveSecurityContext)`);
  if (policy === 'Strict') {
    b.push('supplementalGroupsPolicy Strict: /etc/group memberships are not added (KEP-3619: beta in 1.33, GA in 1.35; containerd >= 2.0, CRI-O >= 1.31)');
  }

  if (runtime === 'cri-o') {
    if (k.runAsGroup !== undefined && runAsUser === undefined && runAsUsername === '') {
      throw new BerthError('E_GROUP_WITHOUT_USER', 'user group is specified without user or username', {
        hint: 'set runAsUser together with runAsGroup', details: { runAsGroup: k.runAsGroup },
      });
    }
    const spec = runAsUsername !== '' ? runAsUsername : runAsUser !== undefined ? String(runAsUser) : inp.imageUser;
    d.spec = spec;
    b.push(`CRI-O resolves the user string ${JSON.stringify(spec)} with moby/sys GetExecUser`);
    let ex: ExecUser;
    try {
      ex = getExecUser(spec, null, db);
    } catch (e) {
      if (e instanceof BerthError) throw new BerthError(e.code, `get exec user: ${e.message}`, { hint: e.hint, details: e.details, cause: e });
      throw e;
    }
    describeExecUser(d, ex, db, spec);
    const ids = execIds(d, ex);
    d.uid = ids.uid;
    const execGid = ids.gid;
    if (ex.userEntry) d.userName = ex.userEntry.name;
    if (k.runAsGroup !== undefined) {
      d.gid = k.runAsGroup;
      b.push(`runAsGroup ${k.runAsGroup} sets the gid${ex.userEntry ? ` (instead of the passwd gid ${execGid})` : ''}`);
    } else {
      d.gid = execGid;
    }
    d.raw.push(d.gid);
    if (policy === 'Merge') addUnique(d.raw, ex.sgids.map((g) => goUint32(BigInt(g))));
    addUnique(d.raw, sg);
    b.push(`CRI-O: groups = [gid]${policy === 'Merge' ? ' + image memberships' : ''} + SupplementalGroups, de-duplicated in order`);
    const inj = crioInjects(inp, db, d.uid);
    const fromEnv = (inp.env ?? []).map((kv) => (kv.startsWith('HOME=') ? kv.slice(5) : undefined)).find((v) => v !== undefined);
    if (inj.inject) {
      const home = fromEnv || inp.workingDir || '/';
      const name = spec === '' ? 'default' : spec;
      const line = `${name}:x:${d.uid}:${execGid}:${name} user:${home}:/sbin/nologin`;
      d.notes.push({ code: 'PASSWD_ENTRY_ADDED', message: `CRI-O bind-mounts a copy of /etc/passwd with "${line}" appended, because uid ${d.uid} has no entry${inj.why}`, details: { line } });
      b.push(`CRI-O adds "${line}" to a copy of /etc/passwd${inj.why}`);
      if (fromEnv) {
        d.home = fromEnv;
        b.push(`HOME ${fromEnv} from the environment`);
      } else {
        d.home = home;
        b.push(`HOME ${home}: the home CRI-O wrote into the added passwd line (the working directory)`);
      }
    } else {
      if (!(db.passwd ?? []).some((u) => u.uid === d.uid)) b.push(`CRI-O does not add a passwd line: ${inj.why}`);
      setRuncHome(d, db, inp.env);
    }
    if (!(db.group ?? []).some((g) => g.gid === d.gid) && db.group !== null) {
      d.notes.push({ code: 'GROUP_ENTRY_ADDED', message: `CRI-O may append "${d.gid}:x:${d.gid}:" to a copy of /etc/group (unless it is writable by the process)`, details: { gid: d.gid } });
    }
  } else {
    let userstr = '';
    if (runAsUsername !== '') userstr = runAsUsername;
    else if (runAsUser !== undefined) userstr = String(runAsUser);
    if (k.runAsGroup !== undefined) {
      if (userstr === '') {
        throw new BerthError('E_GROUP_WITHOUT_USER', `user group "${k.runAsGroup}" is specified without user`, {
          hint: 'set runAsUser together with runAsGroup', details: { runAsGroup: k.runAsGroup },
        });
      }
      userstr = `${userstr}:${k.runAsGroup}`;
    }
    if (userstr === '') userstr = inp.imageUser;
    d.spec = userstr;
    let prev: number[] = [];
    if (userstr !== '') {
      const cu = containerdWithUser(userstr, db);
      b.push(`containerd resolves ${JSON.stringify(userstr)} with its own WithUser`, ...cu.because);
      d.uid = cu.uid;
      d.gid = cu.gid;
      if (cu.userEntry) d.userName = cu.userEntry.name;
      if (cu.groupEntry) d.groupName = cu.groupEntry.name;
      prev = [cu.gid];
    } else {
      b.push('containerd: no user at all, so the spec default 0:0 stays');
    }
    let merged = prev;
    if (policy === 'Merge') {
      let who = '0';
      if (runAsUsername !== '') who = runAsUsername;
      else if (runAsUser !== undefined) who = String(runAsUser);
      else if (inp.imageUser !== '') who = inp.imageUser.split(':')[0];
      const a = containerdAdditionalGids(who, db);
      b.push(...a.because);
      if (d.userName === undefined && a.username !== undefined) d.userName = a.username;
      const list = a.gids.includes(d.gid) ? a.gids : [d.gid, ...a.gids];
      merged = sortUnique([...list, ...prev]);
    }
    merged = sortUnique([...merged, ...sg]);
    d.raw = merged;
    b.push(`containerd: groups = sorted unique {gid}${policy === 'Merge' ? ' ∪ image memberships' : ''} ∪ SupplementalGroups`);
    setRuncHome(d, db, inp.env);
  }
  return d;
}

function rangeText(r: { start: number; size: number }): string {
  return `[${r.start}, ${r.start + r.size - 1}]`;
}

function inRange(v: number, r: { start: number; size: number }): boolean {
  return v >= r.start && v <= r.start + r.size - 1;
}

/** OpenShift restricted-v2 admission, then Kubernetes on CRI-O. */
export function resolveOpenShift(inp: IdentityInput, db: UserDb): Draft {
  const o = inp.openshift ?? {};
  const range = o.uidRange ?? DEFAULT_OPENSHIFT_UID_RANGE;
  const pre: string[] = [];
  pre.push(o.uidRange
    ? `namespace uid range ${range.start}/${range.size} (openshift.io/sa.scc.uid-range)`
    : `namespace uid range ${range.start}/${range.size} assumed (the namespace's openshift.io/sa.scc.uid-range was not given)`);
  const k: KubernetesIdentityInput = { ...(inp.kubernetes ?? {}), runtime: 'cri-o' };
  const asked = o.runAsUser ?? k.runAsUser;
  const notes: { code: string; message: string; details?: Record<string, unknown> }[] = [];
  if (asked !== undefined) {
    if (!inRange(asked, range)) {
      throw new BerthError('E_OUT_OF_RANGE',
        `unable to validate against any security context constraint: [provider "restricted-v2": securityContext.runAsUser: Invalid value: ${asked}: must be in the ranges: ${rangeText(range)}]`, {
          hint: `remove runAsUser (restricted-v2 then assigns ${range.start}) or choose a uid in ${rangeText(range)}`,
          details: { runAsUser: asked, range },
        });
    }
    pre.push(`restricted-v2 (runAsUser MustRunAsRange) accepts runAsUser ${asked}: it is inside the namespace range`);
    k.runAsUser = asked;
  } else {
    k.runAsUser = range.start;
    pre.push(`restricted-v2 (runAsUser MustRunAsRange) sets runAsUser ${range.start}, the first uid of the namespace range`);
    if (inp.imageUser !== '') {
      notes.push({ code: 'IMAGE_USER_OVERRIDDEN', message: `OpenShift runs the container as uid ${range.start} from the namespace range; the image USER "${inp.imageUser}" is not used`, details: { imageUser: inp.imageUser, uid: range.start } });
    }
  }
  const fsRanges = o.supplementalGroupRanges && o.supplementalGroupRanges.length > 0 ? o.supplementalGroupRanges : [range];
  if (k.fsGroup !== undefined) {
    if (!fsRanges.some((r) => inRange(k.fsGroup!, r))) {
      throw new BerthError('E_OUT_OF_RANGE',
        `unable to validate against any security context constraint: [provider "restricted-v2": securityContext.fsGroup: Invalid value: []int64{${k.fsGroup}}: ${k.fsGroup} is not an allowed group]`, {
          hint: `remove fsGroup (restricted-v2 then assigns ${fsRanges[0].start}) or choose one in ${fsRanges.map(rangeText).join(', ')}`,
          details: { fsGroup: k.fsGroup },
        });
    }
    pre.push(`restricted-v2 (fsGroup MustRunAs) accepts fsGroup ${k.fsGroup}`);
  } else {
    k.fsGroup = fsRanges[0].start;
    pre.push(`restricted-v2 (fsGroup MustRunAs) sets fsGroup ${k.fsGroup}, the first id of the ${o.supplementalGroupRanges ? 'supplemental-groups' : 'uid'} range`);
  }
  const d = resolveKubernetes({ ...inp, kubernetes: k }, db);
  d.because.unshift(...pre);
  d.notes.unshift(...notes);
  if (!(db.passwd ?? []).some((u) => u.uid === d.uid) && d.gid === 0) {
    d.because.push(`uid ${d.uid} has no /etc/passwd entry, so its gid is 0 (root group): OpenShift images make writable paths group 0 and g=u (chgrp -R 0 DIR && chmod -R g=u DIR)`);
  }
  return d;
}
