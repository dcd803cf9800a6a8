import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBerthError, type BerthError } from '../../../src/errors/index.js';
import { readHostFacts, type HostFacts } from '../../../src/host/index.js';
import type { IdMap } from '../../../src/idmap/index.js';
import { joinUserNamespace, spawnInUserNamespace, type UserNsChild } from '../../../src/runtime/userns/index.js';

const isRoot = process.geteuid?.() === 0;

const REPORT = 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; id -g; grep -E "^Cap(Eff|Bnd)" /proc/self/status';

async function run(child: UserNsChild): Promise<{ out: string; err: string; code: number | null; signal: string | null }> {
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const st = await child.wait();
  return { out, err, code: st.code, signal: st.signal };
}

/** The kernel's right-aligned map text for `map`. */
function mapText(map: IdMap): string {
  return map.map((r) => `${String(r.container).padStart(10)} ${String(r.host).padStart(10)} ${String(r.size).padStart(10)}\n`).join('');
}

async function rejects(p: Promise<unknown>): Promise<BerthError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isBerthError(e), String((e as Error)?.stack ?? e));
    return e;
  }
  assert.fail('expected an error');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const one: IdMap = [{ container: 0, host: 100000, size: 65536 }];

describe('spawnInUserNamespace as root (maps written directly)', { skip: isRoot ? false : 'needs root' }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'berth-userns-'));
  // The holder starts as host uid 100000 (container root), which must reach the scripts below.
  chmodSync(tmp, 0o755);
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('one range: the payload is uid 0 with full capabilities, setgroups allow', async () => {
    const r = await run(await spawnInUserNamespace('/bin/sh', ['-c', REPORT], { uidMap: one, gidMap: one }, { stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    assert.equal(lines.slice(0, 3).join('\n') + '\n', mapText(one) + mapText(one) + 'allow\n');
    assert.equal(lines[3], '0');
    assert.equal(lines[4], '0');
    const eff = /CapEff:\s+(\w+)/.exec(r.out)![1]!;
    const bnd = /CapBnd:\s+(\w+)/.exec(r.out)![1]!;
    assert.equal(eff, bnd, 'uid 0 of the namespace keeps every capability across exec (rule 7)');
    assert.notEqual(BigInt(`0x${eff}`), 0n);
  });

  test('several ranges, different for uids and gids, are applied exactly', async () => {
    const uidMap: IdMap = [
      { container: 0, host: 100000, size: 1000 },
      { container: 1000, host: 300000, size: 10 },
      { container: 1010, host: 400000, size: 5 },
    ];
    const gidMap: IdMap = [
      { container: 0, host: 200000, size: 100 },
      { container: 100, host: 500000, size: 1 },
    ];
    const child = await spawnInUserNamespace('/bin/sh', ['-c', REPORT], { uidMap, gidMap }, { stdio: ['ignore', 'pipe', 'pipe'] });
    assert.deepEqual(child.uidMap, uidMap);
    assert.deepEqual(child.gidMap, gidMap);
    const r = await run(child);
    assert.ok(r.out.startsWith(mapText(uidMap) + mapText(gidMap) + 'allow\n0\n0\n'), r.out);
  });

  test("'auto' as root maps all of berth's own IDs, identity", async () => {
    const r = await run(await spawnInUserNamespace('/bin/sh', ['-c', 'cat /proc/self/uid_map; id -u'], 'auto', { stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.equal(r.out, mapText([{ container: 0, host: 0, size: 4294967295 }]) + '0\n');
  });

  test('extraUnshare mount gives a mount namespace of its own', async () => {
    const r = await run(
      await spawnInUserNamespace('readlink', ['/proc/self/ns/mnt', '/proc/self/ns/user'], { uidMap: one, gidMap: one }, { stdio: ['ignore', 'pipe', 'pipe'], extraUnshare: ['mount'] }),
    );
    const [mnt, user] = r.out.trim().split('\n');
    assert.notEqual(mnt, readlinkSync('/proc/self/ns/mnt'));
    assert.notEqual(user, readlinkSync('/proc/self/ns/user'));
  });

  test('stdin, stdout and stderr are the payload\'s, piped', async () => {
    const child = await spawnInUserNamespace('/bin/sh', ['-c', 'cat; echo oops >&2; exit 3'], { uidMap: one, gidMap: one }, { stdio: 'pipe' });
    child.stdin!.end('hello\n');
    const r = await run(child);
    assert.deepEqual([r.out, r.err, r.code], ['hello\n', 'oops\n', 3]);
  });

  test('stderr ignored and env and cwd passed', async () => {
    const child = await spawnInUserNamespace('/bin/sh', ['-c', 'echo hidden >&2; echo "$GREETING $(pwd)"'], { uidMap: one, gidMap: one }, {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { PATH: '/usr/bin:/bin', GREETING: 'hi' },
      cwd: '/tmp',
    });
    const r = await run(child);
    assert.equal(r.out, 'hi /tmp\n');
    assert.equal(child.stderr, null);
  });

  test('kill and wait report the signal; exit is emitted', async () => {
    const child = await spawnInUserNamespace('sleep', ['1000'], { uidMap: one, gidMap: one });
    const exited = new Promise<[number | null, string | null]>((resolve) => child.on('exit', (code, signal) => resolve([code, signal])));
    assert.equal(child.kill('SIGTERM'), true);
    assert.deepEqual(await child.wait(), { code: null, signal: 'SIGTERM' });
    assert.deepEqual(await exited, [null, 'SIGTERM']);
  });

  test('a payload that does not exist exits 127 after release, like a shell', async () => {
    const r = await run(await spawnInUserNamespace('/nonexistent/cmd', [], { uidMap: one, gidMap: one }, { stdio: ['ignore', 'ignore', 'pipe'] }));
    assert.equal(r.code, 127);
    assert.match(r.err, /nonexistent\/cmd/);
  });

  test('joinUserNamespace enters the holder\'s namespaces as its uid 0 (Step 8)', async () => {
    const holder = await spawnInUserNamespace('sleep', ['1000'], { uidMap: one, gidMap: one }, { extraUnshare: ['mount'] });
    try {
      const joined = await joinUserNamespace(holder.pid, '/bin/sh', ['-c', 'cat /proc/self/uid_map; id -u; readlink /proc/self/ns/mnt'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        namespaces: ['mount'],
      });
      assert.deepEqual(joined.uidMap, one);
      const r = await run(joined);
      assert.equal(r.code, 0, r.err);
      const lines = r.out.split('\n');
      assert.equal(lines[0] + '\n', mapText(one));
      assert.equal(lines[1], '0');
      assert.equal(lines[2], readlinkSync(`/proc/${holder.pid}/ns/mnt`));
    } finally {
      holder.kill('SIGKILL');
      await holder.wait();
    }
  });

  test('joining a process that is gone -> E_USERNS_HOLDER_GONE', async () => {
    const child = await spawnInUserNamespace('true', [], { uidMap: one, gidMap: one });
    await child.wait();
    const e = await rejects(joinUserNamespace(child.pid, 'true', []));
    assert.equal(e.code, 'E_USERNS_HOLDER_GONE');
  });

  describe('failures', () => {
    const cases: { name: string; call: () => Promise<unknown>; code: string; message?: RegExp }[] = [
      {
        name: 'overlapping outside ranges are refused before anything runs',
        call: () =>
          spawnInUserNamespace('true', [], {
            uidMap: [
              { container: 0, host: 100000, size: 10 },
              { container: 10, host: 100005, size: 10 },
            ],
            gidMap: one,
          }),
        code: 'E_IDMAP_OVERLAP',
      },
      {
        name: 'a map without container 0 (the payload would have no capabilities)',
        call: () => spawnInUserNamespace('true', [], { uidMap: [{ container: 1, host: 100000, size: 10 }], gidMap: one }),
        code: 'E_USERNS_ROOT_UNMAPPED',
      },
      {
        name: 'a map of 330 lines (scenario 18)',
        call: () =>
          spawnInUserNamespace('true', [], {
            uidMap: Array.from({ length: 330 }, (_, i) => ({ container: i, host: 100000 + 2 * i, size: 1 })),
            gidMap: one,
          }),
        code: 'E_IDMAP_TOO_LARGE',
      },
      { name: 'a working directory that does not exist', call: () => spawnInUserNamespace('true', [], 'auto', { cwd: '/nonexistent/dir' }), code: 'E_USERNS_SPAWN_FAILED', message: /\/nonexistent\/dir does not exist/ },
      { name: 'an unknown option', call: () => spawnInUserNamespace('true', [], 'auto', { stdoi: 'pipe' } as never), code: 'E_OPTION_UNKNOWN' },
      { name: 'an unknown namespace', call: () => spawnInUserNamespace('true', [], 'auto', { extraUnshare: ['user' as never] }), code: 'E_OPTION_INVALID' },
      { name: 'a stdio array of the wrong length', call: () => spawnInUserNamespace('true', [], 'auto', { stdio: ['pipe', 'pipe'] as never }), code: 'E_OPTION_INVALID' },
      { name: 'maps that are neither auto nor maps', call: () => spawnInUserNamespace('true', [], 'host' as never), code: 'E_OPTION_INVALID' },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const e = await rejects(c.call());
        assert.equal(e.code, c.code);
        if (c.message) assert.match(e.message, c.message);
      });
    }

    test('no unshare in the facts -> E_USERNS_TOOL_MISSING', async () => {
      const facts = await readHostFacts();
      delete facts.tools.unshare;
      const e = await rejects(spawnInUserNamespace('true', [], 'auto', { facts }));
      assert.equal(e.code, 'E_USERNS_TOOL_MISSING');
    });

    /** Facts whose `unshare` is a script, to make the holder fail at a chosen step. */
    async function factsWithUnshare(name: string, script: string): Promise<HostFacts> {
      const path = join(tmp, name);
      writeFileSync(path, `#!/bin/sh\n${script}\n`);
      chmodSync(path, 0o755);
      const facts = await readHostFacts();
      facts.tools.unshare = { path, setuidRoot: false };
      return facts;
    }

    test('unshare failing before the namespace exists is diagnosed from its message', async () => {
      const facts = await factsWithUnshare('unshare-eperm', 'echo "unshare: unshare failed: Operation not permitted" >&2; exit 1');
      const e = await rejects(spawnInUserNamespace('true', [], { uidMap: one, gidMap: one }, { facts }));
      assert.equal(e.code, 'E_USERNS_UNSHARE_DENIED');
      assert.match(e.message, /Operation not permitted/);
    });

    test('a map that cannot be written kills the holder and reports it', async () => {
      // This "holder" says ready without creating a namespace: its uid_map is the initial one, written already.
      const facts = await factsWithUnshare('unshare-fake', 'printf r >&3; IFS= read -r go <&3; [ "$go" = ok ] || exit 125; echo released');
      const e = await rejects(spawnInUserNamespace('true', [], { uidMap: one, gidMap: one }, { facts, stdio: ['ignore', 'pipe', 'pipe'] }));
      assert.equal(e.code, 'E_USERNS_MAP_FAILED');
      const pid = (e.details as { pid: number }).pid;
      assert.equal(typeof pid, 'number');
      assert.equal(alive(pid), false, 'the holder was killed');
    });
  });
});
