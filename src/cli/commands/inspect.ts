import { inspectImage } from '../../api/images.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'inspect',
  usage: 'berth inspect IMAGE...',
  summary: 'Show each image\'s reference, ID (config digest), manifest digest, manifest and config as JSON.',
  flags: [],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 1);
  const out = [];
  for (const image of p.positionals) out.push(await inspectImage({ root: ctx.root, onWarning: ctx.warn, image }));
  ctx.json(out);
  return 0;
}
