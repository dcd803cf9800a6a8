/**
 * Shared fixtures for the store tests: temp directories, small images, and child processes that
 * run store code (for the concurrency and crash tests).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { digestOf, MEDIA_TYPES, type Descriptor, type ImageConfig } from '../../src/oci/index.js';
import type { Store, PutImageResult } from '../../src/store/index.js';

/** URLs of compiled modules, for code run in child processes. */
export const STORE_MODULE = new URL('../../src/store/index.js', import.meta.url).href;
export const FLOCK_MODULE = new URL('../../src/sys/flock.js', import.meta.url).href;

export function tempDir(prefix = 'berth-store-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface SampleImage extends PutImageResult {
  layers: Descriptor[];
  layerBytes: Buffer[];
  diffIds: string[];
  config: ImageConfig;
}

/** Stores `layerCount` random layer blobs and an image over them. */
export async function putSampleImage(store: Store, name: string | undefined, opts: { layerCount?: number; architecture?: string; created?: string; seed?: string } = {}): Promise<SampleImage> {
  const layerBytes: Buffer[] = [];
  const layers: Descriptor[] = [];
  for (let i = 0; i < (opts.layerCount ?? 1); i++) {
    const bytes = Buffer.concat([Buffer.from(opts.seed ?? ''), randomBytes(64)]);
    const b = await store.putBlob(bytes);
    layerBytes.push(bytes);
    layers.push({ mediaType: MEDIA_TYPES.ociLayer, digest: b.digest, size: b.size });
  }
  const diffIds = layerBytes.map((b) => digestOf(b));
  const config: ImageConfig = {
    architecture: opts.architecture ?? 'amd64',
    os: 'linux',
    created: opts.created ?? '2024-05-01T00:00:00Z',
    config: { User: '1000', Env: [`SEED=${randomBytes(8).toString('hex')}`] },
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  const res = await store.putImage({ name, config, layers });
  return { ...res, layers, layerBytes, diffIds, config };
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs an ES module snippet in a new node process. */
export function runNode(code: string, opts: { onStdout?: (text: string, child: ChildProcess) => void } = {}): { child: ChildProcess; done: Promise<ChildResult> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    opts.onStdout?.(stdout, child);
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function isCode(code: string): (e: unknown) => boolean {
  return (e: unknown) => typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}
