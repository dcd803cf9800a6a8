/**
 * build/dockerfile/args: build-argument scoping, as BuildKit's dockerfile2llb does it
 * (convert.go buildMetaArgs, dispatchArg, dispatchEnv, proxyEnvFromBuildArgs; platform.go
 * defaultArgs). Pure: the executor creates one BuildArgs per build and one StageScope per stage,
 * and asks them what an instruction sees.
 *
 * Rules:
 * - The global scope starts with BuildKit's automatic platform args (BUILDPLATFORM, BUILDOS,
 *   BUILDOSVERSION, BUILDARCH, BUILDVARIANT, TARGETPLATFORM, TARGETOS, TARGETOSVERSION, TARGETARCH,
 *   TARGETVARIANT, TARGETSTAGE), each replaced by a --build-arg of the same name. Global ARGs
 *   (before the first FROM) are then evaluated in order: the --build-arg value if given, else the
 *   default expanded with the global scope so far; an ARG with neither adds nothing.
 * - FROM image names and --platform expand with the global scope only.
 * - Inside a stage nothing global is visible until an ARG names it: `ARG NAME` takes the
 *   --build-arg, else the global value; `ARG NAME=default` takes the --build-arg, else the default
 *   expanded with the stage's environment at that line. Several ARGs on one line are evaluated one
 *   after another.
 * - A stage has one build-time environment: it starts with the base image's Env (or, for
 *   `FROM <stage>`, the environment that stage ended with, its ARGs included: "an ARG is inherited
 *   by stages based on that stage"); ENV and ARG both set names in it, and the later one wins. So an
 *   ENV after an ARG of the same name overrides it (the documented rule) and an ARG declared after
 *   an inherited ENV overrides that for the rest of the stage, as in BuildKit (the classic builder
 *   let ENV win always). ARG values never reach the image config; ENV values do (imageEnv).
 * - RUN gets that environment, plus the predefined proxy args (HTTP_PROXY, HTTPS_PROXY, FTP_PROXY,
 *   NO_PROXY, ALL_PROXY, matched case-insensitively among the --build-args) in both upper and lower
 *   case, without declaration, when the environment does not already set the name.
 * - A --build-arg is unused when no ARG the build evaluated names it and it is neither a proxy arg
 *   nor an automatic platform arg.
 */
import { BerthError } from '../../errors/index.js';
import { lexFailure, lexWord, type Lookup } from './lex.js';
import type { ArgInstruction, Dockerfile, EscapeChar, EnvInstruction, KeyValue, Stage } from './types.js';

export const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'] as const;

export const PLATFORM_ARGS = [
  'BUILDPLATFORM', 'BUILDOS', 'BUILDOSVERSION', 'BUILDARCH', 'BUILDVARIANT',
  'TARGETPLATFORM', 'TARGETOS', 'TARGETOSVERSION', 'TARGETARCH', 'TARGETVARIANT', 'TARGETSTAGE',
] as const;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  osVersion?: string;
}

export interface BuildArgsOptions {
  /** --build-arg values. */
  buildArgs?: Record<string, string>;
  /** The platform running the build; with it the automatic platform args are defined. */
  buildPlatform?: Platform;
  /** The platform of the result; defaults to buildPlatform. */
  targetPlatform?: Platform;
  /** The --target stage name (TARGETSTAGE); "default" when none is given, as BuildKit. */
  target?: string;
}

function formatPlatform(p: Platform, withOsVersion: boolean): string {
  const os = withOsVersion && p.osVersion ? `${p.os}(${p.osVersion})` : p.os;
  return [os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

/** BuildKit defaultArgs: the automatic platform args for a build and target platform. */
export function automaticPlatformArgs(build: Platform, target: Platform = build, targetStage = 'default'): Map<string, string> {
  return new Map([
    ['BUILDPLATFORM', formatPlatform(build, false)],
    ['BUILDOS', build.os],
    ['BUILDOSVERSION', build.osVersion ?? ''],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
    ['TARGETPLATFORM', formatPlatform(target, true)],
    ['TARGETOS', target.os],
    ['TARGETOSVERSION', target.osVersion ?? ''],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['TARGETSTAGE', targetStage],
  ]);
}

function envKey(entry: string): string {
  const i = entry.indexOf('=');
  return i < 0 ? entry : entry.slice(0, i);
}

/** `K=V` list -> ordered map (the first `=` splits; a later duplicate replaces the value in place). */
export function envMap(env: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env) {
    const i = e.indexOf('=');
    m.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  return m;
}

function toList(m: ReadonlyMap<string, string>): string[] {
  return [...m].map(([k, v]) => `${k}=${v}`);
}

/** The build's arguments: global scope, FROM expansion, stage scopes, proxy env, unused args. */
export class BuildArgs {
  private readonly buildArgs: ReadonlyMap<string, string>;
  private readonly globals = new Map<string, string>();
  private readonly consumed = new Set<string>();
  readonly escape: EscapeChar;
  readonly file: string;

  constructor(df: Pick<Dockerfile, 'globalArgs' | 'escape' | 'file'>, options: BuildArgsOptions = {}) {
    this.escape = df.escape;
    this.file = df.file;
    this.buildArgs = new Map(Object.entries(options.buildArgs ?? {}));
    if (options.buildPlatform) {
      const auto = automaticPlatformArgs(options.buildPlatform, options.targetPlatform, options.target ?? 'default');
      for (const [k, v] of auto) this.globals.set(k, this.buildArgs.get(k) ?? v);
    }
    for (const ins of df.globalArgs) {
      for (const a of ins.args) {
        this.consumed.add(a.key);
        const given = this.buildArgs.get(a.key);
        if (given !== undefined) this.globals.set(a.key, given);
        else if (a.value !== undefined) this.globals.set(a.key, this.word(a.value, (n) => this.globals.get(n), ins.line));
      }
    }
  }

  private word(w: string, lookup: Lookup, line: number): string {
    try {
      return lexWord(w, lookup, { escape: this.escape }).result;
    } catch (e) {
      throw lexFailure(e, { file: this.file, line });
    }
  }

  /** The global scope (automatic platform args, then global ARGs). */
  global(): Map<string, string> {
    return new Map(this.globals);
  }

  lookupGlobal(name: string): string | undefined {
    return this.globals.get(name);
  }

  /** The --build-arg value for `name`, if one was given. */
  buildArg(name: string): string | undefined {
    return this.buildArgs.get(name);
  }

  /** A stage's FROM image (or stage name), expanded with the global scope; "" is E_DOCKERFILE_ARG. */
  fromImage(stage: Stage): string {
    const f = stage.from;
    const image = this.word(f.image, (n) => this.globals.get(n), f.line);
    if (image === '') {
      throw new BerthError('E_DOCKERFILE_ARG', `expand Dockerfile ${this.file}:${f.line}: base name (${f.image}) should not be blank`, {
        hint: 'pass the ARG it names with --build-arg, or give the global ARG a default',
        details: { file: this.file, line: f.line },
      });
    }
    return image;
  }

  /**
   * A stage's FROM, expanded with the global scope: the image (or stage name) and --platform.
   * An image that expands to "" is E_DOCKERFILE_ARG ("base name should not be blank").
   */
  from(stage: Stage): { image: string; platform?: string } {
    const f = stage.from;
    const image = this.fromImage(stage);
    if (f.platform === undefined) return { image };
    const platform = this.word(f.platform, (n) => this.globals.get(n), f.line);
    if (platform === '') {
      throw new BerthError('E_DOCKERFILE_ARG', `expand Dockerfile ${this.file}:${f.line}: empty platform value from expression ${f.platform}`, {
        hint: 'define the ARG it names (TARGETPLATFORM and BUILDPLATFORM are automatic)',
        details: { file: this.file, line: f.line },
      });
    }
    return { image, platform };
  }

  /**
   * A new stage scope. `baseEnv` is the base image's config Env (`K=V` list); for a stage built FROM
   * another stage pass that stage's scope as `parent` instead (its environment and ARGs carry over).
   */
  stage(base: { baseEnv?: readonly string[]; parent?: StageScope } = {}): StageScope {
    return new StageScope(this, base.parent ? base.parent.snapshot() : { env: envMap(base.baseEnv ?? []), imageEnv: envMap(base.baseEnv ?? []) });
  }

  /** Marks an ARG name as consumed (StageScope.declare does this). */
  markConsumed(name: string): void {
    this.consumed.add(name);
  }

  /** The proxy variables RUN gets from --build-arg (both cases), sorted by name. */
  proxyEnv(): Map<string, string> {
    const out = new Map<string, string>();
    const keys = [...this.buildArgs.keys()].sort();
    for (const base of ['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY']) {
      let value: string | undefined;
      for (const k of keys) if (k.toUpperCase() === base) value = this.buildArgs.get(k);
      if (value !== undefined && value !== '') {
        out.set(base, value);
        out.set(base.toLowerCase(), value);
      }
    }
    return out;
  }

  /** --build-args no evaluated ARG named (proxy and automatic platform args excepted), sorted. */
  unused(): string[] {
    const exempt = new Set<string>([...PROXY_ARGS, ...PLATFORM_ARGS]);
    return [...this.buildArgs.keys()].filter((k) => !this.consumed.has(k) && !exempt.has(k)).sort();
  }
}

/** One stage's variables as its instructions are walked in order. */
export class StageScope {
  private readonly env: Map<string, string>;
  private readonly imageEnvMap: Map<string, string>;

  constructor(
    private readonly args: BuildArgs,
    init: { env: Map<string, string>; imageEnv: Map<string, string> },
  ) {
    this.env = new Map(init.env);
    this.imageEnvMap = new Map(init.imageEnv);
  }

  /** For `FROM <this stage>`: a copy of the state the next stage starts from. */
  snapshot(): { env: Map<string, string>; imageEnv: Map<string, string> } {
    return { env: new Map(this.env), imageEnv: new Map(this.imageEnvMap) };
  }

  /** The expansion lookup now (for instantiate). */
  readonly lookup: Lookup = (name) => this.env.get(name);

  /** The expansion environment now. */
  environment(): Map<string, string> {
    return new Map(this.env);
  }

  /** Applies an ARG instruction (BuildKit dispatchArg). Returns the pairs it set, for history. */
  declare(ins: ArgInstruction): { key: string; value?: string }[] {
    const out: { key: string; value?: string }[] = [];
    for (const a of ins.args) {
      this.args.markConsumed(a.key);
      const given = this.args.buildArg(a.key);
      let value: string | undefined;
      if (given !== undefined) value = given;
      else if (a.value !== undefined) {
        try {
          value = lexWord(a.value, this.lookup, { escape: this.args.escape }).result;
        } catch (e) {
          throw lexFailure(e, { file: this.args.file, line: ins.line });
        }
      } else value = this.args.lookupGlobal(a.key);
      if (value !== undefined) this.env.set(a.key, value);
      out.push(value === undefined ? { key: a.key } : { key: a.key, value });
    }
    return out;
  }

  /** Applies an ENV instruction whose pairs were expanded with instantiate. */
  setEnv(ins: EnvInstruction | { pairs: readonly KeyValue[] }): void {
    for (const p of ins.pairs) {
      this.env.set(p.key, p.value);
      this.imageEnvMap.set(p.key, p.value);
    }
  }

  /** The image config's Env so far (base image Env and ENV instructions; never ARGs). */
  imageEnv(): string[] {
    return toList(this.imageEnvMap);
  }

  /** The environment a RUN gets: the stage environment, then proxy args it does not set. */
  runEnv(): string[] {
    const out = new Map(this.env);
    const names = new Set([...out.keys()].map(envKey));
    for (const [k, v] of this.args.proxyEnv()) if (!names.has(k)) out.set(k, v);
    return toList(out);
  }
}
