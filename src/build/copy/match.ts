/**
 * build/copy/match: whether a COPY source is a glob. Matching itself is the Dockerfile front
 * end's (build/dockerfile/glob.ts matchGlob, Go filepath.Match; build/dockerfile/dockerignore.ts,
 * moby/patternmatcher).
 *
 * The decision follows fsutil copy's containsWildcards: `*`, `?` and `[` make a glob, and a
 * `\`-escaped one does not, so `a\*b` names the literal file `a\*b`. Pure.
 */

/** Whether a path has glob metacharacters (a `\`-escaped one does not count). */
export function hasWildcards(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}
