/**
 * Reading the OCI runtime's own state for one container, to reach its init process without the
 * runtime: runc keeps `<root>/<id>/state.json` (`init_process_pid`, `init_process_start`), crun
 * `<root>/<id>/status` (`pid`, `process-start-time`). Killing that process directly is what
 * `runc kill` does, and it also works from outside berth's rootless namespace: the user owns that
 * namespace, so the kernel grants CAP_KILL over every process in it (user_namespaces(7)).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf } from '../../errors/index.js';
import { stampAlive, type ProcessStamp } from './record.js';

/** The init process of a container from the runtime's state text; undefined when not found. */
export function parseRuntimeState(text: string): ProcessStamp | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const pid = o.init_process_pid ?? o.pid;
  const start = o.init_process_start ?? o['process-start-time'];
  if (!Number.isSafeInteger(pid) || (pid as number) <= 0 || !Number.isSafeInteger(start) || (start as number) < 0) return undefined;
  return { pid: pid as number, start: start as number };
}

export async function readInitProcess(stateDir: string): Promise<ProcessStamp | undefined> {
  for (const name of ['state.json', 'status']) {
    try {
      const s = parseRuntimeState(await readFile(join(stateDir, name), 'utf8'));
      if (s) return s;
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT' && errnoOf(e) !== 'ENOTDIR') throw e;
    }
  }
  return undefined;
}

/** Sends `signal` to the container's init process if it is still the process the runtime started. */
export async function signalInit(stateDir: string, signal: NodeJS.Signals): Promise<boolean> {
  const init = await readInitProcess(stateDir);
  if (!init || !(await stampAlive(init))) return false;
  try {
    process.kill(init.pid, signal);
    return true;
  } catch (e) {
    if (errnoOf(e) === 'ESRCH') return false;
    throw e;
  }
}

/** Waits until the process is gone (polling /proc), at most `timeoutMs`. */
export async function waitGone(s: ProcessStamp, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  let delay = 2;
  while (await stampAlive(s)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
  return true;
}
