import { loadArchive } from '../../api/load.js';
import { familiarName } from '../../oci/index.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, flagString, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'load',
  usage: 'berth load [-i FILE]',
  summary: 'Load images from a docker-archive (`docker save`) or an oci-archive; the format is detected. Reads stdin without -i.',
  flags: [
    { name: 'input', short: 'i', kind: 'string', value: 'FILE', help: 'archive to read (default: stdin)' },
    { name: 'json', kind: 'boolean', help: 'print the result as JSON' },
  ],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 0, 0);
  const r = await loadArchive({ root: ctx.root, onWarning: ctx.warn, input: flagString(p, 'input') ?? '-' });
  if (flagBool(p, 'json')) {
    ctx.json(r);
    return 0;
  }
  for (const img of r.images) {
    if (img.references.length === 0) ctx.out(`Loaded image ID: ${img.id}`);
    for (const ref of img.references) ctx.out(`Loaded image: ${familiarName(ref)}`);
  }
  return 0;
}
