import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { RegistryClient, registryErrorText } from '../../src/registry/client.js';
import { TokenCache } from '../../src/registry/auth.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A fake registry on 127.0.0.1: every request is logged, then answered by `handle`. */
async function fake(handle: Handler, tls?: { key: Buffer; cert: Buffer }): Promise<{ host: string; log: string[]; headers: IncomingMessage['headers'][]; close: () => Promise<void> }> {
  const log: string[] = [];
  const headers: IncomingMessage['headers'][] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      log.push(`${req.method} ${req.url}`);
      headers.push(req.headers);
      handle(req, res, Buffer.concat(parts));
    });
  };
  const server: Server = tls ? createHttpsServer(tls, listener) : createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    headers,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const json = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('registryErrorText', () => {
  const cases: [string, string, string][] = [
    ['the errors list', '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"},{"code":"X","message":"y"}]}', 'MANIFEST_UNKNOWN: manifest unknown; X: y'],
    ['plain text', '  404 page\n not found ', '404 page not found'],
    ['JSON without errors', '{"details":"nope"}', '{"details":"nope"}'],
  ];
  for (const [name, body, want] of cases) test(name, () => assert.equal(registryErrorText(body), want));
});

describe('RegistryClient', () => {
  test('Basic: the ping learns the challenge, so later requests carry the credentials at once', async () => {
    const reg = await fake((req, res) => {
      if (req.headers.authorization !== basic('u', 'p')) return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'www-authenticate': 'Basic realm="test"' });
      json(res, 200, {}, { 'docker-content-digest': 'sha256:x' });
    });
    try {
      const c = new RegistryClient(reg.host, { credentials: { username: 'u', password: 'p' } });
      const r = await c.request('GET', '/v2/a/manifests/1');
      assert.equal(r.status, 200);
      r.discard();
      assert.deepEqual(reg.log, ['GET /v2/', 'GET /v2/a/manifests/1']);
    } finally {
      await reg.close();
    }
  });

  const authFailures: [string, { username: string; password: string } | undefined, RegExp][] = [
    ['no credentials', undefined, /needs credentials/],
    ['wrong credentials', { username: 'u', password: 'wrong' }, /user name or password was not accepted/],
  ];
  for (const [name, credentials, message] of authFailures) {
    test(`Basic, ${name}: E_REGISTRY_AUTH with a hint to log in`, async () => {
      const reg = await fake((req, res) => {
        if (req.headers.authorization !== basic('u', 'p')) return json(res, 401, {}, { 'www-authenticate': 'Basic realm="test"' });
        json(res, 200, {});
      });
      try {
        const c = new RegistryClient(reg.host, credentials ? { credentials, configPath: '/nonexistent/config.json' } : { configPath: '/nonexistent/config.json' });
        await assert.rejects(c.request('GET', '/v2/a/manifests/1'), (e: { code?: string; message: string; hint?: string }) => e.code === 'E_REGISTRY_AUTH' && message.test(e.message) && /berth login/.test(e.hint ?? ''));
      } finally {
        await reg.close();
      }
    });
  }

  test('Bearer: one token per scope, reused across requests; push asks for pull,push', async () => {
    const tokens: string[] = [];
    const auth = await fake((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      tokens.push(url.searchParams.getAll('scope').join(' '));
      if (req.headers.authorization !== basic('u', 'p')) return json(res, 401, {});
      json(res, 200, { token: `tok:${url.searchParams.getAll('scope').join(' ')}`, expires_in: 300 });
    });
    const reg = await fake((req, res) => {
      const challenge = `Bearer realm="http://${auth.host}/token",service="reg"`;
      const want = req.url?.includes('/manifests/') && req.method === 'PUT' ? 'tok:repository:a:pull,push' : undefined;
      const got = req.headers.authorization;
      if (!got || (want && got !== `Bearer ${want}`)) return json(res, 401, {}, { 'www-authenticate': want && got ? `${challenge},scope="repository:a:pull,push",error="insufficient_scope"` : challenge });
      json(res, req.method === 'PUT' ? 201 : 200, {});
    });
    try {
      const c = new RegistryClient(reg.host, { credentials: { username: 'u', password: 'p' } });
      for (let i = 0; i < 3; i++) (await c.request('GET', `/v2/a/manifests/${i}`, { scope: 'repository:a:pull' })).discard();
      (await c.request('PUT', '/v2/a/manifests/1', { scope: 'repository:a:pull,push', body: '{}' })).discard();
      assert.deepEqual(tokens, ['repository:a:pull', 'repository:a:pull,push']);
    } finally {
      await reg.close();
      await auth.close();
    }
  });

  test('Bearer with an identity token: a refresh_token form POST, as docker does', async () => {
    let form: URLSearchParams | undefined;
    const auth = await fake((req, res, body) => {
      if (req.method !== 'POST') return json(res, 405, {});
      form = new URLSearchParams(body.toString());
      json(res, 200, { access_token: 'acc' });
    });
    const reg = await fake((req, res) => {
      if (req.headers.authorization !== 'Bearer acc') return json(res, 401, {}, { 'www-authenticate': `Bearer realm="http://${auth.host}/token",service="reg"` });
      json(res, 200, {});
    });
    try {
      const c = new RegistryClient(reg.host, { credentials: { identityToken: 'refresh-me' } });
      (await c.request('GET', '/v2/a/manifests/1', { scope: 'repository:a:pull' })).discard();
      assert.equal(form?.get('grant_type'), 'refresh_token');
      assert.equal(form?.get('refresh_token'), 'refresh-me');
      assert.equal(form?.get('service'), 'reg');
      assert.equal(form?.get('scope'), 'repository:a:pull');
    } finally {
      await reg.close();
      await auth.close();
    }
  });

  test('429 and 5xx are retried with backoff; then the answer is returned', async () => {
    let n = 0;
    const reg = await fake((req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      n++;
      if (n === 1) return json(res, 503, { errors: [{ code: 'UNAVAILABLE', message: 'busy' }] });
      if (n === 2) return json(res, 429, {});
      json(res, 200, { ok: true });
    });
    try {
      const c = new RegistryClient(reg.host, { backoffMs: 5 });
      const r = await c.request('GET', '/v2/a/manifests/1');
      assert.deepEqual(JSON.parse(await r.text()), { ok: true });
      assert.equal(n, 3);
    } finally {
      await reg.close();
    }
  });

  const failures: [string, number, unknown, string, RegExp][] = [
    ['404: E_REGISTRY_NOT_FOUND with the registry message', 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }, 'E_REGISTRY_NOT_FOUND', /MANIFEST_UNKNOWN: manifest unknown/],
    ['403: E_REGISTRY_AUTH', 403, { errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] }, 'E_REGISTRY_AUTH', /access denied \(DENIED: requested access/],
    ['400: E_REGISTRY_REQUEST', 400, { errors: [{ code: 'MANIFEST_INVALID', message: 'manifest invalid' }] }, 'E_REGISTRY_REQUEST', /400 MANIFEST_INVALID/],
    ['503 every time: E_REGISTRY_UNAVAILABLE', 503, {}, 'E_REGISTRY_UNAVAILABLE', /503/],
  ];
  for (const [name, status, body, code, message] of failures) {
    test(name, async () => {
      const reg = await fake((req, res) => (req.url === '/v2/' ? json(res, 200, {}) : json(res, status, body)));
      try {
        const c = new RegistryClient(reg.host, { backoffMs: 1, attempts: 2 });
        await assert.rejects(c.request('GET', '/v2/a/manifests/1'), (e: { code?: string; message: string }) => e.code === code && message.test(e.message));
      } finally {
        await reg.close();
      }
    });
  }

  test('a refused connection is E_REGISTRY_UNREACHABLE at once', async () => {
    const reg = await fake(() => undefined);
    const host = reg.host;
    await reg.close();
    const t0 = Date.now();
    await assert.rejects(new RegistryClient(host).request('GET', '/v2/a/manifests/1'), (e: { code?: string }) => e.code === 'E_REGISTRY_UNREACHABLE');
    assert.ok(Date.now() - t0 < 5000);
  });

  test('a blob redirected to storage elsewhere: followed, without the registry credentials', async () => {
    const storage = await fake((req, res) => res.writeHead(200, { 'content-length': '5' }).end('bytes'));
    const reg = await fake((req, res) => {
      if (req.headers.authorization !== basic('u', 'p')) return json(res, 401, {}, { 'www-authenticate': 'Basic realm="r"' });
      if (req.url === '/v2/') return json(res, 200, {});
      res.writeHead(307, { location: `http://${storage.host}/signed?sig=1`, 'content-length': '0' }).end();
    });
    try {
      const c = new RegistryClient(reg.host, { credentials: { username: 'u', password: 'p' } });
      const r = await c.getBlob('/v2/a/blobs/sha256:00', { scope: 'repository:a:pull' });
      const parts: Buffer[] = [];
      for await (const b of r.body) parts.push(b);
      assert.equal(Buffer.concat(parts).toString(), 'bytes');
      assert.deepEqual(storage.log, ['GET /signed?sig=1']);
      assert.equal(storage.headers[0].authorization, undefined);
    } finally {
      await reg.close();
      await storage.close();
    }
  });

  describe('TLS', () => {
    let dir: string;
    let tls: { key: Buffer; cert: Buffer };
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'berth-tls-'));
      const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('an untrusted certificate with --tls-verify=true is E_REGISTRY_TLS with a hint', async () => {
      const reg = await fake((req, res) => json(res, 200, {}), tls);
      try {
        await assert.rejects(new RegistryClient(reg.host, { tlsVerify: true }).request('GET', '/v2/a/manifests/1'), (e: { code?: string; hint?: string }) => e.code === 'E_REGISTRY_TLS' && /--tls-verify=false/.test(e.hint ?? ''));
      } finally {
        await reg.close();
      }
    });

    test('an insecure registry (loopback, or --tls-verify=false) is spoken to over HTTPS without verification', async () => {
      const reg = await fake((req, res) => json(res, 200, { over: 'https' }), tls);
      try {
        for (const opts of [{}, { tlsVerify: false }]) {
          const r = await new RegistryClient(reg.host, opts).request('GET', '/v2/a/manifests/1');
          assert.deepEqual(JSON.parse(await r.text()), { over: 'https' });
        }
      } finally {
        await reg.close();
      }
    });

    test('an insecure registry without TLS is spoken to in plain HTTP', async () => {
      const reg = await fake((req, res) => json(res, 200, { over: 'http' }));
      try {
        const r = await new RegistryClient(reg.host).request('GET', '/v2/a/manifests/1');
        assert.deepEqual(JSON.parse(await r.text()), { over: 'http' });
      } finally {
        await reg.close();
      }
    });
  });
});

describe('TokenCache', () => {
  test('a token is reused until shortly before it expires, then asked for again', async () => {
    let issued = 0;
    let clock = Date.parse('2030-01-01T00:00:00Z');
    const auth = await fake((req, res) => json(res, 200, { token: `t${++issued}`, expires_in: 60, issued_at: new Date(clock).toISOString() }));
    try {
      const cache = new TokenCache();
      const ch = { scheme: 'bearer' as const, params: { realm: `http://${auth.host}/token`, service: 's' } };
      const o = { insecure: false, now: () => clock };
      assert.equal(await cache.token(ch, 'repository:a:pull', undefined, o), 't1');
      clock += 50_000;
      assert.equal(await cache.token(ch, 'repository:a:pull', undefined, o), 't1');
      assert.equal(await cache.token(ch, 'repository:b:pull', undefined, o), 't2', 'another scope, another token');
      clock += 6_000;
      assert.equal(await cache.token(ch, 'repository:a:pull', undefined, o), 't3', 'expiring within 5 s: renewed');
      cache.forget(ch, 'repository:a:pull');
      assert.equal(await cache.token(ch, 'repository:a:pull', undefined, o), 't4');
    } finally {
      await auth.close();
    }
  });

  const refusals: [string, number, unknown, string][] = [
    ['401 from the token server', 401, {}, 'E_REGISTRY_AUTH'],
    ['no token in the answer', 200, { nothing: true }, 'E_REGISTRY_AUTH'],
  ];
  for (const [name, status, body, code] of refusals) {
    test(name, async () => {
      const auth = await fake((req, res) => json(res, status, body));
      try {
        const ch = { scheme: 'bearer' as const, params: { realm: `http://${auth.host}/token` } };
        await assert.rejects(new TokenCache().token(ch, 's', { username: 'u', password: 'p' }, { insecure: false }), (e: { code?: string }) => e.code === code);
      } finally {
        await auth.close();
      }
    });
  }

  test('a plain-HTTP realm off the loopback is refused unless insecure', async () => {
    const ch = { scheme: 'bearer' as const, params: { realm: 'http://auth.example.invalid/token' } };
    await assert.rejects(new TokenCache().token(ch, 's', undefined, { insecure: false }), (e: { code?: string }) => e.code === 'E_REGISTRY_TLS');
  });
});
