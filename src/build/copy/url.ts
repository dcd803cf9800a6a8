/**
 * build/copy/url: `ADD https://...`: downloads a URL source into a temporary file, hashing it on
 * the way, so the plan's cache key covers the content and the layer streams it from disk.
 *
 * BuildKit (frontend dockerfile2llb convert_copy.go, source/http): the file is named after the
 * last component of the URL path (`__unnamed__` when there is none), has mode 0600 (unless
 * --chmod), its mtime is the response's Last-Modified, and it is never extracted. `--checksum`
 * (`sha256:<hex>`) must match the downloaded bytes.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { BerthError } from '../../errors/index.js';

export interface Downloaded {
  /** The temporary file holding the content. */
  file: string;
  /** The directory to remove when the copy is done. */
  dir: string;
  size: number;
  sha256: string;
  /** From Last-Modified; undefined when the server sent none (or an unparsable one). */
  lastModified?: Date;
  /** File name from the URL path. */
  name: string;
}

export function isUrlSource(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** The file name BuildKit gives a URL source: the last path component, or `__unnamed__`. */
export function urlFileName(url: string): string {
  let path: string;
  try {
    path = decodeURIComponent(new URL(url).pathname);
  } catch {
    return '__unnamed__';
  }
  const base = path.split('/').filter((c) => c !== '').pop();
  return base === undefined || base === '.' || base === '..' ? '__unnamed__' : base;
}

/** Parses `sha256:<64 hex>`; anything else is refused. */
export function parseChecksum(op: string, checksum: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(checksum);
  if (!m) {
    throw new BerthError('E_BUILD_ADD_CHECKSUM', `${op} --checksum=${checksum}: not a sha256 digest`, { hint: 'write it as --checksum=sha256:<64 lowercase hex digits>' });
  }
  return m[1];
}

/** Downloads `url` into a new directory under `tmpDir`. */
export async function download(url: string, tmpDir: string, op: string, expectSha256?: string): Promise<Downloaded> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    throw new BerthError('E_BUILD_ADD_URL', `${op} ${url}: download failed: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`, {
      hint: 'check the URL and the network connection',
      details: { url },
      cause: e,
    });
  }
  if (!res.ok || res.body === null) {
    await res.body?.cancel().catch(() => undefined);
    throw new BerthError('E_BUILD_ADD_URL', `${op} ${url}: download failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, {
      hint: 'check the URL; the server must answer 200 to a plain GET',
      details: { url, status: res.status },
    });
  }
  const dir = await mkdtemp(join(tmpDir, 'berth-add-'));
  const file = join(dir, 'content');
  const hash = createHash('sha256');
  let size = 0;
  try {
    const out = createWriteStream(file, { mode: 0o600 });
    const closed = once(out, 'close');
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        size += chunk.length;
        if (!out.write(chunk)) await once(out, 'drain');
      }
    } finally {
      out.end();
    }
    await closed;
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw new BerthError('E_BUILD_ADD_URL', `${op} ${url}: download failed: ${(e as Error).message}`, { hint: 'check the URL and the network connection, then build again', details: { url }, cause: e });
  }
  const sha256 = hash.digest('hex');
  if (expectSha256 !== undefined && sha256 !== expectSha256) {
    await rm(dir, { recursive: true, force: true });
    throw new BerthError('E_BUILD_ADD_CHECKSUM', `${op} ${url}: checksum mismatch: expected sha256:${expectSha256}, got sha256:${sha256}`, {
      hint: 'the content changed or the checksum is wrong; check both',
      details: { url, expected: `sha256:${expectSha256}`, actual: `sha256:${sha256}` },
    });
  }
  const out: Downloaded = { file, dir, size, sha256, name: urlFileName(url) };
  const lm = res.headers.get('last-modified');
  if (lm !== null) {
    const t = new Date(lm);
    if (!Number.isNaN(t.getTime())) out.lastModified = t;
  }
  return out;
}
