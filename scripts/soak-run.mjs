#!/usr/bin/env node
// Leak check for `berth run`: many runs in a fresh store, some interrupted with SIGINT and some with
// berth itself killed by SIGKILL, then one last run (which cleans up after the killed ones), then a
// look for anything left behind: mounts of the store in any mount namespace, processes naming the
// store, container directories, runc state, rootfs mount points in the temporary directory.
//
// Usage (as root): node scripts/soak-run.mjs [--runs 200] [--rootless] [--cli PATH]
//   --rootless   run berth as the user berthtest (scripts/test.mjs creates it, subuids 200000:65536)
//   --cli PATH   the berth CLI to drive (default dist/bundle/main.js, else dist/src/cli/main.js)
// Exits 1 when anything leaked, printing what.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const runs = Number(opt('--runs', '200'));
const rootless = args.includes('--rootless');
const cli = opt('--cli', existsSync('dist/bundle/main.js') ? 'dist/bundle/main.js' : 'dist/src/cli/main.js');
const USER = 'berthtest';

if (process.geteuid() !== 0) {
  console.error('soak-run: run as root (the fixture needs chown and setcap; --rootless drops to berthtest)');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'berth-soak-'));
chmodSync(work, 0o755);
const store = join(work, 'store');
const uid = rootless ? Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim()) : 0;
const gid = rootless ? Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim()) : 0;

function start(argv) {
  const full = [process.execPath, join(process.cwd(), cli), '--root', store, ...argv];
  const [cmd, a] = rootless ? ['setpriv', ['--reuid', USER, '--regid', USER, '--init-groups', '--reset-env', ...full]] : [full[0], full.slice(1)];
  const child = spawn(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'], cwd: work });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ready = () =>
    new Promise((resolve) => {
      const check = () => (out.includes('ready') ? resolve(true) : undefined);
      child.stdout.on('data', check);
      check();
      void exited.then(() => resolve(false));
    });
  return { child, exited, ready, output: () => ({ out, err }) };
}

async function must(argv) {
  const s = start(argv);
  const st = await s.exited;
  if (st.code !== 0) throw new Error(`berth ${argv.join(' ')} exited ${st.code}: ${s.output().err}`);
}

function leftovers() {
  const found = [];
  const containers = join(store, 'berth', 'containers');
  for (const n of existsSync(containers) ? readdirSync(containers) : []) if (n !== 'lock') found.push(`container dir ${n}`);
  const runc = join(store, 'berth', 'runc');
  for (const n of existsSync(runc) ? readdirSync(runc) : []) found.push(`runc state ${n}`);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const info = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (info.includes(store)) found.push(`mount of the store in process ${pid} (${cmd})`);
      else if (cmd.includes(store)) found.push(`process ${pid}: ${cmd}`);
    } catch {
      // the process exited while being looked at
    }
  }
  return found;
}

const rootfs = join(work, 'bb');
execFileSync(process.execPath, ['scripts/fixtures.mjs', 'busybox', rootfs], { stdio: ['ignore', 'ignore', 'inherit'] });
if (rootless) {
  const rootStore = join(work, 'root-store');
  execFileSync(process.execPath, [cli, '--root', rootStore, 'import', rootfs, 'bb:1'], { stdio: 'ignore' });
  execFileSync(process.execPath, [cli, '--root', rootStore, 'save', '-o', join(work, 'bb.tar'), 'bb:1'], { stdio: 'ignore' });
  chmodSync(join(work, 'bb.tar'), 0o644);
  mkdirSync(store);
  chownSync(store, uid, gid);
  await must(['load', '-i', join(work, 'bb.tar')]);
} else {
  await must(['import', rootfs, 'bb:1']);
}
const tmpBefore = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('berth-rootfs-')));

const t0 = Date.now();
const counts = { plain: 0, sigint: 0, sigkill: 0 };
for (let i = 0; i < runs; i++) {
  if (i % 10 === 9) {
    const s = start(['run', '--rm', 'bb:1', 'sh', '-c', 'echo ready; exec sleep 30']);
    if (await s.ready()) s.child.kill('SIGKILL');
    await s.exited;
    counts.sigkill++;
  } else if (i % 10 === 4) {
    const s = start(['run', '--rm', 'bb:1', 'sh', '-c', 'trap "exit 130" INT; echo ready; sleep 30 & wait']);
    if (await s.ready()) s.child.kill('SIGINT');
    const st = await s.exited;
    if (st.code !== 130) throw new Error(`run ${i}: SIGINT run exited ${st.code}: ${s.output().err}`);
    counts.sigint++;
  } else {
    await must(['run', '--rm', 'bb:1', 'sh', '-c', 'echo x > /tmp/f && id -u >/dev/null']);
    counts.plain++;
  }
  if ((i + 1) % 50 === 0) console.error(`soak-run: ${i + 1}/${runs} runs`);
}
// The last run reaps what the SIGKILLed berths left.
await must(['run', '--rm', 'bb:1', 'true']);
const seconds = (Date.now() - t0) / 1000;

const leaks = leftovers();
for (const n of readdirSync(tmpdir())) if (n.startsWith('berth-rootfs-') && !tmpBefore.has(n)) leaks.push(`rootfs mount point ${join(tmpdir(), n)}`);
console.log(JSON.stringify({ mode: rootless ? 'rootless' : 'rootful', runs: runs + 1, ...counts, seconds, perRunMs: Math.round((seconds * 1000) / (runs + 1)), leaks }, null, 2));
if (rootless) await must(['run', '--rm', 'bb:1', 'true']);
rmSync(work, { recursive: true, force: true });
process.exit(leaks.length > 0 ? 1 : 0);
