/**
 * cli/context: what every command receives: the global options, output helpers, and a warning
 * sink that prints each warning class once to stderr.
 */
import type { Warning, WarningSink } from '../errors/index.js';

export interface CliContext {
  /** --root, or undefined for the default store location. */
  root?: string;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Prints a warning to stderr (once per code), unless --quiet. */
  warn: WarningSink;
  out(text: string): void;
  json(value: unknown): void;
}

export function createContext(opts: { root?: string; quiet?: boolean }): CliContext {
  const seen = new Map<string, number>();
  const warn = (w: Warning) => {
    const n = seen.get(w.code) ?? 0;
    seen.set(w.code, n + 1);
    if (n === 0 && !opts.quiet) process.stderr.write(`warning: ${w.message}\n`);
  };
  return {
    root: opts.root,
    // Getters: creating process.stdout costs a few ms, and `berth run` hands the descriptors
    // to the container without ever touching the streams.
    get stdout() {
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
    env: process.env,
    warn,
    out(text: string) {
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    json(value: unknown) {
      process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}
