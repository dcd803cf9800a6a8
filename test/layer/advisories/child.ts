/**
 * Child process for the tests that run as another identity (see harness.ts applyAsNobody and
 * packAsNobody). With `--apply-stdin` it reads { root, layers, privilege, squash } as JSON on
 * stdin, applies each layer and prints { stats, warnings, error }; `squash` maps every owner to
 * 0:0 (the only IDs a single-mapping user namespace has). With `--pack-stdin` it reads { dir },
 * packs it and prints { entries: [{ path, type, uid, gid, xattrs (hex) }], warnings, error }.
 * Without either flag it does nothing, so a test runner that loads every file under test/ finds
 * nothing to run here.
 */
import { readFileSync } from 'node:fs';
import { applyLayer, packDirectory, type ApplyEntry, type ApplyStats } from '../../../src/layer/index.js';
import type { Warning } from '../../../src/errors/index.js';
import type { ChildEntry } from './harness.js';

interface Input {
  root: string;
  layers: ChildEntry[][];
  privilege: 'root' | 'userns' | 'unprivileged';
  squash: boolean;
}

function toEntry(c: ChildEntry): ApplyEntry {
  const data = c.data === undefined ? undefined : Buffer.from(c.data, 'base64');
  return {
    header: {
      path: c.path,
      type: c.type,
      mode: c.mode ?? 0o644,
      uid: c.uid ?? 0,
      gid: c.gid ?? 0,
      uname: '',
      gname: '',
      size: data?.length ?? 0,
      mtime: { sec: 1_700_000_000, nsec: 5 },
      linkname: c.linkname ?? '',
      devmajor: c.devmajor ?? 0,
      devminor: c.devminor ?? 0,
      xattrs: new Map(Object.entries(c.xattrs ?? {}).map(([k, v]) => [k, Buffer.from(v, 'hex')])),
    },
    ...(data === undefined ? {} : { body: [data] }),
  };
}

async function main(): Promise<void> {
  const input = JSON.parse(readFileSync(0, 'utf8')) as Input;
  const warnings: Warning[] = [];
  let stats: ApplyStats | undefined;
  let error: { code: string; message: string } | undefined;
  try {
    for (const [i, layer] of input.layers.entries()) {
      stats = await applyLayer(input.root, layer.map(toEntry), {
        onWarning: (w) => warnings.push(w),
        privilege: input.privilege,
        layerName: `L${i + 1}`,
        ...(input.squash ? { mapOwner: () => ({ uid: 0, gid: 0 }) } : {}),
      });
    }
  } catch (e) {
    error = { code: (e as { code: string }).code, message: (e as Error).message };
  }
  process.stdout.write(JSON.stringify({ stats, warnings, error }));
}

async function pack(): Promise<void> {
  const input = JSON.parse(readFileSync(0, 'utf8')) as { dir: string };
  const warnings: Warning[] = [];
  const entries: { path: string; type: string; uid: number; gid: number; xattrs: Record<string, string> }[] = [];
  let error: { code: string; message: string } | undefined;
  try {
    for await (const e of packDirectory(input.dir, { onWarning: (w) => warnings.push(w) })) {
      const h = e.header;
      entries.push({ path: h.path, type: h.type, uid: h.uid, gid: h.gid, xattrs: Object.fromEntries([...h.xattrs].map(([k, v]) => [k, v.toString('hex')])) });
    }
  } catch (e) {
    error = { code: (e as { code: string }).code, message: (e as Error).message };
  }
  process.stdout.write(JSON.stringify({ entries, warnings, error }));
}

if (process.argv.includes('--apply-stdin')) await main();
if (process.argv.includes('--pack-stdin')) await pack();
