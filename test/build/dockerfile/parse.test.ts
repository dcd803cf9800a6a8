import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  parseDockerfile,
  parseInstruction,
  parseTrigger,
  parseHeredocWord,
  type Dockerfile,
  type Instruction,
} from '../../../src/build/dockerfile/index.js';
import { isBerthError, type Warning } from '../../../src/errors/index.js';

/** The instructions of the first stage of `FROM scratch\n<body>`. */
function body(text: string): Instruction[] {
  return parseDockerfile(`FROM scratch\n${text}`).stages[0].instructions;
}

function one(text: string): Instruction {
  const all = body(text);
  assert.equal(all.length, 1, `one instruction in ${JSON.stringify(text)}`);
  return all[0];
}

/** Picks the fields a test compares, dropping line bookkeeping. */
function shape(i: Instruction): Record<string, unknown> {
  const { line: _l, endLine: _e, original: _o, ...rest } = i as unknown as Record<string, unknown>;
  return rest;
}

describe('parseDockerfile: instructions (success)', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['RUN shell form', 'RUN echo hi  there', { kind: 'RUN', form: 'shell', command: 'echo hi  there', heredocs: [], flags: { mount: [], device: [] } }],
    ['RUN exec form', 'RUN ["echo", "hi"]', { kind: 'RUN', form: 'exec', command: ['echo', 'hi'], heredocs: [], flags: { mount: [], device: [] } }],
    ['RUN invalid JSON is the shell form', 'RUN [echo, hi]', { kind: 'RUN', form: 'shell', command: '[echo, hi]', heredocs: [], flags: { mount: [], device: [] } }],
    ['RUN JSON that is not an array is the shell form', 'RUN {"a":1}', { kind: 'RUN', form: 'shell', command: '{"a":1}', heredocs: [], flags: { mount: [], device: [] } }],
    [
      'RUN flags',
      'RUN --network=none --security=insecure --mount=type=cache,target=/c --mount=type=tmpfs,target=/t --device=dev1 make',
      { kind: 'RUN', form: 'shell', command: 'make', heredocs: [], flags: { mount: ['type=cache,target=/c', 'type=tmpfs,target=/t'], device: ['dev1'], network: 'none', security: 'insecure' } },
    ],
    ['RUN flags before the exec form', 'RUN --network=host ["id"]', { kind: 'RUN', form: 'exec', command: ['id'], heredocs: [], flags: { mount: [], device: [], network: 'host' } }],
    ['RUN -- ends flags', 'RUN -- --network=none', { kind: 'RUN', form: 'shell', command: '--network=none', heredocs: [], flags: { mount: [], device: [] } }],
    ['RUN quoted flag value', 'RUN --mount="type=bind,source=a b" x', { kind: 'RUN', form: 'shell', command: 'x', heredocs: [], flags: { mount: ['type=bind,source=a b'], device: [] } }],
    ['CMD exec form', 'CMD ["node", "app.js"]', { kind: 'CMD', form: 'exec', command: ['node', 'app.js'] }],
    ['CMD with no arguments', 'CMD', { kind: 'CMD', form: 'shell', command: '' }],
    ['ENTRYPOINT empty JSON clears', 'ENTRYPOINT []', { kind: 'ENTRYPOINT', form: 'exec', command: [] }],
    ['ENTRYPOINT shell form', 'ENTRYPOINT exec node app.js', { kind: 'ENTRYPOINT', form: 'shell', command: 'exec node app.js' }],
    ['SHELL', 'SHELL ["/bin/bash", "-eo", "pipefail", "-c"]', { kind: 'SHELL', shell: ['/bin/bash', '-eo', 'pipefail', '-c'] }],
    [
      'COPY flags',
      'COPY --chown=app:app --chmod=0644 --link --parents --exclude=*.md --exclude=tmp a b/ /dst/',
      { kind: 'COPY', sources: ['a', 'b/'], files: [], dest: '/dst/', heredocs: [], json: false, chown: 'app:app', chmod: '0644', link: true, parents: true, exclude: ['*.md', 'tmp'] },
    ],
    ['COPY --from', 'COPY --from=build /out /app', { kind: 'COPY', sources: ['/out'], files: [], dest: '/app', heredocs: [], json: false, from: 'build', link: false, parents: false, exclude: [] }],
    ['COPY JSON form keeps spaces', 'COPY ["my file", "/dst dir/"]', { kind: 'COPY', sources: ['my file'], files: [], dest: '/dst dir/', heredocs: [], json: true, link: false, parents: false, exclude: [] }],
    ['COPY --link=false', 'COPY --link=false a /b', { kind: 'COPY', sources: ['a'], files: [], dest: '/b', heredocs: [], json: false, link: false, parents: false, exclude: [] }],
    [
      'ADD flags',
      'ADD --checksum=sha256:abc --keep-git-dir --unpack=false --chown=1 https://x/y.tgz /opt/',
      { kind: 'ADD', sources: ['https://x/y.tgz'], files: [], dest: '/opt/', heredocs: [], json: false, chown: '1', checksum: 'sha256:abc', keepGitDir: true, unpack: false, link: false, parents: false, exclude: [] },
    ],
    ['USER keeps the whole rest', 'USER app:staff', { kind: 'USER', user: 'app:staff' }],
    ['WORKDIR with a space', 'WORKDIR /my dir', { kind: 'WORKDIR', path: '/my dir' }],
    [
      'ENV pairs keep quotes for expansion',
      'ENV A=1 B="two words" C=$A D=a\\ b E=',
      {
        kind: 'ENV',
        pairs: [
          { key: 'A', value: '1', legacy: false },
          { key: 'B', value: '"two words"', legacy: false },
          { key: 'C', value: '$A', legacy: false },
          { key: 'D', value: 'a\\ b', legacy: false },
          { key: 'E', value: '', legacy: false },
        ],
      },
    ],
    ['ENV legacy form', 'ENV PATH /usr/local/bin:$PATH  x', { kind: 'ENV', pairs: [{ key: 'PATH', value: '/usr/local/bin:$PATH  x', legacy: true }] }],
    ['LABEL', 'LABEL "com.example.vendor"="ACME Inc" version=1.0', { kind: 'LABEL', pairs: [{ key: '"com.example.vendor"', value: '"ACME Inc"', legacy: false }, { key: 'version', value: '1.0', legacy: false }] }],
    ['ARG several, with and without defaults', 'ARG A B=2 C="x y"', { kind: 'ARG', args: [{ key: 'A' }, { key: 'B', value: '2' }, { key: 'C', value: '"x y"' }] }],
    ['EXPOSE', 'EXPOSE 80/tcp 8000-8010/udp $PORT', { kind: 'EXPOSE', ports: ['80/tcp', '8000-8010/udp', '$PORT'] }],
    ['VOLUME list', 'VOLUME /a /b', { kind: 'VOLUME', paths: ['/a', '/b'], json: false }],
    ['VOLUME JSON', 'VOLUME ["/var/lib/data", " /x "]', { kind: 'VOLUME', paths: ['/var/lib/data', '/x'], json: true }],
    ['STOPSIGNAL', 'STOPSIGNAL SIGQUIT', { kind: 'STOPSIGNAL', signal: 'SIGQUIT' }],
    ['MAINTAINER', 'MAINTAINER Jane <jane@example.com>', { kind: 'MAINTAINER', maintainer: 'Jane <jane@example.com>' }],
    ['HEALTHCHECK NONE', 'HEALTHCHECK NONE', { kind: 'HEALTHCHECK', healthcheck: { Test: ['NONE'] } }],
    [
      'HEALTHCHECK CMD shell form, every flag',
      'HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1.5s --start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1',
      { kind: 'HEALTHCHECK', healthcheck: { Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'], Interval: 30e9, Timeout: 90e9, StartPeriod: 1.5e9, StartInterval: 5e8, Retries: 3 } },
    ],
    ['HEALTHCHECK CMD exec form, zero values omitted', 'HEALTHCHECK --interval=0s --retries=0 cmd ["/bin/check", "-q"]', { kind: 'HEALTHCHECK', healthcheck: { Test: ['CMD', '/bin/check', '-q'] } }],
    ['lower-case instruction', 'run echo', { kind: 'RUN', form: 'shell', command: 'echo', heredocs: [], flags: { mount: [], device: [] } }],
  ];
  for (const [name, text, want] of cases) test(name, () => assert.deepEqual(shape(one(text)), want));

  test('ONBUILD wraps a parsed trigger and keeps the expression', () => {
    const i = one('ONBUILD COPY --chown=app . /src');
    assert.equal(i.kind, 'ONBUILD');
    if (i.kind !== 'ONBUILD') return;
    assert.equal(i.expression, 'COPY --chown=app . /src');
    assert.deepEqual(shape(i.trigger), { kind: 'COPY', sources: ['.'], files: [], dest: '/src', heredocs: [], json: false, chown: 'app', link: false, parents: false, exclude: [] });
  });

  test('ONBUILD RUN with a heredoc: the body is read, and appended to the expression', () => {
    const [i, next] = body('ONBUILD RUN <<EOF\necho built\nEOF\nUSER x');
    assert.equal(i.kind, 'ONBUILD');
    if (i.kind !== 'ONBUILD') return;
    assert.equal(i.expression, 'RUN <<EOF\necho built\nEOF');
    assert.equal(i.trigger.kind, 'RUN');
    assert.deepEqual([next.kind, next.line], ['USER', 5]);
  });
});

describe('parseDockerfile: lines, continuations, comments, directives', () => {
  test('stages, names, global ARGs and line numbers', () => {
    const df = parseDockerfile(['# syntax=docker/dockerfile:1.7', 'ARG BASE=alpine', '', 'FROM ${BASE} AS Builder', 'RUN make', 'from --platform=$BUILDPLATFORM scratch', 'COPY --from=builder /a /a'].join('\n'));
    assert.deepEqual(df.directives, { syntax: 'docker/dockerfile:1.7' });
    assert.equal(df.escape, '\\');
    assert.deepEqual(df.globalArgs.map((a) => [a.line, a.args]), [[2, [{ key: 'BASE', value: 'alpine' }]]]);
    assert.deepEqual(
      df.stages.map((s) => [s.index, s.name, s.from.image, s.from.platform, s.from.line, s.instructions.map((i) => i.line)]),
      [
        [0, 'builder', '${BASE}', undefined, 4, [5]],
        [1, undefined, 'scratch', '$BUILDPLATFORM', 6, [7]],
      ],
    );
  });

  test('continuation: escape and trailing blanks removed, next line kept as is, comments and blank lines skipped', () => {
    const warnings: Warning[] = [];
    const df = parseDockerfile(['FROM scratch', 'RUN apt-get update && \\  ', '    # a comment inside', '', '    apt-get install -y x \\', '  && rm -rf /var/lib/apt', 'USER me'].join('\n'), { onWarning: (w) => warnings.push(w) });
    const [run, user] = df.stages[0].instructions;
    assert.equal(run.kind === 'RUN' && run.command, 'apt-get update &&     apt-get install -y x   && rm -rf /var/lib/apt');
    assert.deepEqual([run.line, run.endLine, user.line], [2, 6, 7]);
    assert.equal(run.original, 'RUN apt-get update &&     apt-get install -y x   && rm -rf /var/lib/apt');
    assert.deepEqual(warnings.map((w) => w.code), ['W_DOCKERFILE_EMPTY_CONTINUATION']);
  });

  test('an escaped escape at the end does not continue the line', () => {
    const [a, b] = body('RUN echo a\\\\\nRUN echo b');
    assert.deepEqual([a.kind === 'RUN' && a.command, b.line], ['echo a\\\\', 3]);
  });

  test('a lone escape on a line continues', () => {
    const [a] = body('RUN echo a \\\n\\\n b');
    assert.equal(a.kind === 'RUN' && a.command, 'echo a  b');
  });

  test('continuation at the end of the file (arguments are trimmed)', () => {
    const [a] = body('RUN echo a \\');
    assert.equal(a.kind === 'RUN' && a.command, 'echo a');
  });

  test('# escape=` : backtick continues, backslashes are ordinary', () => {
    const df = parseDockerfile(['# escape=`', 'FROM mcr.microsoft.com/windows/nanoserver', 'COPY testfile.txt c:\\', 'RUN dir c:\\ `', '    /b'].join('\r\n'));
    assert.equal(df.escape, '`');
    const [copy, run] = df.stages[0].instructions;
    assert.equal(copy.kind === 'COPY' && copy.dest, 'c:\\');
    assert.equal(run.kind === 'RUN' && run.command, 'dir c:\\     /b');
  });

  test('directives: case-insensitive keys, blanks around =, check recorded', () => {
    const df = parseDockerfile('#   Syntax = docker/dockerfile:1\n# check=skip=all\n#escape=\\\nFROM scratch');
    assert.deepEqual(df.directives, { syntax: 'docker/dockerfile:1', check: 'skip=all', escape: '\\' });
  });

  test('directives end at a blank line, an ordinary comment, or an unknown key', () => {
    assert.equal(parseDockerfile('\n# escape=`\nFROM scratch').escape, '\\');
    assert.equal(parseDockerfile('# hello\n# escape=`\nFROM scratch').escape, '\\');
    assert.equal(parseDockerfile('# foo=bar\n# escape=`\nFROM scratch').escape, '\\');
    assert.deepEqual(parseDockerfile('FROM scratch\n# escape=`').directives, {});
  });

  test('BOM and CRLF line endings', () => {
    const df = parseDockerfile('\ufeffFROM scratch\r\nRUN a \\\r\n b\r\n');
    const [run] = df.stages[0].instructions;
    assert.equal(run.kind === 'RUN' && run.command, 'a  b');
  });

  test('comment lines and indented instructions', () => {
    const ins = body('  # comment\n\t  RUN  x\n#RUN y');
    assert.deepEqual(ins.map((i) => [i.kind, i.line]), [['RUN', 3]]);
  });

  test('duplicate and reserved stage names warn', () => {
    const warnings: Warning[] = [];
    parseDockerfile('FROM a AS x\nFROM b AS x\nFROM c AS scratch', { onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ['W_DOCKERFILE_DUPLICATE_STAGE', 'W_DOCKERFILE_RESERVED_STAGE_NAME']);
  });
});

describe('parseDockerfile: heredocs', () => {
  const heredocs = (line: string, lines: string[]) => {
    const i = body([line, ...lines].join('\n'))[0] as Instruction & { heredocs: unknown };
    return i.heredocs;
  };
  const cases: [string, string, string[], { name: string; content: string; expand: boolean; chomp: boolean; fd: number }[]][] = [
    ['empty body', 'RUN <<EMPTY', ['EMPTY'], [{ name: 'EMPTY', content: '', expand: true, chomp: false, fd: 0 }]],
    ['file descriptor', 'RUN 3<<FD', ['FD'], [{ name: 'FD', content: '', expand: true, chomp: false, fd: 3 }]],
    ['tabs kept without -', 'RUN <<INDENT', ['\tfoo', '\tbar', 'INDENT'], [{ name: 'INDENT', content: '\tfoo\n\tbar\n', expand: true, chomp: false, fd: 0 }]],
    ['<<- allows a tab-indented delimiter; content as written', 'RUN <<-UN', ['\tbaz', '\tUN'], [{ name: 'UN', content: '\tbaz\n', expand: true, chomp: true, fd: 0 }]],
    ["single-quoted delimiter", "RUN <<-'NOEXPAND'", ["\tdon't $X", 'NOEXPAND'], [{ name: 'NOEXPAND', content: "\tdon't $X\n", expand: false, chomp: true, fd: 0 }]],
    ['comments inside the body are content', 'RUN <<C', ['# internal', 'echo x # trailing', 'C'], [{ name: 'C', content: '# internal\necho x # trailing\n', expand: true, chomp: false, fd: 0 }]],
    ['flags before the heredoc', 'RUN --mount=type=cache,target=/c <<M', ['echo', 'M'], [{ name: 'M', content: 'echo\n', expand: true, chomp: false, fd: 0 }]],
    ['two heredocs, in order', 'COPY <<X <<Y /dest/', ['Y', 'X', 'X', 'Y'], [{ name: 'X', content: 'Y\n', expand: true, chomp: false, fd: 0 }, { name: 'Y', content: 'X\n', expand: true, chomp: false, fd: 0 }]],
    ['words after the heredoc', 'RUN <<PY python3', ["print('hi')", 'PY'], [{ name: 'PY', content: "print('hi')\n", expand: true, chomp: false, fd: 0 }]],
    ['dotted name', 'COPY <<file.txt /dest', ['hello', 'file.txt'], [{ name: 'file.txt', content: 'hello\n', expand: true, chomp: false, fd: 0 }]],
    ['partly quoted name', "RUN <<eo'f'", ['x', 'eof'], [{ name: 'eof', content: 'x\n', expand: false, chomp: false, fd: 0 }]],
    ['escaped quote in the name expands', "RUN <<eo\\'f", ['x', "eo'f"], [{ name: "eo'f", content: 'x\n', expand: true, chomp: false, fd: 0 }]],
    ['quoted name with a space', "RUN <<'one two'", ['x', 'one two'], [{ name: 'one two', content: 'x\n', expand: false, chomp: false, fd: 0 }]],
    ['unset variable in the name is kept', 'RUN <<$EOF', ['$EOF'], [{ name: '$EOF', content: '', expand: true, chomp: false, fd: 0 }]],
    ['blanks after <<', 'RUN <<  EOF  > out', ['EOF'], [{ name: 'EOF', content: '', expand: true, chomp: false, fd: 0 }]],
    ['quoted << is not a heredoc', 'RUN echo "<<NOT"', [], []],
    ['JSON form reads no heredoc', 'RUN ["<<EOF"]', [], []],
    ['<<- followed by a blank is not a heredoc', 'RUN cat <<- EOF', [], []],
  ];
  for (const [name, line, lines, want] of cases) test(name, () => assert.deepEqual(heredocs(line, lines), want));

  test('COPY heredoc sources become files; <<- tabs are removed from the data', () => {
    const i = one('COPY <<-A <<"B" src /dst/\n\tone $X\n\tA\ntwo $X\nB');
    assert.equal(i.kind, 'COPY');
    if (i.kind !== 'COPY') return;
    assert.deepEqual(i.sources, ['src']);
    assert.deepEqual(i.files, [
      { name: 'A', data: 'one $X\n', expand: true },
      { name: 'B', data: 'two $X\n', expand: false },
    ]);
    assert.deepEqual([i.line, i.endLine], [2, 6]);
  });

  test('CRLF bodies keep their line endings; the delimiter matches without the CR', () => {
    const i = body('RUN <<E\r\na\r\nE\r\nUSER u');
    assert.equal(i[0].kind === 'RUN' && i[0].heredocs[0].content, 'a\r\n');
    assert.equal(i[1].kind, 'USER');
  });

  test('parseHeredocWord', () => {
    assert.deepEqual(parseHeredocWord('<<"EOF"'), { name: 'EOF', expand: false, chomp: false, fd: 0 });
    assert.deepEqual(parseHeredocWord('<<EO"F"'), { name: 'EOF', expand: false, chomp: false, fd: 0 });
    assert.deepEqual(parseHeredocWord('<<- EOF'), { name: 'EOF', expand: true, chomp: true, fd: 0 });
    for (const w of ['', 'EOF', '<<', '<<-', '<EOF', '<<<EOF', '<<EOF sh']) assert.equal(parseHeredocWord(w), undefined, w);
  });
});

describe('parseDockerfile: refused (E_DOCKERFILE_SYNTAX naming the line)', () => {
  const failures: [string, string, number, RegExp?][] = [
    ['unknown instruction, with a suggestion', 'FROM scratch\nRUNN echo', 2, /unknown instruction: RUNN/],
    ['instruction before FROM', 'ENV A=1\nFROM scratch', 1, /ENV before the first FROM/],
    ['no FROM', 'ARG A\nARG B', 2, /no FROM/],
    ['empty file', '\n# just a comment\n', 2, /no instructions/],
    ['unterminated heredoc', 'FROM scratch\nRUN <<EOF\necho', 2, /unterminated heredoc/],
    ['unterminated heredoc, second of two', 'FROM scratch\nCOPY <<A <<B /x/\na\nA\nb', 2, /unterminated heredoc <<B/],
    ['unknown flag', 'FROM scratch\nCOPY --owner=1 a b', 2, /unknown flag: --owner/],
    ['flag on an instruction without flags', 'FROM scratch\nUSER --x=1 me', 2, /unknown flag: --x/],
    ['flag names are case-sensitive', 'FROM scratch\nCOPY --Chown=1 a b', 2, /unknown flag: --Chown/],
    ['duplicate flag', 'FROM scratch\nCOPY --chown=1 --chown=2 a b', 2, /duplicate flag/],
    ['string flag without a value', 'FROM scratch\nCOPY --chown a b', 2, /missing a value on flag: --chown/],
    ['bool flag with an empty value', 'FROM scratch\nCOPY --link= a b', 2, /missing a value/],
    ['bool flag with a bad value', 'FROM scratch\nCOPY --link=yes a b', 2, /expecting boolean value/],
    ['bad --network', 'FROM scratch\nRUN --network=bridge x', 2, /invalid network mode "bridge"/],
    ['bad --security', 'FROM scratch\nRUN --security=strict x', 2, /security "strict" is not valid/],
    ['variable in --mount from', 'FROM scratch\nRUN --mount=from=$X,target=/x x', 2, /doesn't support variable expansion/],
    ['RUN without a command', 'FROM scratch\nRUN', 2, /RUN requires at least one argument/],
    ['WORKDIR without an argument', 'FROM scratch\nWORKDIR', 2, /WORKDIR requires exactly one argument/],
    ['USER without an argument', 'FROM scratch\nUSER   ', 2, /USER requires exactly one argument/],
    ['ENV without arguments', 'FROM scratch\nENV', 2, /ENV requires at least one argument/],
    ['ENV legacy without a value', 'FROM scratch\nENV ONLYKEY', 2, /ENV must have two arguments/],
    ['ENV mixing forms', 'FROM scratch\nENV A=1 B', 2, /can't find = in "B"/],
    ['ENV blank name', 'FROM scratch\nENV =x', 2, /names can not be blank/],
    ['LABEL without arguments', 'FROM scratch\nLABEL', 2, /LABEL requires at least one argument/],
    ['ARG blank name', 'FROM scratch\nARG =x', 2, /ARG names can not be blank/],
    ['COPY with one argument', 'FROM scratch\nCOPY onlyone', 2, /requires at least two arguments/],
    ['COPY heredoc destination', 'FROM scratch\nCOPY a <<EOF\nx\nEOF', 2, /heredoc as a destination/],
    ['JSON array with a number', 'FROM scratch\nCMD ["sleep", 10]', 2, /strings only/],
    ['SHELL in shell form', 'FROM scratch\nSHELL /bin/bash -c', 2, /JSON form/],
    ['SHELL empty array', 'FROM scratch\nSHELL []', 2, /SHELL requires at least one argument/],
    ['EXPOSE without ports', 'FROM scratch\nEXPOSE', 2, /EXPOSE requires at least one argument/],
    ['VOLUME empty string', 'FROM scratch\nVOLUME [""]', 2, /empty string/],
    ['STOPSIGNAL missing', 'FROM scratch\nSTOPSIGNAL', 2, /exactly one argument/],
    ['FROM with two words', 'FROM a b', 1, /one or three arguments/],
    ['FROM with a bad AS', 'FROM a IS b', 1, /one or three arguments/],
    ['FROM without an image', 'FROM', 1, /one or three arguments/],
    ['bad stage name', 'FROM a AS 1st', 1, /invalid name for build stage/],
    ['HEALTHCHECK without arguments', 'FROM scratch\nHEALTHCHECK', 2, /at least one argument/],
    ['HEALTHCHECK NONE with arguments', 'FROM scratch\nHEALTHCHECK NONE x', 2, /takes no arguments/],
    ['HEALTHCHECK unknown type', 'FROM scratch\nHEALTHCHECK RUN x', 2, /Unknown type "RUN"/],
    ['HEALTHCHECK CMD without command', 'FROM scratch\nHEALTHCHECK CMD', 2, /Missing command/],
    ['HEALTHCHECK bad duration', 'FROM scratch\nHEALTHCHECK --interval=ten CMD x', 2, /invalid duration "ten"/],
    ['HEALTHCHECK duration without unit', 'FROM scratch\nHEALTHCHECK --timeout=30 CMD x', 2, /missing unit/],
    ['HEALTHCHECK duration below 1ms', 'FROM scratch\nHEALTHCHECK --interval=10us CMD x', 2, /cannot be less than 1ms/],
    ['HEALTHCHECK negative duration', 'FROM scratch\nHEALTHCHECK --timeout=-1s CMD x', 2, /cannot be less than 1ms/],
    ['HEALTHCHECK negative retries', 'FROM scratch\nHEALTHCHECK --retries=-1 CMD x', 2, /cannot be negative/],
    ['HEALTHCHECK non-numeric retries', 'FROM scratch\nHEALTHCHECK --retries=3x CMD x', 2, /invalid syntax/],
    ['ONBUILD ONBUILD', 'FROM scratch\nONBUILD ONBUILD RUN x', 2, /Chaining ONBUILD/],
    ['ONBUILD FROM', 'FROM scratch\nONBUILD FROM x', 2, /FROM isn't allowed as an ONBUILD trigger/],
    ['ONBUILD MAINTAINER', 'FROM scratch\nONBUILD MAINTAINER x', 2, /MAINTAINER isn't allowed/],
    ['ONBUILD unknown trigger', 'FROM scratch\nONBUILD FOO x', 2, /unknown instruction: FOO/],
    ['ONBUILD alone', 'FROM scratch\nONBUILD', 2, /ONBUILD requires at least one argument/],
    ['ONBUILD trigger with a bad flag', 'FROM scratch\nONBUILD COPY --nope a b', 2, /unknown flag: --nope/],
    ['unterminated quote in ENV', 'FROM scratch\nENV A="abc', 2, /matching double-quote/],
    ['unterminated quote in a COPY path (spaces need the JSON form)', 'FROM scratch\nCOPY "my file" /x', 2, /matching double-quote/],
    ['bad substitution in WORKDIR', 'FROM scratch\nWORKDIR ${}', 2, /bad substitution/],
    ['unclosed ${ in FROM', 'FROM alpine:${TAG', 1, /missing '}'/],
    ['unclosed ${ in an expanded COPY heredoc', 'FROM scratch\nCOPY <<EOF /x\n${A:-x\nEOF', 2, /missing '}'/],
    ['bad escape directive', '# escape=x\nFROM scratch', 1, /invalid escape token/],
    ['repeated directive', '# syntax=a\n# syntax=b\nFROM scratch', 2, /only one syntax parser directive/],
    ['error on a later line', 'FROM scratch\nRUN a\n\nRUN b \\\n c\nUSER', 6, /USER requires exactly one argument/],
  ];
  for (const [name, text, line, re] of failures) {
    test(`${name} -> line ${line}`, () => {
      try {
        parseDockerfile(text, { file: 'app.Dockerfile' });
        assert.fail('parsed');
      } catch (e) {
        assert.ok(isBerthError(e), String(e));
        assert.equal(e.code, 'E_DOCKERFILE_SYNTAX');
        assert.match(e.message, new RegExp(`^parse Dockerfile app\\.Dockerfile:${line}: `));
        if (re) assert.match(e.message, re);
        assert.deepEqual(e.details, { file: 'app.Dockerfile', line });
        assert.ok(e.hint && e.hint.length > 0);
      }
    });
  }

  test('a quoted COPY heredoc body is not checked: it is never expanded', () => {
    assert.equal(body('COPY <<"EOF" /x\n${A:-x\nEOF')[0].kind, 'COPY');
  });

  test('the unknown-instruction hint suggests the closest instruction', () => {
    try {
      parseDockerfile('FROM scratch\nCOPPY a b');
      assert.fail('parsed');
    } catch (e) {
      assert.ok(isBerthError(e));
      assert.match(e.hint ?? '', /did you mean COPY\?/);
    }
  });

  test('a line longer than BuildKit accepts', () => {
    assert.throws(() => parseDockerfile(`FROM scratch\nRUN echo ${'x'.repeat(70_000)}`), (e: unknown) => isBerthError(e) && e.code === 'E_DOCKERFILE_SYNTAX' && /:2: .*max allowed size/.test(e.message));
  });
});

describe('parseTrigger and parseInstruction', () => {
  test('a base image ONBUILD trigger, heredoc included', () => {
    const t = parseTrigger('RUN <<EOF\necho hi\nEOF', { file: 'Dockerfile', line: 3 });
    assert.equal(t.kind, 'RUN');
    assert.equal(t.line, 3);
    assert.deepEqual(t.kind === 'RUN' && t.heredocs.map((h) => h.content), ['echo hi\n']);
  });

  test('a trigger that is FROM, or two instructions, is refused naming the FROM line', () => {
    for (const bad of ['FROM x', 'RUN a\nRUN b', 'NOPE x']) {
      assert.throws(() => parseTrigger(bad, { line: 9 }), (e: unknown) => isBerthError(e) && e.code === 'E_DOCKERFILE_SYNTAX' && /Dockerfile:9: /.test(e.message), bad);
    }
  });

  test('parseInstruction parses one line', () => {
    assert.deepEqual(shape(parseInstruction('ENV A=1')), { kind: 'ENV', pairs: [{ key: 'A', value: '1', legacy: false }] });
    assert.throws(() => parseInstruction('FROM x'), /FROM cannot be used here/);
  });
});

describe('parse properties', () => {
  // Words never start with `-`: `--x` at the start of the arguments is a flag.
  const word = fc.stringMatching(/^[a-z0-9_.\/=][a-z0-9_.\/=-]{0,7}$/);
  const words = fc.array(word, { minLength: 1, maxLength: 6 });

  test('splitting a shell-form RUN over continuation lines joins back to the same command', () => {
    fc.assert(
      fc.property(fc.array(words, { minLength: 1, maxLength: 5 }), fc.array(fc.constantFrom('', '  ', '\t'), { minLength: 5, maxLength: 5 }), (parts, indents) => {
        const lines = parts.map((p, i) => `${i === 0 ? '' : indents[i]}${p.join(' ')}`);
        const text = `FROM scratch\nRUN ${lines.map((l, i) => (i < lines.length - 1 ? `${l} \\` : l)).join('\n')}\nUSER u`;
        const [run, user] = parseDockerfile(text).stages[0].instructions;
        assert.equal(run.kind === 'RUN' && run.command, lines.map((l, i) => (i < lines.length - 1 ? `${l} ` : l)).join(''));
        assert.deepEqual([run.line, run.endLine, user.line], [2, 1 + lines.length, 2 + lines.length]);
      }),
    );
  });

  test('comment lines inside a continuation change nothing', () => {
    fc.assert(
      fc.property(words, words, fc.string({ maxLength: 20 }).filter((s) => !s.includes('\n') && !s.includes('\r')), (a, b, c) => {
        const plain = parseDockerfile(`FROM scratch\nRUN ${a.join(' ')} \\\n${b.join(' ')}`).stages[0].instructions[0];
        const commented = parseDockerfile(`FROM scratch\nRUN ${a.join(' ')} \\\n  #${c}\n${b.join(' ')}`).stages[0].instructions[0];
        assert.equal(plain.kind === 'RUN' && plain.command, commented.kind === 'RUN' && commented.command);
      }),
    );
  });

  test('a heredoc body is read back exactly', () => {
    const bodyLine = fc.string({ maxLength: 30 }).filter((s) => !/[\r\n]/.test(s) && s !== 'EOF');
    fc.assert(
      fc.property(fc.array(bodyLine, { maxLength: 6 }), (lines) => {
        const text = `FROM scratch\nCOPY <<"EOF" /f\n${lines.map((l) => `${l}\n`).join('')}EOF\n`;
        const [copy] = parseDockerfile(text).stages[0].instructions;
        assert.equal(copy.kind === 'COPY' && copy.files[0].data, lines.map((l) => `${l}\n`).join(''));
      }),
    );
  });

  test('instruction names are case-insensitive', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), (upper) => {
        const name = 'user'.split('').map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('');
        const df: Dockerfile = parseDockerfile(`from scratch\n${name} app`);
        assert.equal(df.stages[0].instructions[0].kind, 'USER');
      }),
    );
  });
});
