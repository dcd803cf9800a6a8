import { unpackImage } from '../../api/unpack.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'unpack',
  usage: 'berth unpack [--json] IMAGE DIR',
  summary:
    'Apply the image\'s layers in order into DIR (new or empty): whiteouts, hardlinks, owners, modes, xattrs and file capabilities, mtimes, devices when permitted. As a plain user, keeps what it can and warns once per kind of loss.',
  flags: [{ name: 'json', kind: 'boolean', help: 'print per-layer statistics as JSON' }],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 2, 2);
  const r = await unpackImage({ root: ctx.root, onWarning: ctx.warn, image: p.positionals[0], target: p.positionals[1] });
  if (flagBool(p, 'json')) ctx.json(r);
  return 0;
}
