/**
 * api/unpack: `berth unpack IMAGE DIR` applies an image's layers, in order, into a rootfs directory.
 * Every path is resolved inside DIR; as a plain user (no user namespace) it keeps what it can and
 * warns once per class of loss.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { BerthError, ignoreWarnings, type WarningSink } from '../errors/index.js';
import { applyLayer, type ApplyStats } from '../layer/unpack.js';
import { readHostFacts } from '../host/index.js';
import { checkOptions, requireString, type StoreOptions } from './options.js';
import { openStore } from './store.js';
import { readLayer } from './layers.js';
import { withContext } from './context.js';

export interface UnpackOptions extends StoreOptions {
  image: string;
  target: string;
}

export interface UnpackResult {
  target: string;
  layers: { digest: string; stats: ApplyStats }[];
}

const KEYS = ['root', 'onWarning', 'image', 'target'] as const;

export type Privilege = 'root' | 'userns' | 'unprivileged';

export async function hostPrivilege(): Promise<Privilege> {
  const facts = await readHostFacts();
  if (facts.mode === 'rootful') return 'root';
  if (facts.mode === 'in-userns') return 'userns';
  return 'unprivileged';
}

export async function unpackImage(options: UnpackOptions): Promise<UnpackResult> {
  const o = checkOptions('unpack', options, KEYS);
  const onWarning: WarningSink = o.onWarning ?? ignoreWarnings;
  const image = requireString('unpack', 'image', o.image);
  const target = requireString('unpack', 'target', o.target);
  return withContext(`unpack ${image}`, async () => {
    const store = await openStore(o, { create: false });
    const img = await store.resolveImage(image);

    await mkdir(target, { recursive: true });
    const existing = await readdir(target);
    if (existing.length > 0) {
      throw new BerthError('E_UNPACK_TARGET_NOT_EMPTY', `unpack ${image}: target ${target} is not empty`, {
        hint: 'give a new or empty directory; berth never merges an image into existing files',
      });
    }
    const privilege = await hostPrivilege();
    const layers: UnpackResult['layers'] = [];
    for (const layer of img.manifest.layers) {
      const stats = await withContext(`unpack ${image} layer ${layer.digest}`, () =>
        applyLayer(target, readLayer(store, layer.digest, { onWarning }), { onWarning, privilege, layerName: layer.digest }),
      );
      layers.push({ digest: layer.digest, stats });
    }
    return { target, layers };
  });
}
