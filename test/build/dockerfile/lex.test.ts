import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { expandWord, expandWords, lexWord } from '../../../src/build/dockerfile/index.js';
import { isBerthError } from '../../../src/errors/index.js';

const vars: Record<string, string> = {
  HOME: '/home/app',
  EMPTY: '',
  FILE: 'archive.tar.gz',
  PATHV: '/usr/local/bin:/usr/bin:/bin',
  SPACED: 'a  b',
  LEAD: '  x y',
  KO: '한국어',
  SHELL: 'bash',
  FRUIT: 'banana',
};
const look = (n: string): string | undefined => vars[n];

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isBerthError(e) ? e.code : `not a BerthError: ${String(e)}`;
  }
  return undefined;
}

describe('expandWord: BuildKit shell/lex.go ProcessWord', () => {
  const cases: [string, string, string][] = [
    ['plain word', 'hello', 'hello'],
    ['$NAME', 'x$HOME', 'x/home/app'],
    ['${NAME} glued to text', '${HOME}/bin', '/home/app/bin'],
    ['unset variable is empty', 'a${NOPE}b$NOPE', 'ab'],
    ['$ before a non-name is literal', 'a$.b $/x', 'a$.b $/x'],
    ['$ and a digit is a positional parameter', 'cost $5.00', 'cost .00'],
    ['trailing $', 'a$', 'a$'],
    ['positional $1 is never set', 'he$1x', 'hex'],
    ['digits are read as one name', '$999aaa', 'aaa'],
    ['special $@ takes one character', '$@@@', '@@'],
    ['$$ is empty, not a pid', 'a$$b', 'ab'],
    ['lower-case name is another variable', '$home', ''],
    ['unicode names', '$KO!', '한국어!'],
    [':- uses default when unset', '${NOPE:-def}', 'def'],
    [':- uses default when empty', '${EMPTY:-def}', 'def'],
    ['- keeps an empty value', '${EMPTY-def}', ''],
    ['- keeps a set value', '${HOME-def}', '/home/app'],
    ['nested defaults', '${NOPE:-${NADA:-inner}}', 'inner'],
    ['default may hold variables', '${NOPE:-$HOME}', '/home/app'],
    [':+ alternative when set', '${HOME:+yes}', 'yes'],
    [':+ nothing when empty', '${EMPTY:+yes}', ''],
    ['+ alternative when set but empty', '${EMPTY+yes}', 'yes'],
    ['? passes a set value', '${HOME?}', '/home/app'],
    ['? passes an empty value', '${EMPTY?}', ''],
    ['# shortest prefix', '${FILE#*.}', 'tar.gz'],
    ['## longest prefix', '${FILE##*.}', 'gz'],
    ['% shortest suffix', '${FILE%.*}', 'archive.tar'],
    ['%% longest suffix', '${FILE%%.*}', 'archive'],
    ['# with no match keeps the value', '${FILE#zzz}', 'archive.tar.gz'],
    ['# on an unset variable', '${NOPE#x}', ''],
    ['? wildcard in a pattern', '${FILE#a?c}', 'hive.tar.gz'],
    ['escaped star is literal', '${FILE#*\\*}', 'archive.tar.gz'],
    ['/ replaces the first match', '${FRUIT/an/AN}', 'bANana'],
    ['// replaces every match', '${FRUIT//an/AN}', 'bANANa'],
    ['// with a wildcard', '${PATHV//:*/}', '/usr/local/bin'],
    ['/ with an empty replacement', '${FRUIT/a/}', 'bnana'],
    ['// replacement may hold a variable', '${FRUIT//a/$SHELL}', 'bbashnbashnbash'],
    ['single quotes are literal', "'$HOME \\n'", '$HOME \\n'],
    ['double quotes expand', '"$HOME x"', '/home/app x'],
    ['double quotes keep single quotes', `"it's $SHELL"`, "it's bash"],
    ['escape makes $ literal', '\\$HOME', '$HOME'],
    ['escape inside double quotes', '"\\$HOME \\" \\\\ \\t"', '$HOME " \\ \\t'],
    ['escaped escape then variable', 'a\\\\$SHELL', 'a\\bash'],
    ['escape outside quotes drops itself', 'a\\tb', 'atb'],
    ['trailing escape is dropped', 'hello\\', 'hello'],
    ['escaped quote outside quotes', "he\\'llo", "he'llo"],
    ['quotes glue words', `he'll'o`, 'hello'],
    ['whitespace is kept', ' a   b ', ' a   b '],
    ['heredoc operator keeps its blanks', 'x<<  EOF', 'x<<  EOF'],
    ['extra } is literal', '${NOPE}}', '}'],
    ['${ inside a default is text', '${NOPE:-bbb {foo}', 'bbb {foo'],
    ['escaped ${ inside a default', '${NOPE:-\\${HOME}z}', '${HOMEz}'],
  ];
  for (const [name, input, want] of cases) {
    test(`${name}: ${input} -> ${JSON.stringify(want)}`, () => assert.equal(expandWord(input, look), want));
  }

  test('backtick escape: backslashes are ordinary, the backtick escapes', () => {
    assert.equal(expandWord('c:\\dir\\$SHELL', look, '`'), 'c:\\dir\\bash');
    assert.equal(expandWord('`$SHELL', look, '`'), '$SHELL');
  });

  const failures: [string, string, string][] = [
    ['unterminated double quote', '"hello', 'E_DOCKERFILE_SYNTAX'],
    ['unterminated single quote', "'hello", 'E_DOCKERFILE_SYNTAX'],
    ['escaped quote ends the word early', "he\\\\'llo", 'E_DOCKERFILE_SYNTAX'],
    ['empty ${}', 'he${}', 'E_DOCKERFILE_SYNTAX'],
    ['${:}', '${:-x}', 'E_DOCKERFILE_SYNTAX'],
    ['${{', '${{aaa}', 'E_DOCKERFILE_SYNTAX'],
    ['missing }', '${HOME', 'E_DOCKERFILE_SYNTAX'],
    ['missing } after a default', '${NOPE:-bbb', 'E_DOCKERFILE_SYNTAX'],
    ['bad name character', '${.}', 'E_DOCKERFILE_SYNTAX'],
    [':= is not supported', '${HOME:=x}', 'E_DOCKERFILE_SYNTAX'],
    ['${N:#p} is refused', '${HOME:#x}', 'E_DOCKERFILE_SYNTAX'],
    ['bad escape in a pattern', '${FILE#\\a}', 'E_DOCKERFILE_SYNTAX'],
    [':? on unset', '${NEED:?set NEED}', 'E_DOCKERFILE_ARG'],
    [':? on empty', '${EMPTY:?}', 'E_DOCKERFILE_ARG'],
    ['? on unset', '${NEED?}', 'E_DOCKERFILE_ARG'],
  ];
  for (const [name, input, code] of failures) {
    test(`refused: ${name} (${input}) -> ${code}`, () => assert.equal(codeOf(() => expandWord(input, look, '\\', { file: 'Dockerfile', line: 7 })), code));
  }

  test('${N:?msg} names the variable, the message and the line', () => {
    try {
      expandWord('${NEED:?set NEED please}', look, '\\', { file: 'df', line: 12 });
      assert.fail('expanded');
    } catch (e) {
      assert.ok(isBerthError(e));
      assert.match(e.message, /df:12: NEED: set NEED please$/);
      assert.deepEqual(e.details, { file: 'df', line: 12, name: 'NEED' });
    }
  });

  test('default messages of ? and :?', () => {
    assert.throws(() => expandWord('${NEED?}', look), /NEED: is not allowed to be unset/);
    assert.throws(() => expandWord('${EMPTY:?}', look), /EMPTY: is not allowed to be empty/);
  });
});

describe('expandWords: BuildKit ProcessWords', () => {
  const cases: [string, string, string[]][] = [
    ['blanks split', 'hello there   you', ['hello', 'there', 'you']],
    ['an unquoted variable is split', 'x${SPACED}y', ['xa', 'by']],
    ['a quoted variable is not', 'x"${SPACED}"y', ['xa  by']],
    ['leading blanks of a value split', 'h${LEAD}', ['h', 'x', 'y']],
    ['escaped blank joins', 'hello\\ there', ['hello there']],
    ['escaped quote is a character', 'hello\\" there', ['hello"', 'there']],
    ['an empty quoted string makes no word', 'a "" b', ['a', 'b']],
    ['single quotes group', "'a b' c", ['a b', 'c']],
    ['empty input', '', []],
  ];
  for (const [name, input, want] of cases) test(`${name}: ${input}`, () => assert.deepEqual(expandWords(input, look), want));
});

describe('lexWord options', () => {
  test('rawQuotes keeps quotes, rawEscapes keeps escapes, skipUnsetEnv keeps unset references', () => {
    assert.equal(lexWord(`'a'"b"`, look, { rawQuotes: true }).result, `'a'"b"`);
    assert.equal(lexWord('a\\ b', look, { rawEscapes: true }).result, 'a\\ b');
    assert.equal(lexWord('$NOPE ${NOPE:-x} $HOME', look, { skipUnsetEnv: true }).result, '$NOPE ${NOPE:-x} /home/app');
  });

  test('skipProcessQuotes (COPY heredoc bodies): quotes stay, $ and \\ still work', () => {
    assert.equal(lexWord(`'$SHELL' "x" \\$ \\\\`, look, { skipProcessQuotes: true }).result, `'bash' "x" $ \\`);
  });

  test('matched and unmatched variables are reported, sorted', () => {
    const r = lexWord('$SHELL ${B:-$A} $HOME', look);
    assert.deepEqual(r.matched, ['HOME', 'SHELL']);
    assert.deepEqual(r.unmatched, ['A', 'B']);
  });
});

describe('expansion properties', () => {
  const literal = fc.string({ maxLength: 40 }).filter((s) => !/[$'"\\<]/.test(s));
  test('a word without $, quotes, escapes or < expands to itself', () => {
    fc.assert(fc.property(literal, (s) => expandWord(s, look) === s));
  });

  test('words of a literal text are its blank-separated parts', () => {
    fc.assert(
      fc.property(literal, (s) => {
        const want = s.split(/[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u).filter((w) => w !== '');
        assert.deepEqual(expandWords(s, look), want);
      }),
    );
  });

  test('single-quoting any text without a quote gives it back unchanged', () => {
    fc.assert(fc.property(fc.string({ maxLength: 40 }).filter((s) => !s.includes("'")), (s) => expandWord(`'${s}'`, look) === s));
  });

  test('${V} of any value is the value; ${V:-d} of an unset V is d', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), literal.filter((s) => !s.includes('}')), (v, d) => {
        assert.equal(expandWord('${V}', (n) => (n === 'V' ? v : undefined)), v);
        assert.equal(expandWord(`\${U:-${d}}`, () => undefined), d);
      }),
    );
  });
});
