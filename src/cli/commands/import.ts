import { importImage } from '../../api/import.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, flagList, flagString, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'import',
  usage: "berth import [--change 'INSTRUCTION']... SOURCE NAME[:TAG]",
  summary:
    'Create a one-layer image from a rootfs directory (owners, modes, xattrs incl. file capabilities, hardlinks, devices, FIFOs read from disk), a tarball (plain, gzip or zstd), or - for stdin.',
  flags: [
    { name: 'change', short: 'c', kind: 'multi', value: 'INSTRUCTION', help: 'apply a Dockerfile instruction to the config: USER, WORKDIR, ENV, CMD, ENTRYPOINT, LABEL, EXPOSE, VOLUME, STOPSIGNAL' },
    { name: 'message', short: 'm', kind: 'string', value: 'TEXT', help: 'commit message for the history' },
    { name: 'json', kind: 'boolean', help: 'print the result as JSON' },
  ],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 2, 2);
  const [source, reference] = p.positionals;
  const r = await importImage({ root: ctx.root, onWarning: ctx.warn, source, reference, changes: flagList(p, 'change'), message: flagString(p, 'message') });
  if (flagBool(p, 'json')) ctx.json(r);
  else ctx.out(r.id);
  return 0;
}
