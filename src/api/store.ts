/**
 * api/store: opening the store for a use case (root chosen once from options or the environment),
 * and loading what `explain` and `run` need about an image without reading its layers.
 */
import { Store, defaultStoreRoot } from '../store/index.js';
import { mergeFileIndexes, type FileIndex, type ImageFileView } from '../layer/fileindex.js';
import { BerthError } from '../errors/index.js';
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
  config: import('../oci/index.js').ImageConfig;
  view: ImageFileView;
  layers: { digest: string; diffId: string; index: FileIndex }[];
}

export async function loadImageFacts(store: Store, ref: string): Promise<ImageFacts> {
  const img = await store.resolveImage(ref);
  const diffIds: string[] = img.config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== img.manifest.layers.length) {
    throw new BerthError('E_IMAGE_INVALID', `load image ${ref}: config has ${diffIds.length} diff_ids but the manifest has ${img.manifest.layers.length} layers`, {
      hint: 'the image is corrupt; remove it with `berth rmi` and import or load it again',
    });
  }
  const layers = [];
  for (let i = 0; i < diffIds.length; i++) {
    const index = await store.getLayerIndex(diffIds[i]);
    if (!index) {
      throw new BerthError('E_LAYER_INDEX_MISSING', `load image ${ref}: no file index for layer ${diffIds[i]}`, {
        hint: 'the store is missing berth metadata for this image; load or import it again',
      });
    }
    layers.push({ digest: img.manifest.layers[i].digest, diffId: diffIds[i], index });
  }
  return {
    reference: img.reference?.toString(),
    id: img.configDescriptor.digest,
    digest: img.manifestDescriptor.digest,
    config: img.config,
    view: mergeFileIndexes(layers.map((l) => l.index)),
    layers,
  };
}
