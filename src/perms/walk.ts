/**
 * Path resolution inside an image root, the way the kernel resolves a path for a process inside the
 * container (fs/namei.c link_path_walk, walk_component, pick_link; openat2 RESOLVE_IN_ROOT semantics for the
 * root): every directory passed through needs search (x) permission, symlinks are resolved inside the root
 * (an absolute target restarts at the root, ".." clamps at "/"), at most 40 symlinks per lookup (ELOOP),
 * a missing component is ENOENT, a non-directory in the middle is ENOTDIR.
 *
 * The filesystem is a port: `lookup(absPath)` returns the inode at a canonical absolute path (no symlinks in
 * it) or undefined. Hard links are the lookup's business: it returns the shared inode.
 */
import { BerthError } from '../errors/index.js';
import { formatMode, inodePermission, type Access, type Credential, type InodeInfo, type InodeType } from './access.js';

export interface PathFs {
  lookup(absPath: string): InodeInfo | undefined;
}

export interface WalkOptions {
  /** Follow a symlink in the last component (stat vs lstat, open vs O_NOFOLLOW). A trailing "/" always follows. */
  followFinal: boolean;
  /** Access checked on the final inode, after resolution. */
  want?: Access;
  /** Where a relative path starts: a canonical absolute directory path. Default "/". */
  cwd?: string;
  /**
   * fs.protected_symlinks: a trailing symlink in a sticky world-writable directory is followed only by its
   * owner, or when the directory's owner owns it. Default true (Debian, Fedora and systemd set it to 1; the kernel default is 0).
   */
  protectedSymlinks?: boolean;
}

export type WalkErrno = 'ENOENT' | 'ENOTDIR' | 'EACCES' | 'ELOOP' | 'ENAMETOOLONG';

export interface WalkFailure {
  errno: WalkErrno;
  /** The path that failed: the directory that denied search, the missing or non-directory component, the final inode. */
  path: string;
  because: string;
}

export interface WalkResult {
  ok: boolean;
  /** The canonical path reached: the final inode's on success, the failing point's on failure. */
  resolvedPath: string;
  /** The final inode (present on success, and on a failed `want` check). */
  inode?: InodeInfo;
  /** Symlinks followed. */
  symlinks: number;
  failure?: WalkFailure;
}

/** Linux MAXSYMLINKS: the 41st symlink in one lookup fails with ELOOP. */
export const MAX_SYMLINKS = 40;
/** PATH_MAX including the terminating NUL, and NAME_MAX. */
export const PATH_MAX = 4096;
export const NAME_MAX = 255;

/** An image without an entry for "/" gets the root directory every unpacker creates. */
const DEFAULT_ROOT: InodeInfo = { type: 'dir', mode: 0o755, uid: 0, gid: 0 };

const TYPE_WORDS: Record<InodeType, string> = {
  file: 'a regular file',
  dir: 'a directory',
  symlink: 'a symbolic link',
  char: 'a character device',
  block: 'a block device',
  fifo: 'a FIFO',
  socket: 'a socket',
};

function isCanonical(p: string): boolean {
  return p === '/' || (/^(\/[^/]+)+$/.test(p) && !p.split('/').some((c) => c === '.' || c === '..'));
}

function join(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function parent(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/**
 * Resolves `path` inside the root for `cred`. Path problems come back as data (`failure`); only a
 * non-canonical `cwd` (a caller error) throws E_PATH_CWD_INVALID.
 */
export function walkPath(path: string, fs: PathFs, cred: Credential, opts: WalkOptions): WalkResult {
  const rootInode = fs.lookup('/') ?? DEFAULT_ROOT;
  let symlinks = 0;
  const fail = (errno: WalkErrno, at: string, because: string, inode?: InodeInfo): WalkResult => ({
    ok: false,
    resolvedPath: at,
    ...(inode ? { inode } : {}),
    symlinks,
    failure: { errno, path: at, because },
  });

  if (path === '') return fail('ENOENT', '', 'the path is empty');
  if (path.length >= PATH_MAX) return fail('ENAMETOOLONG', path.slice(0, 64) + '...', `the path is ${path.length} bytes; PATH_MAX is ${PATH_MAX}`);

  let cur = '/';
  let curInode = rootInode;
  if (!path.startsWith('/')) {
    cur = opts.cwd ?? '/';
    if (!isCanonical(cur)) {
      throw new BerthError('E_PATH_CWD_INVALID', `resolve "${path}": working directory "${cur}" is not a canonical absolute path`, {
        hint: 'pass the resolvedPath of a previous walk, e.g. "/app" (no trailing slash, ".", ".." or "//")',
      });
    }
    const cwdInode = cur === '/' ? rootInode : fs.lookup(cur);
    if (!cwdInode) return fail('ENOENT', cur, `the working directory ${cur} does not exist`);
    curInode = cwdInode;
  }

  // Components still to walk, in order; a followed symlink's target is spliced in front. A trailing slash
  // makes the final component a directory lookup that always follows symlinks (LOOKUP_DIRECTORY|FOLLOW).
  const pending: string[] = path.split('/').filter((c) => c !== '');
  let mustBeDir = /\/$/.test(path) && pending.length > 0;
  const protectedSymlinks = opts.protectedSymlinks ?? true;

  while (pending.length > 0) {
    const name = pending.shift()!;
    const isFinal = pending.length === 0;

    // may_lookup: search permission on the directory being looked in, for every component.
    const search = inodePermission(cred, curInode, { exec: true });
    if (!search.allowed) {
      return fail('EACCES', cur, `search (x) is denied on ${cur}: ${search.because}`);
    }
    if (name.length > NAME_MAX) {
      return fail('ENAMETOOLONG', join(cur, name.slice(0, 32) + '...'), `a component is ${name.length} bytes; NAME_MAX is ${NAME_MAX}`);
    }
    if (name === '.') continue;
    if (name === '..') {
      // Clamped at the root, as for a chrooted process or RESOLVE_IN_ROOT.
      if (cur !== '/') {
        const up = parent(cur);
        const upInode = up === '/' ? rootInode : fs.lookup(up);
        if (!upInode) return fail('ENOENT', up, `the parent directory ${up} of ${cur} is missing from the filesystem`);
        cur = up;
        curInode = upInode;
      }
      continue;
    }

    const child = join(cur, name);
    const inode = fs.lookup(child);
    if (!inode) {
      return fail('ENOENT', child, `there is no entry "${name}" in ${cur}`);
    }

    if (inode.type === 'symlink' && (!isFinal || opts.followFinal || mustBeDir)) {
      if (symlinks >= MAX_SYMLINKS) {
        return fail('ELOOP', child, `more than ${MAX_SYMLINKS} symbolic links were followed (the last: ${child} -> ${inode.linkname ?? ''})`);
      }
      symlinks++;
      // may_follow_link, applied by the kernel to the trailing symlink only (pick_link with WALK_TRAILING).
      if (isFinal && protectedSymlinks && inode.uid !== cred.uid) {
        const stickyWorldWritable = (curInode.mode & 0o1002) === 0o1002;
        if (stickyWorldWritable && curInode.uid !== inode.uid) {
          return fail(
            'EACCES',
            child,
            `${child} is a symlink owned by ${inode.uid} in the sticky world-writable directory ${cur} (owned by ${curInode.uid}); with fs.protected_symlinks only the link's owner may follow it, unless the directory's owner owns the link`,
          );
        }
      }
      const target = inode.linkname ?? '';
      if (target === '') return fail('ENOENT', child, `${child} is a symlink with an empty target`);
      if (target.length >= PATH_MAX) return fail('ENAMETOOLONG', child, `the target of ${child} is ${target.length} bytes; PATH_MAX is ${PATH_MAX}`);
      const parts = target.split('/').filter((c) => c !== '');
      if (isFinal && /\/$/.test(target) && parts.length > 0) mustBeDir = true;
      pending.unshift(...parts);
      if (target.startsWith('/')) {
        cur = '/';
        curInode = rootInode;
      }
      continue;
    }

    if (!isFinal && inode.type !== 'dir') {
      return fail('ENOTDIR', child, `${child} is ${TYPE_WORDS[inode.type] ?? inode.type}, not a directory, but the path continues after it`);
    }
    cur = child;
    curInode = inode;
  }

  if (mustBeDir && curInode.type !== 'dir') {
    return fail('ENOTDIR', cur, `${cur} is ${TYPE_WORDS[curInode.type] ?? curInode.type}, but the path ends in "/"`, curInode);
  }
  if (opts.want) {
    const r = inodePermission(cred, curInode, opts.want);
    if (!r.allowed) return fail('EACCES', cur, r.because, curInode);
  }
  return { ok: true, resolvedPath: cur, inode: curInode, symlinks };
}

export interface ExecCheckOptions {
  cwd?: string;
  protectedSymlinks?: boolean;
}

/**
 * Whether execve(path) gets past the filesystem: the path resolves (following symlinks), the final inode is
 * a regular file, and the credential has execute permission on it (EACCES otherwise; ENOENT when missing).
 * What runs it (ELF loader, #! interpreter) is not checked here.
 */
export function canExecute(path: string, fs: PathFs, cred: Credential, opts: ExecCheckOptions = {}): WalkResult {
  const r = walkPath(path, fs, cred, { followFinal: true, cwd: opts.cwd, protectedSymlinks: opts.protectedSymlinks });
  if (!r.ok || !r.inode) return r;
  const inode = r.inode;
  const fail = (because: string): WalkResult => ({
    ...r,
    ok: false,
    failure: { errno: 'EACCES', path: r.resolvedPath, because },
  });
  if (inode.type !== 'file') {
    return fail(`${r.resolvedPath} is ${TYPE_WORDS[inode.type] ?? inode.type}, and only regular files can be executed`);
  }
  const x = inodePermission(cred, inode, { exec: true });
  if (!x.allowed) return fail(`execute is denied on ${r.resolvedPath} (mode ${formatMode(inode.mode)}): ${x.because}`);
  return r;
}
