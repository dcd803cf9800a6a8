/**
 * Garbage collection: reachability from index.json, leases of live writers, dead sessions,
 * unreadable documents, unknown files.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store, type GcResult } from '../../src/store/index.js';
import { digestOf, MEDIA_TYPES } from '../../src/oci/index.js';
import type { Warning } from '../../src/errors/index.js';
import { putSampleImage, runNode, STORE_MODULE, tempDir } from './helpers.js';

const ZERO: GcResult = { removedBlobs: 0, freedBytes: 0, keptBlobs: 0, removedLayers: 0, removedTempFiles: 0, removedSessions: 0, incomplete: [] };

async function withStore<T>(fn: (store: Store, dir: string) => Promise<T>): Promise<T> {
  const t = tempDir();
  try {
    const store = await Store.open(join(t.dir, 'store'), { create: true });
    try {
      return await fn(store, t.dir);
    } finally {
      await store.close();
    }
  } finally {
    t.cleanup();
  }
}

describe('gc', () => {
  test('an empty store has nothing to collect', async () => {
    await withStore(async (store) => {
      assert.deepEqual(await store.gc(), ZERO);
    });
  });

  test('keeps what named images reach, removes a deleted image\'s blobs and layer metadata', async () => {
    await withStore(async (store) => {
      // Layer metadata is written before the image is named, as import and load do.
      const keepLayers = [Buffer.from('keep 0'), Buffer.from('keep 1')];
      for (const b of keepLayers) await store.putLayerIds(digestOf(b), { uids: [0], gids: [0] });
      const keep = await store.putImage({
        name: 'keep:1',
        config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: keepLayers.map((b) => digestOf(b)) } },
        layers: await Promise.all(keepLayers.map(async (b) => ({ mediaType: MEDIA_TYPES.ociLayer, ...(await store.putBlob(b)) }))),
      });
      const keepDiffIds = keepLayers.map((b) => digestOf(b));
      const keepBlobs = [keep.manifestDescriptor.digest, keep.configDescriptor.digest, ...keepLayers.map((b) => digestOf(b))];
      // The deleted image shares keep's first layer.
      const goneLayer = await store.putBlob(Buffer.from('only in gone'));
      const diffIds = [keepDiffIds[0], digestOf('only in gone')];
      await store.putLayerIds(diffIds[1], { uids: [0], gids: [0] });
      const layers = [{ mediaType: MEDIA_TYPES.ociLayer, digest: keepBlobs[2], size: keepLayers[0].length }, { mediaType: MEDIA_TYPES.ociLayer, ...goneLayer }];
      const gone = await store.putImage({ name: 'gone:1', config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } }, layers });
      await store.removeImage('gone:1');

      const removed = [gone.manifestDescriptor.digest, gone.configDescriptor.digest, goneLayer.digest];
      const sizes = removed.reduce((n, d) => n + statSync(store.blobPath(d)).size, 0) + statSync(join(store.layerPath(diffIds[1]), 'ids.json')).size;
      const res = await store.gc();
      assert.deepEqual(res, { ...ZERO, removedBlobs: 3, keptBlobs: 4, removedLayers: 1, freedBytes: sizes });
      for (const d of removed) assert.equal(await store.hasBlob(d), false, d);
      for (const d of keepBlobs) assert.ok(await store.hasBlob(d), d);
      assert.deepEqual(await store.getLayerIds(keepDiffIds[0]), { uids: [0], gids: [0] });
      assert.deepEqual(await store.getLayerIds(keepDiffIds[1]), { uids: [0], gids: [0] });
      assert.equal(await store.getLayerIds(diffIds[1]), undefined);
      assert.ok((await store.resolveImage('keep:1')).config);
      // A second run finds nothing more.
      assert.deepEqual(await store.gc(), { ...ZERO, keptBlobs: 4 });
    });
  });

  test('what this process stored but has not named yet survives until the store is closed', async () => {
    const t = tempDir();
    try {
      const root = join(t.dir, 'store');
      const a = await Store.open(root, { create: true });
      const blob = await a.putBlob(Buffer.from('pending layer'));
      await a.putLayerIndex(digestOf('pending'), { version: 1, entries: [] });
      const b = await Store.open(root);
      assert.deepEqual(await b.gc(), { ...ZERO, keptBlobs: 1 });
      assert.ok(await b.hasBlob(blob.digest));
      // The lease is per process: it ends when the last store handle on the root closes.
      await a.close();
      await b.close();
      const c = await Store.open(root);
      const res = await c.gc();
      assert.equal(res.removedBlobs, 1);
      assert.equal(res.removedLayers, 1);
      await c.close();
    } finally {
      t.cleanup();
    }
  });

  test('a live writer in another process keeps its blobs; once it is gone they are collected', async () => {
    await withStore(async (store) => {
      const code = `
        import { Store } from ${JSON.stringify(STORE_MODULE)};
        const s = await Store.open(${JSON.stringify(store.root)});
        const b = await s.putBlob(Buffer.from('child blob'));
        console.log('stored ' + b.digest);
        setInterval(() => {}, 1000); // stay alive, holding the session, until killed
      `;
      let resolveStored: (d: string) => void = () => {};
      const stored = new Promise<string>((r) => (resolveStored = r));
      const { child, done } = runNode(code, {
        onStdout: (text) => {
          const m = /stored (sha256:[0-9a-f]{64})/.exec(text);
          if (m) resolveStored(m[1]);
        },
      });
      const digest = await stored;
      const live = await store.gc();
      assert.equal(live.removedBlobs, 0);
      assert.ok(await store.hasBlob(digest));
      child.kill('SIGKILL');
      await done;
      const after = await store.gc();
      assert.equal(after.removedBlobs, 1);
      assert.equal(after.removedSessions, 1);
      assert.equal(await store.hasBlob(digest), false);
    });
  });

  test('dead sessions are removed with their temp files', async () => {
    await withStore(async (store) => {
      const dead = join(store.root, 'berth/tmp/s-1-dead');
      mkdirSync(dead, { recursive: true });
      writeFileSync(join(dead, 'blob-1-abcd'), Buffer.alloc(1000));
      writeFileSync(join(dead, 'lease'), `blob ${digestOf('x')}\n`);
      const res = await store.gc();
      assert.deepEqual(res, { ...ZERO, removedSessions: 1, removedTempFiles: 2, freedBytes: 1000 + `blob ${digestOf('x')}\n`.length });
      assert.equal(existsSync(dead), false);
    });
  });

  test('an unreadable manifest stops the sweep (nothing is removed) and is reported', async () => {
    const warnings: Warning[] = [];
    const t = tempDir();
    try {
      const store = await Store.open(join(t.dir, 'store'), { create: true, onWarning: (w) => warnings.push(w) });
      const img = await putSampleImage(store, 'damaged:1');
      const orphan = await store.putBlob(Buffer.from('orphan'));
      await store.close();
      const path = store.blobPath(img.manifestDescriptor.digest);
      chmodSync(path, 0o644);
      writeFileSync(path, '{"damaged": true}');
      const again = await Store.open(store.root, { onWarning: (w) => warnings.push(w) });
      const res = await again.gc();
      assert.deepEqual(res.incomplete, [img.manifestDescriptor.digest]);
      assert.equal(res.removedBlobs, 0);
      assert.ok(await again.hasBlob(orphan.digest));
      assert.ok(warnings.some((w) => w.code === 'W_GC_UNREADABLE' && w.message.includes(img.manifestDescriptor.digest)));
      // Removing the broken image lets gc proceed.
      await again.removeImage('damaged:1');
      assert.equal((await again.gc()).removedBlobs, 4, 'manifest, config, layer and the orphan');
      await again.close();
    } finally {
      t.cleanup();
    }
  });

  test('files gc does not understand are left alone', async () => {
    await withStore(async (store) => {
      writeFileSync(join(store.root, 'blobs/sha256/README'), 'not a blob');
      mkdirSync(join(store.root, 'blobs/md5'));
      writeFileSync(join(store.root, 'blobs/md5/abc'), 'x');
      writeFileSync(join(store.root, 'notes.txt'), 'mine');
      assert.deepEqual(await store.gc(), ZERO);
      assert.deepEqual(readdirSync(join(store.root, 'blobs/sha256')), ['README']);
      assert.ok(existsSync(join(store.root, 'blobs/md5/abc')));
      assert.ok(existsSync(join(store.root, 'notes.txt')));
    });
  });
});
