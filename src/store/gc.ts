/**
 * Garbage collection of the store (see docs/store.md "What gc removes"). The caller holds the
 * store's exclusive lock for the whole run, so no blob, metadata file, lease or index.json changes
 * underneath: writers only commit under the shared lock.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf, type BerthError, type WarningSink } from '../errors/index.js';
import { isDigest, isIndexMediaType, isManifestMediaType, type Descriptor, type ImageConfig, type ImageIndex, type Manifest } from '../oci/index.js';
import { FileLock } from '../sys/flock.js';
import { listDir, lstatIfExists, tally } from './durable.js';
import type { StorePaths } from './paths.js';
import { readLease } from './session.js';

const MAX_INDEX_DEPTH = 4;

export interface GcResult {
  removedBlobs: number;
  /** Bytes of blobs, layer metadata and temp files removed. */
  freedBytes: number;
  keptBlobs: number;
  /** Per-layer metadata directories removed. */
  removedLayers: number;
  /** Files removed from sessions of processes that are gone. */
  removedTempFiles: number;
  /** Dead session directories removed. */
  removedSessions: number;
  /**
   * Reachable documents that could not be read; while any exist, gc removes no blobs or layer
   * metadata (it cannot tell what they reach).
   */
  incomplete: string[];
}

/** What gc needs from the store: its paths and verified document reads. */
export interface GcContext {
  paths: StorePaths;
  onWarning: WarningSink;
  readIndex(): Promise<ImageIndex>;
  loadIndex(d: Descriptor): Promise<ImageIndex>;
  loadManifest(d: Descriptor): Promise<Manifest>;
  loadConfig(d: Descriptor): Promise<ImageConfig>;
}

/**
 * 1. Sessions: a session directory whose flock can be taken belongs to a process that is gone and
 *    is removed; a live session's lease is a root.
 * 2. Mark from index.json: indexes (a platform manifest missing from a partial layout is allowed),
 *    manifests, configs, layers, subjects; configs' diff_ids for the layer metadata.
 * 3. Sweep blobs and layer metadata, only when everything reachable could be read.
 */
export async function collectGarbage(ctx: GcContext): Promise<GcResult> {
  const res: GcResult = { removedBlobs: 0, freedBytes: 0, keptBlobs: 0, removedLayers: 0, removedTempFiles: 0, removedSessions: 0, incomplete: [] };
  const blobs = new Set<string>();
  const layers = new Set<string>();

  // Sessions: dead ones are garbage, live ones' leases are roots.
  for (const name of await listDir(ctx.paths.tmp)) {
    const dir = join(ctx.paths.tmp, name);
    let lock: FileLock | undefined;
    try {
      lock = FileLock.tryAcquire(dir, 'exclusive');
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') continue;
      throw e;
    }
    if (!lock) {
      const lease = readLease(dir);
      lease.blobs.forEach((d) => blobs.add(d));
      lease.layers.forEach((d) => layers.add(d));
      continue;
    }
    try {
      const { files, bytes } = await tally(dir);
      await rm(dir, { recursive: true, force: true });
      res.removedSessions++;
      res.removedTempFiles += files;
      res.freedBytes += bytes;
    } finally {
      lock.release();
    }
  }

  // Mark from index.json.
  const index = await ctx.readIndex();
  const visited = new Set<string>();
  const visit = async (d: Descriptor, depth: number): Promise<void> => {
    blobs.add(d.digest);
    if (visited.has(d.digest)) return;
    visited.add(d.digest);
    try {
      if (isIndexMediaType(d.mediaType)) {
        if (depth > MAX_INDEX_DEPTH) throw new Error(`indexes nested more than ${MAX_INDEX_DEPTH} deep`);
        let ix: ImageIndex;
        try {
          ix = await ctx.loadIndex(d);
        } catch (e) {
          // A layout may hold only some platforms of an index (image-layout.md: blobs MAY be missing).
          if (depth > 0 && (e as BerthError).code === 'E_BLOB_NOT_FOUND') return;
          throw e;
        }
        for (const m of ix.manifests) await visit(m, depth + 1);
      } else if (isManifestMediaType(d.mediaType)) {
        let m: Manifest;
        try {
          m = await ctx.loadManifest(d);
        } catch (e) {
          if (depth > 0 && (e as BerthError).code === 'E_BLOB_NOT_FOUND') return;
          throw e;
        }
        blobs.add(m.config.digest);
        for (const l of m.layers) blobs.add(l.digest);
        const config = await ctx.loadConfig(m.config);
        for (const diffId of config.rootfs.diff_ids) layers.add(diffId);
        if (m.subject) blobs.add(m.subject.digest);
      }
    } catch (e) {
      res.incomplete.push(d.digest);
      ctx.onWarning({
        code: 'W_GC_UNREADABLE',
        message: `gc: cannot read ${d.digest} (${(e as Error).message}); nothing is removed until it is fixed`,
        details: { digest: d.digest },
      });
    }
  };
  for (const d of index.manifests) await visit(d, 0);

  if (res.incomplete.length === 0) {
    // Sweep blobs.
    for (const alg of await listDir(ctx.paths.blobs)) {
      const dir = join(ctx.paths.blobs, alg);
      for (const hex of await listDir(dir)) {
        const digest = `${alg}:${hex}`;
        if (!isDigest(digest)) continue; // not a blob name: some other tool's file; leave it
        if (blobs.has(digest)) {
          res.keptBlobs++;
          continue;
        }
        const path = join(dir, hex);
        const st = await lstatIfExists(path);
        if (!st) continue;
        await rm(path, { force: true, recursive: st.isDirectory() });
        res.removedBlobs++;
        res.freedBytes += st.size;
      }
    }
    // Sweep layer metadata.
    // Anything under a diffID's directory goes with it (this is also where unpacked layers are
    // meant to live: a process using one must keep it leased).
    for (const alg of await listDir(ctx.paths.layers)) {
      const dir = join(ctx.paths.layers, alg);
      for (const hex of await listDir(dir)) {
        const diffId = `${alg}:${hex}`;
        if (!isDigest(diffId) || layers.has(diffId)) continue;
        const path = join(dir, hex);
        const { bytes } = await tally(path);
        await rm(path, { recursive: true, force: true });
        res.removedLayers++;
        res.freedBytes += bytes;
      }
    }
  } else {
    res.incomplete.sort();
  }
  return res;
}
