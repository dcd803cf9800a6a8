/**
 * build/sources: the entries COPY and ADD put in a layer, from the build context, from another
 * stage or image (`--from`), or from a heredoc; and the cache key of that content.
 *
 * Semantics followed (BuildKit dockerfile2llb dispatchCopy, solver/llbsolver/file):
 * - context paths are relative to the context root; `..` that leaves it is refused; `.dockerignore`
 *   (moby/patternmatcher: Go filepath.Match per component, `**`, `!` exceptions, last match wins,
 *   a pattern matching a parent excludes its children) filters the context;
 * - globs expand against the context; no match is an error; a directory source copies its
 *   contents; several sources need a destination directory (ending in `/`, or existing);
 * - context and heredoc files are owned by 0:0, `--from` files keep their owners, `--chown`
 *   replaces every owner; `--chmod` (octal) replaces the permission bits; modes, setuid bits and
 *   mtimes are kept; `--from` keeps every xattr, file capabilities included (the layer header as
 *   stored);
 * - the layer lists every parent directory of the destination with its metadata in the stage
 *   (so the single-layer tree used as an overlay lower shows them unchanged); parents that do not
 *   exist are created 0755, owned by the `--chown` owner, else 0:0;
 * - ADD extracts a local tar archive (plain, gzip, zstd) into the destination, confined to it.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { BerthError } from '../errors/index.js';
import type { ImageFileView, ViewEntry } from '../layer/fileindex.js';
import { normalizeLayerPath } from '../layer/fileindex.js';
import type { TarHeader } from '../layer/tar/types.js';
import { decodeTar } from '../layer/tar/index.js';
import { decompress } from '../layer/compress.js';
import type { Store } from '../store/index.js';
import { readLayer } from '../api/layers.js';

type InEntry = { header: TarHeader; body?: AsyncIterable<Buffer> | Buffer };

// ---------------------------------------------------------------------------------------------
// .dockerignore and globs

/** Go filepath.Match for one path (segments split on '/'); `**` matches any number of segments. */
export function globRegex(pattern: string): RegExp {
  let r = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          r += '(?:.*/)?';
        } else r += '.*';
      } else r += '[^/]*';
    } else if (c === '?') r += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) r += '\\[';
      else {
        let cls = pattern.slice(i + 1, end);
        if (cls.startsWith('^') || cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        r += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < pattern.length) {
      r += pattern[++i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else r += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${r}$`);
}

function cleanRel(p: string): string {
  const parts: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') parts.pop();
    else parts.push(c);
  }
  return parts.join('/');
}

export interface IgnoreRule {
  negate: boolean;
  re: RegExp;
}

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (let line of text.split('\n')) {
    line = line.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    const p = cleanRel(line);
    if (p === '') continue;
    rules.push({ negate, re: globRegex(p) });
  }
  return rules;
}

/** Whether a context path (relative, '/'-separated) is excluded. */
export function isIgnored(rules: readonly IgnoreRule[], rel: string): boolean {
  let excluded = false;
  const parts = rel.split('/');
  for (const r of rules) {
    let hit = false;
    for (let k = 1; k <= parts.length && !hit; k++) hit = r.re.test(parts.slice(0, k).join('/'));
    if (hit) excluded = !r.negate;
  }
  return excluded;
}

// ---------------------------------------------------------------------------------------------
// Requests

export interface BuildContext {
  dir: string;
  ignore: IgnoreRule[];
}

export function openContext(dir: string, dockerignoreText: string | undefined): BuildContext {
  return { dir: realpathSync(dir), ignore: parseDockerignore(dockerignoreText ?? '') };
}

export type CopySource =
  | { kind: 'context'; context: BuildContext }
  | { kind: 'layers'; store: Store; layers: readonly { digest: string; diffId: string }[]; view: ImageFileView; label: string }
  | { kind: 'inline'; files: { name: string; content: Buffer }[] };

export interface CopyRequest {
  instruction: 'COPY' | 'ADD';
  sources: string[];
  dest: string;
  workdir: string;
  chown?: { uid: number; gid: number };
  chmod?: number;
  target: ImageFileView;
  now: Date;
  line: number;
  file: string;
}

interface Planned {
  /** Absolute destination path in the image. */
  dest: string;
  kind: 'file' | 'dir-contents' | 'archive';
  /** context: absolute host path; layers: image path; inline: index. */
  from: string;
  inline?: Buffer;
}

export interface CopyPlan {
  cacheKey: string;
  entries(): AsyncGenerator<InEntry>;
}

function copyError(code: string, req: CopyRequest, reason: string, hint: string): BerthError {
  return new BerthError(code, `${req.instruction} at ${req.file}:${req.line}: ${reason}`, { hint, details: { line: req.line } });
}

const hasGlob = (s: string) => /[*?[]/.test(s);

function time(d: Date): { sec: number; nsec: number } {
  return { sec: Math.floor(d.getTime() / 1000), nsec: (d.getTime() % 1000) * 1e6 };
}

function header(path: string, over: Partial<TarHeader>): TarHeader {
  return { path, type: 'file', mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', size: 0, mtime: { sec: 0, nsec: 0 }, linkname: '', devmajor: 0, devminor: 0, xattrs: new Map(), ...over };
}

/** Layer path (no leading slash) of an absolute image path, as a byte string. */
function layerPath(abs: string): string {
  return Buffer.from(abs.replace(/^\/+/, ''), 'utf8').toString('latin1');
}

/** A tar archive, plain or compressed (gzip, zstd), by its first bytes: what ADD extracts. */
function isArchiveMagic(file: string): boolean {
  const b = Buffer.alloc(512);
  let n = 0;
  const fd = openSync(file, 'r');
  try {
    n = readSync(fd, b, 0, b.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return true;
  if (n >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return true;
  return n >= 262 && b.toString('latin1', 257, 262) === 'ustar';
}

/** Resolves sources to plans (errors name the instruction's line). */
export async function planCopy(src: CopySource, req: CopyRequest): Promise<CopyPlan> {
  const destAbs = normalizeLayerPath(req.dest.startsWith('/') ? req.dest : `${req.workdir.replace(/\/$/, '')}/${req.dest}`);
  const destIsDir = req.dest.endsWith('/') || req.dest.endsWith('/.') || req.dest === '.' || (req.target.lookup(destAbs, { follow: true })?.type === 'dir');
  const planned: Planned[] = [];
  const keyParts: string[] = [JSON.stringify([req.instruction, destAbs, destIsDir, req.chown ?? null, req.chmod ?? null])];

  const place = (name: string, isDirContents: boolean): string => (isDirContents ? destAbs : destIsDir ? normalizeLayerPath(`${destAbs}/${name}`) : destAbs);

  if (src.kind === 'inline') {
    src.files.forEach((f, i) => {
      planned.push({ dest: place(f.name, false), kind: 'file', from: String(i), inline: f.content });
      keyParts.push(`inline ${f.name} ${createHash('sha256').update(f.content).digest('hex')}`);
    });
  } else if (src.kind === 'context') {
    const ctx = src.context;
    const matches: string[] = [];
    for (const s of req.sources) {
      if (/^[a-z]+:\/\//i.test(s)) throw copyError('E_BUILD_ADD_URL', req, `${s}: sources from URLs are not supported`, 'download the file into the build context and copy it from there');
      const rel = cleanRel(s);
      if (s.split('/').filter((c) => c !== '' && c !== '.').reduce((d, c) => (d < 0 ? d : c === '..' ? d - 1 : d + 1), 0) < 0) {
        throw copyError('E_BUILD_COPY_OUTSIDE', req, `${s}: the path is outside the build context`, 'copy only files inside the context directory (the last argument of berth build)');
      }
      if (hasGlob(rel)) {
        const re = globRegex(rel);
        const found = walkContext(ctx).filter((p) => re.test(p));
        if (found.length === 0) throw copyError('E_BUILD_COPY_NOT_FOUND', req, `no source files were specified: "${s}" matches nothing in the build context`, 'check the pattern and .dockerignore');
        matches.push(...found);
      } else {
        const abs = rel === '' ? ctx.dir : join(ctx.dir, rel);
        let st: Stats;
        try {
          st = lstatSync(abs);
        } catch {
          throw copyError('E_BUILD_COPY_NOT_FOUND', req, `"/${rel}": not found in the build context`, 'check the path (relative to the context directory) and .dockerignore');
        }
        if (rel !== '' && isIgnored(ctx.ignore, rel)) throw copyError('E_BUILD_COPY_NOT_FOUND', req, `"/${rel}": excluded by .dockerignore`, 'remove the pattern from .dockerignore or copy another path');
        if (st.isSymbolicLink()) {
          const real = realpathSync(abs);
          if (real !== ctx.dir && !real.startsWith(ctx.dir + sep)) throw copyError('E_BUILD_COPY_OUTSIDE', req, `${s}: the symlink points outside the build context`, 'copy only files inside the context directory');
        }
        matches.push(rel);
      }
    }
    if (matches.length > 1 && !destIsDir) throw copyError('E_BUILD_COPY_DEST', req, `when using ${req.instruction} with more than one source file, the destination must be a directory and end with a /`, `write the destination as ${req.dest}/`);
    for (const rel of matches) {
      const abs = rel === '' ? ctx.dir : realpathSync(join(ctx.dir, rel));
      const st = statSync(abs);
      const name = rel.split('/').pop() ?? '';
      if (st.isDirectory()) planned.push({ dest: place(name, true), kind: 'dir-contents', from: abs });
      else if (req.instruction === 'ADD' && isArchiveMagic(abs)) planned.push({ dest: destIsDir ? destAbs : destAbs, kind: 'archive', from: abs });
      else planned.push({ dest: place(name, false), kind: 'file', from: abs });
    }
    for (const p of planned) keyParts.push(...hashHostTree(ctx, p));
  } else {
    for (const s of req.sources) {
      const abs = normalizeLayerPath(s.startsWith('/') ? s : `/${s}`);
      const e = src.view.lookup(abs, { follow: true });
      if (!e) throw copyError('E_BUILD_COPY_NOT_FOUND', req, `"${abs}": not found in ${src.label}`, 'check the path in that stage or image');
      const name = abs.split('/').pop() ?? '';
      if (e.type === 'dir') planned.push({ dest: place(name, true), kind: 'dir-contents', from: src.view.realpath(abs) ?? abs });
      else planned.push({ dest: place(name, false), kind: 'file', from: src.view.realpath(abs) ?? abs });
    }
    if (planned.length > 1 && !destIsDir) throw copyError('E_BUILD_COPY_DEST', req, `when using ${req.instruction} with more than one source file, the destination must be a directory and end with a /`, `write the destination as ${req.dest}/`);
    keyParts.push(`layers ${src.layers.map((l) => l.diffId).join(',')}`, ...planned.map((p) => `${p.kind} ${p.from} -> ${p.dest}`));
  }
  const cacheKey = createHash('sha256').update(keyParts.join('\n')).digest('hex');
  return { cacheKey, entries: () => entriesOf(src, req, planned) };
}

function walkContext(ctx: BuildContext, rel = ''): string[] {
  const out: string[] = [];
  const dir = rel === '' ? ctx.dir : join(ctx.dir, rel);
  for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const r = rel === '' ? d.name : `${rel}/${d.name}`;
    if (isIgnored(ctx.ignore, r)) continue;
    out.push(r);
    if (d.isDirectory()) out.push(...walkContext(ctx, r));
  }
  return out;
}

/** Cache-key lines for a host source: paths, types, modes, sizes, content hashes, link targets (no mtimes). */
function hashHostTree(ctx: BuildContext, p: Planned): string[] {
  const lines: string[] = [];
  const one = (abs: string, label: string) => {
    const st = lstatSync(abs);
    let what = `${st.mode.toString(8)}`;
    if (st.isFile()) what += ` ${st.size} ${createHash('sha256').update(readFileSync(abs)).digest('hex')}`;
    else if (st.isSymbolicLink()) what += ` -> ${readlinkTarget(abs)}`;
    lines.push(`${p.kind} ${label} ${p.dest} ${what}`);
  };
  if (p.kind === 'dir-contents') {
    const base = relative(ctx.dir, p.from);
    one(p.from, base);
    for (const r of walkContext(ctx, base)) one(join(ctx.dir, r), r);
  } else one(p.from, relative(ctx.dir, p.from));
  return lines;
}

function readlinkTarget(abs: string): string {
  return readlinkSync(abs);
}

// ---------------------------------------------------------------------------------------------
// Entries

function owner(req: CopyRequest, uid: number, gid: number): { uid: number; gid: number } {
  return req.chown ?? { uid, gid };
}

function perm(req: CopyRequest, mode: number): number {
  return req.chmod !== undefined ? (mode & ~0o7777) | req.chmod : mode;
}

/** Parents of `abs` (not `/`), outermost first. */
function parents(abs: string): string[] {
  const out: string[] = [];
  let p = abs;
  for (;;) {
    const i = p.lastIndexOf('/');
    if (i <= 0) break;
    p = p.slice(0, i);
    out.unshift(p);
  }
  return out;
}

async function* entriesOf(src: CopySource, req: CopyRequest, planned: Planned[]): AsyncGenerator<InEntry> {
  const mtime = time(req.now);
  const emitted = new Set<string>();
  // Parent directories with their metadata in the stage, or created.
  function* dirEntry(abs: string, created: { uid: number; gid: number; mode: number; mtime: { sec: number; nsec: number } }): Generator<InEntry> {
    if (abs === '/' || emitted.has(abs)) return;
    emitted.add(abs);
    const e = req.target.lookup(abs);
    if (e && e.type === 'dir') yield { header: header(layerPath(abs), { type: 'dir', mode: e.mode, uid: e.uid, gid: e.gid, mtime }) };
    else if (e && e.type === 'symlink') return;
    else yield { header: header(layerPath(abs), { type: 'dir', mode: created.mode, uid: created.uid, gid: created.gid, mtime: created.mtime }) };
  }
  const createdOwner = req.chown ?? { uid: 0, gid: 0 };
  for (const p of planned) {
    const top = p.kind === 'file' ? p.dest.slice(0, p.dest.lastIndexOf('/')) || '/' : p.dest;
    for (const d of [...parents(top), ...(top === '/' ? [] : [top])]) {
      yield* dirEntry(d, { ...createdOwner, mode: 0o755, mtime });
    }
    if (src.kind === 'inline') {
      const o = owner(req, 0, 0);
      yield { header: header(layerPath(p.dest), { mode: perm(req, 0o644), ...o, size: p.inline!.length, mtime }), body: p.inline! };
    } else if (src.kind === 'context') {
      if (p.kind === 'archive') yield* archiveEntries(p.from, p.dest, req);
      else if (p.kind === 'file') yield hostEntry(p.from, p.dest, req);
      else {
        for (const r of walkContext(src.context, relative(src.context.dir, p.from))) {
          const rel = relative(p.from, join(src.context.dir, r)).split(sep).join('/');
          yield hostEntry(join(src.context.dir, r), normalizeLayerPath(`${p.dest}/${rel}`), req);
        }
      }
    } else {
      yield* layerEntries(src, req, p);
    }
  }
}

function hostEntry(abs: string, dest: string, req: CopyRequest): InEntry {
  const st = lstatSync(abs, { bigint: true });
  const mode = Number(st.mode & 0o7777n);
  const o = owner(req, 0, 0);
  const mtime = { sec: Number(st.mtimeNs / 1_000_000_000n), nsec: Number(st.mtimeNs % 1_000_000_000n) };
  const path = layerPath(dest);
  if (st.isDirectory()) return { header: header(path, { type: 'dir', mode: perm(req, mode), ...o, mtime }) };
  if (st.isSymbolicLink()) return { header: header(path, { type: 'symlink', mode: 0o777, ...o, mtime, linkname: Buffer.from(readlinkSync(abs)).toString('latin1') }) };
  if (!st.isFile()) throw copyError('E_BUILD_COPY_UNSUPPORTED', req, `${abs}: only regular files, directories and symlinks can be copied from the context`, 'remove the special file from the context or list it in .dockerignore');
  return { header: header(path, { mode: perm(req, mode), ...o, size: Number(st.size), mtime }), body: createReadStream(abs) as AsyncIterable<Buffer> };
}

async function* archiveEntries(file: string, dest: string, req: CopyRequest): AsyncGenerator<InEntry> {
  for await (const e of decodeTar(decompress(createReadStream(file) as AsyncIterable<Buffer>))) {
    const name = Buffer.from(e.header.path, 'latin1').toString('utf8');
    if (name.split('/').includes('..')) throw copyError('E_BUILD_ADD_UNSAFE', req, `${file}: member "${name}" leaves the destination`, 'fix the archive: member names must stay inside it');
    const rel = cleanRel(name);
    if (rel === '') continue;
    const h = { ...e.header, path: layerPath(normalizeLayerPath(`${dest}/${rel}`)) };
    if (h.type === 'hardlink') {
      const t = cleanRel(Buffer.from(h.linkname, 'latin1').toString('utf8'));
      h.linkname = layerPath(normalizeLayerPath(`${dest}/${t}`));
    }
    if (req.chown) Object.assign(h, req.chown);
    yield { header: h, body: e.body };
  }
}

/** `--from`: the entries under a source path, headers (xattrs, capabilities) as stored in the layers. */
async function* layerEntries(src: Extract<CopySource, { kind: 'layers' }>, req: CopyRequest, p: Planned): AsyncGenerator<InEntry> {
  const rebase = (abs: string): string => (p.kind === 'file' ? p.dest : normalizeLayerPath(`${p.dest}/${abs.slice(p.from.length)}`));
  const wanted = new Map<string, ViewEntry>();
  for (const e of src.view.entries({ sorted: true })) {
    if (p.kind === 'file' ? e.path === p.from : e.path.startsWith(p.from === '/' ? '/' : `${p.from}/`)) wanted.set(e.path, e);
  }
  // Directories from the view, then everything else from the layer that wrote it, layer by layer.
  const mtime = time(req.now);
  for (const e of wanted.values()) {
    if (e.type !== 'dir') continue;
    const o = owner(req, e.uid, e.gid);
    yield { header: header(layerPath(rebase(e.path)), { type: 'dir', mode: perm(req, e.mode), ...o, mtime }) };
  }
  const byLayer = new Map<number, Set<string>>();
  for (const e of wanted.values()) {
    if (e.type === 'dir') continue;
    const s = byLayer.get(e.layer) ?? new Set<string>();
    s.add(e.path);
    byLayer.set(e.layer, s);
  }
  const done = new Set<string>();
  for (const idx of [...byLayer.keys()].sort((a, b) => a - b)) {
    const paths = byLayer.get(idx)!;
    const layer = src.layers[idx];
    if (!layer) throw copyError('E_BUILD_COPY_UNSUPPORTED', req, `${src.label}: a file's layer is unknown`, 'report this with the Dockerfile');
    for await (const e of readLayer(src.store, layer.digest)) {
      const abs = normalizeLayerPath(e.header.path);
      if (!paths.has(abs) || done.has(abs)) continue;
      const v = wanted.get(abs)!;
      done.add(abs);
      const o = owner(req, e.header.uid, e.header.gid);
      const h: TarHeader = { ...e.header, path: layerPath(rebase(abs)), ...o, mode: e.header.type === 'symlink' ? e.header.mode : perm(req, e.header.mode) };
      if (e.header.type === 'hardlink' || v.hardlinkTo !== undefined) {
        const target = v.hardlinkTo ?? normalizeLayerPath(e.header.linkname);
        if (!done.has(target) || !wanted.has(target)) {
          throw copyError('E_BUILD_COPY_UNSUPPORTED', req, `${abs} is a hard link to ${target}, which this copy does not include first`, 'copy the directory holding both names');
        }
        h.type = 'hardlink';
        h.size = 0;
        h.linkname = layerPath(rebase(target));
        yield { header: h };
        continue;
      }
      yield { header: h, body: e.body };
    }
  }
}

