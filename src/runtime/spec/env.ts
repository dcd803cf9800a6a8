/**
 * The process environment: Docker's daemon defaults, the image Env, `--env-file` and `-e`, and
 * HOME from the identity. Sources: moby `daemon/container.go` CreateDaemonEnvironment and
 * `container/env.go` ReplaceOrAppendEnvValues; docker/cli `opts/env.go` ValidateEnv and
 * `opts/envfile.go` parseKeyValueFile.
 */
import { BerthError } from '../../errors/index.js';
import type { ContainerConfig } from '../../oci/index.js';
import { DEFAULT_PATH } from './defaults.js';
import type { EnvSetting } from './types.js';

export interface EnvOptions {
  /** `--env-file` entries then `-e` values, in command-line order; strings are `-e` values. */
  env?: readonly (string | EnvSetting)[];
  /** The caller's environment, for `NAME` without a value. */
  hostEnv?: Readonly<Record<string, string | undefined>>;
  /** `-t`: TERM=xterm unless the image or the flags set TERM. */
  tty?: boolean;
  hostname: string;
  /** HOME from the identity, used when the environment has no (or an empty) HOME. */
  home?: string;
  /** Where `home` came from, for provenance. */
  homeSource?: string;
}

export interface ResolvedEnv {
  /** `NAME=value` entries in Docker's order: defaults, then image, then flags, each replacing by name. */
  env: string[];
  /** The input behind each entry of `env` (same index). */
  sources: string[];
}

const nameOf = (entry: string): string => {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
};

function envError(reason: string, source: string, hint: string): BerthError {
  return new BerthError('E_SPEC_ENV', `resolve environment ${source}: ${reason}`, { hint, details: { source } });
}

/**
 * Docker's order: PATH (default), HOSTNAME, TERM=xterm with -t; then the container Env (image Env
 * merged with the flags) replaces entries by name or appends. An override without `=` removes the
 * name (ReplaceOrAppendEnvValues); `-e NAME` is first completed from the caller's environment
 * (docker/cli ValidateEnv), so it removes NAME only when the caller does not have it. Finally HOME
 * comes from the identity when unset or empty, as runc's prepareEnv would do.
 */
export function resolveEnv(config: ContainerConfig | undefined, opts: EnvOptions): ResolvedEnv {
  const env: string[] = [];
  const sources: string[] = [];
  const set = (entry: string, source: string): void => {
    const name = nameOf(entry);
    const i = env.findIndex((e) => nameOf(e) === name);
    if (!entry.includes('=')) {
      if (i >= 0) {
        env.splice(i, 1);
        sources.splice(i, 1);
      }
      return;
    }
    if (i >= 0) {
      env[i] = entry;
      sources[i] = source;
    } else {
      env.push(entry);
      sources.push(source);
    }
  };
  set(`PATH=${DEFAULT_PATH}`, 'Docker default PATH (moby oci.DefaultPathEnv)');
  set(`HOSTNAME=${opts.hostname}`, 'the container hostname');
  if (opts.tty) set('TERM=xterm', '-t (Docker sets TERM=xterm with a terminal)');
  for (const e of config?.Env ?? []) {
    if (nameOf(e) === '') throw envError(`"${e}" has no variable name`, 'image config Env', 'fix the image Env');
    set(e, `image config Env ${e}`);
  }
  for (const raw of opts.env ?? []) {
    const setting: EnvSetting = typeof raw === 'string' ? { value: raw, source: `-e ${raw}` } : raw;
    let entry = setting.value;
    const name = nameOf(entry);
    if (name === '') {
      throw envError(`invalid environment variable: ${entry}`, setting.source, 'environment entries are NAME=value or NAME');
    }
    if (!entry.includes('=')) {
      const v = opts.hostEnv?.[name];
      if (v !== undefined) entry = `${name}=${v}`;
    }
    set(entry, entry.includes('=') && !setting.value.includes('=') ? `${setting.source} (value from the caller's environment)` : setting.source);
  }
  const home = env.findIndex((e) => nameOf(e) === 'HOME');
  if (opts.home !== undefined && (home < 0 || env[home] === 'HOME=')) {
    set(`HOME=${opts.home}`, opts.homeSource ?? `HOME ${opts.home} from the identity`);
  }
  return { env, sources };
}

/** docker/cli envfile.go whiteSpaces: the only characters a variable name may not contain. */
const WHITESPACE = ' \t';
/** Go's unicode.IsSpace, which TrimLeftFunc uses on each line (JS \s differs: it has U+FEFF, lacks U+0085). */
const LEADING_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/**
 * Parses an `--env-file` (docker/cli parseKeyValueFile): each line is trimmed on the left; empty
 * lines and lines starting with `#` are skipped; `NAME=value` keeps the value verbatim (no quotes
 * are interpreted); a line without `=` is a NAME taken from the caller's environment. A name with
 * whitespace or an empty name is an error; so are invalid UTF-8 bytes. A UTF-8 BOM is dropped.
 */
export function parseEnvFile(text: string | Uint8Array, path: string): EnvSetting[] {
  let s: string;
  if (typeof text === 'string') {
    s = text;
  } else {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const parts: string[] = [];
    let start = 0;
    for (let line = 1; start <= text.length; line++) {
      let end = text.indexOf(0x0a, start);
      if (end < 0) end = text.length;
      try {
        parts.push(decoder.decode(text.subarray(start, end)));
      } catch {
        throw envError(`env file ${path} contains invalid utf8 bytes at line ${line}`, `--env-file ${path}`, 'save the file as UTF-8');
      }
      start = end + 1;
    }
    s = parts.join('\n');
  }
  if (s.startsWith('\uFEFF')) s = s.slice(1);
  const out: EnvSetting[] = [];
  const lines = s.split('\n');
  for (let i = 0; i < lines.length; i++) {
    // bufio.Scanner's ScanLines drops a trailing \r.
    const rawLine = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    const line = rawLine.replace(LEADING_SPACE, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const variable = (eq < 0 ? line : line.slice(0, eq)).replace(/^[ \t]+/, '');
    const source = `--env-file ${path}:${i + 1}`;
    if ([...variable].some((c) => WHITESPACE.includes(c))) {
      throw envError(`variable '${variable}' contains whitespaces`, source, 'environment variable names cannot contain spaces');
    }
    if (variable === '') throw envError(`no variable name on line '${line}'`, source, 'write lines as NAME=value');
    out.push({ value: eq < 0 ? variable.trim() : `${variable}=${line.slice(eq + 1)}`, source });
  }
  return out;
}
