/**
 * build/instructions: the Dockerfile front end. Parses a Dockerfile into stages of instructions
 * with line numbers, and expands variables in words the way BuildKit does.
 *
 * Followed (moby/buildkit frontend/dockerfile/parser and shell/lex.go):
 * - parser directives (`# escape=`, `# syntax=`) only before the first instruction or comment;
 * - a line ending in the escape character continues on the next; comment lines and empty lines
 *   inside a continuation are skipped;
 * - instruction names are case-insensitive; JSON arrays give the exec form, anything else (including
 *   an invalid JSON array) the shell form;
 * - heredocs (`<<EOF`, `<<-EOF` strips leading tabs, a quoted delimiter disables expansion) for RUN,
 *   COPY and ADD; several per line;
 * - flags (`--name=value`) before the arguments of FROM, RUN, COPY, ADD and HEALTHCHECK;
 * - expansion: `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`, `${V+w}`, `${V:?m}`, `${V?m}`,
 *   `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`; single quotes are literal, double quotes expand;
 *   the escape character quotes the next character; unset variables expand to "".
 *
 * Why a parser of berth's own: the npm Dockerfile parsers (docker-file-parser, dockerfile-ast) are
 * editor tools: none implements heredocs together with BuildKit's expansion and continuation rules,
 * which decide what a build does. Pure: no I/O.
 */
import { BerthError } from '../errors/index.js';

export interface Heredoc {
  name: string;
  content: string;
  /** False when the delimiter was quoted: the content is used as written. */
  expand: boolean;
  /** `<<-`: leading tabs were stripped. */
  chomp: boolean;
}

export interface Instruction {
  /** Upper case: FROM, RUN, COPY, ... */
  kind: string;
  /** 1-based line of the instruction's first line, and of its last (continuations, heredocs). */
  line: number;
  endLine: number;
  /** The instruction as written (continuations joined, heredoc bodies left out). */
  original: string;
  flags: Map<string, string[]>;
  /** The arguments after the flags, as written. */
  args: string;
  /** JSON form: the parsed array; undefined for the shell form. */
  json?: string[];
  heredocs: Heredoc[];
}

export interface Stage {
  index: number;
  /** Lower-cased `AS` name. */
  name?: string;
  from: Instruction;
  instructions: Instruction[];
}

export interface Dockerfile {
  escape: string;
  directives: Record<string, string>;
  /** ARG instructions before the first FROM. */
  globalArgs: Instruction[];
  stages: Stage[];
}

const KNOWN = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);
const WITH_FLAGS = new Set(['FROM', 'RUN', 'COPY', 'ADD', 'HEALTHCHECK']);
const WITH_HEREDOCS = new Set(['RUN', 'COPY', 'ADD']);
const KNOWN_FLAGS: Record<string, string[]> = {
  FROM: ['platform'],
  RUN: ['mount', 'network', 'security'],
  COPY: ['chown', 'chmod', 'from', 'link', 'parents', 'exclude'],
  ADD: ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir', 'exclude'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};

export function syntaxError(file: string, line: number, reason: string, hint?: string): BerthError {
  return new BerthError('E_DOCKERFILE_SYNTAX', `parse ${file}:${line}: ${reason}`, {
    hint: hint ?? 'fix the Dockerfile at that line (https://docs.docker.com/reference/dockerfile/)',
    details: { file, line },
  });
}

/** Splits leading `--name=value` flags off an argument string. */
function splitFlags(kind: string, rest: string, file: string, line: number): { flags: Map<string, string[]>; args: string } {
  const flags = new Map<string, string[]>();
  let s = rest;
  for (;;) {
    const m = /^--([A-Za-z][A-Za-z0-9-]*)(?:=("(?:[^"\\]|\\.)*"|\S*))?(?:\s+|$)/.exec(s);
    if (!m) break;
    const name = m[1].toLowerCase();
    if (!(KNOWN_FLAGS[kind] ?? []).includes(name)) {
      throw syntaxError(file, line, `unknown flag --${m[1]} for ${kind}`, `${kind} takes ${(KNOWN_FLAGS[kind] ?? []).map((f) => `--${f}`).join(', ') || 'no flags'}`);
    }
    let v = m[2] ?? 'true';
    if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    const list = flags.get(name) ?? [];
    list.push(v);
    flags.set(name, list);
    s = s.slice(m[0].length);
  }
  return { flags, args: s };
}

/** A JSON array of strings, or undefined (then the shell form applies). */
function parseJsonArray(s: string): string[] | undefined {
  const t = s.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* shell form */
  }
  return undefined;
}

const HEREDOC = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g;

/** Parses a Dockerfile. `file` names it in errors. */
export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines.length > 0 && lines[0].charCodeAt(0) === 0xfeff) lines[0] = lines[0].slice(1);
  const directives: Record<string, string> = {};
  let i = 0;
  // Directives: `# key=value` lines at the very top.
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$/.exec(lines[i]);
    if (!m) break;
    const key = m[1].toLowerCase();
    if (key in directives) break;
    directives[key] = m[2];
  }
  const escape = directives.escape ?? '\\';
  if (escape !== '\\' && escape !== '`') throw syntaxError(file, 1, `invalid escape directive "${escape}"`, 'escape must be \\ or `');
  const instructions: Instruction[] = [];
  while (i < lines.length) {
    const raw = lines[i];
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      i++;
      continue;
    }
    const start = i;
    let logical = '';
    let cur = raw;
    for (;;) {
      const t = cur.replace(/\s+$/, '');
      if (t.endsWith(escape)) {
        logical += t.slice(0, -1);
        i++;
        // Skip comment and empty lines inside a continuation.
        while (i < lines.length && (lines[i].trim() === '' || lines[i].trim().startsWith('#'))) i++;
        if (i >= lines.length) break;
        cur = lines[i];
        continue;
      }
      logical += cur;
      break;
    }
    const endOfLogical = i;
    i++;
    const m = /^\s*([A-Za-z]+)(?:\s+([\s\S]*))?$/.exec(logical);
    if (!m) throw syntaxError(file, start + 1, `cannot parse "${logical.trim().slice(0, 80)}"`);
    const kind = m[1].toUpperCase();
    if (!KNOWN.has(kind)) throw syntaxError(file, start + 1, `unknown instruction: ${m[1]}`);
    let rest = (m[2] ?? '').trim();
    let flags = new Map<string, string[]>();
    if (WITH_FLAGS.has(kind)) ({ flags, args: rest } = splitFlags(kind, rest, file, start + 1));
    const heredocs: Heredoc[] = [];
    let end = endOfLogical;
    if (WITH_HEREDOCS.has(kind) && parseJsonArray(rest) === undefined) {
      HEREDOC.lastIndex = 0;
      for (let h = HEREDOC.exec(rest); h; h = HEREDOC.exec(rest)) {
        const chomp = h[1] === '-';
        const name = h[3];
        const body: string[] = [];
        let closed = false;
        while (i < lines.length) {
          const l = chomp ? lines[i].replace(/^\t+/, '') : lines[i];
          i++;
          if (l === name) {
            closed = true;
            break;
          }
          body.push(l);
        }
        if (!closed) throw syntaxError(file, start + 1, `unterminated heredoc <<${name}: no line "${name}" follows`);
        end = i - 1;
        heredocs.push({ name, content: body.length > 0 ? `${body.join('\n')}\n` : '', expand: h[2] === '', chomp });
      }
    }
    const json = ['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'COPY', 'ADD', 'VOLUME'].includes(kind) ? parseJsonArray(rest) : undefined;
    if (rest === '' && !['CMD', 'ENTRYPOINT'].includes(kind) && heredocs.length === 0) {
      throw syntaxError(file, start + 1, `${kind} requires at least one argument`);
    }
    instructions.push({ kind, line: start + 1, endLine: end + 1, original: logical.trim(), flags, args: rest, ...(json ? { json } : {}), heredocs });
  }
  const df: Dockerfile = { escape, directives, globalArgs: [], stages: [] };
  for (const ins of instructions) {
    if (ins.kind === 'FROM') {
      const words = ins.args.split(/\s+/);
      let name: string | undefined;
      if (words.length === 3 && words[1].toLowerCase() === 'as') name = words[2].toLowerCase();
      else if (words.length !== 1) throw syntaxError(file, ins.line, 'FROM takes IMAGE [AS NAME]');
      if (name !== undefined && !/^[a-z][a-z0-9_.-]*$/.test(name)) throw syntaxError(file, ins.line, `invalid stage name "${name}"`, 'a stage name starts with a letter and has letters, digits, _ . -');
      df.stages.push({ index: df.stages.length, ...(name !== undefined ? { name } : {}), from: ins, instructions: [] });
      continue;
    }
    const stage = df.stages[df.stages.length - 1];
    if (!stage) {
      if (ins.kind === 'ARG') {
        df.globalArgs.push(ins);
        continue;
      }
      throw syntaxError(file, ins.line, `${ins.kind} before the first FROM`, 'only ARG may come before FROM');
    }
    if (ins.kind === 'ONBUILD') {
      const inner = /^([A-Za-z]+)/.exec(ins.args)?.[1]?.toUpperCase();
      if (!inner || !KNOWN.has(inner)) throw syntaxError(file, ins.line, `ONBUILD: unknown instruction ${inner ?? ''}`);
      if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(inner)) throw syntaxError(file, ins.line, `${inner} is not allowed as an ONBUILD trigger`);
    }
    stage.instructions.push(ins);
  }
  if (df.stages.length === 0) throw syntaxError(file, lines.length, 'no FROM instruction', 'a Dockerfile starts with FROM (ARGs may come before it)');
  return df;
}

// ---------------------------------------------------------------------------------------------
// Expansion (BuildKit shell/lex.go)

export type Lookup = (name: string) => string | undefined;

function globToRegex(p: string, greedy: boolean): string {
  let r = '';
  for (const c of p) {
    if (c === '*') r += greedy ? '.*' : '.*?';
    else if (c === '?') r += '.';
    else r += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return r;
}

class Lexer {
  private pos = 0;
  constructor(
    private readonly s: string,
    private readonly lookup: Lookup,
    private readonly escape: string,
    private readonly onUnset: (name: string, msg: string) => never,
  ) {}

  private peek(): string | undefined {
    return this.s[this.pos];
  }

  /** Words of the string (whitespace outside quotes splits), each expanded. */
  words(): string[] {
    const out: string[] = [];
    let cur = '';
    let inWord = false;
    while (this.pos < this.s.length) {
      const c = this.s[this.pos];
      if (c === ' ' || c === '\t' || c === '\n') {
        if (inWord) out.push(cur);
        cur = '';
        inWord = false;
        this.pos++;
        continue;
      }
      inWord = true;
      cur += this.token();
    }
    if (inWord) out.push(cur);
    return out;
  }

  /** The whole string as one word (whitespace kept). */
  word(): string {
    let out = '';
    while (this.pos < this.s.length) {
      const c = this.s[this.pos];
      if (c === ' ' || c === '\t' || c === '\n') {
        out += c;
        this.pos++;
      } else out += this.token();
    }
    return out;
  }

  private token(): string {
    const c = this.s[this.pos];
    if (c === this.escape) {
      this.pos++;
      const n = this.s[this.pos];
      if (n === undefined) return this.escape;
      this.pos++;
      return n;
    }
    if (c === "'") {
      const end = this.s.indexOf("'", this.pos + 1);
      if (end < 0) throw new Error('unterminated single quote');
      const v = this.s.slice(this.pos + 1, end);
      this.pos = end + 1;
      return v;
    }
    if (c === '"') {
      this.pos++;
      let v = '';
      for (;;) {
        const d = this.s[this.pos];
        if (d === undefined) throw new Error('unterminated double quote');
        if (d === '"') {
          this.pos++;
          return v;
        }
        if (d === this.escape) {
          const n = this.s[this.pos + 1];
          // Inside double quotes the escape only quotes ", $, the escape itself and newline.
          if (n === '"' || n === '$' || n === this.escape || n === '\n') {
            v += n;
            this.pos += 2;
            continue;
          }
          v += d;
          this.pos++;
          continue;
        }
        if (d === '$') {
          v += this.dollar();
          continue;
        }
        v += d;
        this.pos++;
      }
    }
    if (c === '$') return this.dollar();
    this.pos++;
    return c;
  }

  private dollar(): string {
    this.pos++; // $
    const c = this.peek();
    if (c === '{') {
      this.pos++;
      const nm = /^[A-Za-z_][A-Za-z0-9_]*|^[0-9]/.exec(this.s.slice(this.pos));
      if (!nm) throw new Error(`bad substitution near "\${${this.s.slice(this.pos, this.pos + 10)}"`);
      const name = nm[0];
      this.pos += name.length;
      const value = this.lookup(name);
      if (this.peek() === '}') {
        this.pos++;
        return value ?? '';
      }
      const opMatch = /^(:-|:\+|:\?|-|\+|\?|##|#|%%|%)/.exec(this.s.slice(this.pos));
      if (!opMatch) throw new Error(`bad substitution: unsupported modifier in \${${name}${this.s.slice(this.pos, this.pos + 3)}`);
      const op = opMatch[0];
      this.pos += op.length;
      // The word after the operator, expanded, up to the matching brace.
      let w = '';
      while (this.peek() !== '}') {
        if (this.peek() === undefined) throw new Error(`missing } in \${${name}`);
        w += this.token();
      }
      this.pos++;
      switch (op) {
        case ':-':
          return value === undefined || value === '' ? w : value;
        case '-':
          return value === undefined ? w : value;
        case ':+':
          return value !== undefined && value !== '' ? w : '';
        case '+':
          return value !== undefined ? w : '';
        case ':?':
          if (value === undefined || value === '') this.onUnset(name, w);
          return value!;
        case '?':
          if (value === undefined) this.onUnset(name, w);
          return value!;
        case '#':
        case '##': {
          const m = new RegExp(`^${globToRegex(w, op === '##')}`, 's').exec(value ?? '');
          return m ? (value ?? '').slice(m[0].length) : (value ?? '');
        }
        default: {
          const v = value ?? '';
          for (let k = op === '%%' ? 0 : v.length; op === '%%' ? k <= v.length : k >= 0; op === '%%' ? k++ : k--) {
            if (new RegExp(`^${globToRegex(w, true)}$`, 's').test(v.slice(k))) return v.slice(0, k);
          }
          return v;
        }
      }
    }
    const nm = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.pos));
    if (!nm) return '$';
    this.pos += nm[0].length;
    return this.lookup(nm[0]) ?? '';
  }
}

function lexError(ins: Pick<Instruction, 'line'>, file: string, e: unknown): BerthError {
  return syntaxError(file, ins.line, (e as Error).message);
}

/** Expands variables in `s` as one word (whitespace kept, quotes removed). */
export function expandWord(s: string, lookup: Lookup, escape: string, at: { line: number; file: string }): string {
  try {
    return new Lexer(s, lookup, escape, (name, msg) => {
      throw new BerthError('E_DOCKERFILE_ARG', `${at.file}:${at.line}: ${name}: ${msg || 'parameter not set or null'}`, { hint: `pass --build-arg ${name}=VALUE or give it a default`, details: { name, line: at.line } });
    }).word();
  } catch (e) {
    if (e instanceof BerthError) throw e;
    throw lexError(at, at.file, e);
  }
}

/** Splits `s` into words (quotes group, whitespace separates) and expands each. */
export function expandWords(s: string, lookup: Lookup, escape: string, at: { line: number; file: string }): string[] {
  try {
    return new Lexer(s, lookup, escape, (name, msg) => {
      throw new BerthError('E_DOCKERFILE_ARG', `${at.file}:${at.line}: ${name}: ${msg || 'parameter not set or null'}`, { hint: `pass --build-arg ${name}=VALUE or give it a default`, details: { name, line: at.line } });
    }).words();
  } catch (e) {
    if (e instanceof BerthError) throw e;
    throw lexError(at, at.file, e);
  }
}

/**
 * `KEY=VALUE ...` pairs of ENV, LABEL and ARG (each word expanded), or the legacy `ENV KEY VALUE`
 * form (everything after the key is the value). ARG allows a bare `KEY` (no value).
 */
export function keyValues(ins: Instruction, lookup: Lookup, escape: string, file: string, opts: { bareKeys?: boolean } = {}): [string, string | undefined][] {
  const at = { line: ins.line, file };
  const first = /^\S+/.exec(ins.args)?.[0] ?? '';
  if (!first.includes('=') && !opts.bareKeys) {
    // Legacy `ENV key value`.
    const key = first;
    const value = ins.args.slice(first.length).trim();
    if (value === '') throw syntaxError(file, ins.line, `${ins.kind} ${key} needs a value (${ins.kind} ${key}=VALUE)`);
    return [[key, expandWord(value, lookup, escape, at)]];
  }
  const out: [string, string | undefined][] = [];
  for (const w of expandWords(ins.args, lookup, escape, at)) {
    const eq = w.indexOf('=');
    if (eq < 0) {
      if (!opts.bareKeys) throw syntaxError(file, ins.line, `${ins.kind} expects KEY=VALUE, got "${w}"`);
      out.push([w, undefined]);
    } else {
      if (eq === 0) throw syntaxError(file, ins.line, `${ins.kind}: a name is missing before "="`);
      out.push([w.slice(0, eq), w.slice(eq + 1)]);
    }
  }
  return out;
}

/** Go's time.ParseDuration for HEALTHCHECK flags, in nanoseconds. */
export function parseDuration(s: string, file: string, line: number): number {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  const units: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m.index !== consumed) break;
    total += Number(m[1]) * units[m[2]];
    consumed += m[0].length;
  }
  if (consumed !== s.length || s === '') throw syntaxError(file, line, `invalid duration "${s}"`, 'durations look like 30s, 1m30s, 500ms');
  return Math.round(total);
}
