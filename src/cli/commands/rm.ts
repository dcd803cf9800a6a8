import { removeContainers } from '../../api/run.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'rm',
  usage: 'berth rm [--force] CONTAINER...',
  summary: 'Remove containers kept after exit (by name or ID); --force also stops running ones.',
  flags: [{ name: 'force', short: 'f', kind: 'boolean', help: 'kill running containers first' }],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 1);
  const removed = await removeContainers({ root: ctx.root, onWarning: ctx.warn, containers: p.positionals, force: flagBool(p, 'force') });
  for (const id of removed) ctx.out(id);
  return 0;
}
