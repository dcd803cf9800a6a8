/**
 * End to end: `berth run` through the compiled CLI against the real runc, as root and as the
 * unprivileged user berthtest (subordinate IDs 200000:65536, made by scripts/test.mjs), on images
 * built with `berth import` from the busybox fixture (users foo/bar/nonroot, a cap_net_raw ping,
 * /home/nonroot 0700 owned by 65532) and, for ping, the Debian minbase fixture. Each behaviour the
 * issue lists is checked the way a user would: `id`, `pwd`, exit statuses, what reaches stdout,
 * and what is left on the machine afterwards (mounts, processes, bundles, runtime state).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listContainers, removeContainers, run } from '../../src/api/run.js';
import type { ExplainReport } from '../../src/explain/index.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const USER = 'berthtest';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'scripts', 'fixtures.mjs'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('scripts/fixtures.mjs not found above the test');
    dir = up;
  }
  return dir;
}

const isRoot = process.geteuid?.() === 0;
const testUser = (() => {
  const r = spawnSync('id', ['-u', USER], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return { uid: Number(r.stdout.trim()), gid: Number(spawnSync('id', ['-g', USER], { encoding: 'utf8' }).stdout.trim()) };
})();
const hasRunc = spawnSync('/bin/sh', ['-c', 'command -v runc']).status === 0;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Mode {
  name: 'rootful' | 'rootless';
  store: string;
  /** A directory the mode's user owns (volumes, env files). */
  home: string;
  user?: { uid: number; gid: number };
}

function argvFor(mode: Mode, args: string[]): [string, string[]] {
  const full = [CLI, '--root', mode.store, ...args];
  if (mode.name === 'rootful') return [process.execPath, full];
  return ['setpriv', ['--reuid', USER, '--regid', USER, '--init-groups', '--reset-env', process.execPath, ...full]];
}

/** Runs the CLI; `until` resolves once stdout contains the text (to signal a container that is ready). */
interface Started {
  child: ChildProcess;
  done: Promise<Result>;
  exited: Promise<void>;
  /** Resolves once stdout (untilErr: stderr) contains the text. */
  until(text: string): Promise<void>;
  untilErr(text: string): Promise<void>;
}

function start(mode: Mode, args: string[], opts: { input?: string } = {}): Started {
  const [cmd, argv] = argvFor(mode, args);
  const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], cwd: mode.home });
  let out = '';
  let err = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of waiters.splice(0)) {
      if (out.includes(w.text)) w.resolve();
      else waiters.push(w);
    }
  });
  const errWaiters: { text: string; resolve: () => void }[] = [];
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    for (const w of errWaiters.splice(0)) {
      if (err.includes(w.text)) w.resolve();
      else errWaiters.push(w);
    }
  });
  const done = new Promise<Result>((resolve) => child.on('close', (code) => resolve({ code, stdout: out, stderr: err })));
  // A berth killed with SIGKILL leaves its container holding the pipes: 'close' waits for it, 'exit' does not.
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.stdin!.end(opts.input);
  return {
    child,
    done,
    exited,
    until: (text) =>
      new Promise<void>((resolve, reject) => {
        if (out.includes(text)) return resolve();
        waiters.push({ text, resolve });
        void done.then(() => (out.includes(text) ? resolve() : reject(new Error(`berth exited before printing ${text}: ${err}`))));
      }),
    untilErr: (text) =>
      new Promise<void>((resolve, reject) => {
        if (err.includes(text)) return resolve();
        errWaiters.push({ text, resolve });
        void done.then(() => (err.includes(text) ? resolve() : reject(new Error(`berth exited before printing ${text} on stderr: ${err}`))));
      }),
  };
}

function berth(mode: Mode, args: string[], opts: { input?: string } = {}): Promise<Result> {
  return start(mode, args, opts).done;
}

async function ok(mode: Mode, args: string[], opts: { input?: string } = {}): Promise<string> {
  const r = await berth(mode, args, opts);
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Mount points, processes, bundles and runtime state a store's containers could leave behind. */
function leftovers(mode: Mode): string[] {
  const found: string[] = [];
  const containers = join(mode.store, 'berth', 'containers');
  for (const n of existsSync(containers) ? readdirSync(containers) : []) if (n !== 'lock') found.push(`container dir ${n}`);
  const runc = join(mode.store, 'berth', 'runc');
  for (const n of existsSync(runc) ? readdirSync(runc) : []) found.push(`runc state ${n}`);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let info = '';
    let cmd = '';
    try {
      info = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (info.includes(mode.store)) found.push(`mount in process ${pid} (${cmd.replace(/\0/g, ' ').trim()})`);
    else if (cmd.includes(mode.store)) found.push(`process ${pid}: ${cmd.replace(/\0/g, ' ').trim()}`);
  }
  return found;
}

async function explainJson(mode: Mode, args: string[]): Promise<ExplainReport> {
  return JSON.parse(await ok(mode, ['explain', '--json', ...args])) as ExplainReport;
}

describe('berth run end to end', { skip: (!isRoot && 'building the fixture images needs root (setcap, chown)') || (!hasRunc && 'needs runc') }, () => {
  let work: string;
  let minbase: string | undefined;
  const modes: Mode[] = [];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'berth-run-e2e-'));
    chmodSync(work, 0o755);
    const repo = repoRoot();
    const rootfs = join(work, 'bb');
    execFileSync(process.execPath, [join(repo, 'scripts/fixtures.mjs'), 'busybox', rootfs], { stdio: ['ignore', 'ignore', 'inherit'] });
    // A file owned by a uid no rootless namespace of 65536 subordinate IDs holds (userns.md U1).
    const high = join(work, 'high');
    execFileSync('cp', ['-a', rootfs, high]);
    mkdirSync(join(high, 'data/high'), { recursive: true });
    writeFileSync(join(high, 'data/high/f70000'), 'x');
    chownSync(join(high, 'data/high/f70000'), 70000, 70000);

    // Another layer stack (so another cached rootfs) for the gc case.
    const bb2 = join(work, 'bb2');
    execFileSync('cp', ['-a', rootfs, bb2]);
    writeFileSync(join(bb2, 'etc/bb2'), 'second image\n');
    // A file in a directory of another user: rootless, only the namespace's root can remove it.
    writeFileSync(join(bb2, 'home/foo/.profile'), 'PS1=foo\n');
    chownSync(join(bb2, 'home/foo/.profile'), 10000, 10000);

    const rootful: Mode = { name: 'rootful', store: join(work, 'store'), home: join(work, 'home-root') };
    mkdirSync(rootful.home);
    await ok(rootful, ['import', rootfs, 'bb:1']);
    await ok(rootful, ['import', '--change', 'USER foo', rootfs, 'userfoo:1']);
    await ok(rootful, ['import', '--change', 'USER 65532', '--change', 'WORKDIR /home/nonroot', rootfs, 'nonroot:1']);
    await ok(rootful, ['import', high, 'high:1']);
    await ok(rootful, ['import', bb2, 'bb2:1']);
    modes.push(rootful);
    try {
      minbase = execFileSync(process.execPath, [join(repo, 'scripts/fixtures.mjs'), 'minbase'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20 * 60_000 }).trim();
    } catch {
      // debootstrap needs a Debian mirror; without one the ping case is skipped.
      minbase = undefined;
    }
    if (minbase) await ok(rootful, ['import', minbase, 'minbase:1']);

    if (testUser) {
      const home = join(work, 'home-rl');
      mkdirSync(home);
      chownSync(home, testUser.uid, testUser.gid);
      const rootless: Mode = { name: 'rootless', store: join(home, 'store'), home, user: testUser };
      const archive = join(work, 'images.tar');
      await ok(rootful, ['save', '-o', archive, 'bb:1', 'userfoo:1', 'nonroot:1', 'high:1', 'bb2:1', ...(minbase ? ['minbase:1'] : [])]);
      chmodSync(archive, 0o644);
      await ok(rootless, ['load', '-i', archive]);
      rmSync(archive);
      modes.push(rootless);
    }
  });

  after(async () => {
    for (const m of modes) {
      // Kept containers (non --rm tests) go with their store; rootless trees need the namespace.
      if (m.name === 'rootless') await berth(m, ['run', '--rm', 'bb:1', 'true']);
    }
    if (work) {
      const r = spawnSync('rm', ['-rf', work]);
      if (r.status !== 0) {
        // Files a rootless container wrote as another user are owned by subordinate IDs; root removes them.
        rmSync(work, { recursive: true, force: true });
      }
    }
  });

  for (const name of ['rootful', 'rootless'] as const) {
    describe(name, { skip: name === 'rootless' && !testUser && `needs the user ${USER} (scripts/test.mjs creates it)` }, () => {
      const mode = (): Mode => {
        const m = modes.find((x) => x.name === name);
        assert.ok(m, `${name} setup failed`);
        return m;
      };

      test('USER foo, where /etc/group lists foo in bar: id shows bar; -u 10000 resolves the name the same way', async () => {
        const want = 'uid=10000(foo) gid=10000(foo) groups=10000(foo),20000(bar)';
        assert.equal((await ok(mode(), ['run', '--rm', 'userfoo:1', 'id'])).trim(), want);
        assert.equal((await ok(mode(), ['run', '--rm', '-u', '10000', 'bb:1', 'id'])).trim(), want);
        const r = await explainJson(mode(), ['userfoo:1']);
        assert.equal(r.process.user?.uid, 10000);
        assert.deepEqual(r.process.user?.additionalGids, [10000, 20000]);
      });

      test('a 0700 WORKDIR owned by another uid: the process starts in it (runc retries chdir), and explain warned', async () => {
        // Rootless namespaces hold 65537 IDs, so the OpenShift-style uid is rootful only.
        const user = name === 'rootful' ? '1000680000:0' : '1000:0';
        assert.equal((await ok(mode(), ['run', '--rm', '-u', user, 'nonroot:1', 'pwd'])).trim(), '/home/nonroot');
        const r = await explainJson(mode(), ['-u', user, 'nonroot:1']);
        assert.ok(r.findings.some((f) => f.code === 'WORKDIR_NOT_ACCESSIBLE'), JSON.stringify(r.findings.map((f) => f.code)));
      });

      test('exit statuses: the process\'s own, 128+n for a signal, 127 not found, 126 not executable', async () => {
        assert.equal((await berth(mode(), ['run', '--rm', 'bb:1', 'sh', '-c', 'exit 7'])).code, 7);
        // PID 1 without handlers ignores SIGINT: the third SIGINT to berth kills it with SIGKILL, and runc reports 128+9.
        const s = start(mode(), ['run', '--rm', 'bb:1', 'sh', '-c', 'echo ready; exec sleep 60']);
        await s.until('ready');
        // berth acknowledges each one (pending signals of one kind merge, so wait for it).
        s.child.kill('SIGINT');
        await s.untilErr('two more SIGINT or SIGTERM kill it');
        s.child.kill('SIGINT');
        await s.untilErr('one more SIGINT or SIGTERM kills it');
        s.child.kill('SIGINT');
        assert.equal((await s.done).code, 137);
        const nf = await berth(mode(), ['run', '--rm', 'bb:1', 'no-such-command']);
        assert.equal(nf.code, 127);
        assert.match(nf.stderr, /no-such-command.*not found/);
        const nx = await berth(mode(), ['run', '--rm', 'bb:1', '/etc/passwd']);
        assert.equal(nx.code, 126);
        assert.match(nx.stderr, /permission denied/);
      });

      test('stdin passes through with -i; without -i the container reads nothing', async () => {
        assert.equal(await ok(mode(), ['run', '--rm', '-i', 'bb:1', 'cat'], { input: 'hello\nworld\n' }), 'hello\nworld\n');
        assert.equal(await ok(mode(), ['run', '--rm', 'bb:1', 'cat'], { input: 'ignored' }), '');
      });

      test('-t gives the container a terminal', { skip: spawnSync('/bin/sh', ['-c', 'command -v script']).status !== 0 && 'needs script(1)' }, () => {
        const [cmd, argv] = argvFor(mode(), ['run', '--rm', '-t', 'bb:1', 'sh', '-c', 'test -t 0 && test -t 1 && echo tty-yes; tty']);
        const line = [cmd, ...argv].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
        const r = spawnSync('script', ['-qec', line, '/dev/null'], { encoding: 'utf8', cwd: mode().home });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /tty-yes/);
        assert.match(r.stdout, /\/dev\/pts\/\d+/);
      });

      test('bind mounts: read-only refuses writes, read-write writes reach the host', async () => {
        const dir = join(mode().home, `vol-${Date.now()}`);
        mkdirSync(dir);
        writeFileSync(join(dir, 'in'), 'from host');
        if (mode().user) {
          chownSync(dir, mode().user!.uid, mode().user!.gid);
          chownSync(join(dir, 'in'), mode().user!.uid, mode().user!.gid);
        }
        const ro = await berth(mode(), ['run', '--rm', '-v', `${dir}:/v:ro`, 'bb:1', 'sh', '-c', 'cat /v/in; echo x > /v/out']);
        assert.notEqual(ro.code, 0);
        assert.match(ro.stdout, /from host/);
        assert.match(ro.stderr, /Read-only file system/);
        assert.equal(existsSync(join(dir, 'out')), false);
        await ok(mode(), ['run', '--rm', '-v', `${dir}:/v`, 'bb:1', 'sh', '-c', 'echo written > /v/out']);
        assert.equal(readFileSync(join(dir, 'out'), 'utf8'), 'written\n');
      });

      test('--read-only: the root file system refuses writes', async () => {
        const r = await berth(mode(), ['run', '--rm', '--read-only', 'bb:1', 'touch', '/x']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /Read-only file system/);
        assert.equal(await ok(mode(), ['run', '--rm', 'bb:1', 'sh', '-c', 'touch /x && echo ok']), 'ok\n');
      });

      test('environment: image PATH default, HOME from passwd, --env-file then -e, --entrypoint', async () => {
        const envFile = join(mode().home, 'app.env');
        writeFileSync(envFile, '# comment\nA=1\nB=from file\n');
        if (mode().user) chownSync(envFile, mode().user!.uid, mode().user!.gid);
        const out = await ok(mode(), ['run', '--rm', '--env-file', envFile, '-e', 'B=from flag', '-u', 'foo', 'bb:1', 'sh', '-c', 'echo "$A|$B|$HOME|$PATH"']);
        assert.equal(out, '1|from flag|/home/foo|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
        assert.equal(await ok(mode(), ['run', '--rm', '--entrypoint', 'echo', 'bb:1', 'a', 'b']), 'a b\n');
      });

      test('--network none: a loopback that is up; --network host: the host\'s interfaces', async () => {
        const out = await ok(mode(), ['run', '--rm', 'bb:1', 'ip', 'link', 'show', 'lo']);
        assert.match(out, /<LOOPBACK,UP,LOWER_UP>/);
        assert.equal((await ok(mode(), ['run', '--rm', 'bb:1', 'sh', '-c', 'ls /sys/class/net'])).trim(), 'lo');
        const hostNet = readdirSync('/sys/class/net').sort().join(' ');
        assert.equal((await ok(mode(), ['run', '--rm', '--network', 'host', 'bb:1', 'sh', '-c', 'ls /sys/class/net | sort | tr "\\n" " "'])).trim(), hostNet);
      });

      test("Debian's ping (cap_net_raw=ep) as nobody works; with --cap-drop NET_RAW exec fails with Operation not permitted", async (t) => {
        if (!minbase) {
          t.skip('the Debian minbase fixture is not available (debootstrap needs a mirror)');
          return;
        }
        const args = ['run', '--rm', '-u', 'nobody', '--sysctl', 'net.ipv4.ping_group_range=1 0'];
        const good = await ok(mode(), [...args, 'minbase:1', 'ping', '-c1', '127.0.0.1']);
        assert.match(good, /1 packets transmitted, 1 received/);
        const bad = await berth(mode(), [...args, '--cap-drop', 'NET_RAW', 'minbase:1', 'ping', '-c1', '127.0.0.1']);
        assert.notEqual(bad.code, 0);
        assert.match(bad.stderr, /operation not permitted/i);
      });

      test('SIGINT and SIGTERM sent to berth reach the container once; berth exits with its status', async () => {
        for (const [sig, status] of [['SIGINT', 3], ['SIGTERM', 4]] as const) {
          const s = start(mode(), ['run', '--rm', 'bb:1', 'sh', '-c', `trap "exit 3" INT; trap "exit 4" TERM; echo ready; sleep 60 & wait`]);
          await s.until('ready');
          s.child.kill(sig);
          assert.equal((await s.done).code, status);
        }
      });

      test('berth killed with SIGKILL: a later berth command cleans up what it left', async () => {
        const s = start(mode(), ['run', '--rm', '-u', 'foo', 'bb:1', 'sh', '-c', 'mkdir /tmp/d && echo x > /tmp/d/f && echo ready && exec sleep 60']);
        await s.until('ready');
        s.child.kill('SIGKILL');
        await s.exited;
        assert.ok(leftovers(mode()).length > 0, 'the killed berth left its container running');
        await ok(mode(), ['run', '--rm', 'bb:1', 'true']);
        assert.deepEqual(leftovers(mode()), []);
        // The container's pipes close once its processes are gone.
        await s.done;
      });

      test('an unknown user and a missing runtime are berth errors (exit 125) that name the cause', async () => {
        const u = await berth(mode(), ['run', '--rm', '-u', 'nosuch', 'bb:1', 'true']);
        assert.equal(u.code, 125);
        assert.match(u.stderr, /nosuch/);
        if (spawnSync('/bin/sh', ['-c', 'command -v crun']).status !== 0) {
          const c = await berth(mode(), ['run', '--rm', '--runtime', 'crun', 'bb:1', 'true']);
          assert.equal(c.code, 125);
          assert.match(c.stderr, /crun not found/);
        }
      });

      test('--name: a second container cannot take a kept container\'s name', async () => {
        await ok(mode(), ['run', '--name', `keep-${name}`, 'bb:1', 'true']);
        const r = await berth(mode(), ['run', '--rm', '--name', `keep-${name}`, 'bb:1', 'true']);
        assert.equal(r.code, 125);
        assert.match(r.stderr, /already in use/);
      });

      test('ps lists a kept container after exit with its code; rm removes it and frees the name', async () => {
        const cname = `ps-${name}`;
        const r = await berth(mode(), ['run', '--name', cname, 'bb:1', 'sh', '-c', 'exit 3']);
        assert.equal(r.code, 3, r.stderr);
        const running = await ok(mode(), ['ps']);
        assert.doesNotMatch(running, new RegExp(cname));
        const all = JSON.parse(await ok(mode(), ['ps', '--all', '--json'])) as { name: string; status: string; exitCode?: number }[];
        const kept = all.find((c) => c.name === cname);
        assert.ok(kept, JSON.stringify(all));
        assert.equal(kept.status, 'exited');
        assert.equal(kept.exitCode, 3);
        assert.match(await ok(mode(), ['ps', '-a']), new RegExp(`Exited \\(3\\)\\s+${cname}`));
        assert.match(await ok(mode(), ['rm', cname]), /^[0-9a-f]{64}$/m);
        const after = JSON.parse(await ok(mode(), ['ps', '--all', '--json'])) as { name: string }[];
        assert.ok(!after.some((c) => c.name === cname));
        await ok(mode(), ['run', '--rm', '--name', cname, 'bb:1', 'true']);
        const missing = await berth(mode(), ['rm', cname]);
        assert.equal(missing.code, 125);
      });

      test('an image with files owned by IDs outside the map is refused before any work, naming the IDs and paths', { skip: name === 'rootful' && 'root maps every ID' }, async () => {
        const r = await berth(mode(), ['run', '--rm', 'high:1', 'true']);
        assert.equal(r.code, 125);
        assert.match(r.stderr, /70000 \(\/data\/high\/f70000\)/);
        assert.match(r.stderr, /subordinate IDs/);
        assert.equal(existsSync(join(mode().store, 'berth', 'rootfs')) && readdirSync(join(mode().store, 'berth', 'rootfs')).some((n) => n.includes('high')), false);
      });

      test('removing an image (rmi collects garbage) removes its unpacked rootfs; rootless through the trash, which run empties', async () => {
        const cache = join(mode().store, 'berth', 'rootfs');
        const keys = () => readdirSync(cache).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort();
        const before = keys();
        await ok(mode(), ['run', '--rm', 'bb2:1', 'cat', '/etc/bb2']);
        const added = keys().filter((k) => !before.includes(k));
        assert.equal(added.length, 1, 'running bb2 unpacked one more rootfs');
        // rmi collects garbage itself.
        await ok(mode(), ['rmi', 'bb2:1']);
        assert.deepEqual(keys(), before, 'the removed image\'s rootfs is gone; the others stay');
        const trash = () => readdirSync(cache).filter((n) => n.startsWith('.trash-'));
        if (name === 'rootless') {
          assert.equal(trash().length, 1, 'files owned by subordinate IDs wait in the trash');
          await ok(mode(), ['run', '--rm', 'bb:1', 'true']);
        }
        assert.deepEqual(trash(), []);
      });

      test('after all these runs, and runs interrupted by SIGINT, nothing leaks but the kept container', async () => {
        for (let i = 0; i < 5; i++) {
          const s = start(mode(), ['run', '--rm', 'bb:1', 'sh', '-c', 'trap "exit 130" INT; echo ready; sleep 60 & wait']);
          await s.until('ready');
          s.child.kill('SIGINT');
          assert.equal((await s.done).code, 130);
        }
        const kept = leftovers(mode());
        assert.equal(kept.length, 1, kept.join('\n'));
        assert.match(kept[0], /^container dir/);
      });
    });
  }

  describe('library', () => {
    const store = () => join(work, 'store');

    test('run() captures stdout and stderr, feeds input, reports the exit status', async () => {
      const r = await run({ root: store(), image: 'bb:1', cmd: ['sh', '-c', 'cat; echo err >&2; exit 5'], input: 'in\n' });
      assert.equal(r.exitCode, 5);
      assert.equal(r.signal, null);
      assert.equal(r.stdout?.toString(), 'in\n');
      assert.equal(r.stderr?.toString(), 'err\n');
      assert.match(r.id, /^[0-9a-f]{64}$/);
    });

    test('run() with an AbortSignal stops the container (SIGTERM)', async () => {
      const ac = new AbortController();
      const p = run({ root: store(), image: 'bb:1', cmd: ['sh', '-c', 'trap "exit 143" TERM; echo up; sleep 60 & wait'], stdio: 'pipe', signal: ac.signal });
      // The container traps TERM; abort as soon as it runs.
      setImmediate(() => ac.abort());
      const r = await p;
      assert.ok(r.exitCode === 143, `exit ${r.exitCode}`);
    });

    test('rm: false keeps the container as exited; removeContainers removes it', async () => {
      const r = await run({ root: store(), image: 'bb:1', cmd: ['sh', '-c', 'exit 2'], rm: false, name: 'lib-kept' });
      const listed = (await listContainers({ root: store() })).find((c) => c.id === r.id);
      assert.equal(listed?.status, 'exited');
      assert.equal(listed?.exitCode, 2);
      assert.deepEqual(await removeContainers({ root: store(), containers: ['lib-kept'] }), [r.id]);
      assert.equal((await listContainers({ root: store() })).some((c) => c.id === r.id), false);
    });

    test('a container that cannot start is a typed error', async () => {
      await assert.rejects(run({ root: store(), image: 'bb:1', cmd: ['no-such-command'] }), (e: { code?: string }) => e.code === 'E_RUN_CMD_NOT_FOUND');
      await assert.rejects(run({ root: store(), image: 'no-such-image:1' }), (e: { code?: string }) => e.code === 'E_IMAGE_NOT_FOUND');
    });
  });
});
