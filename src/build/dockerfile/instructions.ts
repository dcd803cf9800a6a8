/**
 * build/dockerfile/instructions: an instruction's name, flags and arguments -> its typed form, as
 * BuildKit's instruction parser builds it (moby/buildkit frontend/dockerfile/instructions/parse.go,
 * bflag.go, commands_runnetwork.go, commands_runsecurity.go), with BuildKit's error wording. Errors
 * are InstructionError; the caller adds the file and line. Pure.
 */
import { parseGoDuration } from './duration.js';
import { chompHeredoc, parseHeredocWord } from './heredoc.js';
import { LexError, lexWord } from './lex.js';
import type {
  ArgDeclaration,
  CommandForm,
  CopyInstruction,
  EscapeChar,
  FromInstruction,
  HealthcheckConfig,
  Heredoc,
  InlineFile,
  Instruction,
  InstructionKind,
  KeyValue,
  NetworkMode,
  RunFlags,
  SecurityMode,
} from './types.js';
import { csvFields, fail, GO_BLANKS, jsonArgs, parseWords, splitBlanks, trimLeftSpace, trimSpace, type RawNode } from './words.js';

const KINDS: readonly InstructionKind[] = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL',
  'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
];
export const KNOWN = new Set<string>(KINDS);

type FlagType = 'bool' | 'string' | 'strings';
/** The flags each instruction accepts (BuildKit instructions/parse.go and the RUN hooks). */
const FLAGS: Partial<Record<InstructionKind, Record<string, FlagType>>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'strings', network: 'string', security: 'string', device: 'strings' },
  COPY: { chown: 'string', from: 'string', chmod: 'string', link: 'bool', exclude: 'strings', parents: 'bool' },
  ADD: { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', unpack: 'bool', exclude: 'strings' },
  HEALTHCHECK: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};

type FlagValues = Map<string, string | boolean | string[]>;

function parseFlags(kind: InstructionKind, words: string[]): FlagValues {
  const spec = FLAGS[kind] ?? {};
  const known = Object.keys(spec).sort();
  const values: FlagValues = new Map();
  for (const a of words) {
    if (!a.startsWith('--')) fail(`arg should start with -- : ${a}`);
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const value = eq < 0 ? '' : a.slice(eq + 1);
    const hasValue = eq >= 0;
    const type = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (type === undefined) {
      fail(`unknown flag: --${name}`, known.length > 0 ? `${kind} takes ${known.map((f) => `--${f}`).join(', ')}` : `${kind} takes no flags`);
    }
    if (values.has(name) && type !== 'strings') fail(`duplicate flag specified: --${name}`, 'give the flag once');
    if (type === 'bool') {
      if (hasValue && value === '') fail(`missing a value on flag: --${name}`);
      const v = value.toLowerCase();
      if (v === 'true' || v === '') values.set(name, true);
      else if (v === 'false') values.set(name, false);
      else fail(`expecting boolean value for flag --${name}, not: ${value}`);
    } else {
      if (!hasValue) fail(`missing a value on flag: --${name}`, `write --${name}=VALUE`);
      if (type === 'string') values.set(name, value);
      else values.set(name, [...((values.get(name) as string[] | undefined) ?? []), value]);
    }
  }
  return values;
}

const str = (f: FlagValues, k: string): string | undefined => f.get(k) as string | undefined;
const bool = (f: FlagValues, k: string): boolean | undefined => f.get(k) as boolean | undefined;
const strs = (f: FlagValues, k: string): string[] => [...((f.get(k) as string[] | undefined) ?? [])];

export interface Place {
  line: number;
  endLine: number;
  original: string;
}

function exactlyOne(kind: string, rest: string): string {
  if (rest === '') fail(`${kind} requires exactly one argument`);
  return rest;
}

function commandForm(rest: string): CommandForm {
  const json = jsonArgs(rest);
  return json !== undefined ? { form: 'exec', command: json } : { form: 'shell', command: rest };
}

function keyValues(kind: 'ENV' | 'LABEL', rest: string, escape: EscapeChar): KeyValue[] {
  const words = parseWords(rest, escape);
  if (words.length === 0) fail(`${kind} requires at least one argument`);
  if (!words[0].includes('=')) {
    // Legacy `ENV KEY value with spaces`: everything after the first blank run is the value.
    const m = GO_BLANKS.exec(rest);
    if (!m) fail(`${kind} must have two arguments`, `write ${kind} ${rest}=VALUE`);
    return [{ key: rest.slice(0, m.index), value: rest.slice(m.index + m[0].length), legacy: true }];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) fail(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    if (eq === 0) fail(`${kind} names can not be blank`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1), legacy: false };
  });
}

function copyInstruction(kind: 'COPY' | 'ADD', node: RawNode, flags: FlagValues, heredocs: Heredoc[], at: Place): CopyInstruction {
  const json = jsonArgs(node.rest);
  const args = json ?? splitBlanks(node.rest);
  if (args.length < 2) fail(`${kind} requires at least two arguments, but only one was provided. Destination could not be determined`, `${kind} SOURCE... DEST`);
  const dest = args[args.length - 1];
  if (parseHeredocWord(dest)) fail(`${kind} cannot accept a heredoc as a destination`);
  const byName = new Map(heredocs.map((h) => [h.name, h]));
  const sources: string[] = [];
  const files: InlineFile[] = [];
  for (const src of args.slice(0, -1)) {
    const h = parseHeredocWord(src);
    if (!h) {
      sources.push(src);
      continue;
    }
    const content = byName.get(h.name)?.content ?? '';
    files.push({ name: h.name, data: h.chomp ? chompHeredoc(content) : content, expand: h.expand });
  }
  const out: CopyInstruction = {
    kind,
    ...at,
    sources,
    files,
    dest,
    heredocs,
    json: json !== undefined,
    link: bool(flags, 'link') ?? false,
    parents: kind === 'COPY' ? (bool(flags, 'parents') ?? false) : false,
    exclude: strs(flags, 'exclude'),
  };
  const chown = str(flags, 'chown');
  const chmod = str(flags, 'chmod');
  if (chown !== undefined && chown !== '') out.chown = chown;
  if (chmod !== undefined && chmod !== '') out.chmod = chmod;
  if (kind === 'COPY') {
    const from = str(flags, 'from');
    if (from !== undefined && from !== '') out.from = from;
  } else {
    const checksum = str(flags, 'checksum');
    if (checksum !== undefined && checksum !== '') out.checksum = checksum;
    const keep = bool(flags, 'keep-git-dir');
    if (keep !== undefined) out.keepGitDir = keep;
    const unpack = bool(flags, 'unpack');
    if (unpack !== undefined) out.unpack = unpack;
  }
  return out;
}

function interval(flags: FlagValues, name: string): number {
  const s = str(flags, name) ?? '';
  if (s === '') return 0;
  const d = parseGoDuration(s);
  if ('error' in d) fail(d.error, 'durations look like 30s, 1m30s, 500ms (Go syntax)');
  if (d.ns === 0n) return 0;
  if (d.ns < 1_000_000n) fail(`Interval "${name}" cannot be less than 1ms`);
  return Number(d.ns);
}

function healthcheck(node: RawNode, flags: FlagValues): HealthcheckConfig {
  const rest = node.rest;
  if (rest === '') fail('HEALTHCHECK requires at least one argument', 'HEALTHCHECK NONE, or HEALTHCHECK [--interval=...] CMD command');
  const m = /[\s]/.exec(rest);
  const typ = (m ? rest.slice(0, m.index) : rest).toUpperCase();
  const cmdText = m ? trimLeftSpace(rest.slice(m.index)) : '';
  if (typ === 'NONE') {
    if (cmdText !== '') fail('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (typ !== 'CMD') fail(`Unknown type "${typ}" in HEALTHCHECK (try CMD)`);
  const form = commandForm(cmdText);
  const args = form.form === 'exec' ? form.command : cmdText === '' ? [] : [cmdText];
  if (args.length === 0) fail('Missing command after HEALTHCHECK CMD');
  const hc: HealthcheckConfig = { Test: [form.form === 'exec' ? 'CMD' : 'CMD-SHELL', ...args] };
  const iv = interval(flags, 'interval');
  const to = interval(flags, 'timeout');
  const sp = interval(flags, 'start-period');
  const si = interval(flags, 'start-interval');
  if (iv) hc.Interval = iv;
  if (to) hc.Timeout = to;
  if (sp) hc.StartPeriod = sp;
  if (si) hc.StartInterval = si;
  const retries = str(flags, 'retries');
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?[0-9]+$/.test(retries)) fail(`strconv.ParseInt: parsing "${retries}": invalid syntax`, '--retries takes a whole number');
    const n = Number(retries);
    if (n > 2147483647 || n < -2147483648) fail(`strconv.ParseInt: parsing "${retries}": value out of range`);
    if (n < 0) fail(`--retries cannot be negative (${n})`);
    if (n !== 0) hc.Retries = n;
  }
  return hc;
}

function runFlags(flags: FlagValues): RunFlags {
  const out: RunFlags = { mount: strs(flags, 'mount'), device: strs(flags, 'device') };
  const network = str(flags, 'network');
  if (network !== undefined) {
    if (network !== 'default' && network !== 'none' && network !== 'host') fail(`invalid network mode "${network}"`, '--network takes default, none or host');
    out.network = network as NetworkMode;
  }
  const security = str(flags, 'security');
  if (security !== undefined) {
    if (security !== 'sandbox' && security !== 'insecure') fail(`security "${security}" is not valid`, '--security takes sandbox or insecure');
    out.security = security as SecurityMode;
  }
  for (const m of out.mount) {
    // BuildKit checks at parse time only that `from` names no variable (it selects a stage).
    for (const field of csvFields(m)) {
      const eq = field.indexOf('=');
      if (eq < 0 || field.slice(0, eq).toLowerCase() !== 'from') continue;
      const value = field.slice(eq + 1);
      const i = value.indexOf('$');
      if (i !== -1 && i !== value.length - 1) fail("'from' doesn't support variable expansion, define alias stage instead");
    }
  }
  return out;
}

export function buildInstruction(node: RawNode, heredocs: Heredoc[], at: Place, escape: EscapeChar): Instruction | FromInstruction {
  const kind = node.kind as InstructionKind;
  const flags = parseFlags(kind, node.flags);
  const rest = node.rest;
  switch (kind) {
    case 'FROM': {
      const args = splitBlanks(rest);
      let name: string | undefined;
      if (args.length === 3 && args[1].toLowerCase() === 'as') {
        name = args[2].toLowerCase();
        if (!/^[a-z][a-z0-9-_.]*$/.test(name)) fail(`invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`, 'a stage name starts with a letter and has letters, digits, -, _ and . only');
      } else if (args.length !== 1) fail('FROM requires either one or three arguments', 'FROM [--platform=P] IMAGE [AS NAME]');
      const platform = str(flags, 'platform');
      return { kind, ...at, image: args[0], ...(name !== undefined ? { name } : {}), ...(platform !== undefined && platform !== '' ? { platform } : {}) };
    }
    case 'RUN': {
      const f = runFlags(flags);
      const form = commandForm(rest);
      if (form.command.length === 0) fail('RUN requires at least one argument', 'RUN COMMAND, RUN ["exe", "arg"], or RUN <<EOF');
      return { kind, ...at, ...form, heredocs, flags: f };
    }
    case 'CMD':
    case 'ENTRYPOINT':
      return { kind, ...at, ...commandForm(rest) };
    case 'SHELL': {
      if (rest === '') fail('SHELL requires at least one argument');
      const json = jsonArgs(rest);
      if (json === undefined) fail('SHELL requires the arguments to be in JSON form', 'SHELL ["/bin/bash", "-c"]');
      if (json.length === 0) fail('SHELL requires at least one argument');
      return { kind, ...at, shell: json };
    }
    case 'COPY':
    case 'ADD':
      return copyInstruction(kind, node, flags, heredocs, at);
    case 'USER':
      return { kind, ...at, user: exactlyOne(kind, rest) };
    case 'WORKDIR':
      return { kind, ...at, path: exactlyOne(kind, rest) };
    case 'MAINTAINER':
      return { kind, ...at, maintainer: exactlyOne(kind, rest) };
    case 'STOPSIGNAL':
      return { kind, ...at, signal: exactlyOne(kind, rest) };
    case 'ENV':
    case 'LABEL':
      return { kind, ...at, pairs: keyValues(kind, rest, escape) };
    case 'ARG': {
      const words = parseWords(rest, escape);
      if (words.length === 0) fail('ARG requires at least one argument', 'ARG NAME[=DEFAULT]');
      const args: ArgDeclaration[] = words.map((w) => {
        const eq = w.indexOf('=');
        if (eq < 0) return { key: w };
        if (eq === 0) fail('ARG names can not be blank');
        return { key: w.slice(0, eq), value: w.slice(eq + 1) };
      });
      return { kind, ...at, args };
    }
    case 'EXPOSE': {
      const ports = splitBlanks(rest);
      if (ports.length === 0) fail('EXPOSE requires at least one argument', 'EXPOSE PORT[/PROTO]...');
      return { kind, ...at, ports };
    }
    case 'VOLUME': {
      const json = jsonArgs(rest);
      const raw = json ?? splitBlanks(rest);
      if (raw.length === 0) fail('VOLUME requires at least one argument');
      const paths = raw.map((v) => {
        const t = trimSpace(v);
        if (t === '') fail('VOLUME specified can not be an empty string');
        return t;
      });
      return { kind, ...at, paths, json: json !== undefined };
    }
    case 'HEALTHCHECK':
      return { kind, ...at, healthcheck: healthcheck(node, flags) };
    case 'ONBUILD': {
      const sub = node.sub;
      if (!sub) fail('ONBUILD requires at least one argument', 'ONBUILD INSTRUCTION ARGS');
      if (sub.kind === 'ONBUILD') fail('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (sub.kind === 'MAINTAINER' || sub.kind === 'FROM') fail(`${sub.kind} isn't allowed as an ONBUILD trigger`);
      if (!KNOWN.has(sub.kind)) fail(`unknown instruction: ${sub.written}`, unknownHint(sub.written));
      const trigger = buildInstruction(sub, heredocs, { ...at, original: trimSpace(sub.line) }, escape) as Instruction;
      let expression = node.line.replace(/^\s*ONBUILD\s*/i, '');
      for (const h of heredocs) expression += `\n${h.content}${h.name}`;
      return { kind, ...at, expression, trigger };
    }
  }
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

export function unknownHint(written: string): string {
  const w = written.toUpperCase();
  const close = KINDS.filter((k) => editDistance(k, w) <= 2).sort((x, y) => editDistance(x, w) - editDistance(y, w));
  return close.length > 0 ? `did you mean ${close[0]}? (instructions: ${KINDS.join(', ')})` : `instructions: ${KINDS.join(', ')}`;
}

/**
 * The words BuildKit will expand, lexed now with every variable unset and kept: a quote or `${`
 * that can never be closed is reported at parse time, naming the line, instead of when the step
 * runs (or never, in a stage the target does not need, where BuildKit stays silent).
 */
export function checkExpandedWords(ins: Instruction | FromInstruction, escape: EscapeChar): void {
  const words: string[] = [];
  let bodies: string[] = [];
  switch (ins.kind) {
    case 'FROM':
      words.push(ins.image, ...(ins.platform !== undefined ? [ins.platform] : []));
      break;
    case 'ENV':
    case 'LABEL':
      for (const p of ins.pairs) words.push(p.key, p.value);
      break;
    case 'ARG':
      for (const a of ins.args) words.push(a.key, ...(a.value !== undefined ? [a.value] : []));
      break;
    case 'COPY':
    case 'ADD':
      words.push(...ins.sources, ins.dest, ...[ins.chown, ins.chmod, ins.checksum].filter((x): x is string => x !== undefined));
      bodies = ins.files.filter((f) => f.expand).map((f) => f.data);
      break;
    case 'USER':
      words.push(ins.user);
      break;
    case 'WORKDIR':
      words.push(ins.path);
      break;
    case 'VOLUME':
      words.push(...ins.paths);
      break;
    case 'STOPSIGNAL':
      words.push(ins.signal);
      break;
    case 'EXPOSE':
      words.push(...ins.ports);
      break;
    case 'RUN':
      for (const m of ins.flags.mount) for (const f of csvFields(m)) if (f.includes('=')) words.push(f.slice(f.indexOf('=') + 1));
      break;
    default:
      return;
  }
  const none = () => undefined;
  try {
    for (const w of words) lexWord(w, none, { escape, skipUnsetEnv: true });
    for (const b of bodies) lexWord(b, none, { escape: '\\', skipProcessQuotes: true, skipUnsetEnv: true });
  } catch (e) {
    if (e instanceof LexError) {
      fail(e.message, ins.kind === 'COPY' || ins.kind === 'ADD' ? 'close the quote, or use the JSON form for paths with spaces: COPY ["my file", "/dest/"]' : 'close the quote or the ${...} expression');
    }
    throw e;
  }
}
