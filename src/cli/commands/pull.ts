import { pullImage, type PullEvent } from '../../api/pull.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, flagString, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { tlsFlag } from './login.js';

export const spec: CommandSpec = {
  name: 'pull',
  usage: 'berth pull [--quiet | --json] [--tls-verify=false] [--no-unpack] NAME[:TAG|@DIGEST]',
  summary: 'Pull an image from a registry: the host platform of an index, every blob verified, layers in parallel and resumed after a cut, unpacked for run as they arrive.',
  flags: [
    { name: 'quiet', short: 'q', kind: 'boolean', help: 'print only the image digest' },
    { name: 'json', kind: 'boolean', help: 'print one JSON event per line (resolved, layer-start, layer-progress, layer-done, unpacked, done)' },
    { name: 'tls-verify', kind: 'string', value: 'true|false', help: 'false accepts plain HTTP and unverified certificates (default: verified HTTPS; loopback registries are insecure)' },
    { name: 'no-unpack', kind: 'boolean', help: 'only store the image; do not unpack it into the rootfs cache run uses' },
  ],
};

const short = (d: string) => d.slice(7, 19);
const mb = (n: number) => (n / 1e6).toFixed(1);

/**
 * Per-layer progress. On a terminal one line per layer is redrawn in place (bytes, rate); else a
 * line is printed when a layer starts and when it is done, so logs stay readable.
 */
class Progress {
  private readonly layers = new Map<string, { size: number; received: number; t0: number; state: string }>();
  private drawn = 0;
  private lastDraw = 0;

  constructor(private readonly err: NodeJS.WritableStream, private readonly tty: boolean) {}

  on(e: PullEvent): void {
    const now = Date.now();
    if (e.type === 'resolved') {
      this.err.write(`${e.reference}: ${e.layers} layer${e.layers === 1 ? '' : 's'}, ${mb(e.size)} MB, ${e.platform}, manifest ${short(e.manifest)}\n`);
      return;
    }
    if (e.type === 'layer-start') {
      this.layers.set(e.digest, { size: e.size, received: 0, t0: now, state: 'downloading' });
      if (!this.tty) this.err.write(`${short(e.digest)}: downloading ${mb(e.size)} MB\n`);
    } else if (e.type === 'layer-progress') {
      const l = this.layers.get(e.digest);
      if (l) l.received = e.received;
      if (!this.tty || now - this.lastDraw < 100) return;
    } else if (e.type === 'layer-done') {
      const line = e.skipped ? 'already stored' : `${mb(e.size)} MB in ${(e.ms / 1000).toFixed(1)} s (${mb(e.size / Math.max(e.ms / 1000, 0.001))} MB/s)`;
      const l = this.layers.get(e.digest) ?? { size: e.size, received: e.size, t0: now, state: '' };
      l.state = line;
      l.received = e.size;
      this.layers.set(e.digest, l);
      if (!this.tty) this.err.write(`${short(e.digest)}: ${line}\n`);
    } else if (e.type === 'unpacked') {
      this.draw(now);
      this.drawn = 0;
      this.err.write(`unpacked, ${(e.ms / 1000).toFixed(1)} s after the first layer started\n`);
      return;
    } else return;
    if (this.tty) this.draw(now);
  }

  private draw(now: number): void {
    if (!this.tty) return;
    this.lastDraw = now;
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const [digest, l] of this.layers) {
      const secs = Math.max((now - l.t0) / 1000, 0.001);
      const line = l.state !== 'downloading' ? l.state : `downloading ${mb(l.received)}/${mb(l.size)} MB, ${mb(l.received / secs)} MB/s`;
      text += `\x1b[2K${short(digest)}: ${line}\n`;
    }
    this.drawn = this.layers.size;
    this.err.write(text);
  }
}

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 1, 1);
  const json = flagBool(p, 'json');
  const quiet = flagBool(p, 'quiet');
  const progress = new Progress(ctx.stderr, (ctx.stderr as { isTTY?: boolean }).isTTY === true);
  const r = await pullImage({
    root: ctx.root,
    onWarning: ctx.warn,
    reference: p.positionals[0],
    ...tlsFlag(flagString(p, 'tls-verify')),
    unpack: !flagBool(p, 'no-unpack'),
    onProgress: (e) => {
      if (json) ctx.stdout.write(`${JSON.stringify(e)}\n`);
      else if (!quiet) progress.on(e);
    },
  });
  if (!json) ctx.out(quiet ? r.digest : `${r.reference} ${r.digest}`);
  return 0;
}
