/**
 * End to end: `berth build` through the compiled CLI on runc, as root and as the unprivileged user
 * berthtest, over the busybox fixture and the Debian minbase fixture (imported as
 * debian:bookworm). Checked the way a user would: what RUN steps print (`id`), what the committed
 * image holds after `save`, `load` and `unpack` (owners, modes, setuid bits, `getcap`), what
 * `inspect` shows of the config, what `run` does with it, the cache, and the errors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, berth, getcap, isRoot, makeBusyboxRootfs, removeTree, tempDir, testUserIds, type RunResult } from './helpers.js';

const hasRunc = spawnSync('/bin/sh', ['-c', 'command -v runc']).status === 0;
const user = testUserIds();
const skip = !isRoot ? 'needs root (fixtures with owners; the rootless cases switch to the test user)' : !hasRunc ? 'runc is not installed' : false;

const ISSUE_DOCKERFILE = `FROM debian:bookworm
RUN groupadd -g 20000 bar
RUN groupadd -g 10000 foo
RUN useradd -c "Foo user" -u 10000 -g 10000 -G bar -m foo
RUN id foo
USER foo
RUN id
`;
const FOO_ID = 'uid=10000(foo) gid=10000(foo) groups=10000(foo),20000(bar)';

const CAPS_DOCKERFILE = `FROM debian:bookworm AS builder
RUN cp /usr/bin/ping /usr/local/bin/xping && chown 10000:20000 /usr/local/bin/xping \\
 && setcap cap_net_raw+ep /usr/local/bin/xping \\
 && cp /bin/true /usr/local/bin/sutrue && chmod 4755 /usr/local/bin/sutrue
RUN getcap /usr/local/bin/xping

FROM debian:bookworm
COPY --from=builder /usr/local/bin/xping /usr/local/bin/sutrue /opt/
`;

function ok(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what} exited ${String(r.code)}:\n${r.stderr}`);
  return r;
}

describe('berth build', { skip }, () => {
  const work = tempDir('berth-build-e2e-');
  const rootStore = join(work.dir, 'store');
  const userHome = user ? tempDir('berth-build-user-', user) : undefined;
  const userStore = userHome ? join(userHome.dir, 'store') : '';
  let minbase = false;

  /** A context directory with these files (owned by the test user when rootless). */
  function context(name: string, files: Record<string, string>, owner?: { uid: number; gid: number }): string {
    const base = owner ? userHome!.dir : work.dir;
    const dir = join(base, name);
    mkdirSync(dir, { recursive: true });
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), text);
    }
    if (owner) execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, dir]);
    return dir;
  }

  before(async () => {
    ok(await berth(['import', makeBusyboxRootfs(join(work.dir, 'bb')), 'bb:1'], { root: rootStore }), 'import busybox');
    try {
      const rootfs = execFileSync(process.execPath, [join(REPO, 'scripts/fixtures.mjs'), 'minbase'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20 * 60_000 }).trim();
      ok(await berth(['import', rootfs, 'debian:bookworm'], { root: rootStore }), 'import minbase');
      minbase = true;
    } catch {
      minbase = false;
    }
    if (userHome && user) {
      const archive = join(userHome.dir, 'images.tar');
      ok(await berth(['save', '-o', archive, 'bb:1', ...(minbase ? ['debian:bookworm'] : [])], { root: rootStore }), 'save');
      chownSync(archive, user.uid, user.gid);
      ok(await berth(['load', '-i', archive], { root: userStore, asTestUser: true }), 'load as the test user');
    }
  });
  after(() => {
    removeTree(work.dir);
    if (userHome) removeTree(userHome.dir);
  });

  for (const rootless of [false, true]) {
    const name = rootless ? 'rootless' : 'rootful';
    const opts = () => (rootless ? { root: userStore, asTestUser: true } : { root: rootStore });
    describe(name, () => {
      test("USER foo keeps foo's supplementary groups: both id lines agree (the Dockerfile that started berth)", async (t) => {
        if (!minbase) return t.skip('the Debian minbase fixture is not available');
        if (rootless && !user) return t.skip('no test user');
        const ctx = context(`issue-${name}`, { Dockerfile: ISSUE_DOCKERFILE }, rootless ? user : undefined);
        const r = ok(await berth(['build', '--progress', 'plain', '-t', 'issue:1', ctx], opts()), 'build');
        const idLines = r.stderr.split('\n').filter((l) => l.startsWith('uid='));
        assert.deepEqual(idLines, [FOO_ID, FOO_ID], r.stderr);
        const run = ok(await berth(['run', '--rm', 'issue:1', 'id'], opts()), 'run');
        assert.equal(run.stdout.trim(), FOO_ID);
      });

      test('a file capability set by RUN survives the commit, COPY --from, save and load; owners and setuid bits too', async (t) => {
        if (!minbase) return t.skip('the Debian minbase fixture is not available');
        if (rootless && !user) return t.skip('no test user');
        const ctx = context(`caps-${name}`, { Dockerfile: CAPS_DOCKERFILE }, rootless ? user : undefined);
        const r = ok(await berth(['build', '--progress', 'plain', '-t', 'caps:1', ctx], opts()), 'build');
        assert.match(r.stderr, /\/usr\/local\/bin\/xping cap_net_raw=ep/, 'getcap in the build stage sees the capability');
        const archive = join(rootless ? userHome!.dir : work.dir, `caps-${name}.tar`);
        ok(await berth(['save', '-o', archive, 'caps:1'], opts()), 'save');
        const fresh = join(work.dir, `fresh-${name}`);
        ok(await berth(['load', '-i', archive], { root: fresh }), 'load into a fresh store');
        const out = join(work.dir, `unpacked-${name}`);
        ok(await berth(['unpack', 'caps:1', out], { root: fresh }), 'unpack');
        assert.match(getcap(join(out, 'opt/xping')), /cap_net_raw=ep$/);
        const x = statSync(join(out, 'opt/xping'));
        assert.deepEqual([x.uid, x.gid], [10000, 20000]);
        assert.equal(statSync(join(out, 'opt/sutrue')).mode & 0o7777, 0o4755);
        const ping = await berth(['run', '--rm', '-u', '65534', 'caps:1', '/opt/xping', '-c1', '-W2', '127.0.0.1'], opts());
        assert.equal(ping.code, 0, `the copied ping works for nobody through its capability: ${ping.stderr}${ping.stdout}`);
      });
    });
  }

  test('every instruction: config, ARG scoping, WORKDIR owned by USER, COPY --chown/--chmod, .dockerignore, heredocs, ADD of a tarball', async () => {
    const dir = context('instructions', {
      'app/main.sh': '#!/bin/sh\necho "main $*"\n',
      'app/secret.key': 'no',
      'notes.txt': 'notes',
      '.dockerignore': '**/*.key\n',
      Dockerfile: `ARG BASE=bb:1
FROM \${BASE} AS base
ARG GREETING=hello
ARG UNSET
ENV APP_HOME=/srv/app PATH=/srv/app:/usr/bin:/bin
LABEL org.example.name="demo app" version=1
EXPOSE 8080 53/udp
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD ["true"]
WORKDIR /srv/app
COPY --chown=foo:bar --chmod=750 app/ ./
ADD bundle.tar.gz /opt/
USER foo
WORKDIR sub
RUN echo "$GREETING from $(id -un) in $(pwd) owned $(stat -c %u:%g /srv/app/sub)" && ls /srv/app
RUN <<EOF
echo heredoc \$APP_HOME
EOF
COPY <<CONF /srv/app/conf.txt
name=\${APP_HOME}
CONF
SHELL ["/bin/sh", "-c"]
ONBUILD RUN echo triggered
ENTRYPOINT ["/srv/app/main.sh"]
CMD ["default", "args"]
`,
    });
    mkdirSync(join(dir, 'payload/inner'), { recursive: true });
    writeFileSync(join(dir, 'payload/inner/file.txt'), 'from the tarball');
    execFileSync('tar', ['-czf', join(dir, 'bundle.tar.gz'), '-C', join(dir, 'payload'), '--owner=1234', '--group=4321', 'inner']);
    const r = ok(await berth(['build', '--progress', 'plain', '--build-arg', 'GREETING=hi', '-t', 'instr:1', dir], { root: rootStore }), 'build');
    assert.match(r.stderr, /hi from foo in \/srv\/app\/sub owned 10000:10000/, 'WORKDIR sub was created owned by USER foo (gid = passwd gid)');
    assert.match(r.stderr, /heredoc \/srv\/app/);
    assert.doesNotMatch(r.stderr, /secret\.key/, '.dockerignore kept secret.key out');
    const cfg = JSON.parse(ok(await berth(['inspect', 'instr:1'], { root: rootStore }), 'inspect').stdout)[0].config.config;
    assert.deepEqual(cfg.Entrypoint, ['/srv/app/main.sh']);
    assert.deepEqual(cfg.Cmd, ['default', 'args']);
    assert.equal(cfg.User, 'foo');
    assert.equal(cfg.WorkingDir, '/srv/app/sub');
    assert.ok(cfg.Env.includes('APP_HOME=/srv/app'));
    assert.ok(!cfg.Env.some((e: string) => e.startsWith('GREETING=')), 'ARGs are not persisted in the image');
    assert.deepEqual(cfg.Labels, { 'org.example.name': 'demo app', version: '1' });
    assert.deepEqual(Object.keys(cfg.ExposedPorts).sort(), ['53/udp', '8080/tcp']);
    assert.deepEqual(Object.keys(cfg.Volumes), ['/data']);
    assert.equal(cfg.StopSignal, 'SIGTERM');
    assert.deepEqual(cfg.Healthcheck, { Test: ['CMD', 'true'], Interval: 30e9, Timeout: 5e9, Retries: 2 });
    assert.deepEqual(cfg.OnBuild, ['RUN echo triggered']);
    const out = join(work.dir, 'instr-unpacked');
    ok(await berth(['unpack', 'instr:1', out], { root: rootStore }), 'unpack');
    const main = statSync(join(out, 'srv/app/main.sh'));
    assert.deepEqual([main.uid, main.gid, main.mode & 0o7777], [10000, 20000, 0o750], '--chown=foo:bar --chmod=750');
    assert.equal(readFileSync(join(out, 'srv/app/conf.txt'), 'utf8'), 'name=/srv/app\n', 'COPY heredoc, expanded');
    assert.equal(readFileSync(join(out, 'opt/inner/file.txt'), 'utf8'), 'from the tarball');
    assert.deepEqual([statSync(join(out, 'opt/inner/file.txt')).uid, statSync(join(out, 'opt/inner/file.txt')).gid], [1234, 4321], 'ADD keeps the archive owners');
    const run = ok(await berth(['run', '--rm', 'instr:1'], { root: rootStore }), 'run');
    assert.equal(run.stdout.trim(), 'main default args');
    // ONBUILD triggers run in a build FROM this image.
    const child = context('onbuild', { Dockerfile: 'FROM instr:1\nRUN echo child\n' });
    const c = ok(await berth(['build', '--progress', 'plain', '-t', 'child:1', child], { root: rootStore }), 'build child');
    assert.match(c.stderr, /triggered\n[\s\S]*child/);
  });

  test('FROM scratch with a static binary, exec-form RUN, --network none, --platform of the host', async () => {
    const dir = context('scratch', {
      Dockerfile: 'FROM --platform=$BUILDPLATFORM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /made && echo exec-form > /made/x"]\nRUN ["/bin/busybox", "ls", "/sys/class/net"]\n',
    });
    execFileSync('cp', ['/bin/busybox', join(dir, 'busybox')]);
    const r = ok(await berth(['build', '--progress', 'plain', '--network', 'none', '-t', 'scratch:1', dir], { root: rootStore }), 'build');
    const ifaces = r.stderr.split('STEP 4/4')[1] ?? '';
    assert.match(ifaces, /^lo$/m, 'a loopback');
    assert.doesNotMatch(ifaces, /^(eth|ens|enp)/m, 'no host interfaces with --network none');
    const out = join(work.dir, 'scratch-unpacked');
    ok(await berth(['unpack', 'scratch:1', out], { root: rootStore }), 'unpack');
    assert.equal(readFileSync(join(out, 'made/x'), 'utf8'), 'exec-form\n');
    const other = context('platform', { Dockerfile: 'FROM --platform=linux/s390x scratch\n' });
    const bad = await berth(['build', other], { root: rootStore });
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /host platform/);
  });

  test('multi-stage with --target builds only what the target needs', async () => {
    const dir = context('stages', {
      Dockerfile: 'FROM bb:1 AS one\nRUN echo one > /one\nFROM bb:1 AS two\nRUN echo building-two\nFROM one AS three\nRUN cat /one\n',
    });
    const r = ok(await berth(['build', '--progress', 'plain', '--target', 'three', '-t', 'three:1', dir], { root: rootStore }), 'build');
    assert.doesNotMatch(r.stderr, /^building-two$/m);
    assert.match(r.stderr, /\none\n/);
    const bad = await berth(['build', '--target', 'nope', dir], { root: rootStore });
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /no stage of that name/);
    assert.match(bad.stderr, /stages: one, two, three/);
  });

  test('cache: a rebuild reuses every step and runs nothing, gives the same image; a changed input reruns from there', async () => {
    const dir = context('cache', { 'a.txt': 'one', Dockerfile: 'FROM bb:1\nRUN echo ran-first\nCOPY a.txt /a.txt\nRUN echo ran-second && cat /a.txt\n' });
    const first = ok(await berth(['build', '--progress', 'plain', '-t', 'cache:1', dir], { root: rootStore }), 'first build');
    assert.match(first.stderr, /^ran-first$/m);
    const again = ok(await berth(['build', '--progress', 'plain', '-t', 'cache:2', dir], { root: rootStore }), 'rebuild');
    assert.doesNotMatch(again.stderr, /^ran-/m, 'a cached rebuild runs no RUN');
    assert.equal((again.stderr.match(/Using cache/g) ?? []).length, 3);
    assert.equal(again.stdout, first.stdout, 'the same image ID');
    writeFileSync(join(dir, 'a.txt'), 'two');
    const changed = ok(await berth(['build', '--progress', 'plain', '-t', 'cache:3', dir], { root: rootStore }), 'after a change');
    assert.doesNotMatch(changed.stderr, /^ran-first$/m);
    assert.match(changed.stderr, /ran-second\ntwo/);
    utimesSync(join(dir, 'a.txt'), new Date(), new Date(Date.now() + 60_000));
    const touched = ok(await berth(['build', '--progress', 'plain', '-t', 'cache:4', dir], { root: rootStore }), 'after touch');
    chmodSync(join(dir, 'a.txt'), 0o600);
    const chmodded = ok(await berth(['build', '--progress', 'plain', '-t', 'cache:5', dir], { root: rootStore }), 'after chmod');
    assert.doesNotMatch(touched.stderr, /^ran-second$/m);
    assert.match(chmodded.stderr, /^ran-second$/m, 'a mode change is a change');
    const nocache = ok(await berth(['build', '--progress', 'plain', '--no-cache', '-t', 'cache:6', dir], { root: rootStore }), '--no-cache');
    assert.match(nocache.stderr, /^ran-first$/m);
    assert.doesNotMatch(nocache.stderr, /Using cache/);
  });

  describe('errors', () => {
    const cases: [string, Record<string, string>, string[], RegExp[]][] = [
      ['a failing RUN names the step, the line, the status and the last output, and commits nothing', { Dockerfile: 'FROM bb:1\nRUN echo first-line\nRUN echo about to fail && echo oops >&2 && exit 3\n' }, ['-t', 'failed:1'], [/RUN at Dockerfile:3 \(step 3\/3\) exited with status 3/, /oops/]],
      ['a COPY source outside the context', { Dockerfile: 'FROM bb:1\nCOPY ../outside /x\n' }, [], [/outside the build context/]],
      ['a missing source', { Dockerfile: 'FROM bb:1\nCOPY nothing-here /x\n' }, [], [/"\/nothing-here": not found/]],
      ['COPY --from a stage that does not exist', { Dockerfile: 'FROM bb:1\nCOPY --from=builder /x /y\n' }, [], [/--from=builder/, /no stage of that name/]],
      ['an unset required ARG', { Dockerfile: 'FROM bb:1\nARG SRC\nCOPY ${SRC:?needs-a-value} /x\n' }, [], [/SRC/, /needs-a-value/, /Dockerfile:3/]],
      ['a USER that cannot be resolved at RUN time', { Dockerfile: 'FROM bb:1\nUSER nosuchuser\nRUN id\n' }, [], [/nosuchuser/]],
      ['an unknown instruction names its line', { Dockerfile: 'FROM bb:1\nRUN true\nFETCH x\n' }, [], [/Dockerfile:3: unknown instruction: FETCH/]],
    ];
    for (const [name, files, extra, patterns] of cases) {
      test(name, async () => {
        const dir = context(`err-${name.replace(/\W+/g, '-').slice(0, 40)}`, files);
        const r = await berth(['build', '--progress', 'plain', ...extra, dir], { root: rootStore });
        assert.equal(r.code, 125, r.stderr);
        for (const p of patterns) assert.match(r.stderr, p);
        if (extra.includes('failed:1')) {
          assert.match(r.stderr, /first-line/);
          const inspect = await berth(['inspect', 'failed:1'], { root: rootStore });
          assert.notEqual(inspect.code, 0, 'no image was tagged');
        }
      });
    }
  });
});
