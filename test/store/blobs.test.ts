/**
 * Blobs: verified writes (nothing stored on mismatch), idempotence, verified reads that detect
 * corruption on disk, streaming reads.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, readdirSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store, digestOf, hashStream } from '../../src/store/index.js';
import { isCode, tempDir } from './helpers.js';

async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

describe('blobs', () => {
  let t: { dir: string; cleanup: () => void };
  let store: Store;
  /** Files left in this process's session directory (there must be no temp files after any call). */
  const sessionFiles = () => readdirSync(join(store.root, 'berth/tmp')).flatMap((s) => readdirSync(join(store.root, 'berth/tmp', s)).filter((f) => f !== 'lease'));

  before(async () => {
    t = tempDir();
    store = await Store.open(join(t.dir, 'store'), { create: true });
  });
  after(async () => {
    await store.close();
    t.cleanup();
  });

  test('a buffer is stored under its sha256 and reads back verified', async () => {
    const data = Buffer.from('hello blob');
    const put = await store.putBlob(data);
    assert.deepEqual(put, { digest: digestOf(data), size: data.length });
    const path = store.blobPath(put.digest);
    assert.equal(path, join(store.root, 'blobs/sha256', put.digest.slice(7)));
    assert.deepEqual(readFileSync(path), data);
    assert.equal(statSync(path).mode & 0o022, 0, 'not writable by group or others');
    assert.equal(await store.hasBlob(put.digest), true);
    assert.deepEqual(await store.statBlob(put.digest), put);
    assert.deepEqual(await store.readBlob(put.digest), data);
    assert.deepEqual(await collect(store.openBlob(put.digest)), data);
    assert.deepEqual(sessionFiles(), []);
  });

  test('a stream is hashed while written, in any chunking', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 0x5a);
    data.write('start');
    const put = await store.putBlob(chunked(data, 4099));
    assert.deepEqual(put, { digest: digestOf(data), size: data.length });
    assert.deepEqual(await hashStream(store.openBlob(put.digest)), put);
  });

  test('putting the same content again is idempotent', async () => {
    const data = Buffer.from('same');
    const a = await store.putBlob(data, { digest: digestOf(data), size: 4 });
    const b = await store.putBlob(chunked(data, 1));
    assert.deepEqual(a, b);
    assert.deepEqual(await store.readBlob(a.digest), data);
  });

  test('sha512 digests are verified with sha512', async () => {
    const data = Buffer.from('five-twelve');
    const put = await store.putBlob(data, { digest: digestOf(data, 'sha512') });
    assert.equal(put.digest, digestOf(data, 'sha512'));
    assert.deepEqual(await store.readBlob(put.digest), data);
  });

  const putFailures: { doc: string; data: () => Buffer | AsyncIterable<Buffer>; expect: { digest?: string; size?: number }; code: string }[] = [
    { doc: 'digest mismatch', data: () => Buffer.from('actual'), expect: { digest: digestOf('expected') }, code: 'E_DIGEST_MISMATCH' },
    { doc: 'digest mismatch while streaming', data: () => chunked(Buffer.from('actual content'), 3), expect: { digest: digestOf('other') }, code: 'E_DIGEST_MISMATCH' },
    { doc: 'fewer bytes than expected', data: () => Buffer.from('short'), expect: { size: 6 }, code: 'E_SIZE_MISMATCH' },
    { doc: 'more bytes than expected (stops early)', data: () => chunked(Buffer.alloc(1 << 20), 1024), expect: { size: 10 }, code: 'E_SIZE_MISMATCH' },
    { doc: 'malformed expected digest', data: () => Buffer.from('x'), expect: { digest: 'sha256:nothex' }, code: 'E_DIGEST_INVALID' },
  ];
  for (const c of putFailures) {
    test(`put with ${c.doc}: ${c.code}, nothing stored`, async () => {
      const before = readdirSync(join(store.root, 'blobs/sha256')).sort();
      await assert.rejects(store.putBlob(c.data(), c.expect), isCode(c.code));
      assert.deepEqual(readdirSync(join(store.root, 'blobs/sha256')).sort(), before);
      assert.deepEqual(sessionFiles(), []);
    });
  }

  test('a source that fails mid-stream stores nothing and its error comes through', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('part');
      throw new Error('source broke');
    }
    await assert.rejects(store.putBlob(failing()), /source broke/);
    assert.deepEqual(sessionFiles(), []);
  });

  test('a corrupted blob on disk is detected by readBlob and by openBlob at the end', async () => {
    const data = Buffer.alloc(2 * 1024 * 1024 + 5, 7);
    const put = await store.putBlob(data);
    const path = store.blobPath(put.digest);
    chmodSync(path, 0o644);
    const bad = Buffer.from(data);
    bad[bad.length - 3] ^= 0xff;
    writeFileSync(path, bad);
    await assert.rejects(store.readBlob(put.digest), (e: unknown) => isCode('E_BLOB_CORRUPT')(e) && (e as Error).message.includes(put.digest));
    const it = store.openBlob(put.digest);
    const first = await it.next();
    assert.equal(first.done, false, 'data streams before the check');
    await assert.rejects(collect(it), isCode('E_BLOB_CORRUPT'));
    // Storing the content again repairs it.
    await store.putBlob(data);
    assert.deepEqual(await store.readBlob(put.digest), data);
  });

  test('a blob replaced by a symlink is refused', async () => {
    const put = await store.putBlob(Buffer.from('link target'));
    const path = store.blobPath(put.digest);
    const other = await store.putBlob(Buffer.from('other'));
    unlinkSync(path);
    symlinkSync(store.blobPath(other.digest), path);
    await assert.rejects(store.readBlob(put.digest), isCode('E_BLOB_CORRUPT'));
    await assert.rejects(collect(store.openBlob(put.digest)), isCode('E_BLOB_CORRUPT'));
    unlinkSync(path);
  });

  test('stopping a stream early is fine', async () => {
    const put = await store.putBlob(Buffer.alloc(3 << 20, 1));
    for await (const c of store.openBlob(put.digest)) {
      assert.ok(c.length > 0);
      break;
    }
  });

  const readFailures: { doc: string; run: () => Promise<unknown>; code: string }[] = [
    { doc: 'missing blob', run: () => store.readBlob(digestOf('never stored')), code: 'E_BLOB_NOT_FOUND' },
    { doc: 'missing blob, streamed', run: () => collect(store.openBlob(digestOf('never stored'))), code: 'E_BLOB_NOT_FOUND' },
    { doc: 'over maxSize', run: async () => store.readBlob((await store.putBlob(Buffer.alloc(100))).digest, { maxSize: 99 }), code: 'E_BLOB_TOO_LARGE' },
    { doc: 'malformed digest', run: () => store.readBlob('sha256:abc'), code: 'E_DIGEST_INVALID' },
    { doc: 'malformed digest for a path', run: async () => store.blobPath('../../etc/passwd'), code: 'E_DIGEST_INVALID' },
  ];
  for (const c of readFailures) {
    test(`${c.doc}: ${c.code}`, async () => {
      await assert.rejects(c.run(), isCode(c.code));
    });
  }

  test('hasBlob and statBlob report absence', async () => {
    assert.equal(await store.hasBlob(digestOf('absent')), false);
    assert.equal(await store.statBlob(digestOf('absent')), undefined);
  });
});
