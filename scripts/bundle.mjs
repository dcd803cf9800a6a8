#!/usr/bin/env node
// Bundles the CLI into dist/bundle/ (one small entry plus a chunk per command, loaded on demand),
// so `berth` starts by reading a few files instead of a hundred ES modules: `berth explain` has a
// budget of twice `node -e 0`. The library entry (dist/src/index.js) stays unbundled.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync('dist/bundle', { recursive: true, force: true });
await build({
  entryPoints: { main: 'src/cli/main.ts' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: 'dist/bundle',
  // Dependencies stay in node_modules (koffi ships native binaries).
  packages: 'external',
  sourcemap: 'linked',
  // Less to parse at start-up; stack traces map back through the source map.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
