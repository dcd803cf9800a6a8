/**
 * explain/: `berth explain`'s engine. From an image's config and per-layer file index (no layer
 * data), an engine profile and run flags or a pod, it predicts the container process's identity
 * (uid, gid, groups, HOME), capability sets, no_new_privs, working directory, argv and exec
 * outcome, and reports the failures that will follow as findings, each with the chain of facts
 * behind it and a fix. Pure: the caller (api/explain.ts) reads the store, the pod file and the host.
 *
 * Structure: facts.ts resolves everything once (with src/identity, src/caps, src/perms,
 * src/idmap); rules/ holds one small named rule per finding code; explain.ts shapes the report;
 * render.ts prints it for people.
 */
export { explain } from './explain.js';
export { renderReport, formatIdLine } from './render.js';
export { FINDING_CODES, RULES, type Rule } from './rules/index.js';
export { engineProfile, chdirBehaviour, PROFILE_NAMES, type EngineProfile, type CriRuntime } from './profiles.js';
export { parseSecurityOpts, parseSubuidRange, parseUidRange, checkWorkdirFlag } from './input.js';
export type { ExplainInput, ExplainImage, ExplainImageConfig, ExplainPod, ExplainHost, RunFlags, SecurityOpts } from './input.js';
export type { ExplainReport, ExecOutcome, ReportCapabilities, ReportUser } from './report.js';
