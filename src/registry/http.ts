/**
 * registry/http: the two ways berth speaks HTTP to a registry.
 *
 * - `send`: one request over node:http(s) with keep-alive agents, for the API's small documents
 *   (ping, manifests, configs, tokens) and uploads. The body is read on demand, bounded.
 * - `openStream`: one GET whose body is a large blob. It speaks HTTP/1.1 itself over a socket
 *   that reads into a reusable buffer (net/tls `onread`): node:http allocates a buffer and emits
 *   a stream event per 64 KiB read, which for a layer of a few hundred MB costs more CPU than
 *   hashing and writing it (measured on loopback: about 3x slower than this path). It supports
 *   what a registry or its blob storage sends for a GET: a status line, headers, and a body that
 *   is `Content-Length` delimited, chunked, or delimited by the close of the connection.
 *
 * Neither follows redirects or retries: registry/client.ts decides that (it knows which
 * Authorization header may go where). Errors of the network are plain Errors with `code` (as
 * node's), so the caller can tell a transient failure from a BerthError.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

export interface TransportOptions {
  /** false: certificates are not verified (an insecure registry). Default true. */
  tlsVerify?: boolean;
  /** Idle time after which a connection is given up, in ms (default 60 s). */
  idleTimeoutMs?: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly ok: boolean;
  /** A header's value (names are case-insensitive; repeated headers joined with ", "). */
  header(name: string): string | undefined;
  /** The whole body; a body longer than `limit` bytes is an Error (not read further). */
  buffer(limit?: number): Promise<Buffer>;
  text(limit?: number): Promise<string>;
  /** Drops the body (the connection goes back to the pool once the body has been read). */
  discard(): void;
}

const DOC_LIMIT = 8 << 20;
const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 16 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 16 }),
  httpsInsecure: new HttpsAgent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false }),
};

class NodeResponse implements HttpResponse {
  readonly status: number;
  readonly ok: boolean;
  private consumed = false;

  constructor(private readonly res: IncomingMessage) {
    this.status = res.statusCode ?? 0;
    this.ok = this.status >= 200 && this.status < 300;
  }

  header(name: string): string | undefined {
    const v = this.res.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  async buffer(limit = DOC_LIMIT): Promise<Buffer> {
    if (this.consumed) throw new Error('the response body was already read');
    this.consumed = true;
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of this.res) {
      n += (c as Buffer).length;
      if (n > limit) {
        this.res.destroy();
        throw Object.assign(new Error(`the response body is longer than ${limit} bytes`), { code: 'E_BODY_TOO_LARGE' });
      }
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async text(limit?: number): Promise<string> {
    return (await this.buffer(limit)).toString('utf8');
  }

  discard(): void {
    if (this.consumed) return;
    this.consumed = true;
    this.res.resume();
  }
}

export interface SendOptions extends TransportOptions {
  method: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** One request over node:http(s) (keep-alive). Resolves once the status and headers are in. */
export function send(url: URL, o: SendOptions): Promise<HttpResponse> {
  const https = url.protocol === 'https:';
  const body = typeof o.body === 'string' ? Buffer.from(o.body) : o.body;
  const headers: Record<string, string> = { 'user-agent': 'berth', ...(o.headers ?? {}) };
  if (body !== undefined) headers['content-length'] = String(body.length);
  else if (o.method !== 'GET' && o.method !== 'HEAD') headers['content-length'] ??= '0';
  const agent = !https ? agents.http : o.tlsVerify === false ? agents.httpsInsecure : agents.https;
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(url, { method: o.method, headers, agent }, (res) => resolve(new NodeResponse(res)));
    req.setTimeout(o.idleTimeoutMs ?? 60_000, () => req.destroy(Object.assign(new Error('no answer within the time limit'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

export interface StreamResponse {
  readonly status: number;
  header(name: string): string | undefined;
  /**
   * The body, read once. It ends only when the whole body has arrived: a connection that closes
   * early makes the iteration throw an Error with code `E_BODY_INCOMPLETE`. Leaving the
   * iteration early closes the connection.
   */
  readonly body: AsyncIterable<Buffer>;
  /** Closes the connection (the body is not wanted). */
  close(): void;
}

/** The parsed head of a response: status and lower-cased headers (repeats joined with ", "). */
export interface ResponseHead {
  status: number;
  headers: Map<string, string>;
}

const MAX_HEAD = 64 << 10;
const COALESCE = 1 << 20;

/**
 * Parses a response head (`HTTP/1.x SSS reason`, then `name: value` lines), without the blank
 * line that ends it. Lenient where RFC 9112 allows it (bare LF line ends, optional whitespace
 * around values); strict where a mistake would change the framing of the body.
 */
export function parseHead(text: string): ResponseHead {
  const lines = text.split(/\r?\n/);
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m) throw Object.assign(new Error(`not an HTTP/1.1 status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`), { code: 'E_HTTP_PROTOCOL' });
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const i = line.indexOf(':');
    if (i <= 0 || /\s/.test(line.slice(0, i))) throw Object.assign(new Error(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`), { code: 'E_HTTP_PROTOCOL' });
    const name = line.slice(0, i).toLowerCase();
    const value = line.slice(i + 1).trim();
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return { status: Number(m[1]), headers };
}

type Framing = { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };

/** How the body of a GET response is delimited (RFC 9112 section 6.3). */
export function framingOf(head: ResponseHead): Framing {
  const te = head.headers.get('transfer-encoding');
  if (te !== undefined) {
    const codings = te.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    if (codings[codings.length - 1] !== 'chunked' || codings.length > 1) {
      throw Object.assign(new Error(`unsupported transfer-encoding: ${te}`), { code: 'E_HTTP_PROTOCOL' });
    }
    return { kind: 'chunked' };
  }
  const cl = head.headers.get('content-length');
  if (cl !== undefined) {
    // Repeated identical values are allowed; different ones are not.
    const values = new Set(cl.split(',').map((s) => s.trim()));
    const [v] = values;
    if (values.size !== 1 || !/^\d{1,15}$/.test(v)) throw Object.assign(new Error(`invalid content-length: ${cl}`), { code: 'E_HTTP_PROTOCOL' });
    return { kind: 'length', left: Number(v) };
  }
  if (head.status === 204 || head.status === 304) return { kind: 'length', left: 0 };
  return { kind: 'close' };
}

/**
 * Decodes a chunked body incrementally: `push` takes wire bytes and returns the body bytes they
 * complete; `done` is set after the last chunk and its trailer. Bytes after the end are ignored.
 */
export class ChunkedDecoder {
  done = false;
  private state: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
  private line = '';
  private left = 0;

  push(buf: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < buf.length && !this.done) {
      if (this.state === 'data') {
        const n = Math.min(this.left, buf.length - i);
        out.push(buf.subarray(i, i + n));
        i += n;
        this.left -= n;
        if (this.left === 0) this.state = 'data-crlf';
        continue;
      }
      // A line: the chunk size, the CRLF after data, or a trailer line.
      const nl = buf.indexOf(0x0a, i);
      const end = nl === -1 ? buf.length : nl;
      this.line += buf.toString('latin1', i, end);
      if (this.line.length > 4096) throw Object.assign(new Error('a chunked-encoding line is longer than 4096 bytes'), { code: 'E_HTTP_PROTOCOL' });
      i = end;
      if (nl === -1) break;
      i++;
      const line = this.line.replace(/\r$/, '');
      this.line = '';
      if (this.state === 'size') {
        const m = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
        if (!m) throw Object.assign(new Error(`invalid chunk size line: ${JSON.stringify(line.slice(0, 40))}`), { code: 'E_HTTP_PROTOCOL' });
        this.left = parseInt(m[1], 16);
        this.state = this.left === 0 ? 'trailer' : 'data';
      } else if (this.state === 'data-crlf') {
        if (line !== '') throw Object.assign(new Error('a chunk is longer than its size says'), { code: 'E_HTTP_PROTOCOL' });
        this.state = 'size';
      } else if (line === '') {
        this.done = true;
      }
    }
    return out;
  }
}

/**
 * A GET whose body may be large (see the module comment). `headers` are sent as given, plus
 * Host, User-Agent and `Connection: close`. Resolves when the head has arrived.
 */
export function openStream(url: URL, headers: Record<string, string>, o: TransportOptions = {}): Promise<StreamResponse> {
  const https = url.protocol === 'https:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port || (https ? 443 : 80));
  const readBuf = Buffer.allocUnsafe(1 << 20);
  // Wire bytes go through `onData`, which is replaced once the head is parsed.
  let onData: (b: Buffer) => void = () => undefined;
  let paused = false;
  const onread = {
    buffer: readBuf,
    callback: (n: number) => {
      // The buffer is reused by the next read: what is kept is copied out.
      onData(Buffer.from(readBuf.subarray(0, n)));
      return !paused;
    },
  };
  // tls.connect takes `onread` too (node docs, tls.connect options), though @types/node omits it.
  const tlsOptions: ConnectionOptions & { onread: typeof onread } = { host, port, onread, rejectUnauthorized: o.tlsVerify !== false, ...(isIP(host) ? {} : { servername: host }), ALPNProtocols: ['http/1.1'] };
  const socket: Socket = https ? tlsConnect(tlsOptions) : netConnect({ host, port, onread });
  socket.setNoDelay(true);
  socket.setTimeout(o.idleTimeoutMs ?? 60_000, () => socket.destroy(Object.assign(new Error('no data within the time limit'), { code: 'ETIMEDOUT' })));
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'User-Agent: berth', 'Accept-Encoding: identity', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);

  return new Promise((resolve, reject) => {
    let headBytes: Buffer = Buffer.alloc(0);
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(e);
    };
    const onClose = () => fail(Object.assign(new Error('the connection closed before a response'), { code: 'ECONNRESET' }));
    socket.on('error', fail);
    socket.on('close', onClose);
    onData = (b) => {
      headBytes = headBytes.length ? Buffer.concat([headBytes, b]) : b;
      for (;;) {
        const end = headBytes.indexOf('\r\n\r\n');
        const endLf = end === -1 ? headBytes.indexOf('\n\n') : -1;
        if (end === -1 && endLf === -1) {
          if (headBytes.length > MAX_HEAD) fail(Object.assign(new Error(`the response head is longer than ${MAX_HEAD} bytes`), { code: 'E_HTTP_PROTOCOL' }));
          return;
        }
        const cut = end !== -1 ? end + 4 : endLf + 2;
        let head: ResponseHead;
        let framing: Framing;
        try {
          head = parseHead(headBytes.toString('latin1', 0, cut).trimEnd());
          framing = framingOf(head);
        } catch (e) {
          fail(e as Error);
          return;
        }
        const rest = headBytes.subarray(cut);
        if (head.status >= 100 && head.status < 200) {
          // 1xx: an interim response; the real one follows.
          headBytes = rest;
          continue;
        }
        settled = true;
        socket.removeListener('error', fail);
        socket.removeListener('close', onClose);
        resolve(bodyOf(socket, head, framing, rest, (fn) => (onData = fn), (p) => (paused = p), () => paused));
        return;
      }
    };
  });
}

function bodyOf(socket: Socket, head: ResponseHead, framing: Framing, first: Buffer, setOnData: (fn: (b: Buffer) => void) => void, setPaused: (p: boolean) => void, isPaused: () => boolean): StreamResponse {
  const HIGH = 8 << 20;
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let received = 0;
  const chunked = framing.kind === 'chunked' ? new ChunkedDecoder() : undefined;
  let left = framing.kind === 'length' ? framing.left : Infinity;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const finish = () => {
    if (ended) return;
    ended = true;
    socket.destroy();
    notify();
  };
  const take = (b: Buffer) => {
    if (ended || failure) return;
    let parts: Buffer[];
    try {
      if (chunked) parts = chunked.push(b);
      else {
        const n = Math.min(left, b.length);
        parts = n > 0 ? [n === b.length ? b : b.subarray(0, n)] : [];
        left -= n;
      }
    } catch (e) {
      failure = e as Error;
      socket.destroy();
      notify();
      return;
    }
    for (const p of parts) {
      queue.push(p);
      queued += p.length;
      received += p.length;
    }
    if (queued > HIGH) setPaused(true);
    if (chunked?.done || left === 0) finish();
    notify();
  };
  setOnData(take);
  socket.on('error', (e) => {
    if (!ended) failure ??= e;
    notify();
  });
  socket.on('close', () => {
    if (!ended && !failure) {
      if (framing.kind === 'close') ended = true;
      else failure = Object.assign(new Error(`the connection closed after ${received}${framing.kind === 'length' ? ` of ${received + left}` : ''} body bytes`), { code: 'E_BODY_INCOMPLETE' });
    }
    notify();
  });
  if (first.length > 0) take(first);
  if (framing.kind === 'length' && framing.left === 0) finish();
  let read = false;
  const body: AsyncIterable<Buffer> = {
    async *[Symbol.asyncIterator]() {
      if (read) throw new Error('the response body was already read');
      read = true;
      try {
        for (;;) {
          if (queue.length > 0) {
            // What has queued up goes on as one chunk (up to 1 MiB): a consumer pays per chunk
            // (a decompressor's thread-pool round trip, a generator step), not per byte.
            let b = queue.shift()!;
            if (queue.length > 0 && b.length < COALESCE) {
              const parts = [b];
              let n = b.length;
              while (queue.length > 0 && n + queue[0].length <= COALESCE) {
                const next = queue.shift()!;
                parts.push(next);
                n += next.length;
              }
              if (parts.length > 1) b = Buffer.concat(parts, n);
            }
            queued -= b.length;
            if (queued < HIGH / 2 && isPaused()) {
              // net.Socket.resume restarts reading that an onread callback stopped (net.js kBuffer).
              setPaused(false);
              socket.resume();
            }
            yield b;
            continue;
          }
          if (failure) throw failure;
          if (ended) return;
          await new Promise<void>((r) => (wake = r));
        }
      } finally {
        socket.destroy();
      }
    },
  };
  return {
    status: head.status,
    header: (name) => head.headers.get(name.toLowerCase()),
    body,
    close: () => {
      ended = true;
      socket.destroy();
      notify();
    },
  };
}
