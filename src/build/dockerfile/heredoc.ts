/**
 * build/dockerfile/heredoc: which words open a here-document and how its body is used
 * (moby/buildkit frontend/dockerfile/parser/parser.go ParseHeredoc, heredocsFromLine,
 * ChompHeredocContent). A word `[fd]<<[-]WORD` opens one; WORD is lexed twice, with and without
 * quotes, and any quote in it means the body is used as written. Pure.
 */
import { LexError, lexWord } from './lex.js';
import type { Heredoc } from './types.js';
import { fail, jsonArgs, type RawNode } from './words.js';

const HEREDOC_KINDS = new Set(['RUN', 'COPY', 'ADD']);

/** RUN, COPY and ADD (also wrapped in ONBUILD) in shell form read heredocs. */
export function canContainHeredoc(node: RawNode): boolean {
  const n = node.kind === 'ONBUILD' && node.sub ? node.sub : node;
  if (!HEREDOC_KINDS.has(n.kind)) return false;
  return jsonArgs(n.rest) === undefined;
}

const HEREDOC_WORD = /^([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)$/;

/** parser.ParseHeredoc: the heredoc a single word opens, or undefined. */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | undefined {
  const m = HEREDOC_WORD.exec(word);
  if (!m || m[3] === '') return undefined;
  const fd = m[1] === '' ? 0 : Number(m[1]);
  const none = () => undefined;
  let words: string[];
  let raw: string[];
  try {
    words = lexWord(m[3], none, { skipUnsetEnv: true }).words;
    if (words.length !== 1) return undefined;
    raw = lexWord(m[3], none, { skipUnsetEnv: true, rawQuotes: true }).words;
  } catch (e) {
    if (e instanceof LexError) fail(`heredoc ${word}: ${e.message}`, 'close the quotes of the heredoc delimiter');
    throw e;
  }
  if (raw.length !== 1) fail(`internal lexing of heredoc produced inconsistent results: ${m[3]}`);
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return { name: words[0], expand: quotes(words[0]) === quotes(raw[0]), chomp: m[2] === '-', fd: Number.isSafeInteger(fd) ? fd : 0 };
}

/** The heredocs a logical line opens (every lexed word tried, quotes and escapes kept). */
export function heredocsFromLine(line: string): Omit<Heredoc, 'content'>[] {
  let words: string[];
  try {
    words = lexWord(line, () => undefined, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).words;
  } catch {
    return []; // BuildKit ignores lexing errors here: such a line opens no heredoc
  }
  const out: Omit<Heredoc, 'content'>[] = [];
  for (const w of words) {
    const h = parseHeredocWord(w);
    if (h) out.push(h);
  }
  return out;
}

/** `<<-`: removes leading tabs from every line (parser.ChompHeredocContent). */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}
