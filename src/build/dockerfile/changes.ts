/**
 * build/dockerfile/changes: applies Dockerfile-style config instructions to an image config, as
 * `docker import --change` and `podman import --change` do. Only the instructions that change the
 * config (no filesystem) are accepted: USER, WORKDIR, ENV, CMD, ENTRYPOINT, LABEL, EXPOSE, VOLUME,
 * STOPSIGNAL; ONBUILD is refused. Each change is parsed by the Dockerfile parser (parse.ts) and its
 * words expanded with the config's Env, as Docker's BuildFromConfig dispatches them. Pure: takes and
 * returns plain data.
 */
import { BerthError, isBerthError } from '../../errors/index.js';
import { envMap } from './args.js';
import { exposedPorts, instantiate, normalizeWorkdir } from './expand.js';
import { parseInstruction } from './parse.js';
import type { CommandForm } from './types.js';

/** The mutable part of an OCI image config (`config` object). */
export interface RunConfig {
  User?: string;
  WorkingDir?: string;
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
  Volumes?: Record<string, Record<string, never>>;
  StopSignal?: string;
}

const ALLOWED = ['USER', 'WORKDIR', 'ENV', 'CMD', 'ENTRYPOINT', 'LABEL', 'EXPOSE', 'VOLUME', 'STOPSIGNAL'];

function changeError(change: string, reason: string, cause?: unknown): BerthError {
  return new BerthError('E_CHANGE_INVALID', `apply --change "${change}": ${reason}`, {
    hint: `--change accepts one Dockerfile instruction: ${ALLOWED.join(', ')}`,
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** Splits `a=b "c d"=e f='g h'` style words, honouring double and single quotes and backslashes. */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote`);
  if (inWord) out.push(cur);
  return out;
}

/** CMD / ENTRYPOINT: the exec form as given, the shell form wrapped in /bin/sh -c (Docker's default SHELL). */
function commandOf(c: CommandForm): string[] {
  if (c.form === 'exec') return [...c.command];
  return c.command === '' ? [] : ['/bin/sh', '-c', c.command];
}

/** The reason of a parser error, without its `parse Dockerfile <file>:<line>: ` prefix. */
function reasonOf(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/^(?:parse|expand) Dockerfile [^:]*:\d+: /, '');
}

/** Returns a new config with one instruction applied. */
export function applyChange(config: RunConfig, change: string): RunConfig {
  const next: RunConfig = structuredClone(config);
  const ctx = { file: '--change', escape: '\\' as const };
  let ins;
  try {
    ins = parseInstruction(change, { file: '--change' });
  } catch (e) {
    if (isBerthError(e) && /unknown instruction|FROM cannot/.test(e.message)) {
      throw changeError(change, `${/^\s*([A-Za-z]+)/.exec(change)?.[1]?.toUpperCase() ?? 'this'} cannot be used with --change`, e);
    }
    throw changeError(change, reasonOf(e), e);
  }
  if (!ALLOWED.includes(ins.kind)) throw changeError(change, `${ins.kind} cannot be used with --change`);
  const env = envMap(next.Env ?? []);
  try {
    const x = instantiate(ins, (n) => env.get(n), ctx);
    switch (x.kind) {
      case 'USER':
        next.User = x.user;
        break;
      case 'WORKDIR':
        // Relative WORKDIR is relative to the previous one (Dockerfile semantics).
        next.WorkingDir = normalizeWorkdir(next.WorkingDir || '/', x.path);
        break;
      case 'ENV': {
        for (const p of x.pairs) env.set(p.key, p.value);
        next.Env = [...env].map(([k, v]) => `${k}=${v}`);
        break;
      }
      case 'LABEL': {
        next.Labels = { ...(next.Labels ?? {}) };
        for (const p of x.pairs) next.Labels[p.key] = p.value;
        break;
      }
      case 'CMD':
        next.Cmd = commandOf(x);
        break;
      case 'ENTRYPOINT':
        next.Entrypoint = commandOf(x);
        break;
      case 'EXPOSE': {
        next.ExposedPorts = { ...(next.ExposedPorts ?? {}) };
        for (const p of exposedPorts(x.ports, { file: '--change', line: 1 })) next.ExposedPorts[p] = {};
        break;
      }
      case 'VOLUME': {
        next.Volumes = { ...(next.Volumes ?? {}) };
        for (const p of x.paths) {
          if (!p.startsWith('/')) throw new Error(`volume path "${p}" must be absolute`);
          next.Volumes[p] = {};
        }
        break;
      }
      case 'STOPSIGNAL':
        next.StopSignal = x.signal;
        break;
      default:
        throw new Error(`${x.kind} cannot be used with --change`);
    }
  } catch (e) {
    throw changeError(change, reasonOf(e), e);
  }
  return next;
}

export function applyChanges(config: RunConfig, changes: readonly string[]): RunConfig {
  return changes.reduce(applyChange, config);
}
