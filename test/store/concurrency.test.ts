/**
 * Several processes on one store: no lost updates, readers never see a partial index.json, gc never
 * takes what a running import has stored, a SIGKILLed writer leaves a usable store, and a held lock
 * gives E_STORE_LOCKED after the timeout without blocking the event loop.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { Store } from '../../src/store/index.js';
import { FLOCK_MODULE, STORE_MODULE, isCode, putSampleImage, runNode, tempDir } from './helpers.js';

describe('concurrent processes', () => {
  let t: { dir: string; cleanup: () => void };
  let root: string;

  before(async () => {
    t = tempDir();
    root = join(t.dir, 'store');
    const s = await Store.open(root, { create: true });
    await putSampleImage(s, 'base:1', { layerCount: 2 });
    await s.close();
  });
  after(() => t.cleanup());

  test('two processes tagging 50 names each lose no update', async () => {
    const child = (p: string) => `
      import { Store } from ${JSON.stringify(STORE_MODULE)};
      const s = await Store.open(${JSON.stringify(root)});
      for (let i = 0; i < 50; i++) await s.tag('base:1', '${p}/name:' + i);
    `;
    const runs = [runNode(child('one')), runNode(child('two'))];
    const results = await Promise.all(runs.map((r) => r.done));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const s = await Store.open(root);
    const names = (await s.listImages()).map((i) => i.familiar);
    await s.close();
    for (const p of ['one', 'two']) for (let i = 0; i < 50; i++) assert.ok(names.includes(`${p}/name:${i}`), `${p}/name:${i}`);
    assert.equal(names.length, 101);
  });

  test('a reader never sees a partial index.json while another process writes it', async () => {
    const writer = runNode(`
      import { Store } from ${JSON.stringify(STORE_MODULE)};
      const s = await Store.open(${JSON.stringify(root)});
      for (let i = 0; i < 40; i++) await s.tag('base:1', 'reader/test:' + i);
    `);
    let finished = false;
    const done = writer.done.finally(() => (finished = true));
    let reads = 0;
    let last = 0;
    while (!finished) {
      const index = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as { manifests: unknown[] };
      assert.ok(index.manifests.length >= last, 'entries never go missing');
      last = index.manifests.length;
      reads++;
      await tick();
    }
    assert.equal((await done).code, 0);
    assert.ok(reads > 1);
  });

  test('gc running alongside an import never removes its blobs', async () => {
    const importer = runNode(`
      import { Store, digestOf } from ${JSON.stringify(STORE_MODULE)};
      const s = await Store.open(${JSON.stringify(root)});
      for (let i = 0; i < 8; i++) {
        const layers = [];
        const diffIds = [];
        for (let j = 0; j < 3; j++) {
          const b = Buffer.from('layer ' + i + ' ' + j + ' ' + Math.random());
          layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...(await s.putBlob(b)) });
          diffIds.push(digestOf(b));
          await s.putLayerIds(diffIds[j], { uids: [0], gids: [0] });
          await new Promise((r) => setTimeout(r, 5));
        }
        await s.putImage({ name: 'gc/race:' + i, config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } }, layers });
      }
    `);
    let finished = false;
    const done = importer.done.finally(() => (finished = true));
    const s = await Store.open(root);
    let runs = 0;
    while (!finished) {
      await s.gc();
      runs++;
    }
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(runs > 0);
    for (let i = 0; i < 8; i++) {
      const img = await s.resolveImage(`gc/race:${i}`);
      for (const l of img.manifest.layers) assert.equal((await s.readBlob(l.digest)).length, l.size);
      for (const d of img.config.rootfs.diff_ids) assert.deepEqual(await s.getLayerIds(d), { uids: [0], gids: [0] });
    }
    await s.close();
  });

  test('a writer killed with SIGKILL in the middle of putBlob leaves a store the next command can use', async () => {
    const blobsBefore = readdirSync(join(root, 'blobs/sha256')).sort();
    const { child, done } = runNode(
      `
      import { Store } from ${JSON.stringify(STORE_MODULE)};
      const s = await Store.open(${JSON.stringify(root)});
      async function* endless() {
        for (let i = 0; ; i++) {
          yield Buffer.alloc(1 << 20, i & 0xff);
          if (i === 3) console.log('writing');
          await new Promise((r) => setTimeout(r, 2));
        }
      }
      await s.putBlob(endless());
    `,
      { onStdout: (text, c) => text.includes('writing') && c.kill('SIGKILL') },
    );
    const r = await done;
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    void child;

    // The partial blob exists only as a temp file in the dead process's session.
    const sessions = readdirSync(join(root, 'berth/tmp'));
    const temps = sessions.flatMap((s) => readdirSync(join(root, 'berth/tmp', s)).map((f) => join(root, 'berth/tmp', s, f)));
    assert.ok(temps.some((f) => /\/blob-/.test(f) && statSync(f).size >= 4 << 20), temps.join(','));
    assert.deepEqual(readdirSync(join(root, 'blobs/sha256')).sort(), blobsBefore);

    const s = await Store.open(root);
    assert.ok((await s.listImages()).length > 0);
    assert.ok((await s.resolveImage('base:1')).config);
    const res = await s.gc();
    assert.equal(res.removedSessions, 1);
    assert.ok(res.removedTempFiles >= 1);
    assert.ok(res.freedBytes >= 4 << 20);
    assert.deepEqual(res.incomplete, []);
    assert.deepEqual(readdirSync(join(root, 'berth/tmp')), []);
    await s.tag('base:1', 'after/kill:1');
    await s.close();
  });

  test('a lock held elsewhere gives E_STORE_LOCKED naming the lock file, without blocking the event loop', async () => {
    let locked: () => void = () => {};
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = runNode(
      `
      import { FileLock } from ${JSON.stringify(FLOCK_MODULE)};
      await FileLock.acquire(${JSON.stringify(join(root, 'berth/lock'))}, 'exclusive');
      console.log('locked');
      setInterval(() => {}, 1000);
    `,
      { onStdout: (text) => text.includes('locked') && locked() },
    );
    await isLocked;
    const s = await Store.open(root, { lockTimeoutMs: 300 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    try {
      await assert.rejects(s.tag('base:1', 'blocked:1'), (e: unknown) => isCode('E_STORE_LOCKED')(e) && (e as Error).message.includes(join(root, 'berth/lock')));
      assert.ok(ticks > 0, 'timers ran while waiting for the lock');
    } finally {
      clearInterval(timer);
      holder.child.kill('SIGKILL');
      await holder.done;
    }
    // The lock died with its holder.
    await s.tag('base:1', 'unblocked:1');
    await s.close();
  });
});
