/**
 * Shared fixtures for the COPY/ADD tests: temporary contexts, stage views, and a collector that
 * turns a plan's entries into plain rows a test can compare.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyEntries, planCopy, type CopyPlan, type CopyRequest, type CopySource } from '../../../src/build/copy.js';
import { mergeFileIndexes, type FileIndexEntry, type ImageFileView } from '../../../src/layer/fileindex.js';

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `berth-copy-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Row {
  path: string;
  type: string;
  mode: string;
  owner: string;
  size: number;
  link?: string;
  body?: string;
  xattrs?: Record<string, string>;
  mtime: number;
}

/** Every entry of the plan's layer, bodies read as UTF-8 text. */
export async function collect(plan: CopyPlan): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const e of copyEntries(plan)) {
    const h = e.header;
    const row: Row = { path: Buffer.from(h.path, 'latin1').toString('utf8'), type: h.type, mode: h.mode.toString(8).padStart(4, '0'), owner: `${h.uid}:${h.gid}`, size: h.size, mtime: h.mtime.sec };
    if (h.linkname !== '') row.link = Buffer.from(h.linkname, 'latin1').toString('utf8');
    if (e.body !== undefined) {
      const parts: Buffer[] = [];
      if (Buffer.isBuffer(e.body)) parts.push(e.body);
      else for await (const c of e.body) parts.push(c);
      const b = Buffer.concat(parts);
      if (b.length !== h.size) throw new Error(`${row.path}: body has ${b.length} bytes, header says ${h.size}`);
      row.body = b.toString('utf8');
    }
    if (h.xattrs.size > 0) row.xattrs = Object.fromEntries([...h.xattrs].map(([k, v]) => [k, v.toString('hex')]));
    rows.push(row);
  }
  return rows;
}

export async function run(src: CopySource, req: Partial<CopyRequest> & Pick<CopyRequest, 'sources' | 'dest'>): Promise<Row[]> {
  return collect(await planCopy(src, request(req)));
}

export function request(req: Partial<CopyRequest> & Pick<CopyRequest, 'sources' | 'dest'>): CopyRequest {
  return { instruction: 'COPY', workdir: '/', target: emptyView(), now: new Date(1_700_000_000_000), ...req };
}

export function emptyView(): ImageFileView {
  return mergeFileIndexes([]);
}

/** A one-layer stage view from short entries: ['dir', '/app', 0o750, 1000] etc. */
export function stageView(entries: [type: FileIndexEntry['type'], path: string, mode: number, uid?: number, linkname?: string][]): ImageFileView {
  return mergeFileIndexes([
    {
      version: 1,
      entries: entries.map(([type, path, mode, uid, linkname]) => ({ path, type, mode, uid: uid ?? 0, gid: uid ?? 0, size: 0, ...(linkname !== undefined ? { linkname } : {}) })),
    },
  ]);
}

/** Compact "path type mode owner [-> link] [=body]" lines, for readable table assertions. */
export function lines(rows: Row[]): string[] {
  return rows.map((r) => `${r.path} ${r.type} ${r.mode} ${r.owner}${r.link !== undefined ? ` -> ${r.link}` : ''}${r.body !== undefined ? ` =${r.body}` : ''}`);
}
