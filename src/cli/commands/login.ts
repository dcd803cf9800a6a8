import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { login, registryHost } from '../../api/login.js';
import { BerthError } from '../../errors/index.js';
import type { CommandSpec } from '../args.js';
import { expectPositionals, flagBool, flagString, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'login',
  usage: 'berth login [-u USER] [-p PASSWORD | --password-stdin] [--tls-verify=false] [REGISTRY]',
  summary: 'Check credentials against a registry (default docker.io) and save them like docker login: in config.json (0600), or in its credential helper.',
  flags: [
    { name: 'username', short: 'u', kind: 'string', value: 'USER', help: 'user name' },
    { name: 'password', short: 'p', kind: 'string', value: 'PASSWORD', help: 'password (visible in the process list: prefer --password-stdin)' },
    { name: 'password-stdin', kind: 'boolean', help: 'read the password from stdin' },
    { name: 'tls-verify', kind: 'string', value: 'true|false', help: 'false accepts plain HTTP and unverified certificates' },
  ],
};

export function tlsFlag(v: string | undefined): { tlsVerify?: boolean } {
  if (v === undefined) return {};
  if (v !== 'true' && v !== 'false') throw new BerthError('E_OPTION_INVALID', `--tls-verify=${v}: use true or false`, { hint: 'write --tls-verify=false for a registry without TLS or with a certificate you cannot verify' });
  return { tlsVerify: v === 'true' };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks on the terminal; with `secret`, what is typed is not echoed. */
async function ask(question: string, secret: boolean): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    process.stderr.write(question);
    muted = secret;
    return await new Promise<string>((r) => rl.question('', r));
  } finally {
    rl.close();
    if (secret) process.stderr.write('\n');
  }
}

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  expectPositionals(spec, p, 0, 1);
  let username = flagString(p, 'username');
  let password = flagString(p, 'password');
  if (flagBool(p, 'password-stdin')) {
    if (password !== undefined) throw new BerthError('E_OPTION_INVALID', 'login: --password and --password-stdin exclude each other', { hint: 'prefer --password-stdin' });
    if (username === undefined) throw new BerthError('E_OPTION_MISSING', 'login: --password-stdin needs --username', { hint: 'pass -u USER' });
    password = await readStdin();
  }
  if (username === undefined || password === undefined) {
    if (!process.stdin.isTTY) throw new BerthError('E_OPTION_MISSING', 'login: a user name and a password are needed', { hint: 'pass -u USER and --password-stdin' });
    username ??= (await ask('Username: ', false)).trim();
    password ??= await ask('Password: ', true);
  }
  const registry = registryHost(p.positionals[0] ?? 'docker.io');
  const r = await login({ registry, username, password, ...tlsFlag(flagString(p, 'tls-verify')) });
  ctx.out(`Login Succeeded (${r.registry}, saved in ${r.storedIn === 'config' ? 'the Docker config file' : `docker-credential-${r.storedIn}`})`);
  return 0;
}
