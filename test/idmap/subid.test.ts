import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Warning } from '../../src/errors/index.js';
import { formatSubidFile, parseGetsubidsOutput, parseSubidFile, selectSubids, type SubidEntry } from '../../src/idmap/index.js';

function parse(text: string): { entries: SubidEntry[]; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const entries = parseSubidFile(text, { onWarning: (w) => warnings.push(w), path: '/etc/subuid' });
  return { entries, warnings };
}

describe('parseSubidFile: lines that parse (shadow subordinate_parse)', () => {
  const cases: { name: string; text: string; want: Omit<SubidEntry, 'line'>[] }[] = [
    { name: 'one line', text: 'tester:100000:65536\n', want: [{ owner: 'tester', start: 100000, count: 65536 }] },
    { name: 'no final newline', text: 'tester:100000:65536', want: [{ owner: 'tester', start: 100000, count: 65536 }] },
    {
      name: 'several lines, names and decimal uids, order kept',
      text: 'tester2:165536:65536\n1002:400000:65536\ntester2:500000:1000\n',
      want: [
        { owner: 'tester2', start: 165536, count: 65536 },
        { owner: '1002', start: 400000, count: 65536 },
        { owner: 'tester2', start: 500000, count: 1000 },
      ],
    },
    { name: 'hex and octal as strtoul base 0 reads them', text: 'a:0x186a0:0200000\n', want: [{ owner: 'a', start: 100000, count: 65536 }] },
    { name: 'start 0', text: 'a:0:1\n', want: [{ owner: 'a', start: 0, count: 1 }] },
    { name: 'the whole space: start + count = 2^32', text: 'a:4294967295:1\n', want: [{ owner: 'a', start: 4294967295, count: 1 }] },
    { name: 'comments and blank lines are skipped quietly', text: '# delegated by IT\n\n  \ntester:100000:65536\n', want: [{ owner: 'tester', start: 100000, count: 65536 }] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const { entries, warnings } = parse(c.text);
      assert.deepEqual(
        entries.map(({ owner, start, count }) => ({ owner, start, count })),
        c.want,
      );
      assert.deepEqual(warnings, []);
    });
  }
  test('line numbers are 1-based file lines', () => {
    assert.deepEqual(
      parse('# x\n\ntester:1:2\n').entries.map((e) => e.line),
      [3],
    );
  });
});

describe('parseSubidFile: lines skipped with a warning', () => {
  const cases: { name: string; line: string; reason: RegExp }[] = [
    { name: 'two fields', line: 'tester:100000', reason: /owner:start:count/ },
    { name: 'four fields', line: 'tester:100000:65536:x', reason: /owner:start:count/ },
    { name: 'empty owner', line: ':100000:65536', reason: /owner:start:count/ },
    { name: 'empty count', line: 'tester:100000:', reason: /owner:start:count/ },
    { name: 'word as start', line: 'tester:lots:65536', reason: /start "lots"/ },
    { name: 'negative start (strtoul would wrap it)', line: 'tester:-1:65536', reason: /start "-1"/ },
    { name: 'trailing space', line: 'tester:100000:65536 ', reason: /count "65536 "/ },
    { name: 'start past 2^32-1', line: 'tester:4294967296:1', reason: /start/ },
    { name: 'start + count past 2^32', line: 'tester:4294967295:2', reason: /count/ },
    { name: 'bad octal', line: 'tester:08:1', reason: /start "08"/ },
    { name: 'count 0 (shadow never matches it)', line: 'tester:100000:0', reason: /0 IDs/ },
    { name: 'longer than shadow\'s 1024-byte buffer', line: `${'u'.repeat(1100)}:1:1`, reason: /longer than 1023/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const { entries, warnings } = parse(`good:1:1\n${c.line}\nalso:5:5\n`);
      assert.deepEqual(
        entries.map((e) => e.owner),
        ['good', 'also'],
      );
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]!.code, 'W_SUBID_LINE');
      assert.equal(warnings[0]!.path, '/etc/subuid');
      assert.match(warnings[0]!.message, /^\/etc\/subuid:2: skipped/);
      assert.match(warnings[0]!.message, c.reason);
    });
  }
});

describe('parseSubidFile properties', () => {
  const arbEntry = fc
    .record({
      owner: fc.stringMatching(/^[a-z_][a-z0-9_-]{0,15}$/),
      start: fc.integer({ min: 0, max: 4294967295 }),
      count: fc.integer({ min: 1, max: 4294967295 }),
    })
    .filter((e) => e.start + e.count <= 4294967296);
  test('parse(format(entries)) == entries', () => {
    fc.assert(
      fc.property(fc.array(arbEntry, { maxLength: 20 }), (entries) => {
        const { entries: got, warnings } = parse(formatSubidFile(entries));
        assert.deepEqual(
          got.map(({ owner, start, count }) => ({ owner, start, count })),
          entries.map((e) => ({ ...e })),
        );
        assert.deepEqual(warnings, []);
      }),
    );
  });
  test('any text parses without throwing, and every kept entry is a valid range', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '1', '0', 'x', ':', '\n', '#', ' ', '-', '9') }), (text) => {
        for (const e of parse(text).entries) {
          assert.ok(e.count >= 1 && e.start >= 0 && e.start + e.count <= 4294967296);
          assert.ok(e.owner.length > 0 && !e.owner.includes(':'));
        }
      }),
    );
  });
});

describe('selectSubids (shadow list_owner_ranges: name or decimal uid, several lines)', () => {
  const db = parse('tester2:165536:65536\n1002:400000:65536\ntester2:500000:1000\nother:600000:10\n1003:700000:5\n').entries;
  test('name and uid lines, in file order (observed: getsubids tester2 lists both kinds)', () => {
    assert.deepEqual(selectSubids(db, { user: 'tester2', uid: 1002 }), [
      { start: 165536, count: 65536 },
      { start: 400000, count: 65536 },
      { start: 500000, count: 1000 },
    ]);
  });
  test('a user without a passwd entry still matches by uid', () => {
    assert.deepEqual(selectSubids(db, { uid: 1003 }), [{ start: 700000, count: 5 }]);
  });
  test('no lines for the user', () => assert.deepEqual(selectSubids(db, { user: 'nobody', uid: 65534 }), []));
  test('the name must match exactly (no prefix match)', () => assert.deepEqual(selectSubids(db, { user: 'tester', uid: 1001 }), []));
});

describe('parseGetsubidsOutput', () => {
  test('shadow getsubids lines', () => {
    assert.deepEqual(parseGetsubidsOutput('0: tester2 165536 65536\n1: tester2 400000 65536\n'), [
      { start: 165536, count: 65536 },
      { start: 400000, count: 65536 },
    ]);
  });
  test('no output is no ranges', () => assert.deepEqual(parseGetsubidsOutput(''), []));
  test('an unexpected shape is undefined (the caller falls back to the files)', () => {
    assert.equal(parseGetsubidsOutput('Error fetching ranges\n'), undefined);
    assert.equal(parseGetsubidsOutput('0: tester two 3\n'), undefined);
  });
});
