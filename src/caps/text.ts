/**
 * The text form of file capabilities, as getcap prints and setcap parses it (libcap cap_to_text /
 * cap_from_text in libcap/cap_text.c, doc/cap_text_formats.7; layers-and-capabilities.md section 3).
 *
 * Output follows cap_to_text exactly so berth's output matches `getcap` character for character:
 *   - file caps load as I = fI, P = fP, E = (fI | fP) when the effective flag is set, else empty;
 *   - each named cap n < capMaxBits gets a state e(1) | p(2) | i(4); the most common state m wins, ties going
 *     to the lower state; the text starts "=" + flags(m) (flags in the order e, i, p);
 *   - for t from 7 down to 0 (skipping m and empty states): " " + comma-joined names, then "+" flags(t & ~m)
 *     if any, then "-" flags(m & ~t) if any. When the base is a bare "=", the first group drops it and uses
 *     "=" as its operator ("cap_net_raw=ep" rather than "= cap_net_raw+ep");
 *   - bits from capMaxBits to 63 are appended by number as " n,m+flags", states 7 down to 1.
 * capMaxBits is libcap's cap_max_bits(), the running kernel's capability count: CAP_LAST_CAP + 1 (41)
 * on Linux 5.9 and later.
 */
import { BerthError } from '../errors/index.js';
import { CAPS, CAP_LAST_CAP, CAP_MASK_BITS } from './table.js';
import type { CapSet } from './set.js';
import { validateFileCaps, type FileCaps } from './filecaps.js';

const EFF = 1;
const PER = 2;
const INH = 4;
const DEFAULT_MAX_BITS = CAP_LAST_CAP + 1;

export interface CapTextOptions {
  /** Append ` [rootid=N]` when the rootid is neither 0 nor 4294967295, as `getcap -n` does. */
  rootid?: boolean;
  /** libcap's cap_max_bits(): the kernel's capability count. Defaults to CAP_LAST_CAP + 1. */
  capMaxBits?: number;
}

function flagText(f: number): string {
  return (f & EFF ? 'e' : '') + (f & INH ? 'i' : '') + (f & PER ? 'p' : '');
}

function capName(n: number): string {
  return n <= CAP_LAST_CAP ? CAPS[n].textName : String(n);
}

/** Renders file capabilities exactly as getcap does (see the module comment). */
export function fileCapsToText(fc: FileCaps, opts: CapTextOptions = {}): string {
  validateFileCaps(fc);
  const cmb = maxBits(opts.capMaxBits);
  const P = fc.permitted;
  const I = fc.inheritable;
  const E = fc.effective ? P | I : 0n;
  const state = (n: number): number => {
    const b = 1n << BigInt(n);
    return (E & b ? EFF : 0) | (P & b ? PER : 0) | (I & b ? INH : 0);
  };

  const histo = new Array<number>(8).fill(0);
  for (let n = 0; n < cmb; n++) histo[state(n)]++;
  let m = 7;
  for (let t = 6; t >= 0; t--) if (histo[t] >= histo[m]) m = t;

  let out = '=' + flagText(m);
  let bareBase = m === 0;
  for (let t = 7; t >= 0; t--) {
    if (t === m || histo[t] === 0) continue;
    const names: string[] = [];
    for (let n = 0; n < cmb; n++) if (state(n) === t) names.push(capName(n));
    let group = names.join(',');
    const plus = t & ~m;
    if (plus) {
      if (bareBase) {
        // libcap: "= foo+eip" is printed as "foo=eip" (equivalent, shorter).
        out = '';
        bareBase = false;
        group += '=' + flagText(plus);
      } else {
        group += '+' + flagText(plus);
      }
    }
    const minus = m & ~t;
    if (minus) group += '-' + flagText(minus);
    out += (out === '' ? '' : ' ') + group;
  }

  for (let t = 7; t >= 1; t--) {
    const nums: string[] = [];
    for (let n = cmb; n < CAP_MASK_BITS; n++) if (state(n) === t) nums.push(String(n));
    if (nums.length > 0) out += ' ' + nums.join(',') + '+' + flagText(t);
  }

  if (opts.rootid && fc.rootid !== undefined && fc.rootid !== 0 && fc.rootid !== 0xffffffff) {
    // getcap prints rootid with %d: values above 2^31-1 appear negative.
    out += ` [rootid=${fc.rootid | 0}]`;
  }
  return out;
}

export interface ParseCapTextOptions {
  /** Like `setcap -n ROOTID`: a non-zero rootid makes a v3 value. A ` [rootid=N]` suffix in the text wins. */
  rootid?: number;
  capMaxBits?: number;
}

/**
 * Parses the setcap / cap_from_text form (`cap_net_raw+ep`, `cap_net_raw=ep`, `cap_a,cap_b+eip`, `=ep
 * cap_setuid-ep`, numbers such as `41+p`), optionally followed by getcap -n's ` [rootid=N]`, into the value
 * setcap would write (libcap cap_file.c _fcaps_save): the effective set must be empty or cover
 * permitted | inheritable; the result is v3 when the rootid is non-zero, else v2.
 * Malformed text -> E_FILECAP_TEXT_INVALID.
 */
export function parseFileCapsText(text: string, opts: ParseCapTextOptions = {}): FileCaps {
  let body = text;
  let rootid = opts.rootid ?? 0;
  const suffix = /\s*\[rootid=(-?\d+)\]\s*$/.exec(body);
  if (suffix) {
    const n = Number(suffix[1]);
    if (!Number.isInteger(n) || n < -0x80000000 || n > 0xffffffff) {
      throw textError(text, suffix.index, `rootid ${suffix[1]} is not a 32-bit uid`);
    }
    rootid = n >>> 0;
    body = body.slice(0, suffix.index);
  }
  const { e, p, i } = capFromText(body, text, maxBits(opts.capMaxBits));
  if (e !== 0n && (~e & (p | i)) !== 0n) {
    throw new BerthError(
      'E_FILECAP_TEXT_INVALID',
      `parse file capabilities "${text}": the effective set covers only part of the permitted and inheritable sets`,
      {
        hint: 'file capabilities have one effective flag: give every listed capability "e", or none (e.g. cap_net_raw+ep)',
      },
    );
  }
  if (!Number.isInteger(rootid) || rootid < 0 || rootid > 0xffffffff) {
    throw textError(text, 0, `rootid ${rootid} is not a 32-bit uid`);
  }
  const effective = e !== 0n;
  return rootid !== 0
    ? { version: 3, effective, permitted: p, inheritable: i, rootid }
    : { version: 2, effective, permitted: p, inheritable: i };
}

/** cap_from_text: clauses separated by white space; each is [list] op flags [op flags]... */
function capFromText(s: string, whole: string, cmb: number): { e: CapSet; p: CapSet; i: CapSet } {
  const named = (1n << BigInt(cmb)) - 1n;
  const sets = { e: 0n, p: 0n, i: 0n };
  let pos = 0;
  const at = (k: number): string => (k < s.length ? s[k] : '');
  const bad = (why: string): never => {
    throw textError(whole, pos, why);
  };

  for (;;) {
    while (isSpace(at(pos))) pos++;
    if (pos >= s.length) return sets;

    let list = 0n;
    let listed = false;
    if (isAlnum(at(pos)) || at(pos) === '_') {
      for (;;) {
        const allEnd = matchName(s, pos, 'all');
        if (allEnd >= 0) {
          pos = allEnd;
          list = named; // libcap forceall assigns the whole named range
        } else {
          const [n, end] = lookupName(s, pos, cmb);
          if (n < 0) bad(`unknown capability "${s.slice(pos).split(/[\s,=+-]/)[0]}"`);
          pos = end;
          list |= 1n << BigInt(n);
        }
        if (at(pos) !== ',') break;
        pos++;
        if (!isAlnum(at(pos)) && at(pos) !== '_') bad('a capability name must follow ","');
      }
      listed = true;
    } else if (at(pos) === '+' || at(pos) === '-') {
      bad('"+" and "-" need a list of capabilities before them');
    } else {
      list = named;
    }

    let op = at(pos);
    pos++;
    if (op === '=' && (at(pos) === '+' || at(pos) === '-')) {
      if (!listed) {
        pos--;
        bad('"=+" and "=-" need a list of capabilities before them');
      }
      op = at(pos) === '+' ? 'P' : 'M';
      pos++;
    } else if (op !== '+' && op !== '-' && op !== '=') {
      pos--;
      bad(op === '' ? 'expected "=", "+" or "-" after the capability list' : `unexpected "${op}"`);
    }

    let flags = 0;
    do {
      const c = at(pos);
      if (c !== '' && !isSpace(c)) {
        pos++;
        if (c === 'e') flags |= EFF;
        else if (c === 'i') flags |= INH;
        else if (c === 'p') flags |= PER;
        else {
          pos--;
          bad(`unexpected "${c}" (flags are e, i and p)`);
        }
      } else if (op !== '=') {
        bad(`"${op === 'P' || op === 'M' ? '=' : op}" must be followed by flags (e, i, p)`);
      }
      if (op === '=' || op === 'P' || op === 'M') {
        sets.e &= ~list;
        sets.p &= ~list;
        sets.i &= ~list;
      }
      if (op === '=' || op === 'P' || op === '+') {
        if (flags & EFF) sets.e |= list;
        if (flags & PER) sets.p |= list;
        if (flags & INH) sets.i |= list;
      } else {
        if (flags & EFF) sets.e &= ~list;
        if (flags & PER) sets.p &= ~list;
        if (flags & INH) sets.i &= ~list;
      }
      if (at(pos) === '+' || at(pos) === '-') {
        if (!listed) bad('"+" and "-" need a list of capabilities before them');
        flags = 0;
        op = at(pos);
        pos++;
        if (!isAlpha(at(pos))) bad(`"${op}" must be followed by flags (e, i, p)`);
      }
    } while (at(pos) !== '' && !isSpace(at(pos)));
  }
}

/** libcap namcmp: a case-insensitive prefix match that must end at a character that is not [A-Za-z0-9_]. */
function matchName(s: string, pos: number, name: string): number {
  for (let k = 0; k < name.length; k++) {
    if (s[pos + k] === undefined || s[pos + k].toLowerCase() !== name[k]) return -1;
  }
  const next = s[pos + name.length] ?? '';
  return isAlnum(next) || next === '_' ? -1 : pos + name.length;
}

/** libcap lookupname: a number (strtoul base 0, below 64) or a `cap_*` name known to the kernel. */
function lookupName(s: string, pos: number, cmb: number): [number, number] {
  if (isDigit(s[pos])) {
    const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(s.slice(pos))!;
    const tok = m[1];
    const n = tok.length > 1 && (tok[1] === 'x' || tok[1] === 'X') ? parseInt(tok.slice(2), 16) : tok[0] === '0' ? parseInt(tok, 8) : parseInt(tok, 10);
    return n < CAP_MASK_BITS ? [n, pos + tok.length] : [-1, pos];
  }
  const limit = Math.min(cmb, CAP_LAST_CAP + 1);
  for (let n = limit - 1; n >= 0; n--) {
    const end = matchName(s, pos, CAPS[n].textName);
    if (end >= 0) return [n, end];
  }
  return [-1, pos];
}

function maxBits(v: number | undefined): number {
  if (v === undefined) return DEFAULT_MAX_BITS;
  if (!Number.isInteger(v) || v < 1 || v > CAP_MASK_BITS) {
    throw new BerthError('E_CAP_MAX_BITS_INVALID', `use capMaxBits ${v}: not between 1 and ${CAP_MASK_BITS}`, {
      hint: 'pass the kernel\'s /proc/sys/kernel/cap_last_cap + 1',
    });
  }
  return v;
}

function textError(text: string, offset: number, reason: string): BerthError {
  return new BerthError('E_FILECAP_TEXT_INVALID', `parse file capabilities "${text}": ${reason} at offset ${offset}`, {
    hint: 'use the setcap form, e.g. cap_net_raw+ep, cap_net_raw=ep or cap_chown,cap_fowner+eip (names take the cap_ prefix)',
    details: { text, offset },
  });
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';
}
function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}
function isAlpha(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
function isAlnum(c: string): boolean {
  return isAlpha(c) || isDigit(c);
}
