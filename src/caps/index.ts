/**
 * caps/: Linux capabilities as data. The capability table and names, set algebra on 64-bit masks, engine
 * defaults and --cap-add/--cap-drop, the `security.capability` xattr (decode, encode, v1 widening), its
 * getcap/setcap text form, and the kernel's capability rules for exec and uid changes.
 *
 * Pure: no I/O, no ambient state. Sets that leave a function are bigint masks; name lists come out sorted.
 */
export { CAP, CAPS, CAP_LAST_CAP, CAP_MASK_BITS, capInfo, capNameOf } from './table.js';
export type { CapInfo, CapName, CapShortName } from './table.js';
export {
  ALL_CAPS,
  CAP_MASK_64,
  EMPTY_CAPS,
  capCount,
  capHas,
  capIntersect,
  capIsSubset,
  capMinus,
  capNumber,
  capNumbers,
  capSetFromMask,
  capSetFromNames,
  capSetToMask,
  capSetToNames,
  capUnion,
  caps,
  parseCapName,
} from './set.js';
export type { CapSet } from './set.js';
export { CAP_ENGINES, applyCapFlags, defaultCaps } from './defaults.js';
export type { CapEngine, CapFlagSemantics } from './defaults.js';
export {
  VFS_CAP_FLAGS_EFFECTIVE,
  VFS_CAP_REVISION_1,
  VFS_CAP_REVISION_2,
  VFS_CAP_REVISION_3,
  VFS_CAP_REVISION_MASK,
  XATTR_CAPS_SZ_1,
  XATTR_CAPS_SZ_2,
  XATTR_CAPS_SZ_3,
  decodeFileCaps,
  encodeFileCaps,
  validateFileCaps,
  widenV1,
} from './filecaps.js';
export type { FileCaps } from './filecaps.js';
export { fileCapsToText, parseFileCapsText } from './text.js';
export type { CapTextOptions, ParseCapTextOptions } from './text.js';
export { CAP_FS_SET, execveTransform, processCapsFor, setuidTransition } from './process.js';
export type {
  ExecFile,
  ExecProcess,
  ExecResult,
  ExecRule,
  IdTriple,
  ProcCaps,
  ProcessCapsInput,
  Securebits,
  SetuidCall,
  SetuidResult,
  SetuidRule,
  SetuidState,
} from './process.js';
