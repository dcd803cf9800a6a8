import { logout } from '../../api/registry.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'logout',
  usage: 'berth logout REGISTRY',
  summary: 'Remove the saved credentials of a registry.',
  flags: [],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 1, 1);
  const removed = await logout({ registry: p.positionals[0] });
  ctx.out(removed ? `Removed login credentials for ${p.positionals[0]}` : `Not logged in to ${p.positionals[0]}`);
  return 0;
}
