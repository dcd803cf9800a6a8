import { logout, registryHost } from '../../api/login.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'logout',
  usage: 'berth logout [REGISTRY]',
  summary: 'Remove the saved credentials of a registry (default docker.io), from config.json and its credential helper.',
  flags: [],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 0, 1);
  const registry = registryHost(p.positionals[0] ?? 'docker.io');
  const removed = await logout({ registry });
  ctx.out(removed ? `Removed login credentials for ${registry}` : `Not logged in to ${registry}`);
  return 0;
}
