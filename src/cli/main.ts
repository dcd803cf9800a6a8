#!/usr/bin/env node
/**
 * cli/main: berth's entry point. Parses the global options, lazily loads one command module, and
 * maps errors to exit codes: a BerthError prints `berth: <message>` and its hint and exits 125
 * (like Docker and podman for engine errors); a container's own exit code passes through.
 */
import { createRequire } from 'node:module';
import { isBerthError } from '../errors/index.js';
import { createContext } from './context.js';
import type { CommandSpec } from './args.js';
import { formatHelp, parseArgs } from './args.js';

export interface CommandModule {
  spec: CommandSpec;
  run(argv: string[], ctx: ReturnType<typeof createContext>): Promise<number>;
}

type Loader = () => Promise<CommandModule>;

/**
 * name -> [loader, one-line summary]. Each command module is imported only when used; the
 * loaders are static imports so a bundler can follow them.
 */
const COMMANDS: Record<string, [Loader, string]> = {
  images: [() => import('./commands/images.js'), 'List images in the store'],
  inspect: [() => import('./commands/inspect.js'), "Show an image's digest, manifest and config as JSON"],
  tag: [() => import('./commands/tag.js'), 'Give an image another name'],
  rmi: [() => import('./commands/rmi.js'), 'Remove image names, and the image when no name is left'],
  import: [() => import('./commands/import.js'), 'Create an image from a rootfs tarball, a directory, or stdin'],
  load: [() => import('./commands/load.js'), 'Load images from a docker-archive or oci-archive'],
  save: [() => import('./commands/save.js'), 'Write an image to a docker-archive or oci-archive'],
  unpack: [() => import('./commands/unpack.js'), "Apply an image's layers into a directory"],
  gc: [() => import('./commands/gc.js'), 'Remove blobs and metadata no image refers to'],
  explain: [() => import('./commands/explain.js'), "Predict a container process's identity and failures under an engine profile"],
  run: [() => import('./commands/run.js'), 'Run a command in a new container'],
  build: [() => import('./commands/build.js'), 'Build an image from a Dockerfile'],
  pull: [() => import('./commands/pull.js'), 'Pull an image from a registry'],
  push: [() => import('./commands/push.js'), 'Push an image to a registry'],
  login: [() => import('./commands/login.js'), 'Log in to a registry'],
  logout: [() => import('./commands/logout.js'), 'Log out from a registry'],
  ps: [() => import('./commands/ps.js'), 'List containers'],
  rm: [() => import('./commands/rm.js'), 'Remove containers kept after exit'],
};

const ALIASES: Record<string, string> = { 'image-ls': 'images' };

function topHelp(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'Usage: berth [--root DIR] [--quiet] COMMAND [OPTIONS]',
    '',
    'Daemonless, rootless-first container engine and image builder.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([k, [, s]]) => `  ${k.padEnd(w)}  ${s}`),
    '',
    'Global options:',
    '  --root DIR   store location (default: $BERTH_ROOT, /var/lib/berth as root,',
    '               ${XDG_DATA_HOME:-~/.local/share}/berth otherwise)',
    '  --quiet      do not print warnings',
    '',
    'Run `berth COMMAND --help` for a command\'s options.',
  ].join('\n');
}

function version(): string {
  const require = createRequire(import.meta.url);
  // dist/bundle/main.js and dist/src/cli/main.js sit at different depths below the package root.
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = require(rel) as { name?: string; version?: string };
      if (pkg.name === 'berth' && pkg.version) return pkg.version;
    } catch {
      /* try the next location */
    }
  }
  return 'unknown';
}

export async function main(argv: string[]): Promise<number> {
  let root: string | undefined;
  let quiet = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--root') {
      root = argv[++i];
      if (root === undefined) {
        process.stderr.write('berth: --root needs a directory\n');
        return 125;
      }
    } else if (a.startsWith('--root=')) root = a.slice(7);
    else if (a === '--quiet' || a === '-q') quiet = true;
    else if (a === '--help' || a === '-h' || a === 'help') {
      process.stdout.write(`${topHelp()}\n`);
      return 0;
    } else if (a === '--version' || a === 'version') {
      process.stdout.write(`berth ${version()}\n`);
      return 0;
    } else break;
  }
  const name0 = argv[i];
  if (name0 === undefined) {
    process.stderr.write(`${topHelp()}\n`);
    return 125;
  }
  const name = ALIASES[name0] ?? name0;
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`berth: unknown command "${name0}"\nRun \`berth --help\` for the list of commands.\n`);
    return 125;
  }
  const ctx = createContext({ root, quiet });
  const rest = argv.slice(i + 1);
  try {
    const mod = await entry[0]();
    if (rest.includes('--help') || rest.includes('-h')) {
      // Only when the flag belongs to berth, not to a container command after IMAGE.
      const parsed = (() => {
        try {
          return parseArgs({ ...mod.spec, flags: [...mod.spec.flags, { name: 'help', short: 'h', kind: 'boolean', help: '' }] }, rest);
        } catch {
          return undefined;
        }
      })();
      if (parsed?.flags.get('help') === true) {
        process.stdout.write(`${formatHelp(mod.spec)}\n`);
        return 0;
      }
    }
    return await mod.run(rest, ctx);
  } catch (e) {
    if (isBerthError(e)) {
      process.stderr.write(`berth: ${e.message}\n`);
      if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
      if (process.env.BERTH_DEBUG) process.stderr.write(`${e.stack}\n`);
      return 125;
    }
    const err = e as Error;
    process.stderr.write(`berth: internal error: ${err?.stack ?? String(e)}\n`);
    process.stderr.write('This is a bug in berth; please report it with the command you ran.\n');
    return 125;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`berth: ${String(e)}\n`);
    process.exitCode = 125;
  },
);
