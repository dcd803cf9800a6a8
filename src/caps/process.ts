/**
 * Process capability state: what each runtime gives the container process, what execve(2) makes of it, and
 * what uid changes do to it. "root" is uid 0 of the process's own user namespace throughout.
 *
 * Sources: kernel security/commoncap.c (cap_bprm_creds_from_file, get_file_caps, bprm_caps_from_vfs_caps,
 * handle_privileged_root, cap_emulate_setxuid, cap_task_fix_setuid), fs/exec.c bprm_fill_uid,
 * capabilities(7), execve(2); layers-and-capabilities.md sections 4.1-4.3.
 */
import { BerthError } from '../errors/index.js';
import { CAP } from './table.js';
import { ALL_CAPS, CAP_MASK_64, capSetToNames, type CapSet } from './set.js';
import type { CapEngine } from './defaults.js';
import { fileCapsToText } from './text.js';
import type { FileCaps } from './filecaps.js';

/** The five capability sets of a thread. */
export interface ProcCaps {
  effective: CapSet;
  permitted: CapSet;
  inheritable: CapSet;
  ambient: CapSet;
  bounding: CapSet;
}

/** prctl(PR_SET_SECUREBITS) flags that change capability rules. The `_LOCKED` twins only freeze these. */
export interface Securebits {
  /** SECBIT_NOROOT: uid 0 gets no capabilities from exec ("root magic" off). */
  noroot?: boolean;
  /** SECBIT_NO_SETUID_FIXUP: uid changes leave the capability sets alone. */
  noSetuidFixup?: boolean;
  /** SECBIT_KEEP_CAPS (prctl PR_SET_KEEPCAPS): keep P across a switch away from uid 0; cleared by exec. */
  keepCaps?: boolean;
  /** SECBIT_NO_CAP_AMBIENT_RAISE: ambient caps can no longer be raised. */
  noCapAmbientRaise?: boolean;
}

/** Real, effective and saved IDs. */
export interface IdTriple {
  r: number;
  e: number;
  s: number;
}

const CAP_SETUID_BIT = 1n << BigInt(CAP.SETUID);

/**
 * Filesystem capabilities dropped from E when fsuid leaves 0 and raised from P when it returns (kernel
 * CAP_FS_SET: CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID, LINUX_IMMUTABLE, MAC_OVERRIDE, MKNOD).
 */
export const CAP_FS_SET: CapSet = [
  CAP.CHOWN, CAP.DAC_OVERRIDE, CAP.DAC_READ_SEARCH, CAP.FOWNER, CAP.FSETID, CAP.LINUX_IMMUTABLE, CAP.MAC_OVERRIDE, CAP.MKNOD,
].reduce((s, n) => s | (1n << BigInt(n)), 0n);

/** The bits the kernel keeps from a file's capability value (get_vfs_caps_from_disk masks with CAP_VALID_MASK). */
const VALID_MASK: CapSet = ALL_CAPS;

export interface ProcessCapsInput {
  /** The container process's uid (in its user namespace). */
  uid: number;
  /** The container's capability set after defaults and --cap-add/--cap-drop: it becomes the bounding set. */
  bounding: CapSet;
  /** Which engine builds the runtime spec. Default docker. */
  engine?: CapEngine;
  /** podman only: capabilities named in --cap-add (ALL resolved to the full set); see below. */
  capAdd?: CapSet;
}

/**
 * What the runtime gives the process just before it execs the entrypoint (the runtime spec's
 * process.capabilities, which runc applies after setuid with keep-caps). Inheritable is empty everywhere
 * since CVE-2022-24769 (moby, containerd), CVE-2022-27649 (podman), CVE-2022-27652 (CRI-O), unless podman
 * puts --cap-add caps there for a non-root user.
 * - docker: uid 0 gets E = P = bounding; any other uid only the bounding set (moby oci/oci.go
 *   SetCapabilities: "Do not set Effective and Permitted capabilities for non-root users").
 * - containerd and cri-o: E = P = bounding for every uid (containerd pkg/oci WithCapabilities, CRI
 *   WithoutAmbientCaps; cri-o setupCapabilities clears ambient). A non-root process still loses them at exec.
 * - podman: uid 0 gets E = P = bounding; a non-root user gets E = P = I = A = the --cap-add caps within the
 *   bounding set, so they survive exec as ambient caps (podman pkg/specgen/generate/security_linux.go; it
 *   decides "non-root" from the USER string, so a named user that resolves to uid 0 also takes this branch,
 *   and so does keep-id without a USER).
 */
export function processCapsFor(input: ProcessCapsInput): ProcCaps & { because: string[] } {
  const engine = input.engine ?? 'docker';
  for (const [what, v] of [['bounding', input.bounding], ['capAdd', input.capAdd ?? 0n]] as const) {
    if (typeof v !== 'bigint' || v < 0n || v > CAP_MASK_64) {
      throw new BerthError('E_CAP_SET_INVALID', `process capabilities: ${what} is not a 64-bit capability set`, {
        hint: 'build sets with caps(), defaultCaps() or applyCapFlags()',
      });
    }
  }
  const b = input.bounding;
  const root = input.uid === 0;
  const none = 0n;
  switch (engine) {
    case 'docker':
      return root
        ? { effective: b, permitted: b, inheritable: none, ambient: none, bounding: b, because: ['docker: uid 0 gets effective = permitted = bounding (moby oci.SetCapabilities)'] }
        : {
            effective: none, permitted: none, inheritable: none, ambient: none, bounding: b,
            because: [`docker: uid ${input.uid} is not root, so only the bounding set is given; effective, permitted and inheritable start empty (moby oci.SetCapabilities, CVE-2022-24769)`],
          };
    case 'containerd':
    case 'cri-o':
      return {
        effective: b, permitted: b, inheritable: none, ambient: none, bounding: b,
        because: [
          `${engine}: effective = permitted = bounding for every uid; inheritable and ambient empty` +
            (root ? '' : `, so uid ${input.uid} keeps none of them across exec unless the program has file capabilities`),
        ],
      };
    case 'podman': {
      if (root) {
        return { effective: b, permitted: b, inheritable: none, ambient: none, bounding: b, because: ['podman: uid 0 gets effective = permitted = bounding; inheritable and ambient empty'] };
      }
      const added = (input.capAdd ?? 0n) & b;
      return {
        effective: added, permitted: added, inheritable: added, ambient: added, bounding: b,
        because: [
          added === 0n
            ? `podman: uid ${input.uid} is not root and no capability was added with --cap-add, so only the bounding set is given`
            : `podman: uid ${input.uid} is not root; the --cap-add capabilities ${capSetToNames(added).join(', ')} are made effective, permitted, inheritable and ambient so they survive exec`,
        ],
      };
    }
    default:
      throw new BerthError('E_CAP_ENGINE_UNKNOWN', `process capabilities for "${String(engine)}": unknown engine`, {
        hint: 'use docker, containerd, podman or cri-o',
      });
  }
}

/** The process side of execve. */
export interface ExecProcess extends ProcCaps {
  uid: IdTriple;
  gid: IdTriple;
  /** prctl(PR_SET_NO_NEW_PRIVS) (docker/podman `--security-opt no-new-privileges`, k8s allowPrivilegeEscalation: false). */
  noNewPrivs: boolean;
  securebits?: Securebits;
}

/** The program being executed. IDs as the process's user namespace sees them. */
export interface ExecFile {
  /** For the reasons only. */
  path?: string;
  uid: number;
  gid: number;
  /** Permission bits including S_ISUID (04000) and S_ISGID (02000); file type bits are ignored. */
  mode: number;
  /** Decoded `security.capability`, or null/undefined when the file has none. */
  fileCaps?: FileCaps | null;
  /** On a nosuid mount: setuid/setgid bits and file capabilities are ignored (mnt_may_suid). */
  nosuid?: boolean;
  /**
   * For a v3 value: whether its rootid is the root of the process's user namespace or of an ancestor
   * (commoncap.c rootid_owns_currentns). Default: true only for rootid 0 (host root owns every namespace).
   */
  rootidOwnsNs?: boolean;
  /** Whether the file's uid and gid are mapped in the process's namespace (bprm_fill_uid). Default true. */
  idsMappedInNs?: boolean;
}

/** Stable identifiers of the rules that fired, in order (the words are in `reason`). */
export type ExecRule =
  | 'nosuid'
  | 'fcaps-none'
  | 'fcaps-rootid-foreign'
  | 'fcaps'
  | 'setuid'
  | 'setgid'
  | 'setid-unmapped'
  | 'setid-nnp'
  | 'setgid-no-group-exec'
  | 'capability-dumb'
  | 'setuid-root-with-fcaps'
  | 'root-magic'
  | 'root-effective'
  | 'noroot'
  | 'nnp-downgrade'
  | 'ambient-cleared'
  | 'ambient-kept'
  | 'effective-from-permitted'
  | 'effective-from-ambient';

export interface ExecResult {
  outcome: 'ok' | 'EPERM';
  /** Each rule that fired, in words, in the order the kernel applies them. */
  reason: string[];
  rules: ExecRule[];
  /** The sets after exec; on EPERM the unchanged sets (the exec did not happen). */
  caps: ProcCaps;
  uid: IdTriple;
  gid: IdTriple;
  euid: number;
  egid: number;
  securebits: Securebits;
}

/**
 * execve(2) capability and set-ID transformation (layers-and-capabilities.md section 4.1):
 *   F = file caps (ignored on nosuid, or for a v3 value whose rootid does not own the namespace)
 *   euid' = setuid bit ? file uid : euid (egid' likewise, setgid needing the group-exec bit); the bits are
 *     ignored on nosuid, for an owner unmapped in the namespace, and under no_new_privs (fs/exec.c
 *     bprm_fill_uid returns before applying them, so a setuid-root program under nnp gets no root magic
 *     and does not clear ambient caps)
 *   P'p = (bset & fP) | (pI & fI);  fE && (fP & ~P'p) -> EPERM ("capability-dumb" binaries, also for root)
 *   root magic unless SECBIT_NOROOT: setuid-root binary with fcaps run by non-root -> fcaps only;
 *     else if euid' == 0 or ruid == 0 -> P'p = bset | pI, and fE = true when euid' == 0
 *   setid = euid' != ruid || egid' != rgid
 *   (setid || P'p not within pP) && no_new_privs -> euid' = ruid, egid' = rgid, P'p &= pP
 *   P'a = (has fcaps || setid) ? {} : pA;  P'p |= P'a;  P'e = fE ? P'p : P'a;  P'i = pI;  bset unchanged
 *   securebits: KEEP_CAPS cleared; suid = euid', sgid = egid'.
 * Not modelled: ptrace, LSMs, the exec permission check itself (see perms.canExecute).
 */
export function execveTransform(proc: ExecProcess, file: ExecFile): ExecResult {
  checkProc(proc);
  const reason: string[] = [];
  const rules: ExecRule[] = [];
  const fire = (rule: ExecRule, words: string): void => {
    rules.push(rule);
    reason.push(words);
  };
  const sb = proc.securebits ?? {};
  const what = file.path ?? 'the program';
  const ruid = proc.uid.r;
  const rgid = proc.gid.r;

  // File capabilities (get_file_caps).
  let F: FileCaps | null = file.fileCaps ?? null;
  if (file.nosuid) {
    fire('nosuid', `${what} is on a nosuid mount: its setuid/setgid bits and file capabilities are ignored`);
    F = null;
  } else if (F === null) {
    fire('fcaps-none', `${what} has no file capabilities`);
  } else if (F.version === 3) {
    const owns = file.rootidOwnsNs ?? F.rootid === 0;
    if (!owns) {
      fire(
        'fcaps-rootid-foreign',
        `${what} has v3 file capabilities for rootid ${F.rootid}, which is not the root of this user namespace or an ancestor: the kernel ignores them`,
      );
      F = null;
    }
  }
  if (F !== null) {
    fire('fcaps', `${what} has file capabilities ${fileCapsToText(F, { rootid: true })}`);
  }
  const hasFcap = F !== null;
  const fP = F ? F.permitted & VALID_MASK : 0n;
  const fI = F ? F.inheritable & VALID_MASK : 0n;
  let fE = F ? F.effective : false;

  // Set-ID bits (fs/exec.c bprm_fill_uid). Under no_new_privs the kernel does not apply them at all
  // (bprm_fill_uid returns early), so root magic below never sees a setuid-root euid under nnp.
  let euid = proc.uid.e;
  let egid = proc.gid.e;
  const setuidBit = (file.mode & 0o4000) !== 0;
  const setgidBit = (file.mode & 0o2000) !== 0;
  if (!file.nosuid && (setuidBit || setgidBit)) {
    if (proc.noNewPrivs) {
      fire('setid-nnp', `${what} is setuid/setgid but no_new_privs is set: the bits are ignored`);
    } else if (file.idsMappedInNs === false) {
      fire('setid-unmapped', `${what} is setuid/setgid but its owner is not mapped in the user namespace: the bits are ignored`);
    } else {
      if (setuidBit) {
        euid = file.uid;
        fire('setuid', `${what} is setuid: effective uid becomes ${file.uid}`);
      }
      if (setgidBit && (file.mode & 0o010) !== 0) {
        egid = file.gid;
        fire('setgid', `${what} is setgid: effective gid becomes ${file.gid}`);
      } else if (setgidBit) {
        fire('setgid-no-group-exec', `${what} has the setgid bit without group execute (a locking mark): the gid does not change`);
      }
    }
  }

  // P'p from the file, and the capability-dumb check (bprm_caps_from_vfs_caps).
  let newP = (proc.bounding & fP) | (proc.inheritable & fI);
  if (hasFcap && fE && (fP & ~newP) !== 0n) {
    const missing = capSetToNames(fP & ~newP);
    fire(
      'capability-dumb',
      `${what} has the effective flag but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in the bounding set (nor in both inheritable sets): execve fails with EPERM, for root too`,
    );
    return {
      outcome: 'EPERM', reason, rules,
      caps: pickCaps(proc), uid: { ...proc.uid }, gid: { ...proc.gid }, euid: proc.uid.e, egid: proc.gid.e,
      securebits: { ...sb },
    };
  }

  // Root magic (handle_privileged_root).
  if (sb.noroot) {
    fire('noroot', 'SECBIT_NOROOT is set: uid 0 gets no capabilities from exec');
  } else if (hasFcap && euid === 0 && ruid !== 0) {
    fire(
      'setuid-root-with-fcaps',
      `${what} is a setuid-root program with file capabilities run by uid ${ruid}: only its file capabilities apply, not root's full set`,
    );
  } else {
    if (euid === 0 || ruid === 0) {
      newP = proc.bounding | proc.inheritable;
      fire('root-magic', `${euid === 0 ? 'effective' : 'real'} uid is 0: permitted becomes the whole bounding set (plus inheritable)`);
    }
    if (euid === 0) {
      if (!fE) fire('root-effective', 'effective uid is 0: effective becomes permitted');
      fE = true;
    }
  }

  // no_new_privs downgrade (cap_bprm_creds_from_file).
  const setid = euid !== ruid || egid !== rgid;
  if ((setid || (newP & ~proc.permitted) !== 0n) && proc.noNewPrivs) {
    const gained = newP & ~proc.permitted;
    fire(
      'nnp-downgrade',
      'no_new_privs is set: ' +
        [
          setid ? `the effective uid/gid return to the real uid/gid ${ruid}/${rgid}` : '',
          gained !== 0n ? `${capSetToNames(gained).join(', ')} cannot be gained` : '',
        ]
          .filter(Boolean)
          .join(' and '),
    );
    euid = ruid;
    egid = rgid;
    newP &= proc.permitted;
  }

  // Ambient, effective.
  let newA = proc.ambient;
  if (hasFcap || setid) {
    if (proc.ambient !== 0n) {
      fire('ambient-cleared', `ambient capabilities ${capSetToNames(proc.ambient).join(', ')} are cleared by ${hasFcap ? 'file capabilities' : 'a setuid/setgid change'}`);
    }
    newA = 0n;
  } else if (proc.ambient !== 0n) {
    fire('ambient-kept', `ambient capabilities ${capSetToNames(proc.ambient).join(', ')} are kept across exec`);
  }
  newP |= newA;
  const newE = fE ? newP : newA;
  if (hasFcap && fE) fire('effective-from-permitted', 'the file effective flag is set: effective = permitted');
  else if (!fE && newA !== 0n) fire('effective-from-ambient', 'effective = ambient');

  return {
    outcome: 'ok',
    reason,
    rules,
    caps: { effective: newE, permitted: newP, inheritable: proc.inheritable, ambient: newA, bounding: proc.bounding },
    uid: { r: ruid, e: euid, s: euid },
    gid: { r: rgid, e: egid, s: egid },
    euid,
    egid,
    securebits: { ...sb, keepCaps: false },
  };
}

/** The process side of a uid change. */
export interface SetuidState extends ProcCaps {
  uid: IdTriple;
  /** Filesystem uid; defaults to the effective uid. */
  fsuid?: number;
  securebits?: Securebits;
}

/**
 * - `setresuid`: all three IDs given (pass the old value for an ID the call leaves alone);
 * - `setuid`: with CAP_SETUID sets all of r, e, s; without, only e (to r or s);
 * - `setfsuid`: the filesystem uid alone.
 * setresuid and setuid also set fsuid to the new effective uid.
 */
export type SetuidCall =
  | { call: 'setresuid'; uid: IdTriple }
  | { call: 'setuid'; uid: number }
  | { call: 'setfsuid'; fsuid: number };

export type SetuidRule =
  | 'eperm'
  | 'setfsuid-ignored'
  | 'no-setuid-fixup'
  | 'leave-root-clear'
  | 'leave-root-keepcaps'
  | 'ambient-cleared'
  | 'euid-leave-root'
  | 'euid-enter-root'
  | 'fsuid-leave-root'
  | 'fsuid-enter-root';

export interface SetuidResult {
  outcome: 'ok' | 'EPERM';
  reason: string[];
  rules: SetuidRule[];
  caps: ProcCaps;
  uid: IdTriple;
  fsuid: number;
}

/**
 * Capability effects of uid changes (layers-and-capabilities.md section 4.2; commoncap.c
 * cap_emulate_setxuid and cap_task_fix_setuid):
 * - some of r/e/s was 0 and none is now: P and E cleared unless SECBIT_KEEP_CAPS; A always cleared;
 * - euid 0 -> non-zero: E cleared (even with keep-caps); euid non-zero -> 0: E = P;
 * - setfsuid 0 -> non-zero: the filesystem caps (CAP_FS_SET) leave E; non-zero -> 0: they return from P;
 * - SECBIT_NO_SETUID_FIXUP disables all of this.
 * Without CAP_SETUID in E a process may only move among its current r/e/s (EPERM otherwise).
 */
export function setuidTransition(state: SetuidState, change: SetuidCall): SetuidResult {
  checkProc(state);
  const reason: string[] = [];
  const rules: SetuidRule[] = [];
  const fire = (rule: SetuidRule, words: string): void => {
    rules.push(rule);
    reason.push(words);
  };
  const old = state.uid;
  const oldFsuid = state.fsuid ?? old.e;
  const capSetuid = (state.effective & CAP_SETUID_BIT) !== 0n;
  const sb = state.securebits ?? {};
  let caps = pickCaps(state);
  const unchanged = (): SetuidResult => ({ outcome: 'EPERM', reason, rules, caps, uid: { ...old }, fsuid: oldFsuid });
  const current = [old.r, old.e, old.s];

  if (change.call === 'setfsuid') {
    const fsuid = change.fsuid;
    if (!capSetuid && ![...current, oldFsuid].includes(fsuid)) {
      fire('setfsuid-ignored', `setfsuid(${fsuid}) is ignored: not one of the current uids and no CAP_SETUID`);
      return { outcome: 'ok', reason, rules, caps, uid: { ...old }, fsuid: oldFsuid };
    }
    if (sb.noSetuidFixup) {
      fire('no-setuid-fixup', 'SECBIT_NO_SETUID_FIXUP is set: capabilities are left alone');
    } else if (oldFsuid === 0 && fsuid !== 0) {
      const dropped = caps.effective & CAP_FS_SET;
      fire('fsuid-leave-root', `fsuid leaves 0: filesystem capabilities leave effective${dropped ? ` (${capSetToNames(dropped).join(', ')})` : ''}`);
      caps = { ...caps, effective: caps.effective & ~CAP_FS_SET };
    } else if (oldFsuid !== 0 && fsuid === 0) {
      fire('fsuid-enter-root', 'fsuid becomes 0: filesystem capabilities in permitted return to effective');
      caps = { ...caps, effective: caps.effective | (caps.permitted & CAP_FS_SET) };
    }
    return { outcome: 'ok', reason, rules, caps, uid: { ...old }, fsuid };
  }

  let next: IdTriple;
  if (change.call === 'setresuid') {
    next = { ...change.uid };
    const changes = [next.r, next.e, next.s].filter((id) => !current.includes(id));
    if (changes.length > 0 && !capSetuid) {
      fire('eperm', `setresuid to uid ${changes[0]} needs CAP_SETUID (it is not one of the current uids ${old.r}/${old.e}/${old.s})`);
      return unchanged();
    }
  } else if (capSetuid) {
    next = { r: change.uid, e: change.uid, s: change.uid };
  } else if (change.uid === old.r || change.uid === old.s) {
    next = { r: old.r, e: change.uid, s: old.s };
  } else {
    fire('eperm', `setuid(${change.uid}) needs CAP_SETUID (it is neither the real nor the saved uid)`);
    return unchanged();
  }

  if (sb.noSetuidFixup) {
    fire('no-setuid-fixup', 'SECBIT_NO_SETUID_FIXUP is set: capabilities are left alone');
    return { outcome: 'ok', reason, rules, caps, uid: next, fsuid: next.e };
  }
  const wasRoot = old.r === 0 || old.e === 0 || old.s === 0;
  const isRoot = next.r === 0 || next.e === 0 || next.s === 0;
  if (wasRoot && !isRoot) {
    if (sb.keepCaps) {
      fire('leave-root-keepcaps', 'all uids leave 0 with SECBIT_KEEP_CAPS: permitted is kept');
    } else {
      fire('leave-root-clear', 'all uids leave 0: permitted and effective are cleared (no keep-caps)');
      caps = { ...caps, permitted: 0n, effective: 0n };
    }
    if (caps.ambient !== 0n) fire('ambient-cleared', 'all uids leave 0: ambient is cleared');
    caps = { ...caps, ambient: 0n };
  }
  if (old.e === 0 && next.e !== 0) {
    fire('euid-leave-root', 'effective uid leaves 0: effective is cleared');
    caps = { ...caps, effective: 0n };
  } else if (old.e !== 0 && next.e === 0) {
    fire('euid-enter-root', 'effective uid becomes 0: effective = permitted');
    caps = { ...caps, effective: caps.permitted };
  }
  return { outcome: 'ok', reason, rules, caps, uid: next, fsuid: next.e };
}

function pickCaps(p: ProcCaps): ProcCaps {
  return { effective: p.effective, permitted: p.permitted, inheritable: p.inheritable, ambient: p.ambient, bounding: p.bounding };
}

/** Kernel invariants a real thread always satisfies: E within P, A within P and I (cap_ambient_invariant_ok). */
function checkProc(p: ProcCaps): void {
  for (const k of ['effective', 'permitted', 'inheritable', 'ambient', 'bounding'] as const) {
    const v = p[k];
    if (typeof v !== 'bigint' || v < 0n || v > CAP_MASK_64) {
      throw new BerthError('E_CAP_STATE_INVALID', `check process capabilities: ${k} is not a 64-bit capability set`, {
        hint: 'build sets with caps() or capSetFromMask()',
      });
    }
  }
  if ((p.effective & ~p.permitted) !== 0n) {
    throw new BerthError('E_CAP_STATE_INVALID', `check process capabilities: effective ${capSetToNames(p.effective & ~p.permitted).join(', ')} not in permitted`, {
      hint: 'a thread can only have effective capabilities that are also permitted',
    });
  }
  if ((p.ambient & ~(p.permitted & p.inheritable)) !== 0n) {
    throw new BerthError('E_CAP_STATE_INVALID', `check process capabilities: ambient ${capSetToNames(p.ambient & ~(p.permitted & p.inheritable)).join(', ')} not in both permitted and inheritable`, {
      hint: 'an ambient capability must also be permitted and inheritable (the kernel drops it otherwise)',
    });
  }
}
