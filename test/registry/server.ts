/**
 * A real registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1, in a temp
 * directory, with htpasswd (bcrypt from bcryptjs) or behind a small token server (Bearer JWTs,
 * ES256, signed with a key made for the test), as peers.md section 5 describes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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
  /** Token server: identity (refresh) tokens and the user each stands for. */
  identityTokens?: Record<string, string>;
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
    const answer = (req: IncomingMessage, res: ServerResponse, url: URL, form: URLSearchParams | undefined) => {
      tokenRequests.push(form ? `POST ${form.toString()}` : url.search);
      let user: string | undefined;
      if (form) {
        // OAuth2 refresh-token grant (docker/cli with an identity token).
        user = form.get('grant_type') === 'refresh_token' ? o.identityTokens?.[form.get('refresh_token') ?? ''] : undefined;
        if (!user) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"invalid refresh token"}');
          return;
        }
        url.searchParams.set('scope', form.get('scope') ?? '');
      }
      const h = req.headers.authorization;
      if (h?.startsWith('Basic ')) {
        const [u, p] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
        if (users[u] !== p) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"wrong credentials"}');
          return;
        }
        user = u;
      }
      const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
      const access = scopes.flatMap((s) => {
        const [type, name, actions = ''] = s.split(':');
        const allowed = actions.split(',').filter((a) => a === 'pull' || (a === 'push' && user !== undefined && (o.pushers ?? Object.keys(users)).includes(user)));
        return [{ type, name, actions: allowed }];
      });
      const now = Math.floor(Date.now() / 1000);
      const header = { alg: 'ES256', typ: 'JWT', x5c: [der.toString('base64')] };
      const claims = { iss: 'berth-test-issuer', sub: user ?? '', aud: 'berth-registry', exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
      const token = `${input}.${b64url(sig)}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(form ? { access_token: token, expires_in: 300 } : { token, expires_in: 300, issued_at: new Date().toISOString() }));
    };
    tokenServer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${tport}`);
      if (req.method !== 'POST') return answer(req, res, url, undefined);
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => answer(req, res, url, new URLSearchParams(Buffer.concat(parts).toString('utf8'))));
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

export interface ProxyOptions {
  /** Break the connection after this many body bytes of the first `cuts` large blob answers. */
  cutAfter?: number;
  cuts?: number;
  /** Drop Range headers, so the registry answers with the whole blob (200). */
  ignoreRange?: boolean;
}

export interface TestProxy {
  host: string;
  /** `METHOD path` of every request, and the Range headers seen. */
  requests: string[];
  ranges: string[];
  /** How many answers were cut. */
  cut(): number;
  stop(): Promise<void>;
}

/** An HTTP proxy on 127.0.0.1 in front of a registry: it logs requests and can break blob answers. */
export async function startProxy(target: string, o: ProxyOptions = {}): Promise<TestProxy> {
  const [thost, tport] = target.split(':');
  const requests: string[] = [];
  const ranges: string[] = [];
  let cuts = 0;
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const headers = { ...req.headers, host: target };
    if (req.headers.range) ranges.push(req.headers.range);
    if (o.ignoreRange) delete headers.range;
    const up = httpRequest({ host: thost, port: Number(tport), path: req.url, method: req.method, headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      const blob = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '') && ur.statusCode === 200 && Number(ur.headers['content-length'] ?? 0) > (o.cutAfter ?? Infinity);
      if (blob && cuts < (o.cuts ?? 1)) {
        cuts++;
        let sent = 0;
        ur.on('data', (c: Buffer) => {
          if (sent >= o.cutAfter!) return;
          const part = c.subarray(0, o.cutAfter! - sent);
          sent += part.length;
          res.write(part);
          if (sent >= o.cutAfter!) res.socket?.destroy();
        });
      } else ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${port}`,
    requests,
    ranges,
    cut: () => cuts,
    stop: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
