/**
 * registry/auth: credentials and tokens for the OCI distribution API, as Docker finds and uses
 * them (distribution docs/spec/auth/token.md; docker/cli config file and credential helpers).
 *
 * - Credentials: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. A registry's
 *   `credHelpers` entry wins, then `credsStore`, then `auths` (`auth` = base64 "user:pass", or
 *   `identitytoken`). Keys are matched like Docker: the host, or `https://host`/`http://host` with
 *   an optional path; Docker Hub's key is `https://index.docker.io/v1/`.
 * - Helpers: `docker-credential-NAME get` with the server URL on stdin prints
 *   `{"ServerURL","Username","Secret"}`; "credentials not found" means anonymous; a `Username` of
 *   `<token>` means Secret is an identity token.
 * - Challenges: `WWW-Authenticate: Basic realm=...` or `Bearer realm=...,service=...,scope=...`.
 *   Bearer tokens come from `GET realm?service=&scope=` (Basic credentials when known), or, with an
 *   identity token, `POST realm` with `grant_type=refresh_token`; a token is reused until it expires.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { BerthError, errnoOf } from '../errors/index.js';
import { send, type HttpResponse } from './http.js';

export interface Credentials {
  username?: string;
  password?: string;
  identityToken?: string;
}

export interface DockerConfig {
  auths?: Record<string, { auth?: string; identitytoken?: string; username?: string; password?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

const HUB_KEY = 'https://index.docker.io/v1/';

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'config.json');
}

export async function readDockerConfig(path: string): Promise<DockerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return {};
    throw new BerthError('E_REGISTRY_CONFIG', `read ${path}: ${(e as Error).message}`, { hint: 'fix the permissions of the Docker config file' });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as DockerConfig;
  } catch (e) {
    throw new BerthError('E_REGISTRY_CONFIG', `read ${path}: not valid JSON (${(e as Error).message})`, { hint: 'fix or remove the file; `berth login` writes it' });
  }
}

/** The config key Docker uses for a registry host. */
export function configKey(host: string): string {
  return host === 'docker.io' || host === 'index.docker.io' || host === 'registry-1.docker.io' ? HUB_KEY : host;
}

function hostOfKey(key: string): string {
  return key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
}

function matchAuths(cfg: DockerConfig, host: string): { auth?: string; identitytoken?: string; username?: string; password?: string } | undefined {
  const auths = cfg.auths ?? {};
  const want = configKey(host);
  if (auths[want]) return auths[want];
  for (const [k, v] of Object.entries(auths)) if (hostOfKey(k) === hostOfKey(want)) return v;
  return undefined;
}

/** Runs `docker-credential-NAME ACTION` with `input` on stdin; resolves with stdout. */
export function runHelper(name: string, action: 'get' | 'store' | 'erase', input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const prog = `docker-credential-${name}`;
    const child = spawn(prog, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) =>
      reject(new BerthError('E_REGISTRY_CREDENTIAL_HELPER', `credential helper ${prog}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found in PATH' : e.message}`, { hint: `install ${prog}, or remove it from the Docker config file` })),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(Object.assign(new BerthError('E_REGISTRY_CREDENTIAL_HELPER', `credential helper ${prog} ${action} failed: ${(err || out).trim() || `status ${String(code)}`}`, { hint: `check ${prog}` }), { helperOutput: `${out}${err}` }));
    });
    // A helper may exit without reading its input (EPIPE): its exit status and output are the
    // answer that counts, reported by the close handler above.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Credentials for a registry host from the Docker config (and its helpers); undefined: anonymous. */
export async function lookupCredentials(host: string, configPath = dockerConfigPath()): Promise<Credentials | undefined> {
  const cfg = await readDockerConfig(configPath);
  const helper = helperFor(cfg, host);
  if (helper) {
    let text: string;
    try {
      text = await runHelper(helper, 'get', configKey(host));
    } catch (e) {
      const out = String((e as { helperOutput?: string }).helperOutput ?? (e as Error).message);
      if (/credentials not found/i.test(out)) return undefined;
      throw e;
    }
    let out: { Username?: unknown; Secret?: unknown };
    try {
      out = JSON.parse(text) as typeof out;
    } catch {
      throw new BerthError('E_REGISTRY_CREDENTIAL_HELPER', `credential helper docker-credential-${helper} get: the answer is not JSON`, { hint: `check docker-credential-${helper}` });
    }
    const secret = typeof out.Secret === 'string' ? out.Secret : '';
    // docker/cli: the user name `<token>` marks the secret as an identity token.
    if (out.Username === '<token>') return { identityToken: secret };
    return { username: typeof out.Username === 'string' ? out.Username : '', password: secret };
  }
  const a = matchAuths(cfg, host);
  if (!a) return undefined;
  if (a.identitytoken) return { identityToken: a.identitytoken };
  if (a.auth) {
    const dec = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = dec.indexOf(':');
    if (i < 0) throw new BerthError('E_REGISTRY_CONFIG', `${configPath}: the auth of ${host} is not base64 of "user:password"`, { hint: `run berth login ${host} again` });
    return { username: dec.slice(0, i), password: dec.slice(i + 1) };
  }
  if (a.username !== undefined) return { username: a.username, password: a.password ?? '' };
  return undefined;
}

/** The credential helper for a host: `credHelpers` (by host or Docker's key), else `credsStore`. */
function helperFor(cfg: DockerConfig, host: string): string | undefined {
  return cfg.credHelpers?.[host] ?? cfg.credHelpers?.[configKey(host)] ?? cfg.credsStore;
}

/**
 * Saves credentials like `docker login`: into the host's credential helper when one is configured
 * (config.json then keeps an empty `auths` entry, as docker/cli's native store does), else as
 * `auths[key].auth` in config.json, written 0600 and atomically, keeping every other key.
 * Returns `config` or the helper's name.
 */
export async function storeCredentials(host: string, creds: { username: string; password: string }, configPath = dockerConfigPath()): Promise<'config' | string> {
  const cfg = await readDockerConfig(configPath);
  const helper = helperFor(cfg, host);
  const key = configKey(host);
  if (helper) {
    await runHelper(helper, 'store', JSON.stringify({ ServerURL: key, Username: creds.username, Secret: creds.password }));
    cfg.auths = { ...(cfg.auths ?? {}), [key]: {} };
    await writeConfig(configPath, cfg);
    return helper;
  }
  cfg.auths = { ...(cfg.auths ?? {}), [key]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') } };
  await writeConfig(configPath, cfg);
  return 'config';
}

/** Removes a host's credentials (helper and config.json); false when there were none. */
export async function eraseCredentials(host: string, configPath = dockerConfigPath()): Promise<boolean> {
  const cfg = await readDockerConfig(configPath);
  const helper = helperFor(cfg, host);
  let removed = false;
  if (helper) {
    try {
      await runHelper(helper, 'erase', configKey(host));
      removed = true;
    } catch (e) {
      const text = String((e as { helperOutput?: string }).helperOutput ?? (e as Error).message);
      if (!/credentials not found/i.test(text)) throw e;
    }
  }
  const want = hostOfKey(configKey(host));
  const keys = Object.keys(cfg.auths ?? {}).filter((k) => hostOfKey(k) === want);
  if (keys.length > 0) {
    for (const k of keys) delete cfg.auths![k];
    await writeConfig(configPath, cfg);
    removed = true;
  }
  return removed;
}

async function writeConfig(path: string, cfg: DockerConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(cfg, null, '\t')}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate header (one challenge; quoted and bare parameter values). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/g;
  for (let p = re.exec(m[2]); p; p = re.exec(m[2])) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  return { scheme, params };
}

interface CachedToken {
  token: string;
  expires: number;
}

/** Bearer tokens by realm, service and scope, reused until they expire. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  private static key(ch: Challenge, scope: string): string {
    return `${ch.params.realm ?? ''} ${ch.params.service ?? ''} ${scope}`;
  }

  /** Drops a token the registry refused (expired early, or for too narrow a scope). */
  forget(ch: Challenge, scope: string): void {
    this.tokens.delete(TokenCache.key(ch, scope));
  }

  async token(ch: Challenge, scope: string, creds: Credentials | undefined, o: { insecure: boolean; now?: () => number }): Promise<string> {
    const now = o.now ?? Date.now;
    const realm = ch.params.realm;
    if (!realm) throw new BerthError('E_REGISTRY_AUTH', 'registry auth: the Bearer challenge names no realm', { hint: 'the registry is misconfigured' });
    const service = ch.params.service ?? '';
    const key = TokenCache.key(ch, scope);
    const known = this.tokens.get(key);
    if (known && known.expires > now() + 5000) return known.token;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new BerthError('E_REGISTRY_AUTH', `registry auth: the token realm ${JSON.stringify(realm)} is not a URL`, { hint: 'the registry is misconfigured' });
    }
    if (url.protocol === 'http:' && !o.insecure && !isLocal(url.host)) {
      throw new BerthError('E_REGISTRY_TLS', `registry auth: the token realm ${realm} is plain HTTP`, { hint: 'pass --tls-verify=false only for a registry you trust' });
    }
    let res: HttpResponse;
    try {
      if (creds?.identityToken) {
        // docker/cli: an identity token is an OAuth2 refresh token, exchanged by a form POST.
        const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, service, client_id: 'berth' });
        if (scope) body.set('scope', scope);
        res = await send(url, { method: 'POST', body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' }, tlsVerify: !o.insecure });
      } else {
        if (service) url.searchParams.set('service', service);
        for (const s of scope.split(' ').filter(Boolean)) url.searchParams.append('scope', s);
        const headers: Record<string, string> = {};
        if (creds?.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
        res = await send(url, { method: 'GET', headers, tlsVerify: !o.insecure });
      }
    } catch (e) {
      throw new BerthError('E_REGISTRY_UNREACHABLE', `registry auth: token server ${url.host}: ${(e as Error).message}`, { hint: 'check the network and that the token server is running', cause: e });
    }
    if (res.status === 401 || res.status === 403) {
      res.discard();
      throw new BerthError('E_REGISTRY_AUTH', `registry auth: the token server ${url.host} refused the credentials (${res.status})`, {
        hint: creds ? 'check the user name and password (berth login)' : 'log in first: berth login REGISTRY',
      });
    }
    if (!res.ok) {
      res.discard();
      throw new BerthError('E_REGISTRY_AUTH', `registry auth: token request to ${url.host} failed with ${res.status}`, { hint: 'retry later; check the registry' });
    }
    let j: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      j = JSON.parse(await res.text(1 << 20)) as typeof j;
    } catch (e) {
      throw new BerthError('E_REGISTRY_AUTH', `registry auth: the token server ${url.host} sent no JSON (${(e as Error).message})`, { hint: 'the registry is misconfigured' });
    }
    const token = j.token ?? j.access_token;
    if (!token) throw new BerthError('E_REGISTRY_AUTH', `registry auth: the token server ${url.host} sent no token`, { hint: 'the registry is misconfigured' });
    // distribution token spec: expires_in defaults to 60 s; issued_at, when given, is the start.
    const issued = j.issued_at ? Date.parse(j.issued_at) : NaN;
    const lifetime = typeof j.expires_in === 'number' && j.expires_in > 0 ? j.expires_in : 60;
    this.tokens.set(key, { token, expires: (Number.isFinite(issued) ? Math.min(issued, now()) : now()) + lifetime * 1000 });
    return token;
  }
}

export function isLocal(host: string): boolean {
  // `[::1]:5000`, `localhost:5000`, `127.0.0.1`: the host without brackets and port.
  const h = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return h === 'localhost' || h === '127.0.0.1' || h === '::1' || h.startsWith('127.');
}
