import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { PAYLOAD_SETUP_FAILED, parseRuntimeLog, payloadArgv, runtimeArgv, startFailure } from '../../../src/runtime/run/index.js';

describe('payloadArgv', () => {
  test('passes every variable part as a positional parameter, never inside the script', () => {
    const argv = payloadArgv({
      containerDir: '/st,o:re/berth/containers/ab',
      lower: '../../rootfs/x/rootfs',
      target: 'rootfs',
      upper: 'upper',
      work: 'work',
      method: 'overlay',
      runtime: ['/usr/sbin/runc', '--root', '/st,o:re/berth/runc', 'run', '--bundle', '.', 'ab'],
    });
    assert.equal(argv[0], '/bin/sh');
    assert.equal(argv[1], '-c');
    assert.ok(!argv[2].includes('/st,o:re'), 'the store path must not appear in the script text');
    assert.deepEqual(argv.slice(3), ['berth-run', '/st,o:re/berth/containers/ab', '../../rootfs/x/rootfs', 'rootfs', 'upper', 'work', '', '/usr/sbin/runc', '--root', '/st,o:re/berth/runc', 'run', '--bundle', '.', 'ab']);
    assert.match(argv[2], /mount -t overlay/);
  });

  test('copy mode copies the lower tree into the target and then runs the runtime with its arguments intact', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-payload-'));
    try {
      mkdirSync(join(dir, 'lower', 'etc'), { recursive: true });
      writeFileSync(join(dir, 'lower', 'etc', 'hosts'), 'x');
      mkdirSync(join(dir, 'c', 'rootfs'), { recursive: true });
      const argv = payloadArgv({
        containerDir: join(dir, 'c'),
        lower: '../lower',
        target: 'rootfs',
        upper: 'upper',
        work: 'work',
        method: 'copy',
        runtime: ['/bin/sh', '-c', 'printf "%s|" "$@" > args', 'runtime', 'a b', '', 'c'],
      });
      const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(readFileSync(join(dir, 'c', 'rootfs', 'etc', 'hosts'), 'utf8'), 'x');
      assert.equal(readFileSync(join(dir, 'c', 'args'), 'utf8'), 'a b||c|');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a failing setup step exits with the setup status and never runs the runtime', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-payload-'));
    try {
      mkdirSync(join(dir, 'c'));
      const argv = payloadArgv({
        containerDir: join(dir, 'c'),
        lower: '../missing',
        target: 'rootfs',
        upper: 'upper',
        work: 'work',
        method: 'copy',
        runtime: ['/bin/sh', '-c', 'touch ran'],
      });
      const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
      assert.equal(r.status, PAYLOAD_SETUP_FAILED);
      assert.equal(existsSync(join(dir, 'c', 'ran')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('runtimeArgv: global options before the run command, JSON log for start errors', () => {
  assert.deepEqual(runtimeArgv({ runtimePath: '/usr/sbin/runc', stateRoot: '/s/runc', logFile: '/s/c/runtime.log', containerId: 'abc', bundle: '.' }), [
    '/usr/sbin/runc', '--root', '/s/runc', '--log', '/s/c/runtime.log', '--log-format', 'json', 'run', '--bundle', '.', 'abc',
  ]);
});

describe('parseRuntimeLog and startFailure', () => {
  const ok: { name: string; log: string; want: ReturnType<typeof startFailure> }[] = [
    {
      name: 'runc: command not found (Docker exits 127)',
      log: '{"level":"warning","msg":"unable to get oom kill count","time":"t"}\n{"level":"error","msg":"runc run failed: unable to start container process: exec: \\"nosuch\\": executable file not found in $PATH","time":"t"}\n',
      want: { kind: 'not-found', message: 'unable to start container process: exec: "nosuch": executable file not found in $PATH' },
    },
    {
      name: 'runc: not executable (Docker exits 126)',
      log: '{"level":"error","msg":"runc run failed: unable to start container process: exec: \\"/etc/passwd\\": permission denied","time":"t"}',
      want: { kind: 'permission', message: 'unable to start container process: exec: "/etc/passwd": permission denied' },
    },
    {
      name: 'runc: another start error',
      log: '{"level":"error","msg":"runc run failed: unable to start container process: error during container init: error mounting \\"sysfs\\": operation not permitted"}',
      want: { kind: 'other', message: 'unable to start container process: error during container init: error mounting "sysfs": operation not permitted' },
    },
    { name: 'only warnings: the process ran', log: '{"level":"warning","msg":"unable to get oom kill count"}\n', want: undefined },
    { name: 'empty log', log: '', want: undefined },
    { name: 'a torn last line is skipped', log: '{"level":"info","msg":"x"}\n{"level":"err', want: undefined },
  ];
  for (const c of ok) {
    test(c.name, () => assert.deepEqual(startFailure(parseRuntimeLog(c.log)), c.want));
  }

  test('property: parseRuntimeLog never throws and keeps only level+msg records', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.record({ level: fc.string(), msg: fc.string() }).map((o) => JSON.stringify(o)))), (lines) => {
        const out = parseRuntimeLog(lines.join('\n'));
        assert.ok(out.every((e) => typeof e.level === 'string' && typeof e.msg === 'string'));
      }),
    );
  });
});
