/**
 * build/dockerfile/duration: Go's time.ParseDuration, which HEALTHCHECK's --interval, --timeout,
 * --start-period and --start-interval go through in BuildKit (instructions/parse.go
 * parseOptInterval). Pure.
 *
 * Grammar: an optional sign, then one or more `<number><unit>` (number `12`, `1.5`, `.5`, `5.`;
 * unit ns, us, µs (U+00B5), μs (U+03BC), ms, s, m, h); "0" alone needs no unit. Fractions are
 * scaled as Go does (`float64(f) * (unit / scale)`, truncated); a total beyond int64 is an error.
 */

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n,
  'μs': 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_INT64 = (1n << 63n) - 1n;

/** Nanoseconds as a bigint, or an error message (Go's wording) when `s` is not a duration. */
export function parseGoDuration(s: string): { ns: bigint } | { error: string } {
  const bad = { error: `time: invalid duration "${s}"` };
  let rest = s;
  let negative = false;
  if (rest !== '' && (rest[0] === '-' || rest[0] === '+')) {
    negative = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return { ns: 0n };
  if (rest === '') return bad;
  let total = 0n;
  while (rest !== '') {
    const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(rest)!;
    const whole = m[1];
    const frac = m[2];
    if (whole === '' && (frac === undefined || frac === '')) return bad;
    rest = rest.slice(m[0].length);
    const u = /^[^0-9.]*/.exec(rest)![0];
    if (u === '') return { error: `time: missing unit in duration "${s}"` };
    const unit = UNITS[u];
    if (unit === undefined) return { error: `time: unknown unit "${u}" in duration "${s}"` };
    rest = rest.slice(u.length);
    let v = BigInt(whole === '' ? '0' : whole) * unit;
    if (frac !== undefined && frac !== '') {
      // Go keeps at most the digits that fit an int64 and multiplies in floating point.
      let f = 0;
      let scale = 1;
      for (const d of frac) {
        if (f > Number.MAX_SAFE_INTEGER / 10) break;
        f = f * 10 + Number(d);
        scale *= 10;
      }
      v += BigInt(Math.trunc(f * (Number(unit) / scale)));
    }
    total += v;
    if (total > MAX_INT64) return bad;
  }
  return { ns: negative ? -total : total };
}
