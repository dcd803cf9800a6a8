/**
 * The unpacked rootfs of an image, cached in the store and shared read-only by every container
 * of that image as the overlay's lower layer (docs/run.md "Rootfs cache").
 *
 * Key: `berth/rootfs/<chain ID hex>[-<map hash>]`. The chain ID names the layer stack; the suffix
 * appears when container IDs are not written as themselves (a container user namespace), because
 * the owners on disk then differ. `ready.json`, written last by rename, marks a complete tree and
 * records the maps the owners were written through: a rootless cache is refused with
 * E_SUBID_CHANGED when /etc/subuid or /etc/subgid changed since (userns.md Step 2).
 *
 * Unpacking happens once, under a per-entry flock, so concurrent first runs of an image wait for
 * one unpack instead of racing. Rootful, berth applies the layers itself; rootless, a berth-internal
 * Node program does it as uid 0 of the intermediate user namespace (unpack-child.ts), so the
 * owners land on the subordinate IDs and file capabilities keep working (userns.md U1-U3).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BerthError, errnoOf, type Warning, type WarningSink } from '../../errors/index.js';
import type { HostFacts } from '../../host/index.js';
import { compareStoredMap, describeMap, type IdMap } from '../../idmap/index.js';
import { layerEntries } from './layers.js';
import { applyLayer } from '../../layer/unpack.js';
import type { TarEntry } from '../../layer/tar/types.js';
import type { Store } from '../../store/index.js';
import { FileLock } from '../../sys/flock.js';
import { spawnInUserNamespace } from '../userns/index.js';
import type { ContainerLayout } from './layout.js';
import { mapOwnerThrough, type UnpackRequest } from './unpack-request.js';
import { readChildReport } from './child-protocol.js';

const READY_VERSION = 1;

export interface RootfsRequest {
  store: Store;
  layout: ContainerLayout;
  /** Chain ID of the image's layers, and the layer blob digests base first. */
  chainId: string;
  layers: readonly string[];
  facts: HostFacts;
  /** The maps of the namespace runc runs in (rootless: the intermediate map; rootful: identity). */
  namespace: { uidMap: IdMap; gidMap: IdMap; rootless: boolean };
  /** Container ID -> namespace ID when the container has its own user namespace; absent: identity. */
  containerMaps?: { uidMap: IdMap; gidMap: IdMap };
  onWarning: WarningSink;
  /** Rootful: where a layer's entries come from (default: read from the store). */
  entries?: (digest: string) => AsyncIterable<TarEntry>;
}

export interface CachedRootfs {
  /** Directory name under berth/rootfs (the cache key). */
  key: string;
  /** Absolute path of the entry directory and of its rootfs tree. */
  entry: string;
  rootfs: string;
  /** True when this call unpacked it. */
  unpacked: boolean;
}

interface Ready {
  version: number;
  chainId: string;
  namespace: { uidMap: IdMap; gidMap: IdMap; rootless: boolean };
  containerMaps?: { uidMap: IdMap; gidMap: IdMap };
}

/** The cache key: chain ID hex, plus a hash of the container maps when owners are rewritten. */
export function rootfsKey(chainId: string, containerMaps?: { uidMap: IdMap; gidMap: IdMap }): string {
  const hex = chainId.slice(chainId.indexOf(':') + 1);
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new BerthError('E_DIGEST_INVALID', `rootfs cache: chain ID ${chainId} is not a sha256 digest`);
  if (!containerMaps) return hex;
  const h = createHash('sha256').update(`uid ${describeMap(containerMaps.uidMap)}\ngid ${describeMap(containerMaps.gidMap)}\n`).digest('hex');
  return `${hex}-${h.slice(0, 12)}`;
}

async function readReady(path: string): Promise<Ready | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const r = JSON.parse(text) as Ready;
    if (r.version === READY_VERSION && typeof r.chainId === 'string' && r.namespace && Array.isArray(r.namespace.uidMap) && Array.isArray(r.namespace.gidMap)) return r;
  } catch {
    // damaged: treated as missing below, and the tree is unpacked again
  }
  return undefined;
}

/** Checks a ready entry against the current namespace (E_SUBID_CHANGED when the maps moved). */
function checkReady(r: Ready, req: RootfsRequest): boolean {
  if (r.namespace.rootless !== req.namespace.rootless) return false;
  if (req.namespace.rootless) compareStoredMap({ uidMap: r.namespace.uidMap, gidMap: r.namespace.gidMap }, { uidMap: req.namespace.uidMap, gidMap: req.namespace.gidMap });
  return true;
}

/** Returns the cached rootfs of the image, unpacking it first when needed. */
export async function ensureRootfs(req: RootfsRequest): Promise<CachedRootfs> {
  const key = rootfsKey(req.chainId, req.containerMaps);
  const entry = join(req.layout.rootfsCache, key);
  const rootfs = join(entry, 'rootfs');
  const readyPath = join(entry, 'ready.json');
  const fast = await readReady(readyPath);
  if (fast && checkReady(fast, req)) return { key, entry, rootfs, unpacked: false };

  await mkdir(req.layout.rootfsCache, { recursive: true, mode: 0o700 });
  const lock = await FileLock.acquire(join(req.layout.rootfsCache, `${key}.lock`), 'exclusive', { timeoutMs: 30 * 60_000 });
  try {
    const again = await readReady(readyPath);
    if (again && checkReady(again, req)) return { key, entry, rootfs, unpacked: false };
    if (again) {
      // Unpacked for another kind of namespace (the store was used both as root and rootless):
      // the owners on disk mean something else here.
      throw new BerthError('E_RUN_ROOTFS_MISMATCH', `prepare rootfs ${req.chainId}: the cached rootfs was unpacked ${again.namespace.rootless ? 'rootless' : 'as root'}, but berth now runs ${req.namespace.rootless ? 'rootless' : 'as root'}`, {
        hint: `use a store of your own (--root DIR) for ${req.namespace.rootless ? 'rootless' : 'rootful'} runs, or remove ${entry}`,
        details: { entry },
      });
    }
    if (req.namespace.rootless) await unpackRootless(req, entry, rootfs);
    else await unpackHere(req, rootfs);
    const ready: Ready = {
      version: READY_VERSION,
      chainId: req.chainId,
      namespace: req.namespace,
      ...(req.containerMaps ? { containerMaps: req.containerMaps } : {}),
    };
    const tmp = `${readyPath}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify(ready)}\n`, { mode: 0o644 });
    await rename(tmp, readyPath);
    return { key, entry, rootfs, unpacked: true };
  } finally {
    lock.release();
  }
}

/** Rootful (or already root in a namespace): apply the layers in this process. */
async function unpackHere(req: RootfsRequest, rootfs: string): Promise<void> {
  // A tree without ready.json is what an interrupted unpack left: start over.
  await rm(rootfs, { recursive: true, force: true });
  await mkdir(rootfs, { recursive: true, mode: 0o755 });
  const mapOwner = mapOwnerThrough(req.containerMaps ?? {});
  const privilege = req.facts.mode === 'rootful' ? 'root' : 'userns';
  for (const layer of req.layers) {
    await applyLayer(rootfs, req.entries ? req.entries(layer) : layerEntries(req.store, layer, req.onWarning), {
      onWarning: req.onWarning,
      privilege,
      layerName: layer,
      ...(mapOwner ? { mapOwner } : {}),
    });
  }
}

/**
 * A berth-internal program (compiled to dist/src), found next to the calling module or, from the
 * CLI bundle (dist/bundle), in the package's dist/src: `relative` is its path below src/.
 */
export function berthProgram(moduleUrl: string, sibling: string, relative: string, what: string): string {
  const candidates = [new URL(`./${sibling}`, moduleUrl), new URL(`../src/${relative}`, moduleUrl)];
  for (const c of candidates) {
    const p = fileURLToPath(c);
    if (existsSync(p)) return p;
  }
  throw new BerthError('E_INSTALL_BROKEN', `${what}: berth's program ${relative} is missing from the installation`, {
    hint: 'reinstall berth: the package must ship dist/src as well as dist/bundle',
    details: { searched: candidates.map((c) => fileURLToPath(c)) },
  });
}

/** The compiled unpack-child.js. */
export function unpackChildPath(): string {
  return berthProgram(import.meta.url, 'unpack-child.js', 'runtime/run/unpack-child.js', 'prepare rootfs');
}

/** Rootless: unpack inside the intermediate namespace, as its uid 0. */
async function unpackRootless(req: RootfsRequest, entry: string, rootfs: string): Promise<void> {
  const request: UnpackRequest = {
    root: req.store.root,
    layers: [...req.layers],
    target: rootfs,
    ...(req.containerMaps ? { uidMap: req.containerMaps.uidMap, gidMap: req.containerMaps.gidMap } : {}),
  };
  // The old tree (an interrupted unpack) may hold files owned by subordinate IDs: only the
  // namespace's root can remove them, so the child's shell does it.
  await mkdir(entry, { recursive: true, mode: 0o755 });
  const script = 'rm -rf "$1" && mkdir -m 0755 "$1" && shift && exec "$@"';
  const child = await spawnInUserNamespace(
    '/bin/sh',
    ['-c', script, 'berth-unpack', rootfs, process.execPath, unpackChildPath(), JSON.stringify(request)],
    { uidMap: req.namespace.uidMap, gidMap: req.namespace.gidMap },
    { stdio: ['ignore', 'pipe', 'pipe'], facts: req.facts, cwd: dirname(entry) },
  );
  const report = await readChildReport(child, req.onWarning);
  if (!report.results.some((r) => r.done === true) || report.status.code !== 0) {
    throw new BerthError('E_RUN_UNPACK_FAILED', `prepare rootfs ${req.chainId}: the unpacker in the user namespace ${report.status.signal ? `was killed by ${report.status.signal}` : `exited with status ${String(report.status.code)}`}${report.stderr.trim() ? `: ${report.stderr.trim().slice(0, 2000)}` : ''}`, {
      hint: 'run the command again; if it persists, report it with the message above',
      details: { code: report.status.code, signal: report.status.signal },
    });
  }
}
