import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import zlib from 'node:zlib';
import { compressGzip, decompress, detectCompression, type DecompressOptions } from '../../src/layer/compress.js';

async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of gen) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

function* chunks(buf: Buffer, size: number): Generator<Buffer> {
  for (let o = 0; o < buf.length; o += size) yield buf.subarray(o, o + size);
}

async function errorOf(p: Promise<unknown>): Promise<{ code?: string; message: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  return { code: 'no error', message: '' };
}

const hasZstd = spawnSync('sh', ['-c', 'command -v zstd']).status === 0;
const hasGzip = spawnSync('sh', ['-c', 'command -v gzip']).status === 0;

/** Runs a compressor command over `input` (through a pipe, so the size is unknown to it). */
function compressWith(cmd: string, args: string[], input: Buffer): Buffer {
  return execFileSync(cmd, args, { input, maxBuffer: 1 << 30 });
}

// Text-like data that compresses, plus a random part that does not.
const sample = Buffer.concat([Buffer.from('berth layer data '.repeat(20000)), randomBytes(300_000), Buffer.alloc(500_000)]);

describe('detectCompression', () => {
  const rows: Array<[string, number[], string]> = [
    ['gzip magic', [0x1f, 0x8b, 0x08, 0x00], 'gzip'],
    ['gzip magic alone', [0x1f, 0x8b], 'gzip'],
    ['zstd frame', [0x28, 0xb5, 0x2f, 0xfd, 0x04], 'zstd'],
    ['zstd skippable frame', [0x5e, 0x2a, 0x4d, 0x18], 'zstd'],
    ['a tar header', [0x65, 0x74, 0x63, 0x2f], 'none'],
    ['too short for zstd', [0x28, 0xb5, 0x2f], 'none'],
    ['empty', [], 'none'],
  ];
  for (const [name, bytes, want] of rows) test(name, () => assert.equal(detectCompression(Buffer.from(bytes)), want));
});

describe('decompress: accepted input', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-compress-'));
  });
  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  test('compressGzip then decompress is the identity, whatever the chunking', async () => {
    const gz = await collect(compressGzip(chunks(sample, 70_000), { level: 6 }));
    assert.equal(detectCompression(gz), 'gzip');
    for (const size of [1000, gz.length]) {
      assert.ok((await collect(decompress(chunks(gz, size)))).equals(sample), `chunk ${size}`);
    }
    const small = Buffer.from('one byte at a time '.repeat(50));
    const gzSmall = await collect(compressGzip([small]));
    assert.ok((await collect(decompress(chunks(gzSmall, 1)))).equals(small), 'chunk 1');
  });

  test('compressGzip output is deterministic and readable by gzip(1)', { skip: !hasGzip && 'gzip not installed' }, async () => {
    const a = await collect(compressGzip([sample]));
    const b = await collect(compressGzip(chunks(sample, 4096)));
    assert.ok(a.equals(b));
    assert.ok(compressWith('gzip', ['-dc'], a).equals(sample));
  });

  test('multi-member gzip (cat a.gz b.gz) decodes whole', { skip: !hasGzip && 'gzip not installed' }, async () => {
    const a = compressWith('gzip', ['-c'], Buffer.from('hello\n'));
    const b = compressWith('gzip', ['-c'], sample);
    const out = await collect(decompress(chunks(Buffer.concat([a, b]), 999)));
    assert.ok(out.equals(Buffer.concat([Buffer.from('hello\n'), sample])));
  });

  const zstdCases: Array<[string, string[], Buffer, DecompressOptions?]> = [
    ['default level, checksum', ['-q', '-c'], sample],
    ['no checksum', ['-q', '-c', '--no-check'], sample],
    ['level 19 (8 MiB window)', ['-q', '-c', '-19'], sample.subarray(0, 200_000)],
    ['long window (128 MiB) with a raised window limit', ['-q', '-c', '--long=27'], sample.subarray(0, 300_000), { maxWindowBytes: 128 << 20 }],
    ['empty input', ['-q', '-c'], Buffer.alloc(0)],
    ['64 MiB of zeros (RLE blocks)', ['-q', '-c'], Buffer.alloc(64 << 20)],
  ];
  for (const [name, args, input, opts] of zstdCases) {
    test(`zstd: ${name}`, { skip: !hasZstd && 'zstd not installed' }, async () => {
      const z = compressWith('zstd', args, input);
      assert.equal(detectCompression(z), 'zstd');
      for (const size of [1000, 65536]) {
        const out = await collect(decompress(chunks(z, size), { maxRatio: Infinity, ...opts }));
        assert.equal(out.length, input.length, `chunk ${size}`);
        assert.ok(out.equals(input), `chunk ${size}`);
      }
    });
  }

  test('zstd: a file compressed by zstd(1) with a known size (single-segment frame)', { skip: !hasZstd && 'zstd not installed' }, async () => {
    const file = join(dir, 'in.bin');
    writeFileSync(file, sample);
    execFileSync('zstd', ['-q', '-f', file, '-o', `${file}.zst`]);
    const out = await collect(decompress(chunks(readFileSync(`${file}.zst`), 10_000)));
    assert.ok(out.equals(sample));
  });

  test('zstd: several frames and a skippable frame', { skip: !hasZstd && 'zstd not installed' }, async () => {
    const a = compressWith('zstd', ['-q', '-c'], Buffer.from('first '));
    const b = compressWith('zstd', ['-q', '-c'], sample);
    const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]), Buffer.from('skip!')]);
    const all = Buffer.concat([skippable, a, skippable, b]);
    const want = Buffer.concat([Buffer.from('first '), sample]);
    assert.ok((await collect(decompress(chunks(all, 333)))).equals(want));
    // Headers split at every possible byte: 3-byte chunks over the start of the stream.
    const head = Buffer.concat([skippable, a, skippable]);
    assert.ok((await collect(decompress([...chunks(head, 3), b]))).equals(want));
  });

  test('uncompressed input passes through unchanged', async () => {
    const tarLike = Buffer.concat([Buffer.from('etc/passwd'), Buffer.alloc(2000)]);
    const out = await collect(decompress(chunks(tarLike, 1)));
    assert.ok(out.equals(tarLike));
    assert.equal((await collect(decompress([]))).length, 0);
  });

  test('a zstd bomb decodes in bounded memory when no limit stops it', { skip: !hasZstd && 'zstd not installed' }, async () => {
    // 256 MiB of zeros is a few KiB of zstd: each 4-byte RLE block expands to 128 KiB.
    const z = compressWith('zstd', ['-q', '-c'], Buffer.alloc(256 << 20));
    assert.ok(z.length < 64 * 1024);
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage.rss();
    let peak = before;
    let n = 0;
    let k = 0;
    for await (const c of decompress([z], { maxRatio: Infinity })) {
      n += c.length;
      if (++k % 256 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage.rss());
      }
    }
    assert.equal(n, 256 << 20);
    const growth = peak - before;
    assert.ok(growth < 64 << 20, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
  });
});

interface LimitCase {
  name: string;
  input: () => Buffer;
  opts?: DecompressOptions;
  code: string;
  skip?: string | false;
}

const zeros20 = () => Buffer.alloc(20 << 20);

const refused: LimitCase[] = [
  {
    name: 'gzip output over maxOutputBytes',
    input: () => zlib.gzipSync(zeros20()),
    opts: { maxOutputBytes: 1 << 20 },
    code: 'E_DECOMPRESSION_LIMIT',
  },
  {
    name: 'gzip output/input ratio over maxRatio',
    input: () => zlib.gzipSync(zeros20()),
    opts: { maxRatio: 100 },
    code: 'E_DECOMPRESSION_LIMIT',
  },
  {
    name: 'zstd bomb over the default ratio',
    input: () => compressWith('zstd', ['-q', '-c'], zeros20()),
    code: 'E_DECOMPRESSION_LIMIT',
    skip: !hasZstd && 'zstd not installed',
  },
  {
    name: 'zstd output over maxOutputBytes',
    input: () => compressWith('zstd', ['-q', '-c'], sample),
    opts: { maxOutputBytes: 1000 },
    code: 'E_DECOMPRESSION_LIMIT',
    skip: !hasZstd && 'zstd not installed',
  },
  {
    name: 'zstd window over the limit (--long=28 from a pipe: 256 MiB window)',
    input: () => compressWith('zstd', ['-q', '-c', '--long=28'], sample),
    code: 'E_DECOMPRESSION_LIMIT',
    skip: !hasZstd && 'zstd not installed',
  },
  {
    name: 'zstd window over the default 8 MiB limit (--long=27)',
    input: () => compressWith('zstd', ['-q', '-c', '--long=27'], sample),
    code: 'E_DECOMPRESSION_LIMIT',
    skip: !hasZstd && 'zstd not installed',
  },
  {
    name: 'zstd CPU bomb: 250k one-byte blocks in an 8 MiB window',
    input: () => {
      const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 13 << 3]); // window 2^23
      const block = Buffer.from([1 << 3, 0, 0, 0x41]); // raw, not last, 1 byte
      return Buffer.concat([frame, ...Array.from({ length: 250_000 }, () => block), Buffer.from([1, 0, 0])]);
    },
    code: 'E_DECOMPRESSION_LIMIT',
  },
  {
    name: 'zstd CPU bomb: 100k empty frames with an 8 MiB window',
    input: () => {
      const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 13 << 3, 1, 0, 0]); // one empty last block
      return Buffer.concat(Array.from({ length: 100_000 }, () => frame));
    },
    code: 'E_DECOMPRESSION_LIMIT',
  },
  {
    name: 'uncompressed input over maxOutputBytes',
    input: () => Buffer.alloc(5000),
    opts: { maxOutputBytes: 4096 },
    code: 'E_DECOMPRESSION_LIMIT',
  },
  {
    name: 'gzip with a damaged deflate stream',
    input: () => {
      const gz = zlib.gzipSync(sample);
      for (let i = 100; i < 200; i++) gz[i] ^= 0x5a;
      return gz;
    },
    code: 'E_DECOMPRESS_CORRUPT',
  },
  { name: 'truncated gzip', input: () => zlib.gzipSync(sample).subarray(0, 5000), code: 'E_DECOMPRESS_CORRUPT' },
  { name: 'gzip followed by garbage', input: () => Buffer.concat([zlib.gzipSync(sample), Buffer.from('garbage!')]), code: 'E_DECOMPRESS_CORRUPT' },
  {
    name: 'truncated zstd',
    input: () => compressWith('zstd', ['-q', '-c'], sample).subarray(0, 3000),
    code: 'E_DECOMPRESS_CORRUPT',
    skip: !hasZstd && 'zstd not installed',
  },
  {
    name: 'zstd magic followed by garbage',
    input: () => Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64, 0xff)]),
    code: 'E_DECOMPRESS_CORRUPT',
  },
  {
    name: 'zstd frame followed by a non-frame',
    input: () => Buffer.concat([compressWith('zstd', ['-q', '-c'], Buffer.from('x')), Buffer.from('not a frame')]),
    code: 'E_DECOMPRESS_CORRUPT',
    skip: !hasZstd && 'zstd not installed',
  },
  {
    name: 'zstd block larger than the 128 KiB maximum',
    // Frame: magic, descriptor (no single segment, no checksum), window 1 MiB, then a last raw
    // block header claiming 200000 bytes.
    input: () => Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50]), Buffer.from([((200000 << 3) | 1) & 0xff, (200000 << 3) >> 8 & 0xff, (200000 << 3) >> 16]), Buffer.alloc(10)]),
    code: 'E_DECOMPRESS_CORRUPT',
  },
  { name: 'an unknown option', input: () => Buffer.alloc(1), opts: { maxOutput: 5 } as DecompressOptions, code: 'E_OPTION_UNKNOWN' },
  { name: 'a negative limit', input: () => Buffer.alloc(1), opts: { maxOutputBytes: -1 }, code: 'E_OPTION_INVALID' },
];

describe('decompress: refused input', () => {
  for (const c of refused) {
    test(c.name, { skip: c.skip }, async () => {
      const input = c.input();
      let emitted = 0;
      const err = await errorOf(
        (async () => {
          for await (const b of decompress(chunks(input, 4096), c.opts)) emitted += b.length;
        })(),
      );
      assert.equal(err.code, c.code, err.message);
      if (c.code === 'E_DECOMPRESSION_LIMIT') {
        assert.match(err.message, /possible decompression bomb|window/);
        if (c.opts?.maxOutputBytes !== undefined) assert.ok(emitted <= c.opts.maxOutputBytes, `emitted ${emitted} bytes past the limit`);
        if (/exceed/.test(err.message) && !/window/.test(err.message)) {
          assert.equal(typeof err.details?.outputBytes, 'number');
          assert.equal(typeof err.details?.inputBytes, 'number');
        }
      }
    });
  }
});

describe('decompress: the source', () => {
  test('errors from the source pass through unchanged', async () => {
    const boom = new Error('network reset');
    const gz = zlib.gzipSync(sample);
    async function* src() {
      yield gz.subarray(0, 1000);
      throw boom;
    }
    for (const input of [src(), (async function* () { yield Buffer.from('plain'); throw boom; })()]) {
      const err = await errorOf(collect(decompress(input)));
      assert.equal(err, boom);
    }
  });

  test('stopping early closes the source', async () => {
    const gz = zlib.gzipSync(sample);
    for (const data of [gz, sample]) {
      let closed = false;
      async function* src() {
        try {
          for (const c of chunks(data, 1000)) yield c;
        } finally {
          closed = true;
        }
      }
      for await (const c of decompress(src())) {
        void c;
        break;
      }
      // pipeline tears down asynchronously for gzip; give it a turn of the event loop.
      await new Promise((r) => setImmediate(r));
      assert.ok(closed, 'source closed');
    }
  });

  test('compressGzip refuses a bad level', async () => {
    const err = await errorOf(collect(compressGzip([Buffer.from('x')], { level: 12 })));
    assert.equal(err.code, 'E_OPTION_INVALID');
  });
});
