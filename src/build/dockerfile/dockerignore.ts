/**
 * build/dockerfile/dockerignore: which build-context paths a `.dockerignore` excludes, with the
 * semantics of moby/patternmatcher (ignorefile.ReadAll, PatternMatcher.MatchesOrParentMatches) and
 * of the walk in tonistiigi/fsutil (filter.go), which BuildKit uses to send the context.
 *
 * Reading the file (ignorefile.ReadAll): a UTF-8 BOM is dropped; a line whose first character is `#`
 * is a comment (an indented `#` is a pattern); lines are trimmed; `!` marks an exception (blanks
 * after it are trimmed too); each pattern is path-cleaned and loses one leading `/`, so `/a`, `./a`
 * and `a/` are the same pattern.
 *
 * Matching (patternmatcher): patterns are tried in order and the last one that matches decides, so
 * `!keep.log` after `*.log` re-includes keep.log. A pattern matches a path when it matches the path
 * itself or any of its parent directories (`build` excludes `build/x/y`). A pattern is compiled as
 * Go filepath.Match per segment, plus `**`: `**` alone or leading `**` followed only by literal text
 * is a suffix match, `x/**` a prefix match, `**` elsewhere any number of segments (zero included).
 * Only `.`, `+`, `(`, `)`, `|`, `{`, `}`, `$` are escaped on the way to the regular expression;
 * `[...]` classes pass through.
 *
 * Walking (fsutil filter.go): an excluded directory is skipped as a whole unless some exception
 * could re-include something inside it: when an exception pattern has a glob character, every
 * excluded directory is walked; otherwise only those that are a prefix of an exception (with a
 * trailing `/*` or `/**` removed). `descend(dir)` answers that question for a walker.
 * Pure.
 */
import { BerthError } from '../../errors/index.js';
import { cleanPath, validateGlob } from './glob.js';

export interface IgnorePattern {
  /** The cleaned pattern, without the leading `!`. */
  pattern: string;
  /** True for a `!` exception (re-includes what it matches). */
  exclusion: boolean;
  /** 1-based line in the .dockerignore. */
  line: number;
}

export interface IgnoreMatcher {
  /** Whether the context path (relative, `/`-separated) is excluded. `isDir` is accepted for
   * walkers' convenience: patternmatcher itself does not distinguish directories. */
  (relPath: string, isDir: boolean): boolean;
  /** Whether a walker must enter directory `relDir`: true unless it is excluded and no exception
   * pattern could re-include anything below it. */
  descend(relDir: string): boolean;
  /** True when at least one pattern is an exception (`!`). */
  readonly hasExceptions: boolean;
  readonly patterns: readonly IgnorePattern[];
}

const MAX_PATTERNS = 100_000;

/** ignorefile.ReadAll: the patterns of a .dockerignore file, in order. */
export function parseDockerignore(text: string, file = '.dockerignore'): IgnorePattern[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[0].startsWith('\ufeff')) lines[0] = lines[0].slice(1);
  const out: IgnorePattern[] = [];
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith('#')) return;
    let p = line.trim();
    if (p === '') return;
    const exclusion = p[0] === '!';
    if (exclusion) p = p.slice(1).trim();
    if (p.length > 0) {
      p = cleanPath(p);
      if (p.length > 1 && p[0] === '/') p = p.slice(1);
    }
    if (exclusion && p === '') {
      throw new BerthError('E_DOCKERIGNORE_PATTERN', `parse ${file}:${i + 1}: illegal exclusion pattern "!"`, {
        hint: 'write the path to re-include after the !, e.g. !keep.txt',
        details: { file, line: i + 1 },
      });
    }
    // patternmatcher.New cleans again; the result is already clean.
    out.push({ pattern: p, exclusion, line: i + 1 });
  });
  if (out.length > MAX_PATTERNS) {
    throw new BerthError('E_DOCKERIGNORE_PATTERN', `parse ${file}: ${out.length} patterns is more than the ${MAX_PATTERNS} allowed`, {
      hint: 'use broader patterns (directories, ** globs) instead of listing files',
    });
  }
  return out;
}

type Compiled =
  | { type: 'exact'; text: string }
  | { type: 'prefix'; text: string }
  | { type: 'suffix'; text: string }
  | { type: 'regexp'; re: RegExp };

/** patternmatcher Pattern.compile, for `/` as the separator. */
function compile(pattern: string): Compiled {
  const chars = Array.from(pattern);
  let re = '^';
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  let inClass = false;
  for (let i = 0, k = 0; k < chars.length; i++) {
    const ch = chars[k++];
    if (ch === '*') {
      if (chars[k] === '*') {
        k++;
        if (chars[k] === '/') k++; // `**/` is `**`
        if (k >= chars.length) {
          // Trailing `**` accepts everything below, as .gitignore does.
          if (type === 'exact') type = 'prefix';
          else {
            re += '.*';
            type = 'regexp';
          }
        } else {
          re += '(.*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else if ('.+()|{}$'.includes(ch)) {
      re += `\\${ch}`;
    } else if (ch === '\\') {
      if (k < chars.length) {
        re += escapeLiteral(chars[k++]);
        type = 'regexp';
      } else re += '\\\\';
    } else if (ch === '[' || ch === ']') {
      inClass = ch === '[';
      re += ch;
      type = 'regexp';
    } else {
      // `^` negates a class; outside one it is literal here (Go's regexp would make it an anchor).
      re += ch === '/' ? '\\/' : ch === '^' && !inClass ? '\\^' : ch;
    }
  }
  if (type === 'regexp') {
    try {
      return { type, re: new RegExp(`${re}$`, 'u') };
    } catch {
      // A class Go's regexp accepts but JavaScript does not: fall back to literal matching.
      return { type: 'exact', text: pattern };
    }
  }
  if (type === 'prefix') return { type, text: pattern.slice(0, -2) };
  if (type === 'suffix') return { type, text: pattern.slice(2) };
  return { type, text: pattern };
}

/** A character made literal by `\` in a pattern, written so that it is literal in and out of classes. */
function escapeLiteral(ch: string): string {
  if (ch === '-') return '\\x2d';
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

function test(c: Compiled, path: string): boolean {
  switch (c.type) {
    case 'exact':
      return path === c.text;
    case 'prefix':
      return path.startsWith(c.text);
    case 'suffix':
      // `**/foo` also matches "foo" itself.
      return path.endsWith(c.text) || (c.text.startsWith('/') && path === c.text.slice(1));
    case 'regexp':
      return c.re.test(path);
  }
}

/** Normalises a walker's path: `./a//b/` -> `a/b`. */
function relPath(p: string): string {
  const c = cleanPath(p.replace(/^\/+/, ''));
  return c === '.' ? '' : c;
}

/** Builds the matcher for patterns from parseDockerignore (or a plain list, `!` for exceptions). */
export function createIgnoreMatcher(input: readonly IgnorePattern[] | readonly string[], file = '.dockerignore'): IgnoreMatcher {
  const patterns: IgnorePattern[] = [];
  input.forEach((p, i) => {
    if (typeof p !== 'string') {
      patterns.push(p);
      return;
    }
    // patternmatcher.New: trimmed, empty skipped, cleaned as a whole, then the `!` split off.
    const t = p.trim();
    if (t === '') return;
    const c = cleanPath(t);
    const exclusion = c.startsWith('!');
    if (exclusion && c.length === 1) {
      throw new BerthError('E_DOCKERIGNORE_PATTERN', `parse ${file}:${i + 1}: illegal exclusion pattern "!"`, {
        hint: 'write the path to re-include after the !, e.g. !keep.txt',
        details: { file, line: i + 1 },
      });
    }
    patterns.push({ pattern: exclusion ? c.slice(1) : c, exclusion, line: i + 1 });
  });
  const compiled = patterns.map((p) => {
    try {
      validateGlob(p.pattern);
    } catch (e) {
      throw new BerthError('E_DOCKERIGNORE_PATTERN', `parse ${file}:${p.line}: bad pattern "${p.pattern}": syntax error in pattern`, {
        hint: 'close every [ with ] (Go filepath.Match syntax)',
        details: { file, line: p.line, pattern: p.pattern },
        cause: e,
      });
    }
    return { ...p, c: compile(p.pattern) };
  });
  const hasExceptions = patterns.some((p) => p.exclusion);
  // fsutil: an exception with a glob character could match anywhere, so excluded directories are walked.
  const globChars = /[*[\]?^\\]/;
  const exceptionPrefixes = compiled.filter((p) => p.exclusion).map((p) => withoutTrailingGlob(p.pattern));
  const walkAllExcluded = exceptionPrefixes.some((p) => globChars.test(p));

  const excluded = (rel: string): boolean => {
    const path = relPath(rel);
    if (path === '') return false; // the context root itself is never excluded
    // The parent directories, shortest first (patternmatcher tries each for every pattern).
    const parents: string[] = [];
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) parents.push(path.slice(0, i));
    let matched = false;
    for (const p of compiled) {
      // An inclusion cannot change an excluded path and an exception cannot change an included one.
      if (p.exclusion !== matched) continue;
      let m = test(p.c, path);
      for (let i = 0; !m && i < parents.length; i++) m = test(p.c, parents[i]);
      if (m) matched = !p.exclusion;
    }
    return matched;
  };
  const matcher = ((rel: string, _isDir: boolean) => excluded(rel)) as IgnoreMatcher;
  Object.defineProperties(matcher, {
    descend: {
      value: (rel: string): boolean => {
        if (!excluded(rel)) return true;
        if (!hasExceptions) return false;
        if (walkAllExcluded) return true;
        const dirSlash = `${relPath(rel)}/`;
        return exceptionPrefixes.some((p) => `${p}/`.startsWith(dirSlash));
      },
    },
    hasExceptions: { value: hasExceptions },
    patterns: { value: Object.freeze(patterns.map((p) => ({ ...p }))) },
  });
  return matcher;
}

function withoutTrailingGlob(p: string): string {
  let s = p;
  if (s.endsWith('/**')) s = s.slice(0, -3);
  if (s.endsWith('/*')) s = s.slice(0, -2);
  return s;
}

/** parseDockerignore then createIgnoreMatcher. */
export function dockerignoreMatcher(text: string, file = '.dockerignore'): IgnoreMatcher {
  return createIgnoreMatcher(parseDockerignore(text, file), file);
}
