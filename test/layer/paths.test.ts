import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyWhiteout, displayEntryPath, normaliseEntryPath, pathKey, type WhiteoutKind } from '../../src/layer/paths.js';

describe('normaliseEntryPath', () => {
  const cases: { name: string; input: string; want: string[]; clamped?: boolean }[] = [
    { name: 'plain relative name', input: 'usr/bin/ping', want: ['usr', 'bin', 'ping'] },
    { name: 'leading ./ (GNU tar -C dir .)', input: './usr/bin/', want: ['usr', 'bin'] },
    { name: 'absolute name', input: '/etc/x', want: ['etc', 'x'] },
    { name: 'repeated slashes (CVE-2021-32804)', input: '////etc//x', want: ['etc', 'x'] },
    { name: '.. inside the root', input: 'a/b/../c', want: ['a', 'c'] },
    { name: '.. above the root clamps', input: './../../etc/x', want: ['etc', 'x'], clamped: true },
    { name: 'drive-relative C:.. is a component (CVE-2021-37713)', input: 'C:../../etc/x', want: ['etc', 'x'] },
    { name: 'backslash is an ordinary byte (CVE-2021-37701)', input: 'a\\..\\b', want: ['a\\..\\b'] },
    { name: 'the root as .', input: '.', want: [] },
    { name: 'the root as ./', input: './', want: [] },
    { name: 'the root as /', input: '/', want: [] },
    { name: 'empty name', input: '', want: [] },
    { name: 'only ..', input: '../..', want: [], clamped: true },
    { name: 'bytes above 0x7f kept as they are', input: 'caf\xc3\xa9/\xff', want: ['caf\xc3\xa9', '\xff'] },
    { name: 'dots that are names', input: '.../..a/a..', want: ['...', '..a', 'a..'] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = normaliseEntryPath(c.input);
      assert.deepEqual(r.components, c.want);
      assert.equal(r.clamped, c.clamped ?? false);
    });
  }

  const segment = fc.oneof(fc.constantFrom('', '.', '..', 'a', 'b', '.wh.x', 'C:', '\\'), fc.string({ minLength: 1, maxLength: 4 }));
  const name = fc.array(segment, { maxLength: 12 }).map((s) => s.join('/'));

  test('property: components are never empty, . or .., and never contain /', () => {
    fc.assert(
      fc.property(name, (n) => {
        for (const c of normaliseEntryPath(n).components) {
          assert.ok(c !== '' && c !== '.' && c !== '..' && !c.includes('/'), JSON.stringify(c));
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('property: idempotent, and a leading / changes nothing (absolute names are root-relative)', () => {
    fc.assert(
      fc.property(name, (a) => {
        const once = normaliseEntryPath(a).components;
        assert.deepEqual(normaliseEntryPath(pathKey(once)).components, once);
        assert.deepEqual(normaliseEntryPath(`/${a}`).components, once);
        assert.deepEqual(normaliseEntryPath(`../${a}`).components, once);
      }),
      { numRuns: 2000 },
    );
  });

  test('property: without .., the components are the non-empty, non-. segments in order', () => {
    fc.assert(
      fc.property(name, (a) => {
        fc.pre(!a.split('/').includes('..'));
        const r = normaliseEntryPath(a);
        assert.deepEqual(r.components, a.split('/').filter((c) => c !== '' && c !== '.'));
        assert.equal(r.clamped, false);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('classifyWhiteout', () => {
  const cases: { name: string; input: string; want: WhiteoutKind['kind']; target?: string }[] = [
    { name: 'ordinary name', input: 'passwd', want: 'none' },
    { name: 'a name merely containing .wh.', input: 'x.wh.y', want: 'none' },
    { name: 'whiteout of a file', input: '.wh.passwd', want: 'whiteout', target: 'passwd' },
    { name: 'whiteout of a dotfile', input: '.wh..bashrc', want: 'whiteout', target: '.bashrc' },
    { name: 'opaque marker', input: '.wh..wh..opq', want: 'opaque' },
    { name: 'AUFS hardlink directory', input: '.wh..wh.plnk', want: 'aufs' },
    { name: 'AUFS metadata', input: '.wh..wh.aufs', want: 'aufs' },
    { name: '.wh. deletes nothing', input: '.wh.', want: 'invalid' },
    { name: '.wh.. would delete .', input: '.wh..', want: 'invalid' },
    { name: '.wh... would delete ..', input: '.wh...', want: 'invalid' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = classifyWhiteout(c.input);
      assert.equal(r.kind, c.want);
      if (c.target !== undefined) assert.equal(r.kind === 'whiteout' && r.target, c.target);
    });
  }
});

describe('displayEntryPath', () => {
  test('decodes the byte string as UTF-8 with a leading slash', () => {
    assert.equal(displayEntryPath(['caf\xc3\xa9', 'x']), '/café/x');
    assert.equal(displayEntryPath(''), '/');
  });
});
