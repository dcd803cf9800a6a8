/**
 * Bounded memory: a 1 GiB entry, synthesised chunk by chunk (never held in memory), passes
 * through the decoder with small RSS growth. This is a memory bound, not a timing check.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeTar } from '../../../src/layer/tar/decode.js';
import { encodeHeader } from '../../../src/layer/tar/encode.js';
import { header } from './fixtures.js';

const GiB = 2 ** 30;
const CHUNK = 256 * 1024;
const LIMIT = 64 * 2 ** 20;

// V8 frees the chunks' external memory only when it collects garbage, which it may put off by
// tens of MiB; collecting regularly makes RSS reflect what is really still referenced.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('a 1 GiB entry decodes with RSS growth under 64 MiB', async () => {
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };

  async function* archive(): AsyncGenerator<Buffer> {
    yield encodeHeader(header({ path: 'big', size: GiB + 7 }));
    let left = GiB + 7;
    let i = 0;
    while (left > 0) {
      const n = Math.min(CHUNK, left);
      // Fresh, touched pages each time: if the decoder kept chunks, RSS would show it.
      const c = Buffer.allocUnsafe(n).fill(i & 0xff);
      left -= n;
      if (++i % 64 === 0) {
        gc();
        sample();
      }
      yield c;
    }
    yield Buffer.alloc(512 - 7); // padding
    yield encodeHeader(header({ path: 'after', size: 0 }));
    yield Buffer.alloc(1024);
  }

  gc();
  const before = process.memoryUsage.rss();
  peak = before;
  const seen: Array<[string, number]> = [];
  let firstByteOk = true;
  for await (const e of decodeTar(archive())) {
    let n = 0;
    for await (const c of e.body) {
      if (c[0] !== ((n / CHUNK) & 0xff)) firstByteOk = false;
      n += c.length;
    }
    seen.push([e.header.path, n]);
  }
  sample();
  assert.deepEqual(seen, [['big', GiB + 7], ['after', 0]]);
  assert.ok(firstByteOk, 'body slices arrive in order and unaltered');
  const growth = peak - before;
  assert.ok(growth < LIMIT, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
});
