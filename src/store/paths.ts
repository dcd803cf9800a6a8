/**
 * Where the store lives and how it is laid out on disk (see docs/store.md):
 *
 *   <root>/oci-layout                      {"imageLayoutVersion":"1.0.0"}
 *   <root>/index.json                      OCI image index: one entry per image name
 *   <root>/blobs/<alg>/<hex>               content-addressed blobs (read-only files)
 *   <root>/berth/lock                      flock: shared for writers' commits, exclusive for index.json and gc
 *   <root>/berth/lock.gate                 flock turnstile in front of berth/lock (fair hand-over)
 *   <root>/berth/tmp/<session>/            one per writing process: temp files + its lease, flocked while alive
 *   <root>/berth/layers/<alg>/<hex>/       per-layer metadata, keyed by diffID (files.json, ids.json)
 */
import { join, isAbsolute } from 'node:path';
import { BerthError } from '../errors/index.js';
import { parseDigest } from '../oci/digest.js';

/**
 * The default store root: $BERTH_ROOT if set; /var/lib/berth for uid 0; otherwise
 * ${XDG_DATA_HOME:-$HOME/.local/share}/berth (XDG base directory spec: a relative XDG_DATA_HOME
 * is invalid and ignored). Pure: the caller passes the environment and uid.
 */
export function defaultStoreRoot(env: Readonly<Record<string, string | undefined>>, uid: number): string {
  if (env.BERTH_ROOT) return env.BERTH_ROOT;
  if (uid === 0) return '/var/lib/berth';
  const xdg = env.XDG_DATA_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'berth');
  if (!env.HOME) {
    throw new BerthError('E_STORE_ROOT', 'choose store location: neither BERTH_ROOT, XDG_DATA_HOME nor HOME is set', {
      hint: 'set BERTH_ROOT or pass --root DIR',
    });
  }
  return join(env.HOME, '.local', 'share', 'berth');
}

export class StorePaths {
  readonly root: string;
  readonly ociLayout: string;
  readonly indexJson: string;
  readonly blobs: string;
  readonly berth: string;
  readonly lock: string;
  readonly lockGate: string;
  readonly tmp: string;
  readonly layers: string;

  constructor(root: string) {
    this.root = root;
    this.ociLayout = join(root, 'oci-layout');
    this.indexJson = join(root, 'index.json');
    this.blobs = join(root, 'blobs');
    this.berth = join(root, 'berth');
    this.lock = join(this.berth, 'lock');
    this.lockGate = join(this.berth, 'lock.gate');
    this.tmp = join(this.berth, 'tmp');
    this.layers = join(this.berth, 'layers');
  }

  /** Validates the digest (E_DIGEST_INVALID) so no caller can build a path from junk. */
  blob(digest: string): string {
    const d = parseDigest(digest);
    return join(this.blobs, d.algorithm, d.hex);
  }

  blobDir(digest: string): string {
    return join(this.blobs, parseDigest(digest).algorithm);
  }

  layer(diffId: string): string {
    const d = parseDigest(diffId);
    return join(this.layers, d.algorithm, d.hex);
  }
}
