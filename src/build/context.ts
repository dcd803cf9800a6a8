/**
 * build/context: the build context directory as COPY and ADD see it. Owns reading the ignore file,
 * resolving a source path inside the context (symlinks followed, never out of it), expanding
 * globs, and walking a directory source with `.dockerignore` and `--exclude` applied.
 *
 * Semantics (BuildKit: the context is sent through tonistiigi/fsutil with the ignore patterns, then
 * copied with fsutil/copy; see docs/build-copy.md):
 * - `<Dockerfile>.dockerignore` next to the Dockerfile wins over `<context>/.dockerignore`
 *   (dockerfile frontend, dockerui `ReadDockerignore`).
 * - An ignored path does not exist for COPY: naming it is "not found", globs do not match it, a
 *   directory walk skips it. An ignored directory is still walked when a `!` exception could
 *   re-include something below it, and is then listed (with its own metadata) only if something
 *   below it is; otherwise it is not even stat'ed, so an unreadable ignored directory is harmless
 *   (fsutil copy: "check exclude patterns before Lstat").
 * - Symlinks met while resolving a source are followed inside the context; one that leads out of it
 *   is an error (BuildKit instead resolves it as if the context were `/`, which usually ends in
 *   "not found"; the error says what happened).
 *
 * Paths here are byte strings (layer/tar/types.ts): names on disk are bytes, patterns are text.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, type BigIntStats } from 'node:fs';
import { resolve } from 'node:path';
import { BerthError, errnoOf } from '../errors/index.js';
import type { BytePath } from '../layer/tar/types.js';
import { createIgnoreMatcher, dockerignoreMatcher, type IgnoreMatcher } from './dockerfile/dockerignore.js';
import { cleanPath, matchGlob } from './dockerfile/glob.js';
import { hasWildcards } from './copy/match.js';

export interface BuildContext {
  /** Absolute path of the context directory, symlinks resolved. */
  dir: string;
  /** `dir` as a byte string. */
  dirBytes: BytePath;
  /** The ignore patterns in effect (none when there is no ignore file). */
  ignore: IgnoreMatcher;
  /** The ignore file that was read, if any. */
  ignoreFile?: string;
}

/** Linux's MAXSYMLINKS. */
const MAX_SYMLINK_HOPS = 40;

/** A byte string's text form, for pattern matching (ASCII is the same in both forms). */
export function textOf(p: BytePath): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(p) ? p : Buffer.from(p, 'latin1').toString('utf8');
}

/** The byte-string form of UTF-8 text (a path as written in a Dockerfile). */
export function bytesOf(text: string): BytePath {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
}

function hostPath(ctx: BuildContext, rel: BytePath): Buffer {
  return Buffer.from(rel === '' ? ctx.dirBytes : `${ctx.dirBytes}/${rel}`, 'latin1');
}

/**
 * Opens a context directory. Reads `<dockerfile>.dockerignore` if it exists (`dockerfile` is
 * absolute, or relative to the current directory), else `<dir>/.dockerignore`.
 */
export async function openBuildContext(dir: string, opts: { dockerfile?: string } = {}): Promise<BuildContext> {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (e) {
    throw new BerthError('E_BUILD_CONTEXT', `open build context ${dir}: ${errnoOf(e) === 'ENOENT' ? 'no such directory' : (e as Error).message}`, {
      hint: 'give an existing directory as the build context',
      cause: e,
    });
  }
  const st = lstatSync(real);
  if (!st.isDirectory()) throw new BerthError('E_BUILD_CONTEXT', `open build context ${dir}: not a directory`, { hint: 'give a directory as the build context' });
  const candidates = [...(opts.dockerfile !== undefined ? [`${resolve(opts.dockerfile)}.dockerignore`] : []), resolve(real, '.dockerignore')];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new BerthError('E_BUILD_CONTEXT', `read ${file}: ${(e as Error).message}`, { hint: 'make the ignore file readable', cause: e });
    }
    return { dir: real, dirBytes: bytesOf(real), ignore: dockerignoreMatcher(text, file), ignoreFile: file };
  }
  return contextWithPatterns(real, []);
}

/** A context over an already resolved directory with the given ignore patterns (`!` for exceptions). */
export function contextWithPatterns(realDir: string, patterns: readonly string[]): BuildContext {
  return { dir: realDir, dirBytes: bytesOf(realDir), ignore: createIgnoreMatcher(patterns) };
}

/** Whether a context path is hidden by the ignore file. */
export function isIgnored(ctx: BuildContext, rel: BytePath): boolean {
  return ctx.ignore(textOf(rel), false);
}

function outside(op: string, source: string, why: string): BerthError {
  return new BerthError('E_BUILD_COPY_OUTSIDE', `${op} ${source}: ${why}`, {
    hint: 'copy only files inside the build context directory (the last argument of berth build); symlinks must stay inside it too',
    details: { source },
  });
}

/** Components of a relative source path after Go's Clean; a path above the context root is refused. */
export function contextComponents(op: string, source: string): BytePath[] {
  const cleaned = cleanPath(`/${bytesOf(source)}`.replace(/^\/+/, ''));
  if (cleaned === '..' || cleaned.startsWith('../')) throw outside(op, source, 'the path is outside the build context');
  return cleaned === '.' ? [] : cleaned.split('/');
}

export interface ContextPath {
  /** Resolved path relative to the context root ('' for the root itself). */
  rel: BytePath;
  host: Buffer;
  st: BigIntStats;
}

export type Resolution = { found: ContextPath } | { missing: 'absent' | 'ignored' };

/**
 * Resolves `components` inside the context, following every symlink (the final one only with
 * `followFinal`) as the host would, and refusing any that leads outside. An ignored path (or one
 * below it) counts as missing, except a directory an exception may re-include.
 */
export function resolveInContext(ctx: BuildContext, components: readonly BytePath[], followFinal: boolean, op: string, source: string): Resolution {
  const queue = [...components].reverse();
  const stack: BytePath[] = [];
  let hops = 0;
  while (queue.length > 0) {
    const c = queue.pop() as BytePath;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (stack.length === 0) throw outside(op, source, 'a symlink leads outside the build context');
      stack.pop();
      continue;
    }
    const rel = stack.length === 0 ? c : `${stack.join('/')}/${c}`;
    let cst: BigIntStats | undefined;
    try {
      cst = lstatSync(hostPath(ctx, rel), { bigint: true });
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') return { missing: 'absent' };
      throw new BerthError('E_BUILD_CONTEXT', `${op} ${source}: ${(e as Error).message}`, { hint: 'make the build context readable by this user', cause: e });
    }
    if (isIgnored(ctx, rel) && !(cst.isDirectory() && ctx.ignore.descend(textOf(rel)))) return { missing: 'ignored' };
    if (cst.isSymbolicLink() && (queue.length > 0 || followFinal)) {
      if (++hops > MAX_SYMLINK_HOPS) throw new BerthError('E_BUILD_COPY_NOT_FOUND', `${op} ${source}: too many levels of symbolic links`, { hint: 'fix the symlink loop in the build context' });
      const target = readlinkSync(hostPath(ctx, rel), { encoding: 'buffer' }).toString('latin1');
      let parts: BytePath[];
      if (target.startsWith('/')) {
        const abs = cleanPath(target);
        if (abs !== ctx.dirBytes && !abs.startsWith(`${ctx.dirBytes}/`)) throw outside(op, source, `the symlink ${textOf(rel)} -> ${textOf(target)} points outside the build context`);
        stack.length = 0;
        parts = abs.slice(ctx.dirBytes.length).split('/');
      } else {
        parts = target.split('/');
      }
      for (let i = parts.length - 1; i >= 0; i--) queue.push(parts[i]);
      continue;
    }
    if (queue.length > 0 && !cst.isDirectory()) return { missing: 'absent' };
    stack.push(c);
  }
  const rel = stack.join('/');
  const host = hostPath(ctx, rel);
  return { found: { rel, host, st: lstatSync(host, { bigint: true }) } };
}

/** Sorted names in a context directory (byte strings). */
function listDir(host: Buffer): BytePath[] {
  return readdirSync(host, { encoding: 'buffer' })
    .map((n) => n.toString('latin1'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Expands a source glob against the context (fsutil ResolveWildcards): the components before the
 * first wildcard are resolved as a path, then each remaining component is matched against the
 * directory's entries (ignored ones excluded). Returns context-relative source paths (as matched,
 * not resolved), sorted. A literal prefix that does not exist is 'absent'.
 */
export function expandContextGlob(ctx: BuildContext, components: readonly BytePath[], op: string, source: string): BytePath[] | 'absent' {
  const first = components.findIndex((c) => hasWildcards(textOf(c)));
  const prefix = components.slice(0, first);
  const base = resolveInContext(ctx, prefix, true, op, source);
  if ('missing' in base) return 'absent';
  if (!base.found.st.isDirectory()) return [];
  let current: { shown: BytePath; resolved: BytePath[] }[] = [{ shown: prefix.join('/'), resolved: base.found.rel === '' ? [] : base.found.rel.split('/') }];
  for (let i = first; i < components.length; i++) {
    const comp = components[i];
    const next: typeof current = [];
    const wild = hasWildcards(textOf(comp));
    for (const dir of current) {
      const dirRes = resolveInContext(ctx, dir.resolved, true, op, source);
      if ('missing' in dirRes || !dirRes.found.st.isDirectory()) continue;
      const names = wild ? listDir(dirRes.found.host).filter((n) => matchGlob(textOf(comp), textOf(n))) : [comp.replace(/\\(.)/g, '$1')];
      for (const n of names) {
        const childRel = dirRes.found.rel === '' ? n : `${dirRes.found.rel}/${n}`;
        const childRes = resolveInContext(ctx, childRel.split('/'), i < components.length - 1, op, source);
        if ('missing' in childRes) continue;
        next.push({ shown: dir.shown === '' ? n : `${dir.shown}/${n}`, resolved: childRel.split('/') });
      }
    }
    current = next;
  }
  return current.map((c) => c.shown).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export type ContextEntryType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface ContextItem {
  /** Path relative to the walked directory. */
  rel: BytePath;
  host: Buffer;
  type: ContextEntryType;
  st: BigIntStats;
}

export function typeOfStats(st: BigIntStats): ContextEntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/**
 * Everything below the context directory `top` (resolved, context-relative), parents before
 * children, names sorted bytewise. Entries hidden by the ignore file (matched on their context
 * path) or by `excludes` (matched on their path below `top`) are left out; an excluded directory
 * is descended only when an exception could re-include something below it, and is then listed
 * just before the first entry that is kept.
 */
export function walkContext(ctx: BuildContext, top: ContextPath, excludes?: IgnoreMatcher): ContextItem[] {
  const out: ContextItem[] = [];
  const visit = (host: Buffer, relCtx: BytePath, relTop: BytePath, pending: { item: ContextItem; listed: boolean }[]) => {
    for (const name of listDir(host)) {
      const cRel = relCtx === '' ? name : `${relCtx}/${name}`;
      const tRel = relTop === '' ? name : `${relTop}/${name}`;
      const ignored = ctx.ignore(textOf(cRel), false);
      const excluded = excludes !== undefined && excludes(textOf(tRel), false);
      const hidden = ignored || excluded;
      const canDescend = (!ignored || ctx.ignore.descend(textOf(cRel))) && (!excluded || excludes!.descend(textOf(tRel)));
      // Not even stat'ed when nothing below can come back (an unreadable ignored dir is harmless).
      if (hidden && !canDescend) continue;
      const childHost = Buffer.concat([host, Buffer.from('/'), Buffer.from(name, 'latin1')]);
      const st = lstatSync(childHost, { bigint: true });
      const item: ContextItem = { rel: tRel, host: childHost, type: typeOfStats(st), st };
      if (hidden) {
        if (item.type === 'dir') visit(childHost, cRel, tRel, [...pending, { item, listed: false }]);
        continue;
      }
      for (const p of pending) {
        if (!p.listed) {
          out.push(p.item);
          p.listed = true;
        }
      }
      out.push(item);
      if (item.type === 'dir') visit(childHost, cRel, tRel, []);
    }
  };
  visit(top.host, top.rel, '', []);
  return out;
}
