import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveArgs, resolveCwd, type ArgsFlags } from '../../../src/runtime/spec/index.js';
import type { ContainerConfig } from '../../../src/oci/index.js';
import { codeOf, errorOf } from './fixtures.js';

const both: ContainerConfig = { Entrypoint: ['/entry.sh'], Cmd: ['run'] };
const cmdOnly: ContainerConfig = { Cmd: ['sh'] };
const entryOnly: ContainerConfig = { Entrypoint: ['/entry.sh'] };
const nulls: ContainerConfig = { Entrypoint: null, Cmd: null };

describe('resolveArgs: Docker entrypoint/cmd rules', () => {
  const cases: { name: string; config: ContainerConfig | undefined; flags: ArgsFlags; args: string[] }[] = [
    { name: 'image Entrypoint + Cmd', config: both, flags: {}, args: ['/entry.sh', 'run'] },
    { name: 'command words replace the image Cmd, Entrypoint stays', config: both, flags: { cmd: ['x', 'y'] }, args: ['/entry.sh', 'x', 'y'] },
    { name: '--entrypoint replaces Entrypoint and drops the image Cmd', config: both, flags: { entrypoint: 'sh' }, args: ['sh'] },
    { name: '--entrypoint with command words', config: both, flags: { entrypoint: 'sh', cmd: ['-c', 'id'] }, args: ['sh', '-c', 'id'] },
    { name: "--entrypoint '' with command words runs the words", config: both, flags: { entrypoint: '', cmd: ['ls'] }, args: ['ls'] },
    { name: '--entrypoint is one word, as the Docker CLI passes it', config: cmdOnly, flags: { entrypoint: '/bin/a b' }, args: ['/bin/a b'] },
    { name: 'library: several entrypoint words', config: cmdOnly, flags: { entrypoint: ['sh', '-c'], cmd: ['id'] }, args: ['sh', '-c', 'id'] },
    { name: 'image Cmd only', config: cmdOnly, flags: {}, args: ['sh'] },
    { name: 'command words replace an image Cmd', config: cmdOnly, flags: { cmd: ['id', '-u'] }, args: ['id', '-u'] },
    { name: 'image Entrypoint only', config: entryOnly, flags: {}, args: ['/entry.sh'] },
    { name: 'image Entrypoint only + command words', config: entryOnly, flags: { cmd: ['--help'] }, args: ['/entry.sh', '--help'] },
    { name: 'no image config: command words', config: undefined, flags: { cmd: ['true'] }, args: ['true'] },
    { name: 'JSON nulls are empty', config: nulls, flags: { cmd: ['true'] }, args: ['true'] },
    { name: 'an empty-string command word is kept', config: cmdOnly, flags: { cmd: ['echo', ''] }, args: ['echo', ''] },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(resolveArgs(c.config, c.flags).args, c.args));
  }

  const failures: { name: string; config: ContainerConfig | undefined; flags: ArgsFlags; code: string }[] = [
    { name: "--entrypoint '' alone also drops the image Cmd", config: both, flags: { entrypoint: '' }, code: 'E_SPEC_NO_COMMAND' },
    { name: 'library: an empty entrypoint array resets too', config: cmdOnly, flags: { entrypoint: [] }, code: 'E_SPEC_NO_COMMAND' },
    { name: 'image without Entrypoint or Cmd and no words', config: {}, flags: {}, code: 'E_SPEC_NO_COMMAND' },
    { name: 'no image config and no words', config: undefined, flags: {}, code: 'E_SPEC_NO_COMMAND' },
    { name: 'null Entrypoint and Cmd', config: nulls, flags: {}, code: 'E_SPEC_NO_COMMAND' },
  ];
  for (const c of failures) {
    test(`fails: ${c.name}`, () => assert.equal(codeOf(() => resolveArgs(c.config, c.flags)), c.code));
  }

  test("the error uses Docker's wording", () => {
    assert.match(errorOf(() => resolveArgs({}, {})).message, /no command specified/);
  });

  test('because names the flags and what was dropped', () => {
    const r = resolveArgs(both, { entrypoint: 'sh' });
    assert.deepEqual(r.because, [
      '--entrypoint ["sh"] replaces the image Entrypoint ["/entry.sh"]',
      'the image Cmd ["run"] is dropped because --entrypoint was given (Docker)',
    ]);
    assert.deepEqual(resolveArgs(both, {}).because, ['Entrypoint ["/entry.sh"] from the image config', 'Cmd ["run"] from the image config']);
  });
});

describe('resolveCwd', () => {
  const cases: { name: string; config: ContainerConfig | undefined; workdir?: string; cwd: string; because: RegExp }[] = [
    { name: '-w wins over WorkingDir', config: { WorkingDir: '/app' }, workdir: '/srv', cwd: '/srv', because: /^-w \/srv$/ },
    { name: 'image WorkingDir', config: { WorkingDir: '/app' }, cwd: '/app', because: /image config WorkingDir/ },
    { name: 'neither: /', config: {}, cwd: '/', because: /default \// },
    { name: 'empty WorkingDir: /', config: { WorkingDir: '' }, cwd: '/', because: /default/ },
    { name: "empty -w falls back to the image's", config: { WorkingDir: '/app' }, workdir: '', cwd: '/app', because: /WorkingDir/ },
    { name: 'cleaned like filepath.Clean', config: {}, workdir: '/a//b/../c/', cwd: '/a/c', because: /-w/ },
    { name: 'root stays /', config: { WorkingDir: '///' }, cwd: '/', because: /WorkingDir/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = resolveCwd(c.config, c.workdir);
      assert.equal(r.cwd, c.cwd);
      assert.match(r.because, c.because);
    });
  }
  const failures: { name: string; config: ContainerConfig | undefined; workdir?: string; code: string }[] = [
    { name: 'relative -w', config: {}, workdir: 'app', code: 'E_SPEC_WORKDIR' },
    { name: 'relative image WorkingDir', config: { WorkingDir: 'app' }, code: 'E_SPEC_WORKDIR' },
    { name: 'dot -w', config: { WorkingDir: '/app' }, workdir: '.', code: 'E_SPEC_WORKDIR' },
  ];
  for (const c of failures) {
    test(`fails: ${c.name}`, () => assert.equal(codeOf(() => resolveCwd(c.config, c.workdir)), c.code));
  }
  test("Docker's wording for a relative path", () => {
    assert.match(errorOf(() => resolveCwd({}, 'app')).message, /the working directory 'app' is invalid, it needs to be an absolute path/);
  });
});
