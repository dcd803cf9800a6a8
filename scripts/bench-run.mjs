#!/usr/bin/env node
// `berth run` benchmarks, in one run, berth and its peer alternating, medians and ratios:
//   1. `berth run --rm IMAGE true` vs `podman --runtime runc run --rm --network none --ulimit ...`
//      on the same image (podman loads it from `berth save`), rootful and rootless;
//   2. the library's run() called in-process vs bare `runc run` on a prepared bundle;
//   3. where `berth run` spends its time: a trace of one CLI run split into phases.
// Needs root (the fixture has owners and a file capability; the rootless rows switch to the test
// user `berthtest`, which scripts/test.mjs creates), runc, and podman for the first comparison.
// Usage: node scripts/bench-run.mjs [--runs N] [case...]   (after `npm run build`)
// Results are printed as markdown and written to bench/results/run-<date>.md ($BERTH_BENCH_RESULTS
// names another directory).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeBusyboxRootfs } from './fixtures.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** The CLI and library measured; overridable to measure another build of the same tree. */
const CLI = process.env.BERTH_BENCH_CLI ?? join(REPO, 'dist/bundle/main.js');
const LIB = process.env.BERTH_BENCH_LIB ?? join(REPO, 'dist/src/index.js');
const SCRATCH = process.env.BERTH_BENCH_DIR ?? '/dev/shm';
const TEST_USER = 'berthtest';
const IMAGE = 'bench/busybox:1';

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function userIds(name) {
  const u = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  const home = spawnSync('getent', ['passwd', name], { encoding: 'utf8' }).stdout.split(':')[5];
  return u.status === 0 ? { uid: Number(u.stdout), gid: Number(g.stdout), home } : undefined;
}

/** argv prefix that runs a command as the test user with its groups and a clean environment. */
const AS_TEST_USER = ['setpriv', '--reuid', TEST_USER, '--regid', TEST_USER, '--init-groups', '--reset-env'];

/** Runs argv, throws with its stderr when it fails; returns stdout. */
function run(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  if (r.status !== 0) throw new Error(`failed (${r.status ?? r.signal}): ${argv.join(' ')}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Every timed command gets the same small environment (what `setpriv --reset-env` gives the
 * rootless rows), so a login shell's settings do not count: NODE_EXTRA_CA_CERTS alone, for one,
 * makes every node start read a CA bundle (about 70 ms here).
 */
const BENCH_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', USER: 'root', LOGNAME: 'root' };

/** Wall time of one command in ms (spawned directly, no shell). */
function timeOnce(argv) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: BENCH_ENV });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`benchmark command failed (${r.status ?? r.signal}): ${argv.join(' ')}\n${r.stderr}`);
  return ms;
}

// ---------------------------------------------------------------------------------------------
// In-process mode: `node bench-run.mjs --inproc CONFIG.json` (run as root or as the test user)
// alternates the library's run() with `runc run` on a prepared bundle, from the same process, and
// prints the times as JSON.
if (process.argv[2] === '--inproc') {
  const cfg = JSON.parse(readFileSync(process.argv[3], 'utf8'));
  const { run: berthRun } = await import(pathToFileURL(cfg.lib).href);
  const runc = (i) => ['runc', ...(cfg.runcGlobal ?? []), '--root', cfg.runcState, 'run', '--bundle', cfg.bundle, `bench-${process.pid}-${i}`];
  const b = [];
  const p = [];
  for (let i = -1; i < cfg.runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = await berthRun({ root: cfg.store, image: cfg.image, cmd: ['true'], rm: true, stdio: 'pipe' });
    const t1 = process.hrtime.bigint();
    if (r.exitCode !== 0) throw new Error(`run() exited ${r.exitCode}: ${r.stderr?.toString()}`);
    const argv = runc(i);
    const s = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    const t2 = process.hrtime.bigint();
    if (s.status !== 0) throw new Error(`runc run failed (${s.status}): ${s.stderr}`);
    if (i >= 0) {
      b.push(Number(t1 - t0) / 1e6);
      p.push(Number(t2 - t1) / 1e6);
    }
  }
  process.stdout.write(JSON.stringify({ berth: b, peer: p }));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Phase trace: a preload module that timestamps process start, every child spawn and exit, and a
// `runc` shim first in PATH that timestamps the runtime's start and end.

const TRACE_MODULE = `
import cp from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import fs, { writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
const now = () => performance.timeOrigin + performance.now();
const events = [['node started', performance.timeOrigin], ['preload', now()]];
for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync']) {
  const orig = cp[name];
  cp[name] = function (file, args, ...rest) {
    events.push(['spawn ' + [file, ...(Array.isArray(args) ? args.slice(0, 2) : [])].join(' '), now()]);
    return orig.call(this, file, args, ...rest);
  };
}
// The first touch of the store and the write of config.json split berth's own work in three.
const store = process.env.BERTH_BENCH_STORE;
const seen = new Set();
const mark = (what, path) => {
  const p = String(path);
  const key = p.startsWith(store) ? (p.endsWith('config.json') ? 'config.json written' : 'store first opened') : undefined;
  if (key && !seen.has(key) && (key !== 'config.json written' || what.startsWith('write'))) {
    seen.add(key);
    events.push([key, now()]);
  }
};
for (const mod of [fs, fsp]) {
  for (const name of ['open', 'openSync', 'opendir', 'opendirSync', 'readFile', 'readFileSync', 'writeFile', 'writeFileSync', 'stat', 'statSync', 'lstat', 'lstatSync', 'access', 'accessSync', 'existsSync', 'realpath', 'realpathSync', 'readdir', 'readdirSync', 'mkdir', 'mkdirSync']) {
    const orig = mod[name];
    if (typeof orig !== 'function') continue;
    mod[name] = function (path, ...rest) {
      mark(name, path);
      return orig.call(this, path, ...rest);
    };
  }
}
syncBuiltinESMExports();
process.on('exit', () => {
  events.push(['exit', now()]);
  writeFileSync(process.env.BERTH_BENCH_TRACE, JSON.stringify(events));
});
`;

function runcShim(log) {
  const real = run(['sh', '-c', 'command -v runc']).trim();
  return `#!/bin/sh
t0=$(date +%s%N)
${real} "$@"
rc=$?
echo "$t0 $(date +%s%N) $*" >> '${log}'
exit $rc
`;
}

/**
 * One traced `berth run --rm IMAGE true`: phases in ms. The runtime's interval comes from the
 * shim (its `run` invocation), everything else from the preload's timestamps.
 */
function tracedRun({ prefix, env, store, traceFile, runcLog }) {
  rmSync(traceFile, { force: true });
  rmSync(runcLog, { force: true });
  const t0 = Date.now();
  const argv = [...prefix, 'env', '-i', `PATH=${env.PATH}`, `BERTH_BENCH_TRACE=${traceFile}`, `BERTH_BENCH_STORE=${store}`, ...(env.HOME ? [`HOME=${env.HOME}`] : []), process.execPath, '--import', pathToFileURL(env.TRACE_MODULE).href, CLI, '--root', store, 'run', '--rm', IMAGE, 'true'];
  run(argv, { env: BENCH_ENV });
  const end = Date.now();
  const events = JSON.parse(readFileSync(traceFile, 'utf8'));
  const at = (pred) => events.find(([name]) => pred(name))?.[1];
  const runcLines = readFileSync(runcLog, 'utf8').trim().split('\n').map((l) => l.split(' '));
  const runcRun = runcLines.find((f) => f.slice(2).includes('run'));
  if (!runcRun) throw new Error(`no runc run in the shim log: ${runcLines.join('\n')}`);
  const runcStart = Number(runcRun[0]) / 1e6;
  const runcEnd = Number(runcRun[1]) / 1e6;
  const nodeStart = at((n) => n === 'node started');
  const preload = at((n) => n === 'preload');
  // The payload is the last child started before the runtime: `unshare --mount` (rootful) or the
  // holder's `unshare --user` (rootless).
  const spawns = events.filter(([n, t]) => n.startsWith('spawn ') && t <= runcStart);
  const payload = [...spawns].reverse().find(([n]) => n.includes('unshare'))?.[1] ?? runcStart;
  const exit = at((n) => n === 'exit');
  const storeOpened = at((n) => n === 'store first opened') ?? preload;
  const configWritten = at((n) => n === 'config.json written') ?? storeOpened;
  return {
    'node startup (exec of node to its first line)': preload - nodeStart,
    'CLI and command load, host facts (up to the first store access)': storeOpened - preload,
    'store open, image and user files, identity, spec (up to config.json written)': configWritten - storeOpened,
    'container record, cached rootfs lookup, bundle (up to the payload spawn)': payload - configWritten,
    'namespace setup and overlay mount (unshare, newuidmap/newgidmap, mount) up to runc': runcStart - payload,
    'runc run (create, start, wait, delete the container)': runcEnd - runcStart,
    'after runc: status, cleanup, exit': exit - runcEnd,
    'total (wall, as measured outside)': end - t0,
    _spawns: spawns.map(([n, t]) => `${(t - preload).toFixed(1)} ms ${n}`),
  };
}

// ---------------------------------------------------------------------------------------------

const args = process.argv.slice(2);
const runsArg = args.indexOf('--runs');
const RUNS = runsArg === -1 ? 10 : Number(args[runsArg + 1]);
const only = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--runs');
const wanted = (name) => only.length === 0 || only.some((o) => name.includes(o));

if (process.geteuid() !== 0) {
  console.error('bench-run: needs root (the fixture has owners and a file capability; rootless rows switch to the test user)');
  process.exit(2);
}
for (const f of [CLI, LIB]) if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` first`);

const results = [];
const phaseTables = [];

/** Runs berth and the peer alternately RUNS times each, after one warm-up each. */
function compare(name, { berth, peer, peerName, target }) {
  if (!wanted(name)) return;
  const b = [];
  const p = [];
  for (let i = -1; i < RUNS; i++) {
    const tb = timeOnce(berth);
    const tp = timeOnce(peer);
    if (i >= 0) {
      b.push(tb);
      p.push(tp);
    }
  }
  const row = { name, peerName, berth: median(b), peer: median(p), target };
  row.ratio = row.berth / row.peer;
  results.push(row);
  console.error(`${name}: berth ${row.berth.toFixed(0)} ms, ${peerName} ${row.peer.toFixed(0)} ms, ratio ${row.ratio.toFixed(2)} (target ${target})`);
}

const testUser = userIds(TEST_USER);
const hasPodman = have('podman');
const work = mkdtempSync(join(SCRATCH, 'berth-bench-run-'));
chmodSync(work, 0o711);
const rl = join(work, 'rootless');
const cleanups = [];
try {
  const rootfs = makeBusyboxRootfs(join(work, 'rootfs'));
  const store = join(work, 'store');
  const berthCli = (...a) => [process.execPath, CLI, '--root', store, ...a];
  run(berthCli('import', '--change', 'CMD ["/bin/sh"]', rootfs, IMAGE));
  const archive = join(work, 'image.tar');
  run(berthCli('save', '-o', archive, IMAGE));
  chmodSync(archive, 0o644);

  // Podman's storage is its own, under the scratch directory, so the host's is not touched.
  // podman refuses a --runroot longer than 50 characters: those live in a short directory of their own.
  const runroots = mkdtempSync(join(SCRATCH, 'bp-'));
  chmodSync(runroots, 0o711);
  cleanups.push(() => rmSync(runroots, { recursive: true, force: true }));
  const runrootOf = (dir) => join(runroots, dir === work ? 'r' : 'u');
  const podman = (dir) => ['podman', '--root', join(dir, 'podman'), '--runroot', runrootOf(dir), '--storage-driver', 'overlay'];
  const podmanRun = (dir) => [...podman(dir), '--runtime', 'runc', 'run', '--rm', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1000:1000', IMAGE, 'true'];

  if (testUser) {
    mkdirSync(runrootOf(rl));
    chownSync(runrootOf(rl), testUser.uid, testUser.gid);
    mkdirSync(rl);
    chownSync(rl, testUser.uid, testUser.gid);
    chownSync(archive, testUser.uid, testUser.gid);
  }
  const rlStore = join(rl, 'store');
  const asUser = (argv) => [...AS_TEST_USER, ...argv];
  if (testUser) run(asUser([process.execPath, CLI, '--root', rlStore, 'load', '-i', archive]));

  // 1. CLI: berth run vs podman run.
  if (hasPodman) {
    run([...podman(work), 'load', '-i', archive]);
    cleanups.push(() => spawnSync(podman(work)[0], [...podman(work).slice(1), 'system', 'reset', '--force'], { stdio: 'ignore' }));
    compare('run --rm IMAGE true, rootful', {
      berth: berthCli('run', '--rm', IMAGE, 'true'),
      peer: podmanRun(work),
      peerName: 'podman --runtime runc run --rm --network none',
      target: '<= 0.75',
    });
    if (testUser) {
      run(asUser([...podman(rl), 'load', '-i', archive]));
      cleanups.push(() => spawnSync(AS_TEST_USER[0], [...AS_TEST_USER.slice(1), ...podman(rl), 'system', 'reset', '--force'], { stdio: 'ignore' }));
      compare('run --rm IMAGE true, rootless', {
        berth: asUser([process.execPath, CLI, '--root', rlStore, 'run', '--rm', IMAGE, 'true']),
        peer: asUser(podmanRun(rl)),
        peerName: 'podman --runtime runc run --rm --network none (rootless)',
        target: '<= 0.75',
      });
    } else console.error(`no user ${TEST_USER}: rootless rows skipped (scripts/test.mjs creates it)`);
  } else console.error('podman not installed: the CLI comparison is skipped (apt-get install podman)');

  // 2. In-process run() vs bare runc run on a prepared bundle.
  const inproc = (name, { dir, storeDir, asTestUser, rootless }) => {
    if (!wanted(name)) return;
    const bundle = join(dir, 'bundle');
    const cli = [process.execPath, CLI, '--root', storeDir, 'unpack', IMAGE, join(bundle, 'rootfs')];
    run(asTestUser ? asUser(cli) : cli);
    const spec = ['runc', 'spec', '--bundle', bundle, ...(rootless ? ['--rootless'] : [])];
    run(asTestUser ? asUser(spec) : spec);
    const configPath = join(bundle, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8'));
    config.process.args = ['true'];
    config.process.terminal = false;
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const cfgPath = join(dir, 'inproc.json');
    writeFileSync(cfgPath, JSON.stringify({ lib: LIB, store: storeDir, image: IMAGE, bundle, runcState: join(dir, 'runc-state'), runs: RUNS }));
    if (asTestUser) {
      execFileSync('chown', ['-R', `${testUser.uid}:${testUser.gid}`, configPath, cfgPath]);
    }
    const self = [process.execPath, fileURLToPath(import.meta.url), '--inproc', cfgPath];
    const out = JSON.parse(run(asTestUser ? asUser(self) : self));
    const row = { name, peerName: rootless ? 'runc run (spec --rootless, single-ID map)' : 'runc run', berth: median(out.berth), peer: median(out.peer), target: '<= 1.5' };
    row.ratio = row.berth / row.peer;
    results.push(row);
    console.error(`${name}: run() ${row.berth.toFixed(0)} ms, ${row.peerName} ${row.peer.toFixed(0)} ms, ratio ${row.ratio.toFixed(2)}`);
  };
  inproc('run() in-process vs runc run on a prepared bundle, rootful', { dir: work, storeDir: store, asTestUser: false, rootless: false });
  if (testUser) inproc('run() in-process vs runc run on a prepared bundle, rootless', { dir: rl, storeDir: rlStore, asTestUser: true, rootless: true });

  // 3. Phases of one CLI run (medians of RUNS traced runs).
  const traceModule = join(work, 'trace.mjs');
  writeFileSync(traceModule, TRACE_MODULE);
  chmodSync(traceModule, 0o644);
  const phases = (name, { dir, storeDir, prefix }) => {
    if (!wanted(name)) return;
    const shimDir = join(dir, 'shim');
    mkdirSync(shimDir, { recursive: true });
    const runcLog = join(dir, 'runc-times.log');
    writeFileSync(join(shimDir, 'runc'), runcShim(runcLog), { mode: 0o755 });
    const traceFile = join(dir, 'trace.json');
    if (prefix.length > 0) execFileSync('chown', ['-R', `${testUser.uid}:${testUser.gid}`, shimDir]);
    const env = { PATH: `${shimDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, TRACE_MODULE: traceModule, HOME: prefix.length > 0 ? testUser.home : BENCH_ENV.HOME };
    const all = [];
    for (let i = -1; i < RUNS; i++) {
      const t = tracedRun({ prefix, env, store: storeDir, traceFile, runcLog });
      if (i >= 0) all.push(t);
    }
    const keys = Object.keys(all[0]).filter((k) => !k.startsWith('_'));
    const rows = keys.map((k) => [k, median(all.map((t) => t[k]))]);
    phaseTables.push({ name, rows, spawns: all[all.length - 1]._spawns });
    console.error(`${name}:\n${rows.map(([k, v]) => `  ${v.toFixed(1).padStart(7)} ms  ${k}`).join('\n')}`);
  };
  phases('phases of berth run --rm IMAGE true, rootful', { dir: work, storeDir: store, prefix: [] });
  if (testUser) phases('phases of berth run --rm IMAGE true, rootless', { dir: rl, storeDir: rlStore, prefix: AS_TEST_USER });
  // The floor: node itself.
  if (wanted('node')) {
    const n = [];
    for (let i = -1; i < RUNS; i++) {
      const ms = timeOnce([process.execPath, '-e', '0']);
      if (i >= 0) n.push(ms);
    }
    results.push({ name: 'node -e 0 (the floor of any node CLI)', peerName: '-', berth: median(n), peer: NaN, ratio: NaN, target: '-' });
  }
} finally {
  for (const c of cleanups.reverse()) c();
  rmSync(work, { recursive: true, force: true });
}

const date = new Date().toISOString().slice(0, 10);
const lines = [
  `# berth run benchmarks, ${date}`,
  '',
  `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}; scratch on ${SCRATCH}; ${RUNS} timed runs each after one warm-up, berth and peer alternating; medians.`,
  '',
  '| case | peer | berth | peer time | ratio berth/peer | target |',
  '|---|---|---:|---:|---:|---|',
  ...results.map((r) => `| ${r.name} | ${r.peerName} | ${r.berth.toFixed(0)} ms | ${Number.isNaN(r.peer) ? '-' : `${r.peer.toFixed(0)} ms`} | ${Number.isNaN(r.ratio) ? '-' : r.ratio.toFixed(2)} | ${r.target} |`),
];
for (const t of phaseTables) {
  lines.push('', `## ${t.name}`, '', '| phase | median |', '|---|---:|', ...t.rows.map(([k, v]) => `| ${k} | ${v.toFixed(1)} ms |`));
  lines.push('', 'Children started by berth (ms after its first line, last traced run):', '', ...t.spawns.map((s) => `- ${s}`));
}
lines.push('', 'Command: `node scripts/bench-run.mjs` (as root, after `npm run build`).');
const text = lines.join('\n');
console.log(text);
const resultsDir = process.env.BERTH_BENCH_RESULTS ?? join(REPO, 'bench/results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, `run-${date}.md`), `${text}\n`);
