/**
 * cli/codecache: how the bundled CLI (dist/bundle, built by scripts/bundle.mjs) loads a command.
 *
 * Each command is one CommonJS file. Compiling it is most of what a short command costs before it
 * does any work, so berth keeps V8's code cache of each file and compiles through `vm.Script` with
 * it: the next start deserialises the compiled functions instead of parsing the source again. The
 * cache is written once, when the process exits after the command ran (so it holds the functions
 * that actually ran, not only the top level), and again only when V8 rejects it (another node
 * version, or a rebuilt file).
 *
 * Where: `<bundle>/.code-cache/` when that directory is writable (an install owned by the user, a
 * checkout), else `${XDG_CACHE_HOME:-~/.cache}/berth/code-cache/`. Never a shared directory such
 * as /tmp: whoever can write the cache decides what code runs. A cache that cannot be written is
 * not an error; berth only starts slower.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

type CommandExports = Record<string, unknown>;

function cacheDirs(bundleDir: string): string[] {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  // FNV-1a of the bundle's path: one cache per installation (node:crypto costs a start-up of its own).
  let h = 0x811c9dc5;
  for (let i = 0; i < bundleDir.length; i++) h = Math.imul(h ^ bundleDir.charCodeAt(i), 0x01000193) >>> 0;
  const tag = h.toString(16).padStart(8, '0');
  return [join(bundleDir, '.code-cache'), join(base, 'berth', 'code-cache', tag)];
}

function readCache(dirs: string[], name: string): Buffer | undefined {
  for (const d of dirs) {
    try {
      return readFileSync(join(d, name));
    } catch {
      /* next location */
    }
  }
  return undefined;
}

function writeCache(dirs: string[], name: string, data: Buffer): void {
  for (const d of dirs) {
    try {
      mkdirSync(d, { recursive: true, mode: 0o755 });
      const tmp = join(d, `.${name}.${process.pid}`);
      writeFileSync(tmp, data, { mode: 0o644 });
      renameSync(tmp, join(d, name));
      return;
    } catch {
      /* not writable here: try the next location */
    }
  }
}

/** Loads `<bundleDir>/<name>.js` (a CommonJS file) with V8's code cache. */
export function loadBundledCommand(bundleDir: string, name: string): CommandExports {
  const file = join(bundleDir, `${name}.js`);
  const source = readFileSync(file, 'utf8');
  const dirs = cacheDirs(bundleDir);
  const cacheName = `${name}-${process.versions.v8}.bin`;
  const cachedData = readCache(dirs, cacheName);
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
  });
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', () => writeCache(dirs, cacheName, script.createCachedData()));
  }
  const module = { exports: {} as CommandExports };
  const fn = script.runInThisContext() as (e: CommandExports, r: NodeJS.Require, m: typeof module, f: string, d: string) => void;
  fn.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}
