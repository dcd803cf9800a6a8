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
import { isBerthError, type Warning } from '../../errors/index.js';
import { mapOwnerThrough, type UnpackRequest } from './unpack-request.js';

function emit(o: unknown): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

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

main().then(
  () => emit({ done: true }),
  (e: unknown) => {
    if (isBerthError(e)) emit({ error: { code: e.code, message: e.message, hint: e.hint, details: e.details } });
    else emit({ error: { code: 'E_RUN_UNPACK_FAILED', message: (e as Error)?.stack ?? String(e) } });
    process.exitCode = 1;
  },
);
