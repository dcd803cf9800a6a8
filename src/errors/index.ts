/**
 * errors/: the one error type berth throws, and the warning and finding shapes it reports.
 *
 * Every failure is a BerthError with a stable `code` (callers branch on it), a message of the
 * form `<op> <subject>: <reason>`, and a `hint` that says what to do next. Recoverable anomalies
 * are Warnings sent to a sink; `explain` reports Findings.
 */

const BRAND = Symbol.for('berth.BerthError');

export interface BerthErrorOptions {
  /** What to do about it, in one sentence addressed to the user. */
  hint?: string;
  /** Structured context (paths, ids, digests) for --json output and tests. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class BerthError extends Error {
  /** Stable identifier, e.g. `E_USER_NOT_FOUND`. Never reworded once published. */
  readonly code: string;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, options: BerthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BerthError';
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
    if (options.details !== undefined) this.details = options.details;
    Object.defineProperty(this, BRAND, { value: true });
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

/** Works across duplicate copies of the package (realm-independent brand). */
export function isBerthError(e: unknown): e is BerthError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

/** A recoverable anomaly. `code` is stable like an error code (`W_...`). */
export interface Warning {
  code: string;
  message: string;
  path?: string;
  details?: Record<string, unknown>;
}

export type WarningSink = (w: Warning) => void;

/** Default sink: collects nothing, loses nothing silently because callers must pass a sink. */
export const ignoreWarnings: WarningSink = () => {};

/**
 * Emits each warning class (code) once per sink, counting the repeats: umoci's "warn once per
 * class of environmental failure". `summary()` returns the counts for a closing line.
 */
export function onceSink(sink: WarningSink): WarningSink & { summary(): Map<string, number> } {
  const seen = new Map<string, number>();
  const f = ((w: Warning) => {
    const n = seen.get(w.code) ?? 0;
    seen.set(w.code, n + 1);
    if (n === 0) sink(w);
  }) as WarningSink & { summary(): Map<string, number> };
  f.summary = () => new Map(seen);
  return f;
}

export type Severity = 'error' | 'warning' | 'info';

/** One conclusion of `berth explain`. `because` is the chain of facts that led to it. */
export interface Finding {
  code: string;
  severity: Severity;
  subject: string;
  message: string;
  because: string[];
  fix: string;
}

/** Node's errno errors carry `code` like 'EPERM'. */
export function errnoOf(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return undefined;
}
