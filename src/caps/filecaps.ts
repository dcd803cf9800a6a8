/**
 * The `security.capability` xattr value (`struct vfs_cap_data` / `vfs_ns_cap_data`), decoded and encoded.
 *
 * Layout (all little-endian u32; /usr/include/linux/capability.h, kernel security/commoncap.c
 * get_vfs_caps_from_disk, libcap cap_file.c _fcaps_load):
 *   v1 0x01000000, 12 bytes: magic_etc, permitted[0], inheritable[0]            (caps 0..31)
 *   v2 0x02000000, 20 bytes: magic_etc, p[0], i[0], p[1], i[1]                   (caps 0..63)
 *   v3 0x03000000, 24 bytes: the v2 layout, then rootid (the host uid of the namespace root that wrote it)
 * magic_etc = revision (top byte) | flags; only VFS_CAP_FLAGS_EFFECTIVE (bit 0) is defined. The kernel and
 * libcap ignore other flag bits, and so does decode: they do not survive decode -> encode, so callers that
 * need byte-exact values keep the original bytes.
 * A size that does not match the revision is rejected (the kernel refuses the exec with EINVAL).
 */
import { BerthError } from '../errors/index.js';
import type { CapSet } from './set.js';

export const VFS_CAP_REVISION_MASK = 0xff000000;
export const VFS_CAP_FLAGS_EFFECTIVE = 0x000001;
export const VFS_CAP_REVISION_1 = 0x01000000;
export const VFS_CAP_REVISION_2 = 0x02000000;
export const VFS_CAP_REVISION_3 = 0x03000000;
export const XATTR_CAPS_SZ_1 = 12;
export const XATTR_CAPS_SZ_2 = 20;
export const XATTR_CAPS_SZ_3 = 24;

export interface FileCaps {
  version: 1 | 2 | 3;
  /** The single effective flag: at exec, effective = the new permitted set (commoncap.c). */
  effective: boolean;
  /** Forced caps (fP). v1 carries only caps 0..31. */
  permitted: CapSet;
  /** Allowed-to-inherit caps (fI). */
  inheritable: CapSet;
  /** v3 only: host uid of the user-namespace root the value belongs to. */
  rootid?: number;
}

const U32 = 0xffffffffn;

/** Decodes a `security.capability` value. Wrong size or unknown revision -> E_FILECAP_INVALID. */
export function decodeFileCaps(value: Uint8Array): FileCaps {
  if (value.length < 4) {
    throw invalid(value, `${value.length} bytes is shorter than the 4-byte header`);
  }
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const magic = dv.getUint32(0, true);
  const revision = (magic & VFS_CAP_REVISION_MASK) >>> 0;
  const effective = (magic & VFS_CAP_FLAGS_EFFECTIVE) !== 0;
  const word = (i: number): bigint => BigInt(dv.getUint32(4 * i, true));
  switch (revision) {
    case VFS_CAP_REVISION_1:
      expectSize(value, 1, XATTR_CAPS_SZ_1);
      return { version: 1, effective, permitted: word(1), inheritable: word(2) };
    case VFS_CAP_REVISION_2:
      expectSize(value, 2, XATTR_CAPS_SZ_2);
      return { version: 2, effective, permitted: word(1) | (word(3) << 32n), inheritable: word(2) | (word(4) << 32n) };
    case VFS_CAP_REVISION_3:
      expectSize(value, 3, XATTR_CAPS_SZ_3);
      return {
        version: 3,
        effective,
        permitted: word(1) | (word(3) << 32n),
        inheritable: word(2) | (word(4) << 32n),
        rootid: dv.getUint32(20, true),
      };
    default:
      throw invalid(value, `unknown revision 0x${revision.toString(16).padStart(8, '0')} (expected 0x01000000, 0x02000000 or 0x03000000)`);
  }
}

/**
 * Encodes as v2 (20 bytes) or v3 (24 bytes); v1 is not offered because the kernel refuses to write it.
 * The version defaults to 3 for a v3 value and 2 otherwise. A v2 cannot carry a rootid: drop it
 * deliberately (only when it is the namespace root, see layers-and-capabilities.md section 3) or encode as v3.
 */
export function encodeFileCaps(fc: FileCaps, version: 2 | 3 = fc.version === 3 ? 3 : 2): Buffer {
  validateFileCaps(fc);
  if (version !== 2 && version !== 3) {
    throw new BerthError('E_FILECAP_INVALID', `encode security.capability: version ${String(version)} cannot be written`, {
      hint: 'encode as version 2, or 3 with a rootid; the kernel rejects v1 writes (widen with widenV1)',
    });
  }
  if (version === 2 && fc.rootid !== undefined && fc.rootid !== 0) {
    throw new BerthError('E_FILECAP_INVALID', `encode security.capability: a v2 value cannot carry rootid ${fc.rootid}`, {
      hint: 'encode as version 3, or remove the rootid first if it is the root of the namespace the image is for',
      details: { rootid: fc.rootid },
    });
  }
  const size = version === 3 ? XATTR_CAPS_SZ_3 : XATTR_CAPS_SZ_2;
  const out = Buffer.alloc(size);
  const revision = version === 3 ? VFS_CAP_REVISION_3 : VFS_CAP_REVISION_2;
  out.writeUInt32LE((revision | (fc.effective ? VFS_CAP_FLAGS_EFFECTIVE : 0)) >>> 0, 0);
  out.writeUInt32LE(Number(fc.permitted & U32), 4);
  out.writeUInt32LE(Number(fc.inheritable & U32), 8);
  out.writeUInt32LE(Number((fc.permitted >> 32n) & U32), 12);
  out.writeUInt32LE(Number((fc.inheritable >> 32n) & U32), 16);
  if (version === 3) out.writeUInt32LE(fc.rootid ?? 0, 20);
  return out;
}

/**
 * Returns a value the kernel accepts for writing: a v1 value becomes v2 with zero upper words and its flag
 * bits kept (the kernel rejects v1 writes with EINVAL but still honours v1 at exec); v2 and v3 values are
 * returned unchanged (as a copy). Invalid values throw E_FILECAP_INVALID.
 */
export function widenV1(value: Uint8Array): Buffer {
  const fc = decodeFileCaps(value);
  if (fc.version !== 1) return Buffer.from(value);
  const out = Buffer.alloc(XATTR_CAPS_SZ_2);
  const src = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const magic = src.readUInt32LE(0);
  out.writeUInt32LE(((magic & ~VFS_CAP_REVISION_MASK) | VFS_CAP_REVISION_2) >>> 0, 0);
  src.copy(out, 4, 4, 12);
  return out;
}

/** Throws E_FILECAP_INVALID when the sets do not fit the version (v1: 32 bits; v2/v3: 64) or rootid is not a u32. */
export function validateFileCaps(fc: FileCaps): void {
  if (fc.version !== 1 && fc.version !== 2 && fc.version !== 3) {
    throw new BerthError('E_FILECAP_INVALID', `check file capabilities: unknown version ${String(fc.version)}`, {
      hint: 'file capability versions are 1, 2 and 3',
    });
  }
  const limit = fc.version === 1 ? U32 : (1n << 64n) - 1n;
  for (const [what, set] of [
    ['permitted', fc.permitted],
    ['inheritable', fc.inheritable],
  ] as const) {
    if (typeof set !== 'bigint' || set < 0n || set > limit) {
      throw new BerthError('E_FILECAP_INVALID', `check file capabilities: ${what} set does not fit a v${fc.version} value`, {
        hint: fc.version === 1 ? 'v1 holds capabilities 0..31 only; use version 2' : 'capability sets are 64-bit masks',
      });
    }
  }
  if (fc.rootid !== undefined && (!Number.isInteger(fc.rootid) || fc.rootid < 0 || fc.rootid > 0xffffffff)) {
    throw new BerthError('E_FILECAP_INVALID', `check file capabilities: rootid ${fc.rootid} is not a 32-bit uid`, {
      hint: 'rootid is a host uid from 0 to 4294967295',
    });
  }
}

function expectSize(value: Uint8Array, version: number, size: number): void {
  if (value.length !== size) {
    throw invalid(value, `a v${version} value is ${size} bytes, this one is ${value.length}`);
  }
}

function invalid(value: Uint8Array, reason: string): BerthError {
  return new BerthError('E_FILECAP_INVALID', `decode security.capability: ${reason}`, {
    hint: 'the value is corrupt: the kernel refuses to exec such a file (EINVAL); remove the xattr or set it again with setcap',
    details: { hex: Buffer.from(value.buffer, value.byteOffset, Math.min(value.byteLength, 64)).toString('hex') },
  });
}
