/**
 * The command berth starts inside the container's private mount namespace: a POSIX shell that
 * mounts the rootfs (overlay over the cached image rootfs, or a copy of it) and then execs the OCI
 * runtime in the foreground. Pure: it only builds argv.
 *
 * Invariants:
 * - The mount happens in a mount namespace nobody else uses (rootful: `unshare --mount
 *   --propagation private`; rootless: the holder's own mount namespace), so it disappears with
 *   the last process in it, even when berth is killed. Nothing ever needs unmounting.
 * - The shell `exec`s the runtime, so the pid berth knows is the runtime's: signals sent to it are
 *   forwarded to the container by runc itself (and SIGWINCH resizes its terminal).
 * - Every variable part is a positional parameter, never spliced into the script text. The overlay
 *   option string uses only paths relative to the container directory (fixed names and hex
 *   digits), so no store path containing "," or ":" can change its meaning.
 */

export type RootfsMethod = 'overlay' | 'copy';

export interface PayloadInput {
  /** Absolute path of the container directory; the shell starts there. */
  containerDir: string;
  /**
   * The cached image rootfs, relative to containerDir (overlay lowerdir, or the copy's source).
   * Overlay only: several directories joined with ':', topmost first (a build step's lower layers).
   */
  lower: string;
  /** Where the rootfs is mounted: `rootfs` (relative) or an absolute mount point. */
  target: string;
  /** Overlay upper and work directories, relative to containerDir. */
  upper: string;
  work: string;
  method: RootfsMethod;
  /** Overlay only: more mount options, e.g. `userxattr` (a mount in a user namespace). */
  overlayOptions?: readonly string[];
  /** The runtime binary and its arguments, e.g. [/usr/sbin/runc, --root, R, run, --bundle, ., ID]. */
  runtime: readonly string[];
}

const SCRIPT_HEAD = 'cd "$1" || exit 125; ';
const MOUNT_OVERLAY = 'mount -t overlay -o "lowerdir=$2,upperdir=$4,workdir=$5$6" berth-overlay "$3" || exit 125; ';
// cp -a keeps owners, modes, times, links and xattrs (security.capability included) and never
// follows symlinks inside the tree.
const COPY_ROOTFS = 'cp -a "$2/." "$3/" || exit 125; ';
const EXEC = 'shift 6; exec "$@"';

/** argv for `sh -c SCRIPT berth-run DIR LOWER TARGET UPPER WORK OPTIONS RUNTIME...`. */
export function payloadArgv(p: PayloadInput): string[] {
  const script = SCRIPT_HEAD + (p.method === 'overlay' ? MOUNT_OVERLAY : COPY_ROOTFS) + EXEC;
  const options = (p.overlayOptions ?? []).map((o) => `,${o}`).join('');
  return ['/bin/sh', '-c', script, 'berth-run', p.containerDir, p.lower, p.target, p.upper, p.work, options, ...p.runtime];
}

/** The exit status the payload uses when it fails before the runtime runs (mount or copy). */
export const PAYLOAD_SETUP_FAILED = 125;

export interface RuntimeArgvInput {
  runtimePath: string;
  stateRoot: string;
  /** runc's --log file (JSON lines): the only place runc's own start errors are told apart from the container's. */
  logFile: string;
  containerId: string;
  /** The bundle directory as the runtime should open it (the payload runs in the container directory). */
  bundle: string;
}

/** `runc --root R --log L --log-format json run --bundle B ID` (crun takes the same global options). */
export function runtimeArgv(r: RuntimeArgvInput): string[] {
  return [r.runtimePath, '--root', r.stateRoot, '--log', r.logFile, '--log-format', 'json', 'run', '--bundle', r.bundle, r.containerId];
}

export interface RuntimeLogEntry {
  level: string;
  msg: string;
}

/** The JSON-lines log runc and crun write with --log-format json; lines that do not parse are skipped. */
export function parseRuntimeLog(text: string): RuntimeLogEntry[] {
  const out: RuntimeLogEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const o = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if (typeof o.level === 'string' && typeof o.msg === 'string') out.push({ level: o.level, msg: o.msg });
    } catch {
      // A partial last line (the runtime was killed while writing) carries nothing usable.
    }
  }
  return out;
}

export type StartFailureKind = 'not-found' | 'permission' | 'other';

/**
 * The runtime's own error, if the log has one: what runc prints when the container process never
 * ran (`runc run failed: unable to start container process: exec: "x": executable file not found
 * in $PATH`). Docker maps these to exit 127 (not found) and 126 (cannot be invoked).
 */
export function startFailure(entries: readonly RuntimeLogEntry[]): { message: string; kind: StartFailureKind } | undefined {
  const errors = entries.filter((e) => e.level === 'error' || e.level === 'fatal');
  if (errors.length === 0) return undefined;
  const message = errors[errors.length - 1].msg.replace(/^runc run failed: /, '').replace(/^crun: /, '');
  const kind: StartFailureKind = /executable file not found|no such file or directory/i.test(message) && /exec/.test(message)
    ? 'not-found'
    : /permission denied/i.test(message) && /exec/.test(message)
      ? 'permission'
      : 'other';
  return { message, kind };
}
