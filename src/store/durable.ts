/**
 * The file primitives the store's crash safety rests on: a file is written whole and fsynced
 * before it is renamed into place, and the directory is fsynced after the rename, so after a crash
 * a name refers either to the old complete file or to the new complete file.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf } from '../errors/index.js';

/** Makes a rename or unlink in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to a new file (never an existing one) and fsyncs it; the caller renames it into place. */
export async function writeDurable(path: string, data: Buffer | string, mode: number): Promise<void> {
  const fh = await open(path, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** lstat, or undefined when nothing is there. */
export async function lstatIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** A directory's entries; none when it does not exist (or is not a directory). */
export async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
}

/** Counts the regular files and bytes under a path (for gc's report). */
export async function tally(path: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const walk = async (p: string): Promise<void> => {
    const st = await lstatIfExists(p);
    if (!st) return;
    if (st.isDirectory()) {
      for (const n of await listDir(p)) await walk(join(p, n));
    } else {
      files++;
      bytes += st.size;
    }
  };
  await walk(path);
  return { files, bytes };
}
