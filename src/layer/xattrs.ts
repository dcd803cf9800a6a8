/**
 * Which extended attributes cross the layer boundary, in both directions, and how
 * `security.capability` is normalised. Pure: names and bytes in, decisions out.
 *
 * Policy (layers-and-capabilities.md sections 1.5, 3 and 5 row 16-17; userns.md U2-U6):
 * - `security.selinux`: never; labels belong to the host's policy (containers/storage, umoci).
 * - `trusted.overlay.*`, `user.overlay.*`: never; overlayfs would obey them (redirects, opaque
 *   markers) when the unpacked layer becomes a lower directory.
 * - Bookkeeping of container engines and of berth itself: `user.containers.*` (containers/storage
 *   override_stat), `user.rootlesscontainers` (umoci), `user.berth.*`, `trusted.berth.*`. A layer
 *   must not be able to forge what berth records about ownership.
 * - `trusted.*` (other): applied only by real root, the only caller the kernel lets write them
 *   (CAP_SYS_ADMIN in the initial namespace); never exported, because they are host-private
 *   state of privileged tools (GNU tar's reproducible recipe excludes them too).
 * - `user.*` on anything but regular files and directories: Linux refuses them, so they are
 *   dropped up front rather than failing one syscall per entry.
 * - `security.capability`: see normaliseCapability.
 * Everything else (other `user.*`, `security.ima`, `system.posix_acl_*`, ...) is kept byte-exact.
 */
import type { EntryType } from './tar/types.js';

/** How the caller may write: real root; uid 0 inside a user namespace; a plain user. */
export type Privilege = 'root' | 'userns' | 'unprivileged';

export type XattrDropReason =
  | 'selinux'
  | 'overlay'
  | 'bookkeeping'
  | 'trusted'
  | 'type'
  | 'capability-invalid'
  | 'capability-foreign';

export interface XattrDrop {
  name: string;
  reason: XattrDropReason;
}

export interface XattrDecision {
  /** Attributes to write (or export), sorted by name; capability values already normalised. */
  keep: [string, Buffer][];
  dropped: XattrDrop[];
  /** Set when a v3 capability's rootid was dropped on the way in (the value was still kept). */
  capabilityRootId?: number;
}

export interface XattrPolicy {
  direction: 'unpack' | 'pack';
  /** Unpack only: who writes. */
  privilege?: Privilege;
  /** The entry's type: `user.*` and capabilities are only valid on some types. */
  type: EntryType;
  /**
   * Pack only: whether a v3 capability's rootid (a uid as this process sees it) is the root of
   * the image's namespace. Default: rootid 0 only.
   */
  isImageRoot?: (rootid: number) => boolean;
}

const VFS_CAP_REVISION_MASK = 0xff000000;
const VFS_CAP_FLAGS_MASK = 0x00ffffff;
const REV1 = 0x01000000;
const REV2 = 0x02000000;
const REV3 = 0x03000000;

export type CapabilityNormalisation =
  | { ok: true; value: Buffer; revision: 1 | 2 | 3; rootid?: number }
  | { ok: false; reason: string };

/**
 * Normalises a `security.capability` value (struct vfs_cap_data, little-endian u32 words) to the
 * 20-byte v2 form: v1 (12 bytes) is widened with zero upper words, because the kernel refuses
 * to write v1 (EINVAL) though it still honours it; v3 (24 bytes) loses its rootid. Any other size
 * or revision is invalid. The caller decides what a v3 rootid means.
 */
export function normaliseCapability(value: Buffer): CapabilityNormalisation {
  if (value.length < 4) return { ok: false, reason: `${value.length} bytes is too short` };
  const magic = value.readUInt32LE(0);
  const revision = (magic & VFS_CAP_REVISION_MASK) >>> 0;
  const flags = magic & VFS_CAP_FLAGS_MASK;
  const out = Buffer.alloc(20);
  out.writeUInt32LE((REV2 | flags) >>> 0, 0);
  if (revision === REV1) {
    if (value.length !== 12) return { ok: false, reason: `revision 1 needs 12 bytes, got ${value.length}` };
    value.copy(out, 4, 4, 12);
    return { ok: true, value: out, revision: 1 };
  }
  if (revision === REV2) {
    if (value.length !== 20) return { ok: false, reason: `revision 2 needs 20 bytes, got ${value.length}` };
    return { ok: true, value: Buffer.from(value), revision: 2 };
  }
  if (revision === REV3) {
    if (value.length !== 24) return { ok: false, reason: `revision 3 needs 24 bytes, got ${value.length}` };
    value.copy(out, 4, 4, 20);
    return { ok: true, value: out, revision: 3, rootid: value.readUInt32LE(20) };
  }
  return { ok: false, reason: `unknown revision 0x${revision.toString(16).padStart(8, '0')}` };
}

const OVERLAY = /^(trusted|user)\.overlay\./;

function policyDrop(name: string, policy: XattrPolicy): XattrDropReason | undefined {
  if (name === 'security.selinux') return 'selinux';
  if (OVERLAY.test(name)) return 'overlay';
  if (
    name.startsWith('user.containers.') ||
    name === 'user.rootlesscontainers' ||
    name.startsWith('user.berth.') ||
    name.startsWith('trusted.berth.')
  ) {
    return 'bookkeeping';
  }
  if (name.startsWith('trusted.') && (policy.direction === 'pack' || policy.privilege !== 'root')) return 'trusted';
  if (name.startsWith('user.') && policy.type !== 'file' && policy.type !== 'dir') return 'type';
  return undefined;
}

/**
 * Applies the policy to one entry's attributes. Invariant: every input name ends up in exactly
 * one of `keep` and `dropped`.
 */
export function filterXattrs(xattrs: Iterable<[string, Buffer]>, policy: XattrPolicy): XattrDecision {
  const keep: [string, Buffer][] = [];
  const dropped: XattrDrop[] = [];
  let capabilityRootId: number | undefined;
  for (const [name, value] of xattrs) {
    const reason = policyDrop(name, policy);
    if (reason !== undefined) {
      dropped.push({ name, reason });
      continue;
    }
    if (name !== 'security.capability') {
      keep.push([name, value]);
      continue;
    }
    if (policy.type !== 'file') {
      dropped.push({ name, reason: 'type' });
      continue;
    }
    const cap = normaliseCapability(value);
    if (!cap.ok) {
      dropped.push({ name, reason: 'capability-invalid' });
      continue;
    }
    if (cap.rootid !== undefined && cap.rootid !== 0) {
      if (policy.direction === 'pack') {
        // U6: a v3 rootid that is not the image's root means the capability belongs to another
        // namespace and grants nothing in the image.
        const own = policy.isImageRoot ?? ((r: number) => r === 0);
        if (!own(cap.rootid)) {
          dropped.push({ name, reason: 'capability-foreign' });
          continue;
        }
      } else {
        // U3: written raw, the rootid would be read in berth's namespace; as v2 it belongs to
        // whichever namespace runs the image.
        capabilityRootId = cap.rootid;
      }
    }
    keep.push([name, cap.value]);
  }
  keep.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  dropped.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: XattrDecision = { keep, dropped };
  if (capabilityRootId !== undefined) out.capabilityRootId = capabilityRootId;
  return out;
}

/** Whether a name is one the policy manages (so a merge may remove a stale copy of it). */
export function isManagedXattr(name: string, policy: XattrPolicy): boolean {
  return policyDrop(name, policy) === undefined;
}
