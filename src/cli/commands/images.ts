import { listImages } from '../../api/images.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'images',
  usage: 'berth images [--json] [--digests]',
  summary: 'List images in the store.',
  flags: [
    { name: 'json', kind: 'boolean', help: 'print JSON' },
    { name: 'digests', kind: 'boolean', help: 'show manifest digests' },
    { name: 'quiet', short: 'q', kind: 'boolean', help: 'print image IDs only' },
  ],
};

function ago(iso: string | undefined): string {
  if (!iso) return '';
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (!Number.isFinite(s)) return '';
  if (s < 60) return 'Less than a minute ago';
  if (s < 3600) return `${Math.floor(s / 60)} minutes ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} hours ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

function human(n: number): string {
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)}${u[i]}`;
}

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 0, 0);
  const images = await listImages({ root: ctx.root, onWarning: ctx.warn });
  if (flagBool(p, 'json')) {
    ctx.json(images);
    return 0;
  }
  if (flagBool(p, 'quiet')) {
    for (const id of new Set(images.map((i) => i.id.split(':')[1].slice(0, 12)))) ctx.out(id);
    return 0;
  }
  const rows = [['REPOSITORY', 'TAG', ...(flagBool(p, 'digests') ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE']];
  for (const i of images) {
    const fam = i.familiar ?? '<none>:<none>';
    const at = fam.lastIndexOf(':');
    const repo = at > 0 && !fam.slice(at).includes('/') ? fam.slice(0, at) : fam;
    const tag = at > 0 && !fam.slice(at).includes('/') ? fam.slice(at + 1) : '<none>';
    rows.push([repo, tag, ...(flagBool(p, 'digests') ? [i.digest] : []), i.id.split(':')[1].slice(0, 12), ago(i.created), human(i.size)]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) ctx.out(r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]))).join('   '));
  return 0;
}
