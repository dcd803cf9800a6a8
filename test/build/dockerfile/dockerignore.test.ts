import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cleanPath, createIgnoreMatcher, dockerignoreMatcher, hasGlob, matchGlob, parseDockerignore } from '../../../src/build/dockerfile/index.js';
import { isBerthError } from '../../../src/errors/index.js';

describe('parseDockerignore (ignorefile.ReadAll)', () => {
  test('comments, blanks, trimming, cleaning, leading slash, exceptions', () => {
    const p = parseDockerignore('\ufeff# comment\n\n  node_modules/  \n #not-a-comment\n/build\n./docs/../dist/\n!  keep.log\r\n**/*.tmp\n');
    assert.deepEqual(
      p.map((x) => [x.exclusion ? `!${x.pattern}` : x.pattern, x.line]),
      [
        ['node_modules', 3],
        ['#not-a-comment', 4],
        ['build', 5],
        ['dist', 6],
        ['!keep.log', 7],
        ['**/*.tmp', 8],
      ],
    );
  });

  test('refused: a lone !, and a malformed class (E_DOCKERIGNORE_PATTERN naming the line)', () => {
    for (const [text, line] of [['a\n!\n', 2], ['ok\n\n[a-\n', 3]] as const) {
      try {
        dockerignoreMatcher(text);
        assert.fail('accepted');
      } catch (e) {
        assert.ok(isBerthError(e));
        assert.equal(e.code, 'E_DOCKERIGNORE_PATTERN');
        assert.match(e.message, new RegExp(`\\.dockerignore:${line}: `));
      }
    }
  });
});

describe('matching (patternmatcher MatchesOrParentMatches)', () => {
  const rules = [
    'node_modules',
    '*.log',
    '!keep.log',
    'docs/**/*.md',
    '/build/',
    'tmp*',
    '**/.git',
    'src/**',
    '!src/keep/**',
    'a?c',
    'x/[0-9]*',
    '**',
  ];
  const cases: [string[], string, boolean][] = [
    [rules.slice(0, 1), 'node_modules', true],
    [rules.slice(0, 1), 'node_modules/pkg/index.js', true],
    [rules.slice(0, 1), 'sub/node_modules', false],
    [rules.slice(1, 3), 'a.log', true],
    [rules.slice(1, 3), 'keep.log', false],
    [rules.slice(1, 3), 'sub/a.log', false],
    [rules.slice(3, 4), 'docs/a.md', true],
    [rules.slice(3, 4), 'docs/x/y/z.md', true],
    [rules.slice(3, 4), 'docs/readme.txt', false],
    [rules.slice(4, 5), 'build', true],
    [rules.slice(4, 5), 'build/out.o', true],
    [rules.slice(4, 5), 'src/build', false],
    [rules.slice(5, 6), 'tmpfile', true],
    [rules.slice(5, 6), 'tmp/x', true],
    [rules.slice(6, 7), '.git', true],
    [rules.slice(6, 7), 'a/b/.git/config', true],
    [rules.slice(7, 9), 'src/a.ts', true],
    [rules.slice(7, 9), 'src', false],
    [rules.slice(7, 9), 'src/keep/x.ts', false],
    [rules.slice(9, 10), 'abc', true],
    [rules.slice(9, 10), 'a/c', false],
    [rules.slice(10, 11), 'x/1.txt', true],
    [rules.slice(10, 11), 'x/a.txt', false],
    [['x/[^0-9]*'], 'x/a.txt', true],
    [['x/[^0-9]*'], 'x/1.txt', false],
    [['a^b'], 'a^b', true],
    [rules.slice(11, 12), 'anything/at/all', true],
    [['*', '!Dockerfile'], 'Dockerfile', false],
    [['*', '!Dockerfile'], 'main.go', true],
    [['!x', 'x'], 'x', true],
    [['x', '!x'], 'x', false],
    [['a/b', '!a'], 'a/b/c', false],
    [['a\\*b'], 'a*b', true],
    [['a\\*b'], 'axb', false],
    [['f.o'], 'fxo', false],
    [['**/foo'], 'foo', true],
    [['**/foo'], 'a/foo', true],
    [['foo/**'], 'foo/bar', true],
  ];
  for (const [patterns, path, want] of cases) {
    test(`${patterns.join(' ')} : ${path} -> ${want ? 'excluded' : 'kept'}`, () => assert.equal(dockerignoreMatcher(patterns.join('\n'))(path, false), want));
  }

  test('a pattern list (COPY --exclude) is not a file: a leading / is kept, as patternmatcher.New', () => {
    assert.equal(createIgnoreMatcher(['/build'])('build', false), false);
    assert.equal(createIgnoreMatcher(['  build/ ', ''])('build/x', false), true);
  });

  test('paths are cleaned: ./a, a/, /a', () => {
    const m = createIgnoreMatcher(['a']);
    assert.deepEqual(['./a', 'a/', '/a', 'a//b'].map((p) => m(p, false)), [true, true, true, true]);
    assert.equal(m('.', true), false, 'the context root is never excluded');
  });

  test('descend: an excluded directory is walked only if an exception could match inside it', () => {
    const plain = createIgnoreMatcher(['vendor', 'dist']);
    assert.deepEqual([plain.descend('vendor'), plain.descend('src')], [false, true]);
    const prefix = createIgnoreMatcher(['vendor', '!vendor/keep/**', 'dist']);
    assert.deepEqual([prefix.descend('vendor'), prefix.descend('vendor/keep'), prefix.descend('dist'), prefix.descend('src')], [true, true, false, true]);
    assert.equal(prefix('vendor/keep/a.go', false), false);
    assert.equal(prefix('vendor/other/a.go', false), true);
    const glob = createIgnoreMatcher(['dist', '!**/*.keep']);
    assert.equal(glob.descend('dist'), true, 'an exception with a glob may match anywhere');
    assert.equal(glob.hasExceptions, true);
    assert.equal(plain.hasExceptions, false);
  });

  test('property: no patterns exclude nothing', () => {
    fc.assert(fc.property(fc.array(fc.stringMatching(/^[a-z.]{1,5}$/), { minLength: 1, maxLength: 4 }), (parts) => !dockerignoreMatcher('# only a comment\n\n')(parts.join('/'), false)));
  });

  test('property: a literal pattern excludes the path and everything below it', () => {
    const seg = fc.stringMatching(/^[a-z][a-z0-9_]{0,5}$/);
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 3 }), fc.array(seg, { maxLength: 3 }), (dir, below) => {
        const m = dockerignoreMatcher(dir.join('/'));
        assert.equal(m([...dir, ...below].join('/'), false), true);
        assert.equal(m(`${dir.join('/')}x`, false), false);
      }),
    );
  });

  test('property: an exception after the same pattern re-includes it', () => {
    const seg = fc.stringMatching(/^[a-z]{1,6}$/);
    fc.assert(fc.property(seg, (p) => createIgnoreMatcher([p, `!${p}`])(p, false) === false));
  });
});

describe('matchGlob (Go filepath.Match)', () => {
  const cases: [string, string, boolean][] = [
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abe', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['[\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['a?c', 'a/c', false],
    ['*.go', 'main.go', true],
    ['*.go', 'cmd/main.go', false],
  ];
  for (const [pattern, name, want] of cases) test(`${pattern} ~ ${name} -> ${want}`, () => assert.equal(matchGlob(pattern, name), want));

  for (const bad of ['[', '[^', '[^bc', 'a[', 'ab[-c]', '[a-', '[]a]', '\\', 'a\\', '*x[']) {
    test(`malformed ${bad} -> E_DOCKERFILE_GLOB`, () => assert.throws(() => matchGlob(bad, 'x'), (e: unknown) => isBerthError(e) && e.code === 'E_DOCKERFILE_GLOB'));
  }

  test('hasGlob and cleanPath', () => {
    assert.deepEqual(['a/b', 'a*', 'a?', 'a[b]', 'a\\b'].map(hasGlob), [false, true, true, true, true]);
    assert.deepEqual(['', '.', 'a/./b/', 'a/../..', '/../x', '//a//b', 'a/b/../../c'].map(cleanPath), ['.', '.', 'a/b', '..', '/x', '/a/b', 'c']);
  });

  test('property: a name without metacharacters matches only itself', () => {
    const lit = fc.stringMatching(/^[a-z0-9._\/-]{0,12}$/);
    fc.assert(fc.property(lit, lit, (a, b) => matchGlob(a, b) === (a === b)));
  });

  test('property: * matches any one segment', () => {
    fc.assert(fc.property(fc.stringMatching(/^[^/*?[\\]{0,10}$/), (s) => matchGlob('*', s)));
  });
});
