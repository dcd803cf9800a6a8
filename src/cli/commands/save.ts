import { BerthError } from '../../errors/index.js';
import { saveImages, type ArchiveFormat } from '../../api/save.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagString, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'save',
  usage: 'berth save [-o FILE] [--format docker-archive|oci-archive] IMAGE...',
  summary: 'Write images to an archive that `docker load`, `podman load` and `berth load` read. Writes stdout without -o (refused on a terminal).',
  flags: [
    { name: 'output', short: 'o', kind: 'string', value: 'FILE', help: 'archive to write' },
    { name: 'format', kind: 'string', value: 'FORMAT', help: 'docker-archive (default) or oci-archive' },
  ],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 1);
  const format = (flagString(p, 'format') ?? 'docker-archive') as ArchiveFormat;
  const output = flagString(p, 'output');
  if (!output && process.stdout.isTTY) {
    throw new BerthError('E_CLI_USAGE', 'berth save: refusing to write an archive to a terminal', { hint: 'use -o FILE or redirect stdout' });
  }
  await saveImages({ root: ctx.root, onWarning: ctx.warn, images: p.positionals, output: output ?? process.stdout, format });
  return 0;
}
