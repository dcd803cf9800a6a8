/**
 * explain/exec: which file the runtime execs for args[0], and what execve(2) does with it.
 *
 * runc resolves args[0] with Go's exec.LookPath in the container's environment (runc
 * libcontainer/standard_init_linux.go): a name with a slash is tried as it is; otherwise each
 * $PATH directory in order, skipping candidates that do not exist, are directories, or that
 * faccessat(X_OK, AT_EACCESS) refuses (Go os/exec findExecutable), and failing with "executable
 * file not found in $PATH" when none is left. crun searches $PATH the same way. The kernel then
 * applies the capability and set-ID rules (caps/process.ts execveTransform).
 */
import { isBerthError, type BerthError } from '../errors/index.js';
import { decodeFileCaps, type FileCaps } from '../caps/filecaps.js';
import { execveTransform, type ExecResult, type ProcCaps } from '../caps/process.js';
import { fileCapsToText } from '../caps/text.js';
import type { Credential, InodeInfo } from '../perms/access.js';
import { canExecute, type PathFs, type WalkFailure, type WalkResult } from '../perms/walk.js';
import type { ImageFileView } from '../layer/fileindex.js';
import type { ExecOutcome } from './report.js';
import { bytePath, displayPath } from './scan.js';

/** What Docker, podman and containerd put in the environment when the image sets no PATH (moby oci.DefaultPathEnv). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface LookupTry {
  /** Display form of the candidate. */
  path: string;
  result: WalkResult;
}

export interface ExecPrediction {
  /** args[0], or undefined when there is no command at all. */
  program?: string;
  how: 'none' | 'direct' | 'path';
  /** The $PATH value searched (how = 'path'). */
  pathValue?: string;
  /** Every candidate looked at, in order. */
  tried: LookupTry[];
  /** What execve is called with (display form), or null when nothing was found. */
  path: string | null;
  /** The file after symlinks (display form). */
  resolved?: string;
  inode?: InodeInfo;
  outcome: ExecOutcome;
  /** Why the lookup or the permission check failed. */
  failure?: WalkFailure;
  fileCaps: FileCaps | null;
  fileCapsText: string | null;
  /** The raw value could not be decoded: the kernel refuses the exec with EINVAL. */
  fileCapsError?: BerthError;
  /** The kernel's transformation, when the file was found and may be executed. */
  transform?: ExecResult;
  /** The same exec without no_new_privs, to tell what no_new_privs took away. */
  withoutNoNewPrivs?: ExecResult;
}

/** The process at the moment it calls execve. */
export interface ExecCaller {
  cred: Credential;
  caps: ProcCaps;
  uid: number;
  gid: number;
  noNewPrivs: boolean;
  /** Whether a v3 file capability's rootid owns the process's namespace (see explain/facts.ts). */
  v3RootidHonoured: boolean;
}

function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

/** Decodes a capability hex string; undefined when none. Throws E_FILECAP_INVALID. */
export function fileCapsOf(hex: string | undefined): FileCaps | null {
  if (hex === undefined) return null;
  return decodeFileCaps(Buffer.from(hex, 'hex'));
}

/** Runs execveTransform for an inode as the caller. */
export function transformFor(caller: ExecCaller, file: { path: string; inode: InodeInfo; fileCaps: FileCaps | null }, noNewPrivs = caller.noNewPrivs): ExecResult {
  const fc = file.fileCaps;
  return execveTransform(
    {
      ...caller.caps,
      uid: { r: caller.uid, e: caller.uid, s: caller.uid },
      gid: { r: caller.gid, e: caller.gid, s: caller.gid },
      noNewPrivs,
    },
    {
      path: file.path,
      uid: file.inode.uid,
      gid: file.inode.gid,
      mode: file.inode.mode,
      fileCaps: fc,
      ...(fc?.version === 3 && caller.v3RootidHonoured ? { rootidOwnsNs: true } : {}),
      ...(caller.cred.mappedInNs ? { idsMappedInNs: caller.cred.mappedInNs(file.inode.uid, file.inode.gid) } : {}),
    },
  );
}

/** `cwd` is the canonical working directory as the index's byte string (view.realpath). */
export function predictExec(
  args: readonly string[],
  env: { PATH?: string },
  cwd: string,
  view: ImageFileView,
  fs: PathFs,
  caller: ExecCaller,
): ExecPrediction {
  const none = { fileCaps: null, fileCapsText: null, tried: [] as LookupTry[] };
  const program = args[0];
  if (program === undefined || program === '') {
    return { ...none, how: 'none', path: null, outcome: 'ENOENT' };
  }
  const check = (p: string): WalkResult => canExecute(bytePath(p), fs, caller.cred, { cwd });

  let found: LookupTry | undefined;
  const tried: LookupTry[] = [];
  let how: ExecPrediction['how'];
  let pathValue: string | undefined;
  if (program.includes('/')) {
    how = 'direct';
    const t = { path: program, result: check(program) };
    tried.push(t);
    if (t.result.ok) found = t;
  } else {
    how = 'path';
    pathValue = env.PATH ?? DEFAULT_PATH;
    for (const dir of pathValue.split(':')) {
      // Go 1.19+ refuses a match in a relative PATH entry ("" means "."): exec.ErrDot.
      if (!dir.startsWith('/')) continue;
      const t = { path: joinPath(dir, program), result: check(joinPath(dir, program)) };
      tried.push(t);
      if (t.result.ok) {
        found = t;
        break;
      }
    }
  }

  if (!found) {
    // The most telling failure: a file that exists but may not be executed beats "not there".
    const denied = tried.find((t) => t.result.failure?.errno === 'EACCES' || t.result.failure?.errno === 'ELOOP' || t.result.failure?.errno === 'ENOTDIR');
    const first = denied ?? tried[0];
    const errno = denied?.result.failure?.errno;
    return {
      ...none,
      program,
      how,
      ...(pathValue !== undefined ? { pathValue } : {}),
      tried,
      path: how === 'direct' ? program : denied ? denied.path : null,
      ...(denied?.result.inode ? { inode: denied.result.inode, resolved: displayPath(denied.result.resolvedPath) } : {}),
      outcome: errno === 'EACCES' ? 'EACCES' : 'ENOENT',
      ...(first?.result.failure ? { failure: first.result.failure } : {}),
    };
  }

  const inode = found.result.inode as InodeInfo;
  const resolved = displayPath(found.result.resolvedPath);
  const entry = view.lookup(found.result.resolvedPath);
  let fileCaps: FileCaps | null;
  try {
    fileCaps = fileCapsOf(entry?.capability);
  } catch (e) {
    if (!isBerthError(e)) throw e;
    return { program, how, ...(pathValue !== undefined ? { pathValue } : {}), tried, path: found.path, resolved, inode, outcome: 'EINVAL', fileCaps: null, fileCapsText: null, fileCapsError: e };
  }
  const file = { path: resolved, inode, fileCaps };
  const transform = transformFor(caller, file);
  const withoutNoNewPrivs = caller.noNewPrivs ? transformFor(caller, file, false) : undefined;
  return {
    program,
    how,
    ...(pathValue !== undefined ? { pathValue } : {}),
    tried,
    path: found.path,
    resolved,
    inode,
    outcome: transform.outcome,
    fileCaps,
    fileCapsText: fileCaps ? fileCapsToText(fileCaps) : null,
    transform,
    ...(withoutNoNewPrivs ? { withoutNoNewPrivs } : {}),
  };
}
