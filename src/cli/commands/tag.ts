import { tagImage } from '../../api/images.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'tag',
  usage: 'berth tag SOURCE TARGET[:TAG]',
  summary: 'Give an image (name, ID or digest) another name.',
  flags: [],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 2, 2);
  await tagImage({ root: ctx.root, onWarning: ctx.warn, source: p.positionals[0], target: p.positionals[1] });
  return 0;
}
