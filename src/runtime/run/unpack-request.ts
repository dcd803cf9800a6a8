/**
 * What the parent tells the in-namespace unpacker, and the owner mapping both sides agree on.
 * Pure: the container map sends each layer owner to the ID of the namespace doing the unpack
 * (userns.md U1); an owner it cannot hold stops the layer with the IDs and the range available.
 */
import { BerthError } from '../../errors/index.js';
import { describeMap, toHost, type IdMap } from '../../idmap/index.js';

export interface UnpackRequest {
  /** Store root. */
  root: string;
  /** Layer blob digests, base first. */
  layers: string[];
  /** Absolute directory to unpack into (exists, empty). */
  target: string;
  /** Container ID -> unpacking namespace ID; absent: identity (container IDs are the namespace's). */
  uidMap?: IdMap;
  gidMap?: IdMap;
}

/** The owner mapping for applyLayer, or undefined for the identity. */
export function mapOwnerThrough(req: Pick<UnpackRequest, 'uidMap' | 'gidMap'>): ((uid: number, gid: number) => { uid: number; gid: number }) | undefined {
  const { uidMap, gidMap } = req;
  if (!uidMap && !gidMap) return undefined;
  return (uid, gid) => {
    const u = uidMap ? toHost(uidMap, uid) : uid;
    const g = gidMap ? toHost(gidMap, gid) : gid;
    if (u === undefined || g === undefined) {
      throw new BerthError('E_RUN_OWNER_UNMAPPED', `unpack: a file is owned by ${uid}:${gid} but the container maps only uids ${describeMap(uidMap ?? [])} and gids ${describeMap(gidMap ?? [])}`, {
        hint: 'choose a --userns mode or --uidmap/--gidmap that covers every owner in the image (berth explain lists them)',
        details: { uid, gid },
      });
    }
    return { uid: u, gid: g };
  };
}
