import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { expandWord, expandWords, keyValues, parseDockerfile, parseDuration } from '../../src/build/instructions.js';
import { isBerthError } from '../../src/errors/index.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isBerthError(e) ? e.code : `not a BerthError: ${String(e)}`;
  }
  return undefined;
}

const at = { line: 1, file: 'Dockerfile' };
const vars: Record<string, string> = { A: 'a', EMPTY: '', PATHV: '/usr/local/bin:/usr/bin', FILE: 'archive.tar.gz' };
const look = (n: string) => vars[n];

describe('parseDockerfile', () => {
  test('stages, names, line numbers, continuations with comments inside, flags, exec and shell forms', () => {
    const df = parseDockerfile(
      [
        '# syntax=docker/dockerfile:1',
        'ARG BASE=debian',
        'FROM ${BASE} AS Build',
        'RUN apt-get update && \\',
        '# a comment inside',
        '',
        '    apt-get install -y x',
        'COPY --chown=foo:bar --chmod=755 a b /dst/',
        'CMD ["sh", "-c", "echo hi"]',
        'from build',
        'copy --from=build /x /y',
        'ENTRYPOINT [not json',
      ].join('\n'),
    );
    assert.equal(df.directives.syntax, 'docker/dockerfile:1');
    assert.equal(df.globalArgs.length, 1);
    assert.equal(df.stages.length, 2);
    assert.equal(df.stages[0].name, 'build');
    const [run, copy, cmd] = df.stages[0].instructions;
    assert.deepEqual([run.kind, run.line, run.endLine, run.args], ['RUN', 4, 7, 'apt-get update &&     apt-get install -y x']);
    assert.deepEqual([...copy.flags.entries()], [['chown', ['foo:bar']], ['chmod', ['755']]]);
    assert.equal(copy.args, 'a b /dst/');
    assert.deepEqual(cmd.json, ['sh', '-c', 'echo hi']);
    assert.equal(df.stages[1].from.line, 10);
    assert.deepEqual(df.stages[1].instructions[0].flags.get('from'), ['build']);
    assert.equal(df.stages[1].instructions[1].json, undefined, 'an invalid JSON array is the shell form');
  });

  test('heredocs: several on one line, <<- strips tabs, a quoted delimiter does not expand', () => {
    const df = parseDockerfile(['FROM scratch', 'RUN <<EOF', 'echo $A', 'EOF', 'COPY <<one <<"two" /dst/', 'x', 'one', 'y $A', 'two', 'RUN <<-END cat', '\tindented', '\tEND', 'USER me'].join('\n'));
    const [run, copy, run2, user] = df.stages[0].instructions;
    assert.deepEqual(run.heredocs, [{ name: 'EOF', content: 'echo $A\n', expand: true, chomp: false }]);
    assert.deepEqual(copy.heredocs.map((h) => [h.name, h.content, h.expand]), [['one', 'x\n', true], ['two', 'y $A\n', false]]);
    assert.equal(run2.heredocs[0].content, 'indented\n');
    assert.deepEqual([user.kind, user.line], ['USER', 13]);
  });

  test('escape directive: a backtick continues lines and backslashes are literal', () => {
    const df = parseDockerfile(['# escape=`', 'FROM scratch', 'RUN dir c:\\ `', '  /w'].join('\n'));
    assert.equal(df.escape, '`');
    assert.equal(df.stages[0].instructions[0].args, 'dir c:\\   /w');
  });

  const failures: [string, string, number][] = [
    ['unknown instruction', 'FROM scratch\nFOO bar', 2],
    ['instruction before FROM', 'RUN x\nFROM scratch', 1],
    ['no FROM', 'ARG X', 1],
    ['unterminated heredoc', 'FROM scratch\nRUN <<EOF\necho', 2],
    ['unknown flag', 'FROM scratch\nCOPY --owner=1 a b', 2],
    ['missing arguments', 'FROM scratch\nWORKDIR', 2],
    ['FROM with junk', 'FROM a b c d', 1],
    ['ONBUILD FROM', 'FROM scratch\nONBUILD FROM x', 2],
  ];
  for (const [name, text, line] of failures) {
    test(`refused: ${name}, naming line ${line}`, () => {
      try {
        parseDockerfile(text);
        assert.fail('parsed');
      } catch (e) {
        assert.ok(isBerthError(e), String(e));
        assert.equal(e.code, 'E_DOCKERFILE_SYNTAX');
        assert.match(e.message, new RegExp(`Dockerfile:${line}:`));
      }
    });
  }
});

describe('expandWord (BuildKit shell/lex.go)', () => {
  const cases: [string, string][] = [
    ['$A', 'a'],
    ['${A}b', 'ab'],
    ['${MISSING:-def}', 'def'],
    ['${EMPTY:-def}', 'def'],
    ['${EMPTY-def}', ''],
    ['${A:+set}', 'set'],
    ['${MISSING:+set}', ''],
    ["'$A'", '$A'],
    ['"$A b"', 'a b'],
    ['\\$A', '$A'],
    ['${FILE%.gz}', 'archive.tar'],
    ['${FILE%%.*}', 'archive'],
    ['${FILE#*.}', 'tar.gz'],
    ['${FILE##*.}', 'gz'],
    ['${PATHV}:/x', '/usr/local/bin:/usr/bin:/x'],
    ['$MISSING', ''],
    ['cost $', 'cost $'],
  ];
  for (const [input, want] of cases) test(`${input} -> ${JSON.stringify(want)}`, () => assert.equal(expandWord(input, look, '\\', at), want));

  test('${V:?message} fails with E_DOCKERFILE_ARG naming the variable', () => {
    assert.equal(codeOf(() => expandWord('${NEED:?set NEED}', look, '\\', at)), 'E_DOCKERFILE_ARG');
  });

  test('words: quotes group, whitespace splits', () => {
    assert.deepEqual(expandWords('a "b c" $A\'d e\'', look, '\\', at), ['a', 'b c', 'ad e']);
  });

  test('property: a word without $, quotes or escapes expands to itself', () => {
    fc.assert(fc.property(fc.string().filter((s) => !/[$'"\\]/.test(s)), (s) => expandWord(s, look, '\\', at) === s));
  });

  test('ENV forms: KEY=VALUE pairs with quotes, and the legacy KEY VALUE form', () => {
    const df = parseDockerfile('FROM scratch\nENV A=1 B="two words" C=$A\nENV LEGACY some value here');
    const [e1, e2] = df.stages[0].instructions;
    assert.deepEqual(keyValues(e1, look, '\\', 'Dockerfile'), [['A', '1'], ['B', 'two words'], ['C', 'a']]);
    assert.deepEqual(keyValues(e2, look, '\\', 'Dockerfile'), [['LEGACY', 'some value here']]);
  });

  test('Go durations for HEALTHCHECK', () => {
    assert.equal(parseDuration('1m30s', 'Dockerfile', 1), 90e9);
    assert.equal(parseDuration('500ms', 'Dockerfile', 1), 5e8);
    assert.equal(codeOf(() => parseDuration('ten', 'Dockerfile', 1)), 'E_DOCKERFILE_SYNTAX');
  });
});
