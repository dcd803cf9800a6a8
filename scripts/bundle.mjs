#!/usr/bin/env node
// Bundles the CLI into dist/bundle/: a small entry (main.js) and one CommonJS file per command,
// loaded on demand through V8's code cache (src/cli/codecache.ts). `berth explain` has a budget of
// twice `node -e 0`, and `berth run` competes with podman on start-up time: CommonJS skips the ES
// module loader's start-up and linking, one file per command means one read, and the code cache
// skips compiling. The library entry (dist/src/index.js) stays unbundled ES modules.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

// BERTH_BUNDLE_OUT builds elsewhere (a second tree's tests, without touching dist/bundle).
const outdir = process.env.BERTH_BUNDLE_OUT ?? 'dist/bundle';
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
// The package is "type": "module"; the bundle's .js files are CommonJS.
writeFileSync(`${outdir}/package.json`, '{ "type": "commonjs" }\n');

const commands = readdirSync('src/cli/commands').filter((f) => f.endsWith('.ts')).map((f) => basename(f, '.ts'));

// main.ts names each command module with a static `import('./commands/NAME.js')` (so the unbundled
// tsc output works as is); in the bundle that becomes a code-cached load of dist/bundle/NAME.js.
const commandLoader = {
  name: 'berth-command-loader',
  setup(b) {
    b.onLoad({ filter: /src\/cli\/main\.ts$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8');
      let n = 0;
      text = text.replace(/import\('\.\/commands\/([a-z0-9-]+)\.js'\)/g, (_, name) => {
        if (!commands.includes(name)) throw new Error(`main.ts loads ./commands/${name}.js, which does not exist`);
        n++;
        return `Promise.resolve().then(() => __berthLoadCommand(__dirname, ${JSON.stringify(name)}))`;
      });
      if (n !== commands.length) throw new Error(`main.ts loads ${n} commands, src/cli/commands has ${commands.length}`);
      text = text.replace(/^(#!.*\n)?/, (shebang) => `${shebang}import { loadBundledCommand as __berthLoadCommand } from './codecache.js';\n`);
      return { contents: text, loader: 'ts' };
    });
  },
};

await build({
  entryPoints: Object.fromEntries([['main', 'src/cli/main.ts'], ...commands.map((c) => [c, `src/cli/commands/${c}.ts`])]),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outdir,
  // Dependencies stay in node_modules (koffi ships native binaries).
  packages: 'external',
  // ES module code asks import.meta.url for its own location.
  define: { 'import.meta.url': '__berthModuleUrl' },
  banner: { js: 'var __berthModuleUrl=require("url").pathToFileURL(__filename).href;' },
  plugins: [commandLoader],
  sourcemap: 'linked',
  // Less to parse at start-up; stack traces map back through the source map.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});

// A command runs through vm.Script, where `import()` has no loader: every dynamic import must be
// bundled (relative modules are; node built-ins and packages must be imported statically).
for (const f of readdirSync(outdir).filter((f) => f.endsWith('.js'))) {
  const text = readFileSync(`${outdir}/${f}`, 'utf8');
  const m = /\bimport\((["'][^"']*["'])\)/.exec(text);
  if (m) throw new Error(`${outdir}/${f} keeps a dynamic import(${m[1]}); import it statically in the source`);
}
