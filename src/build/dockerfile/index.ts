/**
 * build/dockerfile/: the Dockerfile front end, pure (no I/O): the build executor reads the files
 * and calls in here. It owns what BuildKit's frontend/dockerfile owns:
 *
 * - parse: text -> typed stages and instructions with lines (directives, continuations), ONBUILD
 *   triggers of base images, single `--change` lines; words (names, flags, JSON and shell forms),
 *   heredoc (here-documents) and instructions (the typed instructions) are its parts;
 * - types: the typed shape of a parsed Dockerfile;
 * - lex: word expansion exactly as BuildKit's shell/lex.go;
 * - expand: which words each instruction expands (instantiate), EXPOSE ports, WORKDIR joining,
 *   RUN --mount parsing, how a RUN (heredocs included) becomes a process;
 * - args: build-argument scoping (global ARGs, stage ARGs, ENV precedence, proxy and platform args,
 *   unused --build-args);
 * - stages: the stages a target needs, in dependency order;
 * - dockerignore, glob: .dockerignore matching (moby/patternmatcher) and Go filepath.Match for
 *   COPY sources;
 * - changes: `import --change` applied to an image config.
 *
 * docs/dockerfile.md lists what is supported and the sources followed.
 */
export type {
  ArgDeclaration,
  ArgInstruction,
  CmdInstruction,
  CommandForm,
  CopyInstruction,
  Dockerfile,
  EntrypointInstruction,
  EnvInstruction,
  EscapeChar,
  ExposeInstruction,
  FromInstruction,
  HealthcheckConfig,
  HealthcheckInstruction,
  Heredoc,
  InlineFile,
  Instruction,
  InstructionKind,
  KeyValue,
  LabelInstruction,
  MaintainerInstruction,
  NetworkMode,
  OnbuildInstruction,
  RunFlags,
  RunInstruction,
  SecurityMode,
  ShellInstruction,
  Stage,
  StopSignalInstruction,
  UserInstruction,
  VolumeInstruction,
  WorkdirInstruction,
} from './types.js';
export { parseDockerfile, parseTrigger, parseInstruction, syntaxError, MAX_LINE_BYTES, MAX_DOCKERFILE_BYTES } from './parse.js';
export { parseHeredocWord, chompHeredoc } from './heredoc.js';
export type { ParseOptions } from './parse.js';
export { expandWord, expandWords, lexWord, LexError } from './lex.js';
export type { Lookup, LexOptions, LexResult, WordSite } from './lex.js';
export { instantiate, expandsVariables, exposedPorts, normalizeWorkdir, isSignal, parseRunMount, planRunCommand } from './expand.js';
export type { ExpandContext, RunMount, MountType, RunPlan } from './expand.js';
export { BuildArgs, StageScope, automaticPlatformArgs, envMap, PROXY_ARGS, PLATFORM_ARGS } from './args.js';
export type { BuildArgsOptions, Platform } from './args.js';
export { planStages } from './stages.js';
export type { BuildPlan, PlannedStage, StageSource, StageUse } from './stages.js';
export { parseDockerignore, createIgnoreMatcher, dockerignoreMatcher } from './dockerignore.js';
export type { IgnoreMatcher, IgnorePattern } from './dockerignore.js';
export { matchGlob, hasGlob, validateGlob, cleanPath, joinPath } from './glob.js';
export { parseGoDuration } from './duration.js';
export { applyChange, applyChanges, splitWords } from './changes.js';
export type { RunConfig } from './changes.js';
