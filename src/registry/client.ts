/**
 * registry/client: one registry host spoken to over the OCI distribution API, with
 * authentication (registry/auth.ts), retries with backoff on transient failures (network errors,
 * 429, 5xx), and errors that say what failed.
 *
 * The first request pings `GET /v2/`, as Docker does: it settles the base URL and learns the
 * authentication challenge, so every later request carries its credentials (or token) at once
 * instead of being refused first.
 *
 * Transport: HTTPS with certificate verification. An insecure registry (`tlsVerify: false`, or one
 * on the loopback interface, which Docker treats as insecure) is tried with HTTPS without
 * verification first and spoken to in plain HTTP when it does not answer TLS.
 */
import { BerthError } from '../errors/index.js';
import { TokenCache, isLocal, lookupCredentials, parseChallenge, type Challenge, type Credentials } from './auth.js';
import { openStream, send, type HttpResponse, type StreamResponse } from './http.js';

export interface ClientOptions {
  /** false: plain HTTP and unverified certificates are accepted. Default true (loopback: false). */
  tlsVerify?: boolean;
  /** Docker config file (default $DOCKER_CONFIG/config.json or ~/.docker/config.json). */
  configPath?: string;
  /** Credentials to use instead of the config file's (login). */
  credentials?: Credentials;
  /** Attempts for transient failures (default 4). */
  attempts?: number;
  /** Delay before the first retry in ms, doubled for each next one (default 200). */
  backoffMs?: number;
}

export interface RequestOptions {
  /** Token scope, e.g. `repository:library/alpine:pull`. */
  scope?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Statuses returned as they are (no error), e.g. 404 for existence checks. */
  allow?: number[];
  /** Do not retry (a request with an effect that must not happen twice). */
  once?: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Network failures that will not change by retrying at once. */
const PERMANENT = new Set(['ENOTFOUND', 'ECONNREFUSED', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const TLS_FAILURE = /CERT|SELF_SIGNED|TLS|SSL|EPROTO/i;

function codeOf(e: unknown): string {
  const x = e as { code?: unknown; cause?: { code?: unknown } };
  return String(x?.code ?? x?.cause?.code ?? '');
}

/** The registry's own error list (`{errors:[{code,message}]}`) as `CODE: message` lines, else the text. */
export function registryErrorText(body: string): string {
  try {
    const j = JSON.parse(body) as { errors?: { code?: string; message?: string }[] };
    if (Array.isArray(j.errors) && j.errors.length > 0) return j.errors.map((e) => `${e.code ?? 'UNKNOWN'}: ${e.message ?? ''}`.trim()).join('; ');
  } catch {
    // not JSON: the text itself
  }
  return body.replace(/\s+/g, ' ').trim().slice(0, 300);
}

async function errorText(res: HttpResponse): Promise<string> {
  try {
    return registryErrorText(await res.text(64 << 10));
  } catch {
    return '';
  }
}

export class RegistryClient {
  readonly domain: string;
  private readonly host: string;
  private base: string | undefined;
  private pinging: Promise<void> | undefined;
  private challenge: Challenge | undefined;
  private creds: Promise<Credentials | undefined> | undefined;
  private readonly tokens = new TokenCache();

  constructor(domain: string, private readonly opts: ClientOptions = {}) {
    this.domain = domain;
    this.host = domain === 'docker.io' ? 'registry-1.docker.io' : domain;
  }

  /** Certificates are not checked and plain HTTP is allowed. */
  get insecure(): boolean {
    return this.opts.tlsVerify === false || (this.opts.tlsVerify === undefined && isLocal(this.host));
  }

  private credentials(): Promise<Credentials | undefined> {
    if (this.opts.credentials) return Promise.resolve(this.opts.credentials);
    this.creds ??= lookupCredentials(this.domain, this.opts.configPath);
    return this.creds;
  }

  /** `GET /v2/` once: the base URL (https, or http for an insecure registry) and the challenge. */
  private ready(): Promise<void> {
    this.pinging ??= this.ping().catch((e) => {
      this.pinging = undefined;
      throw e;
    });
    return this.pinging;
  }

  private async ping(): Promise<void> {
    const bases = this.insecure ? [`https://${this.host}`, `http://${this.host}`] : [`https://${this.host}`];
    const attempts = this.opts.attempts ?? 4;
    let last: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await this.backoff(attempt);
      let permanent = true;
      for (const base of bases) {
        try {
          const res = await send(new URL(`${base}/v2/`), { method: 'GET', tlsVerify: !this.insecure });
          if (res.status === 401) {
            const header = res.header('www-authenticate');
            this.challenge = header ? parseChallenge(header) : undefined;
          }
          res.discard();
          if (res.status === 429 || res.status >= 500) {
            last = new BerthError('E_REGISTRY_UNAVAILABLE', `GET ${this.domain}/v2/: ${res.status}`, { hint: 'the registry is overloaded or failing; retry later' });
            permanent = false;
            break;
          }
          this.base = base;
          return;
        } catch (e) {
          last = e;
          // An insecure registry that does not speak TLS: its plain HTTP is tried next.
          if (!PERMANENT.has(codeOf(e)) && !TLS_FAILURE.test(codeOf(e))) permanent = false;
        }
      }
      if (permanent) break;
    }
    throw this.unreachable('GET', '/v2/', last);
  }

  private backoff(attempt: number): Promise<void> {
    const base = this.opts.backoffMs ?? 200;
    return sleep(base * 2 ** (attempt - 1) + Math.random() * base * 0.5);
  }

  private async authHeader(scope: string | undefined): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    const creds = await this.credentials();
    if (ch.scheme === 'basic') {
      if (!creds || creds.username === undefined) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
    }
    const token = await this.tokens.token(ch, scope ?? '', creds, { insecure: this.insecure });
    return `Bearer ${token}`;
  }

  /**
   * A 401: learns the new challenge and says whether asking again can help (a Bearer challenge
   * for a wider scope, a first challenge), or throws E_REGISTRY_AUTH.
   */
  private async onUnauthorized(header: string | undefined, path: string, scope: string | undefined, retried: boolean): Promise<void> {
    const ch = header ? parseChallenge(header) : undefined;
    if (!ch) throw this.authError(path, 'the registry refuses the request and names no authentication scheme berth knows');
    const creds = await this.credentials();
    const had = this.challenge;
    this.challenge = ch;
    if (ch.scheme === 'bearer' && had?.scheme === 'bearer') this.tokens.forget(had, scope ?? '');
    // Basic credentials refused once are refused again; a Bearer token may be for too narrow a
    // scope (insufficient_scope) or expired, so one new token is asked for.
    if (retried || (had?.scheme === 'basic' && ch.scheme === 'basic')) {
      if (!creds) throw this.authError(path, 'this registry needs credentials');
      throw this.authError(path, ch.scheme === 'basic' ? 'the user name or password was not accepted' : 'the credentials were not accepted (or do not allow this)');
    }
  }

  /** One request with auth and retries; returns the response (2xx, or an allowed status). */
  async request(method: string, path: string, o: RequestOptions = {}): Promise<HttpResponse> {
    await this.ready();
    const url = new URL(path, this.base);
    const attempts = o.once ? 1 : (this.opts.attempts ?? 4);
    let last: unknown;
    let retried401 = false;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await this.backoff(attempt);
      let res: HttpResponse;
      try {
        res = await this.send(method, url, o);
        if (res.status === 401) {
          res.discard();
          await this.onUnauthorized(res.header('www-authenticate'), path, o.scope, retried401);
          retried401 = true;
          res = await this.send(method, url, o);
          if (res.status === 401) {
            res.discard();
            await this.onUnauthorized(res.header('www-authenticate'), path, o.scope, true);
          }
        }
      } catch (e) {
        if (e instanceof BerthError) throw e;
        last = e;
        if (PERMANENT.has(codeOf(e)) || TLS_FAILURE.test(codeOf(e))) break;
        continue;
      }
      if (res.ok || o.allow?.includes(res.status)) return res;
      const text = await errorText(res);
      if (res.status === 429 || res.status >= 500) {
        last = new BerthError('E_REGISTRY_UNAVAILABLE', `${method} ${this.domain}${path}: ${res.status} ${text}`.trim(), { hint: 'the registry is overloaded or failing; retry later', details: { status: res.status } });
        continue;
      }
      if (res.status === 403) throw this.authError(path, `access denied (${text})`);
      if (res.status === 404) throw new BerthError('E_REGISTRY_NOT_FOUND', `${method} ${this.domain}${path}: not found (${text})`, { hint: 'check the repository name and tag', details: { status: 404 } });
      throw new BerthError('E_REGISTRY_REQUEST', `${method} ${this.domain}${path}: ${res.status} ${text}`.trim(), { hint: 'the registry refused the request', details: { status: res.status } });
    }
    throw this.unreachable(method, path, last);
  }

  private async send(method: string, url: URL, o: RequestOptions): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const auth = await this.authHeader(o.scope);
    if (auth) headers.authorization = auth;
    return send(url, { method, headers, ...(o.body !== undefined ? { body: o.body } : {}), tlsVerify: !this.insecure });
  }

  /**
   * A blob's body, streamed (registry/http.ts openStream). Redirects to blob storage are followed,
   * without the Authorization header once they leave the registry's origin. Network failures are
   * thrown as they are (the caller resumes with a Range request); refusals as BerthErrors.
   */
  async getBlob(path: string, o: { scope: string; range?: string }): Promise<StreamResponse> {
    await this.ready();
    let retried401 = false;
    for (;;) {
      const auth = await this.authHeader(o.scope);
      let url = new URL(path, this.base);
      const origin = url.origin;
      let res: StreamResponse | undefined;
      for (let hops = 0; hops <= 10; hops++) {
        const headers: Record<string, string> = o.range ? { range: o.range } : {};
        if (auth && url.origin === origin) headers.authorization = auth;
        res = await openStream(url, headers, { tlsVerify: !this.insecure });
        const location = res.header('location');
        if (res.status >= 300 && res.status < 400 && location) {
          res.close();
          url = new URL(location, url);
          res = undefined;
          continue;
        }
        break;
      }
      if (!res) throw new BerthError('E_REGISTRY_REQUEST', `GET ${this.domain}${path}: more than 10 redirects`, { hint: 'the registry or its storage redirects in a loop' });
      if (res.status === 200 || res.status === 206) return res;
      if (res.status === 401 && url.origin === origin) {
        res.close();
        await this.onUnauthorized(res.header('www-authenticate'), path, o.scope, retried401);
        retried401 = true;
        continue;
      }
      const text = await bodyText(res);
      if (res.status === 404) throw new BerthError('E_REGISTRY_NOT_FOUND', `GET ${this.domain}${path}: not found (${text})`, { hint: 'the manifest names a blob the registry does not have', details: { status: 404 } });
      if (res.status === 401 || res.status === 403) throw this.authError(path, `access denied (${text})`);
      if (res.status === 429 || res.status >= 500) {
        // Transient: the caller's retry loop treats it like a broken connection.
        throw Object.assign(new Error(`${res.status} ${text}`.trim()), { code: 'E_HTTP_UNAVAILABLE' });
      }
      throw new BerthError('E_REGISTRY_REQUEST', `GET ${this.domain}${path}: ${res.status} ${text}`.trim(), { hint: 'the registry refused the blob', details: { status: res.status } });
    }
  }

  /** The error for a request that never got an answer (after its retries). */
  unreachable(method: string, path: string, last: unknown): BerthError {
    if (last instanceof BerthError) return last;
    const code = codeOf(last);
    const message = (last as Error | undefined)?.message ?? '';
    const why = (code && !message.includes(code) ? `${code}: ${message}` : message) || String(last);
    if (TLS_FAILURE.test(code) || TLS_FAILURE.test(why)) {
      return new BerthError('E_REGISTRY_TLS', `${method} ${this.domain}${path}: ${why}`, {
        hint: 'the registry certificate is not trusted (or it does not speak TLS); for a registry you trust, pass --tls-verify=false',
        cause: last,
      });
    }
    return new BerthError('E_REGISTRY_UNREACHABLE', `${method} ${this.domain}${path}: ${why}`, { hint: 'check the registry address, that it is running, and the network', cause: last });
  }

  private authError(path: string, why: string): BerthError {
    return new BerthError('E_REGISTRY_AUTH', `${this.domain}${path}: ${why}`, { hint: `log in with \`berth login ${this.domain}\` (or check the credentials in the Docker config file)` });
  }
}

async function bodyText(res: StreamResponse): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body) {
      chunks.push(c);
      n += c.length;
      if (n > 64 << 10) break;
    }
  } catch {
    // what arrived is enough to describe the refusal
  }
  return registryErrorText(Buffer.concat(chunks).toString('utf8'));
}
