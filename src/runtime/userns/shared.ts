/**
 * A user namespace kept for the life of this process, for callers that start many programs with
 * the same maps (the library's run(), a build's steps). Creating a namespace with the full
 * subordinate map takes three children (unshare, newuidmap, newgidmap) and a verification; joining
 * a live one takes one (nsenter). The holder is `sh -c read` with a pipe on its stdin: it exits
 * when that pipe closes, which happens when this process exits, however it exits (SIGKILL
 * included), and it never keeps the event loop alive.
 *
 * One holder per map pair; a holder that has exited is replaced on the next call. Changed
 * /etc/subuid or /etc/subgid mean other maps, hence another holder.
 */
import type { HostFacts } from '../../host/index.js';
import type { IdMap } from '../../idmap/index.js';
import { spawnInUserNamespace, type UserNsChild } from './holder.js';

interface Held {
  child: UserNsChild;
  alive: boolean;
}

const holders = new Map<string, Promise<Held>>();

/** The holder of a namespace with these maps, started on first use. */
export async function sharedUserNamespace(maps: { uidMap: IdMap; gidMap: IdMap }, facts: HostFacts): Promise<UserNsChild> {
  const key = JSON.stringify([maps.uidMap, maps.gidMap]);
  const known = holders.get(key);
  if (known) {
    const held = await known.catch(() => undefined);
    if (held?.alive) return held.child;
    holders.delete(key);
  }
  const started = (async (): Promise<Held> => {
    const child = await spawnInUserNamespace('sh', ['-c', 'read _'], { uidMap: maps.uidMap, gidMap: maps.gidMap }, { stdio: ['pipe', 'ignore', 'ignore'], facts });
    const held: Held = { child, alive: true };
    child.on('exit', () => {
      held.alive = false;
      if (holders.get(key) === started) holders.delete(key);
    });
    child.stdin?.on('error', () => {
      // The holder went away; the next call starts another.
    });
    child.unref();
    return held;
  })();
  holders.set(key, started);
  try {
    return (await started).child;
  } catch (e) {
    holders.delete(key);
    throw e;
  }
}
