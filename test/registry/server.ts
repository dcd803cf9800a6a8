/**
 * A real registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1, in a temp
 * directory, with htpasswd (bcrypt from bcryptjs) or behind a small token server (Bearer JWTs,
 * ES256, signed with a key made for the test), as peers.md section 5 describes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

export const hasRegistry = spawnSync('/bin/sh', ['-c', 'command -v docker-registry']).status === 0;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface TestRegistry {
  host: string;
  dir: string;
  /** Where blobs live: data/docker/registry/v2/blobs/sha256/xx/<hex>/data. */
  blobPath(digest: string): string;
  tokenRequests: string[];
  stop(): Promise<void>;
}

export interface RegistryOptions {
  auth: 'none' | 'htpasswd' | 'token';
  users?: Record<string, string>;
  /** Token server: users who may push (others get pull only). */
  pushers?: string[];
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

export async function startRegistry(o: RegistryOptions): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-registry-'));
  const port = await freePort();
  const lines = ['version: 0.1', 'log:', '  level: info', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`, '  delete:', '    enabled: true', 'http:', `  addr: 127.0.0.1:${port}`, `  secret: ${randomBytes(8).toString('hex')}`];
  const users = o.users ?? {};
  const tokenRequests: string[] = [];
  let tokenServer: Server | undefined;
  if (o.auth === 'htpasswd') {
    const bcrypt = createRequire(import.meta.url)('bcryptjs') as { hashSync(p: string, r: number): string };
    mkdirSync(join(dir, 'auth'));
    writeFileSync(join(dir, 'auth/htpasswd'), Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 4)}`).join('\n') + '\n');
    lines.push('auth:', '  htpasswd:', '    realm: berth-test', `    path: ${join(dir, 'auth/htpasswd')}`);
  } else if (o.auth === 'token') {
    const keyPem = join(dir, 'key.pem');
    const certPem = join(dir, 'cert.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPem, '-out', certPem, '-days', '2', '-subj', '/CN=berth-test-issuer'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
    const key = createPrivateKey(readFileSync(keyPem));
    const der = Buffer.from(readFileSync(certPem, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const tport = await freePort();
    tokenServer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${tport}`);
      tokenRequests.push(url.search);
      let user: string | undefined;
      const h = req.headers.authorization;
      if (h?.startsWith('Basic ')) {
        const [u, p] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
        if (users[u] !== p) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"wrong credentials"}');
          return;
        }
        user = u;
      }
      const access = url.searchParams.getAll('scope').flatMap((s) => {
        const [type, name, actions] = s.split(':');
        const allowed = actions.split(',').filter((a) => a === 'pull' || (a === 'push' && user !== undefined && (o.pushers ?? Object.keys(users)).includes(user)));
        return [{ type, name, actions: allowed }];
      });
      const now = Math.floor(Date.now() / 1000);
      const header = { alg: 'ES256', typ: 'JWT', x5c: [der.toString('base64')] };
      const claims = { iss: 'berth-test-issuer', sub: user ?? '', aud: 'berth-registry', exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${input}.${b64url(sig)}`, expires_in: 300, issued_at: new Date().toISOString() }));
    });
    await new Promise<void>((r) => tokenServer!.listen(tport, '127.0.0.1', () => r()));
    lines.push('auth:', '  token:', `    realm: http://127.0.0.1:${tport}/token`, '    service: berth-registry', '    issuer: berth-test-issuer', `    rootcertbundle: ${certPem}`);
  }
  writeFileSync(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`docker-registry did not start: ${log}`)), 15000);
    const onData = (d: Buffer) => {
      log += d.toString();
      if (/listening on/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`docker-registry exited ${String(code)}: ${log}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    host: `127.0.0.1:${port}`,
    dir,
    tokenRequests,
    blobPath: (digest) => {
      const hex = digest.slice(7);
      return join(dir, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    },
    stop: async () => {
      child.kill('SIGTERM');
      tokenServer?.close();
      await new Promise((r) => setTimeout(r, 50));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
