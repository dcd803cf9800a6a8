#!/usr/bin/env node
// berth's benchmarks: each case runs berth and its peer on the same input in one run, alternating,
// and reports medians and the ratio berth/peer. Results are printed as a markdown table and written
// to bench/results/<date>.md. Usage: npm run bench [-- --runs N] [-- case...]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { minbaseRootfs } from './fixtures.mjs';

const args = process.argv.slice(2);
const runsArg = args.indexOf('--runs');
const RUNS = runsArg === -1 ? 5 : Number(args[runsArg + 1]);
const only = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--runs');
const REPO = new URL('..', import.meta.url).pathname;
const CLI = join(REPO, 'dist/bundle/main.js');
const SCRATCH = process.env.BERTH_BENCH_DIR ?? '/dev/shm';

function sh(cmd, opts = {}) {
  return execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26, ...opts });
}

/** Wall time of one command in ms; setup/teardown are not timed. Peak RSS via /usr/bin/time when asked. */
function timeOnce(cmd, { env } = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`benchmark command failed (${r.status}): ${cmd}\n${r.stderr}`);
  return ms;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const results = [];

/** Runs berth and the peer alternately RUNS times each (after one warm-up each). */
function compare(name, { berth, peer, peerName, setup, teardown, target }) {
  if (only.length && !only.some((o) => name.includes(o))) return;
  const b = [];
  const p = [];
  for (let i = -1; i < RUNS; i++) {
    for (const [which, cmd, out] of [['berth', berth, b], ['peer', peer, p]]) {
      setup?.(which);
      const ms = timeOnce(cmd);
      teardown?.(which);
      if (i >= 0) out.push(ms);
    }
  }
  const row = { name, peerName, berth: median(b), peer: median(p), ratio: median(b) / median(p), target, berthAll: b, peerAll: p };
  results.push(row);
  console.error(`${name}: berth ${row.berth.toFixed(0)} ms, ${peerName} ${row.peer.toFixed(0)} ms, ratio ${row.ratio.toFixed(2)} (target ${target})`);
}

function peakRss(cmd) {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', 'sh', '-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`failed: ${cmd}\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  return Number(lines[lines.length - 1]) / 1024; // MiB (children included via sh's wait)
}

const work = mkdtempSync(join(SCRATCH, 'berth-bench-'));
const store = join(work, 'store');
const berth = (a) => `node ${CLI} --root ${store} ${a}`;
try {
  const rootfs = minbaseRootfs();
  console.error(`minbase rootfs: ${rootfs}`);
  const tarGz = join(work, 'minbase.tar.gz');
  sh(`tar --xattrs --xattrs-include='*' --numeric-owner -czf ${tarGz} -C ${rootfs} .`);
  sh(berth(`import ${rootfs} minbase:1`));
  // An OCI layout of the same image for umoci.
  const layout = join(work, 'layout');
  sh(`${berth(`save --format oci-archive -o ${work}/minbase-oci.tar minbase:1`)} && mkdir ${layout} && tar -xf ${work}/minbase-oci.tar -C ${layout}`);

  // 1. unpack vs GNU tar -xzf (same gzip layer bytes: berth's layer blob)
  const ins = JSON.parse(sh(berth('inspect minbase:1')).toString())[0];
  const layerBlob = join(store, 'blobs/sha256', ins.manifest.layers[0].digest.split(':')[1]);
  const out = join(work, 'out');
  const clean = () => rmSync(out, { recursive: true, force: true });
  compare('unpack minbase (gzip layer)', {
    berth: berth(`unpack minbase:1 ${out}`),
    peer: `mkdir ${out} && tar --xattrs --xattrs-include='*' --numeric-owner -xzf ${layerBlob} -C ${out}`,
    peerName: 'GNU tar -xzf',
    teardown: clean,
    target: '<= 1.0',
  });
  if (have('umoci')) {
    compare('unpack minbase (gzip layer)', {
      berth: berth(`unpack minbase:1 ${out}`),
      peer: `umoci --log error unpack --image ${layout}:1 ${out}`,
      peerName: 'umoci unpack',
      teardown: clean,
      target: '<= 0.5',
    });
  }
  // 2. import of the rootfs directory vs tar -czf
  compare('import minbase directory', {
    berth: berth(`import ${rootfs} minbase:bench`),
    peer: `tar --xattrs --xattrs-include='*' -czf ${work}/peer.tar.gz -C ${rootfs} .`,
    peerName: 'GNU tar -czf',
    teardown: () => rmSync(`${work}/peer.tar.gz`, { force: true }),
    target: '<= 1.0',
  });
  // 3. explain vs node -e 0
  if (existsSync(join(REPO, 'dist/src/cli/commands/explain.js'))) {
    compare('explain minbase', {
      berth: berth('explain --json minbase:1 /usr/bin/ping -c1 127.0.0.1 >/dev/null'),
      peer: `node -e 0`,
      peerName: 'node -e 0',
      target: '<= 2.0',
    });
  }
  // 4. peak memory unpacking a 1 GB layer
  if (!only.length || only.some((o) => 'memory'.includes(o))) {
    const big = join(work, 'big');
    mkdirSync(big);
    sh(`head -c 1073741824 /dev/urandom > ${big}/one-gigabyte.bin`);
    sh(berth(`import ${big} big:1`));
    rmSync(big, { recursive: true, force: true });
    const rss = peakRss(berth(`unpack big:1 ${out}`));
    clean();
    results.push({ name: 'peak RSS unpacking a 1 GiB layer', peerName: '-', berth: rss, peer: NaN, ratio: NaN, target: '<= 150 MB', unit: 'MiB' });
    console.error(`peak RSS unpacking 1 GiB layer: ${rss.toFixed(0)} MiB`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const date = new Date().toISOString().slice(0, 10);
const cpu = cpus()[0]?.model ?? 'unknown';
const lines = [
  `# berth benchmarks, ${date}`,
  '',
  `Machine: ${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}; scratch on ${SCRATCH}; ${RUNS} timed runs each after one warm-up, berth and peer alternating; medians.`,
  '',
  '| case | peer | berth | peer time | ratio berth/peer | target |',
  '|---|---|---:|---:|---:|---|',
  ...results.map((r) =>
    r.unit ? `| ${r.name} | ${r.peerName} | ${r.berth.toFixed(0)} ${r.unit} | - | - | ${r.target} |` : `| ${r.name} | ${r.peerName} | ${r.berth.toFixed(0)} ms | ${r.peer.toFixed(0)} ms | ${r.ratio.toFixed(2)} | ${r.target} |`,
  ),
  '',
  'Command: `npm run bench`.',
];
const text = lines.join('\n');
console.log(text);
mkdirSync(join(REPO, 'bench/results'), { recursive: true });
writeFileSync(join(REPO, 'bench/results', `${date}.md`), `${text}\n`);
