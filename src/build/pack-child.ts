/**
 * The berth-internal program that commits a rootless build step INSIDE the user namespace: the
 * upper directory a step wrote holds files owned by subordinate IDs, which only the namespace's
 * root may read, and there the owners already read as the image's IDs and `security.capability`
 * reads as the v2 value the step set (the kernel converts the namespace's v3). It writes the layer
 * blob and its metadata into the store, as the user who owns the store.
 *
 * Protocol (like the unpack child): argv[2] is a JSON request `{root, upper}`; stdout carries one
 * JSON object per line: `{"warning":{...}}`, then `{"layer":{descriptor,diffId,entries}}` or
 * `{"error":{code,message,hint,details}}`.
 */
import { Store } from '../store/index.js';
import type { Warning } from '../errors/index.js';
import { emit, runChild } from '../runtime/run/child-protocol.js';
import { writeLayer } from '../api/layers.js';
import { putLayerMetadata } from '../api/image.js';
import { upperDirEntries } from './diff.js';

async function main(): Promise<void> {
  const req = JSON.parse(process.argv[2] ?? '{}') as { root: string; upper: string };
  const store = await Store.open(req.root, { create: false });
  try {
    const onWarning = (w: Warning) => emit({ warning: w });
    const layer = await writeLayer(store, upperDirEntries(req.upper, { onWarning }));
    if (layer.entries > 0) await putLayerMetadata(store, [layer]);
    emit({ layer: { descriptor: layer.descriptor, diffId: layer.diffId, entries: layer.entries } });
  } finally {
    await store.close();
  }
}

runChild(main, 'E_BUILD_COMMIT_FAILED');
