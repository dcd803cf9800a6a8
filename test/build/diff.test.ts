import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { upperDirEntries } from '../../src/build/diff.js';
import type { Warning } from '../../src/errors/index.js';

const isRoot = process.geteuid?.() === 0;

function sh(script: string, cwd: string): void {
  const r = spawnSync('/bin/sh', ['-c', script], { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `${script}: ${r.stderr}`);
}

describe('upperDirEntries: the layer of an overlay upper directory', { skip: isRoot ? false : 'mounting overlayfs needs root' }, () => {
  test('deletions become whiteouts, a replaced directory is opaque, new and changed files keep owners, modes and capabilities', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-diff-'));
    try {
      for (const d of ['lower/d', 'lower/keep', 'upper', 'work', 'merged']) mkdirSync(join(dir, d), { recursive: true });
      writeFileSync(join(dir, 'lower/a'), 'a');
      writeFileSync(join(dir, 'lower/d/x'), 'x');
      writeFileSync(join(dir, 'lower/keep/k'), 'k');
      writeFileSync(join(dir, 'lower/mode'), 'm');
      sh('mount -t overlay -o lowerdir=lower,upperdir=upper,workdir=work berth-test merged', dir);
      try {
        sh(
          'rm merged/a && rm -rf merged/d && mkdir merged/d && echo y > merged/d/y && printf b > merged/b && chown 10000:20000 merged/b && ' +
            'setcap cap_net_raw+ep merged/b && chmod 4755 merged/mode',
          dir,
        );
      } finally {
        sh('umount merged', dir);
      }
      const warnings: Warning[] = [];
      const got = [];
      for await (const e of upperDirEntries(join(dir, 'upper'), { onWarning: (w) => warnings.push(w) })) {
        const h = e.header;
        got.push({ path: h.path, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, xattrs: [...h.xattrs.keys()].sort() });
      }
      assert.deepEqual(got, [
        { path: '.wh.a', type: 'file', mode: 0, uid: 0, gid: 0, xattrs: [] },
        { path: 'b', type: 'file', mode: 0o644, uid: 10000, gid: 20000, xattrs: ['security.capability'] },
        { path: 'd', type: 'dir', mode: 0o755, uid: 0, gid: 0, xattrs: [] },
        { path: 'd/.wh..wh..opq', type: 'file', mode: 0, uid: 0, gid: 0, xattrs: [] },
        { path: 'd/y', type: 'file', mode: 0o644, uid: 0, gid: 0, xattrs: [] },
        { path: 'mode', type: 'file', mode: 0o4755, uid: 0, gid: 0, xattrs: [] },
      ]);
      assert.deepEqual(warnings, [], 'overlay markers are expected in an upper directory and warn about nothing');
    } finally {
      spawnSync('umount', [join(dir, 'merged')]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
