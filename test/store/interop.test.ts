/**
 * The store is an OCI image layout that skopeo and umoci use directly, with berth's full
 * reference names as ref.name values (skipped where the tools are not installed).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { MEDIA_TYPES, digestOf } from '../../src/oci/index.js';
import { tempDir } from './helpers.js';

const has = (cmd: string) => spawnSync(cmd, ['--version']).status === 0;
const hasSkopeo = has('skopeo');
const hasUmoci = has('umoci');
const isRoot = process.getuid?.() === 0;

describe('interoperability with skopeo and umoci', { skip: !hasSkopeo && !hasUmoci && 'neither skopeo nor umoci is installed' }, () => {
  let t: { dir: string; cleanup: () => void };
  let root: string;
  let manifestDigest: string;
  let configDigest: string;

  before(async () => {
    t = tempDir();
    root = join(t.dir, 'store');
    const src = join(t.dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'hello.txt'), 'hello from berth\n');
    const tar = execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', src, '-cf', '-', 'hello.txt']);
    const store = await Store.open(root, { create: true });
    const layer = await store.putBlob(tar);
    const res = await store.putImage({
      name: 'interop:1',
      config: { architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/true'] }, rootfs: { type: 'layers', diff_ids: [digestOf(tar)] } },
      layers: [{ mediaType: MEDIA_TYPES.ociLayer, ...layer }],
    });
    manifestDigest = res.manifestDescriptor.digest;
    configDigest = res.configDescriptor.digest;
    await store.close();
  });
  after(() => t.cleanup());

  test('skopeo reads an image by its full berth name', { skip: !hasSkopeo && 'skopeo not installed' }, () => {
    const raw = execFileSync('skopeo', ['inspect', '--raw', `oci:${root}:docker.io/library/interop:1`]);
    assert.equal(digestOf(raw), manifestDigest);
  });

  test('skopeo copies into the store under a full name and a bare tag; berth finds both and gc keeps them', { skip: !hasSkopeo && 'skopeo not installed' }, async () => {
    execFileSync('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${root}:docker.io/library/interop:1`, `oci:${root}:docker.io/library/copied:2`]);
    execFileSync('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${root}:docker.io/library/interop:1`, `oci:${root}:v9`]);
    const store = await Store.open(root);
    try {
      assert.equal((await store.resolveImage('copied:2')).configDescriptor.digest, configDigest);
      assert.equal((await store.resolveImage('v9')).configDescriptor.digest, configDigest);
      const list = await store.listImages();
      assert.deepEqual(
        list.map((i) => i.familiar ?? i.refName),
        ['copied:2', 'interop:1', 'v9'],
      );
      const res = await store.gc();
      assert.deepEqual(res.incomplete, []);
      assert.ok((await store.resolveImage('interop:1')).config);
      // skopeo added nothing berth cannot parse.
      JSON.parse(readFileSync(join(root, 'index.json'), 'utf8'));
    } finally {
      await store.close();
    }
  });

  test('umoci lists the names and unpacks the image', { skip: (!hasUmoci && 'umoci not installed') || (!isRoot && 'umoci unpack needs root here') }, () => {
    const names = execFileSync('umoci', ['ls', '--layout', root], { encoding: 'utf8' }).split('\n').filter(Boolean);
    assert.ok(names.includes('docker.io/library/interop:1'), names.join(','));
    const bundle = join(t.dir, 'bundle');
    execFileSync('umoci', ['unpack', '--image', `${root}:docker.io/library/interop:1`, bundle], { stdio: 'pipe' });
    assert.equal(readFileSync(join(bundle, 'rootfs/hello.txt'), 'utf8'), 'hello from berth\n');
  });
});
