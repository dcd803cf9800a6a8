/**
 * build/dockerfile/parse: Dockerfile text -> typed stages of instructions, following BuildKit's
 * parser (moby/buildkit frontend/dockerfile/parser/parser.go, line_parsers.go, split_command.go,
 * directives.go) and its instruction parser (instructions/parse.go, bflag.go). Pure.
 *
 * Lines:
 * - a UTF-8 BOM is dropped; lines end at `\n` (a `\r` before it is trimmed);
 * - parser directives (`# syntax=`, `# escape=`, `# check=`) count only at the very top, before any
 *   other line (an empty line or an ordinary comment ends them); a directive may appear once; `syntax`
 *   and `check` are recorded and otherwise ignored; `escape` is `\` (default) or a backtick;
 * - a line whose last non-blank character is the escape character, not itself escaped, continues on
 *   the next line; the escape and trailing blanks are removed, nothing else (indentation of the next
 *   line is kept); comment lines and blank lines inside a continuation are skipped (the latter with
 *   a warning, as BuildKit);
 * - a line whose first non-blank character is `#` is a comment; `#` elsewhere is text.
 * Instructions:
 * - the name is case-insensitive and ends at the first blank; leading `--name[=value]` words are
 *   flags (quotes and the escape character work inside them; `--` ends the flags);
 * - RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD and VOLUME take the exec (JSON) form when the arguments
 *   are a JSON array of strings; an invalid JSON array is the shell form (as Docker); a JSON array
 *   holding a non-string is an error;
 * - RUN, COPY and ADD (also under ONBUILD) in shell form read heredocs: every word of the line
 *   matching `[fd]<<[-]WORD` opens one, read in order from the following lines up to a line equal to
 *   WORD (`<<-`: after removing leading tabs). A quoted WORD (`<<"EOF"`, `<<'EOF'`, `<<E"O"F`)
 *   disables expansion of the body;
 * - ARG before the first FROM is global; any other instruction before FROM is an error.
 * Errors are E_DOCKERFILE_SYNTAX, `parse Dockerfile <file>:<line>: <reason>`, naming the
 * instruction's first line. Where BuildKit silently ignores something this parser refuses it, and
 * says so: flags on STOPSIGNAL, ARG and `HEALTHCHECK NONE` are checked like any other, an ONBUILD
 * trigger must be a known instruction, RUN needs a command, and a quote or `${` that can never be
 * closed in a word that will be expanded is reported now rather than when the step runs.
 */
import { BerthError, type WarningSink } from '../../errors/index.js';
import { canContainHeredoc, heredocsFromLine } from './heredoc.js';
import { buildInstruction, checkExpandedWords, KNOWN, unknownHint } from './instructions.js';
import type { Dockerfile, EscapeChar, FromInstruction, Heredoc, Instruction, Stage } from './types.js';
import { fail, InstructionError, newNode, trimLeftSpace, trimSpace, type RawNode } from './words.js';

export interface ParseOptions {
  /** Name used in messages. Default `Dockerfile`. */
  file?: string;
  /** Receives W_DOCKERFILE_* warnings (empty continuation lines, duplicate or reserved stage names). */
  onWarning?: WarningSink;
}

const DOCS = 'https://docs.docker.com/reference/dockerfile/';

/** Longest physical line BuildKit's scanner accepts (bufio.MaxScanTokenSize, newline included). */
export const MAX_LINE_BYTES = 64 * 1024;
/** Largest Dockerfile accepted. */
export const MAX_DOCKERFILE_BYTES = 16 * 1024 * 1024;

export function syntaxError(file: string, line: number, reason: string, hint?: string): BerthError {
  return new BerthError('E_DOCKERFILE_SYNTAX', `parse Dockerfile ${file}:${line}: ${reason}`, {
    hint: hint ?? `fix the Dockerfile at that line (${DOCS})`,
    details: { file, line },
  });
}

// ---------------------------------------------------------------------------------------------
// Lines, directives, continuations

interface PhysicalLine {
  /** Without the line ending. */
  text: string;
  /** As in the file, line ending included (heredoc bodies keep it). */
  raw: string;
}

function splitLines(text: string): PhysicalLine[] {
  const out: PhysicalLine[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    const raw = text.slice(start, end);
    out.push({ raw, text: raw.replace(/[\r\n]+$/, '') });
    start = end;
  }
  return out;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

const GO_S = '[\\t\\n\\f\\r ]';
const DIRECTIVE = new RegExp(`^([a-zA-Z][a-zA-Z0-9]*)${GO_S}*=${GO_S}*(.+?)${GO_S}*$`);
const VALID_DIRECTIVES = new Set(['syntax', 'escape', 'check']);

/** directives.go DirectiveParser: directives end at the first line that is not one. */
class DirectiveParser {
  done = false;
  readonly found: Record<string, string> = {};

  parseLine(line: string, file: string, lineNo: number): { name: string; value: string } | undefined {
    if (this.done) return undefined;
    if (!line.startsWith('#')) {
      this.done = true;
      return undefined;
    }
    const m = DIRECTIVE.exec(trimLeftSpace(line.slice(1)));
    if (!m || !VALID_DIRECTIVES.has(m[1].toLowerCase())) {
      this.done = true;
      return undefined;
    }
    const name = m[1].toLowerCase();
    if (name in this.found) throw syntaxError(file, lineNo, `only one ${name} parser directive can be used`, 'keep one of the two directives');
    this.found[name] = m[2];
    return { name, value: m[2] };
  }
}

function isComment(line: string): boolean {
  return trimLeftSpace(line).startsWith('#');
}

function continuationRegex(escape: EscapeChar): RegExp {
  const e = escape === '\\' ? '\\\\' : '`';
  // The escape as the last non-blank character, not preceded by another escape (BuildKit's regex).
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

// ---------------------------------------------------------------------------------------------
// The file

interface ParsedNode {
  node: RawNode;
  heredocs: Heredoc[];
  line: number;
  endLine: number;
}

/** Splits text into instruction nodes with their heredocs (parser.Parse). */
function parseNodes(text: string, file: string, onWarning: WarningSink | undefined): { nodes: ParsedNode[]; escape: EscapeChar; directives: Record<string, string> } {
  if (text.length > MAX_DOCKERFILE_BYTES) {
    throw syntaxError(file, 1, `the file is larger than ${MAX_DOCKERFILE_BYTES} bytes`, 'a Dockerfile this large is not a Dockerfile; check the -f path');
  }
  const lines = splitLines(text.startsWith('\ufeff') ? text.slice(1) : text);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].raw;
    if (raw.length * 3 >= MAX_LINE_BYTES && utf8Length(raw) > MAX_LINE_BYTES) {
      throw syntaxError(file, i + 1, `dockerfile line greater than max allowed size of ${MAX_LINE_BYTES - 1}`, 'split the line with continuation lines or move the data to a file');
    }
  }
  const directives = new DirectiveParser();
  let escape: EscapeChar = '\\';
  let cont = continuationRegex(escape);
  const processLine = (raw: string, lineNo: number, stripLeft: boolean): string => {
    const t = stripLeft ? trimLeftSpace(raw) : raw;
    const d = directives.parseLine(t, file, lineNo);
    if (d && d.name === 'escape') {
      if (d.value !== '\\' && d.value !== '`') throw syntaxError(file, lineNo, `invalid escape token '${d.value}' does not match \` or \\`, 'write # escape=\\ or # escape=`');
      escape = d.value;
      cont = continuationRegex(escape);
    }
    return isComment(t) ? '' : t;
  };
  const trimContinuation = (s: string): { text: string; end: boolean } => {
    if (cont.test(s)) return { text: s.replace(cont, '$1'), end: false };
    return { text: s, end: true };
  };

  const nodes: ParsedNode[] = [];
  let i = 0;
  while (i < lines.length) {
    const startLine = i + 1;
    const first = processLine(lines[i].text, startLine, true);
    i++;
    let { text: buf, end } = trimContinuation(first);
    if (end && buf.length === 0) continue;
    let emptyContinuation = false;
    while (!end && i < lines.length) {
      const rawLine = lines[i].text;
      const t = processLine(rawLine, i + 1, false);
      i++;
      if (isComment(rawLine)) continue;
      if (trimLeftSpace(t).length === 0) {
        emptyContinuation = true;
        continue;
      }
      const r = trimContinuation(t);
      buf += r.text;
      end = r.end;
    }
    const line = buf;
    if (emptyContinuation) {
      onWarning?.({
        code: 'W_DOCKERFILE_EMPTY_CONTINUATION',
        message: `parse Dockerfile ${file}:${startLine}: empty continuation line in "${trimSpace(line).slice(0, 80)}"; BuildKit warns that these will become errors`,
        details: { file, line: startLine },
      });
    }
    let node: RawNode;
    const heredocs: Heredoc[] = [];
    try {
      node = newNode(line, escape);
      if (canContainHeredoc(node) && line.includes('<<')) {
        for (const h of heredocsFromLine(line)) {
          let content = '';
          let closed = false;
          while (i < lines.length) {
            const l = lines[i];
            i++;
            const candidate = h.chomp ? l.text.replace(/^\t+/, '') : l.text;
            if (candidate === h.name) {
              closed = true;
              break;
            }
            content += l.raw;
          }
          if (!closed) fail(`unterminated heredoc <<${h.name}: no line "${h.name}" closes it`, `end the heredoc with a line holding only ${h.name}`);
          heredocs.push({ ...h, content });
        }
      }
    } catch (e) {
      if (e instanceof InstructionError) throw syntaxError(file, startLine, e.message, e.hint);
      throw e;
    }
    nodes.push({ node, heredocs, line: startLine, endLine: i });
  }
  return { nodes, escape, directives: { ...directives.found } };
}

/** Parses a Dockerfile. Throws E_DOCKERFILE_SYNTAX naming the line. */
export function parseDockerfile(text: string, options: ParseOptions = {}): Dockerfile {
  const file = options.file ?? 'Dockerfile';
  const { nodes, escape, directives } = parseNodes(text, file, options.onWarning);
  if (nodes.length === 0) throw syntaxError(file, Math.max(1, splitLines(text).length), 'file with no instructions', 'a Dockerfile starts with FROM (ARGs may come before it)');
  const df: Dockerfile = { file, directives, escape, globalArgs: [], stages: [] };
  const seen = new Map<string, number>();
  for (const { node, heredocs, line, endLine } of nodes) {
    if (!KNOWN.has(node.kind)) throw syntaxError(file, line, `unknown instruction: ${node.written}`, unknownHint(node.written));
    let ins: Instruction | FromInstruction;
    try {
      ins = buildInstruction(node, heredocs, { line, endLine, original: trimSpace(node.line) }, escape);
      checkExpandedWords(ins, escape);
    } catch (e) {
      if (e instanceof InstructionError) throw syntaxError(file, line, e.message, e.hint);
      throw e;
    }
    if (ins.kind === 'FROM') {
      const stage: Stage = { index: df.stages.length, ...(ins.name !== undefined ? { name: ins.name } : {}), from: ins, instructions: [] };
      if (ins.name !== undefined) {
        if (ins.name === 'scratch' || ins.name === 'context') {
          options.onWarning?.({ code: 'W_DOCKERFILE_RESERVED_STAGE_NAME', message: `parse Dockerfile ${file}:${line}: stage name "${ins.name}" is reserved and should not be used`, details: { file, line } });
        }
        const prev = seen.get(ins.name);
        if (prev !== undefined) {
          options.onWarning?.({
            code: 'W_DOCKERFILE_DUPLICATE_STAGE',
            message: `parse Dockerfile ${file}:${line}: duplicate stage name "${ins.name}" (also on line ${prev}); later references use this one`,
            details: { file, line, previous: prev },
          });
        }
        seen.set(ins.name, line);
      }
      df.stages.push(stage);
      continue;
    }
    const stage = df.stages[df.stages.length - 1];
    if (!stage) {
      if (ins.kind === 'ARG') {
        df.globalArgs.push(ins);
        continue;
      }
      throw syntaxError(file, line, `${ins.kind} before the first FROM: no build stage in current context`, 'only ARG may come before the first FROM');
    }
    stage.instructions.push(ins);
  }
  if (df.stages.length === 0) throw syntaxError(file, nodes[nodes.length - 1].line, 'no FROM instruction: the Dockerfile has no stage to build', 'add FROM IMAGE after the global ARGs');
  return df;
}

/**
 * Parses one ONBUILD trigger from a base image's config (`OnBuild` entry), as BuildKit does when a
 * stage starts: the text is parsed as a Dockerfile holding exactly one instruction, which may not be
 * FROM. Errors name `at` (the FROM line of the stage that runs the trigger).
 */
export function parseTrigger(expression: string, at: { file?: string; line: number }): Instruction {
  const file = at.file ?? 'Dockerfile';
  let nodes: ParsedNode[];
  try {
    nodes = parseNodes(expression, file, undefined).nodes;
  } catch (e) {
    const reason = e instanceof BerthError ? e.message.replace(/^parse Dockerfile [^:]*:\d+: /, '') : String(e);
    throw syntaxError(file, at.line, `ONBUILD trigger "${expression.split('\n')[0]}" of the base image: ${reason}`, 'the base image carries a broken ONBUILD trigger; rebuild it or use another base');
  }
  if (nodes.length !== 1) throw syntaxError(file, at.line, `ONBUILD trigger "${expression.split('\n')[0]}" of the base image: onbuild trigger should be a single expression`);
  const { node, heredocs } = nodes[0];
  if (!KNOWN.has(node.kind)) throw syntaxError(file, at.line, `ONBUILD trigger of the base image: unknown instruction: ${node.written}`);
  if (node.kind === 'FROM') throw syntaxError(file, at.line, 'ONBUILD trigger of the base image: FROM is not a command that can be triggered');
  try {
    return buildInstruction(node, heredocs, { line: at.line, endLine: at.line, original: trimSpace(node.line) }, '\\') as Instruction;
  } catch (e) {
    if (e instanceof InstructionError) throw syntaxError(file, at.line, `ONBUILD trigger "${trimSpace(node.line)}" of the base image: ${e.message}`, e.hint);
    throw e;
  }
}

/** Parses one instruction line (no FROM, no heredocs), as `docker import --change` does. */
export function parseInstruction(text: string, options: { escape?: EscapeChar; file?: string; line?: number } = {}): Instruction {
  const file = options.file ?? 'Dockerfile';
  const line = options.line ?? 1;
  const node = newNode(text, options.escape ?? '\\');
  if (!KNOWN.has(node.kind)) throw syntaxError(file, line, `unknown instruction: ${node.written}`, unknownHint(node.written));
  if (node.kind === 'FROM') throw syntaxError(file, line, 'FROM cannot be used here');
  try {
    return buildInstruction(node, [], { line, endLine: line, original: trimSpace(text) }, options.escape ?? '\\') as Instruction;
  } catch (e) {
    if (e instanceof InstructionError) throw syntaxError(file, line, e.message, e.hint);
    throw e;
  }
}
