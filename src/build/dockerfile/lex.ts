/**
 * build/dockerfile/lex: BuildKit's word expansion (moby/buildkit frontend/dockerfile/shell/lex.go),
 * re-implemented rule for rule, because what a Dockerfile word expands to decides what a build does.
 *
 * One pass over the word's characters (Unicode code points, like Go's text/scanner):
 * - `$NAME`, `${NAME}`; a name is letters, digits and `_` (Unicode classes, as Go's unicode.IsLetter
 *   and IsDigit); `$` followed by a digit takes every following digit (`$12`), `$` followed by one of
 *   `@ * # ? - $ !` takes that one character; those positional and special names are never set, so
 *   they expand to "" (`$$` is "", not a pid). `$` followed by anything else is a literal `$`.
 * - `${N:-w}`, `${N-w}`, `${N:+w}`, `${N+w}`, `${N:?m}`, `${N?m}`: the colon forms treat an empty
 *   value as unset; `?` fails with "N: m" (default messages "is not allowed to be unset" / "empty").
 * - `${N#p}`, `${N##p}`, `${N%p}`, `${N%%p}`: shortest / longest prefix / suffix removal, with `*`
 *   and `?` wildcards (no bracket expressions); the pattern keeps its escapes (`\*` is a literal star).
 *   `${N:#p}` and `${N:%p}` are refused, as lex.go does.
 * - `${N/p/r}` replaces the first match, `${N//p/r}` every match; for `//` the replacement is a Go
 *   regexp template (`$$` is `$`, `$0` is the match), for `/` it is literal: both as lex.go.
 * - single quotes keep everything literally (no escape inside); double quotes expand `$` and let the
 *   escape character quote only `"`, `$` and itself; outside quotes the escape character makes the
 *   next character literal and is dropped at the end of the word.
 * - `<<` followed by blanks is kept with the blanks (heredoc operators stay one word).
 * - unset variables expand to "" (unless `skipUnsetEnv`, used to find heredoc names, keeps them).
 *
 * Word splitting (expandWords) splits on whitespace outside quotes and also splits what an unquoted
 * variable expanded to; an empty quoted string makes no word (lex.go's wordsStruct). Pure.
 */
import { BerthError } from '../../errors/index.js';

/** Returns a variable's value, or undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

export interface LexOptions {
  /** The Dockerfile's escape character (`# escape=`). Default `\`. */
  escape?: string;
  /** Keep quote characters in the output (used to tell quoted heredoc delimiters). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Treat quotes as ordinary characters (COPY heredoc bodies). */
  skipProcessQuotes?: boolean;
  /** Leave `$NAME` / `${NAME...}` of unset variables as written. */
  skipUnsetEnv?: boolean;
}

export interface LexResult {
  /** The expanded text, whitespace kept. */
  result: string;
  /** The expanded words (see the module comment). */
  words: string[];
  /** Variables read that were set, and those that were not (sorted). */
  matched: string[];
  unmatched: string[];
}

/** A lexing failure; `unset` is true for `${N?msg}` / `${N:?msg}` failures. */
export class LexError extends Error {
  constructor(
    message: string,
    readonly unset?: { name: string; message: string },
  ) {
    super(message);
    this.name = 'LexError';
  }
}

const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);
const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;
// Go's unicode.IsSpace.
const SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;

export function isGoSpace(ch: string): boolean {
  return SPACE.test(ch);
}

class Words {
  private buf = '';
  private inWord = false;
  private readonly words: string[] = [];

  addChar(ch: string): void {
    if (isGoSpace(ch)) {
      // A blank ends a word only when the word has characters: `""` alone makes no word.
      if (this.inWord && this.buf.length !== 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else this.addRawChar(ch);
  }

  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }

  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }

  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }

  get(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(
    word: string,
    private readonly lookup: Lookup,
    private readonly opts: Required<LexOptions>,
  ) {
    this.chars = Array.from(word);
    this.rawEscapes = opts.rawEscapes;
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  private getEnv(name: string): { value: string; set: boolean } {
    const v = this.lookup(name);
    if (v !== undefined) {
      this.matched.add(name);
      return { value: v, set: true };
    }
    this.unmatched.add(name);
    return { value: '', set: false };
  }

  /** Reads up to `stop` (consumed) or the end; an unseen `stop` is an error. */
  processStopOn(stop: string | undefined, rawEscapes: boolean): { result: string; words: string[] } {
    let result = '';
    const words = new Words();
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      const escape = this.opts.escape;
      for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
        if (stop !== undefined && ch === stop) {
          this.next();
          return { result, words: words.get() };
        }
        let special: (() => string) | undefined;
        if (ch === '$') special = () => this.processDollar();
        else if (ch === '<') special = () => this.processPossibleHeredoc();
        else if (!this.opts.skipProcessQuotes && ch === "'") special = () => this.processSingleQuote();
        else if (!this.opts.skipProcessQuotes && ch === '"') special = () => this.processDoubleQuote();
        if (special) {
          const tmp = special();
          result += tmp;
          // What a variable expands to is split into words; quoted text is not.
          if (ch === '$') words.addString(tmp);
          else words.addRawString(tmp);
          continue;
        }
        let c = this.next()!;
        if (c === escape) {
          if (this.rawEscapes) {
            words.addRawChar(c);
            result += c;
          }
          const n = this.next();
          if (n === undefined) break; // an escape at the end of the word is dropped
          c = n;
          words.addRawChar(c);
        } else words.addChar(c);
        result += c;
      }
      if (stop !== undefined) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
      return { result, words: words.get() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    let result = '';
    const open = this.next()!;
    if (this.opts.rawQuotes) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    let result = '';
    const open = this.next()!;
    if (this.opts.rawQuotes) result += open;
    const escape = this.opts.escape;
    for (;;) {
      const p = this.peek();
      if (p === undefined) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        this.next();
        if (this.opts.rawQuotes) result += p;
        return result;
      }
      if (p === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.next()!;
      if (ch === escape) {
        if (this.rawEscapes) result += ch;
        const q = this.peek();
        if (q === undefined) continue; // the unterminated quote is reported next round
        // Inside double quotes the escape quotes only ", $ and itself; otherwise it is literal.
        if (q === '"' || q === '$' || q === escape) ch = this.next()!;
      }
      result += ch;
    }
  }

  private processName(): string {
    let name = '';
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (name === '' && DIGIT.test(ch)) {
        while (this.peek() !== undefined && DIGIT.test(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) {
        this.next();
        return ch;
      }
      if (!LETTER.test(ch) && !DIGIT.test(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private processDollar(): string {
    this.next(); // $
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const { value, set } = this.getEnv(name);
      if (!set && this.opts.skipUnsetEnv) return `$${name}`;
      return value;
    }
    this.next(); // {
    const first = this.peek();
    if (first === undefined) throw new LexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    if (ch === undefined) throw new LexError("syntax error: missing '}'");
    let chs = ch;
    if (ch === '}') {
      const { value, set } = this.getEnv(name);
      if (!set && this.opts.skipUnsetEnv) return `\${${name}}`;
      return value;
    }
    if (ch === '/') return this.processReplace(name);
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.next();
      if (ch === undefined) throw new LexError("syntax error: missing '}'");
      chs += ch;
    } else if (!['+', '-', '?', '#', '%'].includes(ch)) {
      throw new LexError(`unsupported modifier (${chs}) in substitution`);
    }
    // Patterns keep their escapes (so `\*` stays a literal star for the pattern compiler).
    const rawEscapes = ch === '#' || ch === '%';
    if (nullIsUnset && rawEscapes) throw new LexError(`unsupported modifier (${chs}) in substitution`);
    let word: string;
    try {
      word = this.processStopOn('}', rawEscapes).result;
    } catch (e) {
      if (this.peek() === undefined) throw new LexError("syntax error: missing '}'");
      throw e;
    }
    const { value, set } = this.getEnv(name);
    if (this.opts.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;
    switch (ch) {
      case '-':
        return !set || (nullIsUnset && value === '') ? word : value;
      case '+':
        return !set || (nullIsUnset && value === '') ? '' : word;
      case '?': {
        if (!set) {
          const message = word !== '' ? word : 'is not allowed to be unset';
          throw new LexError(`${name}: ${message}`, { name, message });
        }
        if (nullIsUnset && value === '') {
          const message = word !== '' ? word : 'is not allowed to be empty';
          throw new LexError(`${name}: ${message}`, { name, message });
        }
        return value;
      }
      case '%':
      case '#': {
        let greedy = false;
        if (word.length > 0 && word[0] === ch) {
          greedy = true;
          word = word.slice(1);
        }
        return ch === '%' ? trimSuffix(word, value, greedy) : trimPrefix(word, value, greedy);
      }
      default:
        throw new LexError(`unsupported modifier (${chs}) in substitution`);
    }
  }

  private processReplace(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    let pattern: string;
    try {
      pattern = this.processStopOn('/', true).result;
    } catch (e) {
      if (this.peek() === undefined) throw new LexError("syntax error: missing '/' in ${}");
      throw e;
    }
    let replacement: string;
    try {
      replacement = this.processStopOn('}', true).result;
    } catch (e) {
      if (this.peek() === undefined) throw new LexError("syntax error: missing '}'");
      throw e;
    }
    const { value, set } = this.getEnv(name);
    if (this.opts.skipUnsetEnv && !set) return `\${${name}/${pattern}/${replacement}}`;
    const re = shellPatternRegex(pattern, true, false);
    if (all) return goReplaceAll(re, value, replacement);
    re.lastIndex = 0;
    const m = re.exec(value);
    return m ? value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length) : value;
  }

  private processPossibleHeredoc(): string {
    this.next(); // <
    if (this.peek() !== '<') return '<';
    this.next();
    let space = '';
    for (let ch = this.peek(); ch === '\t' || ch === '\r' || ch === ' '; ch = this.peek()) space += this.next();
    return `<<${space}`;
  }
}

/**
 * lex.go convertShellPatternToRegex: `*` (shortest or longest), `?`, `\` escaping only `*`, `?`
 * and `\` (`\}` and `\/` drop the backslash); everything else literal. `.` becomes `[^\n]` because
 * Go's `.` excludes only the newline.
 */
function shellPatternRegex(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  const star = greedy ? '[^\\n]*' : '[^\\n]*?';
  for (let i = 0; i < chars.length; i++) {
    let tok = chars[i];
    if (tok === '*') {
      out += star;
      continue;
    }
    if (tok === '?') {
      out += '[^\\n]';
      continue;
    }
    if (tok === '\\') {
      const n = chars[i + 1];
      if (n === '}' || n === '/') continue;
      i++;
      if (n !== '*' && n !== '?' && n !== '\\') throw new LexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ''}'`);
      tok = n;
    }
    out += /[.*+?^${}()|[\]\\/]/.test(tok) ? `\\${tok}` : tok;
  }
  return new RegExp(out, 'gu');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const re = shellPatternRegex(pattern, greedy, true);
  re.lastIndex = 0;
  const m = re.exec(value);
  return m ? value.slice(m.index + m[0].length) : value;
}

/** Reverses a pattern keeping `\x` pairs in order, so suffix removal becomes prefix removal. */
function reversePattern(pattern: string): string {
  const runes = Array.from(pattern);
  const out: string[] = new Array(runes.length);
  const last = runes.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = runes[i];
    const at = last - i;
    if (tok === '\\' && i !== last) {
      out[at - 1] = tok;
      out[at] = runes[i + 1];
      i += 2;
    } else {
      out[at] = tok;
      i++;
    }
  }
  return out.join('');
}

function reverseString(s: string): string {
  return Array.from(s).reverse().join('');
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

/** Go's Regexp.Expand for a pattern without groups: `$$`, `$0`/`${0}` the match, other names "". */
function goTemplate(template: string, match: string): string {
  let out = '';
  let rest = template;
  for (let i = rest.indexOf('$'); i >= 0; i = rest.indexOf('$')) {
    out += rest.slice(0, i);
    rest = rest.slice(i + 1);
    if (rest.startsWith('$')) {
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    const m = /^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/u.exec(rest);
    if (!m) {
      out += '$';
      continue;
    }
    rest = rest.slice(m[0].length);
    const name = m[1] ?? m[2];
    const isZero = /^[0-9]+$/.test(name) && Number(name) === 0 && (name.length === 1 || name[0] !== '0');
    if (isZero) out += match;
  }
  return out + rest;
}

/** Go's Regexp.ReplaceAllString: an empty match right after a match is not replaced. */
function goReplaceAll(re: RegExp, src: string, template: string): string {
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    re.lastIndex = searchPos;
    const m = re.exec(src);
    if (!m) break;
    const a0 = m.index;
    const a1 = m.index + m[0].length;
    out += src.slice(lastMatchEnd, a0);
    // Not for an empty match right after a match (Go: no double replacement).
    if (a1 > lastMatchEnd || a0 === 0) out += goTemplate(template, m[0]);
    lastMatchEnd = a1;
    const cp = src.codePointAt(searchPos);
    const width = cp === undefined ? 0 : cp > 0xffff ? 2 : 1;
    if (searchPos + width > a1) searchPos += width;
    else if (searchPos + 1 > a1) searchPos++;
    else searchPos = a1;
  }
  return out + src.slice(lastMatchEnd);
}

function normalise(opts: LexOptions): Required<LexOptions> {
  return {
    escape: opts.escape ?? '\\',
    rawQuotes: opts.rawQuotes ?? false,
    rawEscapes: opts.rawEscapes ?? false,
    skipProcessQuotes: opts.skipProcessQuotes ?? false,
    skipUnsetEnv: opts.skipUnsetEnv ?? false,
  };
}

/**
 * Runs the lexer over `word`. Throws LexError (with lex.go's message, prefixed
 * `failed to process "<word>"`) on a syntax error or a failed `${N?msg}`.
 */
export function lexWord(word: string, lookup: Lookup, options: LexOptions = {}): LexResult {
  const opts = normalise(options);
  const sw = new ShellWord(word, lookup, opts);
  try {
    const { result, words } = sw.processStopOn(undefined, opts.rawEscapes);
    return { result, words, matched: [...sw.matched].sort(), unmatched: [...sw.unmatched].sort() };
  } catch (e) {
    if (e instanceof LexError) throw new LexError(`failed to process "${word}": ${e.message}`, e.unset);
    throw e;
  }
}

/** Where a word comes from, for error messages. */
export interface WordSite {
  file?: string;
  line?: number;
}

function siteText(at: WordSite): string {
  return `Dockerfile ${at.file ?? 'Dockerfile'}${at.line !== undefined ? `:${at.line}` : ''}`;
}

/** Converts a LexError into the BerthError a user sees (E_DOCKERFILE_ARG for `${N?msg}`). */
export function lexFailure(e: unknown, at: WordSite): unknown {
  if (!(e instanceof LexError)) return e;
  if (e.unset) {
    return new BerthError('E_DOCKERFILE_ARG', `expand ${siteText(at)}: ${e.unset.name}: ${e.unset.message}`, {
      hint: `pass --build-arg ${e.unset.name}=VALUE, or declare it with ARG ${e.unset.name}=DEFAULT before this line`,
      details: { file: at.file ?? 'Dockerfile', line: at.line, name: e.unset.name },
      cause: e,
    });
  }
  return new BerthError('E_DOCKERFILE_SYNTAX', `parse ${siteText(at)}: ${e.message}`, {
    hint: 'fix the quoting or the ${...} expression on that line (https://docs.docker.com/reference/dockerfile/#environment-replacement)',
    details: { file: at.file ?? 'Dockerfile', line: at.line },
    cause: e,
  });
}

/**
 * Expands one word the way BuildKit expands ENV values, paths, USER, WORKDIR and the like
 * (ProcessWord): quotes removed, whitespace kept. `escape` is the Dockerfile's escape character.
 */
export function expandWord(word: string, lookup: Lookup, escape: string = '\\', at: WordSite = {}): string {
  try {
    return lexWord(word, lookup, { escape }).result;
  } catch (e) {
    throw lexFailure(e, at);
  }
}

/** Expands and splits into words (ProcessWords), as BuildKit does for EXPOSE. */
export function expandWords(word: string, lookup: Lookup, escape: string = '\\', at: WordSite = {}): string[] {
  try {
    return lexWord(word, lookup, { escape }).words;
  } catch (e) {
    throw lexFailure(e, at);
  }
}
