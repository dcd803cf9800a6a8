import { pullImage, type PullEvent } from '../../api/registry.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, flagString, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { tlsFlag } from './login.js';

export const spec: CommandSpec = {
  name: 'pull',
  usage: 'berth pull [--quiet] [--json] [--tls-verify=false] [--no-unpack] NAME[:TAG|@DIGEST]',
  summary: 'Pull an image from a registry: the host platform of an index, every blob verified, layers in parallel, resumed after a cut; unpacked for run.',
  flags: [
    { name: 'quiet', short: 'q', kind: 'boolean', help: 'print only the image digest' },
    { name: 'json', kind: 'boolean', help: 'print one JSON event per line' },
    { name: 'tls-verify', kind: 'string', value: 'true|false', help: 'false allows plain HTTP (default: HTTPS, plain HTTP only on the loopback)' },
    { name: 'no-unpack', kind: 'boolean', help: 'do not unpack into the rootfs cache' },
  ],
};

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 1, 1);
  const json = flagBool(p, 'json');
  const quiet = flagBool(p, 'quiet');
  const rates = new Map<string, number>();
  const onProgress = (e: PullEvent) => {
    if (json) return ctx.stdout.write(`${JSON.stringify(e)}\n`);
    if (quiet) return;
    const short = (d: string) => d.slice(7, 19);
    if (e.type === 'resolved') ctx.stderr.write(`${e.reference}: ${e.layers} layers, manifest ${short(e.digest)}\n`);
    else if (e.type === 'layer-start') rates.set(e.digest, Date.now());
    else if (e.type === 'layer-done') {
      const mb = e.size / 1e6;
      ctx.stderr.write(e.skipped ? `${short(e.digest)}: already stored\n` : `${short(e.digest)}: ${mb.toFixed(1)} MB in ${(e.ms / 1000).toFixed(1)} s (${(mb / Math.max(e.ms / 1000, 0.001)).toFixed(1)} MB/s)\n`);
    } else if (e.type === 'unpacked') ctx.stderr.write(`unpacked in ${(e.ms / 1000).toFixed(1)} s\n`);
    return undefined;
  };
  const r = await pullImage({
    root: ctx.root,
    onWarning: ctx.warn,
    reference: p.positionals[0],
    ...tlsFlag(flagString(p, 'tls-verify')),
    unpack: !flagBool(p, 'no-unpack'),
    onProgress,
  });
  if (!json) ctx.out(quiet ? r.digest : `${r.reference} ${r.digest}`);
  return 0;
}
