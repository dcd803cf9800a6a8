/**
 * build/diff: the layer of one build step, read from the overlay upper directory the step wrote.
 *
 * overlayfs records a step's changes in its upper directory: new and modified files as themselves
 * (a file whose metadata alone changed is copied up whole, as Docker's overlay2 driver commits it),
 * a deleted name as a whiteout (a character device 0/0, or from Linux 6.7 a zero-size file
 * carrying `<ns>.overlay.whiteout`), and a directory that replaced a lower one as an opaque
 * directory (`<ns>.overlay.opaque` = `y`), where `<ns>` is `trusted` (rootful) or `user` (mounted
 * with `userxattr` in a user namespace). This module turns those into OCI layer entries: whiteouts
 * become `.wh.<name>`, opaque directories get a `.wh..wh..opq` entry, and overlay's own xattrs are
 * never written (packDirectory's xattr policy drops them). Everything else (owners, modes,
 * security.capability, user.* xattrs, hardlinks, devices) is what packDirectory reads.
 *
 * Invariant: berth mounts build steps with `redirect_dir=off` and `metacopy=off` (the kernel
 * defaults), so no upper entry points at a lower one by xattr; a renamed directory is copied up.
 */
import { BerthError, type Warning, type WarningSink } from '../errors/index.js';
import { packDirectory, type PackEntry } from '../layer/pack.js';
import type { TarHeader } from '../layer/tar/types.js';
import { newHeader } from '../layer/tar/header.js';
import { lgetxattr } from '../sys/index.js';

const OPAQUE_NAMES = ['trusted.overlay.opaque', 'user.overlay.opaque'];
const WHITEOUT_NAMES = ['trusted.overlay.whiteout', 'user.overlay.whiteout'];

function byteJoin(dir: string, rel: string): string {
  return `${Buffer.from(dir, 'utf8').toString('latin1')}/${rel}`;
}

function hasXattr(path: string, names: readonly string[], want?: (v: Buffer) => boolean): boolean {
  for (const n of names) {
    const v = lgetxattr(path, n);
    if (v !== undefined && (want === undefined || want(v))) return true;
  }
  return false;
}

function marker(base: TarHeader, path: string): TarHeader {
  return newHeader(path, { mode: 0, mtime: base.mtime });
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i + 1);
}

function baseOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}

/**
 * The layer entries of an overlay upper directory (sorted, parents first). `unmapOwner` maps the
 * owners on disk to image IDs (rootless packing runs inside the namespace, where they already are).
 */
export async function* upperDirEntries(upper: string, opts: { onWarning: WarningSink; unmapOwner?: (uid: number, gid: number) => { uid: number; gid: number } }): AsyncGenerator<PackEntry> {
  // packDirectory warns once about the xattrs its policy drops; overlay's own are expected here.
  const onWarning = (w: Warning) => {
    if (w.code === 'W_PACK_XATTR_FILTERED') {
      const names = Object.keys((w.details as { names?: Record<string, number> } | undefined)?.names ?? {});
      if (names.length > 0 && names.every((n) => /^(trusted|user)\.overlay\./.test(n))) return;
    }
    opts.onWarning(w);
  };
  for await (const e of packDirectory(upper, { onWarning, ...(opts.unmapOwner ? { unmapOwner: opts.unmapOwner } : {}) })) {
    const h = e.header;
    if (h.type === 'char' && h.devmajor === 0 && h.devminor === 0) {
      yield { header: marker(h, `${parentOf(h.path)}.wh.${baseOf(h.path)}`) };
      continue;
    }
    if (h.type === 'file' && h.size === 0 && hasXattr(byteJoin(upper, h.path), WHITEOUT_NAMES)) {
      yield { header: marker(h, `${parentOf(h.path)}.wh.${baseOf(h.path)}`) };
      continue;
    }
    if (h.type === 'dir') {
      const opaque = hasXattr(byteJoin(upper, h.path), OPAQUE_NAMES, (v) => v.toString('latin1') === 'y');
      if (hasXattr(byteJoin(upper, h.path), OPAQUE_NAMES, (v) => v.toString('latin1') === 'x')) {
        throw new BerthError('E_BUILD_DIFF_UNSUPPORTED', `commit build step: ${h.path} is an overlay directory with xattr whiteouts inside, which berth does not read`, {
          hint: 'this happens only with nested overlay mounts; report it with the Dockerfile',
        });
      }
      yield e;
      if (opaque) yield { header: marker(h, `${h.path}/.wh..wh..opq`) };
      continue;
    }
    yield e;
  }
}
