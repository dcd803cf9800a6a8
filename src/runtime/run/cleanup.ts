/**
 * Cleanup of containers whose berth process is gone (killed, crashed, or the machine rebooted).
 * Every berth command that touches containers calls reapStale() first, holding the containers lock.
 *
 * For each record whose owner (pid + start time) no longer runs and which is not a finished
 * non-`--rm` container: its init process is killed (that ends every process in its PID
 * namespace, and with the last one the private mount namespace and its overlay mount), the
 * runtime's state directory is removed, then the container directory (`--rm`) or the record is
 * marked exited. Mounts never need unmounting: they only ever existed in namespaces that die
 * with their processes.
 *
 * Rootless, files the container wrote as other users are owned by subordinate IDs that the user
 * cannot remove from the host; removal then runs `rm -rf` as uid 0 of a fresh intermediate
 * namespace with the same maps.
 */
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, errnoOf, type WarningSink } from '../../errors/index.js';
import type { HostFacts } from '../../host/index.js';
import type { IdMap } from '../../idmap/index.js';
import { spawnInUserNamespace } from '../userns/index.js';
import { BUNDLE, type ContainerLayout } from './layout.js';
import { detachMount } from '../../sys/mount.js';
import { listContainerIds, readRecord, stampAlive, writeRecord, type ContainerRecord } from './record.js';
import { readInitProcess, waitGone } from './state.js';

export interface CleanupContext {
  layout: ContainerLayout;
  facts: HostFacts;
  /** Rootless: the intermediate maps, for removing files owned by subordinate IDs. */
  rootless?: { uidMap: IdMap; gidMap: IdMap };
  onWarning: WarningSink;
}

/** Removes a tree; rootless trees with subordinate owners are removed from inside the namespace. */
export async function removeTree(ctx: CleanupContext, path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
    return;
  } catch (e) {
    const code = errnoOf(e);
    if (!ctx.rootless || (code !== 'EACCES' && code !== 'EPERM')) throw e;
  }
  const child = await spawnInUserNamespace('rm', ['-rf', '--', path], ctx.rootless, { stdio: ['ignore', 'ignore', 'pipe'], facts: ctx.facts });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const st = await child.wait();
  if (st.code !== 0) {
    throw new BerthError('E_RUN_CLEANUP_FAILED', `remove ${path}: rm in the user namespace exited with status ${String(st.code)}: ${err.trim()}`, {
      hint: `remove it with \`unshare --user --map-auto rm -rf ${path}\` or as root`,
      details: { path },
    });
  }
}

/**
 * Rootful containers have their overlay mounted in berth's own mount namespace (execute.ts); a
 * berth that died left it mounted. Rootless ones live in a namespace that died with them.
 */
function detachRootfs(ctx: CleanupContext, id: string): void {
  if (ctx.rootless || ctx.facts.mode !== 'rootful') return;
  detachMount(join(ctx.layout.dir(id), BUNDLE.rootfs));
}

/**
 * Stops whatever still runs of a container and removes the runtime's state: kills the init process
 * (SIGKILL) if it is still the one the runtime started, waits for it, then removes the state dir.
 */
export async function stopLeftovers(ctx: CleanupContext, stateDir: string): Promise<void> {
  const init = await readInitProcess(stateDir);
  if (init && (await stampAlive(init))) {
    try {
      process.kill(init.pid, 'SIGKILL');
    } catch (e) {
      if (errnoOf(e) !== 'ESRCH') throw e;
    }
    if (!(await waitGone(init, 10_000))) {
      throw new BerthError('E_RUN_CLEANUP_FAILED', `stop container process ${init.pid}: it did not exit within 10 s of SIGKILL`, {
        hint: 'the process may be stuck in the kernel (uninterruptible I/O); check `ps -o pid,stat,wchan -p PID`',
        details: { pid: init.pid },
      });
    }
  }
  await removeTree(ctx, stateDir);
}

/** Removes everything of a finished container: runtime state, bundle, upper layer, external mount point. */
export async function removeContainer(ctx: CleanupContext, rec: Pick<ContainerRecord, 'id' | 'stateRoot' | 'externalRootfs'>): Promise<void> {
  await stopLeftovers(ctx, ctx.layout.runcState(rec.id));
  // Never remove a tree with the overlay still mounted inside: rm would descend into it.
  detachRootfs(ctx, rec.id);
  await removeTree(ctx, ctx.layout.dir(rec.id));
  if (rec.externalRootfs !== undefined) {
    // An empty mount point: the mount itself vanished with its namespace.
    await rmdir(rec.externalRootfs).catch((e: unknown) => {
      if (errnoOf(e) !== 'ENOENT') throw e;
    });
  }
}

/**
 * Removes the rootfs trees `berth gc` moved to the trash because they hold files owned by
 * subordinate IDs, which only the user namespace's root can remove.
 */
async function emptyRootfsTrash(ctx: CleanupContext): Promise<void> {
  let names: string[];
  try {
    names = await readdir(ctx.layout.rootfsCache);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return;
    throw e;
  }
  for (const n of names.filter((x) => x.startsWith('.trash-')).sort()) {
    try {
      await removeTree(ctx, join(ctx.layout.rootfsCache, n));
    } catch (e) {
      ctx.onWarning({ code: 'W_CONTAINER_CLEANUP', message: `empty the rootfs trash: ${(e as Error).message}`, path: join(ctx.layout.rootfsCache, n) });
    }
  }
}

export interface ReapResult {
  /** Containers removed (`--rm`) or marked exited, by ID, sorted. */
  removed: string[];
  exited: string[];
}

/** Cleans up after every container whose berth is gone. Call with the containers lock held. */
export async function reapStale(ctx: CleanupContext): Promise<ReapResult> {
  const out: ReapResult = { removed: [], exited: [] };
  await emptyRootfsTrash(ctx);
  for (const id of await listContainerIds(ctx.layout)) {
    let rec: ContainerRecord | undefined;
    try {
      rec = await readRecord(ctx.layout, id);
    } catch (e) {
      ctx.onWarning({ code: 'W_CONTAINER_RECORD', message: (e as Error).message, path: ctx.layout.record(id) });
      continue;
    }
    if (!rec) {
      // Created under the lock together with its record: a directory without one is what a
      // berth killed between the two steps left.
      await removeTree(ctx, ctx.layout.dir(id));
      out.removed.push(id);
      continue;
    }
    if (rec.status === 'exited' || (await stampAlive(rec.owner))) continue;
    try {
      if (rec.autoRemove) {
        await removeContainer(ctx, rec);
        out.removed.push(id);
      } else {
        await stopLeftovers(ctx, ctx.layout.runcState(id));
        detachRootfs(ctx, id);
        await writeRecord(ctx.layout, { ...rec, status: 'exited', finished: new Date().toISOString() });
        out.exited.push(id);
      }
    } catch (e) {
      ctx.onWarning({ code: 'W_CONTAINER_CLEANUP', message: `clean up container ${rec.name}: ${(e as Error).message}`, details: { id } });
    }
  }
  return out;
}
