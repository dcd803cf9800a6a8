import { build, type BuildEvent } from '../../api/build.js';
import { BerthError } from '../../errors/index.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, flagList, flagString, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'build',
  usage: 'berth build [-t NAME[:TAG]]... [-f Dockerfile] [--build-arg K=V]... [--target STAGE] [--no-cache] [--network host|none] CONTEXT',
  summary:
    'Build an image from a Dockerfile. RUN steps run on berth\'s runtime with the USER\'s supplementary groups (rootful or rootless); every layer keeps owners, modes, xattrs and file capabilities.',
  flags: [
    { name: 'tag', short: 't', kind: 'multi', value: 'NAME[:TAG]', help: 'name the image (repeatable)' },
    { name: 'file', short: 'f', kind: 'string', value: 'PATH', help: 'the Dockerfile (default CONTEXT/Dockerfile)' },
    { name: 'build-arg', kind: 'multi', value: 'NAME=VALUE', help: 'set a build argument (NAME alone takes it from the environment)' },
    { name: 'target', kind: 'string', value: 'STAGE', help: 'build up to this stage' },
    { name: 'no-cache', kind: 'boolean', help: 'run every step, reusing nothing' },
    { name: 'network', kind: 'string', value: 'host|none', help: 'network of RUN steps (default host)' },
    { name: 'pull', kind: 'string', value: 'always|missing|never', help: 'pull base images from their registry (default missing)' },
    { name: 'tls-verify', kind: 'string', value: 'true|false', help: 'registry transport for pulls: false allows plain HTTP' },
    { name: 'progress', kind: 'string', value: 'auto|plain|quiet', help: 'output: steps and their output (auto, plain) or only the image ID (quiet)' },
    { name: 'quiet', short: 'q', kind: 'boolean', help: 'print only the image ID' },
  ],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 1, 1);
  const buildArgs: Record<string, string> = {};
  for (const a of flagList(p, 'build-arg')) {
    const eq = a.indexOf('=');
    if (eq === 0) throw new BerthError('E_OPTION_INVALID', `build --build-arg ${a}: a name is missing`, { hint: 'write --build-arg NAME=VALUE' });
    if (eq < 0) {
      const v = ctx.env[a];
      if (v !== undefined) buildArgs[a] = v;
    } else buildArgs[a.slice(0, eq)] = a.slice(eq + 1);
  }
  const progress = flagBool(p, 'quiet') ? 'quiet' : (flagString(p, 'progress') ?? 'auto');
  if (!['auto', 'plain', 'quiet'].includes(progress)) throw new BerthError('E_OPTION_INVALID', `build --progress ${progress}: use auto, plain or quiet`, { hint: 'plain prints one line per event, for logs' });
  const network = flagString(p, 'network') ?? 'host';
  if (network !== 'host' && network !== 'none') throw new BerthError('E_OPTION_INVALID', `build --network ${network}: use host or none`, { hint: 'RUN steps share the host network (host) or have only a loopback (none)' });
  const out = ctx.stderr;
  const tty = progress === 'auto' && (process.stderr as { isTTY?: boolean }).isTTY === true;
  let started = 0;
  let atLineStart = true;
  const onProgress = (e: BuildEvent) => {
    if (progress === 'quiet') return;
    switch (e.type) {
      case 'step':
        started = Date.now();
        if (!atLineStart) out.write('\n');
        out.write(`${tty ? '\x1b[1m' : ''}STEP ${e.step}/${e.total}: ${e.text}${tty ? '\x1b[0m' : ''}\n`);
        atLineStart = true;
        break;
      case 'cached':
        out.write('--> Using cache\n');
        break;
      case 'output': {
        const text = e.data.toString('utf8');
        out.write(text);
        atLineStart = text.endsWith('\n');
        break;
      }
      case 'step-done':
        if (!atLineStart) out.write('\n');
        atLineStart = true;
        if (e.ms >= 100) out.write(`--> ${(e.ms / 1000).toFixed(1)}s${e.layer ? '' : ' (no layer)'}\n`);
        void started;
        break;
      case 'done':
        out.write(`Built ${e.id.slice(7, 19)} in ${(e.ms / 1000).toFixed(1)}s: ${e.steps} steps, ${e.cached} cached\n`);
        break;
    }
  };
  const tags = flagList(p, 'tag');
  const r = await build({
    root: ctx.root,
    onWarning: ctx.warn,
    context: p.positionals[0],
    ...(flagString(p, 'file') !== undefined ? { file: flagString(p, 'file') } : {}),
    tags,
    buildArgs,
    ...(flagString(p, 'target') !== undefined ? { target: flagString(p, 'target') } : {}),
    noCache: flagBool(p, 'no-cache'),
    ...(flagString(p, 'pull') !== undefined ? { pull: flagString(p, 'pull') as 'always' | 'missing' | 'never' } : {}),
    ...(flagString(p, 'tls-verify') !== undefined ? { tlsVerify: flagString(p, 'tls-verify') !== 'false' } : {}),
    network,
    onProgress,
  });
  if (progress !== 'quiet') for (const t of r.tags) out.write(`Tagged ${t}\n`);
  ctx.out(r.id);
  return 0;
}
