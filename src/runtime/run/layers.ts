/**
 * A stored layer as tar entries, for the rootfs cache: the blob (digest verified while it streams),
 * decompressed with the codec's bomb limits, then decoded. The same pipeline `berth unpack` uses;
 * kept here so the runtime depends on layer/ and store/, never on the api/ use cases.
 */
import type { WarningSink } from '../../errors/index.js';
import { decompress } from '../../layer/compress.js';
import { decodeTar } from '../../layer/tar/index.js';
import type { TarEntry } from '../../layer/tar/types.js';
import type { Store } from '../../store/index.js';

export function layerEntries(store: Store, digest: string, onWarning: WarningSink): AsyncGenerator<TarEntry> {
  return decodeTar(decompress(store.openBlob(digest)), { onWarning });
}
