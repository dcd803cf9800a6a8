import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBerthError } from '../../../src/errors/index.js';
import { parseVolume, volumeMount } from '../../../src/runtime/spec/index.js';
import { codeOf, errorOf } from './fixtures.js';

describe('parseVolume', () => {
  const cases: { text: string; source: string; destination: string; readOnly: boolean }[] = [
    { text: '/srv/data:/data', source: '/srv/data', destination: '/data', readOnly: false },
    { text: '/srv/data:/data:ro', source: '/srv/data', destination: '/data', readOnly: true },
    { text: '/srv/data:/data:rw', source: '/srv/data', destination: '/data', readOnly: false },
    { text: '/srv//data/:/data/./x/', source: '/srv/data', destination: '/data/x', readOnly: false },
    { text: '/:/host:ro', source: '/', destination: '/host', readOnly: true },
  ];
  for (const c of cases) {
    test(c.text, () => {
      const v = parseVolume(c.text);
      assert.deepEqual({ source: v.source, destination: v.destination, readOnly: v.readOnly }, { source: c.source, destination: c.destination, readOnly: c.readOnly });
    });
  }
  const failures: { name: string; text: string; message: RegExp }[] = [
    { name: 'anonymous volume', text: '/data', message: /anonymous volumes are not supported/ },
    { name: 'named volume', text: 'cache:/data', message: /not an absolute host path \(named volumes are not supported\)/ },
    { name: 'relative destination', text: '/srv:data', message: /invalid mount path: 'data' mount path must be absolute/ },
    { name: 'destination /', text: '/srv:/', message: /destination can't be '\/'/ },
    { name: 'destination cleans to /', text: '/srv:/x/..', message: /destination can't be '\/'/ },
    { name: 'unknown mode', text: '/srv:/data:z', message: /invalid mode: z/ },
    { name: 'too many parts', text: '/a:/b:ro:rw', message: /invalid volume specification/ },
    { name: 'empty part', text: '/a::ro', message: /invalid volume specification/ },
  ];
  for (const c of failures) {
    test(`fails: ${c.name}`, () => {
      assert.equal(codeOf(() => parseVolume(c.text)), 'E_SPEC_VOLUME');
      assert.match(errorOf(() => parseVolume(c.text)).message, c.message);
    });
  }
  test('volumeMount: recursive private bind, ro or rw', () => {
    assert.deepEqual(volumeMount(parseVolume('/srv:/data:ro')), { destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'ro', 'rprivate'] });
    assert.deepEqual(volumeMount(parseVolume('/srv:/data')).options, ['rbind', 'rw', 'rprivate']);
  });
  test('property: absolute SRC:DST[:mode] parses, other text fails with E_SPEC_VOLUME', () => {
    const seg = fc.stringMatching(/^[a-z0-9._-]{1,6}$/).filter((s) => s !== '.' && s !== '..');
    const abs = fc.array(seg, { minLength: 1, maxLength: 3 }).map((a) => `/${a.join('/')}`);
    fc.assert(
      fc.property(abs, abs, fc.constantFrom(undefined, 'ro', 'rw'), (src, dst, mode) => {
        const v = parseVolume(mode ? `${src}:${dst}:${mode}` : `${src}:${dst}`);
        assert.deepEqual([v.source, v.destination, v.readOnly], [src, dst, mode === 'ro']);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (t) => {
        try {
          const v = parseVolume(t);
          assert.ok(v.source.startsWith('/') && v.destination.startsWith('/') && v.destination !== '/');
        } catch (e) {
          assert.ok(isBerthError(e) && e.code === 'E_SPEC_VOLUME');
        }
      }),
    );
  });
});
