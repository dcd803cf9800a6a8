/**
 * api/login: `login` checks credentials against a registry (`GET /v2/`) and saves them where
 * `docker login` would (registry/auth.ts); `logout` removes them.
 */
import { BerthError } from '../errors/index.js';
import { RegistryClient, type ClientOptions } from '../registry/client.js';
import { eraseCredentials, storeCredentials } from '../registry/auth.js';

export interface LoginOptions extends Pick<ClientOptions, 'tlsVerify' | 'configPath'> {
  registry: string;
  username: string;
  password: string;
}

/** `https://host/v1/`, `host/path` or `host`: the host (with port) a login is for. */
export function registryHost(input: string): string {
  const host = input.trim().replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (host === '' || /[\s@]/.test(host)) {
    throw new BerthError('E_OPTION_INVALID', `login ${JSON.stringify(input)}: not a registry address`, { hint: 'give the registry as HOST or HOST:PORT, e.g. registry.example.com:5000' });
  }
  // Docker Hub answers under several names; its credentials live under one key.
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

export async function login(o: LoginOptions): Promise<{ registry: string; storedIn: string }> {
  const registry = registryHost(o.registry);
  if (o.username === '') throw new BerthError('E_OPTION_INVALID', `login ${registry}: the user name is empty`, { hint: 'pass -u USER' });
  const client = new RegistryClient(registry, { ...(o.tlsVerify !== undefined ? { tlsVerify: o.tlsVerify } : {}), credentials: { username: o.username, password: o.password } });
  (await client.request('GET', '/v2/', {})).discard();
  const storedIn = await storeCredentials(registry, { username: o.username, password: o.password }, o.configPath);
  return { registry, storedIn };
}

export async function logout(o: { registry: string; configPath?: string }): Promise<boolean> {
  return eraseCredentials(registryHost(o.registry), o.configPath);
}
