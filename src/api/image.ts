/**
 * api/image: committing an image (config + manifest) to the store with its per-layer metadata.
 */
import type { Store } from '../store/index.js';
import { MEDIA_TYPES, linuxPlatform, type ImageConfig, type Manifest, type Reference } from '../oci/index.js';
import type { WrittenLayer } from './layers.js';

/** The host platform in OCI terms (GOARCH names). */
export function hostPlatform(): { architecture: string; os: string } {
  return linuxPlatform(process.arch);
}

export interface CommitInput {
  reference?: Reference;
  layers: Pick<WrittenLayer, 'descriptor' | 'diffId' | 'index' | 'uids' | 'gids'>[];
  config: ImageConfig;
}

/** Stores each layer's file index and owner ID sets (before the image is named: gc keeps them leased). */
export async function putLayerMetadata(store: Store, layers: CommitInput['layers']): Promise<void> {
  for (const l of layers) {
    await store.putLayerIndex(l.diffId, l.index);
    await store.putLayerIds(l.diffId, { uids: l.uids, gids: l.gids });
  }
}

/** Stores layer metadata, then config and manifest, then points the reference at the manifest. */
export async function commitImage(store: Store, input: CommitInput): Promise<{ manifestDigest: string; configDigest: string }> {
  await putLayerMetadata(store, input.layers);
  const configBytes = Buffer.from(JSON.stringify(input.config));
  const configDesc = await store.putBlob(configBytes);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: configDesc.digest, size: configDesc.size },
    layers: input.layers.map((l) => l.descriptor),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDesc = await store.putBlob(manifestBytes);
  if (input.reference) {
    await store.setRef(input.reference, { mediaType: MEDIA_TYPES.ociManifest, digest: manifestDesc.digest, size: manifestDesc.size });
  }
  return { manifestDigest: manifestDesc.digest, configDigest: configDesc.digest };
}
