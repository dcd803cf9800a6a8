/**
 * explain/hostbounding: how `--cap-add` meets the bounding set of the process that starts the
 * container. A process can only drop from its bounding set (PR_CAPBSET_DROP; capabilities(7)), so
 * no child of berth can hold a capability berth's own bounding set lacks: runc's capset then
 * fails ("unable to apply caps: operation not permitted"). `run` and `explain` both decide here,
 * so the prediction and the refusal agree. Pure: the caller reads the set (CapBnd in
 * /proc/self/status).
 */
import { ALL_CAPS, capHas, capSetToNames, parseCapName, type CapSet } from '../caps/set.js';

export interface CapAddWithinBounding {
  /** The --cap-add list to apply: `ALL` replaced by the capabilities the host set holds (Docker-compatible). */
  add: string[];
  /** Capabilities named explicitly that the host set lacks (CAP_* names, sorted): the container cannot start. */
  missing: string[];
  /** When `ALL` was given and the host set lacks some: those (CAP_* names, sorted). */
  allNotHeld: string[];
}

/**
 * Fits `add` to `hostBounding`. An explicit name outside it is reported in `missing`; `ALL` means
 * every capability the host holds. Names must be valid (parseCapName throws E_CAP_UNKNOWN).
 * With a full host set the list comes back unchanged.
 */
export function capAddWithinBounding(add: readonly string[], hostBounding: CapSet): CapAddWithinBounding {
  const missing = new Set<string>();
  let hasAll = false;
  for (const a of add) {
    const name = parseCapName(a);
    if (name === 'ALL') hasAll = true;
    else if (!capHas(hostBounding, name)) missing.add(name);
  }
  const notHeld = ALL_CAPS & ~hostBounding;
  if (!hasAll || notHeld === 0n) return { add: [...add], missing: [...missing].sort(), allNotHeld: [] };
  const held = capSetToNames(ALL_CAPS & hostBounding);
  const rest = add.filter((a) => parseCapName(a) !== 'ALL');
  return { add: [...new Set([...held, ...rest])], missing: [...missing].sort(), allNotHeld: capSetToNames(notHeld) };
}
