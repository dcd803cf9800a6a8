/**
 * build/dockerfile/words: how BuildKit's parser cuts an instruction line into its name, flags and
 * arguments (moby/buildkit frontend/dockerfile/parser/split_command.go extractBuilderFlags,
 * line_parsers.go parseWords, parseJSON), before any expansion. Quotes and escapes are kept in the
 * words they produce: expansion (lex.ts) removes them later. Pure.
 */
import { isGoSpace } from './lex.js';
import type { EscapeChar } from './types.js';

/** An error raised while building one instruction; the caller adds the file and line. */
export class InstructionError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export function fail(message: string, hint?: string): never {
  throw new InstructionError(message, hint);
}

// Go's unicode.IsSpace, for trimming.
const LEADING_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
const TRAILING_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/;

export function trimLeftSpace(s: string): string {
  return s.replace(LEADING_SPACE, '');
}

export function trimSpace(s: string): string {
  return s.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, '');
}

export interface RawNode {
  /** The instruction name, upper-cased. */
  kind: string;
  /** As written, for messages. */
  written: string;
  flags: string[];
  /** The arguments after the flags, trimmed. */
  rest: string;
  /** ONBUILD's wrapped instruction. */
  sub?: RawNode;
  line: string;
}

export const GO_BLANKS = /[\t\v\f\r ]+/;

/** extractBuilderFlags: leading `--flag` words; returns them and the rest of the line. */
function extractFlags(line: string, escape: EscapeChar): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let buf = '';
  let quote = '';
  let blankOK = false;
  let ch = '';
  for (let pos = 0; pos <= line.length; pos++) {
    if (pos !== line.length) ch = line[pos];
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (isGoSpace(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { rest: line.slice(pos), flags };
      phase = 'word';
    }
    if (pos === line.length) {
      if (buf !== '--' && (blankOK || buf.length > 0)) flags.push(buf);
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        phase = 'spaces';
        if (buf === '--') return { rest: line.slice(pos), flags };
        if (blankOK || buf.length > 0) flags.push(buf);
        buf = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === escape) {
        if (pos + 1 === line.length) continue;
        pos++;
        ch = line[pos];
      }
      buf += ch;
      continue;
    }
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === escape) {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      pos++;
      ch = line[pos];
    }
    buf += ch;
  }
  return { rest: '', flags };
}

/** parseWords: splits on blanks outside quotes, keeping quotes and escapes for later expansion. */
export function parseWords(rest: string, escape: EscapeChar): string[] {
  const cps = Array.from(rest);
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  let buf = '';
  let ch = '';
  for (let pos = 0; pos <= cps.length; pos++) {
    if (pos !== cps.length) ch = cps[pos];
    if (phase === 'spaces') {
      if (pos === cps.length) break;
      if (isGoSpace(ch)) continue;
      phase = 'word';
    }
    if (pos === cps.length) {
      if (blankOK || buf.length > 0) words.push(buf);
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        phase = 'spaces';
        if (blankOK || buf.length > 0) words.push(buf);
        buf = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === cps.length) continue; // an escape at the end is dropped
        // Unquoted, the escape and the character after it are both kept (even a quote).
        buf += ch;
        pos++;
        ch = cps[pos];
      }
      buf += ch;
      continue;
    }
    if (ch === quote) phase = 'word';
    else if (ch === escape && quote !== "'") {
      if (pos + 1 === cps.length) {
        phase = 'word';
        continue;
      }
      buf += ch;
      pos++;
      ch = cps[pos];
    }
    buf += ch;
  }
  return words;
}

export function splitBlanks(rest: string): string[] {
  return rest === '' ? [] : rest.split(GO_BLANKS);
}

export function newNode(line: string, escape: EscapeChar): RawNode {
  const trimmed = trimSpace(line);
  const m = GO_BLANKS.exec(trimmed);
  const written = m ? trimmed.slice(0, m.index) : trimmed;
  const after = m ? trimmed.slice(m.index + m[0].length) : undefined;
  let flags: string[] = [];
  let rest = '';
  if (after !== undefined) {
    const f = extractFlags(after, escape);
    flags = f.flags;
    rest = trimSpace(f.rest);
  }
  const kind = written.toUpperCase();
  const node: RawNode = { kind, written, flags, rest, line };
  if (kind === 'ONBUILD' && rest !== '') node.sub = newNode(rest, escape);
  return node;
}

/** A JSON array of strings, undefined when `rest` is not a JSON array; throws for non-strings. */
export function jsonArgs(rest: string): string[] | undefined {
  const t = trimLeftSpace(rest);
  if (!t.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined; // not JSON: the shell form, as Docker does
  }
  if (!Array.isArray(v)) return undefined;
  if (!v.every((x) => typeof x === 'string')) fail('when using JSON array syntax, arrays must be comprised of strings only', 'quote every element, e.g. ["sleep", "10"]');
  return v as string[];
}

/** One CSV record (go-csvvalue / encoding/csv): commas separate, `"..."` quotes, `""` is a quote. */
export function csvFields(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  if (s === '') return [''];
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        const q = s.indexOf('"', i);
        if (q < 0) fail(`failed to parse csv mounts: extraneous or missing " in quoted-field: ${s}`);
        field += s.slice(i, q);
        i = q + 1;
        if (s[i] === '"') {
          field += '"';
          i++;
          continue;
        }
        break;
      }
      if (i < s.length && s[i] !== ',') fail(`failed to parse csv mounts: extraneous or missing " in quoted-field: ${s}`);
    } else {
      const c = s.indexOf(',', i);
      field = c < 0 ? s.slice(i) : s.slice(i, c);
      if (field.includes('"')) fail(`failed to parse csv mounts: bare " in non-quoted-field: ${s}`);
      i = c < 0 ? s.length : c;
    }
    out.push(field);
    if (i >= s.length) break;
    i++; // the comma
    if (i === s.length) {
      out.push('');
      break;
    }
  }
  return out;
}
