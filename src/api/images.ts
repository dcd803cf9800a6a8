/**
 * api/images: listing, inspecting, tagging and removing images, and garbage collection.
 */
import { parseReference } from '../oci/index.js';
import { checkOptions, requireString, type StoreOptions } from './options.js';
import { openStore } from './store.js';

export async function listImages(options: StoreOptions = {}) {
  const o = checkOptions('images', options, ['root', 'onWarning']);
  const store = await openStore(o, { create: false }).catch(() => undefined);
  if (!store) return [];
  return store.listImages();
}

export async function inspectImage(options: StoreOptions & { image: string }) {
  const o = checkOptions('inspect', options, ['root', 'onWarning', 'image']);
  const store = await openStore(o, { create: false });
  const img = await store.resolveImage(requireString('inspect', 'image', o.image));
  return {
    reference: img.reference?.toString(),
    id: img.configDescriptor.digest,
    digest: img.manifestDescriptor.digest,
    manifest: img.manifest,
    config: img.config,
  };
}

export async function tagImage(options: StoreOptions & { source: string; target: string }) {
  const o = checkOptions('tag', options, ['root', 'onWarning', 'source', 'target']);
  const store = await openStore(o, { create: false });
  const target = parseReference(requireString('tag', 'target', o.target));
  await store.tag(requireString('tag', 'source', o.source), target);
  return { target: target.toString() };
}

export async function removeImages(options: StoreOptions & { images: string[]; force?: boolean }) {
  const o = checkOptions('rmi', options, ['root', 'onWarning', 'images', 'force']);
  const store = await openStore(o, { create: false });
  const out = [];
  for (const ref of o.images) out.push(await store.removeImage(ref, { force: o.force === true }));
  await store.gc();
  return out;
}

export async function collectGarbage(options: StoreOptions = {}) {
  const o = checkOptions('gc', options, ['root', 'onWarning']);
  const store = await openStore(o, { create: false });
  return store.gc();
}
