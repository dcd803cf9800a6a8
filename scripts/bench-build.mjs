#!/usr/bin/env node
// `berth build` benchmarks against `buildah bud` (runc, overlay storage, --layers), in one run,
// berth and buildah alternating, medians and ratios, on the same Debian minbase base image:
//   1. the Dockerfile that started berth (groups after USER), no cache and fully cached;
//   2. a small multi-stage Dockerfile (WORKDIR, COPY, RUN, COPY --from, USER, CMD), the same two.
// Needs root, runc, buildah and the Debian minbase fixture (scripts/fixtures.mjs minbase).
// Usage: node scripts/bench-build.mjs [--runs N]   (after `npm run build`)
// Prints markdown and writes bench/results/build-<date>.md ($BERTH_BENCH_RESULTS for another dir).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { minbaseRootfs } from './fixtures.mjs';
import { have, machineLine, median, run, runsArg, timeOnce, writeReport } from './bench-lib.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = process.env.BERTH_BENCH_CLI ?? join(REPO, 'dist/bundle/main.js');
const SCRATCH = process.env.BERTH_BENCH_DIR ?? '/dev/shm';
const RUNS = runsArg(process.argv.slice(2), 7);

if (process.geteuid() !== 0) {
  console.error('bench-build: run as root');
  process.exit(2);
}
for (const tool of ['runc', 'buildah']) {
  if (!have(tool)) {
    console.error(`bench-build: ${tool} is not installed (apt install ${tool})`);
    process.exit(2);
  }
}

const work = mkdtempSync(join(SCRATCH, 'berth-bench-build-'));
try {
  const store = join(work, 'store');
  const bh = ['buildah', '--root', join(work, 'bh-root'), '--runroot', join(work, 'bh-run'), '--storage-driver', 'overlay'];
  run([process.execPath, CLI, '--root', store, 'import', minbaseRootfs(), 'debian:bookworm']);
  run([process.execPath, CLI, '--root', store, 'save', '-o', join(work, 'base.tar'), 'debian:bookworm']);
  run([...bh, 'pull', '-q', `docker-archive:${join(work, 'base.tar')}`]);
  run([...bh, 'tag', 'localhost/debian:bookworm', 'docker.io/library/debian:bookworm']);

  const cases = [
    {
      name: 'groups Dockerfile (6 steps over Debian minbase)',
      files: {
        Dockerfile: 'FROM debian:bookworm\nRUN groupadd -g 20000 bar\nRUN groupadd -g 10000 foo\nRUN useradd -c "Foo user" -u 10000 -g 10000 -G bar -m foo\nRUN id foo\nUSER foo\nRUN id\n',
      },
    },
    {
      name: 'multi-stage Dockerfile (2 stages, COPY --from)',
      files: {
        'hello.sh': '#!/bin/sh\necho "hello, world"\n',
        Dockerfile:
          'FROM debian:bookworm AS build\nWORKDIR /src\nCOPY hello.sh .\nRUN sed -i "s/world/berth/" hello.sh && chmod 755 hello.sh\n' +
          'FROM debian:bookworm\nCOPY --from=build /src/hello.sh /usr/local/bin/hello\nRUN useradd -u 1000 -m app\nUSER app\nCMD ["hello"]\n',
      },
    },
  ];
  const rows = [];
  for (const [i, c] of cases.entries()) {
    const ctx = join(work, `ctx${i}`);
    mkdirSync(ctx);
    for (const [f, t] of Object.entries(c.files)) writeFileSync(join(ctx, f), t);
    const berthBuild = (extra) => [process.execPath, CLI, '--root', store, 'build', '-q', ...extra, '-t', `bench/case${i}:1`, ctx];
    const buildahBuild = (extra) => [...bh, 'bud', '-q', '--layers', '--network', 'host', '--runtime', 'runc', ...extra, '-t', `bench/case${i}:1`, ctx];
    // Warm-up: first builds fill each tool's cache (berth also unpacks the base once).
    timeOnce(berthBuild([]));
    timeOnce(buildahBuild([]));
    for (const [mode, extra] of [['no cache', ['--no-cache']], ['fully cached rebuild', []]]) {
      const b = [];
      const p = [];
      for (let r = 0; r < RUNS; r++) {
        b.push(timeOnce(berthBuild(extra)));
        p.push(timeOnce(buildahBuild(extra)));
      }
      const bm = median(b);
      const pm = median(p);
      rows.push({ name: `${c.name}, ${mode}`, berth: bm, peer: pm, ratio: bm / pm });
      console.log(`${c.name}, ${mode}: berth ${bm.toFixed(0)} ms, buildah ${pm.toFixed(0)} ms, ratio ${(bm / pm).toFixed(2)} (target <= 0.8)`);
    }
  }
  const version = (argv) => spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' }).stdout.split('\n')[0].trim();
  writeReport(REPO, 'build', [
    `# berth build benchmarks, ${new Date().toISOString().slice(0, 10)}`,
    '',
    `Machine: ${machineLine()}; ${version(['buildah', '--version'])}; ${version(['runc', '--version'])}; scratch on ${SCRATCH}; ${RUNS} timed runs each after one warm-up, berth and buildah alternating; medians.`,
    '',
    '| case | berth | buildah bud --layers | ratio | target |',
    '|---|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.name} | ${r.berth.toFixed(0)} ms | ${r.peer.toFixed(0)} ms | ${r.ratio.toFixed(2)} | <= 0.8 |`),
    '',
    'Command: `node scripts/bench-build.mjs` (as root, after `npm run build`).',
  ]);
} finally {
  spawnSync('buildah', ['--root', join(work, 'bh-root'), '--runroot', join(work, 'bh-run'), '--storage-driver', 'overlay', 'rm', '--all'], { stdio: 'ignore' });
  spawnSync('sh', ['-c', `umount -R ${join(work, 'bh-root')}/overlay 2>/dev/null; true`]);
  rmSync(work, { recursive: true, force: true });
}
