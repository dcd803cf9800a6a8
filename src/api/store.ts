/**
 * api/store: opening the store for a use case (root chosen once from options or the environment),
 * and loading what `explain` and `run` need about an image without reading its layers.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Store, defaultStoreRoot } from '../store/index.js';
import { mergeFileIndexes, parseView, serializeView, type FileIndex, type ImageFileView } from '../layer/fileindex.js';
import { chainId, type ImageConfig } from '../oci/index.js';
import { BerthError, errnoOf, isBerthError } from '../errors/index.js';
import type { StoreOptions } from './options.js';

export async function openStore(o: Pick<StoreOptions, 'root'>, mode: { create?: boolean } = { create: true }): Promise<Store> {
  const root = o.root ?? defaultStoreRoot(process.env, process.geteuid?.() ?? 0);
  return Store.open(root, { create: mode.create ?? true });
}

/** An image as stored: its config and the merged view of its per-layer file indexes. */
export interface ImageFacts {
  reference?: string;
  id: string;
  digest: string;
  config: ImageConfig;
  view: ImageFileView;
  layers: { digest: string; diffId: string }[];
}

export async function loadImageFacts(store: Store, ref: string): Promise<ImageFacts> {
  const img = await store.resolveImage(ref);
  const diffIds: string[] = img.config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== img.manifest.layers.length) {
    throw new BerthError('E_IMAGE_INVALID', `load image ${ref}: config has ${diffIds.length} diff_ids but the manifest has ${img.manifest.layers.length} layers`, {
      hint: 'the image is corrupt; remove it with `berth rmi` and import or load it again',
    });
  }
  return {
    reference: img.reference?.toString(),
    id: img.configDescriptor.digest,
    digest: img.manifestDescriptor.digest,
    config: img.config,
    view: await loadView(store, ref, diffIds.map((diffId, i) => ({ diffId, digest: img.manifest.layers[i].digest }))),
    layers: diffIds.map((diffId, i) => ({ digest: img.manifest.layers[i].digest, diffId })),
  };
}

/**
 * The merged file view of a layer stack. Merging thousands of entries costs more than parsing the
 * result, so the view is kept beside the top layer's metadata, keyed by the chain ID (it depends on
 * every layer below); gc removes it with that layer.
 */
async function indexLayerNow(store: Store, digest: string, diffId: string, ref: string): Promise<FileIndex> {
  const { indexStoredLayer } = await import('./layers.js');
  const { putLayerMetadata } = await import('./image.js');
  const st = await store.statBlob(digest);
  if (!st) {
    throw new BerthError('E_LAYER_INDEX_MISSING', `load image ${ref}: layer ${digest} is not in the store`, { hint: 'pull or load the image again' });
  }
  const layer = await indexStoredLayer(store, { mediaType: '', digest, size: st.size });
  if (layer.diffId !== diffId) {
    throw new BerthError('E_IMAGE_INVALID', `load image ${ref}: layer ${digest} uncompresses to ${layer.diffId}, but the config says ${diffId}`, { hint: 'the image is corrupt; remove it and pull it again' });
  }
  try {
    await putLayerMetadata(store, [layer]);
  } catch (e) {
    // A store this user may read but not write: the index is still right, only not kept.
    if (errnoOf(e) !== 'EACCES' && errnoOf(e) !== 'EROFS' && errnoOf(e) !== 'EPERM') throw e;
  }
  return layer.index;
}

/**
 * Views parsed in this process, by cache file. A chain ID names one layer stack and its view never
 * changes, so a long-running process (many run() calls) parses each once. Bounded: the oldest goes.
 */
const parsedViews = new Map<string, ImageFileView>();
const PARSED_VIEWS_MAX = 16;

export async function loadView(store: Store, ref: string, layers: readonly { diffId: string; digest?: string }[]): Promise<ImageFileView> {
  const diffIds = layers.map((l) => l.diffId);
  if (diffIds.length === 0) return mergeFileIndexes([]);
  const dir = store.layerPath(diffIds[diffIds.length - 1]);
  const cache = join(dir, `view-${chainId(diffIds).split(':')[1]}.json`);
  const known = parsedViews.get(cache);
  if (known) return known;
  try {
    const view = parseView(await readFile(cache), cache);
    if (parsedViews.size >= PARSED_VIEWS_MAX) parsedViews.delete(parsedViews.keys().next().value!);
    parsedViews.set(cache, view);
    return view;
  } catch (e) {
    // Missing (first use) or damaged: merge again below and rewrite it.
    if (errnoOf(e) !== 'ENOENT' && !isBerthError(e)) throw e;
  }
  const indexes = [];
  for (const { diffId, digest } of layers) {
    let index = await store.getLayerIndex(diffId);
    // A layer pulled without unpacking is indexed by the first command that needs it.
    if (!index && digest !== undefined) index = await indexLayerNow(store, digest, diffId, ref);
    if (!index) {
      throw new BerthError('E_LAYER_INDEX_MISSING', `load image ${ref}: no file index for layer ${diffId}`, {
        hint: 'the store is missing berth metadata for this image; load or import it again',
      });
    }
    indexes.push(index);
  }
  const view = mergeFileIndexes(indexes);
  const tmp = `${cache}.tmp-${process.pid}`;
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(tmp, serializeView(view));
    await rename(tmp, cache);
  } catch (e) {
    // A store this user may read but not write (another user's, or read-only media): the view is
    // still correct, only not cached.
    if (errnoOf(e) !== 'EACCES' && errnoOf(e) !== 'EROFS' && errnoOf(e) !== 'EPERM') throw e;
  }
  return view;
}
