/**
 * perms/: the kernel's permission decisions as data. For a credential (fsuid, fsgid, groups, effective
 * capabilities) and an inode: may it read, write, execute or search (generic_permission), may it chmod
 * (inode_owner_or_capable), and does a path resolve inside an image root the way it would inside the
 * container (search permission on every directory, symlinks confined to the root, ELOOP, ENOENT, ENOTDIR).
 * Every answer carries a `because` sentence for `berth explain`.
 *
 * Pure: the filesystem is a lookup port; nothing here touches the disk.
 */
export { formatMode, inodePermission, mayChmod } from './access.js';
export type { Access, AccessResult, Credential, InodeInfo, InodeType } from './access.js';
export { MAX_SYMLINKS, NAME_MAX, PATH_MAX, canExecute, walkPath } from './walk.js';
export type { ExecCheckOptions, PathFs, WalkErrno, WalkFailure, WalkOptions, WalkResult } from './walk.js';
