import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BuildArgs, parseDockerfile, planStages } from '../../../src/build/dockerfile/index.js';
import { isBerthError } from '../../../src/errors/index.js';

function order(text: string, target?: string): number[] {
  return planStages(parseDockerfile(text), target).stages.map((s) => s.stage.index);
}

describe('planStages (success)', () => {
  const multi = [
    'FROM golang:1.22 AS build', //   0
    'RUN go build -o /app',
    'FROM node:20 AS web', //         1
    'RUN npm ci',
    'FROM alpine AS unused', //       2
    'FROM debian AS final', //        3
    'COPY --from=build /app /app',
    'COPY --from=web /dist /www',
  ].join('\n');

  const cases: [string, string, string | undefined, number[]][] = [
    ['the last stage is the default target; unreached stages are skipped', multi, undefined, [0, 1, 3]],
    ['--target picks a stage (case-insensitive)', multi, 'WEB', [1]],
    ['FROM a stage name', 'FROM alpine AS base\nFROM base\nFROM base AS other', undefined, [0, 2]],
    ['COPY --from by index', 'FROM a\nFROM b\nCOPY --from=0 /x /x', undefined, [0, 1]],
    ['a forward --from by name is allowed (BuildKit)', 'FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two', 'one', [1, 0]],
    ['RUN --mount=from= is a dependency', 'FROM a AS deps\nFROM b\nRUN --mount=type=bind,from=deps,target=/d ls', undefined, [0, 1]],
    ['a repeated name refers to the latest stage before FROM', 'FROM a AS x\nFROM b AS x\nFROM x', undefined, [1, 2]],
  ];
  for (const [name, text, target, want] of cases) test(name, () => assert.deepEqual(order(text, target), want));

  test('bases and uses are classified: stage, image, scratch', () => {
    const plan = planStages(parseDockerfile('FROM scratch AS s\nFROM busybox:1.36 AS b\nCOPY --from=s / /\nCOPY --from=nginx:1 /etc/nginx /n\nCOPY --from=scratch / /\nFROM b\nCOPY --from=1 /bin /bin'));
    assert.deepEqual(
      plan.stages.map((p) => [p.stage.index, p.base, p.uses.map((u) => u.source)]),
      [
        [0, { kind: 'scratch' }, []],
        [1, { kind: 'image', ref: 'busybox:1.36' }, [{ kind: 'stage', index: 0 }, { kind: 'image', ref: 'nginx:1' }, { kind: 'scratch' }]],
        [2, { kind: 'stage', index: 1 }, [{ kind: 'stage', index: 1 }]],
      ],
    );
    assert.deepEqual(plan.images, ['busybox:1.36', 'nginx:1']);
    assert.equal(plan.target, 2);
  });

  test('FROM <index> is an image reference, as in Docker and BuildKit', () => {
    const plan = planStages(parseDockerfile('FROM a\nFROM 0'));
    assert.deepEqual(plan.stages.map((p) => p.base), [{ kind: 'image', ref: '0' }]);
  });

  test('FROM naming a later stage is an image reference (names resolve backwards only)', () => {
    const plan = planStages(parseDockerfile('FROM later AS first\nFROM alpine AS later'), 'first');
    assert.deepEqual(plan.stages[0].base, { kind: 'image', ref: 'later' });
  });

  test('FROM expands with the global ARGs and --build-args', () => {
    const df = parseDockerfile('ARG FLAVOR=slim\nFROM debian:${FLAVOR} AS base\nFROM base');
    assert.deepEqual(planStages(df).images, ['debian:slim']);
    assert.deepEqual(planStages(df, undefined, { args: new BuildArgs(df, { buildArgs: { FLAVOR: 'full' } }) }).stages[0].baseName, 'debian:full');
  });

  test('property: every stage comes after the stages it depends on', () => {
    // A chain of stages, each copying from an earlier random one.
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), (picks) => {
        const lines = ['FROM scratch AS s0'];
        picks.forEach((p, i) => lines.push(`FROM scratch AS s${i + 1}`, `COPY --from=s${p % (i + 1)} / /`));
        const plan = planStages(parseDockerfile(lines.join('\n')));
        const pos = new Map(plan.stages.map((s, i) => [s.stage.index, i]));
        for (const s of plan.stages) for (const u of s.uses) if (u.source.kind === 'stage') assert.ok(pos.get(u.source.index)! < pos.get(s.stage.index)!);
        assert.equal(plan.stages[plan.stages.length - 1].stage.index, picks.length);
      }),
    );
  });
});

describe('planStages (refused)', () => {
  test('unknown --target is E_BUILD_TARGET listing the stage names', () => {
    try {
      planStages(parseDockerfile('FROM a AS build\nFROM b AS test\nFROM c'), 'prod');
      assert.fail('planned');
    } catch (e) {
      assert.ok(isBerthError(e));
      assert.equal(e.code, 'E_BUILD_TARGET');
      assert.match(e.message, /"prod"/);
      assert.match(e.hint ?? '', /build, test/);
      assert.deepEqual(e.details?.stages, ['build', 'test']);
    }
  });

  const failures: [string, string, number, RegExp][] = [
    ['--from its own index', 'FROM a\nFROM b\nCOPY --from=1 /x /x', 3, /the stage itself/],
    ['--from a later index', 'FROM a\nCOPY --from=1 /x /x\nFROM b', 2, /a later stage/],
    ['--from an index out of range', 'FROM a\nCOPY --from=5 /x /x', 2, /invalid stage index 5/],
    ['--from itself by name', 'FROM a AS me\nCOPY --from=me /x /x', 2, /circular dependency detected on stage: me/],
    ['a cycle through names', 'FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\nCOPY --from=one /y /y', 4, /circular dependency/],
    ['a variable in --from', 'ARG S=build\nFROM a AS build\nFROM b\nCOPY --from=$S /x /x', 4, /variable expansion is not supported for --from/],
    ['upper-case FROM of a stage name', 'FROM a AS build\nFROM Build', 2, /stage names are lower case; write FROM build/],
  ];
  for (const [name, text, line, re] of failures) {
    test(`${name} -> E_DOCKERFILE_STAGE at line ${line}`, () => {
      try {
        planStages(parseDockerfile(text));
        assert.fail('planned');
      } catch (e) {
        assert.ok(isBerthError(e), String(e));
        assert.equal(e.code, 'E_DOCKERFILE_STAGE');
        assert.match(e.message, new RegExp(`^parse Dockerfile Dockerfile:${line}: `));
        assert.match(e.message, re);
      }
    });
  }
});
