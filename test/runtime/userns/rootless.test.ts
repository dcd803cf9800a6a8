/**
 * The rootless flow for real: a compiled probe (rootless-probe.ts) runs as an unprivileged user and
 * creates its namespace through unshare + the setuid newuidmap/newgidmap. The test, as root, makes
 * the users it needs (idempotently; it only ever appends its own subid lines).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSubidFile, selectSubids } from '../../../src/idmap/index.js';

const USER = 'berthtest';
const NOSUB = 'berthnosub';
const RANGE = { start: 200000, count: 65536 };
const probe = fileURLToPath(new URL('./rootless-probe.js', import.meta.url));

function has(cmd: string): boolean {
  return spawnSync('/bin/sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const skip =
  process.geteuid?.() !== 0
    ? 'needs root to create the unprivileged test users'
    : !has('useradd') || !has('runuser') || !has('flock') || !has('newuidmap')
      ? 'needs useradd, runuser, flock and newuidmap (Debian: passwd, util-linux, uidmap)'
      : false;

function uidOf(name: string): number | undefined {
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

/** Creates `name` without automatic subordinate IDs (-K SUB_*_COUNT=0) unless it exists. */
function ensureUser(name: string): number {
  if (uidOf(name) === undefined) {
    const r = spawnSync('useradd', ['-m', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name], { encoding: 'utf8' });
    // Another test run may have created it in the meantime.
    if (r.status !== 0 && uidOf(name) === undefined) throw new Error(`useradd ${name}: ${r.stderr}`);
  }
  return uidOf(name)!;
}

/** The user's lines in a subid file, as shadow would select them. */
function linesOf(file: string, name: string, uid: number) {
  return selectSubids(parseSubidFile(readFileSync(file, 'utf8')), { user: name, uid });
}

/**
 * Appends `name:start:count` to /etc/subuid and /etc/subgid when that exact line is missing. Under
 * flock: two test runs appending at once would leave the line twice, an overlap forever after.
 */
function ensureSubids(name: string): void {
  const line = `${name}:${RANGE.start}:${RANGE.count}`;
  const script = [
    'for f in /etc/subuid /etc/subgid; do',
    '  grep -qxF "$1" "$f" 2>/dev/null && continue',
    '  if [ -s "$f" ] && [ -n "$(tail -c1 "$f")" ]; then echo >> "$f"; fi',
    '  echo "$1" >> "$f"',
    'done',
  ].join('\n');
  const r = spawnSync('flock', ['/run/lock/berth-test-subids.lock', '/bin/sh', '-c', script, 'ensure-subids', line], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`adding ${line} to /etc/subuid and /etc/subgid: ${r.stderr}`);
}

interface ProbeResult {
  ok: boolean;
  code?: string;
  message?: string;
  hint?: string;
  details?: Record<string, unknown>;
  stdout?: string;
  [k: string]: unknown;
}

/** Runs the probe as `user`, optionally behind `wrapper` (e.g. setpriv) and with a PATH. */
function runProbe(user: string, mode: string, opts: { wrapper?: string[]; path?: string } = {}): ProbeResult {
  const system = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';
  // runuser and env are found through the system PATH; the probe gets `opts.path`.
  const argv = ['-u', user, '--', 'env', `PATH=${opts.path ?? system}`, ...(opts.wrapper ?? []), process.execPath, probe, mode];
  const r = spawnSync('runuser', argv, { encoding: 'utf8', cwd: '/', env: { PATH: system, LANG: 'C' } });
  assert.equal(r.status, 0, `probe exited ${String(r.status)}: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as ProbeResult;
}

/** `N  host  count` lines of /proc/self/uid_map, as cat prints them. */
function kernelLines(map: [number, number, number][]): string {
  return map.map(([a, b, c]) => `${String(a).padStart(10)} ${String(b).padStart(10)} ${String(c).padStart(10)}\n`).join('');
}

describe('rootless user namespace, end to end', { skip }, () => {
  let uid = 0;
  let gid = 0;
  let exact = true;
  before(() => {
    uid = ensureUser(USER);
    gid = Number(spawnSync('id', ['-g', USER], { encoding: 'utf8' }).stdout.trim());
    ensureSubids(USER);
    // Lines for this user that the test did not write change the expected map; say so instead of failing.
    exact = linesOf('/etc/subuid', USER, uid).length === 1 && linesOf('/etc/subgid', USER, gid).length === 1;
  });

  test("'auto': 0 -> uid (1) then 1 -> 200000 (65536), setgroups allow, uid 0 with full capabilities", (t) => {
    const r = runProbe(USER, 'auto');
    assert.equal(r.ok, true, JSON.stringify(r));
    const out = r.stdout!;
    const uidLines = kernelLines([
      [0, uid, 1],
      [1, RANGE.start, RANGE.count],
    ]);
    const gidLines = kernelLines([
      [0, gid, 1],
      [1, RANGE.start, RANGE.count],
    ]);
    if (exact) assert.ok(out.startsWith(uidLines + gidLines + 'allow\n'), out);
    else {
      t.diagnostic(`${USER} has other subid lines; checking inclusion only`);
      assert.ok(out.includes(uidLines.split('\n')[0]!) && out.includes(`         1     ${RANGE.start}`), out);
    }
    assert.match(out, /^uid=0\(root\) gid=0\(root\)/m);
    assert.match(out, /CapEff:\s+0*1f+\n/);
  });

  test('host facts of the rootless user: the files when nsswitch names no subid source (as shadow does), getsubids when it names one', () => {
    const plain = runProbe(USER, 'facts');
    const p = plain.facts as { subidSource: string; subuids: unknown };
    if (!/^\s*subid\s*:\s*(?!files)\S/m.test(readFileSync('/etc/nsswitch.conf', 'utf8'))) assert.equal(p.subidSource, 'files');
    const viaTool = runProbe(USER, 'facts-nss');
    const f = viaTool.facts as { mode: string; userName: string; subuids: unknown; subgids: unknown; subidSource: string; uid: number };
    assert.equal(f.mode, 'rootless');
    assert.equal(f.userName, USER);
    assert.equal(f.uid, uid);
    assert.equal(f.subidSource, has('getsubids') ? 'getsubids' : 'files');
    if (exact) assert.deepEqual(f.subuids, [RANGE]);
    assert.deepEqual(p.subuids, f.subuids);
    const viaFiles = runProbe(USER, 'facts-nss', { path: '/nonexistent' });
    const g = viaFiles.facts as typeof f;
    assert.equal(g.subidSource, 'files');
    assert.deepEqual(g.subuids, f.subuids);
    assert.deepEqual(g.subgids, f.subgids);
  });

  test('a getsubids that answers something unexpected: warning W_GETSUBIDS, then the files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-getsubids-'));
    try {
      writeFileSync(join(dir, 'getsubids'), '#!/bin/sh\necho "ranges: plenty"\n');
      chmodSync(join(dir, 'getsubids'), 0o755);
      chmodSync(dir, 0o755);
      const r = runProbe(USER, 'facts-nss', { path: `${dir}:/usr/bin:/bin` });
      const f = r.facts as { subidSource: string; subuids: unknown; warnings: { code: string; message: string }[] };
      assert.equal(f.subidSource, 'files');
      if (exact) assert.deepEqual(f.subuids, [RANGE]);
      assert.deepEqual(
        f.warnings.map((w) => w.code),
        ['W_GETSUBIDS', 'W_GETSUBIDS'],
      );
      assert.match(f.warnings[0]!.message, /gave an unexpected answer .*ranges: plenty.*reading \/etc\/subuid and \/etc\/subgid instead/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('extraUnshare mount: new user and mount namespaces', () => {
    const r = runProbe(USER, 'mount');
    assert.equal(r.ok, true, JSON.stringify(r));
    const [mnt, user] = r.stdout!.trim().split('\n');
    assert.notEqual(mnt, r.outerMnt);
    assert.notEqual(user, r.outerUser);
  });

  test('scenario 26: a later command joins with nsenter --preserve-credentials: same maps, uid 0, full caps', () => {
    const r = runProbe(USER, 'join');
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.deepEqual(r.joinedUidMap, r.holderUidMap);
    assert.equal(r.holderExit, 0);
    assert.match(r.stdout!, /^uid=0\(root\)/m);
    assert.match(r.stdout!, /CapEff:\s+0*1f+\n/);
  });

  test('scenario 11: a user without subordinate IDs gets E_NO_SUBIDS, not a one-ID map', (t) => {
    const nosubUid = ensureUser(NOSUB);
    if (linesOf('/etc/subuid', NOSUB, nosubUid).length > 0) {
      t.skip(`${NOSUB} has subuid lines on this machine`);
      return;
    }
    const r = runProbe(NOSUB, 'auto');
    assert.equal(r.code, 'E_NO_SUBIDS', JSON.stringify(r));
    assert.match(r.message!, new RegExp(`no subordinate UIDs for ${NOSUB} in /etc/subuid \\(or NSS subid\\)`));
    assert.match(r.hint!, new RegExp(`usermod --add-subuids .* ${NOSUB}`));
  });

  test('scenario 12: an explicit one-ID map is honoured, with setgroups deny as newgidmap writes it', () => {
    const r = runProbe(USER, 'single');
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.stdout!.split('\n').slice(0, 3).join('\n') + '\n', kernelLines([[0, uid, 1]]) + kernelLines([[0, gid, 1]]) + 'deny\n');
    assert.match(r.stdout!, /^uid=0\(root\) gid=0\(root\)/m);
  });

  test('scenario 14: under setpriv --no-new-privs, preflight names no_new_privs', () => {
    const r = runProbe(USER, 'auto', { wrapper: ['setpriv', '--no-new-privs'] });
    assert.equal(r.code, 'E_USERNS_NO_NEW_PRIVS', JSON.stringify(r));
    assert.match(r.message!, /berth runs with no_new_privs .* so the setuid newuidmap cannot work/);
  });

  test('scenario 14 past preflight: newuidmap really fails with EPERM and the error still names no_new_privs', () => {
    const r = runProbe(USER, 'stale-facts', { wrapper: ['setpriv', '--no-new-privs'] });
    assert.equal(r.code, 'E_USERNS_NO_NEW_PRIVS', JSON.stringify(r));
    assert.equal(r.details?.stderr, 'newuidmap: write to uid_map failed: Operation not permitted');
  });

  describe('a copy of newuidmap/newgidmap without setuid first in PATH (scenario 13)', () => {
    let dir = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'berth-nosetuid-'));
      for (const tool of ['newuidmap', 'newgidmap']) {
        const src = spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
        copyFileSync(src, join(dir, tool));
        chmodSync(join(dir, tool), 0o755);
      }
      chmodSync(dir, 0o755);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));
    test('preflight: "neither setuid root nor has cap_setuid+ep"', () => {
      const r = runProbe(USER, 'auto', { path: `${dir}:/usr/bin:/bin` });
      assert.equal(r.code, 'E_USERNS_TOOL_NOT_PRIVILEGED', JSON.stringify(r));
      assert.match(r.message!, new RegExp(`${dir}/newuidmap is neither setuid root nor has cap_setuid\\+ep`));
    });
    test('past preflight: the real EPERM is traced back to the missing setuid bit', () => {
      const r = runProbe(USER, 'stale-facts', { path: `${dir}:/usr/bin:/bin` });
      assert.equal(r.code, 'E_USERNS_TOOL_NOT_PRIVILEGED', JSON.stringify(r));
      assert.equal(r.details?.stderr, 'newuidmap: write to uid_map failed: Operation not permitted');
    });
  });

  test('scenario 19: a range that is not delegated is named', () => {
    const r = runProbe(USER, 'undelegated');
    assert.equal(r.code, 'E_USERNS_NOT_DELEGATED', JSON.stringify(r));
    assert.match(r.message!, new RegExp(`host UIDs 300000\\.\\.300009 are not delegated to ${USER} \\(check /etc/subuid or \`getsubids ${USER}\`\\)`));
    assert.equal(r.details?.stderr, 'newuidmap: uid range [1-11) -> [300000-300010) not allowed');
  });

  test('inside the namespace, host facts say in-userns and carry the outer identity', () => {
    const r = runProbe(USER, 'inner-facts');
    assert.equal(r.ok, true, JSON.stringify(r));
    const f = r.facts as { mode: string; euid: number; outer: unknown; subuids: unknown; subidSource: string };
    assert.equal(f.mode, 'in-userns');
    assert.equal(f.euid, 0);
    assert.deepEqual(f.outer, { uid, gid, userName: USER });
    assert.equal(f.subidSource, 'namespace');
    if (exact) assert.deepEqual(f.subuids, [RANGE]);
  });
});
