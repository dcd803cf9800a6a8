import { createInterface } from 'node:readline';
import { login } from '../../api/registry.js';
import { BerthError } from '../../errors/index.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, flagString, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'login',
  usage: 'berth login [-u USER] [-p PASSWORD | --password-stdin] [--tls-verify=false] REGISTRY',
  summary: "Check credentials against a registry and save them like docker login (config.json, or its credential helper).",
  flags: [
    { name: 'username', short: 'u', kind: 'string', value: 'USER', help: 'user name' },
    { name: 'password', short: 'p', kind: 'string', value: 'PASSWORD', help: 'password (visible in the process list: prefer --password-stdin)' },
    { name: 'password-stdin', kind: 'boolean', help: 'read the password from stdin' },
    { name: 'tls-verify', kind: 'string', value: 'true|false', help: 'false allows plain HTTP' },
  ],
};

export function tlsFlag(v: string | undefined): { tlsVerify?: boolean } {
  if (v === undefined) return {};
  if (v !== 'true' && v !== 'false') throw new BerthError('E_OPTION_INVALID', `--tls-verify=${v}: use true or false`, { hint: 'write --tls-verify=false for a registry without TLS' });
  return { tlsVerify: v === 'true' };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 1, 1);
  let username = flagString(p, 'username');
  let password = flagString(p, 'password');
  if (flagBool(p, 'password-stdin')) password = await readStdin();
  if (username === undefined || password === undefined) {
    if (!process.stdin.isTTY) throw new BerthError('E_OPTION_MISSING', 'login: a user name and a password are needed', { hint: 'pass -u USER and --password-stdin' });
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const ask = (q: string) => new Promise<string>((r) => rl.question(q, r));
    username ??= await ask('Username: ');
    password ??= await ask('Password: ');
    rl.close();
  }
  const r = await login({ registry: p.positionals[0], username, password, ...tlsFlag(flagString(p, 'tls-verify')) });
  ctx.out(`Login Succeeded (${r.registry}, saved in ${r.storedIn === 'config' ? 'the Docker config file' : `docker-credential-${r.storedIn}`})`);
  return 0;
}
