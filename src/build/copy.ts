/**
 * build/copy: what one COPY or ADD step puts in its layer, and the cache key of that content.
 *
 * planCopy resolves the sources (build context, another stage or image, heredocs, URLs), decides
 * where each lands, hashes everything that decides the layer's bytes (cacheKey), and fails early
 * with a clear error; copyEntries then streams the layer's entries, parents before children, for
 * writeLayer (api/layers.ts). Semantics and sources: docs/build-copy.md. In short (BuildKit's
 * dockerfile2llb dispatchCopy + solver/llbsolver/file + tonistiigi/fsutil copy):
 *
 * - The destination is relative to WORKDIR unless absolute; it is a directory when it ends in `/`
 *   (or `/.`, or is `.`) or already is one in the stage. It is resolved in the stage's tree, so a
 *   destination through a symlink lands where the symlink points, as BuildKit's RootPath does.
 * - A directory source copies its contents; a file lands at `dest` or, for a directory
 *   destination, at `dest/<basename>`. More than one source (after glob expansion) needs a
 *   directory destination (Docker's message).
 * - Owners: 0:0 for context, heredoc and URL files; `--from` keeps the source's; `--chown` replaces
 *   every owner, and owns the directories the copy creates. Other created directories are 0755
 *   root:root (Docker <= 28.0; BuildKit since fsutil#228 gives them the --chmod mode, see the doc).
 * - Modes (setuid, setgid, sticky included) and mtimes are kept; `--chmod` (octal only) replaces
 *   the permission bits of every copied file and directory (never of a symlink).
 * - The layer lists every parent of the destination: existing ones with their metadata in the
 *   stage (a layer used alone as an overlay lower must not shadow them with defaults), missing
 *   ones as created.
 * - Two sources writing the same path: the later wins (a directory over a directory merges); a
 *   file and a directory on the same path is an error, as in BuildKit.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { BerthError, ignoreWarnings, type WarningSink } from '../errors/index.js';
import { normalizeLayerPath, type ImageFileView, type ViewEntry } from '../layer/fileindex.js';
import type { BytePath, EntryType, TarHeader } from '../layer/tar/types.js';
import type { Store } from '../store/index.js';
import {
  bytesOf,
  contextComponents,
  expandContextGlob,
  resolveInContext,
  textOf,
  typeOfStats,
  walkContext,
  type BuildContext,
  type ContextItem,
} from './context.js';
import { archiveEntries, detectArchive, type ArchiveFormat } from './copy/archive.js';
import { blankHeader, contextFileBody, contextXattrs, deviceNumbers, hashContextFile, mtimeOf } from './copy/host.js';
import { layerFileEntries, readDirHeaders, retarget, type LayerCopyOptions, type LayerPick } from './copy/layers.js';
import { hasWildcards } from './copy/match.js';
import { createIgnoreMatcher } from './dockerfile/dockerignore.js';
import { matchGlob } from './dockerfile/glob.js';
import { download, isUrlSource, parseChecksum, type Downloaded } from './copy/url.js';

export { openBuildContext, type BuildContext } from './context.js';

/** A layer entry as writeLayer takes it. */
export type InEntry = { header: TarHeader; body?: AsyncIterable<Buffer> | Buffer };

export type CopySource =
  | { kind: 'context'; context: BuildContext }
  /** `COPY --from`: a stage or image; `label` names it in messages ("stage builder"). */
  | { kind: 'layers'; store: Store; layers: readonly { digest: string; diffId: string }[]; view: ImageFileView; label?: string }
  /** `COPY <<EOF`: heredoc files (name = the heredoc's name). */
  | { kind: 'inline'; files: { name: string; content: Buffer }[] };

export interface CopyRequest {
  instruction: 'COPY' | 'ADD';
  /** As written after expansion: context-relative (or URLs, for ADD), or paths in the --from image. Ignored for inline sources. */
  sources: string[];
  /** As written after expansion. */
  dest: string;
  /** The current WORKDIR (absolute); a relative dest is relative to it. */
  workdir: string;
  /** Already resolved (identity.md rule 40). */
  chown?: { uid: number; gid: number };
  /** As written: octal ("755", "0644"), at most 07777. */
  chmod?: string;
  /** --exclude patterns, matched against paths below each source (and a source's own path). */
  excludes?: string[];
  /** Merged view of the stage being built. */
  target: ImageFileView;
  /** mtime of the directories the copy creates or changes, and of heredoc files. */
  now: Date;
  /** Where the instruction is, for messages, e.g. "Dockerfile:12". */
  where?: string;
  /** ADD --checksum=sha256:<hex>, for a single URL source. */
  checksum?: string;
  /**
   * BuildKit's AllowEmptyWildcard: when every source is a glob that matches nothing, copy nothing
   * instead of failing. Default false (Docker's legacy builder: "no source files were specified").
   */
  allowEmptyWildcard?: boolean;
  /** Where ADD downloads URL sources. Default: the OS temporary directory. */
  tmpDir?: string;
  /** Dropped xattrs, directories whose metadata could not be read exactly. */
  onWarning?: WarningSink;
}

export interface CopyPlan {
  /** sha256 hex over everything that decides the layer's content (not mtimes). */
  cacheKey: string;
  /** The destination, absolute and resolved in the stage (text). */
  dest: string;
  /** Entries planned (parents included; archive members not counted). */
  entries: number;
  /**
   * Removes temporary files (URL downloads). copyEntries does it when it ends; call it when the
   * plan is not used (a cache hit). Idempotent.
   */
  dispose(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Plan state

type Placed =
  | { kind: 'host'; dest: BytePath; type: EntryType; item: ContextItem; sha256?: string; xattrs: Map<string, Buffer>; linkname: BytePath; linkOf?: Placed }
  | { kind: 'inline'; dest: BytePath; type: 'file'; content: Buffer }
  | { kind: 'layer'; dest: BytePath; type: EntryType; v: ViewEntry }
  | { kind: 'url'; dest: BytePath; type: 'file'; dl: Downloaded }
  | { kind: 'archive'; dest: BytePath; type: 'archive'; host: Buffer; format: ArchiveFormat; sha256: string };

interface Parent {
  path: BytePath;
  /** Set when a copied directory lands on this parent: its own metadata is used. */
  placed?: Placed;
  header?: TarHeader;
}

interface PlanState {
  src: CopySource;
  op: string;
  chown?: { uid: number; gid: number };
  chmod?: number;
  now: { sec: number; nsec: number };
  parents: Parent[];
  placed: Map<BytePath, Placed>;
  downloads: Downloaded[];
  onWarning: WarningSink;
}

const states = new WeakMap<CopyPlan, PlanState>();

// ---------------------------------------------------------------------------------------------
// Helpers

const compareBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function layerPath(abs: BytePath): BytePath {
  return abs.replace(/^\/+/, '');
}

function joinPath(dir: BytePath, rel: BytePath): BytePath {
  if (rel === '') return dir;
  return dir === '/' ? `/${rel}` : `${dir}/${rel}`;
}

function dirnameOf(p: BytePath): BytePath {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

function basenameOf(p: BytePath): BytePath {
  return p.slice(p.lastIndexOf('/') + 1);
}

function timeOf(d: Date): { sec: number; nsec: number } {
  const ms = d.getTime();
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: (ms - sec * 1000) * 1e6 };
}

/** BuildKit's rule: an octal string no larger than 07777 (symbolic modes are refused here). */
export function parseChmod(op: string, chmod: string): number {
  if (!/^[0-7]+$/.test(chmod) || parseInt(chmod, 8) > 0o7777) {
    throw new BerthError('E_BUILD_COPY_CHMOD', `${op} --chmod=${chmod}: invalid chmod parameter: it should be an octal string between 0 and 07777`, {
      hint: 'write the mode in octal, e.g. --chmod=755 or --chmod=0644 (symbolic modes like u+x are not supported)',
    });
  }
  return parseInt(chmod, 8);
}

function notFound(op: string, source: string, where: string, ignored: boolean): BerthError {
  return new BerthError('E_BUILD_COPY_NOT_FOUND', `${op} ${source}: "${where}": not found${ignored ? ' (excluded by .dockerignore)' : ''}`, {
    hint: ignored ? 'remove the matching pattern from .dockerignore (or add a ! exception), or copy another path' : 'check the path: sources are relative to the build context (or absolute in the --from image)',
    details: { source },
  });
}

function destError(op: string, reason: string, hint: string): BerthError {
  return new BerthError('E_BUILD_COPY_DEST', `${op}: ${reason}`, { hint });
}

/**
 * Resolves an absolute path in the stage's tree, following every symlink (the final one too)
 * inside the root; a dangling symlink resolves to where its target would be.
 */
function resolveInView(view: ImageFileView, abs: BytePath, op: string): BytePath {
  const queue = abs.split('/').filter((c) => c !== '' && c !== '.').reverse();
  const stack: BytePath[] = [];
  let hops = 0;
  while (queue.length > 0) {
    const c = queue.pop() as BytePath;
    if (c === '..') {
      stack.pop();
      continue;
    }
    if (c === '' || c === '.') continue;
    const p = `/${[...stack, c].join('/')}`;
    const e = view.lookup(p);
    if (e?.type === 'symlink') {
      if (++hops > 40) throw destError(op, `${textOf(abs)}: too many levels of symbolic links in the image`, 'fix the symlink loop or choose another destination');
      const t = e.linkname ?? '';
      if (t.startsWith('/')) stack.length = 0;
      const parts = t.split('/');
      for (let i = parts.length - 1; i >= 0; i--) queue.push(parts[i]);
      continue;
    }
    stack.push(c);
  }
  return `/${stack.join('/')}`;
}

/** Expands a glob over the --from image's tree; returns absolute paths as matched, sorted. */
function expandViewGlob(view: ImageFileView, comps: readonly BytePath[]): BytePath[] {
  let current: BytePath[] = ['/'];
  for (const comp of comps) {
    const next: BytePath[] = [];
    const wild = hasWildcards(textOf(comp));
    for (const dir of current) {
      if (!wild) {
        const p = joinPath(dir, comp.replace(/\\(.)/g, '$1'));
        if (view.lookup(p)) next.push(p);
        continue;
      }
      for (const name of view.list(dir) ?? []) if (matchGlob(textOf(comp), textOf(name))) next.push(joinPath(dir, name));
    }
    current = next;
  }
  return current.sort(compareBytes);
}

// ---------------------------------------------------------------------------------------------
// planCopy

/** Resolves the sources and destination, checks them, and computes the cache key. */
export async function planCopy(src: CopySource, req: CopyRequest): Promise<CopyPlan> {
  const downloads: Downloaded[] = [];
  try {
    return await plan(src, req, downloads);
  } catch (e) {
    // Nothing downloaded survives a plan that failed.
    await Promise.all(downloads.map((d) => rm(d.dir, { recursive: true, force: true })));
    throw e;
  }
}

async function plan(src: CopySource, req: CopyRequest, downloads: Downloaded[]): Promise<CopyPlan> {
  const op = `${req.instruction}${req.where ? ` (${req.where})` : ''}`;
  const onWarning = req.onWarning ?? ignoreWarnings;
  const chmod = req.chmod !== undefined ? parseChmod(op, req.chmod) : undefined;
  const excludes = createIgnoreMatcher(req.excludes ?? [], '--exclude');
  const now = timeOf(req.now);
  if (!req.workdir.startsWith('/')) throw destError(op, `WORKDIR ${req.workdir} is not absolute`, 'the working directory must be an absolute path');
  if (req.checksum !== undefined) {
    if (req.instruction !== 'ADD') throw new BerthError('E_BUILD_ADD_CHECKSUM', `${op}: --checksum can only be used with ADD`, { hint: 'use ADD --checksum=sha256:<hex> <url> <dest>' });
    if (req.sources.length !== 1 || !isUrlSource(req.sources[0])) {
      throw new BerthError('E_BUILD_ADD_CHECKSUM', `${op}: --checksum needs exactly one http(s) source`, { hint: 'verify one downloaded file per ADD instruction' });
    }
  }

  // The destination.
  const destWritten = req.dest;
  const destSyntaxDir = destWritten === '' || destWritten === '.' || destWritten.endsWith('/') || destWritten.endsWith('/.');
  const destAbs = normalizeLayerPath(bytesOf(destWritten.startsWith('/') ? destWritten : `${req.workdir}/${destWritten}`));
  const dest = resolveInView(req.target, destAbs, op);
  const destExisting = req.target.lookup(dest);
  const destIsDir = destSyntaxDir || destExisting?.type === 'dir';

  const placed = new Map<BytePath, Placed>();
  const tops = new Set<BytePath>();
  const place = (p: Placed) => {
    const old = placed.get(p.dest);
    if (old) {
      const oldDir = old.type === 'dir';
      const newDir = p.type === 'dir';
      if (oldDir !== newDir) {
        throw new BerthError('E_BUILD_COPY_CONFLICT', `${op}: ${textOf(p.dest)} would be both a directory and a file`, { hint: 'copy the two sources to different destinations' });
      }
      if (!newDir) placed.delete(p.dest);
    }
    if (basenameOf(p.dest).startsWith('.wh.')) {
      throw new BerthError('E_BUILD_COPY_UNSUPPORTED', `${op}: ${textOf(p.dest)}: a name starting with .wh. is a whiteout in a layer and cannot be copied`, {
        hint: 'rename the file or exclude it (.dockerignore or --exclude)',
      });
    }
    placed.set(p.dest, p);
  };
  /** Where a non-directory source named `name` lands. */
  const fileDest = (name: BytePath): BytePath => {
    const d = destIsDir ? joinPath(dest, name) : dest;
    const existing = req.target.lookup(d);
    if (existing?.type === 'dir' && d !== dest) {
      throw destError(op, `cannot replace the directory ${textOf(d)} with a file`, 'copy to another destination or remove the directory first');
    }
    tops.add(dirnameOf(d));
    return d;
  };
  const dirDest = (): BytePath => {
    if (destExisting && destExisting.type !== 'dir') {
      throw destError(op, `cannot copy a directory to ${textOf(dest)}: it is a file in the image`, 'copy to a directory, or remove the file first');
    }
    tops.add(dest);
    return dest;
  };
  const tooMany = (n: number) => {
    if (n > 1 && !destIsDir) {
      throw destError(op, `When using ${req.instruction} with more than one source file, the destination must be a directory and end with a /`, `write the destination as ${destWritten}/`);
    }
  };

  if (src.kind === 'inline') {
    tooMany(src.files.length);
    for (const f of src.files) place({ kind: 'inline', dest: fileDest(bytesOf(f.name)), type: 'file', content: f.content });
  } else if (src.kind === 'context') {
    const ctx = src.context;
    const selections: { source: string; shown: BytePath; comps: BytePath[] }[] = [];
    const urls: string[] = [];
    let globs = 0;
    for (const s of req.sources) {
      if (isUrlSource(s)) {
        if (req.instruction === 'COPY') throw new BerthError('E_BUILD_COPY_URL', `${op} ${s}: COPY cannot take a URL source`, { hint: 'use ADD for URLs' });
        urls.push(s);
        continue;
      }
      const comps = contextComponents(op, s);
      if (hasWildcards(s)) {
        globs++;
        const matches = expandContextGlob(ctx, comps, op, s);
        if (matches === 'absent') throw notFound(op, s, `/${textOf(comps.slice(0, comps.findIndex((c) => hasWildcards(textOf(c)))).join('/'))}`, false);
        for (const m of matches) if (!excludes(textOf(m), false)) selections.push({ source: s, shown: m, comps: m === '' ? [] : m.split('/') });
      } else {
        const shown = comps.join('/');
        if (shown !== '' && excludes(textOf(shown), false)) continue;
        selections.push({ source: s, shown, comps });
      }
    }
    if (selections.length === 0 && urls.length === 0) {
      if (!(req.allowEmptyWildcard === true && globs === req.sources.length)) {
        throw new BerthError('E_BUILD_COPY_NOT_FOUND', `${op} ${req.sources.join(' ')}: no source files were specified (nothing matches in the build context)`, {
          hint: 'check the patterns against the build context, .dockerignore and --exclude',
          details: { sources: req.sources },
        });
      }
    }
    tooMany(selections.length + urls.length);
    const inodes = new Map<string, Placed>();
    const placeHost = (item: ContextItem, to: BytePath): void => {
      const p: Placed = { kind: 'host', dest: to, type: item.type as EntryType, item, xattrs: new Map(), linkname: '' };
      if (item.type === 'symlink') {
        p.linkname = readlinkBytes(item.host);
      } else if (item.type !== 'dir' && item.st.nlink > 1n) {
        const k = `${item.st.dev}:${item.st.ino}`;
        const first = inodes.get(k);
        // The same inode copied again onto the same path replaces the first copy.
        if (first && first.dest !== to) p.linkOf = first;
        else inodes.set(k, p);
      }
      if (item.type === 'file') p.sha256 = hashContextFile(item.host, item.st);
      if (item.type !== 'symlink') p.xattrs = contextXattrs(item.host, item.type as EntryType, onWarning);
      place(p);
    };
    for (const sel of selections) {
      const r = resolveInContext(ctx, sel.comps, true, op, sel.source);
      if ('missing' in r) throw notFound(op, sel.source, `/${textOf(sel.shown)}`, r.missing === 'ignored');
      const found = r.found;
      if (found.st.isDirectory()) {
        const top = dirDest();
        for (const item of walkContext(ctx, found, excludes)) {
          if (item.type === 'socket') {
            onWarning({ code: 'W_BUILD_COPY_SOCKET', message: `${op} ${sel.source}: ${textOf(item.rel)} is a socket, which a layer cannot carry; not copied`, path: textOf(item.rel) });
            continue;
          }
          placeHost(item, joinPath(top, item.rel));
        }
        continue;
      }
      if (found.st.isSocket()) {
        throw new BerthError('E_BUILD_COPY_UNSUPPORTED', `${op} ${sel.source}: a socket cannot be copied into a layer`, { hint: 'exclude it with .dockerignore' });
      }
      if (req.instruction === 'ADD' && found.st.isFile()) {
        const format = await detectArchive(found.host, op);
        if (format !== undefined) {
          const top = dirDest();
          // Archives are keyed apart (NUL cannot be in a path): their members are only known when
          // the layer is written, and they land under `top`.
          place({ kind: 'archive', dest: `${top}\0archive${placed.size}`, type: 'archive', host: found.host, format, sha256: hashContextFile(found.host, found.st) });
          continue;
        }
      }
      const item: ContextItem = { rel: basenameOf(sel.shown === '' ? found.rel : sel.shown), host: found.host, type: typeOfStats(found.st), st: found.st };
      placeHost(item, fileDest(item.rel));
    }
    const expect = req.checksum !== undefined ? parseChecksum(op, req.checksum) : undefined;
    for (const u of urls) {
      const dl = await download(u, req.tmpDir ?? tmpdir(), op, expect);
      downloads.push(dl);
      place({ kind: 'url', dest: fileDest(bytesOf(dl.name)), type: 'file', dl });
    }
  } else {
    const view = src.view;
    const picks: { source: string; abs: BytePath }[] = [];
    for (const s of req.sources) {
      if (isUrlSource(s)) throw new BerthError('E_BUILD_COPY_URL', `${op} ${s}: a URL cannot be copied --from a stage or image`, { hint: 'use ADD <url> without --from' });
      const abs = normalizeLayerPath(bytesOf(s.startsWith('/') ? s : `/${s}`));
      if (hasWildcards(s)) {
        for (const m of expandViewGlob(view, abs.split('/').filter((c) => c !== ''))) if (!excludes(textOf(m.slice(1)), false)) picks.push({ source: s, abs: m });
      } else if (abs === '/' || !excludes(textOf(abs.slice(1)), false)) picks.push({ source: s, abs });
    }
    if (picks.length === 0 && !(req.allowEmptyWildcard === true && req.sources.every((s) => hasWildcards(s)))) {
      throw new BerthError('E_BUILD_COPY_NOT_FOUND', `${op} ${req.sources.join(' ')}: no source files were specified (nothing matches in ${src.label ?? 'the source image'})`, {
        hint: 'check the paths in that stage or image',
        details: { sources: req.sources },
      });
    }
    tooMany(picks.length);
    for (const pk of picks) {
      const e = view.lookup(pk.abs, { follow: true });
      const real = view.realpath(pk.abs);
      if (!e || real === undefined) throw notFound(op, pk.source, textOf(pk.abs), false);
      if (e.type === 'dir') {
        const top = dirDest();
        const prefix = real === '/' ? '/' : `${real}/`;
        const excludedDirs = new Map<BytePath, ViewEntry>();
        const added = new Set<BytePath>();
        for (const v of view.entries({ sorted: true })) {
          if (!v.path.startsWith(prefix) || v.path === real) continue;
          const rel = v.path.slice(prefix.length);
          if (excludes.patterns.length > 0 && excludes(textOf(rel), false)) {
            if (v.type === 'dir') excludedDirs.set(v.path, v);
            continue;
          }
          // An excluded directory holding a re-included entry is listed before it.
          const missing: ViewEntry[] = [];
          for (let d = dirnameOf(v.path); d.length > real.length && !added.has(d); d = dirnameOf(d)) {
            const x = excludedDirs.get(d);
            if (x) missing.unshift(x);
          }
          for (const x of missing) {
            added.add(x.path);
            place({ kind: 'layer', dest: joinPath(top, x.path.slice(prefix.length)), type: 'dir', v: x });
          }
          if (v.type === 'dir') added.add(v.path);
          place({ kind: 'layer', dest: joinPath(top, rel), type: v.type, v });
        }
        continue;
      }
      place({ kind: 'layer', dest: fileDest(basenameOf(pk.abs)), type: e.type, v: e });
    }
  }

  // Parents of every landing place, outermost first.
  const parentPaths = new Set<BytePath>();
  for (const t of tops) {
    for (let p = t; p !== '/'; p = dirnameOf(p)) parentPaths.add(p);
  }
  const created = req.chown ?? { uid: 0, gid: 0 };
  const parents: Parent[] = [...parentPaths].sort(compareBytes).map((path) => {
    const p = placed.get(path);
    if (p && p.type === 'dir') return { path, placed: p };
    const e = req.target.lookup(path);
    if (e && e.type !== 'dir') {
      throw destError(op, `cannot copy to ${textOf(destAbs)}: ${textOf(path)} is not a directory in the image`, 'choose a destination whose parents are directories');
    }
    if (e) return { path, header: blankHeader(layerPath(path), { type: 'dir', mode: e.mode, uid: e.uid, gid: e.gid, mtime: now }) };
    return { path, header: blankHeader(layerPath(path), { type: 'dir', mode: 0o755, uid: created.uid, gid: created.gid, mtime: now }) };
  });

  // The cache key: request options, parents, and every placed entry's content and metadata.
  const h = createHash('sha256');
  const line = (x: unknown) => h.update(`${JSON.stringify(x)}\n`);
  line({
    v: 1,
    instruction: req.instruction,
    dest: destWritten,
    resolved: dest,
    destIsDir,
    workdir: req.workdir,
    chown: req.chown ?? null,
    chmod: chmod ?? null,
    excludes: req.excludes ?? [],
    kind: src.kind,
  });
  for (const p of parents) {
    if (p.header) line(['parent', p.path, p.header.mode, p.header.uid, p.header.gid]);
    else line(['parent', p.path, 'copied']);
  }
  for (const p of placed.values()) line(keyOf(p, src));
  const cacheKey = h.digest('hex');

  let disposed = false;
  const result: CopyPlan = {
    cacheKey,
    dest: textOf(dest),
    entries: parents.filter((p) => p.header).length + placed.size,
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      await Promise.all(downloads.map((d) => rm(d.dir, { recursive: true, force: true })));
    },
  };
  const state: PlanState = { src, op, now, parents, placed, downloads, onWarning };
  if (req.chown) state.chown = req.chown;
  if (chmod !== undefined) state.chmod = chmod;
  states.set(result, state);
  return result;
}

function readlinkBytes(host: Buffer): BytePath {
  return readlinkSync(host, { encoding: 'buffer' }).toString('latin1');
}

function xattrKey(x: Map<string, Buffer>): [string, string][] {
  return [...x].sort((a, b) => compareBytes(a[0], b[0])).map(([k, v]) => [k, v.toString('hex')]);
}

/** What decides one placed entry's bytes in the layer (mtimes excluded). */
function keyOf(p: Placed, src: CopySource): unknown[] {
  switch (p.kind) {
    case 'host': {
      const st = p.item.st;
      return ['host', p.dest, p.type, Number(st.mode & 0o7777n), Number(p.type === 'file' ? st.size : 0n), p.sha256 ?? null, p.linkname, p.linkOf?.dest ?? null, p.type === 'char' || p.type === 'block' ? String(st.rdev) : null, xattrKey(p.xattrs)];
    }
    case 'inline':
      return ['inline', p.dest, createHash('sha256').update(p.content).digest('hex')];
    case 'url':
      return ['url', p.dest, p.dl.sha256, p.dl.size, p.dl.lastModified?.toISOString() ?? null];
    case 'archive':
      return ['archive', p.dest, p.format, p.sha256];
    case 'layer': {
      const v = p.v;
      const diffId = src.kind === 'layers' && v.layer >= 0 ? src.layers[v.layer]?.diffId ?? null : null;
      return ['layer', p.dest, v.path, v.type, v.mode, v.uid, v.gid, v.size, v.linkname ?? null, v.hardlinkTo ?? null, [...v.xattrs], v.capability ?? null, v.devmajor ?? null, v.devminor ?? null, v.layer, diffId];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// copyEntries

function hostHeader(p: Extract<Placed, { kind: 'host' }>, s: PlanState, emitted: Set<Placed>): InEntry {
  const st = p.item.st;
  const owner = s.chown ?? { uid: 0, gid: 0 };
  const mode = Number(st.mode & 0o7777n);
  const base = { ...owner, mtime: mtimeOf(st), xattrs: p.xattrs };
  const path = layerPath(p.dest);
  const perm = s.chmod ?? mode;
  switch (p.type) {
    case 'dir':
      return { header: blankHeader(path, { ...base, type: 'dir', mode: perm }) };
    case 'symlink':
      return { header: blankHeader(path, { ...base, type: 'symlink', mode, linkname: p.linkname }) };
    case 'char':
    case 'block': {
      const d = deviceNumbers(st.rdev);
      return { header: blankHeader(path, { ...base, type: p.type, mode: perm, devmajor: d.major, devminor: d.minor }) };
    }
    case 'fifo':
      return { header: blankHeader(path, { ...base, type: 'fifo', mode: perm }) };
    default:
      if (p.linkOf && emitted.has(p.linkOf)) return { header: blankHeader(path, { ...base, type: 'hardlink', mode: perm, linkname: layerPath(p.linkOf.dest) }) };
      return { header: blankHeader(path, { ...base, type: 'file', mode: perm, size: Number(st.size) }), body: contextFileBody(p.item.host, st) };
  }
}

/**
 * The layer's entries for a plan, parents before children. Bodies must be read (or abandoned)
 * before the next entry is requested, as with decoded tar entries. Temporary files are removed
 * when the generator ends.
 */
export async function* copyEntries(plan: CopyPlan): AsyncGenerator<InEntry> {
  const s = states.get(plan);
  if (!s) throw new TypeError('copyEntries: not a plan made by planCopy');
  const emitted = new Set<Placed>();
  const paths = new Set<BytePath>();
  const lopts: LayerCopyOptions = { op: s.op, now: s.now, onWarning: s.onWarning, ...(s.chown ? { chown: s.chown } : {}), ...(s.chmod !== undefined ? { chmod: s.chmod } : {}) };
  try {
    let dirHeaders = new Map<BytePath, TarHeader>();
    if (s.src.kind === 'layers') {
      const dirs: LayerPick[] = [];
      for (const p of s.placed.values()) if (p.kind === 'layer' && p.type === 'dir') dirs.push({ dest: p.dest, v: p.v });
      dirHeaders = await readDirHeaders(s.src, dirs, lopts);
    }
    const entryOf = (p: Placed): InEntry => {
      switch (p.kind) {
        case 'host':
          return hostHeader(p, s, emitted);
        case 'inline':
          return {
            header: blankHeader(layerPath(p.dest), { mode: s.chmod ?? 0o644, ...(s.chown ?? { uid: 0, gid: 0 }), size: p.content.length, mtime: s.now }),
            body: p.content,
          };
        case 'url': {
          const mtime = p.dl.lastModified ? timeOf(p.dl.lastModified) : s.now;
          return {
            header: blankHeader(layerPath(p.dest), { mode: s.chmod ?? 0o600, ...(s.chown ?? { uid: 0, gid: 0 }), size: p.dl.size, mtime }),
            body: fileBody(p.dl.file),
          };
        }
        case 'layer':
          return { header: retarget(dirHeaders.get(p.v.path) as TarHeader, p.dest, lopts) };
        default:
          throw new Error(`unexpected ${p.kind} entry`);
      }
    };
    for (const parent of s.parents) {
      const e = parent.placed ? entryOf(parent.placed) : { header: parent.header as TarHeader };
      if (parent.placed) emitted.add(parent.placed);
      paths.add(parent.path);
      yield e;
    }
    const layerPicks: LayerPick[] = [];
    for (const p of s.placed.values()) {
      if (emitted.has(p)) continue;
      if (p.kind === 'layer' && p.type !== 'dir') {
        layerPicks.push({ dest: p.dest, v: p.v });
        continue;
      }
      if (p.kind === 'archive') {
        const dest = p.dest.slice(0, p.dest.indexOf('\0'));
        for await (const e of archiveEntries(p.host, p.format, dest, { op: s.op, onWarning: s.onWarning, ...(s.chown ? { chown: s.chown } : {}) })) {
          const abs = `/${e.header.path}`;
          if (paths.has(abs) || s.placed.has(abs)) {
            if (e.header.type === 'dir') continue;
            throw new BerthError('E_BUILD_COPY_CONFLICT', `${s.op}: ${textOf(abs)} is written both by the archive ${p.host.toString('utf8')} and by another source`, {
              hint: 'copy the archive and the other source to different destinations',
            });
          }
          paths.add(abs);
          yield e;
        }
        emitted.add(p);
        continue;
      }
      const e = entryOf(p);
      emitted.add(p);
      paths.add(p.dest);
      yield e;
    }
    if (layerPicks.length > 0 && s.src.kind === 'layers') yield* layerFileEntries(s.src, layerPicks, lopts);
  } finally {
    await plan.dispose();
  }
}

async function* fileBody(file: string): AsyncGenerator<Buffer> {
  for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) yield c as Buffer;
}
