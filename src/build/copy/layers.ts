/**
 * build/copy/layers: `COPY --from=<stage or image>`: entries read from the source's stored layer
 * blobs (digest-verified by readLayer), guided by the source's merged file view.
 *
 * The view says which layer wrote each path's final version (ViewEntry.layer), after whiteouts,
 * opaque directories and replacements; so only those layers are read, and a file is taken from
 * exactly the layer the view names, never from a lower one it replaced.
 *
 * - Directories: their headers (mtime, xattr values, which the view does not hold) are collected
 *   first, reading each layer that holds one only until all of its directories have been seen.
 * - Everything else: one pass over the layers that hold the wanted data, ascending; each body is
 *   streamed from the layer straight into the output. Names sharing an inode (hard links) are
 *   grouped: the first copied name carries the data, the others become hard links to it. A name
 *   whose link target is not copied is emitted as a file with the target's data.
 * - A hard link whose first name was later deleted or replaced (the view keeps the link's target
 *   path, but that path no longer holds the inode) is found by scanning the layers below it for
 *   the last data entry of that name.
 * Headers keep everything the layer recorded (owners, setuid bits, `security.capability` and other
 * xattrs, device numbers), except what --chown/--chmod replace.
 */
import { BerthError, type WarningSink } from '../../errors/index.js';
import { readLayer } from '../../api/layers.js';
import { normalizeLayerPath, type ImageFileView, type ViewEntry } from '../../layer/fileindex.js';
import type { BytePath, TarHeader } from '../../layer/tar/types.js';
import type { Store } from '../../store/index.js';

type InEntry = { header: TarHeader; body?: AsyncIterable<Buffer> | Buffer };

export interface LayerSource {
  store: Store;
  layers: readonly { digest: string; diffId: string }[];
  view: ImageFileView;
  label?: string;
}

/** One path of the source chosen for the copy, and where it lands (absolute, resolved). */
export interface LayerPick {
  dest: BytePath;
  v: ViewEntry;
}

export interface LayerCopyOptions {
  op: string;
  chown?: { uid: number; gid: number };
  chmod?: number;
  now: { sec: number; nsec: number };
  onWarning: WarningSink;
}

function layerPath(abs: BytePath): BytePath {
  return abs.replace(/^\/+/, '');
}

function shown(p: BytePath): string {
  return Buffer.from(p, 'latin1').toString('utf8');
}

function layerOf(src: LayerSource, idx: number, op: string): { digest: string; diffId: string } {
  const l = src.layers[idx];
  if (!l) {
    throw new BerthError('E_BUILD_COPY_FROM_LAYER', `${op} ${src.label ?? 'source image'}: the file view names layer ${idx}, which the image does not have`, {
      hint: 'the stored view does not match the image; remove the image and load it again',
    });
  }
  return l;
}

/** Applies --chown / --chmod to a header taken from the source (symlink modes are never changed). */
export function retarget(h: TarHeader, dest: BytePath, opts: LayerCopyOptions): TarHeader {
  const out: TarHeader = { ...h, path: layerPath(dest) };
  if (opts.chown) {
    out.uid = opts.chown.uid;
    out.gid = opts.chown.gid;
  }
  if (opts.chmod !== undefined && h.type !== 'symlink' && h.type !== 'hardlink') out.mode = opts.chmod;
  return out;
}

/**
 * Headers of the picked directories, as their layers recorded them (paths unchanged). A directory
 * the view made up (`implicit`: no layer listed it) gets 0755 root:root and `now`.
 */
export async function readDirHeaders(src: LayerSource, dirs: readonly LayerPick[], opts: LayerCopyOptions): Promise<Map<BytePath, TarHeader>> {
  const out = new Map<BytePath, TarHeader>();
  const byLayer = new Map<number, Set<BytePath>>();
  for (const p of dirs) {
    if (p.v.layer < 0) continue;
    let s = byLayer.get(p.v.layer);
    if (!s) byLayer.set(p.v.layer, (s = new Set()));
    s.add(p.v.path);
  }
  for (const idx of [...byLayer.keys()].sort((a, b) => a - b)) {
    const want = byLayer.get(idx) as Set<BytePath>;
    let left = want.size;
    for await (const e of readLayer(src.store, layerOf(src, idx, opts.op).digest, { onWarning: opts.onWarning })) {
      if (e.header.type !== 'dir') continue;
      const p = normalizeLayerPath(e.header.path);
      if (!want.has(p) || out.has(p)) continue;
      out.set(p, e.header);
      if (--left === 0) break;
    }
  }
  for (const p of dirs) {
    if (out.has(p.v.path)) continue;
    if (p.v.layer >= 0) {
      // The layer names the directory through a symlinked parent: its metadata still comes from
      // the view, but its mtime and xattr values are not known.
      opts.onWarning({
        code: 'W_BUILD_COPY_FROM_METADATA',
        message: `${opts.op} ${src.label ?? 'source image'}: ${shown(p.v.path)}: directory not found under that name in its layer; its mtime and extended attributes are not copied`,
        path: shown(p.v.path),
      });
    }
    out.set(p.v.path, {
      path: layerPath(p.v.path),
      type: 'dir',
      mode: p.v.mode,
      uid: p.v.uid,
      gid: p.v.gid,
      uname: '',
      gname: '',
      size: 0,
      mtime: opts.now,
      linkname: '',
      devmajor: 0,
      devminor: 0,
      xattrs: new Map(),
    });
  }
  return out;
}

/** Where an inode's data lives: the layer index and the entry name that carries it. */
interface InodeKey {
  layer: number;
  path: BytePath;
}

const keyString = (k: InodeKey) => `${k.layer}\0${k.path}`;

/**
 * The picked non-directories as entries, layer by layer (see the module comment). Every pick is
 * emitted or the copy fails: nothing is dropped silently.
 */
export async function* layerFileEntries(src: LayerSource, picks: readonly LayerPick[], opts: LayerCopyOptions): AsyncGenerator<InEntry> {
  const groups = new Map<string, { key: InodeKey; picks: LayerPick[] }>();
  const orphans: LayerPick[] = [];
  const add = (key: InodeKey, p: LayerPick) => {
    const ks = keyString(key);
    let g = groups.get(ks);
    if (!g) groups.set(ks, (g = { key, picks: [] }));
    g.picks.push(p);
  };
  for (const p of picks) {
    const v = p.v;
    if (v.hardlinkTo === undefined) {
      if (v.type === 'hardlink') {
        throw new BerthError('E_BUILD_COPY_FROM_LAYER', `${opts.op} ${shown(v.path)}: a hard link whose target is missing from ${src.label ?? 'the source image'}`, {
          hint: 'the source image has a broken hard link; copy another path or fix the image',
        });
      }
      add({ layer: v.layer, path: v.path }, p);
      continue;
    }
    const t = src.view.lookup(v.hardlinkTo);
    if (t && t.hardlinkTo === undefined && t.type === v.type && t.layer >= 0 && t.layer <= v.layer) add({ layer: t.layer, path: v.hardlinkTo }, p);
    else orphans.push(p);
  }
  if (orphans.length > 0) {
    for (const [p, key] of await locateOrphans(src, orphans, opts)) add(key, p);
  }

  const byLayer = new Map<number, Map<BytePath, { key: InodeKey; picks: LayerPick[] }>>();
  for (const g of groups.values()) {
    let m = byLayer.get(g.key.layer);
    if (!m) byLayer.set(g.key.layer, (m = new Map()));
    m.set(g.key.path, g);
  }
  for (const idx of [...byLayer.keys()].sort((a, b) => a - b)) {
    const wanted = byLayer.get(idx) as Map<BytePath, { key: InodeKey; picks: LayerPick[] }>;
    for await (const e of readLayer(src.store, layerOf(src, idx, opts.op).digest, { onWarning: opts.onWarning })) {
      if (e.header.type === 'dir' || e.header.type === 'hardlink') continue;
      const path = normalizeLayerPath(e.header.path);
      const g = wanted.get(path);
      if (!g) continue;
      wanted.delete(path);
      const [first, ...rest] = g.picks;
      yield { header: retarget(e.header, first.dest, opts), ...(e.header.type === 'file' ? { body: e.body } : {}) };
      for (const p of rest) {
        const h = retarget(e.header, p.dest, opts);
        h.type = 'hardlink';
        h.size = 0;
        h.linkname = layerPath(first.dest);
        yield { header: h };
      }
      if (wanted.size === 0) break;
    }
    if (wanted.size > 0) {
      const missing = [...wanted.keys()].map(shown).slice(0, 3).join(', ');
      throw new BerthError('E_BUILD_COPY_FROM_LAYER', `${opts.op} ${src.label ?? 'source image'}: ${missing}: not found in layer ${idx} (${layerOf(src, idx, opts.op).diffId}) where the file view places it`, {
        hint: 'the stored view does not match the layer; remove the image and load it again',
      });
    }
  }
}

/**
 * For links whose target name no longer holds their inode: the highest layer at or below the
 * link's own layer with a data entry for the target name (in the link's layer, before the link).
 */
async function locateOrphans(src: LayerSource, orphans: readonly LayerPick[], opts: LayerCopyOptions): Promise<[LayerPick, InodeKey][]> {
  const out: [LayerPick, InodeKey][] = [];
  const names = new Set<BytePath>();
  for (const o of orphans) {
    names.add(o.v.hardlinkTo as BytePath);
    names.add(o.v.path);
  }
  /** Layer index -> the entries of interest, in layer order. */
  const scanned = new Map<number, { path: BytePath; data: boolean }[]>();
  const scan = async (idx: number) => {
    let list = scanned.get(idx);
    if (list) return list;
    list = [];
    for await (const e of readLayer(src.store, layerOf(src, idx, opts.op).digest, { onWarning: opts.onWarning })) {
      const p = normalizeLayerPath(e.header.path);
      if (names.has(p)) list.push({ path: p, data: e.header.type !== 'hardlink' && e.header.type !== 'dir' });
    }
    scanned.set(idx, list);
    return list;
  };
  for (const p of orphans) {
    const target = p.v.hardlinkTo as BytePath;
    let found: InodeKey | undefined;
    for (let idx = p.v.layer; idx >= 0 && !found; idx--) {
      const list = await scan(idx);
      // In the link's own layer only a data entry before the link can be its target.
      const end = idx === p.v.layer ? list.findIndex((x) => x.path === p.v.path && !x.data) : list.length;
      if (list.slice(0, end < 0 ? list.length : end).some((x) => x.path === target && x.data)) found = { layer: idx, path: target };
    }
    if (!found) {
      throw new BerthError('E_BUILD_COPY_FROM_LAYER', `${opts.op} ${shown(p.v.path)}: the data of this hard link (first named ${shown(target)}) is in no layer of ${src.label ?? 'the source image'}`, {
        hint: 'the source image has a broken hard link; copy another path or fix the image',
      });
    }
    out.push([p, found]);
  }
  return out;
}
