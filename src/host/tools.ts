/**
 * The external programs berth drives, found in PATH the way execvp would find them, and the
 * privilege newuidmap/newgidmap carry (setuid root or a file capability), which decides whether
 * a rootless namespace can get more than one ID.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { errnoOf } from '../errors/index.js';
import { fileCapGrants } from './parse.js';

export type ToolName = 'unshare' | 'nsenter' | 'newuidmap' | 'newgidmap' | 'getsubids' | 'runc' | 'crun';

export const TOOL_NAMES: readonly ToolName[] = ['unshare', 'nsenter', 'newuidmap', 'newgidmap', 'getsubids', 'runc', 'crun'];

export interface ToolInfo {
  /** The PATH entry that matched (not resolved through symlinks). */
  path: string;
  /** Owned by root with the setuid bit: it runs with root's privileges whoever starts it. */
  setuidRoot: boolean;
  /**
   * Capabilities its `security.capability` grants with `+ep`, among those berth cares about
   * (`cap_setuid` for newuidmap, `cap_setgid` for newgidmap). Probed only for the map tools when
   * they are not setuid root; undefined when not probed or unreadable.
   */
  fileCaps?: string[];
  /** The program is busybox (an applet symlink), whose unshare/nsenter options differ. */
  busybox?: boolean;
}

/**
 * First executable regular file called `name` in the PATH directories; relative entries are
 * skipped. Synchronous on purpose: this runs on every CLI call, and ~80 failed stats cost well
 * under a millisecond this way but over ten through the thread pool.
 */
export function findInPath(name: string, pathEnv: string): string | undefined {
  const seen = new Set<string>();
  for (const dir of pathEnv.split(':')) {
    // An empty or relative PATH entry means "the current directory": never trust that for setuid helpers.
    if (dir === '' || !isAbsolute(dir) || seen.has(dir)) continue;
    seen.add(dir);
    const p = join(dir, name);
    let st;
    try {
      st = statSync(p, { throwIfNoEntry: false });
    } catch (e) {
      // ENOTDIR (a PATH entry that is a file), EACCES (unreadable dir), ELOOP: keep looking, as execvp does.
      if (['ENOTDIR', 'EACCES', 'ELOOP'].includes(errnoOf(e) ?? '')) continue;
      throw e;
    }
    if (!st?.isFile()) continue;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch (e) {
      if (errnoOf(e) !== 'EACCES') throw e;
    }
  }
  return undefined;
}

const CAP_SETGID = 6;
const CAP_SETUID = 7;

type GetXattr = (path: string, name: string, value: Buffer, size: number) => number | bigint;
let getxattrFn: GetXattr | undefined;

/**
 * Reads `security.capability` of a file. Node has no xattr calls; koffi (FFI) is loaded lazily
 * because this runs only when a map tool is not setuid root, never on the common path.
 * Returns undefined when the file has no such attribute.
 */
async function readFileCapability(path: string): Promise<Uint8Array | undefined> {
  if (!getxattrFn) {
    const { koffi } = await import('../sys/koffi.js');
    const lib = koffi.load('libc.so.6');
    getxattrFn = lib.func('long getxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)') as GetXattr;
  }
  const buf = Buffer.alloc(64);
  const n = Number(getxattrFn(path, 'security.capability', buf, buf.length));
  // -1: ENODATA (no capability) or an unreadable file; either way it grants nothing known.
  return n >= 0 ? buf.subarray(0, n) : undefined;
}

/** Stats the tool and, for the map tools without setuid, reads which capabilities it carries. */
export async function inspectTool(name: ToolName, path: string): Promise<ToolInfo> {
  const st = statSync(path);
  const info: ToolInfo = { path, setuidRoot: st.uid === 0 && (st.mode & 0o4000) !== 0 };
  if ((name === 'newuidmap' || name === 'newgidmap') && !info.setuidRoot) {
    try {
      const value = await readFileCapability(path);
      const caps: string[] = [];
      if (value && fileCapGrants(value, CAP_SETUID)) caps.push('cap_setuid');
      if (value && fileCapGrants(value, CAP_SETGID)) caps.push('cap_setgid');
      info.fileCaps = caps;
    } catch {
      // No FFI on this platform: leave fileCaps undefined ("not known"); preflight says so.
    }
  }
  if (name === 'unshare' || name === 'nsenter') {
    const real = realpathSync(path);
    if (basename(real) === 'busybox') info.busybox = true;
  }
  return info;
}

/** Finds and inspects every tool berth uses; absent tools are left out. */
export async function findTools(pathEnv: string): Promise<Partial<Record<ToolName, ToolInfo>>> {
  const found = await Promise.all(
    TOOL_NAMES.map(async (name) => {
      const p = findInPath(name, pathEnv);
      return [name, p === undefined ? undefined : await inspectTool(name, p)] as const;
    }),
  );
  const out: Partial<Record<ToolName, ToolInfo>> = {};
  for (const [name, info] of found) if (info) out[name] = info;
  return out;
}
