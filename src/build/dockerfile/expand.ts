/**
 * build/dockerfile/expand: which words of an instruction BuildKit expands, and the shapes the
 * expanded words take (dockerfile2llb/convert.go dispatch, instructions/commands.go Expand methods,
 * convert_expose.go, commands_runmount.go). Pure.
 *
 * Expanded with the stage's environment at that point (ENV values and ARGs in scope):
 *   ENV and LABEL (keys and values; all pairs of one instruction see the environment from before
 *   it), COPY/ADD (sources, destination, --chown, --chmod, ADD --checksum), WORKDIR, USER, VOLUME,
 *   STOPSIGNAL, EXPOSE (split into words), RUN --mount values, and COPY/ADD heredoc bodies when the
 *   delimiter was not quoted (with `\` as escape and quotes left alone).
 * Expanded with the global ARGs only: the FROM image and --platform (ArgScope.from).
 * Handled by ArgScope.declare: ARG defaults, one after another.
 * Never expanded: RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK commands (the shell does it),
 *   MAINTAINER, ONBUILD triggers (expanded when they run), RUN heredocs, COPY --from (a variable
 *   there is an error, as in BuildKit).
 */
import { BerthError } from '../../errors/index.js';
import { cleanPath, joinPath } from './glob.js';
import { lexFailure, lexWord, type Lookup } from './lex.js';
import { chompHeredoc, parseHeredocWord } from './heredoc.js';
import { csvFields } from './words.js';
import type { CopyInstruction, EscapeChar, Instruction, InstructionKind, KeyValue, RunInstruction } from './types.js';

/** What instantiate needs to know about the Dockerfile: its escape character and name. */
export interface ExpandContext {
  escape: EscapeChar;
  file: string;
}

const EXPANDING = new Set<InstructionKind>(['FROM', 'ENV', 'LABEL', 'COPY', 'ADD', 'WORKDIR', 'USER', 'VOLUME', 'STOPSIGNAL', 'EXPOSE', 'RUN', 'ARG']);

/** Whether BuildKit expands variables in (some words of) this instruction; see the module comment. */
export function expandsVariables(kind: InstructionKind): boolean {
  return EXPANDING.has(kind);
}

function dfError(ctx: ExpandContext, line: number, reason: string, hint?: string): BerthError {
  return new BerthError('E_DOCKERFILE_SYNTAX', `parse Dockerfile ${ctx.file}:${line}: ${reason}`, {
    hint: hint ?? 'fix the Dockerfile at that line (https://docs.docker.com/reference/dockerfile/)',
    details: { file: ctx.file, line },
  });
}

/**
 * Returns a copy of `instr` with the words BuildKit expands expanded against `lookup` (the stage's
 * environment now: StageScope.lookup). Throws E_DOCKERFILE_ARG for a failed `${N?msg}` and
 * E_DOCKERFILE_SYNTAX for a bad substitution or quote, naming the instruction's line.
 * ARG instructions come back unchanged: declare them with StageScope.declare.
 */
export function instantiate<T extends Instruction>(instr: T, lookup: Lookup, ctx: ExpandContext): T {
  const at = { file: ctx.file, line: instr.line };
  const word = (w: string): string => {
    try {
      return lexWord(w, lookup, { escape: ctx.escape }).result;
    } catch (e) {
      throw lexFailure(e, at);
    }
  };
  const i = instr as Instruction;
  switch (i.kind) {
    case 'ENV':
    case 'LABEL':
      return { ...i, pairs: i.pairs.map((p): KeyValue => ({ key: word(p.key), value: word(p.value), legacy: p.legacy })) } as T;
    case 'COPY':
    case 'ADD': {
      const out: CopyInstruction = { ...i, sources: i.sources.map(word), dest: word(i.dest), exclude: [...i.exclude] };
      if (i.chown !== undefined) out.chown = word(i.chown);
      if (i.chmod !== undefined) out.chmod = word(i.chmod);
      if (i.checksum !== undefined) out.checksum = word(i.checksum);
      if (i.from !== undefined) out.from = i.from;
      // Heredoc bodies: `\` escapes and `$` expand, quotes stay (lex.go SkipProcessQuotes).
      out.files = i.files.map((f) => {
        if (!f.expand) return { ...f };
        try {
          return { ...f, data: lexWord(f.data, lookup, { escape: '\\', skipProcessQuotes: true }).result };
        } catch (e) {
          throw lexFailure(e, at);
        }
      });
      return out as T;
    }
    case 'WORKDIR':
      return { ...i, path: word(i.path) } as T;
    case 'USER':
      return { ...i, user: word(i.user) } as T;
    case 'VOLUME':
      return {
        ...i,
        paths: i.paths.map((p) => {
          const v = word(p);
          if (v === '') throw dfError(ctx, i.line, 'VOLUME specified can not be an empty string');
          return v;
        }),
      } as T;
    case 'STOPSIGNAL': {
      const signal = word(i.signal);
      if (!isSignal(signal)) throw dfError(ctx, i.line, `invalid signal: ${signal}`, 'use a signal name (SIGTERM, TERM) or number (15)');
      return { ...i, signal } as T;
    }
    case 'EXPOSE': {
      const ports: string[] = [];
      for (const p of i.ports) {
        try {
          ports.push(...lexWord(p, lookup, { escape: ctx.escape }).words);
        } catch (e) {
          throw lexFailure(e, at);
        }
      }
      return { ...i, ports } as T;
    }
    case 'RUN':
      return { ...i, flags: { ...i.flags, mount: i.flags.mount.map((m) => expandMountFields(m, word)), device: [...i.flags.device] } } as T;
    default:
      return instr;
  }
}

/** Expands each `key=value` value of a --mount CSV (BuildKit setMountState with an expander). */
function expandMountFields(spec: string, word: (w: string) => string): string {
  return csvFields(spec)
    .map((field) => {
      const eq = field.indexOf('=');
      const out = eq < 0 ? field : `${field.slice(0, eq)}=${word(field.slice(eq + 1))}`;
      return /[",\s]/.test(out) ? `"${out.replace(/"/g, '""')}"` : out;
    })
    .join(',');
}

// ---------------------------------------------------------------------------------------------
// EXPOSE

/**
 * convert_expose.go parsePort for each expanded port word: `[ip:][hostPort:]port[-end][/proto]`
 * becomes one `port/proto` per port of the range, protocol lower-cased (tcp by default). Throws
 * E_DOCKERFILE_SYNTAX naming `line` for a bad port, range or protocol.
 */
export function exposedPorts(ports: readonly string[], at: { file?: string; line: number }): string[] {
  const ctx = { file: at.file ?? 'Dockerfile', escape: '\\' as const };
  const out: string[] = [];
  for (const raw of ports) {
    const parts = raw.split(':');
    let ip = '';
    let hostPort = '';
    let containerPort: string;
    if (parts.length === 1) containerPort = parts[0];
    else if (parts.length === 2) [hostPort, containerPort] = parts;
    else {
      ip = parts.slice(0, -2).join(':');
      hostPort = parts[parts.length - 2];
      containerPort = parts[parts.length - 1];
    }
    const slash = containerPort.indexOf('/');
    const portText = slash < 0 ? containerPort : containerPort.slice(0, slash);
    const proto = slash < 0 ? '' : containerPort.slice(slash + 1);
    if (portText === '') throw dfError(ctx, at.line, `invalid port: "${raw}": no port specified`);
    const p = proto.toLowerCase();
    if (p !== '' && p !== 'tcp' && p !== 'udp' && p !== 'sctp') throw dfError(ctx, at.line, `invalid port: "${raw}": invalid proto: ${proto}`, 'protocols are tcp, udp and sctp');
    if (ip !== '') {
      const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
      if (!isIp(bare)) throw dfError(ctx, at.line, `invalid IP address: ${ip}`);
    }
    const range = portRange(portText);
    if (!range) throw dfError(ctx, at.line, `invalid containerPort: ${portText}`, 'ports are numbers 0-65535, or ranges like 8000-8010');
    if (hostPort !== '') {
      const h = portRange(hostPort);
      if (!h) throw dfError(ctx, at.line, `invalid hostPort: ${hostPort}`);
      if (range[1] - range[0] !== h[1] - h[0] && range[1] !== range[0]) {
        throw dfError(ctx, at.line, `invalid ranges specified for container and host Ports: ${portText} and ${hostPort}`);
      }
    }
    for (let n = range[0]; n <= range[1]; n++) out.push(`${n}/${p === '' ? 'tcp' : p}`);
  }
  return out;
}

function portNumber(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 0 && n <= 65535 ? n : undefined;
}

function portRange(s: string): [number, number] | undefined {
  if (s === '') return undefined;
  const dash = s.indexOf('-');
  const start = portNumber(dash < 0 ? s : s.slice(0, dash));
  if (start === undefined) return undefined;
  if (dash < 0 || s.slice(0, dash) === s.slice(dash + 1)) return [start, start];
  const end = portNumber(s.slice(dash + 1));
  if (end === undefined || end < start) return undefined;
  return [start, end];
}

function isIp(s: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s)) return s.split('.').every((x) => Number(x) <= 255 && (x === '0' || !x.startsWith('0')));
  return s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s) && (s.match(/::/g) ?? []).length <= 1;
}

// ---------------------------------------------------------------------------------------------
// WORKDIR, STOPSIGNAL

/** system.NormalizeWorkdir (Linux): a relative WORKDIR is joined to the current one, then cleaned. */
export function normalizeWorkdir(current: string, next: string): string {
  if (next.startsWith('/')) return cleanPath(next);
  return joinPath('/', current, next);
}

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR',
  'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH',
  'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `RTMAX-${i + 1}`),
]);

/** moby/sys signal.ParseSignal on Linux: a non-zero number, or a name with or without SIG. */
export function isSignal(s: string): boolean {
  if (/^[+-]?[0-9]+$/.test(s)) return Number(s) > 0 && Number(s) <= 2147483647;
  return SIGNALS.has(s.toUpperCase().replace(/^SIG/, ''));
}

// ---------------------------------------------------------------------------------------------
// RUN --mount

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';

/** One `RUN --mount` (BuildKit instructions.Mount). */
export interface RunMount {
  type: MountType;
  from?: string;
  source?: string;
  target?: string;
  readOnly: boolean;
  /** tmpfs size in bytes. */
  sizeLimit?: number;
  cacheId?: string;
  sharing?: 'shared' | 'private' | 'locked';
  required: boolean;
  env?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

const MOUNT_KEYS = ['type', 'from', 'source', 'target', 'readonly', 'id', 'sharing', 'required', 'size', 'mode', 'uid', 'gid', 'src', 'dst', 'destination', 'ro', 'rw', 'readwrite', 'env'];

function goBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** go-units RAMInBytes: `64m`, `1.5g`, `512k`, `100` (binary multiples, optional `b`/`ib`). */
function ramInBytes(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?(?:i?[bB])?$/.exec(s);
  if (!m) return undefined;
  const mult: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };
  return Math.trunc(Number(m[1]) * (m[2] ? mult[m[2].toLowerCase()] : 1));
}

/**
 * Parses an expanded `--mount` value the way BuildKit's parseMount does with an expander: CSV
 * fields `key=value`, bare `ro`/`rw`/`required`; type bind (default), cache, tmpfs, secret, ssh;
 * bind and secret are read-only unless told otherwise, cache and tmpfs writable. Throws
 * E_DOCKERFILE_SYNTAX naming `at.line`.
 */
export function parseRunMount(spec: string, at: { file?: string; line: number }): RunMount {
  const ctx = { file: at.file ?? 'Dockerfile', escape: '\\' as const };
  const bad = (reason: string, hint?: string) => dfError(ctx, at.line, `--mount=${spec}: ${reason}`, hint ?? `see ${'https://docs.docker.com/reference/dockerfile/#run---mount'}`);
  let fields: string[];
  try {
    fields = csvFields(spec);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const m: RunMount = { type: 'bind', readOnly: true, required: false };
  let roAuto = true;
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') {
        m.readOnly = true;
        roAuto = false;
      } else if (key === 'readwrite' || key === 'rw') {
        m.readOnly = false;
        roAuto = false;
      } else if (key === 'required') {
        if (m.type !== 'secret' && m.type !== 'ssh') throw bad(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = true;
      } else throw bad(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    switch (key) {
      case 'type': {
        const t = value.toLowerCase();
        if (!['bind', 'cache', 'tmpfs', 'secret', 'ssh'].includes(t)) throw bad(`unsupported mount type "${value}"`, 'mount types: bind, cache, tmpfs, secret, ssh');
        m.type = t as MountType;
        break;
      }
      case 'from':
        m.from = value;
        break;
      case 'source':
      case 'src':
        m.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = value;
        break;
      case 'readonly':
      case 'ro':
      case 'readwrite':
      case 'rw': {
        const b = goBool(value);
        if (b === undefined) throw bad(`invalid value for ${key}: ${value}`);
        m.readOnly = key.startsWith('r') && (key === 'readonly' || key === 'ro') ? b : !b;
        roAuto = false;
        break;
      }
      case 'required': {
        if (m.type !== 'secret' && m.type !== 'ssh') throw bad(`unexpected key '${key}' for mount type '${m.type}'`);
        const b = goBool(value);
        if (b === undefined) throw bad(`invalid value for ${key}: ${value}`);
        m.required = b;
        break;
      }
      case 'size': {
        if (m.type !== 'tmpfs') throw bad(`unexpected key '${key}' for mount type '${m.type}'`);
        const n = ramInBytes(value);
        if (n === undefined) throw bad(`invalid value for ${key}: ${value}`);
        m.sizeLimit = n;
        break;
      }
      case 'id':
        m.cacheId = value;
        break;
      case 'sharing': {
        const v = value.toLowerCase();
        if (v !== 'shared' && v !== 'private' && v !== 'locked') throw bad(`unsupported sharing value "${value}"`, 'sharing: shared, private or locked');
        m.sharing = v;
        break;
      }
      case 'mode': {
        if (!/^[0-7]+$/.test(value) || parseInt(value, 8) > 0xffffffff) throw bad(`invalid value ${value} for mode`);
        m.mode = parseInt(value, 8);
        break;
      }
      case 'uid':
      case 'gid': {
        if (!/^[0-9]+$/.test(value) || Number(value) > 0xffffffff) throw bad(`invalid value ${value} for ${key}`);
        m[key] = Number(value);
        break;
      }
      case 'env':
        m.env = value;
        break;
      default:
        throw bad(`unexpected key '${key}' in '${field}'`, `keys: ${MOUNT_KEYS.join(', ')}`);
    }
  }
  const fileInfo = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  if (!fileInfo) {
    for (const k of ['mode', 'uid', 'gid'] as const) if (m[k] !== undefined) throw bad(`${k} not allowed for "${m.type}" type mounts`);
  }
  if (roAuto) m.readOnly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.type === 'secret') {
    if (m.from !== undefined && m.from !== '') throw bad('secret mount should not have a from');
    if (m.sharing !== undefined) throw bad('secret mount should not define sharing');
    if (!m.source && !m.target && !m.cacheId) throw bad('invalid secret mount. one of source, target required');
    if (m.source && m.cacheId) throw bad("both source and id can't be set");
  }
  if (m.sharing !== undefined && m.type !== 'cache') throw bad(`invalid cache sharing set for ${m.type} mount`);
  return m;
}

// ---------------------------------------------------------------------------------------------
// RUN command line

/** How BuildKit turns a RUN into the process it starts (dispatchRun). */
export type RunPlan =
  /** Exec form: the arguments as given. */
  | { kind: 'exec'; args: string[] }
  /** Shell form: `[...SHELL, script]` (SHELL defaults to `/bin/sh -c`). */
  | { kind: 'shell'; script: string }
  /**
   * A single heredoc starting with `#!`: written as an executable file (mode 0755) named `name`
   * into a read-only mount at /dev/pipes/ and run directly, without the shell.
   */
  | { kind: 'file'; path: string; name: string; data: string };

/**
 * dispatchRun: a RUN whose command is only a heredoc runs the heredoc's body with the shell (or as a
 * file when it starts with `#!`); a RUN with heredocs after other words gives the shell the line
 * followed by each body and its delimiter, so the shell reads the heredocs itself. Heredoc bodies
 * are never expanded by the builder.
 */
export function planRunCommand(run: RunInstruction): RunPlan {
  if (run.form === 'exec') return { kind: 'exec', args: [...run.command] };
  if (run.heredocs.length === 0) return { kind: 'shell', script: run.command };
  const only = parseHeredocWord(run.command);
  if (only) {
    const h = run.heredocs[0];
    const data = h.chomp ? chompHeredoc(h.content) : h.content;
    if (data.startsWith('#!')) return { kind: 'file', path: `/dev/pipes/${h.name}`, name: h.name, data };
    return { kind: 'shell', script: data };
  }
  let script = run.command;
  for (const h of run.heredocs) script += `\n${h.content}${h.name}`;
  return { kind: 'shell', script };
}
