/**
 * The one check of a SpecInputs object before any step runs: unknown keys (a typo such as
 * `capsAdd` would otherwise be ignored), contradictory pairs, and members whose shape no step can
 * use. Messages name the member.
 */
import { BerthError } from '../../errors/index.js';
import type { SpecInputs } from './types.js';

/** Every member SpecInputs has; anything else is refused. */
export const SPEC_INPUT_KEYS: readonly (keyof SpecInputs)[] = Object.freeze([
  'image',
  'identity',
  'containerId',
  'hostname',
  'hostHostname',
  'entrypoint',
  'cmd',
  'args',
  'env',
  'hostEnv',
  'workdir',
  'tty',
  'capAdd',
  'capDrop',
  'noNewPrivileges',
  'readOnly',
  'network',
  'volumes',
  'sysctls',
  'userns',
  'namespace',
  'hostRlimits',
  'rlimits',
  'recursiveReadOnly',
  'cgroupns',
  'rootfsPath',
  'extraMaskedPaths',
  'annotations',
] as const);

function inputError(reason: string, hint: string, details?: Record<string, unknown>): BerthError {
  return new BerthError('E_SPEC_INPUT', `build config.json: ${reason}`, { hint, details });
}

/** runc's container ID alphabet (libcontainer `idRegex`). */
const CONTAINER_ID = /^[\w+.-]+$/;

export function checkInputs(inputs: SpecInputs): void {
  if (typeof inputs !== 'object' || inputs === null) throw inputError('the inputs are not an object', 'pass a SpecInputs object');
  const known = new Set<string>(SPEC_INPUT_KEYS);
  const unknown = Object.keys(inputs).filter((k) => !known.has(k)).sort();
  if (unknown.length > 0) {
    throw inputError(`unknown input "${unknown[0]}"`, `valid inputs: ${SPEC_INPUT_KEYS.join(', ')}`, { unknown });
  }
  for (const k of ['image', 'identity', 'hostRlimits'] as const) {
    if (typeof inputs[k] !== 'object' || inputs[k] === null) throw inputError(`input "${k}" is required`, `pass ${k}`);
  }
  if (typeof inputs.containerId !== 'string' || !CONTAINER_ID.test(inputs.containerId)) {
    throw inputError(`containerId "${String(inputs.containerId)}" is not a container ID (letters, digits, _ + . -)`, 'pass the 64-hex-digit ID berth generated', {
      containerId: inputs.containerId,
    });
  }
  if (inputs.args !== undefined && (inputs.entrypoint !== undefined || inputs.cmd !== undefined)) {
    throw inputError('"args" and "entrypoint"/"cmd" were both given', 'pass either resolved args, or the entrypoint and command words to resolve');
  }
  if (inputs.network !== undefined && inputs.network !== 'none' && inputs.network !== 'host') {
    throw inputError(`network "${String(inputs.network)}" is not supported`, 'berth supports --network none (the default) and --network host', {
      network: inputs.network,
    });
  }
  const lists = ['cmd', 'args', 'env', 'capAdd', 'capDrop', 'volumes', 'sysctls', 'rlimits', 'extraMaskedPaths'] as const;
  for (const k of lists) {
    if (inputs[k] !== undefined && !Array.isArray(inputs[k])) throw inputError(`input "${k}" is not a list`, `pass ${k} as an array`);
  }
}
