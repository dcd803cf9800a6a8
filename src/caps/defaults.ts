/**
 * Default capability sets per engine, and `--cap-add` / `--cap-drop` as each engine applies them.
 */
import { BerthError } from '../errors/index.js';
import { ALL_CAPS, capSetFromNames, capSetToNames, capUnion, parseCapName, type CapSet } from './set.js';

export type CapEngine = 'docker' | 'containerd' | 'podman' | 'cri-o';

/**
 * The default bounding set (and, for uid 0, the permitted and effective set):
 * - docker: moby `oci/caps/defaults.go` DefaultCapabilities (14);
 * - containerd: `pkg/oci/spec.go` defaultUnixCaps, the same 14;
 * - podman: containers/common `pkg/config/default.go` DefaultCapabilities (11; no NET_RAW, MKNOD, AUDIT_WRITE
 *   since "Rework default list of capabilities to minimal", 2022-12);
 * - cri-o: `internal/config/capabilities/capabilities_linux.go` (9).
 * Kubernetes has no default of its own: the CRI runtime's applies.
 */
const DEFAULTS: Record<CapEngine, readonly string[]> = {
  docker: [
    'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID',
    'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
  ],
  containerd: [
    'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID',
    'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
  ],
  podman: [
    'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'NET_BIND_SERVICE',
    'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
  ],
  'cri-o': ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'SETGID', 'SETUID', 'SETPCAP', 'NET_BIND_SERVICE', 'KILL'],
};

export const CAP_ENGINES: readonly CapEngine[] = ['docker', 'containerd', 'podman', 'cri-o'];

export function defaultCaps(engine: CapEngine): CapSet {
  const list = DEFAULTS[engine];
  if (!list) {
    throw new BerthError('E_CAP_ENGINE_UNKNOWN', `default capabilities for "${String(engine)}": unknown engine`, {
      hint: `use one of ${CAP_ENGINES.join(', ')}`,
    });
  }
  return capSetFromNames(list);
}

/**
 * How add and drop lists combine:
 * - `docker` (moby `oci/caps/utils.go` TweakCapabilities): add ALL -> every capability minus the drops;
 *   else drop ALL -> exactly the adds; else (base - drops) + adds, so a capability both added and dropped
 *   stays.
 * - `podman` (containers/common `pkg/capabilities` MergeCapabilities): drop ALL -> exactly the adds; add ALL
 *   -> every capability minus the drops; add ALL with drop ALL, or one capability both added and dropped,
 *   is an error.
 * - `cri` (containerd CRI and CRI-O for Kubernetes securityContext.capabilities): start from the base,
 *   add ALL -> every capability, drop ALL -> none, then add each, then drop each, so a drop wins.
 */
export type CapFlagSemantics = 'docker' | 'podman' | 'cri';

/** Applies `--cap-add` / `--cap-drop` lists to a base set. Names as parseCapName accepts; unknown -> E_CAP_UNKNOWN. */
export function applyCapFlags(
  base: CapSet,
  add: readonly string[],
  drop: readonly string[],
  semantics: CapFlagSemantics = 'docker',
): CapSet {
  capUnion(base); // validates the mask
  const addAll = add.some((a) => parseCapName(a) === 'ALL');
  const dropAll = drop.some((d) => parseCapName(d) === 'ALL');
  const adds = capSetFromNames(add.filter((a) => parseCapName(a) !== 'ALL'));
  const drops = capSetFromNames(drop.filter((d) => parseCapName(d) !== 'ALL'));

  switch (semantics) {
    case 'docker':
      if (add.length === 0 && drop.length === 0) return base;
      if (addAll) return ALL_CAPS & ~drops;
      if (dropAll) return adds;
      return (base & ~drops) | adds;
    case 'podman': {
      if (add.length === 0 && drop.length === 0) return base;
      if (dropAll && addAll) {
        throw flagConflict('adding all capabilities and dropping all capabilities together is not allowed', 'ALL');
      }
      if (dropAll) return adds;
      if (addAll) return ALL_CAPS & ~drops;
      const both = adds & drops;
      if (both !== 0n) {
        throw flagConflict(`capability ${capSetToNames(both)[0]} cannot be dropped and added`, capSetToNames(both)[0]);
      }
      return (base & ~drops) | adds;
    }
    case 'cri': {
      let set = base;
      if (addAll) set = ALL_CAPS;
      if (dropAll) set = 0n;
      return (set | adds) & ~drops;
    }
    default:
      throw new BerthError('E_CAP_FLAGS_INVALID', `apply capability flags: unknown semantics "${String(semantics)}"`, {
        hint: 'use docker, podman or cri',
      });
  }
}

function flagConflict(reason: string, cap: string): BerthError {
  return new BerthError('E_CAP_FLAGS_CONFLICT', `apply capability flags: ${reason}`, {
    hint: 'remove the capability from either --cap-add or --cap-drop (podman refuses both)',
    details: { capability: cap },
  });
}
