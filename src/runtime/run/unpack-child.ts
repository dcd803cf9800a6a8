/**
 * The berth-internal program that unpacks an image's layers INSIDE the rootless user namespace
 * (userns.md section 3, "Unpacking rules"): started by rootfs.ts under spawnInUserNamespace, it
 * runs as uid 0 of that namespace, so every chown lands on the subordinate ID the owner maps to and
 * `security.capability` is written the way the kernel converts it for that namespace (U3).
 *
 * Protocol: argv[2] is a JSON request; stdout carries one JSON object per line:
 * `{"warning":{...}}` for each warning, then `{"done":true}` or `{"error":{code,message,hint,details}}`.
 */
import { Store } from '../../store/index.js';
import { layerEntries } from './layers.js';
import { applyLayer } from '../../layer/unpack.js';
import type { Warning } from '../../errors/index.js';
import { emit, runChild } from './child-protocol.js';
import { mapOwnerThrough, type UnpackRequest } from './unpack-request.js';

async function main(): Promise<void> {
  const req = JSON.parse(process.argv[2] ?? '{}') as UnpackRequest;
  const store = await Store.open(req.root, { create: false });
  try {
    const onWarning = (w: Warning) => emit({ warning: w });
    const mapOwner = mapOwnerThrough(req);
    for (const layer of req.layers) {
      await applyLayer(req.target, layerEntries(store, layer, onWarning), {
        onWarning,
        privilege: 'userns',
        layerName: layer,
        ...(mapOwner ? { mapOwner } : {}),
      });
    }
  } finally {
    await store.close();
  }
}

runChild(async () => {
  await main();
  emit({ done: true });
}, 'E_RUN_UNPACK_FAILED');
