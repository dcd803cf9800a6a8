import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBerthError } from '../../../src/errors/index.js';
import { DEFAULT_PATH, parseEnvFile, resolveEnv, type EnvOptions } from '../../../src/runtime/spec/index.js';
import type { ContainerConfig } from '../../../src/oci/index.js';
import { codeOf, errorOf } from './fixtures.js';

const PATH = `PATH=${DEFAULT_PATH}`;
const base: EnvOptions = { hostname: 'c0ffee', home: '/home/foo' };

describe('resolveEnv', () => {
  const cases: { name: string; config?: ContainerConfig; opts?: Partial<EnvOptions>; env: string[] }[] = [
    { name: 'defaults: PATH, HOSTNAME, HOME from the identity', env: [PATH, 'HOSTNAME=c0ffee', 'HOME=/home/foo'] },
    { name: 'TERM=xterm with -t', opts: { tty: true }, env: [PATH, 'HOSTNAME=c0ffee', 'TERM=xterm', 'HOME=/home/foo'] },
    { name: 'image PATH replaces the default in place', config: { Env: ['PATH=/opt/bin', 'A=1'] }, env: ['PATH=/opt/bin', 'HOSTNAME=c0ffee', 'A=1', 'HOME=/home/foo'] },
    { name: 'image HOME is kept', config: { Env: ['HOME=/data'] }, env: [PATH, 'HOSTNAME=c0ffee', 'HOME=/data'] },
    { name: 'an empty HOME gets the identity home (runc prepareEnv)', config: { Env: ['HOME='] }, env: [PATH, 'HOSTNAME=c0ffee', 'HOME=/home/foo'] },
    { name: 'image TERM wins over the -t default', config: { Env: ['TERM=vt100'] }, opts: { tty: true }, env: [PATH, 'HOSTNAME=c0ffee', 'TERM=vt100', 'HOME=/home/foo'] },
    { name: '-e overrides the image value', config: { Env: ['A=1', 'B=2'] }, opts: { env: ['A=9'] }, env: [PATH, 'HOSTNAME=c0ffee', 'A=9', 'B=2', 'HOME=/home/foo'] },
    { name: '-e HOME wins over the identity', opts: { env: ['HOME=/x'] }, env: [PATH, 'HOSTNAME=c0ffee', 'HOME=/x'] },
    { name: '-e HOSTNAME overrides the default', opts: { env: ['HOSTNAME=web'] }, env: [PATH, 'HOSTNAME=web', 'HOME=/home/foo'] },
    { name: 'values keep = and spaces', opts: { env: ['A=b=c d'] }, env: [PATH, 'HOSTNAME=c0ffee', 'A=b=c d', 'HOME=/home/foo'] },
    { name: 'an empty value is a value', opts: { env: ['A='] }, env: [PATH, 'HOSTNAME=c0ffee', 'A=', 'HOME=/home/foo'] },
    { name: '-e NAME takes the caller value', opts: { env: ['TOKEN'], hostEnv: { TOKEN: 's3' } }, env: [PATH, 'HOSTNAME=c0ffee', 'TOKEN=s3', 'HOME=/home/foo'] },
    { name: '-e NAME unset in the caller removes the image value (Docker)', config: { Env: ['TOKEN=img'] }, opts: { env: ['TOKEN'], hostEnv: {} }, env: [PATH, 'HOSTNAME=c0ffee', 'HOME=/home/foo'] },
    { name: 'image Env NAME without = removes a default', config: { Env: ['PATH'] }, env: ['HOSTNAME=c0ffee', 'HOME=/home/foo'] },
    {
      name: '--env-file entries then -e, later wins',
      opts: { env: [{ value: 'A=file', source: '--env-file a.env:1' }, { value: 'B=file', source: '--env-file a.env:2' }, 'A=flag'] },
      env: [PATH, 'HOSTNAME=c0ffee', 'A=flag', 'B=file', 'HOME=/home/foo'],
    },
    { name: 'no identity home: no HOME added', opts: { home: undefined }, env: [PATH, 'HOSTNAME=c0ffee'] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = resolveEnv(c.config, { ...base, ...c.opts });
      assert.deepEqual(r.env, c.env);
      assert.equal(r.sources.length, r.env.length);
    });
  }

  test('sources name each input', () => {
    const r = resolveEnv(
      { Env: ['A=1'] },
      { ...base, tty: true, env: [{ value: 'B=2', source: '--env-file x.env:3' }, 'C', 'D=4'], hostEnv: { C: 'c' }, homeSource: '/etc/passwd:4 foo' },
    );
    assert.deepEqual(r.sources, [
      'Docker default PATH (moby oci.DefaultPathEnv)',
      'the container hostname',
      '-t (Docker sets TERM=xterm with a terminal)',
      'image config Env A=1',
      '--env-file x.env:3',
      "-e C (value from the caller's environment)",
      '-e D=4',
      '/etc/passwd:4 foo',
    ]);
  });

  const failures: { name: string; config?: ContainerConfig; opts?: Partial<EnvOptions>; code: string }[] = [
    { name: '-e with no name', opts: { env: ['=x'] }, code: 'E_SPEC_ENV' },
    { name: 'empty -e', opts: { env: [''] }, code: 'E_SPEC_ENV' },
    { name: 'image Env with no name', config: { Env: ['=x'] }, code: 'E_SPEC_ENV' },
  ];
  for (const c of failures) {
    test(`fails: ${c.name}`, () => assert.equal(codeOf(() => resolveEnv(c.config, { ...base, ...c.opts })), c.code));
  }
  test("Docker's wording for a nameless -e", () => {
    assert.match(errorOf(() => resolveEnv(undefined, { ...base, env: ['=x'] })).message, /invalid environment variable: =x/);
  });
});

describe('parseEnvFile', () => {
  test('docker/cli rules: left trim, comments, verbatim values, pass-through names, CRLF', () => {
    const text = 'A=1\n# comment\n\n  B=2 \nC\r\nD= "x" \n\t#indented comment\nE=a=b\n';
    assert.deepEqual(parseEnvFile(text, 'app.env'), [
      { value: 'A=1', source: '--env-file app.env:1' },
      { value: 'B=2 ', source: '--env-file app.env:4' },
      { value: 'C', source: '--env-file app.env:5' },
      { value: 'D= "x" ', source: '--env-file app.env:6' },
      { value: 'E=a=b', source: '--env-file app.env:8' },
    ]);
  });
  test('a UTF-8 BOM is dropped (string and bytes)', () => {
    assert.deepEqual(parseEnvFile('\uFEFFA=1', 'f'), [{ value: 'A=1', source: '--env-file f:1' }]);
    assert.deepEqual(parseEnvFile(new Uint8Array([0xef, 0xbb, 0xbf, 0x41, 0x3d, 0x31]), 'f'), [{ value: 'A=1', source: '--env-file f:1' }]);
  });
  test('a line starting with U+FEFF after the first is not trimmed (Go unicode.IsSpace)', () => {
    assert.deepEqual(parseEnvFile('A=1\n\uFEFFB=2', 'f').map((e) => e.value), ['A=1', '\uFEFFB=2']);
  });

  const failures: { name: string; text: string | Uint8Array; code: string; message: RegExp }[] = [
    { name: 'space in a name', text: 'MY VAR=1', code: 'E_SPEC_ENV', message: /variable 'MY VAR' contains whitespaces/ },
    { name: 'tab in a name', text: 'A\tB=1', code: 'E_SPEC_ENV', message: /contains whitespaces/ },
    { name: 'no name', text: 'A=1\n=2', code: 'E_SPEC_ENV', message: /no variable name on line '=2'/ },
    { name: 'invalid UTF-8', text: new Uint8Array([0x41, 0x3d, 0x31, 0x0a, 0x42, 0x3d, 0xff]), code: 'E_SPEC_ENV', message: /invalid utf8 bytes at line 2/ },
  ];
  for (const c of failures) {
    test(`fails: ${c.name}`, () => {
      assert.equal(codeOf(() => parseEnvFile(c.text, 'f.env')), c.code);
      assert.match(errorOf(() => parseEnvFile(c.text, 'f.env')).message, c.message);
    });
  }

  test('property: NAME=value lines come back verbatim and in order', () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/);
    const value = fc.string({ maxLength: 20 }).filter((s) => !/[\n\r]/.test(s));
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 10 }), (pairs) => {
        const text = pairs.map(([n, v]) => `${n}=${v}`).join('\n');
        const got = parseEnvFile(text, 'p.env');
        assert.deepEqual(got.map((e) => e.value), pairs.map(([n, v]) => `${n}=${v}`));
        assert.deepEqual(got.map((e) => e.source), pairs.map((_, i) => `--env-file p.env:${i + 1}`));
      }),
    );
  });
  test('property: any text either parses or fails with E_SPEC_ENV', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        try {
          for (const e of parseEnvFile(text, 'p.env')) assert.ok(e.value.length > 0 && !e.value.startsWith('='));
        } catch (err) {
          assert.ok(isBerthError(err) && err.code === 'E_SPEC_ENV', String(err));
        }
      }),
    );
  });
});
