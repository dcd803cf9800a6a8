#!/usr/bin/env node
// Runs the compiled test files with Node's test runner. `--unit` skips test/e2e.
// Node 20 has no glob support in `node --test`, so the files are listed here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

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
