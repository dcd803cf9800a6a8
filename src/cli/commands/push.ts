import { pushImage } from '../../api/push.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, flagString, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { tlsFlag } from './login.js';

export const spec: CommandSpec = {
  name: 'push',
  usage: 'berth push [--quiet | --json] [--tls-verify=false] IMAGE [DESTINATION]',
  summary: 'Push an image to a registry: the blobs it lacks (mounted from another repository when possible), then the manifest as stored.',
  flags: [
    { name: 'quiet', short: 'q', kind: 'boolean', help: 'print only the manifest digest' },
    { name: 'json', kind: 'boolean', help: 'print one JSON event per line' },
    { name: 'tls-verify', kind: 'string', value: 'true|false', help: 'false accepts plain HTTP and unverified certificates' },
  ],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 1, 2);
  const quiet = flagBool(p, 'quiet');
  const json = flagBool(p, 'json');
  const r = await pushImage({
    root: ctx.root,
    onWarning: ctx.warn,
    image: p.positionals[0],
    ...(p.positionals[1] !== undefined ? { destination: p.positionals[1] } : {}),
    ...tlsFlag(flagString(p, 'tls-verify')),
    onProgress: (e) => {
      if (json) ctx.stdout.write(`${JSON.stringify(e)}\n`);
      else if (!quiet && e.type === 'blob') ctx.stderr.write(`${e.digest.slice(7, 19)}: ${e.mounted ? 'mounted' : e.skipped ? 'already there' : `pushed ${(e.size / 1e6).toFixed(1)} MB`}\n`);
    },
  });
  if (!json) ctx.out(quiet ? r.digest : `${r.reference} ${r.digest}`);
  return 0;
}
