/**
 * The kernel's permission check on one inode for one credential, with the reason in words.
 *
 * Sources: fs/namei.c acl_permission_check, generic_permission; fs/inode.c inode_owner_or_capable;
 * fs/attr.c setattr_prepare / in_group_or_capable; kernel/capability.c capable_wrt_inode_uidgid;
 * userns.md rule 5 (capabilities count only when the inode's uid and gid are mapped).
 * Not modelled: POSIX ACLs, LSMs, read-only mounts, immutable/append-only attributes.
 */
import { CAP } from '../caps/table.js';
import type { CapSet } from '../caps/set.js';

export type InodeType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

/** What a path lookup returns for one path. IDs as the process's user namespace sees them. */
export interface InodeInfo {
  type: InodeType;
  /** Permission bits, including setuid (04000), setgid (02000) and sticky (01000); file-type bits are ignored. */
  mode: number;
  uid: number;
  gid: number;
  /** Symlink target, stored verbatim. */
  linkname?: string;
  size?: number;
}

/** The filesystem identity of a process: fsuid, fsgid, supplementary groups, effective capabilities. */
export interface Credential {
  uid: number;
  gid: number;
  groups: readonly number[];
  effective: CapSet;
  /**
   * Whether both `uid` and `gid` are mapped in the process's user namespace (default: everything is mapped).
   * Capabilities count on an inode only when its uid and gid are mapped; CAP_FOWNER needs only the uid,
   * which is asked as (inode.uid, cred.gid) since the process's own gid is always mapped.
   */
  mappedInNs?: (uid: number, gid: number) => boolean;
}

/** The access wanted. `exec` on a directory means search. Nothing wanted is always allowed. */
export interface Access {
  read?: boolean;
  write?: boolean;
  exec?: boolean;
}

export interface AccessResult {
  allowed: boolean;
  errno?: 'EACCES' | 'EPERM';
  /** One sentence a user can act on: who the process is to the inode, what the mode grants, which capability decided. */
  because: string;
}

const R = 4;
const W = 2;
const X = 1;
const bit = (n: number): CapSet => 1n << BigInt(n);
const has = (cred: Credential, cap: number): boolean => (cred.effective & bit(cap)) !== 0n;

/** Mode as four octal digits: 0755, 4755, 1777. */
export function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function rwx(bits: number): string {
  return (bits & R ? 'r' : '-') + (bits & W ? 'w' : '-') + (bits & X ? 'x' : '-');
}

function wanted(mask: number, dir: boolean): string {
  const words = [mask & R ? 'read' : '', mask & W ? 'write' : '', mask & X ? (dir ? 'search' : 'execute') : '']
    .filter(Boolean)
    .join(' and ');
  return `${words} (${rwx(mask)})`;
}

function inGroup(cred: Credential, gid: number): boolean {
  return cred.gid === gid || cred.groups.includes(gid);
}

/** Which class of the mode applies to the credential, and how to say so. */
function classOf(cred: Credential, inode: InodeInfo): { bits: number; cls: string; who: string } {
  const mode = inode.mode & 0o7777;
  if (cred.uid === inode.uid) {
    return { bits: (mode >> 6) & 7, cls: 'the owner', who: `uid ${cred.uid} is the owner` };
  }
  if (inGroup(cred, inode.gid)) {
    const via = cred.gid === inode.gid ? 'its primary group' : 'a supplementary group';
    return {
      bits: (mode >> 3) & 7,
      cls: 'the group',
      who: `uid ${cred.uid} is not the owner (${inode.uid}) but ${via} is ${inode.gid}`,
    };
  }
  return { bits: mode & 7, cls: 'others', who: `uid ${cred.uid} is not the owner (${inode.uid}) and not in group ${inode.gid}` };
}

/**
 * generic_permission: the owner class if fsuid owns the inode, else the group class if fsgid or a supplementary
 * group matches, else other; each class is exclusive (an owner denied by the owner bits is denied even when
 * "other" would allow). If the mode denies:
 * - directories: CAP_DAC_READ_SEARCH grants read and search (not write); CAP_DAC_OVERRIDE grants everything;
 * - other inodes: CAP_DAC_READ_SEARCH grants read only; CAP_DAC_OVERRIDE grants read and write, and execute
 *   only when at least one x bit is set in the mode;
 * - capabilities count only when the inode's uid and gid are mapped in the process's user namespace.
 */
export function inodePermission(cred: Credential, inode: InodeInfo, want: Access): AccessResult {
  const mask = (want.read ? R : 0) | (want.write ? W : 0) | (want.exec ? X : 0);
  const dir = inode.type === 'dir';
  const mode = inode.mode & 0o7777;
  const { bits, cls, who } = classOf(cred, inode);
  if (mask === 0) return { allowed: true, because: 'no access was requested' };
  const grants = `mode ${formatMode(mode)} grants ${cls} ${rwx(bits)}`;
  if ((mask & ~bits) === 0) {
    return { allowed: true, because: `${who}; ${grants}` };
  }

  const denied = `${who}; ${grants} but ${wanted(mask, dir)} is needed`;
  const mapped = cred.mappedInNs ? cred.mappedInNs(inode.uid, inode.gid) : true;
  const readSearch = has(cred, CAP.DAC_READ_SEARCH);
  const override = has(cred, CAP.DAC_OVERRIDE);

  let relevant: string[];
  let overrideUseless = '';
  if (dir) {
    if (!(mask & W) && readSearch && mapped) return { allowed: true, because: `${denied}; allowed by CAP_DAC_READ_SEARCH` };
    if (override && mapped) return { allowed: true, because: `${denied}; allowed by CAP_DAC_OVERRIDE` };
    relevant = mask & W ? ['CAP_DAC_OVERRIDE'] : ['CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH'];
  } else {
    if (mask === R && readSearch && mapped) return { allowed: true, because: `${denied}; allowed by CAP_DAC_READ_SEARCH` };
    const xOk = !(mask & X) || (mode & 0o111) !== 0;
    if (xOk && override && mapped) return { allowed: true, because: `${denied}; allowed by CAP_DAC_OVERRIDE` };
    relevant = mask === R ? ['CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH'] : ['CAP_DAC_OVERRIDE'];
    if (!xOk) overrideUseless = `CAP_DAC_OVERRIDE cannot grant execute: no x bit is set in mode ${formatMode(mode)}`;
  }

  let capPart: string;
  if (overrideUseless) {
    capPart = overrideUseless;
  } else {
    const held = relevant.filter((c) => (c === 'CAP_DAC_OVERRIDE' ? override : readSearch));
    capPart =
      held.length > 0 && !mapped
        ? `${held.join('/')} does not count: owner ${inode.uid} or group ${inode.gid} is not mapped in the user namespace`
        : `no ${relevant.join('/')} in the effective set`;
  }
  return { allowed: false, errno: 'EACCES', because: `${denied}; ${capPart}` };
}

/**
 * inode_owner_or_capable, the check for chmod, utimes with explicit times, and setting most attributes:
 * the owner, or CAP_FOWNER with the inode's uid mapped. Otherwise EPERM.
 * With `newMode`, `mode` is what chmod would store: setgid is silently cleared when the caller is not in the
 * file's group and has no CAP_FSETID over it (fs/attr.c setattr_prepare).
 */
export function mayChmod(cred: Credential, inode: InodeInfo, newMode?: number): AccessResult & { mode?: number } {
  let result: AccessResult;
  if (cred.uid === inode.uid) {
    result = { allowed: true, because: `uid ${cred.uid} is the owner` };
  } else {
    const uidMapped = cred.mappedInNs ? cred.mappedInNs(inode.uid, cred.gid) : true;
    if (has(cred, CAP.FOWNER) && uidMapped) {
      result = { allowed: true, because: `uid ${cred.uid} is not the owner (${inode.uid}) but has CAP_FOWNER` };
    } else {
      const why = has(cred, CAP.FOWNER)
        ? `CAP_FOWNER does not count: owner ${inode.uid} is not mapped in the user namespace`
        : 'no CAP_FOWNER in the effective set';
      return { allowed: false, errno: 'EPERM', because: `uid ${cred.uid} is not the owner (${inode.uid}); ${why}` };
    }
  }
  if (newMode === undefined) return result;
  let mode = newMode & 0o7777;
  if (mode & 0o2000 && !inGroup(cred, inode.gid)) {
    const mapped = cred.mappedInNs ? cred.mappedInNs(inode.uid, inode.gid) : true;
    if (!(has(cred, CAP.FSETID) && mapped)) {
      mode &= ~0o2000;
      result = {
        ...result,
        because: `${result.because}; the setgid bit is cleared: not in group ${inode.gid} and no CAP_FSETID`,
      };
    }
  }
  return { ...result, mode };
}
