import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { RegistryClient } from '../../src/registry/client.js';
import { blobBytes, coalesce, contentRangeStart, tee } from '../../src/registry/transfer.js';

async function* chunksOf(b: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (let i = 0; at < b.length; i++) {
    const n = sizes.length ? Math.max(1, sizes[i % sizes.length]) : b.length;
    yield b.subarray(at, at + n);
    at += n;
  }
}

async function collect(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of src) parts.push(b);
  return Buffer.concat(parts);
}

describe('contentRangeStart', () => {
  const cases: [string | undefined, number | undefined][] = [
    ['bytes 100-199/200', 100],
    ['bytes 0-0/*', 0],
    ['bytes */200', undefined],
    ['items 1-2/3', undefined],
    [undefined, undefined],
  ];
  for (const [h, want] of cases) test(String(h), () => assert.equal(contentRangeStart(h), want));
});

describe('tee and coalesce', () => {
  test('both readers of a tee get every byte in order, however the source is chunked', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.array(fc.integer({ min: 1, max: 900 }), { maxLength: 6 }), fc.integer({ min: 1, max: 2000 }), async (data, sizes, limit) => {
        const b = Buffer.from(data);
        const [x, y] = tee(chunksOf(b, sizes), limit);
        const [gx, gy] = await Promise.all([collect(x), collect(y)]);
        assert.deepEqual(gx, b);
        assert.deepEqual(gy, b);
      }),
    );
  });

  test('a reader that cancels or stops early does not hold the other back', async () => {
    const b = Buffer.alloc(1 << 20, 1);
    const [x, y] = tee(chunksOf(b, [1000]), 4096);
    y.cancel();
    assert.equal((await collect(x)).length, b.length);
    const [p, q] = tee(chunksOf(b, [1000]), 4096);
    const early = (async () => {
      for await (const c of q) if (c.length > 0) break;
    })();
    assert.equal((await collect(p)).length, b.length);
    await early;
  });

  test('an error of the source reaches both readers', async () => {
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.from('abc');
      throw new Error('cut');
    }
    const [x, y] = tee(broken());
    await Promise.all([assert.rejects(collect(x), /cut/), assert.rejects(collect(y), /cut/)]);
  });

  test('coalesce keeps the bytes and makes every chunk but the last at least the minimum', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4000 }), fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 6 }), fc.integer({ min: 1, max: 1500 }), async (data, sizes, min) => {
        const out: Buffer[] = [];
        for await (const c of coalesce(chunksOf(Buffer.from(data), sizes), min)) out.push(c);
        assert.deepEqual(Buffer.concat(out), Buffer.from(data));
        for (const c of out.slice(0, -1)) assert.ok(c.length >= min);
      }),
    );
  });
});

describe('blobBytes', () => {
  const blob = Buffer.alloc(2 << 20);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 31) & 0xff;

  /** A registry whose first blob answer breaks after `cutAt` bytes; `range` says how it answers a Range. */
  async function flaky(cutAt: number, range: 'honour' | 'ignore' | 'wrong', cuts = 1) {
    const ranges: string[] = [];
    let left = cuts;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/v2/') return res.writeHead(200, { 'content-length': '0' }).end();
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m) ranges.push(req.headers.range!);
      let start = m && range !== 'ignore' ? Number(m[1]) : 0;
      if (m && range === 'wrong') start = Math.max(0, start - 10);
      const body = blob.subarray(start);
      const headers: Record<string, string> = { 'content-length': String(body.length) };
      if (m && range !== 'ignore') headers['content-range'] = `bytes ${start}-${blob.length - 1}/${blob.length}`;
      res.writeHead(m && range !== 'ignore' ? 206 : 200, headers);
      if (left > 0) {
        left--;
        res.write(body.subarray(0, cutAt), () => res.socket?.destroy());
      } else res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { client: new RegistryClient(host, { backoffMs: 1 }), ranges, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  const resumes: [string, 'honour' | 'ignore', number, boolean][] = [
    ['a cut resumes with a Range request from the bytes received (206)', 'honour', 1, true],
    ['a registry that answers the Range with the whole blob (200): the bytes already passed on are skipped', 'ignore', 1, true],
    ['three cuts in a row still complete', 'honour', 3, true],
  ];
  for (const [name, range, cuts, expectRange] of resumes) {
    test(name, async () => {
      const reg = await flaky(300_000, range, cuts);
      try {
        let last = 0;
        const got = await collect(blobBytes(reg.client, '/v2/a/blobs/sha256:00', blob.length, 's', (n) => (last = n), { backoffMs: 1 }));
        assert.ok(got.equals(blob));
        assert.equal(last, blob.length);
        if (expectRange) assert.ok(reg.ranges.length >= cuts && reg.ranges.every((r) => /^bytes=\d+-$/.test(r)), reg.ranges.join(','));
      } finally {
        await reg.close();
      }
    });
  }

  test('a 206 from the wrong offset is E_REGISTRY_RESUME', async () => {
    const reg = await flaky(300_000, 'wrong');
    try {
      await assert.rejects(collect(blobBytes(reg.client, '/v2/a/blobs/sha256:00', blob.length, 's', () => undefined, { backoffMs: 1 })), (e: { code?: string }) => e.code === 'E_REGISTRY_RESUME');
    } finally {
      await reg.close();
    }
  });

  test('a connection that keeps breaking without progress gives up with E_REGISTRY_UNREACHABLE', async () => {
    const reg = await flaky(0, 'honour', 100);
    try {
      await assert.rejects(collect(blobBytes(reg.client, '/v2/a/blobs/sha256:00', blob.length, 's', () => undefined, { backoffMs: 1 })), (e: { code?: string; message: string }) => e.code === 'E_REGISTRY_UNREACHABLE' && /0 of 2097152 bytes/.test(e.message));
    } finally {
      await reg.close();
    }
  });
});
