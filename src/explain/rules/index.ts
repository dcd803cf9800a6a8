/**
 * explain/rules/: one small named rule per finding code, each a pure function of the resolved
 * facts. The order here is the order rules run; the report sorts findings by severity.
 */
import type { Rule } from './common.js';
import { EXEC_RULES } from './exec.js';
import { IDENTITY_RULES } from './identity.js';
import { IMAGE_RULES } from './image.js';
import { WORKDIR_RULES } from './workdir.js';

export type { Rule } from './common.js';

export const RULES: readonly Rule[] = [...IDENTITY_RULES, ...WORKDIR_RULES, ...EXEC_RULES, ...IMAGE_RULES];

/** Every finding code explain can report, sorted. */
export const FINDING_CODES: readonly string[] = RULES.map((r) => r.code).sort();
