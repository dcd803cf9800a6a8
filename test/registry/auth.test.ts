import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryHost } from '../../src/api/login.js';
import { configKey, eraseCredentials, isLocal, lookupCredentials, parseChallenge, storeCredentials } from '../../src/registry/auth.js';

describe('parseChallenge', () => {
  const cases: [string, ReturnType<typeof parseChallenge>][] = [
    ['Basic realm="berth-test"', { scheme: 'basic', params: { realm: 'berth-test' } }],
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"',
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:samalba/my-app:pull,push' } },
    ],
    ['Bearer realm="r",error="insufficient_scope"', { scheme: 'bearer', params: { realm: 'r', error: 'insufficient_scope' } }],
    ['bearer realm=r, service=s', { scheme: 'bearer', params: { realm: 'r', service: 's' } }],
    ['Negotiate abc', undefined],
  ];
  for (const [h, want] of cases) test(h, () => assert.deepEqual(parseChallenge(h), want));

  test('quoted values come back as they were written, whatever they contain', () => {
    const value = fc.string({ maxLength: 40 }).filter((v) => !/[\x00-\x1f]/.test(v));
    fc.assert(
      fc.property(fc.constantFrom('Basic', 'Bearer', 'bearer'), fc.dictionary(fc.constantFrom('realm', 'service', 'scope', 'error'), value, { minKeys: 1 }), fc.constantFrom(',', ', ', ' ,'), (scheme, params, sep) => {
        const header = `${scheme} ${Object.entries(params).map(([k, v]) => `${k}="${v.replace(/["\\]/g, '\\$&')}"`).join(sep)}`;
        assert.deepEqual(parseChallenge(header), { scheme: scheme.toLowerCase(), params: { ...params } });
      }),
    );
  });
});

describe('credentials in the Docker config file', () => {
  const withConfig = async (cfg: unknown, fn: (path: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-auth-'));
    try {
      const path = join(dir, 'config.json');
      if (cfg !== undefined) writeFileSync(path, JSON.stringify(cfg));
      await fn(path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test('auths by host, by https://host/path, and Docker Hub under its v1 key', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    await withConfig({ auths: { 'reg.example:5000': { auth: b64('a:1') }, 'https://other.example/v2/': { auth: b64('b:2:with:colons') }, 'https://index.docker.io/v1/': { identitytoken: 'tok' } } }, async (p) => {
      assert.deepEqual(await lookupCredentials('reg.example:5000', p), { username: 'a', password: '1' });
      assert.deepEqual(await lookupCredentials('other.example', p), { username: 'b', password: '2:with:colons' });
      assert.deepEqual(await lookupCredentials('docker.io', p), { identityToken: 'tok' });
      assert.equal(await lookupCredentials('nobody.example', p), undefined);
    });
  });

  test('a missing file means anonymous; a damaged one is E_REGISTRY_CONFIG', async () => {
    await withConfig(undefined, async (p) => assert.equal(await lookupCredentials('x', p), undefined));
    await withConfig(undefined, async (p) => {
      writeFileSync(p, '{not json');
      await assert.rejects(lookupCredentials('x', p), (e: { code?: string }) => e.code === 'E_REGISTRY_CONFIG');
    });
  });

  test('a credential helper answers; "credentials not found" means anonymous', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-helper-'));
    const oldPath = process.env.PATH;
    try {
      writeFileSync(join(dir, 'docker-credential-berthunit'), '#!/bin/sh\nread url\ncase "$url" in\n  known*) echo \'{"ServerURL":"known","Username":"<token>","Secret":"idtok"}\';;\n  *) echo "credentials not found in native keychain"; exit 1;;\nesac\n');
      chmodSync(join(dir, 'docker-credential-berthunit'), 0o755);
      process.env.PATH = `${dir}:${oldPath}`;
      await withConfig({ credsStore: 'berthunit' }, async (p) => {
        assert.deepEqual(await lookupCredentials('known.example', p), { identityToken: 'idtok' });
        assert.equal(await lookupCredentials('unknown.example', p), undefined);
      });
    } finally {
      process.env.PATH = oldPath;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('login writes auths like docker login (0600, other keys kept); logout removes them', async () => {
    await withConfig({ auths: {}, psFormat: 'table {{.ID}}' }, async (p) => {
      assert.equal(await storeCredentials('reg.example', { username: 'u', password: 'p' }, p), 'config');
      const cfg = JSON.parse(readFileSync(p, 'utf8'));
      assert.equal(cfg.psFormat, 'table {{.ID}}');
      assert.equal(cfg.auths['reg.example'].auth, Buffer.from('u:p').toString('base64'));
      assert.equal(statSync(p).mode & 0o777, 0o600);
      assert.equal(await eraseCredentials('reg.example', p), true);
      assert.deepEqual(JSON.parse(readFileSync(p, 'utf8')).auths, {});
    });
  });

  test('keys and loopback hosts', () => {
    assert.equal(configKey('docker.io'), 'https://index.docker.io/v1/');
    assert.equal(configKey('quay.io'), 'quay.io');
    for (const h of ['localhost:5000', '127.0.0.1:5055', '[::1]:5000']) assert.ok(isLocal(h), h);
    assert.ok(!isLocal('registry.example:5000'));
  });
});

describe('credential helpers that misbehave', () => {
  const withHelper = async (script: string, fn: (configPath: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-helper-'));
    const oldPath = process.env.PATH;
    try {
      writeFileSync(join(dir, 'docker-credential-berthodd'), `#!/bin/sh\n${script}\n`);
      chmodSync(join(dir, 'docker-credential-berthodd'), 0o755);
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: 'berthodd' }));
      process.env.PATH = `${dir}:${oldPath}`;
      await fn(join(dir, 'config.json'));
    } finally {
      process.env.PATH = oldPath;
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const failures: [string, string, string][] = [
    ['an answer that is not JSON', 'echo hello', 'E_REGISTRY_CREDENTIAL_HELPER'],
    ['a failure other than "not found"', 'echo "keychain locked" >&2; exit 3', 'E_REGISTRY_CREDENTIAL_HELPER'],
  ];
  for (const [name, script, code] of failures) {
    test(`get: ${name} is ${code}`, async () => {
      await withHelper(script, async (p) => {
        await assert.rejects(lookupCredentials('reg.example', p), (e: { code?: string; message: string }) => e.code === code && /docker-credential-berthodd/.test(e.message));
      });
    });
  }
  test('a helper that is not installed is E_REGISTRY_CREDENTIAL_HELPER naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-helper-'));
    try {
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ credHelpers: { 'reg.example': 'berth-missing' } }));
      await assert.rejects(lookupCredentials('reg.example', join(dir, 'config.json')), (e: { code?: string; message: string }) => e.code === 'E_REGISTRY_CREDENTIAL_HELPER' && /docker-credential-berth-missing: not found in PATH/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('erase: "credentials not found" means there was nothing to remove', async () => {
    await withHelper('echo "credentials not found in native keychain"; exit 1', async (p) => {
      assert.equal(await eraseCredentials('reg.example', p), false);
    });
  });
});

describe('registryHost', () => {
  const ok: [string, string][] = [
    ['registry.example.com', 'registry.example.com'],
    ['https://registry.example.com/v2/', 'registry.example.com'],
    ['http://localhost:5000', 'localhost:5000'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
  ];
  for (const [input, want] of ok) test(input, () => assert.equal(registryHost(input), want));
  for (const bad of ['', 'https://', 'user@host']) {
    test(`refused: ${JSON.stringify(bad)}`, () => assert.throws(() => registryHost(bad), (e: { code?: string }) => e.code === 'E_OPTION_INVALID'));
  }
});
