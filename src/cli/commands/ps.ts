import { listContainers } from '../../api/run.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'ps',
  usage: 'berth ps [--all] [--json] [--quiet]',
  summary: 'List containers: running ones, and with --all also those kept after exit (run without --rm).',
  flags: [
    { name: 'all', short: 'a', kind: 'boolean', help: 'also list exited containers' },
    { name: 'json', kind: 'boolean', help: 'print JSON' },
    { name: 'quiet', short: 'q', kind: 'boolean', help: 'print container IDs only' },
  ],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 0, 0);
  const all = await listContainers({ root: ctx.root, onWarning: ctx.warn });
  const shown = flagBool(p, 'all') ? all : all.filter((c) => c.status === 'running');
  if (flagBool(p, 'json')) {
    ctx.json(shown);
    return 0;
  }
  if (flagBool(p, 'quiet')) {
    for (const c of shown) ctx.out(c.id.slice(0, 12));
    return 0;
  }
  const rows = [['CONTAINER ID', 'IMAGE', 'CREATED', 'STATUS', 'NAMES']];
  for (const c of shown) {
    const status = c.status === 'running' ? 'Up' : `Exited (${c.exitCode ?? '?'})`;
    rows.push([c.id.slice(0, 12), c.image, c.created, status, c.name]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) ctx.out(r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]))).join('   '));
  return 0;
}
