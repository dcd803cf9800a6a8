import { removeImages } from '../../api/images.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'rmi',
  usage: 'berth rmi [--force] IMAGE...',
  summary: 'Remove image names; an image whose last name is removed is deleted and its blobs collected.',
  flags: [{ name: 'force', short: 'f', kind: 'boolean', help: 'remove an image by ID even when several names point at it' }],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 1);
  const res = await removeImages({ root: ctx.root, onWarning: ctx.warn, images: p.positionals, force: flagBool(p, 'force') });
  for (const r of res) {
    for (const u of r.untagged ?? []) ctx.out(`Untagged: ${u}`);
    for (const d of r.deleted ?? []) ctx.out(`Deleted: ${d}`);
  }
  return 0;
}
