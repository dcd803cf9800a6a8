/**
 * Shared helpers for end-to-end tests: run the compiled CLI (as root or as the unprivileged test
 * user), build fixture rootfs trees, and snapshot every path's metadata for comparisons.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** The bundled CLI, what the package's `berth` bin runs. */
export const CLI = process.env.BERTH_TEST_CLI ?? join(REPO, 'dist/bundle/main.js');

/** The unprivileged user the rootless tests run as (created by scripts/test.mjs). */
export const TEST_USER = 'berthtest';

export function testUserIds(): { uid: number; gid: number } | undefined {
  const r = spawnSync('id', ['-u', TEST_USER], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const g = spawnSync('id', ['-g', TEST_USER], { encoding: 'utf8' });
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  root?: string;
  /** Run as the unprivileged test user (via setpriv with its groups). */
  asTestUser?: boolean;
  input?: Buffer | string;
  env?: Record<string, string>;
  /** Send a signal after this many ms (for interruption tests). */
  killAfterMs?: number;
  killSignal?: NodeJS.Signals;
}

export function berth(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = [...(opts.root ? ['--root', opts.root] : []), ...args];
  let cmd = process.execPath;
  let argv = [CLI, ...full];
  if (opts.asTestUser) {
    cmd = 'setpriv';
    // --reset-env gives the user's own clean environment; variables the test sets go through env(1).
    const extra = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    argv = ['--reuid', TEST_USER, '--regid', TEST_USER, '--init-groups', '--reset-env', ...(extra.length > 0 ? ['env', ...extra] : []), process.execPath, CLI, ...full];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: { ...process.env, ...(opts.env ?? {}) }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    if (opts.killAfterMs !== undefined) setTimeout(() => child.kill(opts.killSignal ?? 'SIGKILL'), opts.killAfterMs);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.end(opts.input);
  });
}

/** A temp dir, optionally owned by the test user; removed by the returned cleanup. */
export function tempDir(prefix: string, owner?: { uid: number; gid: number }): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function makeBusyboxRootfs(dir: string): string {
  execFileSync(process.execPath, [join(REPO, 'scripts/fixtures.mjs'), 'busybox', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  return dir;
}

/**
 * Every path's type, mode, owner, size, link target and mtime, plus every xattr in hex: what a user
 * compares with `stat` and `getfattr -d -m - -e hex`. Paths are relative and sorted.
 */
export function snapshot(dir: string, opts: { owners?: boolean; mtimes?: boolean } = {}): string {
  const fmt = `%p %y %m${opts.owners === false ? '' : ' %U %G'} %s %l${opts.mtimes === false ? '' : ' %T@'}\\n`;
  const list = execFileSync('find', ['.', '-printf', fmt], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 });
  // The root directory itself is the caller's (the unpack target), not the image's.
  const lines = list.split('\n').filter((l) => l && !l.startsWith('. '));
  const xattrs = spawnSync('getfattr', ['-R', '-P', '-d', '-m', '-', '-e', 'hex', '.'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 });
  const blocks = xattrs.stdout
    .split('\n\n')
    .map((b) => b.trim())
    .filter((b) => b && !b.startsWith('# file: .\n'))
    .map((b) => b.split('\n').join(' | '));
  return [...lines.sort(), ...blocks.sort()].join('\n');
}

export function getcap(path: string): string {
  return execFileSync('getcap', [path], { encoding: 'utf8' }).trim();
}

export const isRoot = process.geteuid?.() === 0;

export function removeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
