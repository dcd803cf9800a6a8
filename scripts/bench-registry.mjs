#!/usr/bin/env node
// Registry benchmarks, in one run, berth and its peer alternating, medians and ratios, pulling
// the Debian minbase image from Debian's docker-registry on 127.0.0.1 (no auth):
//   1. `berth pull --no-unpack` into an empty store vs `skopeo copy docker://... oci:DIR` (target <= 1.0);
//   2. `berth pull` (and unpack into the rootfs cache run uses) vs `podman pull` into empty
//      storage (target <= 0.5).
// Needs root, docker-registry, skopeo, podman and the minbase fixture; run after `npm run build`.
// Usage: node scripts/bench-registry.mjs [--runs N]   (BERTH_BENCH_DIST=DIR for another compiled tree)
// Prints markdown and writes bench/results/registry-<date>.md ($BERTH_BENCH_RESULTS for another dir).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { minbaseRootfs } from './fixtures.mjs';
import { have, machineLine, median, run, runsArg, writeReport } from './bench-lib.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
// BERTH_BENCH_DIST: a compiled tree other than dist/ (its bundle/ and test/registry/server.js).
const DIST = process.env.BERTH_BENCH_DIST ?? join(REPO, 'dist');
const CLI = process.env.BERTH_BENCH_CLI ?? join(DIST, 'bundle/main.js');
const SCRATCH = process.env.BERTH_BENCH_DIR ?? '/dev/shm';
const RUNS = runsArg(process.argv.slice(2), 5);

function timed(argv, cleanup) {
  const t0 = process.hrtime.bigint();
  run(argv);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  cleanup();
  return ms;
}

for (const tool of ['docker-registry', 'skopeo', 'podman']) {
  if (!have(tool)) {
    console.error(`bench-registry: ${tool} is not installed`);
    process.exit(2);
  }
}

const { startRegistry } = await import(pathToFileURL(join(DIST, 'test/registry/server.js')).href);
const reg = await startRegistry({ auth: 'none' });
const work = mkdtempSync(join(SCRATCH, 'berth-bench-registry-'));
try {
  const seed = join(work, 'seed');
  run([process.execPath, CLI, '--root', seed, 'import', minbaseRootfs(), 'debian:bookworm']);
  const image = `${reg.host}/bench/debian:bookworm`;
  run([process.execPath, CLI, '--root', seed, 'push', '-q', 'debian:bookworm', image]);
  const rows = [];
  const fresh = (n) => join(work, n);
  const rm = (p) => () => {
    spawnSync('sh', ['-c', `umount -R ${p}/overlay 2>/dev/null; true`]);
    rmSync(p, { recursive: true, force: true });
  };
  const cases = [
    {
      name: 'pull minbase into an empty store (no unpack)',
      peer: 'skopeo copy docker://… oci:DIR',
      target: 1.0,
      berth: () => timed([process.execPath, CLI, '--root', fresh('b1'), 'pull', '-q', '--no-unpack', image], rm(fresh('b1'))),
      other: () => timed(['skopeo', 'copy', '-q', '--src-tls-verify=false', `docker://${image}`, `oci:${fresh('s1')}:deb`], rm(fresh('s1'))),
    },
    {
      name: 'pull and unpack minbase (ready to run)',
      peer: 'podman pull (overlay storage)',
      target: 0.5,
      berth: () => timed([process.execPath, CLI, '--root', fresh('b2'), 'pull', '-q', image], rm(fresh('b2'))),
      other: () => timed(['podman', '--root', fresh('p2'), '--runroot', fresh('p2r'), '--storage-driver', 'overlay', 'pull', '-q', '--tls-verify=false', image], () => {
        spawnSync('podman', ['--root', fresh('p2'), '--runroot', fresh('p2r'), '--storage-driver', 'overlay', 'rmi', '-a', '-f'], { stdio: 'ignore' });
        rm(fresh('p2'))();
        rm(fresh('p2r'))();
      }),
    },
  ];
  for (const c of cases) {
    c.berth();
    c.other();
    const b = [];
    const p = [];
    for (let i = 0; i < RUNS; i++) {
      b.push(c.berth());
      p.push(c.other());
    }
    const bm = median(b);
    const pm = median(p);
    rows.push({ ...c, bm, pm });
    console.log(`${c.name}: berth ${bm.toFixed(0)} ms, ${c.peer} ${pm.toFixed(0)} ms, ratio ${(bm / pm).toFixed(2)} (target <= ${c.target})`);
  }
  writeReport(REPO, 'registry', [
    `# registry benchmarks, ${new Date().toISOString().slice(0, 10)}`,
    '',
    `Machine: ${machineLine()}; docker-registry on 127.0.0.1; scratch on ${SCRATCH}; ${RUNS} timed runs each after one warm-up, alternating; medians.`,
    '',
    '| case | peer | berth | peer time | ratio | target |',
    '|---|---|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.name} | ${r.peer} | ${r.bm.toFixed(0)} ms | ${r.pm.toFixed(0)} ms | ${(r.bm / r.pm).toFixed(2)} | <= ${r.target} |`),
    '',
    'Command: `node scripts/bench-registry.mjs` (as root, after `npm run build`).',
  ]);
} finally {
  await reg.stop();
  rmSync(work, { recursive: true, force: true });
}
