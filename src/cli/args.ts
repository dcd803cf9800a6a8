/**
 * cli/args: the argv parser shared by every command. Flags are declared per command; parsing is
 * strict (an unknown flag is an error naming the command) and, for commands like `run IMAGE CMD...`,
 * stops at the first positional that completes the command's own arguments so the container's
 * command keeps its own flags.
 */
import { BerthError } from '../errors/index.js';

export type FlagKind = 'boolean' | 'string' | 'multi';

export interface FlagSpec {
  /** Long name without dashes, e.g. 'user'. */
  name: string;
  short?: string;
  kind: FlagKind;
  /** Help line. */
  help: string;
  /** Value placeholder for help output. */
  value?: string;
}

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  flags: FlagSpec[];
  /**
   * How many leading positionals the command itself takes before everything else is passed
   * through verbatim (e.g. 1 for `run IMAGE [CMD...]`). Undefined: all args are parsed.
   */
  passthroughAfter?: number;
}

export interface ParsedArgs {
  flags: Map<string, string | boolean | string[]>;
  positionals: string[];
  /** Arguments after the command's own positionals (passthroughAfter) or after `--`. */
  rest: string[];
}

function usageError(cmd: CommandSpec, reason: string): BerthError {
  return new BerthError('E_CLI_USAGE', `berth ${cmd.name}: ${reason}`, {
    hint: `usage: ${cmd.usage} (see \`berth ${cmd.name} --help\`)`,
  });
}

export function parseArgs(cmd: CommandSpec, argv: string[]): ParsedArgs {
  const byLong = new Map(cmd.flags.map((f) => [f.name, f]));
  const byShort = new Map(cmd.flags.filter((f) => f.short).map((f) => [f.short as string, f]));
  const flags = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  const rest: string[] = [];

  const set = (f: FlagSpec, value: string | boolean) => {
    if (f.kind === 'multi') {
      const prev = (flags.get(f.name) as string[] | undefined) ?? [];
      prev.push(value as string);
      flags.set(f.name, prev);
    } else {
      flags.set(f.name, value);
    }
  };

  let i = 0;
  const takeValue = (f: FlagSpec, inline: string | undefined, shown: string): string => {
    if (inline !== undefined) return inline;
    if (i + 1 >= argv.length) throw usageError(cmd, `flag ${shown} needs a value${f.value ? ` (${f.value})` : ''}`);
    i += 1;
    return argv[i];
  };

  for (; i < argv.length; i++) {
    const a = argv[i];
    if (cmd.passthroughAfter !== undefined && positionals.length >= cmd.passthroughAfter) {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
      const inline = eq === -1 ? undefined : a.slice(eq + 1);
      const f = byLong.get(name);
      if (!f) throw usageError(cmd, `unknown flag --${name}`);
      if (f.kind === 'boolean') {
        if (inline === undefined) set(f, true);
        else if (inline === 'true' || inline === 'false') set(f, inline === 'true');
        else throw usageError(cmd, `flag --${name} takes no value other than true or false, got "${inline}"`);
      } else {
        set(f, takeValue(f, inline, `--${name}`));
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1 && a !== '-') {
      // -abc (booleans), -u value, -uvalue, -u=value
      for (let j = 1; j < a.length; j++) {
        const ch = a[j];
        const f = byShort.get(ch);
        if (!f) throw usageError(cmd, `unknown flag -${ch}`);
        if (f.kind === 'boolean') {
          set(f, true);
          continue;
        }
        let inline: string | undefined = a.slice(j + 1);
        if (inline.startsWith('=')) inline = inline.slice(1);
        if (inline === '') inline = undefined;
        set(f, takeValue(f, inline, `-${ch}`));
        break;
      }
      continue;
    }
    positionals.push(a);
  }
  return { flags, positionals, rest };
}

export function flagString(p: ParsedArgs, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function flagBool(p: ParsedArgs, name: string): boolean {
  return p.flags.get(name) === true;
}

export function flagList(p: ParsedArgs, name: string): string[] {
  const v = p.flags.get(name);
  return Array.isArray(v) ? v : [];
}

export function formatHelp(cmd: CommandSpec): string {
  const lines = [`Usage: ${cmd.usage}`, '', cmd.summary, ''];
  if (cmd.flags.length) {
    lines.push('Options:');
    const rows = cmd.flags.map((f) => {
      const left = `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.kind === 'boolean' ? '' : ` ${f.value ?? 'VALUE'}`}`;
      return [left, f.help + (f.kind === 'multi' ? ' (repeatable)' : '')];
    });
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [l, r] of rows) lines.push(`  ${l.padEnd(w)}  ${r}`);
  }
  return lines.join('\n');
}

/** Checks the count of positionals; `max` undefined means unbounded. */
export function expectPositionals(cmd: CommandSpec, p: ParsedArgs, min: number, max?: number): void {
  if (p.positionals.length < min) throw usageError(cmd, `expected at least ${min} argument${min === 1 ? '' : 's'}, got ${p.positionals.length}`);
  if (max !== undefined && p.positionals.length > max) {
    throw usageError(cmd, `unexpected argument "${p.positionals[max]}"`);
  }
}
