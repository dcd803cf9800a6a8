import { collectGarbage } from '../../api/images.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'gc',
  usage: 'berth gc [--json]',
  summary: 'Remove blobs, layer metadata and leftover temporary files that no image refers to.',
  flags: [{ name: 'json', kind: 'boolean', help: 'print JSON' }],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 0, 0);
  const r = await collectGarbage({ root: ctx.root, onWarning: ctx.warn });
  if (flagBool(p, 'json')) ctx.json(r);
  else ctx.out(`removed ${r.removedBlobs} blobs (${r.freedBytes} bytes)`);
  return 0;
}
