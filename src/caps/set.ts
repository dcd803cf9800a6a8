/**
 * Capability sets as 64-bit masks (bit n = capability n), names, and the hex form /proc prints.
 *
 * A CapSet is a plain bigint so sets compare with `===` and serialise without a class. Every function
 * here keeps values inside the 64 bits the kernel ABI has; bits above CAP_LAST_CAP are kept (a newer
 * kernel may report them) and shown by number.
 */
import { BerthError } from '../errors/index.js';
import { CAPS, CAP_LAST_CAP, CAP_MASK_BITS, capInfo, type CapName } from './table.js';

/** Bit n set = capability n in the set. Always 0 <= value < 2^64. */
export type CapSet = bigint;

export const EMPTY_CAPS: CapSet = 0n;
/** Every capability this table names: 0..CAP_LAST_CAP (`000001ffffffffff` with CAP_LAST_CAP 40). */
export const ALL_CAPS: CapSet = (1n << BigInt(CAP_LAST_CAP + 1)) - 1n;
/** The 64-bit universe of the kernel ABI. */
export const CAP_MASK_64: CapSet = (1n << BigInt(CAP_MASK_BITS)) - 1n;

/**
 * Parses one capability name as Docker, podman and the OCI spec accept it: `NET_RAW`, `CAP_NET_RAW`,
 * `cap_net_raw` (any case), or `ALL`. Numbers are not names here (Docker and podman reject them too).
 */
export function parseCapName(s: string): CapName | 'ALL' {
  const upper = s.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const name = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  const info = capInfo(name);
  if (info) return info.name;
  const near = nearNames(name.slice(4));
  throw new BerthError('E_CAP_UNKNOWN', `parse capability "${s}": unknown capability name`, {
    hint:
      (near.length > 0 ? `did you mean ${near.join(' or ')}? ` : '') +
      'Capability names are those of capabilities(7) (e.g. NET_RAW or CAP_NET_RAW, any case), or ALL',
    details: { input: s, suggestions: near },
  });
}

/** The number of a capability given by name (as parseCapName accepts) or by number. */
export function capNumber(cap: string | number): number {
  if (typeof cap === 'number') {
    if (!Number.isInteger(cap) || cap < 0 || cap >= CAP_MASK_BITS) {
      throw new BerthError('E_CAP_UNKNOWN', `parse capability ${cap}: not a capability number (0..${CAP_MASK_BITS - 1})`, {
        hint: `use a number from 0 to ${CAP_LAST_CAP}, or a name such as CAP_NET_RAW`,
      });
    }
    return cap;
  }
  const name = parseCapName(cap);
  if (name === 'ALL') {
    throw new BerthError('E_CAP_UNKNOWN', `parse capability "${cap}": ALL names a set, not one capability`, {
      hint: 'name a single capability here, e.g. CAP_NET_RAW',
    });
  }
  return capInfo(name)!.number;
}

/** A set from names (`ALL` allowed) or numbers. Throws E_CAP_UNKNOWN on the first unknown name. */
export function capSetFromNames(names: Iterable<string | number>): CapSet {
  let set = 0n;
  for (const n of names) {
    if (typeof n === 'string' && parseCapName(n) === 'ALL') set |= ALL_CAPS;
    else set |= 1n << BigInt(capNumber(n));
  }
  return set;
}

/** Shorthand: `caps('NET_RAW', 'CAP_CHOWN')`. */
export function caps(...names: (string | number)[]): CapSet {
  return capSetFromNames(names);
}

/** The numbers in a set, ascending. */
export function capNumbers(set: CapSet): number[] {
  checkSet(set);
  const out: number[] = [];
  for (let n = 0; n < CAP_MASK_BITS; n++) if ((set >> BigInt(n)) & 1n) out.push(n);
  return out;
}

/**
 * The set's names, sorted alphabetically (the order podman and `docker inspect` show). Bits with no
 * name (above CAP_LAST_CAP) follow as decimal strings in number order, as libcap's cap_to_name does,
 * so nothing in the set is hidden.
 */
export function capSetToNames(set: CapSet): string[] {
  const nums = capNumbers(set);
  const named = nums.filter((n) => n <= CAP_LAST_CAP).map((n) => CAPS[n].name as string);
  named.sort();
  return [...named, ...nums.filter((n) => n > CAP_LAST_CAP).map(String)];
}

export function capUnion(...sets: CapSet[]): CapSet {
  let out = 0n;
  for (const s of sets) out |= checkSet(s);
  return out;
}

export function capIntersect(a: CapSet, b: CapSet): CapSet {
  return checkSet(a) & checkSet(b);
}

/** a without b. */
export function capMinus(a: CapSet, b: CapSet): CapSet {
  return checkSet(a) & ~checkSet(b);
}

export function capHas(set: CapSet, cap: string | number): boolean {
  return ((checkSet(set) >> BigInt(capNumber(cap))) & 1n) === 1n;
}

/** Every member of a is in b. */
export function capIsSubset(a: CapSet, b: CapSet): boolean {
  return (checkSet(a) & ~checkSet(b)) === 0n;
}

export function capCount(set: CapSet): number {
  return capNumbers(set).length;
}

/** The 16-hex-digit form /proc/PID/status prints for CapInh/CapPrm/CapEff/CapBnd/CapAmb. */
export function capSetToMask(set: CapSet): string {
  return checkSet(set).toString(16).padStart(16, '0');
}

/** Parses the /proc/PID/status hex form (1 to 16 hex digits, any case, optional 0x). */
export function capSetFromMask(hex: string): CapSet {
  const t = hex.trim();
  const digits = t.startsWith('0x') || t.startsWith('0X') ? t.slice(2) : t;
  if (!/^[0-9a-fA-F]{1,16}$/.test(digits)) {
    throw new BerthError('E_CAP_MASK_INVALID', `parse capability mask "${hex}": expected 1 to 16 hex digits`, {
      hint: 'pass the value of a Cap*: line of /proc/PID/status, e.g. 000001ffffffffff',
    });
  }
  return BigInt(`0x${digits}`);
}

function checkSet(s: CapSet): CapSet {
  if (typeof s !== 'bigint' || s < 0n || s > CAP_MASK_64) {
    throw new BerthError('E_CAP_SET_INVALID', `use capability set ${String(s)}: not a 64-bit mask`, {
      hint: 'build sets with caps(), capSetFromNames() or capSetFromMask()',
    });
  }
  return s;
}

/** Known short names within a small edit distance of the input, or containing it. */
function nearNames(short: string): string[] {
  const scored: { name: string; d: number }[] = [];
  for (const c of CAPS) {
    const cand = c.name.slice(4);
    const d = short.length >= 3 && cand.includes(short) ? 1 : editDistance(short, cand);
    if (d <= Math.max(2, Math.floor(cand.length / 3))) scored.push({ name: c.name, d });
  }
  scored.sort((a, b) => a.d - b.d || (a.name < b.name ? -1 : 1));
  return scored.slice(0, 3).map((s) => s.name);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
