/**
 * build/dockerfile/glob: Go's path matching, which COPY/ADD sources and .dockerignore rely on.
 *
 * - matchGlob is Go's filepath.Match on Unix: `*` is any run of characters except `/`, `?` one
 *   character except `/`, `[a-z]`, `[^a-z]` classes (ranges, `\` escapes inside), `\x` a literal x;
 *   the whole name must match. A malformed pattern (`[`, `[a-`, trailing `\`, `[]`) is an error even
 *   when the name would not match, as Go checks the rest of the pattern before answering false.
 *   BuildKit (through fsutil's copy) matches a source glob against each path below the pattern's
 *   literal prefix with this function, so `*` never crosses a directory.
 * - cleanPath is Go's path.Clean (lexical: `.` and `..` removed, slashes collapsed, "" is ".").
 * Pure.
 */
import { BerthError } from '../../errors/index.js';

class BadPattern extends Error {}

/** Go's filepath.Match; throws E_DOCKERFILE_GLOB for a malformed pattern. */
export function matchGlob(pattern: string, name: string): boolean {
  try {
    return match(Array.from(pattern), Array.from(name));
  } catch (e) {
    if (e instanceof BadPattern) {
      throw new BerthError('E_DOCKERFILE_GLOB', `match pattern "${pattern}": syntax error in pattern`, {
        hint: 'close every [ with ], and do not end a pattern with a lone \\ (Go filepath.Match syntax)',
        details: { pattern },
      });
    }
    throw e;
  }
}

/** Whether `pattern` has a metacharacter filepath.Match interprets (`*`, `?`, `[`, `\`). */
export function hasGlob(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

/** Throws E_DOCKERFILE_GLOB if `pattern` is malformed (Go: filepath.Match(pattern, "") error). */
export function validateGlob(pattern: string): void {
  matchGlob(pattern, '');
}

function match(pattern: string[], name: string[]): boolean {
  let p = pattern;
  let n = name;
  outer: while (p.length > 0) {
    const { star, chunk, rest } = scanChunk(p);
    p = rest;
    if (star && chunk.length === 0) {
      // A trailing * matches the rest of the name unless it holds a separator.
      return !n.includes('/');
    }
    const t = matchChunk(chunk, n);
    if (t !== undefined && (t.length === 0 || p.length > 0)) {
      n = t;
      continue;
    }
    if (star) {
      // Try every position the star could stop at, never past a separator.
      for (let i = 0; i < n.length && n[i] !== '/'; i++) {
        const u = matchChunk(chunk, n.slice(i + 1));
        if (u !== undefined) {
          if (p.length === 0 && u.length > 0) continue;
          n = u;
          continue outer;
        }
      }
    }
    // No match: the rest of the pattern must still be well formed.
    while (p.length > 0) {
      const next = scanChunk(p);
      p = next.rest;
      matchChunk(next.chunk, []);
    }
    return false;
  }
  return n.length === 0;
}

function scanChunk(pattern: string[]): { star: boolean; chunk: string[]; rest: string[] } {
  let p = pattern;
  let star = false;
  while (p.length > 0 && p[0] === '*') {
    p = p.slice(1);
    star = true;
  }
  let inRange = false;
  let i = 0;
  scan: for (; i < p.length; i++) {
    switch (p[i]) {
      case '\\':
        if (i + 1 < p.length) i++;
        break;
      case '[':
        inRange = true;
        break;
      case ']':
        inRange = false;
        break;
      case '*':
        if (!inRange) break scan;
        break;
    }
  }
  return { star, chunk: p.slice(0, i), rest: p.slice(i) };
}

/** Matches `chunk` at the start of `s`; returns the rest of `s`, or undefined for no match. */
function matchChunk(chunk: string[], s: string[]): string[] | undefined {
  let c = chunk;
  let rest = s;
  // After a mismatch Go keeps scanning the chunk so that malformed classes are still reported.
  let failed = false;
  while (c.length > 0) {
    if (!failed && rest.length === 0) failed = true;
    const head = c[0];
    if (head === '[') {
      let r = '';
      if (!failed) {
        r = rest[0];
        rest = rest.slice(1);
      }
      c = c.slice(1);
      let negated = false;
      if (c.length > 0 && c[0] === '^') {
        negated = true;
        c = c.slice(1);
      }
      let matched = false;
      let nrange = 0;
      for (;;) {
        if (c.length > 0 && c[0] === ']' && nrange > 0) {
          c = c.slice(1);
          break;
        }
        const lo = getEsc(c);
        c = lo.rest;
        let hi = lo.ch;
        if (c[0] === '-') {
          const h = getEsc(c.slice(1));
          hi = h.ch;
          c = h.rest;
        }
        const rc = r.codePointAt(0) ?? -1;
        if ((lo.ch.codePointAt(0) ?? 0) <= rc && rc <= (hi.codePointAt(0) ?? 0)) matched = true;
        nrange++;
      }
      if (matched === negated) failed = true;
      continue;
    }
    if (head === '?') {
      if (!failed) {
        if (rest[0] === '/') failed = true;
        rest = rest.slice(1);
      }
      c = c.slice(1);
      continue;
    }
    let lit = head;
    if (head === '\\') {
      c = c.slice(1);
      if (c.length === 0) throw new BadPattern();
      lit = c[0];
    }
    if (!failed) {
      if (lit !== rest[0]) failed = true;
      rest = rest.slice(1);
    }
    c = c.slice(1);
  }
  return failed ? undefined : rest;
}

function getEsc(chunk: string[]): { ch: string; rest: string[] } {
  let c = chunk;
  if (c.length === 0 || c[0] === '-' || c[0] === ']') throw new BadPattern();
  if (c[0] === '\\') {
    c = c.slice(1);
    if (c.length === 0) throw new BadPattern();
  }
  const ch = c[0];
  const rest = c.slice(1);
  if (rest.length === 0) throw new BadPattern();
  return { ch, rest };
}

/** Go's path.Clean. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** Go's path.Join: joins the non-empty elements with `/` and cleans the result. */
export function joinPath(...parts: string[]): string {
  const nonEmpty = parts.filter((x) => x !== '');
  return nonEmpty.length === 0 ? '' : cleanPath(nonEmpty.join('/'));
}
