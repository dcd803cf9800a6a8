/**
 * build/dockerfile/changes: applies Dockerfile-style config instructions to an image config, as
 * `docker import --change` and `podman import --change` do. Only the instructions that change the
 * config (no filesystem) are accepted: USER, WORKDIR, ENV, CMD, ENTRYPOINT, LABEL, EXPOSE, VOLUME,
 * STOPSIGNAL, ONBUILD is refused. Pure: takes and returns plain data.
 */
import { BerthError } from '../../errors/index.js';

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

function changeError(change: string, reason: string): BerthError {
  return new BerthError('E_CHANGE_INVALID', `apply --change "${change}": ${reason}`, {
    hint: `--change accepts one Dockerfile instruction: ${ALLOWED.join(', ')}`,
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

/** Key/value pairs of ENV and LABEL: `K=V ...` or the legacy single `K V with spaces`. */
function parseKeyValues(rest: string): [string, string][] {
  const words = splitWords(rest);
  if (words.length === 0) throw new Error('needs at least one key');
  if (!words[0].includes('=')) {
    // Legacy form: ENV KEY value with spaces (one pair).
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest.trim());
    if (!m) throw new Error(`"${rest.trim()}" has no value (use KEY=VALUE)`);
    return [[m[1], m[2]]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new Error(`"${w}" is not KEY=VALUE`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** JSON exec form `["a","b"]` or shell form wrapped in /bin/sh -c, as Dockerfile CMD does. */
function parseCommand(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {
      /* not JSON: shell form, as Docker does */
    }
  }
  if (t === '') return [];
  return ['/bin/sh', '-c', t];
}

function normalisePort(p: string): string {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
  if (!m) throw new Error(`"${p}" is not a port (PORT[/tcp|udp|sctp])`);
  const n = Number(m[1]);
  if (n < 1 || n > 65535) throw new Error(`port ${m[1]} is out of range 1-65535`);
  return `${m[1]}${m[2] ? `-${m[2]}` : ''}/${(m[3] ?? 'tcp').toLowerCase()}`;
}

/** Returns a new config with one instruction applied. */
export function applyChange(config: RunConfig, change: string): RunConfig {
  const m = /^\s*([A-Za-z]+)(?:\s+([\s\S]*))?$/.exec(change);
  if (!m) throw changeError(change, 'not an instruction');
  const op = m[1].toUpperCase();
  const rest = (m[2] ?? '').trim();
  const next: RunConfig = structuredClone(config);
  try {
    switch (op) {
      case 'USER':
        if (!rest) throw new Error('needs a user');
        next.User = rest;
        break;
      case 'WORKDIR': {
        if (!rest) throw new Error('needs a directory');
        // Relative WORKDIR is relative to the previous one (Dockerfile semantics).
        const base = next.WorkingDir || '/';
        next.WorkingDir = rest.startsWith('/') ? rest : `${base.replace(/\/$/, '')}/${rest}`;
        break;
      }
      case 'ENV': {
        const env = new Map((next.Env ?? []).map((e) => {
          const i = e.indexOf('=');
          return [i === -1 ? e : e.slice(0, i), e] as [string, string];
        }));
        for (const [k, v] of parseKeyValues(rest)) env.set(k, `${k}=${v}`);
        next.Env = [...env.values()];
        break;
      }
      case 'LABEL': {
        next.Labels = { ...(next.Labels ?? {}) };
        for (const [k, v] of parseKeyValues(rest)) next.Labels[k] = v;
        break;
      }
      case 'CMD':
        next.Cmd = parseCommand(rest);
        break;
      case 'ENTRYPOINT':
        next.Entrypoint = parseCommand(rest);
        break;
      case 'EXPOSE': {
        next.ExposedPorts = { ...(next.ExposedPorts ?? {}) };
        const ports = splitWords(rest);
        if (ports.length === 0) throw new Error('needs a port');
        for (const p of ports) next.ExposedPorts[normalisePort(p)] = {};
        break;
      }
      case 'VOLUME': {
        next.Volumes = { ...(next.Volumes ?? {}) };
        let paths: string[];
        if (rest.startsWith('[')) {
          const v = JSON.parse(rest) as unknown;
          if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error('JSON form must be an array of strings');
          paths = v as string[];
        } else paths = splitWords(rest);
        if (paths.length === 0) throw new Error('needs a path');
        for (const p of paths) {
          if (!p.startsWith('/')) throw new Error(`volume path "${p}" must be absolute`);
          next.Volumes[p] = {};
        }
        break;
      }
      case 'STOPSIGNAL':
        if (!/^(SIG[A-Z0-9+-]+|\d+)$/i.test(rest)) throw new Error(`"${rest}" is not a signal`);
        next.StopSignal = rest;
        break;
      default:
        throw new Error(`${op} cannot be used with --change`);
    }
  } catch (e) {
    throw changeError(change, (e as Error).message);
  }
  return next;
}

export function applyChanges(config: RunConfig, changes: readonly string[]): RunConfig {
  return changes.reduce(applyChange, config);
}
