import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { ChunkedDecoder, framingOf, openStream, parseHead } from '../../src/registry/http.js';

/** A TCP server that answers every connection with `respond(socket)`, on 127.0.0.1. */
async function rawServer(respond: (s: Socket, request: string) => void): Promise<{ url: (path: string) => URL; close: () => Promise<void> }> {
  const server: Server = createNetServer((s) => {
    let req = '';
    s.on('data', (d) => {
      req += d.toString('latin1');
      if (req.includes('\r\n\r\n')) respond(s, req);
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { url: (p) => new URL(`http://127.0.0.1:${port}${p}`), close: () => new Promise((r) => server.close(() => r())) };
}

async function collect(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of body) parts.push(b);
  return Buffer.concat(parts);
}

function chunked(body: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    if (at >= body.length) break;
    const piece = body.subarray(at, at + Math.max(1, n));
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
    at += piece.length;
  }
  if (at < body.length) parts.push(Buffer.from(`${(body.length - at).toString(16)};ext=1\r\n`), body.subarray(at), Buffer.from('\r\n'));
  parts.push(Buffer.from('0\r\nX-Trailer: yes\r\n\r\n'));
  return Buffer.concat(parts);
}

describe('parseHead and framingOf', () => {
  const ok: [string, string, number, ReturnType<typeof framingOf>][] = [
    ['content-length', 'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: x', 200, { kind: 'length', left: 12 }],
    ['repeated identical lengths', 'HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\ncontent-length: 5', 206, { kind: 'length', left: 5 }],
    ['chunked wins over a length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9', 200, { kind: 'chunked' }],
    ['no framing: until close', 'HTTP/1.0 200 OK\nServer: x', 200, { kind: 'close' }],
    ['204 has no body', 'HTTP/1.1 204 No Content', 204, { kind: 'length', left: 0 }],
    ['a redirect without a reason phrase', 'HTTP/1.1 307\r\nLocation: /x\r\nContent-Length: 0', 307, { kind: 'length', left: 0 }],
  ];
  for (const [name, head, status, framing] of ok) {
    test(name, () => {
      const h = parseHead(head);
      assert.equal(h.status, status);
      assert.deepEqual(framingOf(h), framing);
    });
  }
  test('headers are lower-cased and repeats joined', () => {
    const h = parseHead('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="a"\r\nWww-Authenticate: Bearer realm="b"');
    assert.equal(h.headers.get('www-authenticate'), 'Basic realm="a", Bearer realm="b"');
  });

  const bad: [string, string][] = [
    ['not HTTP', 'SSH-2.0-OpenSSH_9.2'],
    ['HTTP/2 text', 'HTTP/2 200'],
    ['a header without a colon', 'HTTP/1.1 200 OK\r\nbroken header'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 3'],
    ['conflicting lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4'],
    ['a negative length', 'HTTP/1.1 200 OK\r\nContent-Length: -1'],
    ['gzip transfer coding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked'],
  ];
  for (const [name, head] of bad) {
    test(`refused: ${name}`, () => {
      assert.throws(
        () => framingOf(parseHead(head)),
        (e: { code?: string }) => e.code === 'E_HTTP_PROTOCOL',
      );
    });
  }
});

describe('ChunkedDecoder', () => {
  test('decodes any body however the wire bytes are split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 20 }), (body, chunkSizes, cuts) => {
        const wire = chunked(Buffer.from(body), chunkSizes);
        const d = new ChunkedDecoder();
        const out: Buffer[] = [];
        let at = 0;
        for (let i = 0; at < wire.length; i++) {
          const n = cuts[i % cuts.length];
          out.push(...d.push(wire.subarray(at, at + n)));
          at += n;
        }
        assert.ok(d.done);
        assert.deepEqual(Buffer.concat(out), Buffer.from(body));
      }),
    );
  });

  const bad: [string, string][] = [
    ['a size that is not hex', 'zz\r\nabc\r\n'],
    ['data longer than its size', '2\r\nabc\r\n'],
  ];
  for (const [name, wire] of bad) {
    test(`refused: ${name}`, () => {
      assert.throws(
        () => new ChunkedDecoder().push(Buffer.from(wire)),
        (e: { code?: string }) => e.code === 'E_HTTP_PROTOCOL',
      );
    });
  }
});

describe('openStream', () => {
  const body = Buffer.alloc(3 << 20);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 11)) & 0xff;

  const answers: [string, (s: Socket) => void][] = [
    ['Content-Length', (s) => s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]))],
    ['chunked', (s) => s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), chunked(body, [1, 100000, 65536])]))],
    ['delimited by the close', (s) => s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), body]))],
    ['after a 100 Continue', (s) => s.end(Buffer.concat([Buffer.from(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]))],
  ];
  for (const [name, answer] of answers) {
    test(`a body ${name} arrives whole`, async () => {
      const srv = await rawServer((s) => answer(s));
      try {
        const res = await openStream(srv.url('/blob'), {});
        assert.equal(res.status, 200);
        assert.ok((await collect(res.body)).equals(body));
      } finally {
        await srv.close();
      }
    });
  }

  test('sends the request line, Host and the given headers', async () => {
    let seen = '';
    const srv = await rawServer((s, req) => {
      seen = req;
      s.end('HTTP/1.1 204 No Content\r\n\r\n');
    });
    try {
      const res = await openStream(srv.url('/v2/x/blobs/sha256:ab?y=1'), { range: 'bytes=10-', authorization: 'Bearer t' });
      assert.equal(res.status, 204);
      assert.equal((await collect(res.body)).length, 0);
      assert.match(seen, /^GET \/v2\/x\/blobs\/sha256:ab\?y=1 HTTP\/1\.1\r\n/);
      assert.match(seen, /\r\nHost: 127\.0\.0\.1:\d+\r\n/);
      assert.match(seen, /\r\nrange: bytes=10-\r\n/);
      assert.match(seen, /\r\nauthorization: Bearer t\r\n/);
    } finally {
      await srv.close();
    }
  });

  test('a connection that closes early fails the body with E_BODY_INCOMPLETE, after the bytes that came', async () => {
    const srv = await rawServer((s) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      s.end(body.subarray(0, 100000));
    });
    try {
      const res = await openStream(srv.url('/blob'), {});
      let got = 0;
      await assert.rejects(
        (async () => {
          for await (const b of res.body) got += b.length;
        })(),
        (e: { code?: string }) => e.code === 'E_BODY_INCOMPLETE',
      );
      assert.equal(got, 100000);
    } finally {
      await srv.close();
    }
  });

  test('a slow reader holds the socket back and still gets every byte', async () => {
    const big = Buffer.alloc(24 << 20, 7);
    const srv = await rawServer((s) => s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`), big])));
    try {
      const res = await openStream(srv.url('/blob'), {});
      let n = 0;
      for await (const b of res.body) {
        n += b.length;
        await new Promise((r) => setTimeout(r, 2));
      }
      assert.equal(n, big.length);
    } finally {
      await srv.close();
    }
  });

  test('a refused connection rejects with ECONNREFUSED', async () => {
    const srv = await rawServer(() => undefined);
    const url = srv.url('/x');
    await srv.close();
    await assert.rejects(openStream(url, {}), (e: { code?: string }) => e.code === 'ECONNREFUSED');
  });
});
