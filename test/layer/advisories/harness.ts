/**
 * Shared fixtures for the layer tests: in-memory entries (no tar bytes), a sandbox with a root
 * and a canary directory beside it, a snapshot of everything outside the root, and a runner that
 * applies a layer as another user (setpriv) or inside a user namespace (unshare).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyLayer, type ApplyEntry, type ApplyOptions, type ApplyStats } from '../../../src/layer/index.js';
import type { EntryType, TarHeader } from '../../../src/layer/tar/types.js';
import { setOpenat2Enabled } from '../../../src/sys/index.js';
import type { Warning } from '../../../src/errors/index.js';

export const isRoot = process.geteuid?.() === 0;
export const MTIME = { sec: 1_700_000_000, nsec: 123_456_789 };

export interface EntryFields {
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: { sec: number; nsec: number };
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, Buffer>;
  data?: Buffer | string;
  /** Header size when it should differ from the data (truncation tests). */
  size?: number;
}

/** One in-memory entry; `path` is a byte string (use latin1 for non-ASCII names). */
export function entry(path: string, type: EntryType, f: EntryFields = {}): ApplyEntry {
  const data = f.data === undefined ? undefined : Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data);
  const header: TarHeader = {
    path,
    type,
    mode: f.mode ?? (type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
    uid: f.uid ?? 0,
    gid: f.gid ?? 0,
    uname: '',
    gname: '',
    size: f.size ?? data?.length ?? 0,
    mtime: f.mtime ?? MTIME,
    linkname: f.linkname ?? '',
    devmajor: f.devmajor ?? 0,
    devminor: f.devminor ?? 0,
    xattrs: new Map(Object.entries(f.xattrs ?? {})),
  };
  return data === undefined ? { header } : { header, body: chunks(data) };
}

async function* chunks(data: Buffer): AsyncGenerator<Buffer> {
  // Split in two so the applier sees a multi-chunk body.
  const mid = data.length >> 1;
  if (mid > 0) yield data.subarray(0, mid);
  yield data.subarray(mid);
}

export const file = (path: string, data: string | Buffer = '', f: EntryFields = {}) => entry(path, 'file', { ...f, data });
export const dir = (path: string, f: EntryFields = {}) => entry(path, 'dir', f);
export const symlink = (path: string, target: string, f: EntryFields = {}) => entry(path, 'symlink', { ...f, linkname: target });
export const hardlink = (path: string, target: string, f: EntryFields = {}) => entry(path, 'hardlink', { ...f, linkname: target });

/** rm -rf: unlike fs.rmSync, GNU rm removes trees deeper than PATH_MAX. */
export function removeTree(path: string): void {
  const r = spawnSync('rm', ['-rf', '--', path]);
  assert.equal(r.status, 0, `rm -rf ${path}: ${r.stderr}`);
}

export interface Sandbox {
  base: string;
  /** The unpack target. */
  root: string;
  /** A directory beside the root with a canary file: must never change. */
  outside: string;
  canary: string;
  cleanup(): void;
}

export function sandbox(prefix = 'layer'): Sandbox {
  const base = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  const canary = join(outside, 'canary');
  writeFileSync(canary, 'canary\n', { mode: 0o600 });
  return { base, root, outside, canary, cleanup: () => removeTree(base) };
}

/** Every path under dir with type, mode, owner, size, link target, mtime and content. */
export function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const p = rel === '' ? dir : join(dir, rel);
    const st = lstatSync(p, { bigint: true });
    let extra = '';
    if (st.isSymbolicLink()) extra = `-> ${readlinkSync(p)}`;
    else if (st.isFile()) extra = readFileSync(p).toString('hex');
    out.push(`${rel || '.'} ${(st.mode & 0o177777n).toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeNs} ${extra}`);
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(rel === '' ? n : join(rel, n));
  };
  walk('');
  return out;
}

/** What is outside the root, to compare before and after. */
export function outsideState(sb: Sandbox): string[] {
  return [...tree(sb.outside), `base: ${readdirSync(sb.base).sort().join(',')}`];
}

export interface Applied {
  stats: ApplyStats;
  warnings: Warning[];
}

export async function applyAll(root: string, layers: ApplyEntry[][], opts: Partial<ApplyOptions> = {}): Promise<Applied> {
  const warnings: Warning[] = [];
  let stats: ApplyStats | undefined;
  for (const [i, layer] of layers.entries()) {
    stats = await applyLayer(root, layer, { onWarning: (w) => warnings.push(w), privilege: 'root', layerName: `L${i + 1}`, ...opts });
  }
  return { stats: stats!, warnings };
}

/** Asserts that `p` rejects with a BerthError of `code`; returns it. */
export async function rejectsWith(p: Promise<unknown>, code: string): Promise<Error & { code: string; hint?: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { code: string; hint?: string };
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    assert.ok(err.hint, `error ${code} has a hint`);
    return err;
  }
  assert.fail(`expected an error ${code}`);
}

/** The two resolvers every safety test runs under. */
export const RESOLVERS = [
  { name: 'openat2', enable: () => setOpenat2Enabled(true) },
  { name: 'fd walk', enable: () => setOpenat2Enabled(false) },
] as const;

export interface AdvisoryCase {
  name: string;
  layers: (sb: Sandbox) => ApplyEntry[][];
  /** Error code the last layer must fail with (earlier layers must succeed). */
  code?: string;
  options?: Partial<ApplyOptions>;
  check?: (sb: Sandbox, applied: Applied | undefined) => void;
  /** Runs whatever happened (undoes what a regression might have written on the host). */
  cleanup?: () => void;
}

/**
 * Runs one advisory's cases: each in a fresh sandbox, under both resolvers, asserting that
 * nothing outside the root changed.
 */
export async function runCase(c: AdvisoryCase): Promise<void> {
  const sb = sandbox('adv');
  try {
    const before = outsideState(sb);
    const layers = c.layers(sb);
    let applied: Applied | undefined;
    if (c.code !== undefined) {
      if (layers.length > 1) applied = await applyAll(sb.root, layers.slice(0, -1), c.options);
      await rejectsWith(applyAll(sb.root, layers.slice(-1), c.options), c.code);
    } else {
      applied = await applyAll(sb.root, layers, c.options);
    }
    assert.deepEqual(outsideState(sb), before, 'nothing outside the root changed');
    c.check?.(sb, applied);
  } finally {
    sb.cleanup();
    c.cleanup?.();
  }
}

// ---------------------------------------------------------------- other identities

export interface ChildEntry {
  path: string;
  type: EntryType;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** name -> hex */
  xattrs?: Record<string, string>;
  /** base64 */
  data?: string;
}

export interface ChildResult {
  stats?: ApplyStats;
  warnings: Warning[];
  error?: { code: string; message: string };
}

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));

export const NOBODY = { uid: 65534, gid: 65534 };

/** A temp dir the nobody user owns (under a 0711 parent it can traverse). */
export function nobodyDir(): { dir: string; cleanup(): void } {
  const base = mkdtempSync(join(tmpdir(), 'berth-nobody-'));
  spawnSync('chmod', ['0711', base]);
  const dir = join(base, 'work');
  mkdirSync(dir);
  chownSync(dir, NOBODY.uid, NOBODY.gid);
  return { dir, cleanup: () => removeTree(base) };
}

/**
 * Applies layers as nobody: `userns` runs the child inside `unshare --user --map-root-user`
 * (uid 0 in a namespace mapping only nobody), otherwise as plain nobody.
 */
export function applyAsNobody(root: string, layers: ChildEntry[][], privilege: 'unprivileged' | 'userns', squash = false): ChildResult {
  const argv = ['--reuid=65534', '--regid=65534', '--clear-groups'];
  if (privilege === 'userns') argv.push('unshare', '--user', '--map-root-user');
  argv.push(process.execPath, CHILD, '--apply-stdin');
  const r = spawnSync('setpriv', argv, { input: JSON.stringify({ root, layers, privilege, squash }), encoding: 'utf8' });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildResult;
}

export interface PackedByChild {
  entries: { path: string; type: string; uid: number; gid: number; xattrs: Record<string, string> }[];
  warnings: Warning[];
  error?: { code: string; message: string };
}

/** Packs `dir` as root of a user namespace whose only mapping is 0 -> nobody. */
export function packAsNobodyInUserns(dir: string): PackedByChild {
  const argv = ['--reuid=65534', '--regid=65534', '--clear-groups', 'unshare', '--user', '--map-root-user', process.execPath, CHILD, '--pack-stdin'];
  const r = spawnSync('setpriv', argv, { input: JSON.stringify({ dir }), encoding: 'utf8' });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PackedByChild;
}

export function toChild(e: ApplyEntry, data?: Buffer): ChildEntry {
  const h = e.header;
  return {
    path: h.path,
    type: h.type,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    linkname: h.linkname,
    devmajor: h.devmajor,
    devminor: h.devminor,
    xattrs: Object.fromEntries([...h.xattrs].map(([k, v]) => [k, v.toString('hex')])),
    ...(data === undefined ? {} : { data: data.toString('base64') }),
  };
}

/** `getfattr -d -m - -e hex` of one path (no-dereference), without the header line. */
export function getfattr(path: string): string {
  const r = spawnSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', path], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('# file:'))
    .join('\n');
}

export function getcap(path: string): string {
  const r = spawnSync('getcap', ['-n', path], { encoding: 'utf8' });
  return r.stdout.trim().replace(path, '').trim();
}

/** A v2 security.capability with the given permitted bits (low word) and the effective flag. */
export function capV2(permitted: number, effective = true): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(0x02000000 | (effective ? 1 : 0), 0);
  b.writeUInt32LE(permitted, 4);
  return b;
}

export const CAP_NET_RAW = 1 << 13;

/**
 * Declares one advisory's table: every case runs under both resolvers (openat2 and the
 * fd-relative walk), each in a fresh sandbox whose outside must not change.
 */
export function describeAdvisory(title: string, cases: AdvisoryCase[]): void {
  describe(title, { skip: !isRoot && 'needs root (owners, devices, security.* xattrs)' }, () => {
    for (const r of RESOLVERS) {
      describe(`resolver: ${r.name}`, () => {
        before(r.enable);
        after(() => setOpenat2Enabled(true));
        for (const c of cases) test(c.name, () => runCase(c));
      });
    }
  });
}
