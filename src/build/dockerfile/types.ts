/**
 * build/dockerfile/types: the typed shape of a parsed Dockerfile. Every string is as written (not
 * yet expanded); `instantiate` (expand.ts) expands the fields BuildKit expands.
 */

export type EscapeChar = '\\' | '`';

/** A here-document (`<<EOF` ... `EOF`) read after its instruction line. */
export interface Heredoc {
  /** The delimiter with quotes removed (`<<"EOF"` -> `EOF`). */
  name: string;
  /** The body exactly as written: every line with its line ending, leading tabs kept. */
  content: string;
  /** False when any part of the delimiter was quoted: the body is used literally. */
  expand: boolean;
  /** `<<-`: leading tabs of every body line are removed when the body is used. */
  chomp: boolean;
  /** `3<<EOF`: the file descriptor written before `<<`, else 0. */
  fd: number;
}

/** A file COPY/ADD creates from a heredoc source (BuildKit SourceContent). */
export interface InlineFile {
  /** The heredoc name, which is also the file name when the destination is a directory. */
  name: string;
  /** The body with `<<-` tabs already removed (expanded later when `expand`). */
  data: string;
  expand: boolean;
}

interface Located {
  /** 1-based line of the instruction's first line, and of its last (continuations, heredocs). */
  line: number;
  endLine: number;
  /** The instruction as written, continuations joined, heredoc bodies left out, trimmed. */
  original: string;
}

/** Shell form (`RUN make all`: one string for the SHELL) or exec form (`RUN ["make","all"]`). */
export type CommandForm = { form: 'shell'; command: string } | { form: 'exec'; command: string[] };

export interface FromInstruction extends Located {
  kind: 'FROM';
  /** Base image, stage name or `scratch`, unexpanded (expands with the global ARGs). */
  image: string;
  /** Lower-cased `AS` name. */
  name?: string;
  /** `--platform`, unexpanded. */
  platform?: string;
}

export type NetworkMode = 'default' | 'none' | 'host';
export type SecurityMode = 'sandbox' | 'insecure';

export interface RunFlags {
  /** Every `--mount` value, unexpanded, in order (parse with parseRunMount). */
  mount: string[];
  network?: NetworkMode;
  security?: SecurityMode;
  /** Every `--device` value, in order. */
  device: string[];
}

export type RunInstruction = Located & CommandForm & { kind: 'RUN'; heredocs: Heredoc[]; flags: RunFlags };

export interface CopyInstruction extends Located {
  kind: 'COPY' | 'ADD';
  /** Source paths (globs, URLs for ADD) as written; heredoc sources are in `files`. */
  sources: string[];
  /** Files made from heredoc sources (`COPY <<EOF /etc/x`). */
  files: InlineFile[];
  dest: string;
  /** The here-documents read after the line, as parsed. */
  heredocs: Heredoc[];
  /** True for the JSON form (`COPY ["a b", "/c"]`). */
  json: boolean;
  chown?: string;
  chmod?: string;
  /** COPY only: a stage name, stage index or image. Never expanded (BuildKit refuses variables). */
  from?: string;
  link: boolean;
  /** COPY only. */
  parents: boolean;
  exclude: string[];
  /** ADD only. */
  checksum?: string;
  /** ADD only; undefined when the flag is absent (BuildKit then follows BUILDKIT_CONTEXT_KEEP_GIT_DIR). */
  keepGitDir?: boolean;
  /** ADD only; undefined when the flag is absent (archives from the context are unpacked, URLs not). */
  unpack?: boolean;
}

export interface UserInstruction extends Located {
  kind: 'USER';
  user: string;
}

export interface WorkdirInstruction extends Located {
  kind: 'WORKDIR';
  path: string;
}

export interface KeyValue {
  key: string;
  value: string;
  /** The legacy `ENV KEY value with spaces` form. */
  legacy: boolean;
}

export interface EnvInstruction extends Located {
  kind: 'ENV';
  pairs: KeyValue[];
}

export interface LabelInstruction extends Located {
  kind: 'LABEL';
  pairs: KeyValue[];
}

export interface ArgDeclaration {
  key: string;
  /** The default as written (quotes kept until expansion); undefined for `ARG NAME`. */
  value?: string;
}

export interface ArgInstruction extends Located {
  kind: 'ARG';
  args: ArgDeclaration[];
}

export interface ExposeInstruction extends Located {
  kind: 'EXPOSE';
  /** Port words as written (`80`, `8000-8010/udp`, `$PORT`); see exposedPorts(). */
  ports: string[];
}

export interface VolumeInstruction extends Located {
  kind: 'VOLUME';
  paths: string[];
  json: boolean;
}

export type EntrypointInstruction = Located & CommandForm & { kind: 'ENTRYPOINT' };

/** `CMD` with no arguments is the shell form with an empty command. */
export type CmdInstruction = Located & CommandForm & { kind: 'CMD' };

export interface StopSignalInstruction extends Located {
  kind: 'STOPSIGNAL';
  signal: string;
}

/** The image config's Healthcheck object (Docker image spec); durations in nanoseconds, zero fields omitted. */
export interface HealthcheckConfig {
  /** `["NONE"]`, `["CMD", ...args]` or `["CMD-SHELL", command]`. */
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface HealthcheckInstruction extends Located {
  kind: 'HEALTHCHECK';
  healthcheck: HealthcheckConfig;
}

export interface ShellInstruction extends Located {
  kind: 'SHELL';
  shell: string[];
}

export interface OnbuildInstruction extends Located {
  kind: 'ONBUILD';
  /** The trigger as stored in the image config's OnBuild list (heredoc bodies appended, as BuildKit). */
  expression: string;
  /** The trigger parsed (never ONBUILD, FROM or MAINTAINER). */
  trigger: Instruction;
}

export interface MaintainerInstruction extends Located {
  kind: 'MAINTAINER';
  maintainer: string;
}

export type Instruction =
  | RunInstruction
  | CopyInstruction
  | UserInstruction
  | WorkdirInstruction
  | EnvInstruction
  | ArgInstruction
  | LabelInstruction
  | ExposeInstruction
  | VolumeInstruction
  | EntrypointInstruction
  | CmdInstruction
  | StopSignalInstruction
  | HealthcheckInstruction
  | ShellInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction['kind'] | 'FROM';

export interface Stage {
  /** 0-based position in the Dockerfile (what `COPY --from=0` names). */
  index: number;
  /** Lower-cased `AS` name. */
  name?: string;
  from: FromInstruction;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** Name used in messages (`parse Dockerfile <file>:<line>`). */
  file: string;
  /** Parser directives found at the top (`syntax`, `escape`, `check`), keys lower-cased. */
  directives: Record<string, string>;
  escape: EscapeChar;
  /** ARG instructions before the first FROM. */
  globalArgs: ArgInstruction[];
  stages: Stage[];
}
