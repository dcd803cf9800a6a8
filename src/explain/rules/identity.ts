/**
 * explain/rules/identity: findings about who the process is: a user or group that cannot be
 * resolved, Kubernetes runAsNonRoot refusals, running as root, groups that differ from what the
 * image's /etc/group grants, and OpenShift restricted-v2 admission.
 */
import { isBerthError, type Finding } from '../../errors/index.js';
import { parseCapName } from '../../caps/set.js';
import { resolveIdentity } from '../../identity/resolve.js';
import { mapText, type Facts } from '../facts.js';
import { namespaceSize } from '../../idmap/rootless.js';
import { finding, plural, userSpecSource, type Rule } from './common.js';

function dbSummary(f: Facts, which: 'passwd' | 'group'): string {
  const entries = f.db[which];
  const err = which === 'passwd' ? f.db.passwdError : f.db.groupError;
  if (err) return `/etc/${which} cannot be parsed: ${err.message}`;
  if (entries === null) return `the image has no /etc/${which}`;
  return `/etc/${which} has ${plural(entries.length, 'entry', 'entries')}`;
}

function errorBecause(f: Facts): string[] {
  const e = f.identityError!;
  const { spec, from } = userSpecSource(f);
  return [
    spec === '' ? `the user comes from ${from}` : `the user spec is "${spec}" (${from})`,
    ...(f.run.groupAdd && f.run.groupAdd.length > 0 && !f.engine.kubernetes ? [`--group-add ${f.run.groupAdd.join(', ')}`] : []),
    dbSummary(f, 'passwd'),
    dbSummary(f, 'group'),
    `${f.engine.title} resolves it as: ${e.message}`,
  ];
}

export const userNotFound: Rule = {
  code: 'USER_NOT_FOUND',
  check(f) {
    const e = f.identityError;
    if (!e || e.code !== 'E_USER_NOT_FOUND') return [];
    const name = typeof e.details?.user === 'string' ? e.details.user : userSpecSource(f).spec;
    return [
      finding(
        'USER_NOT_FOUND',
        'error',
        name,
        `the container does not start: ${e.message}`,
        [...errorBecause(f), 'a user NAME must have a line in the image\'s /etc/passwd; a number needs none (moby/sys GetExecUser rule 7)'],
        e.hint ?? `add the user to the image (RUN useradd ${name}), or run with a numeric uid, which needs no /etc/passwd entry`,
      ),
    ];
  },
};

export const groupNotFound: Rule = {
  code: 'GROUP_NOT_FOUND',
  check(f) {
    const e = f.identityError;
    if (!e || e.code !== 'E_GROUP_NOT_FOUND') return [];
    const name = typeof e.details?.group === 'string' ? e.details.group : userSpecSource(f).spec;
    return [
      finding(
        'GROUP_NOT_FOUND',
        'error',
        name,
        `the container does not start: ${e.message}`,
        [...errorBecause(f), 'a group NAME must have a line in the image\'s /etc/group; a number needs none (moby/sys GetExecUser rule 10)'],
        e.hint ?? `add the group to the image (RUN groupadd ${name}), or use its numeric gid`,
      ),
    ];
  },
};

/** Resolution failures other than a missing name: out-of-range ids, bad files, policy refusals. */
export const userInvalid: Rule = {
  code: 'USER_INVALID',
  check(f) {
    const e = f.identityError;
    if (!e || ['E_USER_NOT_FOUND', 'E_GROUP_NOT_FOUND', 'E_RUN_AS_NON_ROOT'].includes(e.code)) return [];
    return [
      finding(
        'USER_INVALID',
        'error',
        userSpecSource(f).spec || '(default user)',
        `the container does not start: ${e.message}`,
        [...errorBecause(f), `error code ${e.code}`],
        e.hint ?? 'fix the user specification',
      ),
    ];
  },
};

function isNonNumericRefusal(f: Facts): boolean {
  const e = f.identityError;
  return e?.code === 'E_RUN_AS_NON_ROOT' && /non-numeric user/.test(e.message);
}

export const nonNumericUserRunAsNonRoot: Rule = {
  code: 'NON_NUMERIC_USER_RUN_AS_NON_ROOT',
  check(f) {
    if (!isNonNumericRefusal(f)) return [];
    const e = f.identityError!;
    const spec = f.image.user;
    const name = spec.split(':')[0];
    const entry = f.db.passwd?.find((p) => p.name === name);
    return [
      finding(
        'NON_NUMERIC_USER_RUN_AS_NON_ROOT',
        'error',
        spec,
        `the kubelet refuses to start the container: ${e.message}`,
        [
          `runAsNonRoot: true is set (${f.pod?.source ?? 'pod'}) and runAsUser is not`,
          `the image USER is "${spec}", a name: the kubelet checks runAsNonRoot before the runtime reads /etc/passwd, so it cannot tell which uid the name has (kubelet verifyRunAsNonRoot)`,
          entry ? `the image's /etc/passwd:${entry.line} ${entry.text} gives ${name} uid ${entry.uid}` : `the image's /etc/passwd has no entry named ${name}`,
        ],
        e.hint ?? 'set securityContext.runAsUser to the numeric uid, or make the image USER numeric',
      ),
    ];
  },
};

export const runAsNonRootViolated: Rule = {
  code: 'RUN_AS_NON_ROOT_VIOLATED',
  check(f) {
    const e = f.identityError;
    if (e?.code !== 'E_RUN_AS_NON_ROOT' || isNonNumericRefusal(f)) return [];
    const { spec, from } = userSpecSource(f);
    return [
      finding(
        'RUN_AS_NON_ROOT_VIOLATED',
        'error',
        spec || '(root)',
        `the kubelet refuses to start the container: ${e.message}`,
        [`runAsNonRoot: true is set (${f.pod?.source ?? 'pod'})`, spec === '' ? `the user comes from ${from}, which is uid 0` : `the user is "${spec}" (${from})`],
        e.hint ?? 'set runAsUser to a non-zero uid, or give the image a non-root USER',
      ),
    ];
  },
};

export const runsAsRoot: Rule = {
  code: 'RUNS_AS_ROOT',
  check(f) {
    if (!f.user || f.user.uid !== 0) return [];
    const { spec, from } = userSpecSource(f);
    const userns = f.userns.modelled;
    const because = [
      spec === '' ? `the user comes from ${from}` : `the user "${spec}" (${from}) resolves to uid 0`,
      ...(f.identity ? f.identity.because.slice(0, 2) : []),
      userns
        ? f.userns.rootless
          ? `the container runs in a rootless user namespace: container root is host uid ${f.userns.hostUid}, with capabilities only over the namespace's own resources`
          : 'the container has its own user namespace: container root is an unprivileged host uid'
        : 'there is no user namespace: container root is host root, held back only by the capability bounding set, seccomp and the LSM',
      `its capabilities before exec: ${f.caps.because.join('; ')}`,
    ];
    const severity = f.profile === 'kaniko' || userns ? 'info' : 'warning';
    return [
      finding(
        'RUNS_AS_ROOT',
        severity,
        'uid 0',
        f.profile === 'kaniko' ? 'the RUN step runs as root (uid 0)' : 'the process runs as root (uid 0) in the container',
        because,
        f.engine.kubernetes
          ? 'set securityContext.runAsUser (and runAsNonRoot: true), or give the image a numeric non-root USER'
          : 'give the image a non-root USER (e.g. USER 10000), or run with --user 10000',
      ),
    ];
  },
};

/**
 * kaniko against BuildKit for the same RUN step: kaniko drops the group part of USER and reads
 * /etc/group with its own parser (identity.md rules 41-42), so the two builders can disagree.
 */
function kanikoDiffers(f: Facts): Finding[] {
  const id = f.identity!;
  let buildkit;
  try {
    buildkit = resolveIdentity({ ...f.identityInput, profile: 'docker', context: 'build' }, f.db);
  } catch (e) {
    if (!isBerthError(e)) throw e;
    return [];
  }
  const same = buildkit.gid === id.gid && buildkit.additionalGids.join() === id.additionalGids.join();
  if (same) return [];
  const spec = f.run.user ?? f.image.user;
  return [
    finding(
      'SUPPLEMENTARY_GROUPS_DIFFER',
      'warning',
      spec || 'root',
      `the kaniko RUN step runs with gid ${id.gid} and groups [${id.additionalGids.join(', ')}], where BuildKit runs the same step with gid ${buildkit.gid} and groups [${buildkit.additionalGids.join(', ')}]`,
      [
        `USER is "${spec}"`,
        ...id.notes.map((n) => n.message),
        ...id.because,
        `BuildKit: ${buildkit.because.join('; ')}`,
      ],
      spec.includes(':')
        ? 'do not rely on the group part of USER in kaniko RUN steps: set the group with chgrp/chmod in the step, or make it the user\'s passwd group'
        : 'make the groups the step needs explicit in /etc/passwd and /etc/group, or build with BuildKit',
    ),
  ];
}

export const supplementaryGroupsDiffer: Rule = {
  code: 'SUPPLEMENTARY_GROUPS_DIFFER',
  check(f) {
    const id = f.identity;
    if (!id || !f.user) return [];
    if (f.profile === 'kaniko') return kanikoDiffers(f);
    const actual = new Set(id.additionalGids);
    const image = new Set(id.imageGroupsGids);
    const explicit = new Set<number>([
      ...(f.pod?.supplementalGroups ?? []),
      ...(f.pod?.fsGroup !== undefined ? [f.pod.fsGroup] : []),
      ...(f.run.groupAdd ?? []).filter((g) => /^\d+$/.test(g)).map(Number),
    ]);
    // Only groups the image's files grant count: the user needs a passwd entry for that (without
    // one, Docker's rules give the default gid 0, which no line of the image grants). The primary
    // gid is never lost: the kernel checks it before the supplementary list (in_group_p).
    const uid = f.user.uid;
    if (!(f.db.passwd ?? []).some((p) => p.uid === uid)) return [];
    const missing = [...image].filter((g) => !actual.has(g) && g !== f.user!.gid).sort((a, b) => a - b);
    if (missing.length === 0) return [];
    const extra = [...actual].filter((g) => !image.has(g) && !explicit.has(g) && g !== f.user!.gid).sort((a, b) => a - b);
    const name = f.user.name ?? id.userName;
    const lines = (f.db.group ?? [])
      .filter((g) => missing.includes(g.gid) && (name !== undefined ? g.members.includes(name) : true))
      .map((g) => `/etc/group:${g.line} ${g.text} makes ${name ?? `uid ${f.user!.uid}`} a member of ${g.gid}`);
    const strict = f.pod?.supplementalGroupsPolicy === 'Strict';
    const explicitGroup = !f.engine.kubernetes && (f.run.user ?? f.image.user).includes(':');
    const because = [
      `under Docker's rules the image grants ${name ?? `uid ${f.user.uid}`} the groups [${id.imageGroupsGids.join(', ')}] (passwd gid + /etc/group memberships)`,
      ...lines,
      `${f.engine.title} gives [${id.additionalGids.join(', ')}]`,
      ...id.because,
      ...(extra.length > 0 ? [`it also adds [${extra.join(', ')}], which the image does not grant`] : []),
    ];
    let fix: string;
    if (strict) fix = `add the gids to the pod's supplementalGroups (${missing.join(', ')}), or use supplementalGroupsPolicy: Merge`;
    else if (f.engine.kubernetes) fix = `add the gids to the pod's supplementalGroups: [${missing.join(', ')}]`;
    else if (explicitGroup) fix = `drop the ":group" part of the user so /etc/group memberships apply, or add --group-add ${missing.join(' --group-add ')}`;
    else fix = `add the groups explicitly (--group-add ${missing.join(' --group-add ')}), or do not rely on /etc/group memberships for access`;
    return [
      finding(
        'SUPPLEMENTARY_GROUPS_DIFFER',
        'warning',
        name ?? `uid ${f.user.uid}`,
        `the process does not get ${missing.length === 1 ? 'group' : 'groups'} ${missing.join(', ')} that the image's /etc/group grants: files readable or writable only through ${missing.length === 1 ? 'it' : 'them'} are denied (EACCES)`,
        because,
        fix,
      ),
    ];
  },
};

/** The only capability restricted-v2 lets a pod add (allowedCapabilities). */
const RESTRICTED_V2_ALLOWED = 'CAP_NET_BIND_SERVICE';

export const restrictedV2Violation: Rule = {
  code: 'RESTRICTED_V2_VIOLATION',
  check(f) {
    if (!f.engine.restrictedV2 || !f.pod) return [];
    const out: Finding[] = [];
    const src = f.pod.source ?? 'the pod';
    const admission = 'OpenShift admission: "unable to validate against any security context constraint"';
    for (const c of f.pod.capabilities?.add ?? []) {
      const name = parseCapName(c);
      if (name === RESTRICTED_V2_ALLOWED) continue;
      out.push(
        finding(
          'RESTRICTED_V2_VIOLATION',
          'error',
          `capabilities.add ${c}`,
          `the pod is rejected: restricted-v2 does not allow adding ${name === 'ALL' ? 'ALL capabilities' : name}`,
          [`${src} adds ${c}`, 'restricted-v2 has requiredDropCapabilities [ALL] and allowedCapabilities [NET_BIND_SERVICE] only', `${admission}: capabilities.add: Invalid value: "${c}": capability may not be added`],
          'remove the capability (for ping: rely on ICMP datagram sockets, which OpenShift allows through net.ipv4.ping_group_range), or bind the workload to a custom SCC that allows it',
        ),
      );
    }
    if (f.pod.allowPrivilegeEscalation === true) {
      out.push(
        finding(
          'RESTRICTED_V2_VIOLATION',
          'error',
          'allowPrivilegeEscalation',
          'the pod is rejected: restricted-v2 requires allowPrivilegeEscalation: false',
          [`${src} sets allowPrivilegeEscalation: true`, `${admission}: allowPrivilegeEscalation: Invalid value: true: Allowing privilege escalation for containers is not allowed`],
          'set allowPrivilegeEscalation: false (or leave it out: restricted-v2 defaults it to false)',
        ),
      );
    }
    if (f.pod.privileged === true) {
      out.push(
        finding(
          'RESTRICTED_V2_VIOLATION',
          'error',
          'privileged',
          'the pod is rejected: restricted-v2 does not allow privileged containers',
          [`${src} sets privileged: true`, `${admission}: privileged: Invalid value: true: Privileged containers are not allowed`],
          'remove privileged: true',
        ),
      );
    }
    return out;
  },
};

/**
 * The process's uid, gid or a supplementary gid outside the container's user namespace: the
 * runtime cannot set it (setresuid/setgroups fail with EINVAL, user_namespaces(7)), and berth's
 * spec check refuses the run first (E_SPEC_UNMAPPED_ID).
 */
export const processIdNotMapped: Rule = {
  code: 'PROCESS_ID_NOT_MAPPED',
  check(f) {
    const ids = f.unmappedIds;
    if (ids.length === 0) return [];
    const ns = f.userns;
    const { spec, from } = userSpecSource(f);
    const because: string[] = [spec === '' ? `the user comes from ${from}` : `the user spec is "${spec}" (${from})`];
    if (ns.container.userns) {
      because.push(`--userns ${ns.container.mode} maps container uids ${mapText(ns.container.uidMap)} and gids ${mapText(ns.container.gidMap)}`);
    } else if (ns.rootless) {
      because.push(
        `rootless: the user namespace maps uids ${mapText(ns.uidNamespace)} and gids ${mapText(ns.gidNamespace)} (the user's own ID plus the subordinate IDs), so container uids 0..${namespaceSize(ns.uidNamespace) - 1} and gids 0..${namespaceSize(ns.gidNamespace) - 1} exist`,
      );
    }
    for (const a of ns.assumed) because.push(`assumed: ${a}`);
    for (const x of ids) because.push(`the process ${x.role} ${x.id} is not mapped in that namespace`);
    because.push('the runtime cannot set an ID its user namespace does not map (setresuid and setgroups fail with EINVAL; user_namespaces(7))');
    const subject = ids.map((x) => `${x.kind} ${x.id}`).join(', ');
    const kinds = [...new Set(ids.map((x) => x.kind))];
    const fix = ns.container.userns
      ? `use ${kinds.map((k) => `a ${k}`).join(' and ')} inside the container's map, or widen the map (--userns, --uidmap, --gidmap)`
      : `use ${kinds.map((k) => `a ${k} below ${namespaceSize(k === 'uid' ? ns.uidNamespace : ns.gidNamespace)}`).join(' and ')} (the namespace size), or delegate more subordinate IDs in /etc/subuid and /etc/subgid (e.g. sudo usermod --add-subuids START-END --add-subgids START-END USER)`;
    return [finding('PROCESS_ID_NOT_MAPPED', 'error', subject, `the container does not start: its ${subject} ${ids.length === 1 ? 'is' : 'are'} not mapped in the user namespace`, because, fix)];
  },
};

export const IDENTITY_RULES: readonly Rule[] = [
  userNotFound,
  groupNotFound,
  userInvalid,
  processIdNotMapped,
  nonNumericUserRunAsNonRoot,
  runAsNonRootViolated,
  runsAsRoot,
  supplementaryGroupsDiffer,
  restrictedV2Violation,
];

