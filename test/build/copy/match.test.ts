import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hasWildcards } from '../../../src/build/copy/match.js';

describe('which COPY sources are globs (fsutil containsWildcards)', () => {
  const table: [source: string, glob: boolean][] = [
    ['*.js', true],
    ['src/?.c', true],
    ['lib[0-9]', true],
    ['a\\*b', false],
    ['a\\[b', false],
    ['plain/path.txt', false],
    ['dir\\', false],
    ['x\\\\*', true],
  ];
  for (const [s, want] of table) {
    test(`${JSON.stringify(s)} is ${want ? '' : 'not '}a glob`, () => assert.equal(hasWildcards(s), want));
  }

  test('property: a path without metacharacters is not a glob', () => {
    fc.assert(fc.property(fc.stringMatching(/^[^*?[\\]*$/), (s) => assert.equal(hasWildcards(s), false)));
  });

  test('property: escaping every metacharacter makes any path literal', () => {
    fc.assert(fc.property(fc.string(), (s) => assert.equal(hasWildcards(s.replace(/[*?[\\]/g, '\\$&')), false)));
  });
});
