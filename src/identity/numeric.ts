/**
 * identity/numeric: how the engines berth imitates read numbers and whitespace. They are written in
 * Go, so "is this a number?" means one of Go's strconv functions, each with its own answer for
 * `+1000`, `01000`, `-0`, `4294967295` or `1e3`, and "trimmed" means bytes.TrimSpace (Unicode
 * White_Space, which is not JavaScript's String.prototype.trim).
 *
 * Values are bigints so that int64 and uint64 results stay exact; callers convert after their own
 * range checks.
 */

/** Largest uid/gid moby/sys, containerd and runc accept (runc requires <= MaxInt32). */
export const MAX_ID = 2147483647;

/**
 * A Go strconv result. `syntax`: not a number of that form. `range`: a number of that form whose
 * value does not fit; `value` is what Go returns alongside the error (the clamped extreme).
 */
export type GoNumber =
  | { kind: 'ok'; value: bigint }
  | { kind: 'syntax'; value: 0n }
  | { kind: 'range'; value: bigint };

const SYNTAX: GoNumber = { kind: 'syntax', value: 0n };

/**
 * strconv.ParseUint(s, 10, bitSize). Digits only: no sign, no underscores, no spaces. The digit
 * loop returns a range error as soon as the value overflows, before it looks at later characters,
 * so `99999999999999999999x` is a range error while `1x` is a syntax error.
 */
export function goParseUint(s: string, bitSize: 32 | 64): GoNumber {
  if (s.length === 0) return SYNTAX;
  const max = (1n << BigInt(bitSize)) - 1n;
  let n = 0n;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return SYNTAX;
    n = n * 10n + BigInt(c - 0x30);
    if (n > max) return { kind: 'range', value: max };
  }
  return { kind: 'ok', value: n };
}

/**
 * strconv.ParseInt(s, 10, bitSize): an optional `+` or `-`, then ParseUint's digits. A uint64
 * overflow in the digits is reported as a range error like any other out-of-range value.
 */
export function goParseInt(s: string, bitSize: 32 | 64): GoNumber {
  if (s.length === 0) return SYNTAX;
  let neg = false;
  let digits = s;
  if (s[0] === '+' || s[0] === '-') {
    neg = s[0] === '-';
    digits = s.slice(1);
  }
  const u = goParseUint(digits, 64);
  if (u.kind === 'syntax') return SYNTAX;
  const cutoff = 1n << BigInt(bitSize - 1);
  if (u.kind === 'range') return { kind: 'range', value: neg ? -cutoff : cutoff - 1n };
  if (!neg && u.value >= cutoff) return { kind: 'range', value: cutoff - 1n };
  if (neg && u.value > cutoff) return { kind: 'range', value: -cutoff };
  return { kind: 'ok', value: neg ? -u.value : u.value };
}

/** strconv.Atoi on a 64-bit host: ParseInt(s, 10, 64). `+1000`, `01000` and `-0` are numbers. */
export function goAtoi(s: string): GoNumber {
  return goParseInt(s, 64);
}

/**
 * What `x, _ = strconv.Atoi(s)` stores, as moby/sys's field parser does: 0 for text that is not a
 * number, the clamped int64 extreme for one that does not fit (so `99999999999999999999` is
 * 9223372036854775807, not 0).
 */
export function goAtoiLenient(s: string): bigint {
  return goAtoi(s).value;
}

/**
 * goAtoiLenient as a JavaScript number, with a fast path for the short decimal fields user
 * databases are made of (exact: at most 15 digits stay below 2^53).
 */
export function goAtoiLenientNumber(s: string): number {
  const len = s.length;
  if (len > 0 && len <= 15) {
    let i = 0;
    let neg = false;
    const c0 = s.charCodeAt(0);
    if (c0 === 0x2b || c0 === 0x2d) {
      neg = c0 === 0x2d;
      i = 1;
    }
    if (i < len) {
      let n = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x30 || c > 0x39) return 0;
        n = n * 10 + (c - 0x30);
      }
      if (n === 0) return 0;
      return neg ? -n : n;
    }
  }
  return Number(goAtoiLenient(s));
}

/** Converts a Go integer to a JavaScript number. Exact for |v| <= 2^53; all valid IDs are. */
export function toNumber(v: bigint): number {
  return Number(v);
}

/** Go's uint32(x) conversion of an int: keeps the low 32 bits. */
export function goUint32(v: bigint): number {
  return Number(BigInt.asUintN(32, v));
}

/** True when 0 <= v <= MAX_ID (moby/sys parseNumeric, containerd WithUser). */
export function inIdRange(v: bigint | number): boolean {
  const b = typeof v === 'bigint' ? v : BigInt(v);
  return b >= 0n && b <= BigInt(MAX_ID);
}

/**
 * unicode.IsSpace, which bytes.TrimSpace and strings.TrimSpace use: the ASCII spaces, U+0085,
 * U+00A0 and the other White_Space code points. Unlike String.prototype.trim it keeps U+FEFF (a
 * byte order mark stays part of the first name in the file) and strips U+0085.
 */
export function isGoSpace(code: number): boolean {
  switch (code) {
    case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x20:
    case 0x85: case 0xa0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
      return true;
    default:
      return code >= 0x2000 && code <= 0x200a;
  }
}

/** bytes.TrimSpace / strings.TrimSpace. */
export function goTrimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isGoSpace(s.charCodeAt(start))) start++;
  while (end > start && isGoSpace(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * strconv.Quote for the messages that embed it (`parsing "x": invalid syntax`). Printable text is
 * kept; quotes, backslashes and control characters are escaped the way Go escapes them.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** The text of a *strconv.NumError: `strconv.Atoi: parsing "x": invalid syntax`. */
export function goNumErrorText(fn: 'Atoi' | 'ParseInt' | 'ParseUint', s: string, kind: 'syntax' | 'range'): string {
  return `strconv.${fn}: parsing ${goQuote(s)}: ${kind === 'syntax' ? 'invalid syntax' : 'value out of range'}`;
}
