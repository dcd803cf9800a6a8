import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBuildContext, planCopy, type CopyRequest } from '../../../src/build/copy.js';
import { request, stageView, tempDir } from './helpers.js';

let tmp: { dir: string; cleanup: () => void };
let c: string;

before(() => {
  tmp = tempDir('key');
  c = join(tmp.dir, 'ctx');
  mkdirSync(join(c, 'app/lib'), { recursive: true });
  writeFileSync(join(c, 'app/main.js'), 'main');
  writeFileSync(join(c, 'app/lib/util.js'), 'util');
});

after(() => tmp.cleanup());

async function key(req: Partial<CopyRequest> = {}): Promise<string> {
  const ctx = await openBuildContext(c);
  const plan = await planCopy({ kind: 'context', context: ctx }, request({ sources: ['app'], dest: '/srv/', ...req }));
  return plan.cacheKey;
}

describe('COPY cache key', () => {
  test('is a sha256 hex and the same for the same inputs', async () => {
    const a = await key();
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.equal(await key(), a);
  });

  test('does not change when only an mtime changes (nor with `now`)', async () => {
    const a = await key();
    utimesSync(join(c, 'app/lib/util.js'), 1_000_000, 1_000_000);
    assert.equal(await key({ now: new Date(42) }), a);
  });

  const changes: { name: string; change: () => void; req?: Partial<CopyRequest> }[] = [
    { name: 'a file content', change: () => writeFileSync(join(c, 'app/lib/util.js'), 'util2') },
    { name: 'a file mode', change: () => chmodSync(join(c, 'app/main.js'), 0o600) },
    { name: 'a new file', change: () => writeFileSync(join(c, 'app/new.txt'), '') },
    { name: 'a .dockerignore that hides a file', change: () => writeFileSync(join(c, '.dockerignore'), 'app/new.txt\n') },
    { name: '--chown', change: () => undefined, req: { chown: { uid: 1, gid: 1 } } },
    { name: '--chmod', change: () => undefined, req: { chmod: '700' } },
    { name: 'the destination', change: () => undefined, req: { dest: '/opt/' } },
    { name: 'the WORKDIR of a relative destination', change: () => undefined, req: { dest: 'x/', workdir: '/w' } },
    { name: '--exclude', change: () => undefined, req: { excludes: ['lib'] } },
    { name: 'the instruction', change: () => undefined, req: { instruction: 'ADD' } },
    { name: 'an existing parent in the stage', change: () => undefined, req: { target: stageView([['dir', '/srv', 0o700, 3]]) } },
  ];
  for (const ch of changes) {
    test(`changes with ${ch.name}`, async () => {
      const before = await key();
      ch.change();
      assert.notEqual(await key(ch.req ?? {}), before);
    });
  }
});
