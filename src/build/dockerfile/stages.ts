/**
 * build/dockerfile/stages: which stages a build needs and in what order (BuildKit dockerfile2llb
 * buildDispatchStates, toCommand, allReachableStages, validateCircularDependency). Pure.
 *
 * - `FROM x`: x (after global-ARG expansion) names a stage when an earlier stage has that `AS`
 *   name (the latest one, if the name repeats); otherwise it is an image, `scratch` being the empty
 *   image. Neither BuildKit nor Docker resolves `FROM <index>` to a stage: `FROM 0` is an image.
 * - `COPY --from=x` and `RUN --mount=from=x`: x is a stage when some stage has that name (a later
 *   stage is allowed, as BuildKit, when no cycle results) or when x is a stage index, which must name
 *   an earlier stage (Docker's rule; a stage cannot read itself or a later stage by position);
 *   anything else is an image reference. Variables in x are refused, as BuildKit does.
 * - The target is the named stage (`--target`, case-insensitive) or the last stage; an unknown
 *   target is E_BUILD_TARGET listing the stage names. Only stages the target reaches are built,
 *   each after every stage it depends on (ties in Dockerfile order).
 * Stage reference errors are E_DOCKERFILE_STAGE naming the line.
 */
import { BerthError } from '../../errors/index.js';
import { csvFields } from './words.js';
import { lexWord } from './lex.js';
import type { Dockerfile, Stage } from './types.js';
import { BuildArgs } from './args.js';

export type StageSource =
  | { kind: 'stage'; index: number }
  | { kind: 'image'; ref: string }
  | { kind: 'scratch' };

export interface StageUse {
  /** The line of the COPY, ADD or RUN that reads the other stage or image. */
  line: number;
  instruction: 'COPY' | 'RUN';
  /** As written in --from / from=. */
  from: string;
  source: StageSource;
}

export interface PlannedStage {
  stage: Stage;
  /** The expanded FROM image or stage name. */
  baseName: string;
  base: StageSource;
  /** Other stages and images its instructions read. */
  uses: StageUse[];
}

export interface BuildPlan {
  /** Index of the stage whose result is the image. */
  target: number;
  /** The stages to build, each after those it depends on. */
  stages: PlannedStage[];
  /** Distinct image references the planned stages need (FROM and --from), sorted. */
  images: string[];
}

function stageError(df: Dockerfile, line: number, reason: string, hint?: string): BerthError {
  return new BerthError('E_DOCKERFILE_STAGE', `parse Dockerfile ${df.file}:${line}: ${reason}`, {
    hint: hint ?? 'refer to an earlier stage by name (FROM image AS name) or by its index',
    details: { file: df.file, line },
  });
}

/** Finds the stage a name refers to among `candidates` (latest wins). */
function byName(stages: readonly Stage[], name: string): Stage | undefined {
  const n = name.toLowerCase();
  let found: Stage | undefined;
  for (const s of stages) if (s.name === n) found = s;
  return found;
}

function stageLabel(s: Stage): string {
  return s.name ?? `stage-${s.index}`;
}

/**
 * Plans a build. `args` gives the global scope FROM lines expand with; without it the global ARG
 * defaults are used (no --build-arg, no automatic platform args).
 */
export function planStages(df: Dockerfile, target?: string, options: { args?: BuildArgs } = {}): BuildPlan {
  const args = options.args ?? new BuildArgs(df);
  let targetStage = df.stages[df.stages.length - 1];
  if (target !== undefined && target !== '') {
    const t = byName(df.stages, target);
    if (!t) {
      const names = df.stages.filter((s) => s.name !== undefined).map((s) => s.name!);
      throw new BerthError('E_BUILD_TARGET', `build --target ${target}: target stage "${target}" could not be found in ${df.file}`, {
        hint: names.length > 0 ? `stages with names: ${[...new Set(names)].join(', ')}` : 'no stage has a name: add AS NAME to a FROM line',
        details: { target, stages: names },
      });
    }
    targetStage = t;
  }

  const planned = df.stages.map((stage): PlannedStage => {
    const baseName = args.fromImage(stage);
    const earlier = df.stages.slice(0, stage.index);
    const prev = byName(earlier, baseName);
    if (prev && prev.name !== baseName) {
      // BuildKit matches FROM against the lower-cased names exactly; `FROM Build` would be an image
      // reference, and an invalid one (upper case). Say what was meant instead.
      throw stageError(df, stage.from.line, `FROM ${baseName}: stage names are lower case; write FROM ${prev.name}`);
    }
    const base: StageSource = prev ? { kind: 'stage', index: prev.index } : baseName === 'scratch' ? { kind: 'scratch' } : { kind: 'image', ref: baseName };
    const uses: StageUse[] = [];
    const resolveFrom = (from: string, line: number, instruction: 'COPY' | 'RUN'): void => {
      let expanded: string;
      try {
        expanded = lexWord(from, () => undefined, { escape: df.escape }).result;
      } catch {
        expanded = '';
      }
      if (expanded !== from) {
        throw stageError(df, line, `--from=${from}: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround`, 'add `FROM ${IMAGE} AS src` with a global ARG IMAGE, then COPY --from=src');
      }
      let source: StageSource;
      if (/^[+-]?[0-9]+$/.test(from)) {
        const n = Number(from);
        if (!Number.isSafeInteger(n) || n < 0 || n >= df.stages.length) throw stageError(df, line, `invalid stage index ${from}: the Dockerfile has stages 0 to ${df.stages.length - 1}`);
        if (n >= stage.index) throw stageError(df, line, `--from=${from} refers to ${n === stage.index ? 'the stage itself' : 'a later stage'}; a stage index must name an earlier stage`);
        source = { kind: 'stage', index: n };
      } else {
        const s = byName(df.stages, from);
        source = s ? { kind: 'stage', index: s.index } : from.toLowerCase() === 'scratch' ? { kind: 'scratch' } : { kind: 'image', ref: from };
      }
      uses.push({ line, instruction, from, source });
    };
    for (const ins of stage.instructions) {
      if ((ins.kind === 'COPY' || ins.kind === 'ADD') && ins.from !== undefined) resolveFrom(ins.from, ins.line, 'COPY');
      if (ins.kind === 'RUN') {
        for (const m of ins.flags.mount) {
          for (const field of csvFields(m)) {
            const eq = field.indexOf('=');
            if (eq > 0 && field.slice(0, eq).toLowerCase() === 'from' && field.slice(eq + 1) !== '') resolveFrom(field.slice(eq + 1), ins.line, 'RUN');
          }
        }
      }
    }
    return { stage, baseName, base, uses };
  });

  const deps = (p: PlannedStage): number[] => {
    const out: number[] = [];
    if (p.base.kind === 'stage') out.push(p.base.index);
    for (const u of p.uses) if (u.source.kind === 'stage') out.push(u.source.index);
    return out;
  };

  // Cycle check over every stage, as BuildKit validates the whole file.
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (i: number, via: number | undefined): void => {
    const st = state.get(i);
    if (st === 'done') return;
    if (st === 'visiting') {
      const s = df.stages[i];
      const line = via !== undefined ? (planned[via].uses.find((u) => u.source.kind === 'stage' && u.source.index === i)?.line ?? df.stages[via].from.line) : s.from.line;
      throw stageError(df, line, `circular dependency detected on stage: ${stageLabel(s)}`, 'a stage cannot copy from a stage that (indirectly) copies from it');
    }
    state.set(i, 'visiting');
    for (const d of deps(planned[i])) visit(d, i);
    state.set(i, 'done');
  };
  for (const p of planned) visit(p.stage.index, undefined);

  // Stages the target reaches.
  const needed = new Set<number>();
  const reach = (i: number): void => {
    if (needed.has(i)) return;
    needed.add(i);
    for (const d of deps(planned[i])) reach(d);
  };
  reach(targetStage.index);

  // Dependencies first; among the ready ones, the earliest in the file.
  const order: PlannedStage[] = [];
  const placed = new Set<number>();
  const pending = [...needed].sort((a, b) => a - b);
  const depsOf = new Map(pending.map((i) => [i, deps(planned[i])]));
  while (pending.length > 0) {
    const at = pending.findIndex((i) => depsOf.get(i)!.every((d) => placed.has(d)));
    if (at < 0) break; // unreachable: cycles were refused above
    const [next] = pending.splice(at, 1);
    placed.add(next);
    order.push(planned[next]);
  }

  const images = new Set<string>();
  for (const p of order) {
    if (p.base.kind === 'image') images.add(p.base.ref);
    for (const u of p.uses) if (u.source.kind === 'image') images.add(u.source.ref);
  }
  return { target: targetStage.index, stages: order, images: [...images].sort() };
}
