import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BuildArgs,
  automaticPlatformArgs,
  instantiate,
  parseDockerfile,
  type Dockerfile,
  type EnvInstruction,
  type Instruction,
  type StageScope,
} from '../../../src/build/dockerfile/index.js';
import { isBerthError } from '../../../src/errors/index.js';

const amd64 = { os: 'linux', architecture: 'amd64' };
const armv7 = { os: 'linux', architecture: 'arm', variant: 'v7' };

/** Walks a stage the way an executor does: ARG declares, ENV expands then sets. */
function walk(df: Dockerfile, scope: StageScope, instructions: Instruction[]): void {
  for (const ins of instructions) {
    if (ins.kind === 'ARG') scope.declare(ins);
    else if (ins.kind === 'ENV') scope.setEnv(instantiate(ins, scope.lookup, df) as EnvInstruction);
  }
}

/** The value a `RUN echo $NAME` on the last line of stage `i` would print (the expansion env). */
function seenAt(text: string, name: string, opts: { buildArgs?: Record<string, string>; baseEnv?: string[] } = {}, stageIndex = 0): string | undefined {
  const df = parseDockerfile(text);
  const args = new BuildArgs(df, { buildArgs: opts.buildArgs, buildPlatform: amd64 });
  const scopes: StageScope[] = [];
  for (const s of df.stages) {
    const parent = df.stages.slice(0, s.index).reverse().find((p) => p.name !== undefined && p.name === s.from.image);
    const scope = args.stage(parent ? { parent: scopes[parent.index] } : { baseEnv: opts.baseEnv });
    walk(df, scope, s.instructions);
    scopes.push(scope);
  }
  return scopes[stageIndex].lookup(name);
}

describe('BuildArgs: global scope and FROM', () => {
  test('automatic platform args (BuildKit defaultArgs)', () => {
    assert.deepEqual(Object.fromEntries(automaticPlatformArgs(amd64, armv7, 'final')), {
      BUILDPLATFORM: 'linux/amd64',
      BUILDOS: 'linux',
      BUILDOSVERSION: '',
      BUILDARCH: 'amd64',
      BUILDVARIANT: '',
      TARGETPLATFORM: 'linux/arm/v7',
      TARGETOS: 'linux',
      TARGETOSVERSION: '',
      TARGETARCH: 'arm',
      TARGETVARIANT: 'v7',
      TARGETSTAGE: 'final',
    });
  });

  test('global ARGs: defaults expand in order, --build-arg wins, FROM and --platform expand with them', () => {
    const df = parseDockerfile('ARG REG=docker.io\nARG IMG=${REG}/library/alpine\nARG TAG\nFROM --platform=$BUILDPLATFORM ${IMG}:${TAG:-3.20} AS b\nFROM $IMG');
    const a = new BuildArgs(df, { buildPlatform: amd64 });
    assert.deepEqual(a.from(df.stages[0]), { image: 'docker.io/library/alpine:3.20', platform: 'linux/amd64' });
    const b = new BuildArgs(df, { buildPlatform: amd64, buildArgs: { REG: 'ghcr.io', TAG: 'edge' } });
    assert.deepEqual(b.from(df.stages[0]), { image: 'ghcr.io/library/alpine:edge', platform: 'linux/amd64' });
    assert.deepEqual(b.from(df.stages[1]), { image: 'ghcr.io/library/alpine' });
  });

  test('a --build-arg overrides an automatic platform arg', () => {
    const df = parseDockerfile('FROM img-$TARGETARCH');
    assert.equal(new BuildArgs(df, { buildPlatform: amd64, buildArgs: { TARGETARCH: 'riscv64' } }).from(df.stages[0]).image, 'img-riscv64');
  });

  test('a FROM that expands to nothing is E_DOCKERFILE_ARG naming the line', () => {
    const df = parseDockerfile('ARG BASE\n\nFROM $BASE');
    assert.throws(() => new BuildArgs(df).from(df.stages[0]), (e: unknown) => isBerthError(e) && e.code === 'E_DOCKERFILE_ARG' && /Dockerfile:3: base name/.test(e.message));
  });

  test('a required global ARG (${X:?}) fails when the builder is made', () => {
    // The message is quoted: ARG words split at blanks, as in BuildKit.
    const df = parseDockerfile('ARG VERSION\nARG TAG=${VERSION:?"pass --build-arg VERSION"}\nFROM x:$TAG');
    assert.throws(() => new BuildArgs(df), (e: unknown) => isBerthError(e) && e.code === 'E_DOCKERFILE_ARG' && /:2: VERSION: pass --build-arg VERSION/.test(e.message));
    assert.equal(new BuildArgs(df, { buildArgs: { VERSION: '1' } }).from(df.stages[0]).image, 'x:1');
  });
});

describe('StageScope: what an instruction sees', () => {
  const cases: [string, string, string, { buildArgs?: Record<string, string>; baseEnv?: string[] }, string | undefined][] = [
    ['a global ARG is not visible in a stage', 'ARG V=1\nFROM x', 'V', {}, undefined],
    ['redeclared without a value, it takes the global value', 'ARG V=1\nFROM x\nARG V', 'V', {}, '1'],
    ['redeclared, the --build-arg wins over the global default', 'ARG V=1\nFROM x\nARG V', 'V', { buildArgs: { V: '9' } }, '9'],
    ['a stage default wins over the global value', 'ARG V=1\nFROM x\nARG V=2', 'V', {}, '2'],
    ['the --build-arg wins over a stage default', 'FROM x\nARG V=2', 'V', { buildArgs: { V: '9' } }, '9'],
    ['ARG without a value and without --build-arg sets nothing', 'FROM x\nARG V', 'V', {}, undefined],
    ['automatic args need redeclaring', 'FROM x\nARG TARGETARCH', 'TARGETARCH', {}, 'amd64'],
    ['automatic args are not visible undeclared', 'FROM x', 'TARGETARCH', {}, undefined],
    ['several ARGs on a line see each other', 'FROM x\nARG A=1 B=${A}2', 'B', {}, '12'],
    ['an ARG default sees ENV', 'FROM x\nENV E=e\nARG A=$E-a', 'A', {}, 'e-a'],
    ['ENV after ARG overrides it (the documented rule)', 'FROM x\nARG V\nENV V=env', 'V', { buildArgs: { V: 'arg' } }, 'env'],
    ['ENV can default from an ARG', 'FROM x\nARG V\nENV V=${V:-v1.0.0}', 'V', {}, 'v1.0.0'],
    ['ENV can take the ARG value', 'FROM x\nARG V\nENV V=${V:-v1.0.0}', 'V', { buildArgs: { V: 'v2' } }, 'v2'],
    ['an ARG after an inherited ENV wins (BuildKit)', 'FROM x\nARG DEBIAN_FRONTEND=noninteractive', 'DEBIAN_FRONTEND', { baseEnv: ['DEBIAN_FRONTEND=teletype'] }, 'noninteractive'],
    ['an ARG without value keeps the inherited ENV', 'FROM x\nARG DEBIAN_FRONTEND', 'DEBIAN_FRONTEND', { baseEnv: ['DEBIAN_FRONTEND=teletype'] }, 'teletype'],
    ['ENV pairs on one line see the environment before the line', 'FROM x\nENV A=old\nENV A=new B=$A', 'B', {}, 'old'],
    ['base image Env is visible', 'FROM x', 'PATH', { baseEnv: ['PATH=/usr/bin:/bin'] }, '/usr/bin:/bin'],
  ];
  for (const [name, text, v, opts, want] of cases) test(name, () => assert.equal(seenAt(text, v, opts), want));

  test('a stage FROM another stage inherits its ENV and its ARGs', () => {
    const text = 'FROM x AS base\nARG V=from-base\nENV E=e\nFROM base\nFROM x';
    assert.equal(seenAt(text, 'V', {}, 1), 'from-base');
    assert.equal(seenAt(text, 'E', {}, 1), 'e');
    assert.equal(seenAt(text, 'V', {}, 2), undefined, 'an unrelated stage does not');
  });

  test('imageEnv holds ENV only; runEnv adds ARGs and proxy args', () => {
    const df = parseDockerfile('FROM x\nARG TOKEN\nENV APP=/srv\nARG http_proxy');
    const args = new BuildArgs(df, { buildArgs: { TOKEN: 't', HTTPS_PROXY: 'http://p:3128', http_proxy: 'http://declared', no_proxy: 'localhost' } });
    const scope = args.stage({ baseEnv: ['PATH=/bin'] });
    walk(df, scope, df.stages[0].instructions);
    assert.deepEqual(scope.imageEnv(), ['PATH=/bin', 'APP=/srv']);
    assert.deepEqual(scope.runEnv(), [
      'PATH=/bin',
      'TOKEN=t',
      'APP=/srv',
      'http_proxy=http://declared',
      'HTTP_PROXY=http://declared',
      'HTTPS_PROXY=http://p:3128',
      'https_proxy=http://p:3128',
      'NO_PROXY=localhost',
      'no_proxy=localhost',
    ]);
  });

  test('declare returns what it set', () => {
    const df = parseDockerfile('FROM x\nARG A=1 B');
    const scope = new BuildArgs(df).stage();
    const ins = df.stages[0].instructions[0];
    assert.ok(ins.kind === 'ARG');
    assert.deepEqual(scope.declare(ins), [{ key: 'A', value: '1' }, { key: 'B' }]);
  });

  test('a stage ARG default that fails ${X:?} names its line', () => {
    const df = parseDockerfile('FROM x\n\nARG A=${MISSING:?needed}');
    const ins = df.stages[0].instructions[0];
    assert.ok(ins.kind === 'ARG');
    assert.throws(() => new BuildArgs(df).stage().declare(ins), (e: unknown) => isBerthError(e) && e.code === 'E_DOCKERFILE_ARG' && /Dockerfile:3: MISSING: needed/.test(e.message));
  });
});

describe('unused --build-args', () => {
  test('args no evaluated ARG names are reported, sorted; proxy and platform args are exempt', () => {
    const df = parseDockerfile('ARG G\nFROM x\nARG S\nFROM y\nARG NOT_WALKED');
    const args = new BuildArgs(df, { buildArgs: { G: '1', S: '2', NOT_WALKED: '3', ZED: '4', ALPHA: '5', HTTP_PROXY: 'p', TARGETOS: 'linux' } });
    const scope = args.stage();
    walk(df, scope, df.stages[0].instructions);
    assert.deepEqual(args.unused(), ['ALPHA', 'NOT_WALKED', 'ZED']);
  });

  test('property: with no ARG at all, every non-exempt --build-arg is unused', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/), fc.string({ maxLength: 5 })), (buildArgs) => {
        const args = new BuildArgs(parseDockerfile('FROM x'), { buildArgs });
        assert.deepEqual(args.unused(), Object.keys(buildArgs).filter((k) => !['http_proxy', 'https_proxy', 'ftp_proxy', 'no_proxy', 'all_proxy'].includes(k)).sort());
      }),
    );
  });
});
