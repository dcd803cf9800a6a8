/**
 * Run as an unprivileged user by rootless.test.ts: exercises the rootless flow from a process that
 * really is rootless, and prints one JSON line with what happened. Never throws: errors are data.
 * Usage: node rootless-probe.js auto|facts|facts-nss|inner-facts|join|mount|single|stale-facts|undelegated
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readHostFacts } from '../../../src/host/index.js';
import { isBerthError } from '../../../src/errors/index.js';
import { joinUserNamespace, spawnInUserNamespace, type UserNsChild } from '../../../src/runtime/userns/index.js';

const REPORT = 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id; grep CapEff /proc/self/status';

async function output(child: UserNsChild): Promise<{ stdout: string; stderr: string; code: number | null }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const st = await child.wait();
  return { stdout, stderr, code: st.code };
}

async function main(mode: string): Promise<unknown> {
  switch (mode) {
    case 'facts':
      return { facts: await readHostFacts() };
    case 'facts-nss': {
      // nsswitch.conf naming a subid source (as with SSSD): only getsubids knows the ranges.
      const dir = mkdtempSync(join(tmpdir(), 'berth-nss-'));
      writeFileSync(join(dir, 'nsswitch.conf'), 'passwd: files\nsubid: sss\n');
      try {
        return { facts: await readHostFacts({ nsswitchPath: join(dir, 'nsswitch.conf') }) };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    case 'auto': {
      const child = await spawnInUserNamespace('/bin/sh', ['-c', REPORT], 'auto', { stdio: ['ignore', 'pipe', 'pipe'] });
      return { pid: child.pid, uidMap: child.uidMap, gidMap: child.gidMap, ...(await output(child)) };
    }
    case 'inner-facts': {
      // This probe again, inside the namespace: what readHostFacts sees there.
      const child = await spawnInUserNamespace(process.execPath, [process.argv[1]!, 'facts'], 'auto', { stdio: ['ignore', 'pipe', 'pipe'] });
      const r = await output(child);
      return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as object;
    }
    case 'stale-facts': {
      // Facts that claim everything is fine, so preflight passes and newuidmap itself fails:
      // the error must still name the real cause.
      const facts = await readHostFacts();
      facts.noNewPrivs = false;
      for (const t of [facts.tools.newuidmap, facts.tools.newgidmap]) if (t) t.setuidRoot = true;
      const child = await spawnInUserNamespace('/bin/sh', ['-c', REPORT], 'auto', { stdio: ['ignore', 'pipe', 'pipe'], facts });
      return output(child);
    }
    case 'undelegated': {
      // Scenario 19: a range the user does not own; newuidmap refuses it.
      const facts = await readHostFacts();
      const own = (id: number) => ({ container: 0, host: id, size: 1 });
      const child = await spawnInUserNamespace('/bin/true', [], {
        uidMap: [own(facts.uid), { container: 1, host: 300000, size: 10 }],
        gidMap: [own(facts.gid), { container: 1, host: 300000, size: 10 }],
      }, { facts });
      return output(child);
    }
    case 'single': {
      // Scenario 12's explicit opt-in: only the user's own IDs. newgidmap then writes "deny".
      const facts = await readHostFacts();
      const child = await spawnInUserNamespace('/bin/sh', ['-c', REPORT], {
        uidMap: [{ container: 0, host: facts.uid, size: 1 }],
        gidMap: [{ container: 0, host: facts.gid, size: 1 }],
      }, { stdio: ['ignore', 'pipe', 'pipe'], facts });
      return output(child);
    }
    case 'mount': {
      const child = await spawnInUserNamespace('/bin/sh', ['-c', 'readlink /proc/self/ns/mnt /proc/self/ns/user'], 'auto', {
        stdio: ['ignore', 'pipe', 'pipe'],
        extraUnshare: ['mount'],
      });
      const { readlink } = await import('node:fs/promises');
      return { outerMnt: await readlink('/proc/self/ns/mnt'), outerUser: await readlink('/proc/self/ns/user'), ...(await output(child)) };
    }
    case 'join': {
      const holder = await spawnInUserNamespace('/bin/sh', ['-c', 'read line'], 'auto', { stdio: ['pipe', 'ignore', 'inherit'] });
      const joined = await joinUserNamespace(holder.pid, '/bin/sh', ['-c', REPORT], { stdio: ['ignore', 'pipe', 'pipe'] });
      const result = await output(joined);
      holder.stdin!.end('done\n');
      const held = await holder.wait();
      return { holderUidMap: holder.uidMap, joinedUidMap: joined.uidMap, holderExit: held.code, ...result };
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

// Without a mode this file does nothing: `node --test DIR` loads every .js under test/.
const mode = process.argv[2];
if (mode !== undefined) {
  void main(mode).then(
    (r) => console.log(JSON.stringify({ ok: true, ...(r as object) })),
    (e: unknown) =>
      console.log(
        JSON.stringify(
          isBerthError(e)
            ? { ok: false, code: e.code, message: e.message, hint: e.hint, details: e.details }
            : { ok: false, code: 'UNEXPECTED', message: String((e as Error)?.stack ?? e) },
        ),
      ),
  );
}
