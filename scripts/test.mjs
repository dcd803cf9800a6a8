#!/usr/bin/env node
// Runs the compiled test files with Node's test runner. `--unit` skips test/e2e.
// Node 20 has no glob support in `node --test`, so the files are listed here.
import { existsSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

// Rootless tests run berth as this unprivileged user, with subordinate IDs of its own.
const TEST_USER = 'berthtest';
const SUBID_LINE = `${TEST_USER}:200000:65536`;

function ensureTestUser() {
  if (spawnSync('id', ['-u', TEST_USER]).status !== 0) {
    const r = spawnSync('useradd', ['--create-home', '--shell', '/bin/sh', TEST_USER], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`useradd ${TEST_USER} failed`);
  }
  for (const f of ['/etc/subuid', '/etc/subgid']) {
    // Exactly one known range for the test user (useradd may have assigned another one).
    const text = existsSync(f) ? readFileSync(f, 'utf8') : '';
    const others = text.split('\n').filter((l) => l !== '' && !l.startsWith(`${TEST_USER}:`));
    const want = [...others, SUBID_LINE].join('\n') + '\n';
    if (want !== text) {
      writeFileSync(`${f}.berth-tmp`, want, { mode: 0o644 });
      renameSync(`${f}.berth-tmp`, f);
    }
  }
}

if (process.geteuid?.() === 0) ensureTestUser();
else console.error('not running as root: rootful and rootless end-to-end tests will be skipped');

const unitOnly = process.argv.includes('--unit');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const root = 'dist/test';
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (unitOnly && p === join(root, 'e2e')) continue;
      walk(p);
    } else if (name.endsWith('.test.js') && (only.length === 0 || only.some((o) => p.includes(o)))) {
      files.push(p);
    }
  }
}
walk(root);
if (files.length === 0) {
  console.error('no test files found under dist/test (run `npm run build` first)');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
