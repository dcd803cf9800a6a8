/**
 * The checks made before a rootless namespace is created (userns.md section 3 Step 1), and the
 * translation of what unshare, newuidmap and newgidmap print when it fails anyway (Step 4).
 * Pure: everything comes from HostFacts and the captured output, so every message is testable.
 * Each failure names its cause and the knob that fixes it; nothing falls back to a one-ID map.
 */
import { BerthError } from '../../errors/index.js';
import type { HostFacts } from '../../host/index.js';
import { buildRootlessMap, type IdMap } from '../../idmap/index.js';

function who(facts: HostFacts): string {
  return facts.userName ?? `uid ${facts.uid}`;
}

function op(facts: HostFacts): string {
  return `create user namespace for ${who(facts)}`;
}

/** user.max_user_namespaces / unprivileged_userns_clone / AppArmor: can a user namespace be made at all? */
function checkUsernsAllowed(facts: HostFacts): void {
  const u = facts.userns;
  if (u.maxUserNamespaces === 0) {
    throw new BerthError('E_USERNS_DISABLED', `${op(facts)}: unprivileged user namespaces are disabled (user.max_user_namespaces=0)`, {
      hint: 'enable them: `sudo sysctl -w user.max_user_namespaces=28633` and persist it in /etc/sysctl.d/',
      details: { sysctl: 'user.max_user_namespaces', value: 0 },
    });
  }
  if (u.unprivilegedUsernsClone === 0) {
    throw new BerthError('E_USERNS_DISABLED', `${op(facts)}: unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0)`, {
      hint: 'enable them: `sudo sysctl -w kernel.unprivileged_userns_clone=1` and persist it in /etc/sysctl.d/',
      details: { sysctl: 'kernel.unprivileged_userns_clone', value: 0 },
    });
  }
  if (u.apparmorRestrictUnprivilegedUserns === 1) {
    const creator = facts.tools.unshare?.path ?? '/usr/bin/unshare';
    throw new BerthError(
      'E_USERNS_APPARMOR',
      `${op(facts)}: Ubuntu AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)`,
      {
        hint: `install an AppArmor profile with \`userns,\` for ${creator}, or set the sysctl to 0`,
        details: { sysctl: 'kernel.apparmor_restrict_unprivileged_userns', value: 1, creator },
      },
    );
  }
}

function toolMissing(facts: HostFacts, what: string, install: string): BerthError {
  return new BerthError('E_USERNS_TOOL_MISSING', `${op(facts)}: ${what} not found in PATH`, {
    hint: install,
    details: { tool: what },
  });
}

/** A setuid program gains nothing under no_new_privs, and needs setuid root or the file capability. */
function checkMapTools(facts: HostFacts): void {
  if (!facts.tools.newuidmap) throw toolMissing(facts, 'newuidmap', 'install uidmap (Debian, Ubuntu) or shadow-utils (Fedora, Arch)');
  if (!facts.tools.newgidmap) throw toolMissing(facts, 'newgidmap', 'install uidmap (Debian, Ubuntu) or shadow-utils (Fedora, Arch)');
  if (facts.noNewPrivs) {
    throw new BerthError(
      'E_USERNS_NO_NEW_PRIVS',
      `${op(facts)}: berth runs with no_new_privs (systemd NoNewPrivileges=, docker no-new-privileges), so the setuid newuidmap cannot work`,
      {
        hint: 'start berth without no_new_privs: drop NoNewPrivileges= from the unit, `--security-opt no-new-privileges` from the outer container, or `setpriv --no-new-privs` from the command line',
        details: { noNewPrivs: true },
      },
    );
  }
  for (const [name, cap] of [
    ['newuidmap', 'cap_setuid'],
    ['newgidmap', 'cap_setgid'],
  ] as const) {
    const t = facts.tools[name]!;
    if (t.setuidRoot || (t.fileCaps ?? []).includes(cap)) continue;
    const unknown = t.fileCaps === undefined ? ' (its file capabilities could not be read)' : '';
    throw new BerthError('E_USERNS_TOOL_NOT_PRIVILEGED', `${op(facts)}: ${t.path} is neither setuid root nor has ${cap}+ep${unknown}`, {
      hint: `reinstall it from your distribution, or \`sudo chmod u+s ${t.path}\` (or \`sudo setcap ${cap}+ep ${t.path}\`); if a copy earlier in PATH shadows the real one, remove it from PATH`,
      details: { tool: name, path: t.path, setuidRoot: t.setuidRoot, fileCaps: t.fileCaps },
    });
  }
}

/**
 * Everything but the subordinate IDs: a passwd entry (newuidmap looks the caller up), namespaces
 * enabled, util-linux unshare, and working newuidmap/newgidmap. Used for explicit maps.
 */
export function preflightRootlessTools(facts: HostFacts): void {
  if (facts.userName === undefined) {
    throw new BerthError(
      'E_USERNS_NO_PASSWD_ENTRY',
      `${op(facts)}: uid ${facts.uid} has no passwd entry; newuidmap needs one`,
      { hint: 'add the user to /etc/passwd or to NSS (LDAP, SSSD)', details: { uid: facts.uid } },
    );
  }
  checkUsernsAllowed(facts);
  if (!facts.tools.unshare) throw toolMissing(facts, 'util-linux `unshare`', 'install util-linux');
  checkMapTools(facts);
}

/** The intermediate maps for this user: `0 uid 1` then the subordinate ranges (Step 2). */
export function rootlessMaps(facts: HostFacts): { uidMap: IdMap; gidMap: IdMap } {
  const user = facts.userName;
  const source = (kind: 'uid' | 'gid') => (facts.subidSource === 'getsubids' ? `getsubids${kind === 'gid' ? ' -g' : ''}` : `/etc/sub${kind}`);
  return {
    uidMap: buildRootlessMap(facts.uid, facts.subuids, { kind: 'uid', ...(user ? { user } : {}), source: source('uid') }),
    gidMap: buildRootlessMap(facts.gid, facts.subgids, { kind: 'gid', ...(user ? { user } : {}), source: source('gid') }),
  };
}

/**
 * Step 1: every check that can fail before anything is spawned, each with its own code
 * (E_USERNS_NO_PASSWD_ENTRY, E_USERNS_DISABLED, E_USERNS_APPARMOR, E_USERNS_TOOL_MISSING,
 * E_USERNS_NO_NEW_PRIVS, E_USERNS_TOOL_NOT_PRIVILEGED, E_NO_SUBIDS, E_SUBID_OVERLAP,
 * E_SUBID_CONTAINS_OWN_ID, E_SUBID_INVALID, E_IDMAP_TOO_LARGE). Only meaningful when rootless.
 */
export function preflightRootless(facts: HostFacts): void {
  preflightRootlessTools(facts);
  rootlessMaps(facts);
}

export interface MapToolFailure {
  tool: 'newuidmap' | 'newgidmap';
  /** Exit status, or null when it was killed or did not start. */
  code: number | null;
  stderr: string;
  pid: number;
  /** What the holder printed, when it is known. */
  holderStderr?: string;
}

/** Step 4: names the cause behind newuidmap/newgidmap's message (run with LC_ALL=C). */
export function diagnoseMapToolFailure(f: MapToolFailure, facts: HostFacts): BerthError {
  const kind = f.tool === 'newuidmap' ? 'uid' : 'gid';
  const KIND = kind.toUpperCase();
  const stderr = f.stderr.trim();
  const details = { tool: f.tool, exitCode: f.code, stderr, pid: f.pid };
  const notAllowed = /range \[(\d+)-(\d+)\) -> \[(\d+)-(\d+)\) not allowed/.exec(stderr);
  if (notAllowed) {
    const start = Number(notAllowed[3]);
    const end = Number(notAllowed[4]) - 1;
    const name = who(facts);
    return new BerthError(
      'E_USERNS_NOT_DELEGATED',
      `${op(facts)}: host ${KIND}s ${start}..${end} are not delegated to ${name} (check /etc/sub${kind} or \`getsubids${kind === 'gid' ? ' -g' : ''} ${name}\`)`,
      { hint: `delegate them with \`sudo usermod --add-sub${kind}s ${start}-${end} ${name}\`, or use a map inside your ranges`, details: { ...details, start, end } },
    );
  }
  if (/write to [ug]id_map failed: Operation not permitted/.test(stderr)) {
    // Re-run the Step 1 checks: the usual causes are visible in the facts.
    try {
      checkUsernsAllowed(facts);
      checkMapTools(facts);
    } catch (e) {
      if (e instanceof BerthError) {
        return new BerthError(e.code, e.message, { ...(e.hint !== undefined ? { hint: e.hint } : {}), details: { ...details, ...e.details } });
      }
      throw e;
    }
    return new BerthError(
      'E_USERNS_MAP_DENIED',
      `${op(facts)}: the kernel refused to write ${kind}_map (Operation not permitted), and newuidmap is privileged and no_new_privs is off: the map was written already, or a security module (SELinux, AppArmor, seccomp) blocks it`,
      { hint: 'check `dmesg` or the audit log for a denial of newuidmap', details },
    );
  }
  if (/write to [ug]id_map failed: Invalid argument/.test(stderr)) {
    return new BerthError(
      'E_USERNS_MAP_REJECTED',
      `${op(facts)}: kernel rejected the map: overlapping ranges, more than 340 lines, or 4 KiB or more of text`,
      { hint: `check the ranges in /etc/sub${kind} for overlaps`, details },
    );
  }
  if (/is owned by a different user/.test(stderr)) {
    return new BerthError(
      'E_USERNS_OWNER_MISMATCH',
      `${op(facts)}: berth's real/effective uid or gid differs from the holder (sg/newgrp or setgid wrapper)`,
      { hint: 'run berth with your primary group, or enable GRANT_AUX_GROUP_SUBIDS in /etc/login.defs', details },
    );
  }
  if (/Could not open proc directory for target/.test(stderr)) {
    const said = f.holderStderr?.trim() || '(it printed nothing)';
    return new BerthError('E_USERNS_HOLDER_EXITED', `${op(facts)}: namespace holder exited early: ${said}`, {
      hint: 'see the holder message; something killed it before its map was written',
      details: { ...details, holderStderr: f.holderStderr },
    });
  }
  if (/Cannot determine your user name/.test(stderr)) {
    return new BerthError('E_USERNS_NO_PASSWD_ENTRY', `${op(facts)}: uid ${facts.uid} has no passwd entry; newuidmap needs one`, {
      hint: 'add the user to /etc/passwd or to NSS (LDAP, SSSD)',
      details,
    });
  }
  return new BerthError('E_USERNS_MAP_FAILED', `${op(facts)}: ${f.tool} exited with status ${String(f.code)}: ${stderr || '(no message)'}`, {
    hint: `run \`${f.tool}\` by hand with the same arguments to see more`,
    details,
  });
}

/** unshare exited before the namespace existed: say why from its message and the facts. */
export function diagnoseUnshareFailure(stderr: string, code: number | null, facts: HostFacts): BerthError {
  const msg = stderr.trim();
  const details = { exitCode: code, stderr: msg };
  if (/Operation not permitted|Permission denied/.test(msg)) {
    try {
      checkUsernsAllowed(facts);
    } catch (e) {
      if (e instanceof BerthError) return new BerthError(e.code, e.message, { ...(e.hint !== undefined ? { hint: e.hint } : {}), details: { ...details, ...e.details } });
      throw e;
    }
    const seccomp = facts.seccomp === 2 ? ' berth runs under a seccomp filter (as inside a container), which may block unshare(CLONE_NEWUSER).' : '';
    return new BerthError('E_USERNS_UNSHARE_DENIED', `${op(facts)}: the kernel refused to create a user namespace (${msg}).${seccomp}`, {
      hint: 'user namespaces may be blocked by a seccomp profile, an LSM, or a container runtime; run berth where they are allowed',
      details,
    });
  }
  if (/No space left on device/.test(msg)) {
    const max = facts.userns.maxUserNamespaces;
    return new BerthError(
      'E_USERNS_LIMIT',
      `${op(facts)}: the user namespace limit is reached (${msg}; user.max_user_namespaces=${max ?? 'unknown'}, or 32 levels of nesting)`,
      { hint: 'raise user.max_user_namespaces or stop processes holding namespaces', details },
    );
  }
  if (/unrecognized option|invalid option|unknown option/.test(msg)) {
    return new BerthError('E_USERNS_UNSHARE_FAILED', `${op(facts)}: ${facts.tools.unshare?.path ?? 'unshare'} does not understand util-linux options: ${msg}`, {
      hint: 'install util-linux; busybox unshare is not enough',
      details,
    });
  }
  return new BerthError('E_USERNS_UNSHARE_FAILED', `${op(facts)}: unshare exited with status ${String(code)} before creating the namespace: ${msg || '(no message)'}`, {
    hint: 'run `unshare --user true` to see whether user namespaces work here',
    details,
  });
}
