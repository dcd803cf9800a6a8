/**
 * Opening and creating stores, and the default store location.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store, defaultStoreRoot } from '../../src/store/index.js';
import { isCode, tempDir } from './helpers.js';

describe('defaultStoreRoot', () => {
  const cases: { doc: string; env: Record<string, string>; uid: number; want: string }[] = [
    { doc: 'BERTH_ROOT wins, even for root', env: { BERTH_ROOT: '/srv/berth', HOME: '/root' }, uid: 0, want: '/srv/berth' },
    { doc: 'root', env: { HOME: '/root', XDG_DATA_HOME: '/x' }, uid: 0, want: '/var/lib/berth' },
    { doc: 'user with XDG_DATA_HOME', env: { HOME: '/home/u', XDG_DATA_HOME: '/data/u' }, uid: 1000, want: '/data/u/berth' },
    { doc: 'user without XDG_DATA_HOME', env: { HOME: '/home/u' }, uid: 1000, want: '/home/u/.local/share/berth' },
    { doc: 'a relative XDG_DATA_HOME is ignored', env: { HOME: '/home/u', XDG_DATA_HOME: 'rel' }, uid: 1000, want: '/home/u/.local/share/berth' },
    { doc: 'an empty BERTH_ROOT is unset', env: { BERTH_ROOT: '', HOME: '/home/u' }, uid: 1000, want: '/home/u/.local/share/berth' },
  ];
  for (const c of cases) test(c.doc, () => assert.equal(defaultStoreRoot(c.env, c.uid), c.want));

  test('no HOME for a user: E_STORE_ROOT', () => {
    assert.throws(() => defaultStoreRoot({}, 1000), isCode('E_STORE_ROOT'));
  });
});

describe('Store.open', () => {
  test('create makes an OCI image layout with berth metadata', async () => {
    const t = tempDir();
    try {
      const root = join(t.dir, 'a/b/store');
      const s = await Store.open(root, { create: true });
      assert.equal(s.root, root);
      assert.deepEqual(JSON.parse(readFileSync(join(root, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
      assert.deepEqual(JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')), { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
      assert.ok(statSync(join(root, 'blobs/sha256')).isDirectory());
      assert.equal(statSync(root).mode & 0o777, 0o700);
      await s.close();
      // Opening again (without create) works and changes nothing.
      const again = await Store.open(root);
      assert.deepEqual(await again.listImages(), []);
      await again.close();
    } finally {
      t.cleanup();
    }
  });

  test('opening an OCI layout that has no berth/ directory works for reads', async () => {
    const t = tempDir();
    try {
      mkdirSync(join(t.dir, 'blobs/sha256'), { recursive: true });
      writeFileSync(join(t.dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      writeFileSync(join(t.dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
      const s = await Store.open(t.dir);
      assert.deepEqual(await s.listImages(), []);
      assert.deepEqual(readdirSync(t.dir).sort(), ['blobs', 'index.json', 'oci-layout']);
      await s.close();
    } finally {
      t.cleanup();
    }
  });

  test('a closed handle refuses writes: E_STORE_CLOSED', async () => {
    const t = tempDir();
    try {
      const s = await Store.open(join(t.dir, 'store'), { create: true });
      await s.close();
      await s.close();
      await assert.rejects(s.putBlob(Buffer.from('x')), isCode('E_STORE_CLOSED'));
      assert.deepEqual(await s.listImages(), [], 'reads still work');
    } finally {
      t.cleanup();
    }
  });

  const failures: { doc: string; prepare: (dir: string) => string; create: boolean; code: string; message: RegExp }[] = [
    { doc: 'missing directory without create', prepare: (d) => join(d, 'nope'), create: false, code: 'E_STORE_NOT_FOUND', message: /no such directory/ },
    {
      doc: 'a file',
      prepare: (d) => {
        writeFileSync(join(d, 'f'), 'x');
        return join(d, 'f');
      },
      create: true,
      code: 'E_STORE_INVALID',
      message: /not a directory/,
    },
    { doc: 'an empty directory without create', prepare: (d) => d, create: false, code: 'E_STORE_INVALID', message: /no oci-layout/ },
    {
      doc: 'a non-empty directory that is not a layout',
      prepare: (d) => {
        writeFileSync(join(d, 'notes.txt'), 'mine');
        return d;
      },
      create: true,
      code: 'E_STORE_INVALID',
      message: /not empty/,
    },
    {
      doc: 'an unsupported layout version',
      prepare: (d) => {
        writeFileSync(join(d, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
        writeFileSync(join(d, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
        return d;
      },
      create: true,
      code: 'E_STORE_INVALID',
      message: /unsupported version/,
    },
    {
      doc: 'a damaged index.json',
      prepare: (d) => {
        writeFileSync(join(d, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
        writeFileSync(join(d, 'index.json'), '{"schemaVersion":2,"manif');
        return d;
      },
      create: false,
      code: 'E_STORE_CORRUPT',
      message: /index\.json/,
    },
    {
      doc: 'a layout without index.json',
      prepare: (d) => {
        writeFileSync(join(d, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
        return d;
      },
      create: false,
      code: 'E_STORE_INVALID',
      message: /index\.json is missing/,
    },
  ];
  for (const c of failures) {
    test(`${c.doc}: ${c.code}`, async () => {
      const t = tempDir();
      try {
        const root = c.prepare(t.dir);
        await assert.rejects(Store.open(root, { create: c.create }), (e: unknown) => isCode(c.code)(e) && c.message.test((e as Error).message));
      } finally {
        t.cleanup();
      }
    });
  }
});
