/**
 * api/options: one options object per operation, normalised once. Unknown keys are rejected with a
 * message naming the operation and the key; the result is a null-prototype copy.
 */
import { BerthError, type WarningSink } from '../errors/index.js';

export function checkOptions<T extends object>(op: string, input: T | undefined, allowed: readonly string[]): T {
  const out = Object.create(null) as T;
  if (input === undefined || input === null) return out;
  if (typeof input !== 'object') {
    throw new BerthError('E_OPTION_INVALID', `${op}(): options must be an object, got ${typeof input}`);
  }
  for (const [k, v] of Object.entries(input)) {
    if (!allowed.includes(k)) {
      const near = allowed.find((a) => a.toLowerCase().startsWith(k.toLowerCase().slice(0, 3)));
      throw new BerthError('E_OPTION_UNKNOWN', `${op}(): unknown option "${k}"`, {
        hint: near ? `did you mean "${near}"?` : `valid options: ${allowed.join(', ')}`,
      });
    }
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

export function requireString(op: string, name: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') {
    throw new BerthError('E_OPTION_INVALID', `${op}(): option "${name}" must be a non-empty string`);
  }
  return v;
}

/** Common to every operation that touches the store. */
export interface StoreOptions {
  /** Store root; default $BERTH_ROOT, /var/lib/berth for root, else ${XDG_DATA_HOME:-~/.local/share}/berth. */
  root?: string;
  /** Receives recoverable anomalies; default: print nothing. */
  onWarning?: WarningSink;
}
