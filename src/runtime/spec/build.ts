/**
 * The builder: runs an ordered pipeline of named transformers over a draft it owns, and records,
 * for every field a step changed, which step changed it and from which input (provenance).
 *
 * Invariant: provenance is derived from a diff of the draft around each step, not only from what a
 * transformer claims, so no change goes unrecorded; a field a step names with a note is recorded
 * as that step's even when the value it wrote equals the one before. Transformers only name sources (ctx.source);
 * a changed field takes the note at its pointer or the nearest note above it, else the
 * transformer's default source.
 *
 * Leaves of the diff are primitives, empty arrays/objects, arrays of primitives (an args list or a
 * capability set is one field) and objects inside arrays (one mount); other objects are walked. A
 * note placed strictly below a leaf (e.g. `/process/env/3` under `/process/env`) is kept as a finer
 * entry.
 */
import type { Warning } from '../../errors/index.js';
import { OCI_VERSION } from './types.js';
import type { BuildResult, Provenance, ProvenanceEntry, RuntimeSpec, SpecInputs, SpecTransformer } from './types.js';

/** RFC 6901 escaping of one reference token. */
export function pointerToken(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** `['process', 'user', 'uid']` -> `/process/user/uid`. */
export function pointer(...keys: (string | number)[]): string {
  return keys.map((k) => `/${pointerToken(k)}`).join('');
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isPrimitive = (v: unknown): boolean => v === null || typeof v !== 'object';

/**
 * Flattens a JSON value to leaf pointer -> canonical JSON text. Array elements that are objects
 * are leaves too (one mount, one namespace, one rlimit is one field), so provenance stays readable.
 */
function leaves(value: unknown, at: string, out: Map<string, string>, element = false): Map<string, string> {
  if (value === undefined) return out;
  if (isPrimitive(value) || (element && !Array.isArray(value))) {
    out.set(at, JSON.stringify(value));
  } else if (Array.isArray(value)) {
    if (value.length === 0 || value.every(isPrimitive)) out.set(at, JSON.stringify(value));
    else value.forEach((v, i) => leaves(v, `${at}/${i}`, out, true));
  } else {
    const keys = Object.keys(value as object).filter((k) => (value as Record<string, unknown>)[k] !== undefined);
    if (keys.length === 0) out.set(at, '{}');
    for (const k of keys) leaves((value as Record<string, unknown>)[k], `${at}/${pointerToken(k)}`, out);
  }
  return out;
}

const under = (p: string, base: string): boolean => p === base || p.startsWith(`${base}/`);

/** The skeleton every pipeline starts from: the members runtime-spec requires, empty. */
export function emptySpec(): RuntimeSpec {
  return {
    ociVersion: OCI_VERSION,
    process: { user: { uid: 0, gid: 0 }, args: [], env: [], cwd: '/' },
    root: { path: 'rootfs' },
    mounts: [],
    linux: { namespaces: [] },
  };
}

/** Deep copy of JSON data, dropping undefined members (what JSON.stringify writes). */
function cloneJson<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Sorts object keys recursively so the same spec always serialises to the same bytes. Arrays keep their order. */
function canonical(value: unknown): unknown {
  if (isPrimitive(value)) return value;
  if (Array.isArray(value)) return value.map(canonical);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value as object).sort()) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = canonical(v);
  }
  return out;
}

/**
 * Builds config.json from the inputs by applying each transformer in order. Pure and synchronous.
 * Throws the first BerthError a transformer throws (bad flag values, refused sysctls, ...).
 */
export interface BuildOptions {
  /**
   * Record provenance (default true). Without it the same transformers run in the same order on
   * the same draft and give the same spec; only the diff around each step is skipped (`berth run`
   * does not show provenance, and the diff is most of the builder's time).
   */
  provenance?: boolean;
}

export function buildSpec(inputs: SpecInputs, pipeline: readonly SpecTransformer[], options: BuildOptions = {}): BuildResult {
  const names = new Set<string>();
  for (const t of pipeline) {
    if (names.has(t.name)) throw new Error(`buildSpec: transformer name "${t.name}" appears twice in the pipeline`);
    names.add(t.name);
  }
  const provenance = new Map<string, ProvenanceEntry>();
  const warnings: Warning[] = [];
  let draft = emptySpec();
  if (options.provenance === false) {
    const ctx = {
      source(): void {},
      warn(w: Warning): void {
        warnings.push(w);
      },
    };
    for (const t of pipeline) {
      t.apply(draft, inputs, ctx);
      draft = cloneJson(draft);
    }
    return { spec: canonical(draft) as RuntimeSpec, provenance: {}, warnings };
  }
  let before = leaves(draft, '', new Map());
  for (const p of before.keys()) {
    provenance.set(p, { transformer: 'skeleton', source: 'runtime-spec required member' });
  }
  // Provenance entries finer than a leaf (a note below one); only these can sit under a changed
  // leaf without being one themselves, so only these are scanned when a leaf changes.
  const finer = new Set<string>();
  for (const t of pipeline) {
    const notes = new Map<string, string>();
    const ctx = {
      source(ptr: string, source: string): void {
        notes.set(ptr, source);
      },
      warn(w: Warning): void {
        warnings.push(w);
      },
    };
    t.apply(draft, inputs, ctx);
    // JSON round trip: transformers may leave undefined members; the written file would not have them.
    draft = cloneJson(draft);
    const after = leaves(draft, '', new Map());
    const fallback = typeof t.source === 'function' ? t.source(inputs) : (t.source ?? t.name);
    // The nearest note at or above a leaf; else the notes below it; else the step's default.
    const sourceFor = (leaf: string): string => {
      let best: string | undefined;
      let bestLen = -1;
      for (const [p, s] of notes) {
        if ((p === '' || under(leaf, p)) && p.length > bestLen) {
          best = s;
          bestLen = p.length;
        }
      }
      if (best !== undefined) return best;
      const below = [...notes].filter(([p]) => p !== leaf && under(p, leaf)).map(([, s]) => s);
      return below.length > 0 ? [...new Set(below)].join('; ') : fallback;
    };
    // Owned by this step: every leaf whose value changed, and every leaf it named with a note even
    // when the value stayed (a step that writes uid 0 over the skeleton's 0 still decided it).
    const owned = new Set<string>();
    for (const [p, v] of after) if (before.get(p) !== v) owned.add(p);
    for (const np of notes.keys()) {
      if (after.has(np)) {
        owned.add(np);
        continue;
      }
      for (const l of after.keys()) if (under(l, np) || under(np, l)) owned.add(l);
    }
    const dropped: string[] = [];
    for (const p of before.keys()) if (!after.has(p)) dropped.push(p);
    for (const p of [...dropped, ...owned]) {
      provenance.delete(p);
      for (const f of finer) {
        if (under(f, p)) {
          provenance.delete(f);
          finer.delete(f);
        }
      }
    }
    for (const p of owned) {
      provenance.set(p, { transformer: t.name, source: sourceFor(p) });
      for (const [np, s] of notes) {
        if (np !== p && under(np, p)) {
          provenance.set(np, { transformer: t.name, source: s });
          finer.add(np);
        }
      }
    }
    before = after;
  }
  const sorted: Provenance = {};
  for (const k of [...provenance.keys()].sort()) sorted[k] = provenance.get(k)!;
  return { spec: canonical(draft) as RuntimeSpec, provenance: sorted, warnings };
}

/** The bytes to write as config.json: canonical key order, two-space indent, trailing newline. */
export function serializeSpec(spec: RuntimeSpec): string {
  return `${JSON.stringify(canonical(spec), null, 2)}\n`;
}
