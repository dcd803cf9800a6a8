// Shared by the benchmark scripts: the environment every timed command gets, running a command
// (throwing with its stderr), timing one, medians, the `--runs N` argument, the machine line, and
// writing the results file.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';

/**
 * The same small environment for every timed command: a login shell's settings must not count
 * (NODE_EXTRA_CA_CERTS alone makes every node start read a CA bundle).
 */
export const BENCH_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root' };

export function run(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 26, env: BENCH_ENV, ...opts });
  if (r.status !== 0) throw new Error(`failed (${r.status ?? r.signal}): ${argv.join(' ')}\n${r.stderr}`);
  return r.stdout;
}

/** Wall time of one command, in ms. */
export function timeOnce(argv) {
  const t0 = process.hrtime.bigint();
  run(argv);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function runsArg(argv, fallback) {
  const i = argv.indexOf('--runs');
  return i === -1 ? fallback : Number(argv[i + 1]);
}

export function machineLine() {
  return `${cpus().length} x ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, Node ${process.version}`;
}

export function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Prints the report and writes it to `<results dir>/<name>-<date>.md`. */
export function writeReport(repo, name, lines) {
  const text = `${lines.join('\n')}\n`;
  console.log(text);
  const dir = process.env.BERTH_BENCH_RESULTS ?? join(repo, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}-${new Date().toISOString().slice(0, 10)}.md`), text);
}
