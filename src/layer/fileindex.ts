/**
 * The per-layer file index: a compact record of every entry of a layer (path, type, mode, owner,
 * size, link target, xattr names, raw file capability) plus the bytes of a few small identity files
 * (/etc/passwd, /etc/group, /etc/nsswitch.conf, /etc/login.defs). It is built while a layer streams
 * through import or load, stored beside the image, and merged across layers so that `berth explain`
 * can answer "who owns /usr/bin/ping, what caps does it carry, what does /etc/passwd say" without
 * reading a single layer blob. Pure: no I/O.
 *
 * Paths are byte strings (see layer/tar/types.ts), normalised the way OCI extraction resolves tar
 * names: split on "/", drop "" and ".", ".." removes the previous component and is clamped at the
 * root, and the result is absolute ("./usr/bin/" -> "/usr/bin", "../../etc" -> "/etc").
 *
 * Merging follows image-spec layer.md and containerd's applier: in each layer, opaque markers and
 * whiteouts are applied first and only to what lower layers contributed (a whiteout never hides an
 * entry of its own layer); then the layer's entries are applied in order, a directory over a
 * directory replacing only the attributes and anything else replacing the old path and everything
 * below it. Parent directories are resolved through symlinks inside the root (as RESOLVE_IN_ROOT
 * does), and missing parents appear as implicit 0755 root-owned directories, as extractors create
 * them.
 */
import { BerthError } from '../errors/index.js';
import type { BytePath, EntryType, TarHeader } from './tar/types.js';

export type FileIndexEntryType = EntryType | 'whiteout' | 'opaque';

export interface FileIndexEntry {
  /**
   * Normalised absolute path. For a whiteout, the path it deletes (`/etc/.wh.foo` -> `/etc/foo`);
   * for an opaque marker, the directory it empties (`/etc/.wh..wh..opq` -> `/etc`).
   */
  path: BytePath;
  type: FileIndexEntryType;
  /** Permission bits with setuid/setgid/sticky, as in the tar header. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Symlink: the target as stored. Hardlink: the target path, normalised like `path`. */
  linkname?: BytePath;
  /** Extended attribute names, sorted; absent when there are none. */
  xattrs?: string[];
  /** Raw `security.capability` value, lowercase hex. */
  capability?: string;
  devmajor?: number;
  devminor?: number;
  /** Captured contents of an identity file (see CAPTURED_FILES). */
  content?: Buffer;
}

export interface FileIndex {
  version: 1;
  /** In layer (tar) order. */
  entries: FileIndexEntry[];
}

/** The identity files whose bytes are kept, so user and group resolution needs no layer access. */
export const CAPTURED_FILES: readonly BytePath[] = ['/etc/passwd', '/etc/group', '/etc/nsswitch.conf', '/etc/login.defs'];
/** Larger files are indexed but not captured. */
export const MAX_CAPTURED_BYTES = 1 << 20;

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';
/** Linux's MAXSYMLINKS: resolution gives up (as ELOOP) after this many symlinks. */
const MAX_SYMLINK_HOPS = 40;

function components(p: BytePath): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/** Normalises a tar entry name or an absolute path to `/a/b` form ('..' clamped at the root). */
export function normalizeLayerPath(p: BytePath): BytePath {
  const out: string[] = [];
  for (const c of components(p)) {
    if (c === '..') out.pop();
    else out.push(c);
  }
  return `/${out.join('/')}`;
}

function dirname(p: BytePath): BytePath {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

function basename(p: BytePath): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function joinPath(dir: BytePath, name: string): BytePath {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export interface FileIndexBuilderOptions {
  /** Absolute paths whose contents are captured. Default CAPTURED_FILES. */
  capture?: readonly BytePath[];
  /** Default MAX_CAPTURED_BYTES. */
  maxCaptureBytes?: number;
}

/**
 * Builds a FileIndex from a layer's tar headers, in order. For each entry call add(header); if
 * wantsBody(header) is true, pass the entry's data to addBody(header.path, data) before the next add.
 */
export class FileIndexBuilder {
  private readonly entries: FileIndexEntry[] = [];
  private readonly capture: ReadonlySet<BytePath>;
  private readonly maxCapture: number;
  private finished = false;

  constructor(options: FileIndexBuilderOptions = {}) {
    this.capture = new Set((options.capture ?? CAPTURED_FILES).map(normalizeLayerPath));
    this.maxCapture = options.maxCaptureBytes ?? MAX_CAPTURED_BYTES;
  }

  add(header: TarHeader): void {
    if (this.finished) throw new Error('FileIndexBuilder.add after finish()');
    const path = normalizeLayerPath(header.path);
    const base = basename(path);
    const entry: FileIndexEntry = { path, type: header.type, mode: header.mode, uid: header.uid, gid: header.gid, size: header.size };
    if (base === WHITEOUT_OPAQUE) {
      entry.type = 'opaque';
      entry.path = dirname(path);
      entry.size = 0;
    } else if (base.startsWith(WHITEOUT_PREFIX) && !base.startsWith(WHITEOUT_META_PREFIX)) {
      const target = base.slice(WHITEOUT_PREFIX.length);
      if (target === '' || target === '.' || target === '..') {
        throw new BerthError('E_LAYER_WHITEOUT', `index layer entry ${JSON.stringify(header.path)}: invalid whiteout name (it names no file)`, {
          hint: 'the layer is malformed; rebuild it with a tool that writes valid whiteouts',
          details: { path: header.path },
        });
      }
      entry.type = 'whiteout';
      entry.path = joinPath(dirname(path), target);
      entry.size = 0;
    } else {
      if (header.type === 'symlink') entry.linkname = header.linkname;
      else if (header.type === 'hardlink') entry.linkname = normalizeLayerPath(header.linkname);
      if (header.type === 'char' || header.type === 'block') {
        entry.devmajor = header.devmajor;
        entry.devminor = header.devminor;
      }
      if (header.xattrs.size > 0) {
        entry.xattrs = [...header.xattrs.keys()].sort();
        const cap = header.xattrs.get('security.capability');
        if (cap !== undefined) entry.capability = cap.toString('hex');
      }
    }
    this.entries.push(entry);
  }

  /** True when the entry's data should be passed to addBody (a small identity file). */
  wantsBody(header: TarHeader): boolean {
    return header.type === 'file' && header.size <= this.maxCapture && this.capture.has(normalizeLayerPath(header.path));
  }

  /** Records the data of the most recent entry named `path`. Data over the cap is not kept. */
  addBody(path: BytePath, data: Buffer): void {
    if (this.finished) throw new Error('FileIndexBuilder.addBody after finish()');
    const p = normalizeLayerPath(path);
    if (!this.capture.has(p) || data.length > this.maxCapture) return;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e.path === p && e.type === 'file') {
        e.content = Buffer.from(data);
        return;
      }
    }
  }

  finish(): FileIndex {
    this.finished = true;
    return { version: 1, entries: this.entries };
  }
}

// ---------------------------------------------------------------------------------------------
// Serialisation: one columnar JSON object. Columns are parallel arrays; rare fields are sparse
// maps keyed by entry index. 7,000 entries are about 300 kB and parse in a few milliseconds.

const FORMAT = 'berth/fileindex';
const NOT_NORMALISED = /\/\/|\/\.\.?(?:\/|$)|\/$/;
const VERSION = 1;

const TYPE_CODES: Record<FileIndexEntryType, string> = {
  file: 'f',
  dir: 'd',
  symlink: 'l',
  hardlink: 'h',
  char: 'c',
  block: 'b',
  fifo: 'p',
  whiteout: 'w',
  opaque: 'o',
};
const CODE_TYPES = new Map<string, FileIndexEntryType>(Object.entries(TYPE_CODES).map(([t, c]) => [c, t as FileIndexEntryType]));

interface SerializedV1 {
  format: string;
  version: number;
  count: number;
  path: string[];
  type: string;
  mode: number[];
  uid: number[];
  gid: number[];
  size: number[];
  link: Record<string, string>;
  xattrs: Record<string, string[]>;
  cap: Record<string, string>;
  dev: Record<string, [number, number]>;
  content: Record<string, string>;
}

/** Serialises an index to its stored form (UTF-8 JSON text; byte-string paths survive as code units). */
export function serializeFileIndex(index: FileIndex): string {
  const n = index.entries.length;
  const out: SerializedV1 = {
    format: FORMAT,
    version: VERSION,
    count: n,
    path: new Array<string>(n),
    type: '',
    mode: new Array<number>(n),
    uid: new Array<number>(n),
    gid: new Array<number>(n),
    size: new Array<number>(n),
    link: {},
    xattrs: {},
    cap: {},
    dev: {},
    content: {},
  };
  const types: string[] = new Array<string>(n);
  index.entries.forEach((e, i) => {
    out.path[i] = e.path;
    types[i] = TYPE_CODES[e.type];
    out.mode[i] = e.mode;
    out.uid[i] = e.uid;
    out.gid[i] = e.gid;
    out.size[i] = e.size;
    if (e.linkname !== undefined) out.link[i] = e.linkname;
    if (e.xattrs !== undefined) out.xattrs[i] = e.xattrs;
    if (e.capability !== undefined) out.cap[i] = e.capability;
    if (e.devmajor !== undefined || e.devminor !== undefined) out.dev[i] = [e.devmajor ?? 0, e.devminor ?? 0];
    if (e.content !== undefined) out.content[i] = e.content.toString('base64');
  });
  out.type = types.join('');
  return JSON.stringify(out);
}

function invalid(subject: string, reason: string): BerthError {
  return new BerthError('E_FILEINDEX_INVALID', `parse file index${subject ? ` ${subject}` : ''}: ${reason}`, {
    hint: 'the stored file index is damaged; run `berth gc` and load or import the image again',
  });
}

/** Parses a stored index, checking every column. `subject` names it in errors (e.g. the diffID). */
export function parseFileIndex(data: Buffer | string, subject = ''): FileIndex {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (e) {
    throw invalid(subject, `not valid JSON (${(e as Error).message})`);
  }
  return fileIndexFromJson(raw, subject);
}

/** parseFileIndex after JSON.parse: checks every column of the parsed value. */
function fileIndexFromJson(raw: unknown, subject: string): FileIndex {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(subject, 'not a JSON object');
  const o = raw as Partial<SerializedV1>;
  if (o.format !== FORMAT) throw invalid(subject, `format is ${JSON.stringify(o.format)}, expected "${FORMAT}"`);
  if (o.version !== VERSION) {
    throw new BerthError('E_FILEINDEX_VERSION', `parse file index${subject ? ` ${subject}` : ''}: version ${JSON.stringify(o.version)} is not supported (this berth reads version ${VERSION})`, {
      hint: 'the store was written by another berth version; load or import the image again with this one',
    });
  }
  const n = o.count;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw invalid(subject, 'count is not a non-negative integer');
  const column = <T>(name: 'path' | 'mode' | 'uid' | 'gid' | 'size', check: (v: unknown) => v is T): T[] => {
    const c = o[name];
    if (!Array.isArray(c) || c.length !== n) throw invalid(subject, `column "${name}" is not an array of ${n} values`);
    for (let i = 0; i < n; i++) if (!check(c[i])) throw invalid(subject, `column "${name}" entry ${i} is invalid`);
    return c as T[];
  };
  // Normalised absolute paths only: "/" or "/a/b" without empty, "." or ".." components.
  const isPath = (v: unknown): v is string => typeof v === 'string' && (v === '/' || (v.startsWith('/') && !NOT_NORMALISED.test(v)));
  const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const paths = column('path', isPath);
  const modes = column('mode', isCount);
  const uids = column('uid', isCount);
  const gids = column('gid', isCount);
  const sizes = column('size', isCount);
  if (typeof o.type !== 'string' || o.type.length !== n) throw invalid(subject, `column "type" is not a string of ${n} codes`);
  const sparse = <T>(name: 'link' | 'xattrs' | 'cap' | 'dev' | 'content', check: (v: unknown) => v is T): Map<number, T> => {
    const m = o[name];
    const out = new Map<number, T>();
    if (m === undefined) return out;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw invalid(subject, `"${name}" is not an object`);
    for (const [k, v] of Object.entries(m)) {
      const i = Number(k);
      if (!Number.isSafeInteger(i) || i < 0 || i >= n || String(i) !== k) throw invalid(subject, `"${name}" has key ${JSON.stringify(k)} outside 0..${n - 1}`);
      if (!check(v)) throw invalid(subject, `"${name}" entry ${k} is invalid`);
      out.set(i, v);
    }
    return out;
  };
  const links = sparse('link', (v): v is string => typeof v === 'string');
  const xattrs = sparse('xattrs', (v): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string'));
  const caps = sparse('cap', (v): v is string => typeof v === 'string' && /^(?:[0-9a-f]{2})*$/.test(v));
  const devs = sparse('dev', (v): v is [number, number] => Array.isArray(v) && v.length === 2 && v.every(isCount));
  const contents = sparse('content', (v): v is string => typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v));

  const entries: FileIndexEntry[] = new Array<FileIndexEntry>(n);
  for (let i = 0; i < n; i++) {
    const type = CODE_TYPES.get(o.type[i]);
    if (type === undefined) throw invalid(subject, `entry ${i} has unknown type code ${JSON.stringify(o.type[i])}`);
    const e: FileIndexEntry = { path: paths[i], type, mode: modes[i], uid: uids[i], gid: gids[i], size: sizes[i] };
    const link = links.get(i);
    if (link !== undefined) e.linkname = link;
    const xa = xattrs.get(i);
    if (xa !== undefined) e.xattrs = xa;
    const cap = caps.get(i);
    if (cap !== undefined) e.capability = cap;
    const dev = devs.get(i);
    if (dev !== undefined) {
      e.devmajor = dev[0];
      e.devminor = dev[1];
    }
    const content = contents.get(i);
    if (content !== undefined) e.content = Buffer.from(content, 'base64');
    entries[i] = e;
  }
  return { version: 1, entries };
}

// ---------------------------------------------------------------------------------------------
// The merged view of an image's layers.

/** One path of the merged image filesystem. */
export interface ViewEntry {
  path: BytePath;
  /** 'hardlink' only when the link's target could not be found when its layer was applied. */
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname?: BytePath;
  /** Sorted; empty when none. */
  xattrs: readonly string[];
  capability?: string;
  devmajor?: number;
  devminor?: number;
  /** Index of the layer that wrote this path (its metadata); -1 for an implicit directory. */
  layer: number;
  /** Set when this name is a hard link: the path whose inode (and metadata) it shares. */
  hardlinkTo?: BytePath;
  /** A parent directory no layer listed; extractors create these as 0755 root:root. */
  implicit?: boolean;
}

export interface ImageFileView {
  /**
   * The entry at `path`, resolving symlinks in the parent directories inside the image root. The
   * final component is followed only with `follow: true` (stat rather than lstat).
   */
  lookup(path: BytePath, options?: { follow?: boolean }): ViewEntry | undefined;
  /** The path with every symlink resolved inside the root; undefined if it does not exist or loops. */
  realpath(path: BytePath): BytePath | undefined;
  /** Captured contents of an identity file, following symlinks; undefined if absent, replaced by an uncaptured file, or not a regular file. */
  readFile(path: BytePath): Buffer | undefined;
  /** Sorted names in a directory (following symlinks); undefined if not a directory. */
  list(path: BytePath): string[] | undefined;
  /** Every path, sorted by bytes; `{ sorted: false }` skips the sort for callers that only aggregate. */
  entries(options?: { sorted?: boolean }): IterableIterator<ViewEntry>;
  readonly size: number;
}

interface Node extends ViewEntry {
  content?: Buffer;
}

function isHidden(path: BytePath): boolean {
  // AUFS metadata (.wh..wh.plnk and friends): extractors skip these names; they only serve as
  // hardlink sources (layers-and-capabilities.md 1.1 rule 6).
  return path.includes(`/${WHITEOUT_META_PREFIX}`);
}

class MergedView implements ImageFileView {
  private readonly nodes = new Map<BytePath, Node>();
  /** Directory -> child paths; built on first use (a view loaded by parseView may never need it). */
  private childrenIndex: Map<BytePath, Set<BytePath>> | undefined;
  private readonly hidden = new Map<BytePath, Node>();
  private symlinks = 0;
  /**
   * Resolved parent directories (dirname -> resolved path). Entries of a layer come grouped by
   * directory, so most lookups hit. Valid only while no symlink or directory changes: any put of a
   * symlink and any removal clears it.
   */
  private readonly parentCache = new Map<BytePath, BytePath | undefined>();

  constructor(layers: readonly FileIndex[], merged?: readonly Node[]) {
    if (merged) {
      // A view merged before (see serializeView): the nodes are final, nothing to resolve.
      for (const n of merged) this.put(n);
      return;
    }
    this.put({ path: '/', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, xattrs: [], layer: -1, implicit: true });
    layers.forEach((l, i) => this.apply(l, i));
  }

  /** The final nodes, for serializeView. */
  snapshot(): Node[] {
    return [...this.nodes.values()];
  }

  get size(): number {
    return this.nodes.size;
  }

  // --- tree maintenance

  private get children(): Map<BytePath, Set<BytePath>> {
    if (this.childrenIndex === undefined) {
      this.childrenIndex = new Map();
      for (const p of this.nodes.keys()) if (p !== '/') this.addChild(p);
    }
    return this.childrenIndex;
  }

  private addChild(path: BytePath): void {
    const parent = dirname(path);
    const index = this.childrenIndex as Map<BytePath, Set<BytePath>>;
    let set = index.get(parent);
    if (!set) index.set(parent, (set = new Set()));
    set.add(path);
  }

  private put(node: Node): void {
    const old = this.nodes.get(node.path);
    if (old?.type === 'symlink') this.symlinks--;
    if (node.type === 'symlink') this.symlinks++;
    if (node.type === 'symlink' || (old !== undefined && old.type !== node.type)) this.parentCache.clear();
    this.nodes.set(node.path, node);
    if (node.path !== '/' && this.childrenIndex !== undefined) this.addChild(node.path);
  }

  private removeChildren(dir: BytePath): void {
    const kids = this.children.get(dir);
    if (!kids) return;
    for (const k of [...kids]) this.removeTree(k);
    this.children.delete(dir);
  }

  private removeTree(path: BytePath): void {
    const node = this.nodes.get(path);
    if (!node) return;
    this.parentCache.clear();
    this.removeChildren(path);
    if (node.type === 'symlink') this.symlinks--;
    this.nodes.delete(path);
    if (path !== '/') this.children.get(dirname(path))?.delete(path);
  }

  /** Makes every ancestor of `path` a directory, creating implicit ones as extractors do. */
  private ensureParents(path: BytePath): void {
    if (path === '/' || this.nodes.get(dirname(path))?.type === 'dir') return;
    const parts = components(path);
    let cur = '/';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = joinPath(cur, parts[i]);
      const n = this.nodes.get(cur);
      if (n?.type === 'dir') continue;
      // Missing, or a non-directory in the way (an invalid stack; extraction would fail with
      // ENOTDIR): in both cases the view continues with an implicit directory.
      if (n) this.removeTree(cur);
      this.put({ path: cur, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, xattrs: [], layer: -1, implicit: true });
    }
  }

  // --- resolution inside the root

  /** Resolves a normalised `path` inside the root; undefined after too many symlinks (ELOOP). */
  private resolve(path: BytePath, followFinal: boolean): BytePath | undefined {
    if (this.symlinks === 0) return path;
    // `stack` holds the resolved components; `prefixes[i]` is the path of stack[0..i], so each
    // step costs one concatenation instead of a join of the whole stack.
    const stack: string[] = [];
    const prefixes: string[] = [];
    const queue = components(path).reverse();
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.pop() as string;
      if (c === '..') {
        stack.pop();
        prefixes.pop();
        continue;
      }
      const candidate = `${prefixes.length ? prefixes[prefixes.length - 1] : ''}/${c}`;
      const node = this.nodes.get(candidate);
      if (node?.type === 'symlink' && (queue.length > 0 || followFinal)) {
        if (++hops > MAX_SYMLINK_HOPS) return undefined;
        const target = node.linkname ?? '';
        if (target.startsWith('/')) {
          stack.length = 0;
          prefixes.length = 0;
        }
        const parts = components(target);
        for (let i = parts.length - 1; i >= 0; i--) queue.push(parts[i]);
        continue;
      }
      stack.push(c);
      prefixes.push(candidate);
    }
    return prefixes.length ? prefixes[prefixes.length - 1] : '/';
  }

  /** Where an entry named `path` lands: parent resolved (following symlinks), final name kept. */
  private place(path: BytePath): BytePath | undefined {
    if (path === '/') return '/';
    const dir = dirname(path);
    let parent: BytePath | undefined;
    if (this.parentCache.has(dir)) parent = this.parentCache.get(dir);
    else {
      parent = this.resolve(dir, true);
      this.parentCache.set(dir, parent);
    }
    return parent === undefined ? undefined : joinPath(parent, basename(path));
  }

  // --- applying one layer

  private apply(layer: FileIndex, li: number): void {
    // Opaque markers and whiteouts first, against the lower layers only.
    for (const e of layer.entries) {
      if (e.type === 'opaque') {
        const dir = this.resolve(e.path, true);
        if (dir !== undefined && this.nodes.get(dir)?.type === 'dir') this.removeChildren(dir);
      } else if (e.type === 'whiteout') {
        const p = this.place(e.path);
        if (p !== undefined && p !== '/') this.removeTree(p);
      }
    }
    for (const e of layer.entries) {
      if (e.type === 'opaque' || e.type === 'whiteout') continue;
      const p = this.place(e.path);
      if (p === undefined) continue; // parent loops: extraction would fail with ELOOP
      const node: Node = {
        path: p,
        type: e.type,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        size: e.size,
        xattrs: e.xattrs ?? [],
        layer: li,
      };
      if (e.linkname !== undefined) node.linkname = e.linkname;
      if (e.capability !== undefined) node.capability = e.capability;
      if (e.devmajor !== undefined) node.devmajor = e.devmajor;
      if (e.devminor !== undefined) node.devminor = e.devminor;
      if (e.content !== undefined && e.type === 'file') node.content = e.content;
      if (e.type === 'hardlink') this.link(node);
      if (isHidden(p)) {
        this.hidden.set(p, node);
        continue;
      }
      const existing = this.nodes.get(p);
      if (p === '/') {
        // The root is never replaced; a root entry only updates its attributes.
        if (node.type === 'dir') this.put(node);
        continue;
      }
      this.ensureParents(p);
      if (existing && !(existing.type === 'dir' && node.type === 'dir')) this.removeTree(p);
      this.put(node);
    }
  }

  /** A hard link shares its target's inode: take the target's metadata as it is now. */
  private link(node: Node): void {
    const target = this.place(normalizeLayerPath(node.linkname ?? '/'));
    if (target === undefined) return;
    const t = this.nodes.get(target) ?? this.hidden.get(target);
    if (!t || t.type === 'dir' || t.type === 'hardlink') return;
    node.type = t.type;
    node.mode = t.mode;
    node.uid = t.uid;
    node.gid = t.gid;
    node.size = t.size;
    node.xattrs = t.xattrs;
    if (t.capability !== undefined) node.capability = t.capability;
    else delete node.capability;
    if (t.type === 'symlink') node.linkname = t.linkname;
    else delete node.linkname;
    if (t.devmajor !== undefined) node.devmajor = t.devmajor;
    if (t.devminor !== undefined) node.devminor = t.devminor;
    if (t.content !== undefined) node.content = t.content;
    node.hardlinkTo = t.hardlinkTo ?? target;
  }

  // --- queries

  private view(n: Node): ViewEntry {
    const { content: _content, ...rest } = n;
    return rest;
  }

  lookup(path: BytePath, options: { follow?: boolean } = {}): ViewEntry | undefined {
    const p = this.resolve(normalizeLayerPath(path), options.follow === true);
    if (p === undefined) return undefined;
    const n = this.nodes.get(p);
    return n ? this.view(n) : undefined;
  }

  realpath(path: BytePath): BytePath | undefined {
    const p = this.resolve(normalizeLayerPath(path), true);
    return p !== undefined && this.nodes.has(p) ? p : undefined;
  }

  readFile(path: BytePath): Buffer | undefined {
    const p = this.resolve(normalizeLayerPath(path), true);
    if (p === undefined) return undefined;
    const n = this.nodes.get(p);
    return n?.type === 'file' && n.content !== undefined ? Buffer.from(n.content) : undefined;
  }

  list(path: BytePath): string[] | undefined {
    const p = this.resolve(normalizeLayerPath(path), true);
    if (p === undefined || this.nodes.get(p)?.type !== 'dir') return undefined;
    return [...(this.children.get(p) ?? [])].map(basename).sort(compareBytes);
  }

  *entries(options: { sorted?: boolean } = {}): IterableIterator<ViewEntry> {
    if (options.sorted === false) {
      for (const n of this.nodes.values()) yield n as ViewEntry;
      return;
    }
    const keys = [...this.nodes.keys()].sort(compareBytes);
    // Nodes are yielded as they are (no per-entry copy: explain walks every path of the image on
    // each run); `content` stays out of reach through the ViewEntry type.
    for (const k of keys) yield this.nodes.get(k) as ViewEntry;
  }
}

/** Byte order for byte strings (each code unit is one byte, so code-unit order is byte order). */
function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Merges per-layer indexes, base layer first, into the view of the image's root filesystem. */
export function mergeFileIndexes(layers: readonly FileIndex[]): ImageFileView {
  return new MergedView(layers);
}

const VIEW_FORMAT = 'berth-image-view';
const NO_XATTRS: readonly string[] = Object.freeze([]);

/**
 * A merged view as text, so an image's view is computed once and later commands (`explain` has a
 * start-up budget) only parse it. The node columns reuse the file-index format; the view's own
 * fields (writing layer, hardlink target, implicit directories) ride beside them.
 */
export function serializeView(view: ImageFileView): string {
  if (!(view instanceof MergedView)) throw new TypeError('serializeView: not a view made by mergeFileIndexes');
  const nodes = view.snapshot();
  const index: FileIndex = { version: 1, entries: nodes.map((n) => {
    const e: FileIndexEntry = { path: n.path, type: n.type, mode: n.mode, uid: n.uid, gid: n.gid, size: n.size };
    if (n.linkname !== undefined) e.linkname = n.linkname;
    if (n.xattrs.length > 0) e.xattrs = [...n.xattrs];
    if (n.capability !== undefined) e.capability = n.capability;
    if (n.devmajor !== undefined) e.devmajor = n.devmajor;
    if (n.devminor !== undefined) e.devminor = n.devminor;
    if (n.content !== undefined) e.content = n.content;
    return e;
  }) };
  const hardlinkTo: Record<number, string> = {};
  const implicit: number[] = [];
  nodes.forEach((n, i) => {
    if (n.hardlinkTo !== undefined) hardlinkTo[i] = n.hardlinkTo;
    if (n.implicit) implicit.push(i);
  });
  return JSON.stringify({ format: VIEW_FORMAT, version: 1, layer: nodes.map((n) => n.layer), hardlinkTo, implicit, index: JSON.parse(serializeFileIndex(index)) });
}

/** Parses serializeView's output; any damage is E_FILEINDEX_INVALID (callers then merge again). */
export function parseView(data: Buffer | string, subject = ''): ImageFileView {
  let raw: { format?: unknown; version?: unknown; layer?: unknown; hardlinkTo?: unknown; implicit?: unknown; index?: unknown };
  try {
    raw = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (e) {
    throw invalid(subject, `not JSON (${(e as Error).message})`);
  }
  if (raw?.format !== VIEW_FORMAT || raw.version !== 1) throw invalid(subject, 'not a berth image view (version 1)');
  const index = fileIndexFromJson(raw.index, subject);
  const layer = raw.layer;
  const hardlinkTo = (raw.hardlinkTo ?? {}) as Record<string, unknown>;
  const implicit = new Set(Array.isArray(raw.implicit) ? raw.implicit : []);
  if (!Array.isArray(layer) || layer.length !== index.entries.length) throw invalid(subject, 'layer column does not match the entries');
  // The parsed entries are fresh objects: they become the nodes in place (one allocation per path;
  // this runs on every `berth explain`).
  const nodes = index.entries as unknown as Node[];
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    if ((n.type as FileIndexEntryType) === 'whiteout' || (n.type as FileIndexEntryType) === 'opaque') throw invalid(subject, `entry ${i} is a ${n.type} marker`);
    n.xattrs ??= NO_XATTRS;
    n.layer = Number(layer[i]);
    const h = hardlinkTo[i];
    if (typeof h === 'string') n.hardlinkTo = h;
    if (implicit.has(i)) n.implicit = true;
  }
  if (!nodes.some((n) => n.path === '/')) throw invalid(subject, 'no root directory');
  return new MergedView([], nodes);
}
