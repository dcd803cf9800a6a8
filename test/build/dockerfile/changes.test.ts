import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChange, applyChanges, splitWords, type RunConfig } from '../../../src/build/dockerfile/changes.js';
import { isBerthError } from '../../../src/errors/index.js';

describe('applyChange (import --change)', () => {
  const base: RunConfig = { Env: ['PATH=/usr/bin:/bin'], WorkingDir: '/srv' };
  const cases: [string, string[], RunConfig][] = [
    ['USER', ['USER app:staff'], { ...base, User: 'app:staff' }],
    ['WORKDIR absolute', ['WORKDIR /home/app/'], { ...base, WorkingDir: '/home/app' }],
    ['WORKDIR relative to the previous one', ['WORKDIR web/../app'], { ...base, WorkingDir: '/srv/app' }],
    ['ENV replaces in place and expands with the config Env', ['ENV PATH=/opt/bin:$PATH A="x y"'], { Env: ['PATH=/opt/bin:/usr/bin:/bin', 'A=x y'], WorkingDir: '/srv' }],
    ['ENV legacy form', ['ENV GREETING hello world'], { Env: ['PATH=/usr/bin:/bin', 'GREETING=hello world'], WorkingDir: '/srv' }],
    ['LABEL', ['LABEL a=1 "b c"=2'], { ...base, Labels: { a: '1', 'b c': '2' } }],
    ['CMD exec form', ['CMD ["/bin/sh"]'], { ...base, Cmd: ['/bin/sh'] }],
    ['CMD shell form', ['CMD echo $HOME'], { ...base, Cmd: ['/bin/sh', '-c', 'echo $HOME'] }],
    ['ENTRYPOINT', ['ENTRYPOINT ["tini", "--"]'], { ...base, Entrypoint: ['tini', '--'] }],
    ['EXPOSE with a range', ['EXPOSE 80 53/udp 9000-9001'], { ...base, ExposedPorts: { '80/tcp': {}, '53/udp': {}, '9000/tcp': {}, '9001/tcp': {} } }],
    ['VOLUME JSON', ['VOLUME ["/data", "/logs"]'], { ...base, Volumes: { '/data': {}, '/logs': {} } }],
    ['STOPSIGNAL', ['STOPSIGNAL SIGINT'], { ...base, StopSignal: 'SIGINT' }],
    ['several changes in order', ['USER a', 'USER b', 'WORKDIR x'], { ...base, User: 'b', WorkingDir: '/srv/x' }],
  ];
  for (const [name, changes, want] of cases) {
    test(name, () => assert.deepEqual(applyChanges(base, changes), want));
  }

  test('the input config is not modified', () => {
    const before = structuredClone(base);
    applyChange(base, 'ENV X=1');
    assert.deepEqual(base, before);
  });

  const failures: [string, RegExp][] = [
    ['RUN rm -rf /', /RUN cannot be used with --change/],
    ['FROM scratch', /FROM cannot be used with --change/],
    ['ONBUILD RUN x', /ONBUILD cannot be used with --change/],
    ['NOPE x', /NOPE cannot be used with --change/],
    ['USER', /USER requires exactly one argument/],
    ['ENV ONLYKEY', /ENV must have two arguments/],
    ['EXPOSE http', /invalid containerPort/],
    ['VOLUME data', /must be absolute/],
    ['STOPSIGNAL NOPE', /invalid signal/],
    ['WORKDIR ${X:?unset}', /X: unset/],
    ['CMD ["a", 1]', /strings only/],
  ];
  for (const [change, re] of failures) {
    test(`refused: ${change}`, () => {
      try {
        applyChange({}, change);
        assert.fail('applied');
      } catch (e) {
        assert.ok(isBerthError(e), String(e));
        assert.equal(e.code, 'E_CHANGE_INVALID');
        assert.ok(e.message.startsWith(`apply --change "${change}": `), e.message);
        assert.match(e.message, re);
        assert.match(e.hint ?? '', /--change accepts one Dockerfile instruction/);
      }
    });
  }

  test('splitWords', () => {
    assert.deepEqual(splitWords(`a=b "c d"=e f='g h' i\\ j`), ['a=b', 'c d=e', 'f=g h', 'i j']);
    assert.throws(() => splitWords('"open'), /unterminated/);
  });
});
