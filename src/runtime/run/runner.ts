/**
 * Starts the payload (payload.ts) in a private mount namespace and follows it to its end.
 *
 * - Rootful (or berth already root in a namespace): util-linux `unshare --mount --propagation
 *   private` in a new session (detached), so a terminal's ^C reaches berth only and berth
 *   forwards it once.
 * - Rootless: spawnInUserNamespace with the intermediate maps and a mount namespace owned by that
 *   user namespace (overlay mounts there need Linux >= 5.11); `setsid` gives the same session
 *   separation. runc then runs as uid 0 of the intermediate namespace, leaving `--rootless` at its
 *   default (it only decides whether cgroup errors are fatal; userns.md rule 23).
 *
 * Either way the payload execs the runtime in place, so the pid berth holds is runc's: signals
 * sent to it are forwarded to the container by runc, and SIGWINCH resizes the container's terminal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { BerthError } from '../../errors/index.js';
import type { HostFacts } from '../../host/index.js';
import type { IdMap } from '../../idmap/index.js';
import { joinUserNamespace, sharedUserNamespace, spawnInUserNamespace, type ExitStatus, type StdioTarget, type UserNsChild } from '../userns/index.js';

export interface StartPayloadOptions {
  facts: HostFacts;
  /** argv of the payload (payloadArgv). */
  argv: readonly string[];
  /** Rootless: the intermediate maps to create the namespace with. */
  rootless?: { uidMap: IdMap; gidMap: IdMap };
  /**
   * Rootless: join this process's shared namespace with these maps (userns/shared.ts) instead of
   * creating one for this payload alone; a new mount namespace is still created for it.
   */
  shareUserNamespace?: boolean;
  /** Rootful: `argv` is the runtime itself, the rootfs already mounted (no private mount namespace). */
  direct?: boolean;
  stdio: readonly [StdioTarget, StdioTarget, StdioTarget];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface RunningPayload {
  pid: number;
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  kill(signal: NodeJS.Signals): boolean;
  wait(): Promise<ExitStatus>;
}

function toolPath(facts: HostFacts, name: 'unshare'): string {
  const t = facts.tools[name];
  if (!t) throw new BerthError('E_RUN_TOOL_MISSING', `run: util-linux \`${name}\` not found in PATH`, { hint: 'install util-linux', details: { tool: name } });
  return t.path;
}

export async function startPayload(o: StartPayloadOptions): Promise<RunningPayload> {
  if (o.rootless) {
    let child: UserNsChild;
    if (o.shareUserNamespace) {
      const holder = await sharedUserNamespace(o.rootless, o.facts);
      // nsenter execs unshare, which execs setsid, which execs the payload: berth still holds the
      // pid that becomes the runtime's.
      child = await joinUserNamespace(holder.pid, toolPath(o.facts, 'unshare'), ['--mount', '--propagation', 'private', '--', 'setsid', ...o.argv], {
        stdio: o.stdio,
        env: o.env,
        cwd: o.cwd,
        facts: o.facts,
      });
    } else {
      child = await spawnInUserNamespace('setsid', [...o.argv], { uidMap: o.rootless.uidMap, gidMap: o.rootless.gidMap }, {
        stdio: o.stdio,
        env: o.env,
        cwd: o.cwd,
        extraUnshare: ['mount'],
        facts: o.facts,
      });
    }
    return {
      pid: child.pid,
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      kill: (s) => child.kill(s),
      wait: () => child.wait(),
    };
  }
  const [file, ...args] = o.direct ? o.argv : [toolPath(o.facts, 'unshare'), '--mount', '--propagation', 'private', '--', ...o.argv];
  const proc: ChildProcess = spawn(file!, args, {
    stdio: [...o.stdio],
    env: o.env,
    cwd: o.cwd,
    detached: true,
  });
  const closed = new Promise<ExitStatus>((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
  const started = await new Promise<Error | undefined>((resolve) => {
    proc.once('spawn', () => resolve(undefined));
    proc.once('error', (e) => resolve(e));
  });
  if (started) {
    throw new BerthError('E_RUN_SPAWN_FAILED', `run: cannot start ${file!}: ${started.message}`, { hint: o.direct ? 'check that the runtime is installed' : 'check that util-linux is installed', cause: started });
  }
  proc.on('error', () => {
    // Only a failed kill() can raise this after spawn; kill() reports it by returning false.
  });
  return {
    pid: proc.pid!,
    stdin: proc.stdin,
    stdout: proc.stdout,
    stderr: proc.stderr,
    kill: (s) => proc.kill(s),
    wait: () => closed,
  };
}
