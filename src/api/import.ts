/**
 * api/import: `berth import SOURCE NAME[:TAG] [--change ...]`. SOURCE is a rootfs directory (read
 * with every xattr, owner, mode, hardlink, device and FIFO), a tarball (gzip, zstd or plain), or
 * '-' for stdin. The result is a one-layer image with a gzip layer and its file index.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { BerthError, ignoreWarnings, type WarningSink } from '../errors/index.js';
import { packDirectory } from '../layer/pack.js';
import { decodeTar } from '../layer/tar/index.js';
import { decompress } from '../layer/compress.js';
import { applyChanges, type RunConfig } from '../build/dockerfile/changes.js';
import { parseReference } from '../oci/index.js';
import { checkOptions, requireString, type StoreOptions } from './options.js';
import { openStore } from './store.js';
import { writeLayer } from './layers.js';
import { withContext } from './context.js';
import { commitImage, hostPlatform } from './image.js';

export interface ImportOptions extends StoreOptions {
  /** A directory, a tar file (optionally gzip/zstd), '-' for stdin, or a readable stream. */
  source: string | NodeJS.ReadableStream;
  /** NAME[:TAG]. */
  reference: string;
  /** Dockerfile instructions applied to the config, like `docker import --change`. */
  changes?: string[];
  /** Commit message recorded in the image history. */
  message?: string;
}

export interface ImportResult {
  reference: string;
  id: string;
  digest: string;
  layer: { digest: string; diffId: string; size: number; entries: number };
}

const KEYS = ['root', 'onWarning', 'source', 'reference', 'changes', 'message'] as const;

export async function importImage(options: ImportOptions): Promise<ImportResult> {
  const o = checkOptions('import', options, KEYS);
  const onWarning: WarningSink = o.onWarning ?? ignoreWarnings;
  const ref = parseReference(requireString('import', 'reference', o.reference));
  // Validate --change before reading anything.
  const runConfig: RunConfig = applyChanges({}, o.changes ?? []);

  let entries: AsyncIterable<{ header: import('../layer/tar/types.js').TarHeader; body?: AsyncIterable<Buffer> }>;
  let sourceName: string;
  if (typeof o.source === 'string' && o.source !== '-') {
    const st = await stat(o.source).catch((e: NodeJS.ErrnoException) => {
      throw new BerthError('E_IMPORT_SOURCE', `import ${o.source}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`, {
        hint: 'SOURCE is a rootfs directory, a tar file (.tar, .tar.gz, .tar.zst) or - for stdin',
        cause: e,
      });
    });
    sourceName = o.source;
    if (st.isDirectory()) entries = packDirectory(o.source, { onWarning });
    else if (st.isFile()) entries = decodeTar(decompress(createReadStream(o.source, { highWaterMark: 1 << 20 })), { onWarning });
    else throw new BerthError('E_IMPORT_SOURCE', `import ${o.source}: not a directory or a regular file`, { hint: 'SOURCE is a rootfs directory, a tar file or - for stdin' });
  } else {
    const stream = typeof o.source === 'string' ? process.stdin : o.source;
    sourceName = '-';
    entries = decodeTar(decompress(stream as AsyncIterable<Buffer>), { onWarning });
  }

  return withContext(`import ${sourceName}`, async () => {
    const store = await openStore(o);
    const layer = await writeLayer(store, entries);
    const created = new Date().toISOString();
    const { manifestDigest, configDigest } = await commitImage(store, {
      reference: ref,
      layers: [layer],
      config: {
        created,
        ...hostPlatform(),
        config: runConfig,
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
        history: [{ created, created_by: `berth import ${sourceName}`, comment: o.message ?? 'imported' }],
      },
    });
    return {
      reference: ref.toString(),
      id: configDigest,
      digest: manifestDigest,
      layer: { digest: layer.descriptor.digest, diffId: layer.diffId, size: layer.descriptor.size, entries: layer.entries },
    };
  });
}
