/**
 * End to end: `berth push`, `pull`, `login` and `logout` through the compiled CLI against Debian's
 * docker-registry started on 127.0.0.1 by the test (test/registry/server.ts), once with htpasswd
 * and once behind a token server (Bearer), with a credential helper, a corrupted blob, a connection
 * cut in the middle of a blob, a multi-platform index, and a rootless pull.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { berth, isRoot, makeBusyboxRootfs, removeTree, tempDir, testUserIds, type RunResult } from './helpers.js';
import { hasRegistry, startProxy, startRegistry, type TestRegistry } from '../registry/server.js';

const user = testUserIds();
const skip = !isRoot ? 'needs root (fixtures with owners)' : !hasRegistry ? 'docker-registry is not installed (apt install docker-registry)' : false;

function ok(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what} exited ${String(r.code)}:\n${r.stderr}`);
  return r;
}

describe('registries', { skip }, () => {
  const work = tempDir('berth-registry-e2e-');
  const store = join(work.dir, 'store');
  const cfg = (name: string) => {
    const d = join(work.dir, `docker-${name}`);
    mkdirSync(d, { recursive: true });
    return { DOCKER_CONFIG: d };
  };
  before(async () => {
    ok(await berth(['import', makeBusyboxRootfs(join(work.dir, 'rootfs')), 'local/bb:1'], { root: store }), 'import');
  });
  after(() => removeTree(work.dir));

  describe('htpasswd (Basic)', () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startRegistry({ auth: 'htpasswd', users: { berth: 's3cret' } });
    });
    after(async () => reg.stop());

    test('push needs a login; login writes config.json (0600); push, then pull by tag and by digest into fresh stores, and run', async () => {
      const env = cfg('basic');
      const denied = await berth(['push', 'local/bb:1', `${reg.host}/team/bb:1`], { root: store, env });
      assert.equal(denied.code, 125);
      assert.match(denied.stderr, /needs credentials/);
      assert.match(denied.stderr, /berth login/);
      const wrong = await berth(['login', '-u', 'berth', '--password-stdin', reg.host], { env, input: 'nope\n' });
      assert.equal(wrong.code, 125);
      assert.match(wrong.stderr, /not accepted/);
      ok(await berth(['login', '-u', 'berth', '--password-stdin', reg.host], { env, input: 's3cret\n' }), 'login');
      const file = join(env.DOCKER_CONFIG, 'config.json');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).auths[reg.host].auth, Buffer.from('berth:s3cret').toString('base64'));
      const pushed = ok(await berth(['push', 'local/bb:1', `${reg.host}/team/bb:1`], { root: store, env }), 'push');
      const digest = pushed.stdout.trim().split(' ')[1];
      assert.match(digest, /^sha256:[0-9a-f]{64}$/);
      const again = ok(await berth(['push', 'local/bb:1', `${reg.host}/team/bb:1`], { root: store, env }), 'push again');
      assert.match(again.stderr, /already there/);
      const fresh = join(work.dir, 'fresh-basic');
      const pulled = ok(await berth(['pull', `${reg.host}/team/bb:1`], { root: fresh, env }), 'pull');
      assert.match(pulled.stdout, new RegExp(digest));
      const run = ok(await berth(['run', '--rm', '-u', 'foo', `${reg.host}/team/bb:1`, 'id'], { root: fresh }), 'run the pulled image');
      assert.equal(run.stdout.trim(), 'uid=10000(foo) gid=10000(foo) groups=10000(foo),20000(bar)');
      const byDigest = join(work.dir, 'fresh-digest');
      ok(await berth(['pull', '-q', `${reg.host}/team/bb@${digest}`], { root: byDigest, env }), 'pull by digest');
      const images = ok(await berth(['images', '--json'], { root: byDigest }), 'images').stdout;
      assert.match(images, new RegExp(digest.slice(7, 19)));
      ok(await berth(['logout', reg.host], { env }), 'logout');
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).auths[reg.host], undefined);
    });

    test('run and build pull a missing image (--pull missing is the default; never refuses)', async () => {
      const env = cfg('autopull');
      writeFileSync(join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('berth:s3cret').toString('base64') } } }));
      ok(await berth(['push', 'local/bb:1', `${reg.host}/auto/bb:1`], { root: store, env }), 'push');
      const never = await berth(['run', '--rm', '--pull', 'never', `${reg.host}/auto/bb:1`, 'true'], { root: join(work.dir, 'auto-never'), env });
      assert.equal(never.code, 125);
      const run = ok(await berth(['run', '--rm', `${reg.host}/auto/bb:1`, 'echo', 'pulled'], { root: join(work.dir, 'auto-run'), env }), 'run pulls');
      assert.equal(run.stdout.trim(), 'pulled');
      const ctx = join(work.dir, 'auto-ctx');
      mkdirSync(ctx);
      writeFileSync(join(ctx, 'Dockerfile'), `FROM ${reg.host}/auto/bb:1\nUSER foo\nRUN id\n`);
      const built = ok(await berth(['build', '--progress', 'plain', '-t', 'auto:1', ctx], { root: join(work.dir, 'auto-build'), env }), 'build pulls its base');
      assert.match(built.stderr, /uid=10000\(foo\) gid=10000\(foo\) groups=10000\(foo\),20000\(bar\)/);
    });

    test('pushing a pulled image to another repository of the same registry mounts its blobs', async () => {
      const env = cfg('mount');
      writeFileSync(join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('berth:s3cret').toString('base64') } } }));
      ok(await berth(['push', 'local/bb:1', `${reg.host}/src/bb:1`], { root: store, env }), 'push');
      const s2 = join(work.dir, 'mount-store');
      ok(await berth(['pull', '--no-unpack', `${reg.host}/src/bb:1`], { root: s2, env }), 'pull');
      const r = ok(await berth(['push', `${reg.host}/src/bb:1`, `${reg.host}/dst/bb:1`], { root: s2, env }), 'push to another repository');
      assert.doesNotMatch(r.stderr, /pushed/, 'no blob was uploaded again');
      ok(await berth(['pull', '--no-unpack', `${reg.host}/dst/bb:1`], { root: join(work.dir, 'mount-check'), env }), 'the mounted image pulls');
    });

    test('a credential helper (credHelpers) supplies the login', async () => {
      const env = cfg('helper');
      const bin = join(work.dir, 'bin');
      mkdirSync(bin, { recursive: true });
      writeFileSync(join(bin, 'docker-credential-berthtest'), `#!/bin/sh\ncase "$1" in get) read url; echo '{"ServerURL":"'$url'","Username":"berth","Secret":"s3cret"}';; *) exit 0;; esac\n`);
      chmodSync(join(bin, 'docker-credential-berthtest'), 0o755);
      writeFileSync(join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ credHelpers: { [reg.host]: 'berthtest' } }));
      ok(await berth(['push', 'local/bb:1', `${reg.host}/helper/bb:1`], { root: store, env: { ...env, PATH: `${bin}:${process.env.PATH}` } }), 'push through the helper');
    });

    const cutCases: [string, string[], { ignoreRange?: boolean }][] = [
      ['into the store only: resumed with a Range request', ['--no-unpack'], {}],
      ['while it unpacks: resumed with a Range request, the tree complete', [], {}],
      ['from a registry that ignores Range: read again, the bytes already received skipped', [], { ignoreRange: true }],
    ];
    for (const [name, flags, proxyOptions] of cutCases) {
      test(`a connection cut in the middle of a blob, ${name}`, async () => {
        const creds = cfg('cutcreds');
        const auth = Buffer.from('berth:s3cret').toString('base64');
        writeFileSync(join(creds.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth } } }));
        ok(await berth(['push', '-q', 'local/bb:1', `${reg.host}/cut/bb:1`], { root: store, env: creds }), 'push');
        const proxy = await startProxy(reg.host, { cutAfter: 200000, ...proxyOptions });
        try {
          const penv = cfg(`cutpull${flags.length}${proxyOptions.ignoreRange ? 'i' : ''}`);
          writeFileSync(join(penv.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { [proxy.host]: { auth } } }));
          const fresh = join(work.dir, `fresh-cut-${flags.length}${proxyOptions.ignoreRange ? 'i' : ''}`);
          const image = `${proxy.host}/cut/bb:1`;
          ok(await berth(['pull', ...flags, image], { root: fresh, env: penv }), 'pull through the cutting proxy');
          assert.equal(proxy.cut(), 1, 'the proxy cut a blob');
          assert.ok(proxy.ranges.some((r) => /^bytes=\d+-$/.test(r)), `a Range request resumed it (${proxy.ranges.join(', ')})`);
          if (flags.includes('--no-unpack')) {
            const out = join(work.dir, 'cut-unpacked');
            ok(await berth(['unpack', image, out], { root: fresh }), 'unpack');
            assert.ok(existsSync(join(out, 'bin/busybox')));
          } else {
            const run = ok(await berth(['run', '--rm', '--pull', 'never', '-u', 'foo', image, 'id'], { root: fresh }), 'run the pulled image');
            assert.equal(run.stdout.trim(), 'uid=10000(foo) gid=10000(foo) groups=10000(foo),20000(bar)');
          }
        } finally {
          await proxy.stop();
        }
      });
    }

    test('a big blob is pushed in PATCH chunks and pulls back byte for byte', async () => {
      const { pushImage, pullImage } = await import('../../src/index.js');
      const env = cfg('chunked');
      const configPath = join(env.DOCKER_CONFIG, 'config.json');
      writeFileSync(configPath, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('berth:s3cret').toString('base64') } } }));
      const proxy = await startProxy(reg.host);
      try {
        writeFileSync(configPath, JSON.stringify({ auths: { [proxy.host]: { auth: Buffer.from('berth:s3cret').toString('base64') } } }));
        const pushed = await pushImage({ root: store, image: 'local/bb:1', destination: `${proxy.host}/chunked/bb:1`, configPath, monolithicMax: 64 << 10, chunkSize: 300 << 10 });
        const patches = proxy.requests.filter((r) => r.startsWith('PATCH '));
        assert.ok(patches.length >= 3, `the layer went in chunks (${patches.length} PATCH requests)`);
        const pulled = await pullImage({ root: join(work.dir, 'chunked-pull'), reference: `${proxy.host}/chunked/bb:1`, configPath, unpack: false });
        assert.equal(pulled.digest, pushed.digest);
      } finally {
        await proxy.stop();
      }
    });

    test('a multi-layer image downloads in parallel and unpacks in order as the layers arrive', async () => {
      const env = cfg('layers');
      writeFileSync(join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('berth:s3cret').toString('base64') } } }));
      const ctx = join(work.dir, 'layers-ctx');
      mkdirSync(ctx);
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM local/bb:1\nRUN echo one > /f && echo 1 > /one\nRUN echo two > /f && echo 2 > /two\nRUN rm /one && echo three > /f\nRUN dd if=/dev/urandom of=/big bs=1k count=2048 2>/dev/null\n');
      ok(await berth(['build', '--progress', 'plain', '-t', 'local/layers:1', ctx], { root: store }), 'build');
      ok(await berth(['push', '-q', 'local/layers:1', `${reg.host}/layers/img:1`], { root: store, env }), 'push');
      const fresh = join(work.dir, 'fresh-layers');
      const events = ok(await berth(['pull', '--json', `${reg.host}/layers/img:1`], { root: fresh, env }), 'pull')
        .stdout.trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; layers?: number });
      assert.equal(events.find((e) => e.type === 'resolved')?.layers, 5);
      assert.equal(events.filter((e) => e.type === 'layer-done').length, 5);
      assert.equal(events.at(-1)?.type, 'done');
      const run = ok(await berth(['run', '--rm', '--pull', 'never', `${reg.host}/layers/img:1`, 'sh', '-c', 'cat /f /two; ls /one 2>&1; wc -c < /big'], { root: fresh }), 'run');
      assert.equal(run.stdout.trim(), 'three\n2\nls: /one: No such file or directory\n2097152');
    });

    test('a manifest that lists one layer several times: fetched once, applied each time', async () => {
      const env = cfg('dups');
      const auth = Buffer.from('berth:s3cret').toString('base64');
      writeFileSync(join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth } } }));
      const pushed = ok(await berth(['push', 'local/bb:1', `${reg.host}/dups/bb:base`], { root: store, env }), 'push');
      const manifest = JSON.parse(readFileSync(join(store, 'blobs/sha256', pushed.stdout.trim().split(' ')[1].slice(7)), 'utf8'));
      const inspect = JSON.parse(ok(await berth(['inspect', 'local/bb:1'], { root: store }), 'inspect').stdout)[0];
      const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
      const config = Buffer.from(JSON.stringify({ ...inspect.config, rootfs: { type: 'layers', diff_ids: Array(3).fill(inspect.config.rootfs.diff_ids[0]) } }));
      const start = await fetch(`http://${reg.host}/v2/dups/bb/blobs/uploads/`, { method: 'POST', headers: { authorization: `Basic ${auth}` } });
      const loc = new URL(start.headers.get('location')!, `http://${reg.host}`);
      loc.searchParams.set('digest', sha(config));
      assert.equal((await fetch(loc, { method: 'PUT', body: config, headers: { authorization: `Basic ${auth}` } })).status, 201);
      const dup = Buffer.from(JSON.stringify({ ...manifest, config: { ...manifest.config, digest: sha(config), size: config.length }, layers: Array(3).fill(manifest.layers[0]) }));
      assert.equal((await fetch(`http://${reg.host}/v2/dups/bb/manifests/3`, { method: 'PUT', body: dup, headers: { authorization: `Basic ${auth}`, 'content-type': manifest.mediaType } })).status, 201);
      const proxy = await startProxy(reg.host);
      try {
        writeFileSync(join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { [proxy.host]: { auth } } }));
        const fresh = join(work.dir, 'fresh-dups');
        ok(await berth(['pull', `${proxy.host}/dups/bb:3`], { root: fresh, env }), 'pull');
        assert.equal(proxy.requests.filter((r) => r === `GET /v2/dups/bb/blobs/${manifest.layers[0].digest}`).length, 1, proxy.requests.join('\n'));
        const run = ok(await berth(['run', '--rm', '--pull', 'never', '-u', 'foo', `${proxy.host}/dups/bb:3`, 'id'], { root: fresh }), 'run');
        assert.equal(run.stdout.trim(), 'uid=10000(foo) gid=10000(foo) groups=10000(foo),20000(bar)');
      } finally {
        await proxy.stop();
      }
    });

    test('a multi-platform index: the host platform is pulled', async () => {
      const env = cfg('index');
      const auth = Buffer.from('berth:s3cret').toString('base64');
      writeFileSync(join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth } } }));
      const pushed = ok(await berth(['push', 'local/bb:1', `${reg.host}/multi/bb:amd`], { root: store, env }), 'push');
      const digest = pushed.stdout.trim().split(' ')[1];
      const manifest = readFileSync(join(store, 'blobs/sha256', digest.slice(7)));
      // A second platform: the same layers under a config that says arm64.
      const inspect = JSON.parse(ok(await berth(['inspect', 'local/bb:1'], { root: store }), 'inspect').stdout)[0];
      const armConfig = Buffer.from(JSON.stringify({ ...inspect.config, architecture: 'arm64' }));
      const put = async (path: string, body: Buffer, type: string, method = 'PUT') => {
        const res = await fetch(`http://${reg.host}${path}`, { method, body, headers: { authorization: `Basic ${auth}`, 'content-type': type } });
        assert.ok(res.ok || res.status === 201 || res.status === 202, `${method} ${path}: ${res.status} ${await res.text()}`);
        return res;
      };
      const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
      const start = await fetch(`http://${reg.host}/v2/multi/bb/blobs/uploads/`, { method: 'POST', headers: { authorization: `Basic ${auth}` } });
      const loc = new URL(start.headers.get('location')!, `http://${reg.host}`);
      loc.searchParams.set('digest', sha(armConfig));
      await put(`${loc.pathname}${loc.search}`, armConfig, 'application/octet-stream');
      const armManifest = Buffer.from(JSON.stringify({ ...JSON.parse(manifest.toString()), config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(armConfig), size: armConfig.length } }));
      await put(`/v2/multi/bb/manifests/arm`, armManifest, 'application/vnd.oci.image.manifest.v1+json');
      const hostArch = process.arch === 'x64' ? 'amd64' : process.arch;
      const index = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(armManifest), size: armManifest.length, platform: { os: 'linux', architecture: hostArch === 'arm64' ? 's390x' : 'arm64' } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: manifest.length, platform: { os: 'linux', architecture: hostArch } },
        ],
      }));
      await put('/v2/multi/bb/manifests/1', index, 'application/vnd.oci.image.index.v1+json');
      const fresh = join(work.dir, 'fresh-index');
      const pulled = ok(await berth(['pull', '--no-unpack', `${reg.host}/multi/bb:1`], { root: fresh, env }), 'pull the index');
      assert.equal(pulled.stdout.trim(), `${reg.host}/multi/bb:1 ${sha(index)}`, 'the image is named by its index');
      const listed = JSON.parse(ok(await berth(['images', '--json'], { root: fresh }), 'images').stdout) as { manifestDigest: string; digest: string }[];
      assert.deepEqual(listed.map((i) => [i.digest, i.manifestDigest]), [[sha(index), digest]], 'the host platform manifest was chosen');
      const arch = JSON.parse(ok(await berth(['inspect', `${reg.host}/multi/bb:1`], { root: fresh }), 'inspect').stdout)[0].config.architecture;
      assert.equal(arch, hostArch);
    });

    test('rootless: the test user pulls into its own store and runs the image', { skip: user ? false : 'no test user' }, async () => {
      const home = tempDir('berth-registry-user-', user);
      try {
        const d = join(home.dir, 'docker');
        mkdirSync(d);
        writeFileSync(join(d, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('berth:s3cret').toString('base64') } } }));
        chownSync(d, user!.uid, user!.gid);
        chownSync(join(d, 'config.json'), user!.uid, user!.gid);
        ok(await berth(['push', 'local/bb:1', `${reg.host}/rootless/bb:1`], { root: store, env: { DOCKER_CONFIG: d } }), 'push');
        const ustore = join(home.dir, 'store');
        const pulled = await berth(['pull', `${reg.host}/rootless/bb:1`], { root: ustore, asTestUser: true, env: { DOCKER_CONFIG: d } });
        ok(pulled, 'rootless pull');
        const run = ok(await berth(['run', '--rm', '-u', 'foo', `${reg.host}/rootless/bb:1`, 'id'], { root: ustore, asTestUser: true }), 'rootless run');
        assert.equal(run.stdout.trim(), 'uid=10000(foo) gid=10000(foo) groups=10000(foo),20000(bar)');
      } finally {
        removeTree(home.dir);
      }
    });
    // Last: it damages a blob every repository of this registry shares.
    test('a corrupted blob in the registry is refused and nothing is stored', async () => {
      const env = cfg('corrupt');
      writeFileSync(join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('berth:s3cret').toString('base64') } } }));
      const pushed = ok(await berth(['push', 'local/bb:1', `${reg.host}/corrupt/bb:1`], { root: store, env }), 'push');
      const inspect = JSON.parse(ok(await berth(['inspect', 'local/bb:1'], { root: store }), 'inspect').stdout)[0];
      const layer = inspect.manifest.layers[0].digest as string;
      const path = reg.blobPath(layer);
      const bytes = readFileSync(path);
      bytes[bytes.length - 20] ^= 0xff;
      writeFileSync(path, bytes);
      const fresh = join(work.dir, 'fresh-corrupt');
      const r = await berth(['pull', `${reg.host}/corrupt/bb:1`], { root: fresh, env });
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, /digest|corrupt/i);
      const blobs = join(fresh, 'blobs/sha256');
      assert.ok(!existsSync(join(blobs, layer.slice(7))), 'the corrupted layer is not in the store');
      const images = await berth(['images', '--json'], { root: fresh });
      assert.ok(images.code !== 0 || !images.stdout.includes('corrupt/bb'), 'no image was named');
      const cache = join(fresh, 'berth/rootfs');
      const ready = existsSync(cache) ? readdirSync(cache).filter((e) => existsSync(join(cache, e, 'ready.json'))) : [];
      assert.deepEqual(ready, [], 'no unpacked tree was marked ready');
      void pushed;
    });
  });

  describe('token server (Bearer)', () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startRegistry({ auth: 'token', users: { berth: 's3cret' }, identityTokens: { 'idtok-berth': 'berth' } });
    });
    after(async () => reg.stop());

    test('anonymous pull is allowed, push needs a login; tokens are reused', async () => {
      const env = cfg('token');
      const denied = await berth(['push', 'local/bb:1', `${reg.host}/tok/bb:1`], { root: store, env });
      assert.equal(denied.code, 125);
      assert.match(denied.stderr, /needs credentials|denied/);
      ok(await berth(['login', '-u', 'berth', '--password-stdin', reg.host], { env, input: 's3cret' }), 'login');
      const before = reg.tokenRequests.length;
      ok(await berth(['push', 'local/bb:1', `${reg.host}/tok/bb:1`], { root: store, env }), 'push');
      assert.ok(reg.tokenRequests.length - before <= 2, `one token for the push (${reg.tokenRequests.length - before} requests)`);
      const anon = cfg('anon');
      const fresh = join(work.dir, 'fresh-token');
      ok(await berth(['pull', '--no-unpack', `${reg.host}/tok/bb:1`], { root: fresh, env: anon }), 'anonymous pull');
      assert.ok(readdirSync(join(fresh, 'blobs/sha256')).length >= 3);
      const wrong = await berth(['login', '-u', 'berth', '--password-stdin', reg.host], { env: cfg('wrong'), input: 'bad' });
      assert.equal(wrong.code, 125);
      assert.match(wrong.stderr, /refused the credentials|not accepted/);
    });

    test('an identity token (auths.identitytoken) is exchanged for a token by POST, as docker does', async () => {
      const env = cfg('identity');
      writeFileSync(join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { [reg.host]: { identitytoken: 'idtok-berth' } } }));
      const before = reg.tokenRequests.length;
      ok(await berth(['push', '-q', 'local/bb:1', `${reg.host}/ident/bb:1`], { root: store, env }), 'push with the identity token');
      const posts = reg.tokenRequests.slice(before).filter((r) => r.startsWith('POST '));
      assert.ok(posts.length >= 1 && posts.every((p) => p.includes('grant_type=refresh_token')), posts.join(' | '));
      writeFileSync(join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { [reg.host]: { identitytoken: 'revoked' } } }));
      const refused = await berth(['push', '-q', 'local/bb:1', `${reg.host}/ident/bb:2`], { root: store, env });
      assert.equal(refused.code, 125);
      assert.match(refused.stderr, /refused the credentials/);
    });

    test('login with a credsStore helper stores the secret there and leaves an empty auths entry', async () => {
      const env = cfg('credsstore');
      const bin = join(work.dir, 'bin-store');
      const saved = join(work.dir, 'helper-saved.json');
      mkdirSync(bin, { recursive: true });
      writeFileSync(join(bin, 'docker-credential-berthstore'), `#!/bin/sh\ncase "$1" in\n  store) cat > ${saved};;\n  get) if [ -f ${saved} ]; then cat ${saved}; else echo "credentials not found in native keychain"; exit 1; fi;;\n  erase) rm -f ${saved};;\nesac\n`);
      chmodSync(join(bin, 'docker-credential-berthstore'), 0o755);
      writeFileSync(join(env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ credsStore: 'berthstore', currentContext: 'default' }));
      const e = { ...env, PATH: `${bin}:${process.env.PATH}` };
      const login = ok(await berth(['login', '-u', 'berth', '--password-stdin', reg.host], { env: e, input: 's3cret' }), 'login');
      assert.match(login.stdout, /docker-credential-berthstore/);
      assert.deepEqual(JSON.parse(readFileSync(saved, 'utf8')), { ServerURL: reg.host, Username: 'berth', Secret: 's3cret' });
      const cfgAfter = JSON.parse(readFileSync(join(env.DOCKER_CONFIG, 'config.json'), 'utf8'));
      assert.deepEqual(cfgAfter, { credsStore: 'berthstore', currentContext: 'default', auths: { [reg.host]: {} } });
      ok(await berth(['push', '-q', 'local/bb:1', `${reg.host}/store/bb:1`], { root: store, env: e }), 'push with the stored login');
      ok(await berth(['logout', reg.host], { env: e }), 'logout');
      assert.ok(!existsSync(saved), 'the helper erased the secret');
    });
  });
});
