/**
 * registry/client: HTTP for one registry host (OCI distribution spec), with authentication
 * (registry/auth.ts), retries with backoff on transient failures (network errors, 429, 5xx), and
 * errors that say what failed. Redirects (blob storage) are followed; fetch drops the
 * Authorization header when a redirect leaves the registry's origin, as the spec expects.
 *
 * Transport: HTTPS with certificate verification. Plain HTTP only with `tlsVerify: false`, or for
 * a registry on the loopback interface (as Docker treats localhost): there HTTPS is tried first
 * and HTTP used when the server does not speak TLS.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BerthError } from '../errors/index.js';
import { TokenCache, isLocal, lookupCredentials, parseChallenge, type Challenge, type Credentials } from './auth.js';

export interface ClientOptions {
  /** false: plain HTTP is allowed (and tried when HTTPS fails). Default true. */
  tlsVerify?: boolean;
  /** Docker config file (default $DOCKER_CONFIG/config.json or ~/.docker/config.json). */
  configPath?: string;
  /** Credentials to use instead of the config file's (login). */
  credentials?: Credentials;
  /** Attempts for transient failures (default 4). */
  attempts?: number;
}

export interface RequestOptions {
  /** Token scope, e.g. `repository:library/alpine:pull`. */
  scope?: string;
  headers?: Record<string, string>;
  body?: Buffer | Uint8Array | string | URLSearchParams | ReadableStream | null;
  /** Streaming bodies need `duplex: 'half'`. */
  stream?: boolean;
  /** Statuses returned as they are (no error), e.g. 404 for existence checks. */
  allow?: number[];
  /** Do not retry (a body that can be sent once). */
  once?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The registry's own error list, as `code: message` lines. */
async function errorText(res: Response): Promise<string> {
  try {
    const text = await res.text();
    try {
      const j = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
      if (j.errors?.length) return j.errors.map((e) => `${e.code ?? ''}: ${e.message ?? ''}`).join('; ');
    } catch {
      /* not JSON */
    }
    return text.trim().slice(0, 300);
  } catch {
    return '';
  }
}

export class RegistryClient {
  readonly domain: string;
  private readonly host: string;
  private base: string | undefined;
  private challenge: Challenge | undefined;
  private creds: Credentials | undefined | null = null;
  private readonly tokens = new TokenCache();

  constructor(domain: string, private readonly opts: ClientOptions = {}) {
    this.domain = domain;
    this.host = domain === 'docker.io' ? 'registry-1.docker.io' : domain;
  }

  private get insecure(): boolean {
    return this.opts.tlsVerify === false;
  }

  private async credentials(): Promise<Credentials | undefined> {
    if (this.opts.credentials) return this.opts.credentials;
    if (this.creds === null) this.creds = await lookupCredentials(this.domain, this.opts.configPath);
    return this.creds;
  }

  /** https://host, or http://host for an insecure or loopback registry that does not speak TLS. */
  private async baseUrl(): Promise<string> {
    if (this.base) return this.base;
    const https = `https://${this.host}`;
    if (!this.insecure && !isLocal(this.host)) return (this.base = https);
    try {
      await fetch(`${https}/v2/`, { signal: AbortSignal.timeout(5000) });
      this.base = https;
    } catch {
      this.base = `http://${this.host}`;
    }
    return this.base;
  }

  private async authHeader(scope: string | undefined): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    const creds = await this.credentials();
    if (ch.scheme === 'basic') {
      if (!creds || creds.username === undefined) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
    }
    const token = await this.tokens.token(ch, scope ?? '', creds, fetch, this.insecure);
    return `Bearer ${token}`;
  }

  /** One request with auth and retries; returns the response (2xx, or an allowed status). */
  async request(method: string, path: string, o: RequestOptions = {}): Promise<Response> {
    const base = await this.baseUrl();
    const url = path.startsWith('http') ? path : `${base}${path}`;
    const attempts = o.once ? 1 : (this.opts.attempts ?? 4);
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(200 * 2 ** (attempt - 1) + Math.random() * 100);
      let res: Response;
      try {
        res = await this.send(method, url, o);
        if (res.status === 401) {
          const header = res.headers.get('www-authenticate');
          const ch = header ? parseChallenge(header) : undefined;
          await res.body?.cancel();
          const hadAuth = this.challenge !== undefined;
          if (!ch) throw this.authError(path, 'the registry asks for credentials it does not name a scheme for');
          // A Bearer challenge for a wider scope (push after pull) gets a new token; the same
          // challenge again with our credentials means they are wrong.
          if (hadAuth && this.challenge?.scheme === ch.scheme && ch.scheme === 'basic') throw this.authError(path, 'the user name or password was not accepted');
          const scopeErr = ch.params.error === 'insufficient_scope';
          if (hadAuth && ch.scheme === 'bearer' && !scopeErr && this.challenge?.scheme === 'bearer' && (await this.credentials()) !== undefined) {
            throw this.authError(path, 'the credentials were not accepted');
          }
          this.challenge = ch;
          res = await this.send(method, url, o);
          if (res.status === 401) {
            await res.body?.cancel();
            throw this.authError(path, (await this.credentials()) ? 'the credentials were not accepted' : 'this registry needs credentials');
          }
        }
      } catch (e) {
        if (e instanceof BerthError) throw e;
        lastError = e;
        // A name that does not resolve or a port nobody listens on will not change in a second.
        const code = (e as { cause?: { code?: string } }).cause?.code;
        if (o.stream || o.once || code === 'ENOTFOUND' || code === 'ECONNREFUSED') break;
        continue;
      }
      if (res.ok || o.allow?.includes(res.status)) return res;
      if (res.status === 429 || res.status >= 500) {
        lastError = new BerthError('E_REGISTRY_UNAVAILABLE', `${method} ${this.domain}${path}: ${res.status} ${await errorText(res)}`, { hint: 'the registry is overloaded or failing; retry later' });
        continue;
      }
      const text = await errorText(res);
      if (res.status === 403) throw this.authError(path, `access denied (${text})`);
      if (res.status === 404) throw new BerthError('E_REGISTRY_NOT_FOUND', `${method} ${this.domain}${path}: not found (${text})`, { hint: 'check the repository name and tag', details: { status: 404 } });
      throw new BerthError('E_REGISTRY_REQUEST', `${method} ${this.domain}${path}: ${res.status} ${text}`, { hint: 'the registry refused the request', details: { status: res.status } });
    }
    if (lastError instanceof BerthError) throw lastError;
    const cause = lastError as Error & { cause?: { code?: string; message?: string } };
    const why = cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? String(lastError);
    throw new BerthError('E_REGISTRY_UNREACHABLE', `${method} ${this.domain}${path}: ${why}`, {
      hint: /CERT|SELF_SIGNED|TLS|SSL/i.test(why) ? 'the registry certificate is not trusted; for a registry you trust, pass --tls-verify=false' : 'check the registry address and that it is running',
      cause: lastError,
    });
  }

  private async send(method: string, url: string, o: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { 'user-agent': 'berth', ...(o.headers ?? {}) };
    const auth = await this.authHeader(o.scope);
    if (auth) headers.authorization = auth;
    const init: RequestInit & { duplex?: 'half' } = { method, headers, redirect: 'follow' };
    if (o.body !== undefined && o.body !== null) {
      init.body = o.body;
      if (o.stream) init.duplex = 'half';
    }
    return fetch(url, init);
  }

  /**
   * A blob's body through node:http(s), which moves large bodies about twice as fast as fetch.
   * Authentication is settled first by a HEAD through request() (challenge, token); redirects to
   * blob storage are followed here, without the Authorization header when they leave the origin.
   */
  async getBlob(path: string, o: { scope: string; range?: string }): Promise<{ status: number; body: IncomingMessage }> {
    await this.request('HEAD', path, { scope: o.scope });
    const auth = await this.authHeader(o.scope);
    let url = new URL(`${await this.baseUrl()}${path}`);
    const origin = url.origin;
    for (let hops = 0; hops < 10; hops++) {
      const headers: Record<string, string> = { 'user-agent': 'berth', ...(o.range ? { range: o.range } : {}) };
      if (auth && url.origin === origin) headers.authorization = auth;
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'GET', headers }, resolve);
        req.on('error', reject);
        req.end();
      });
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        url = new URL(res.headers.location, url);
        continue;
      }
      if (status === 200 || status === 206) return { status, body: res };
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8').slice(0, 300);
      if (status === 404) throw new BerthError('E_REGISTRY_NOT_FOUND', `GET ${this.domain}${path}: not found (${text})`, { hint: 'the manifest names a blob the registry does not have' });
      throw new BerthError(status === 401 || status === 403 ? 'E_REGISTRY_AUTH' : 'E_REGISTRY_REQUEST', `GET ${this.domain}${path}: ${status} ${text}`, { hint: 'the registry refused the blob' });
    }
    throw new BerthError('E_REGISTRY_REQUEST', `GET ${this.domain}${path}: too many redirects`, { hint: 'the registry or its storage redirects in a loop' });
  }

  private authError(path: string, why: string): BerthError {
    return new BerthError('E_REGISTRY_AUTH', `${this.domain}${path}: ${why}`, { hint: `log in with \`berth login ${this.domain}\` (or check the credentials in the Docker config file)` });
  }
}
