import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  exposedPorts,
  expandsVariables,
  instantiate,
  isSignal,
  normalizeWorkdir,
  parseDockerfile,
  parseGoDuration,
  parseRunMount,
  planRunCommand,
  type Instruction,
  type RunInstruction,
} from '../../../src/build/dockerfile/index.js';
import { isBerthError } from '../../../src/errors/index.js';

const env: Record<string, string> = { APP: '/srv/app', USERNAME: 'node', V: '1.2', PORT: '8080', PORTS: '80 443/udp', SIG: 'TERM', CACHE: 'gomod' };
const look = (n: string): string | undefined => env[n];
const ctx = { escape: '\\' as const, file: 'Dockerfile' };

function one(text: string, escape = '\\'): Instruction {
  const df = parseDockerfile(`${escape === '`' ? '# escape=`\n' : ''}FROM scratch\n${text}`);
  return df.stages[0].instructions[0];
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isBerthError(e) ? e.code : `not a BerthError: ${String(e)}`;
  }
  return undefined;
}

describe('instantiate: the words BuildKit expands', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['ENV keys and values, quotes removed', 'ENV DIR=$APP/data "MSG"="hello ${USERNAME}" LEG=x', { pairs: [{ key: 'DIR', value: '/srv/app/data', legacy: false }, { key: 'MSG', value: 'hello node', legacy: false }, { key: 'LEG', value: 'x', legacy: false }] }],
    ['ENV legacy value keeps its blanks', 'ENV P $APP  and more', { pairs: [{ key: 'P', value: '/srv/app  and more', legacy: true }] }],
    ['LABEL', 'LABEL version=$V "a b"=c', { pairs: [{ key: 'version', value: '1.2', legacy: false }, { key: 'a b', value: 'c', legacy: false }] }],
    ['WORKDIR', 'WORKDIR ${APP}/src', { path: '/srv/app/src' }],
    ['USER', 'USER ${USERNAME}:staff', { user: 'node:staff' }],
    ['VOLUME', 'VOLUME $APP/data /x', { paths: ['/srv/app/data', '/x'] }],
    ['STOPSIGNAL', 'STOPSIGNAL SIG$SIG', { signal: 'SIGTERM' }],
    ['EXPOSE splits what a variable holds', 'EXPOSE $PORT $PORTS', { ports: ['8080', '80', '443/udp'] }],
  ];
  for (const [name, text, want] of cases) {
    test(name, () => {
      const x = instantiate(one(text), look, ctx) as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(want)) assert.deepEqual(x[k], v, k);
    });
  }

  test('COPY: sources, destination, --chown and --chmod expand; --from does not', () => {
    const x = instantiate(one('COPY --from=build --chown=$USERNAME --chmod=${MODE:-755} $APP/*.js ${APP}/out/'), look, ctx);
    assert.ok(x.kind === 'COPY');
    assert.deepEqual([x.sources, x.dest, x.chown, x.chmod, x.from], [['/srv/app/*.js'], '/srv/app/out/', 'node', '755', 'build']);
  });

  test('ADD --checksum expands', () => {
    const x = instantiate(one('ADD --checksum=sha256:${SUM:-abc} https://x/$V.tgz /'), look, ctx);
    assert.ok(x.kind === 'ADD');
    assert.deepEqual([x.checksum, x.sources], ['sha256:abc', ['https://x/1.2.tgz']]);
  });

  test('COPY heredoc bodies: expanded unless the delimiter is quoted; quotes stay, \\ escapes', () => {
    const x = instantiate(one('COPY <<A <<"B" /etc/\nuser=\'$USERNAME\' "${V}" \\$HOME \\\\\nA\nuser=$USERNAME\nB'), look, ctx);
    assert.ok(x.kind === 'COPY');
    assert.deepEqual(
      x.files.map((f) => f.data),
      ['user=\'node\' "1.2" $HOME \\\n', 'user=$USERNAME\n'],
    );
  });

  test('RUN: the command is never expanded; --mount values are', () => {
    const x = instantiate(one('RUN --mount=type=cache,id=$CACHE,target=${APP}/c echo $APP'), look, ctx);
    assert.ok(x.kind === 'RUN');
    assert.deepEqual([x.command, x.flags.mount], ['echo $APP', ['type=cache,id=gomod,target=/srv/app/c']]);
  });

  test('CMD, ENTRYPOINT, SHELL, HEALTHCHECK and ONBUILD are unchanged', () => {
    for (const t of ['CMD echo $APP', 'ENTRYPOINT ["$APP"]', 'SHELL ["$APP"]', 'HEALTHCHECK CMD test $APP', 'ONBUILD RUN echo $APP', 'MAINTAINER $APP']) {
      const i = one(t);
      assert.deepEqual(instantiate(i, look, ctx), i, t);
    }
  });

  test('the escape directive applies to expansion', () => {
    const x = instantiate(one('WORKDIR c:\\app\\`$APP', '`'), look, { escape: '`', file: 'Dockerfile' });
    assert.equal(x.kind === 'WORKDIR' && x.path, 'c:\\app\\$APP');
  });

  test('expandsVariables', () => {
    assert.deepEqual(
      (['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER', 'ENV', 'COPY', 'FROM', 'EXPOSE'] as const).map(expandsVariables),
      [true, false, false, false, false, false, false, true, true, true, true],
    );
  });

  const failures: [string, string, string][] = [
    ['required variable unset', 'WORKDIR ${NEED:?set NEED}', 'E_DOCKERFILE_ARG'],
    ['bad substitution', 'USER ${}', 'E_DOCKERFILE_SYNTAX'],
    ['unterminated quote in a path (use the JSON form)', 'COPY "my file" /x', 'E_DOCKERFILE_SYNTAX'],
    ['VOLUME that expands to nothing', 'VOLUME $NOPE', 'E_DOCKERFILE_SYNTAX'],
    ['STOPSIGNAL that is not a signal', 'STOPSIGNAL SIGNOPE', 'E_DOCKERFILE_SYNTAX'],
    ['COPY heredoc body with a required variable', 'COPY <<EOF /x\n${NEED?}\nEOF', 'E_DOCKERFILE_ARG'],
  ];
  for (const [name, text, code] of failures) {
    test(`refused: ${name} -> ${code}, naming the line`, () => {
      try {
        instantiate(one(text), look, ctx);
        assert.fail('expanded');
      } catch (e) {
        assert.ok(isBerthError(e), String(e));
        assert.equal(e.code, code);
        assert.match(e.message, /Dockerfile Dockerfile:2: /);
      }
    });
  }
});

describe('exposedPorts (convert_expose.go)', () => {
  const cases: [string[], string[]][] = [
    [['80'], ['80/tcp']],
    [['53/UDP'], ['53/udp']],
    [['8000-8002/sctp'], ['8000/sctp', '8001/sctp', '8002/sctp']],
    [['8000-8000'], ['8000/tcp']],
    [['0'], ['0/tcp']],
    [['127.0.0.1:8080:80'], ['80/tcp']],
    [['[::1]:8080:80/udp'], ['80/udp']],
    [['8080:80'], ['80/tcp']],
  ];
  for (const [input, want] of cases) test(`${input.join(' ')} -> ${want.join(' ')}`, () => assert.deepEqual(exposedPorts(input, { line: 4 }), want));

  const bad = ['', 'http', '70000', '90-80', '80/icmp', '/tcp', 'x.y.z.w:1:80', '1-2:80-82'];
  for (const p of bad) test(`refused: ${JSON.stringify(p)}`, () => assert.equal(codeOf(() => exposedPorts([p], { line: 4 })), 'E_DOCKERFILE_SYNTAX'));
});

describe('normalizeWorkdir, isSignal, parseGoDuration', () => {
  const wd: [string, string, string][] = [
    ['/', 'app', '/app'],
    ['/srv', 'app/../lib/', '/srv/lib'],
    ['/srv', '/abs//x/', '/abs/x'],
    ['', 'rel', '/rel'],
    ['/a', '..', '/'],
  ];
  for (const [cur, next, want] of wd) test(`WORKDIR ${next} in ${cur || '(none)'} -> ${want}`, () => assert.equal(normalizeWorkdir(cur, next), want));

  test('signals: names with or without SIG, any case, real-time offsets, positive numbers', () => {
    for (const s of ['SIGTERM', 'term', 'KILL', 'SIGRTMIN+3', 'RTMAX-1', '9', '64']) assert.equal(isSignal(s), true, s);
    for (const s of ['SIGNOPE', '0', '-1', 'SIGRTMIN+16', '', 'SIG']) assert.equal(isSignal(s), false, s);
  });

  const durations: [string, bigint][] = [
    ['0', 0n],
    ['1h2m3s', 3723_000_000_000n],
    ['1.5s', 1_500_000_000n],
    ['.5s', 500_000_000n],
    ['5.s', 5_000_000_000n],
    ['300ms', 300_000_000n],
    ['10us', 10_000n],
    ['10µs', 10_000n],
    ['-2m', -120_000_000_000n],
    ['+1ns', 1n],
  ];
  for (const [s, ns] of durations) test(`duration ${s}`, () => assert.deepEqual(parseGoDuration(s), { ns }));
  for (const s of ['', '1', 's', '1x', '1.2.3s', '.s', '9999999999999999999h', '1 s']) test(`bad duration ${JSON.stringify(s)}`, () => assert.ok('error' in parseGoDuration(s)));

  test('property: whole seconds and milliseconds add up', () => {
    fc.assert(
      fc.property(fc.nat(100000), fc.nat(999), (s, ms) => {
        const d = parseGoDuration(`${s}s${ms}ms`);
        assert.deepEqual(d, { ns: BigInt(s) * 1_000_000_000n + BigInt(ms) * 1_000_000n });
      }),
    );
  });
});

describe('parseRunMount (commands_runmount.go)', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['target=/src', { type: 'bind', target: '/src', readOnly: true, required: false }],
    ['type=bind,source=.,target=/src,rw', { type: 'bind', source: '.', target: '/src', readOnly: false, required: false }],
    ['type=cache,target=/root/.cache,id=go,sharing=locked,mode=0700,uid=1000,gid=1000', { type: 'cache', target: '/root/.cache', cacheId: 'go', sharing: 'locked', mode: 0o700, uid: 1000, gid: 1000, readOnly: false, required: false }],
    ['type=tmpfs,target=/tmp,size=64m', { type: 'tmpfs', target: '/tmp', sizeLimit: 64 * 2 ** 20, readOnly: false, required: false }],
    ['type=secret,id=npmrc,target=/root/.npmrc,required', { type: 'secret', cacheId: 'npmrc', target: '/root/.npmrc', readOnly: true, required: true }],
    ['type=secret,id=tok,env=TOKEN', { type: 'secret', cacheId: 'tok', env: 'TOKEN', readOnly: true, required: false }],
    ['type=ssh', { type: 'ssh', readOnly: true, required: false }],
    ['type=bind,from=builder,source=/out,target=/in,readonly=false', { type: 'bind', from: 'builder', source: '/out', target: '/in', readOnly: false, required: false }],
    ['type=bind,"source=a,b",target=/x', { type: 'bind', source: 'a,b', target: '/x', readOnly: true, required: false }],
  ];
  for (const [spec, want] of cases) test(spec, () => assert.deepEqual(parseRunMount(spec, { line: 3 }), want));

  const bad = [
    'type=volume,target=/x',
    'target=/x,required',
    'type=bind,mode=0755',
    'type=cache,sharing=sometimes',
    'type=secret',
    'type=secret,source=a,id=b',
    'type=secret,from=x,id=a',
    'type=bind,sharing=shared',
    'type=tmpfs,size=lots',
    'type=cache,uid=-1',
    'readonly=maybe',
    'color=blue',
    'novalue',
    'type=bind,"target=/x',
  ];
  for (const spec of bad) {
    test(`refused: ${spec}`, () => {
      try {
        parseRunMount(spec, { file: 'Dockerfile', line: 3 });
        assert.fail('parsed');
      } catch (e) {
        assert.ok(isBerthError(e));
        assert.equal(e.code, 'E_DOCKERFILE_SYNTAX');
        assert.match(e.message, /Dockerfile:3: --mount=/);
      }
    });
  }
});

describe('planRunCommand (dispatchRun)', () => {
  const run = (text: string) => one(text) as RunInstruction;
  test('exec and shell forms', () => {
    assert.deepEqual(planRunCommand(run('RUN ["a", "b"]')), { kind: 'exec', args: ['a', 'b'] });
    assert.deepEqual(planRunCommand(run('RUN a && b')), { kind: 'shell', script: 'a && b' });
  });
  test('a lone heredoc runs its body with the shell, <<- tabs removed', () => {
    assert.deepEqual(planRunCommand(run('RUN <<-EOF\n\techo $HOME\n\tEOF')), { kind: 'shell', script: 'echo $HOME\n' });
  });
  test('a lone heredoc with a shebang runs as a file from /dev/pipes', () => {
    assert.deepEqual(planRunCommand(run('RUN <<script\n#!/usr/bin/env python3\nprint(1)\nscript')), { kind: 'file', path: '/dev/pipes/script', name: 'script', data: '#!/usr/bin/env python3\nprint(1)\n' });
  });
  test('heredocs after other words are handed to the shell with their delimiters', () => {
    assert.deepEqual(planRunCommand(run('RUN python3 <<PY > out\nprint(1)\nPY')), { kind: 'shell', script: 'python3 <<PY > out\nprint(1)\nPY' });
    assert.deepEqual(planRunCommand(run('RUN cat <<A <<B\na\nA\nb\nB')), { kind: 'shell', script: 'cat <<A <<B\na\nA\nb\nB' });
  });
});
