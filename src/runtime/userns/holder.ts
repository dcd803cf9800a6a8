/**
 * The namespace holder (userns.md section 3 Steps 3-5), driven from Node, which cannot fork:
 * util-linux `unshare --user` (no --fork, so it execs in place and the child's pid is the
 * namespace's first process) runs a `/bin/sh` holder that
 *   1. writes `r` on fd 3 once unshare(CLONE_NEWUSER) has succeeded,
 *   2. blocks reading fd 3 while Node writes the maps (newuidmap/newgidmap, or directly as root),
 *   3. execs the payload only after `ok`, so the exec happens as uid 0 of the namespace and keeps
 *      its capabilities (a process that is not 0 in its namespace loses them at exec, rule 7).
 * As root, the holder is started as the host IDs the map gives container 0, for the same reason.
 * Anything but `ok` makes it exit 125; on any failure Node also kills it. The holder's own fd 2 is
 * a pipe to Node until release, so unshare's complaints are captured; at release the script moves
 * the payload's real stderr (passed as fd 4) to fd 2.
 */
import { execFile, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { constants } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { BerthError, errnoOf } from '../../errors/index.js';
import { inspectTool, OUTER_IDENTITY_ENV, readHostFacts, type HostFacts } from '../../host/index.js';
import {
  describeMap,
  formatIdMap,
  identityOver,
  parseIdMapText,
  sameMapping,
  toContainer,
  toHost,
  validateContainerMap,
  validateMap,
  type IdMap,
} from '../../idmap/index.js';
import { diagnoseMapToolFailure, diagnoseUnshareFailure, preflightRootless, preflightRootlessTools, rootlessMaps } from './preflight.js';

/** Namespaces that can be created together with the user namespace (and so are owned by it). */
export type NamespaceKind = 'mount' | 'pid' | 'net' | 'uts' | 'ipc' | 'cgroup' | 'time';

/** util-linux unshare and nsenter spell these options the same way. */
const NS_FLAG: Record<NamespaceKind, string> = {
  mount: '--mount',
  pid: '--pid',
  net: '--net',
  uts: '--uts',
  ipc: '--ipc',
  cgroup: '--cgroup',
  time: '--time',
};

/** Like child_process stdio entries: a pipe to Node, the parent's fd, nothing, or an fd number. */
export type StdioTarget = 'pipe' | 'inherit' | 'ignore' | number;

export interface UserNsSpawnOptions {
  /** One value for all three, or [stdin, stdout, stderr]; default 'inherit'. Only fds 0-2 are given to the payload. */
  stdio?: StdioTarget | readonly [StdioTarget, StdioTarget, StdioTarget];
  /** The payload's environment; default process.env. Rootless adds BERTH_ROOTLESS_UID/GID/USER. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * More namespaces to create with (and owned by) the user namespace. With 'pid' the payload itself
   * stays in the parent PID namespace and its first child becomes PID 1 (unshare without --fork).
   */
  extraUnshare?: readonly NamespaceKind[];
  /** Host facts to use; default a fresh readHostFacts(). */
  facts?: HostFacts;
}

export interface UserNsJoinOptions {
  stdio?: UserNsSpawnOptions['stdio'];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Namespaces of the holder to join besides its user namespace (e.g. 'mount'). */
  namespaces?: readonly NamespaceKind[];
  facts?: HostFacts;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process running in a user namespace berth set up (or joined); shaped like a ChildProcess. */
export interface UserNsChild extends EventEmitter {
  readonly pid: number;
  /** Streams exist for the stdio entries given as 'pipe'. */
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** The maps the namespace has, as read back from /proc/PID (outside IDs as seen by berth). */
  readonly uidMap: IdMap;
  readonly gidMap: IdMap;
  /** Sends a signal; false when the process is gone. Default SIGTERM. */
  kill(signal?: NodeJS.Signals | number): boolean;
  /** Resolves once the process has exited and its piped streams are closed. Never rejects after start. */
  wait(): Promise<ExitStatus>;
  /** Lets this process exit while the child (and its pipes) still run, like ChildProcess.unref(). */
  unref(): void;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

class Child extends EventEmitter implements UserNsChild {
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  uidMap: IdMap = [];
  gidMap: IdMap = [];
  readonly #proc: ChildProcess;
  readonly #done: Promise<ExitStatus>;

  constructor(proc: ChildProcess, streams: { stdin: Writable | null; stdout: Readable | null; stderr: Readable | null }) {
    super();
    this.#proc = proc;
    this.pid = proc.pid!;
    this.stdin = streams.stdin;
    this.stdout = streams.stdout;
    this.stderr = streams.stderr;
    proc.on('exit', (code, signal) => this.emit('exit', code, signal));
    // A ChildProcess 'error' after a successful spawn means a failed kill or stdio problem; pass it
    // on to listeners. Without listeners it is not lost: kill() already returned false for it.
    proc.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
    this.#done = new Promise((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    return this.#proc.kill(signal);
  }

  wait(): Promise<ExitStatus> {
    return this.#done;
  }

  unref(): void {
    this.#proc.unref();
    for (const s of [this.stdin, this.stdout, this.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  }
}

function checkKeys(op: string, o: object, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new BerthError('E_OPTION_UNKNOWN', `${op}(): unknown option "${k}"`, { hint: `valid options: ${allowed.join(', ')}` });
    }
  }
}

function checkNamespaces(op: string, list: readonly NamespaceKind[] | undefined, name: string): NamespaceKind[] {
  const out: NamespaceKind[] = [];
  for (const n of list ?? []) {
    if (!Object.hasOwn(NS_FLAG, n)) {
      throw new BerthError('E_OPTION_INVALID', `${op}(): option "${name}" has unknown namespace "${String(n)}"`, {
        hint: `valid: ${Object.keys(NS_FLAG).join(', ')} (the user namespace is always created)`,
      });
    }
    if (!out.includes(n)) out.push(n);
  }
  return out.sort();
}

function checkStdio(op: string, s: UserNsSpawnOptions['stdio']): [StdioTarget, StdioTarget, StdioTarget] {
  const one = (t: unknown): StdioTarget => {
    if (t === 'pipe' || t === 'inherit' || t === 'ignore' || (typeof t === 'number' && Number.isInteger(t) && t >= 0)) return t;
    throw new BerthError('E_OPTION_INVALID', `${op}(): stdio entry ${JSON.stringify(t)} is not 'pipe', 'inherit', 'ignore' or an fd`);
  };
  if (s === undefined) return ['inherit', 'inherit', 'inherit'];
  if (Array.isArray(s)) {
    if (s.length !== 3) throw new BerthError('E_OPTION_INVALID', `${op}(): stdio must have exactly 3 entries (stdin, stdout, stderr)`);
    return [one(s[0]), one(s[1]), one(s[2])];
  }
  const t = one(s);
  return [t, t, t];
}

/** Up to 64 KiB of a stream, for messages. */
function collect(stream: Readable | null | undefined): { text: () => string } {
  let buf = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (d: string) => {
    if (buf.length < 65536) buf += d;
  });
  stream?.on('error', () => {
    // Only used for diagnostics: a broken pipe here means the holder is gone, which is reported by its exit.
  });
  return { text: () => buf };
}

function runTool(path: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    // LC_ALL=C: the messages are matched in English (shadow translates them).
    execFile(path, args, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' }, timeout: 30_000 }, (err, _stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stderr: String(stderr) || (err && code === null ? err.message : '') });
    });
  });
}

function triples(map: IdMap): string[] {
  return map.flatMap((r) => [String(r.container), String(r.host), String(r.size)]);
}

/** Root (or namespace root) writes the maps itself: one write(2) at offset 0 per file (rule 2). */
async function writeMapFile(pid: number, file: 'uid_map' | 'gid_map', map: IdMap): Promise<void> {
  const text = Buffer.from(formatIdMap(map));
  // O_WRONLY only: no O_CREAT/O_TRUNC on a procfs file.
  const fh = await open(`/proc/${pid}/${file}`, constants.O_WRONLY);
  try {
    // position null: write(2), not pwrite(2), which procfs refuses (ESPIPE); the fresh fd is at offset 0.
    const { bytesWritten } = await fh.write(text, 0, text.length, null);
    if (bytesWritten !== text.length) throw Object.assign(new Error(`short write (${bytesWritten} of ${text.length} bytes)`), { code: 'EIO' });
  } finally {
    await fh.close();
  }
}

async function readMaps(pid: number): Promise<{ uidMap: IdMap; gidMap: IdMap; setgroups: string | undefined }> {
  const [u, g, s] = await Promise.all([
    readFile(`/proc/${pid}/uid_map`, 'utf8'),
    readFile(`/proc/${pid}/gid_map`, 'utf8'),
    readFile(`/proc/${pid}/setgroups`, 'utf8').catch((e: unknown) => {
      // Kernels before 3.19 have no setgroups file; nothing to verify then.
      if (errnoOf(e) === 'ENOENT') return undefined;
      throw e;
    }),
  ]);
  return { uidMap: parseIdMapText(u, `/proc/${pid}/uid_map`), gidMap: parseIdMapText(g, `/proc/${pid}/gid_map`), setgroups: s?.trim() };
}

/**
 * A fresh look at the host for diagnosing a failed newuidmap/newgidmap (Step 4: re-run the Step 1
 * checks), with the tools that actually ran re-inspected: facts passed in may be older than the cause.
 */
async function recheck(facts: HostFacts): Promise<HostFacts> {
  let fresh: HostFacts;
  try {
    fresh = await readHostFacts();
  } catch {
    // Diagnosis is best effort: with no fresh view, the facts the caller gave are the best evidence.
    return facts;
  }
  const tools = { ...fresh.tools };
  for (const name of ['newuidmap', 'newgidmap'] as const) {
    const used = facts.tools[name];
    if (used) tools[name] = await inspectTool(name, used.path).catch(() => used);
  }
  return { ...fresh, tools };
}

const HOLDER_SCRIPT_HEAD = 'printf r >&3 || exit 125; IFS= read -r go <&3 || exit 125; [ "$go" = ok ] || exit 125; ';

/**
 * Runs `command args` as uid 0 of a new user namespace with the given maps, or 'auto': the
 * rootless map from the host facts (`0 -> uid`, then the subordinate ranges), or when berth runs as
 * root (or already inside a namespace) all of its own IDs, identity-mapped.
 *
 * Rootless, the maps are written by newuidmap then newgidmap (never setgroups by hand: with
 * subordinate GIDs newgidmap leaves it "allow", which supplementary groups need); as root they are
 * written directly. They are read back and compared before the payload is released. Resolves
 * once the payload runs; on any failure the holder is told `fail`, killed, and a BerthError is
 * thrown (E_USERNS_*, E_NO_SUBIDS, E_SUBID_*, E_IDMAP_*). There is no silent fallback to a
 * one-ID map.
 */
export async function spawnInUserNamespace(
  command: string,
  args: readonly string[],
  maps: { uidMap: IdMap; gidMap: IdMap } | 'auto',
  spawnOptions: UserNsSpawnOptions = {},
): Promise<UserNsChild> {
  const OP = 'spawnInUserNamespace';
  checkKeys(OP, spawnOptions, ['stdio', 'env', 'cwd', 'extraUnshare', 'facts']);
  if (typeof command !== 'string' || command === '') throw new BerthError('E_OPTION_INVALID', `${OP}(): command must be a non-empty string`);
  const stdio = checkStdio(OP, spawnOptions.stdio);
  const extra = checkNamespaces(OP, spawnOptions.extraUnshare, 'extraUnshare');
  const facts = spawnOptions.facts ?? (await readHostFacts());
  const rootless = facts.mode === 'rootless';
  const who = facts.userName ?? `uid ${facts.uid}`;
  const op = `create user namespace for ${who}`;

  let uidMap: IdMap;
  let gidMap: IdMap;
  if (maps === 'auto') {
    if (rootless) {
      preflightRootless(facts);
      ({ uidMap, gidMap } = rootlessMaps(facts));
    } else {
      uidMap = identityOver(facts.uidMap);
      gidMap = identityOver(facts.gidMap);
    }
  } else {
    if (typeof maps !== 'object' || maps === null || !Array.isArray(maps.uidMap) || !Array.isArray(maps.gidMap)) {
      throw new BerthError('E_OPTION_INVALID', `${OP}(): maps must be 'auto' or { uidMap, gidMap }`);
    }
    uidMap = maps.uidMap.map((r) => ({ container: r.container, host: r.host, size: r.size }));
    gidMap = maps.gidMap.map((r) => ({ container: r.container, host: r.host, size: r.size }));
    validateMap(uidMap, 'uid map');
    validateMap(gidMap, 'gid map');
    if (rootless) {
      preflightRootlessTools(facts);
    } else {
      // Only IDs berth's own namespace has can be mapped (user_namespaces(7)); say which ones it lacks.
      validateContainerMap(uidMap, facts.uidMap, 'uid', 'uid map', false);
      validateContainerMap(gidMap, facts.gidMap, 'gid', 'gid map', false);
    }
  }
  // The payload must be uid/gid 0 of the namespace when it execs, or it loses every capability
  // (rule 7). Rootless, the holder runs as the user, so the map must send the user's IDs to 0.
  // As root, the holder is started as the host IDs the map sends to 0 (libuv clears its
  // supplementary groups), and berth writes the maps with its CAP_SETUID/CAP_SETGID.
  const rootUid = toHost(uidMap, 0);
  const rootGid = toHost(gidMap, 0);
  if (rootless ? rootUid !== facts.euid || rootGid !== facts.egid : rootUid === undefined || rootGid === undefined) {
    throw new BerthError(
      'E_USERNS_ROOT_UNMAPPED',
      rootless
        ? `${op}: the maps send ${rootUid === undefined ? 'no ID' : `host ${rootUid}:${String(rootGid)}`} to 0, not your own uid:gid ${facts.euid}:${facts.egid}; the payload would run without capabilities`
        : `${op}: the maps have no container ID 0; the payload would run as an unmapped user without capabilities`,
      {
        hint: rootless ? `map container 0 to your own IDs, e.g. uid map 0 ${facts.euid} 1 followed by subordinate ranges` : 'add a range for container ID 0 to both maps',
        details: { uidMap, gidMap },
      },
    );
  }
  const switchIds = !rootless && (rootUid !== facts.euid || rootGid !== facts.egid);

  const unshare = facts.tools.unshare;
  if (!unshare) {
    throw new BerthError('E_USERNS_TOOL_MISSING', `${op}: util-linux \`unshare\` not found in PATH`, { hint: 'install util-linux', details: { tool: 'unshare' } });
  }

  // With subordinate GIDs newgidmap keeps setgroups "allow"; a lone own-GID line makes it "deny".
  const expectSetgroups = !rootless || gidMap.some((r) => !(r.host === facts.gid && r.size === 1)) ? 'allow' : 'deny';

  const env: NodeJS.ProcessEnv = { ...(spawnOptions.env ?? process.env) };
  if (rootless) {
    env[OUTER_IDENTITY_ENV.uid] = String(facts.uid);
    env[OUTER_IDENTITY_ENV.gid] = String(facts.gid);
    if (facts.userName !== undefined) env[OUTER_IDENTITY_ENV.user] = facts.userName;
  }

  // fd 2 of the holder is Node's until release; the payload's stderr waits on fd 4.
  const [in0, out1, err2] = stdio;
  const errTarget = err2 === 'inherit' ? 2 : err2;
  const release = errTarget === 'ignore' ? 'exec "$@" 3>&- 2>/dev/null' : 'exec "$@" 3>&- 2>&4 4>&-';
  const childStdio: StdioOptions = [in0, out1, 'pipe', 'pipe', errTarget === 'ignore' ? 'ignore' : errTarget];
  const argv = ['--user', ...extra.map((n) => NS_FLAG[n]), '--', '/bin/sh', '-c', HOLDER_SCRIPT_HEAD + release, 'berth-holder', command, ...args];

  const proc = spawn(unshare.path, argv, {
    stdio: childStdio,
    env,
    ...(spawnOptions.cwd !== undefined ? { cwd: spawnOptions.cwd } : {}),
    ...(switchIds ? { uid: rootUid!, gid: rootGid! } : {}),
  });
  const diag = collect(proc.stdio[2] as Readable);
  const ctl = proc.stdio[3] as (Readable & Writable) | null;
  ctl?.on('error', () => {
    // The control socket breaks only when the holder died; its exit status is what gets reported.
  });
  const closed = new Promise<ExitStatus>((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));

  const started = await new Promise<{ ok: true } | { ok: false; error: Error }>((resolve) => {
    proc.once('spawn', () => resolve({ ok: true }));
    proc.once('error', (error) => resolve({ ok: false, error }));
  });
  if (!started.ok) {
    const cwd = spawnOptions.cwd;
    if (errnoOf(started.error) === 'ENOENT' && cwd !== undefined && !(await stat(cwd).then(() => true, () => false))) {
      throw new BerthError('E_USERNS_SPAWN_FAILED', `${op}: working directory ${cwd} does not exist`, { cause: started.error, details: { cwd } });
    }
    const as = switchIds ? ` as host uid ${rootUid} gid ${rootGid} (container root)` : '';
    throw new BerthError('E_USERNS_SPAWN_FAILED', `${op}: cannot start ${unshare.path}${as}: ${started.error.message}`, {
      hint: switchIds
        ? `the holder runs as host uid ${rootUid}, which must be able to reach the working directory and ${unshare.path}`
        : 'check that util-linux unshare is installed and executable',
      cause: started.error,
      details: { path: unshare.path, ...(switchIds ? { uid: rootUid, gid: rootGid } : {}) },
    });
  }
  const pid = proc.pid!;

  const fail = async (error: BerthError): Promise<never> => {
    if (ctl && !ctl.destroyed && ctl.writable) ctl.end('fail\n');
    proc.kill('SIGKILL');
    await closed;
    throw error;
  };

  // Step 3: wait for `r` (the namespace exists) or for the holder to die first.
  const ready = await new Promise<boolean>((resolve) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('r')) {
        ctl!.off('data', onData);
        resolve(true);
      }
    };
    ctl?.on('data', onData);
    void closed.then(() => resolve(false));
  });
  if (!ready) {
    const st = await closed;
    throw diagnoseUnshareFailure(diag.text(), st.code, facts);
  }

  // Step 4: write the maps.
  try {
    if (rootless) {
      for (const [tool, map] of [
        ['newuidmap', uidMap],
        ['newgidmap', gidMap],
      ] as const) {
        const r = await runTool(facts.tools[tool]!.path, [String(pid), ...triples(map)]);
        if (r.code !== 0) {
          await fail(diagnoseMapToolFailure({ tool, code: r.code, stderr: r.stderr, pid, holderStderr: diag.text() }, await recheck(facts)));
        }
      }
    } else {
      await writeMapFile(pid, 'uid_map', uidMap);
      await writeMapFile(pid, 'gid_map', gidMap);
    }
  } catch (e) {
    if (e instanceof BerthError) throw e;
    const code = errnoOf(e);
    await fail(
      new BerthError('E_USERNS_MAP_FAILED', `${op}: writing the maps of holder ${pid} failed: ${(e as Error).message}`, {
        hint: code === 'EINVAL' ? 'the kernel rejected the map: overlapping ranges, more than 340 lines, or 4 KiB or more of text' : 'berth needs CAP_SETUID and CAP_SETGID over the new namespace to write its maps',
        cause: e,
        details: { pid, errno: code },
      }),
    );
  }

  // Step 5: verify, then release.
  let applied: Awaited<ReturnType<typeof readMaps>>;
  try {
    applied = await readMaps(pid);
  } catch (e) {
    return fail(new BerthError('E_USERNS_VERIFY_FAILED', `${op}: cannot read back the maps of holder ${pid}: ${(e as Error).message}`, { cause: e }));
  }
  for (const [kind, want, got] of [
    ['uid', uidMap, applied.uidMap],
    ['gid', gidMap, applied.gidMap],
  ] as const) {
    if (!sameMapping(want, got)) {
      await fail(
        new BerthError('E_USERNS_VERIFY_FAILED', `${op}: ${kind}_map of holder ${pid} is "${describeMap(got)}", expected "${describeMap(want)}"`, {
          hint: 'something else wrote the map first; retry, and report it if it persists',
          details: { kind, expected: want, applied: got },
        }),
      );
    }
  }
  if (applied.setgroups !== undefined && applied.setgroups !== expectSetgroups) {
    await fail(
      new BerthError(
        'E_USERNS_VERIFY_FAILED',
        `${op}: setgroups of holder ${pid} is "${applied.setgroups}", expected "${expectSetgroups}"${expectSetgroups === 'allow' ? ': supplementary groups could not be set in the namespace (runc would silently keep host groups, which show as 65534)' : ''}`,
        {
          hint: expectSetgroups === 'allow' ? 'berth runs in a namespace whose setgroups is "deny" (inherited); start it outside that namespace' : 'retry, and report it if it persists',
          details: { expected: expectSetgroups, applied: applied.setgroups },
        },
      ),
    );
  }

  const child = new Child(proc, {
    stdin: in0 === 'pipe' ? proc.stdin : null,
    stdout: out1 === 'pipe' ? proc.stdout : null,
    stderr: err2 === 'pipe' ? (proc.stdio[4] as Readable) : null,
  });
  child.uidMap = applied.uidMap;
  child.gidMap = applied.gidMap;
  ctl!.end('ok\n');
  return child;
}

/**
 * Runs `command args` in the user namespace (and `namespaces`) of a live process, e.g. a holder
 * kept for a store (Step 8), with `nsenter -t PID -U`. Credentials are preserved when berth's own
 * uid is mapped in there (rootless: it is 0 inside), else nsenter becomes uid/gid 0 of the
 * namespace (root joining a namespace that maps other IDs). No newuidmap is needed.
 * Resolves once nsenter has started; its failures (e.g. setns EPERM) show as its exit status.
 */
export async function joinUserNamespace(pid: number, command: string, args: readonly string[], options: UserNsJoinOptions = {}): Promise<UserNsChild> {
  const OP = 'joinUserNamespace';
  checkKeys(OP, options, ['stdio', 'env', 'cwd', 'namespaces', 'facts']);
  if (!Number.isInteger(pid) || pid <= 0) throw new BerthError('E_OPTION_INVALID', `${OP}(): pid must be a positive integer`);
  if (typeof command !== 'string' || command === '') throw new BerthError('E_OPTION_INVALID', `${OP}(): command must be a non-empty string`);
  const stdio = checkStdio(OP, options.stdio);
  const namespaces = checkNamespaces(OP, options.namespaces, 'namespaces');
  const facts = options.facts ?? (await readHostFacts());
  const op = `join user namespace of process ${pid}`;
  const nsenter = facts.tools.nsenter;
  if (!nsenter) {
    throw new BerthError('E_USERNS_TOOL_MISSING', `${op}: util-linux \`nsenter\` not found in PATH`, { hint: 'install util-linux', details: { tool: 'nsenter' } });
  }
  let maps: Awaited<ReturnType<typeof readMaps>>;
  try {
    maps = await readMaps(pid);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ESRCH') {
      throw new BerthError('E_USERNS_HOLDER_GONE', `${op}: no such process`, {
        hint: 'the namespace holder has exited; start a new one (containers it held cannot be joined any more)',
        cause: e,
        details: { pid },
      });
    }
    throw e;
  }
  const preserve = toContainer(maps.uidMap, facts.euid) !== undefined && toContainer(maps.gidMap, facts.egid) !== undefined;
  const argv = ['-t', String(pid), '--user', ...(preserve ? ['--preserve-credentials'] : []), ...namespaces.map((n) => NS_FLAG[n]), '--', command, ...args];
  const [in0, out1, err2] = stdio;
  const proc = spawn(nsenter.path, argv, {
    stdio: [in0, out1, err2],
    env: options.env ?? process.env,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  });
  const started = await new Promise<Error | undefined>((resolve) => {
    proc.once('spawn', () => resolve(undefined));
    proc.once('error', (e) => resolve(e));
  });
  if (started) {
    throw new BerthError('E_USERNS_SPAWN_FAILED', `${op}: cannot start ${nsenter.path}: ${started.message}`, { cause: started });
  }
  const child = new Child(proc, {
    stdin: in0 === 'pipe' ? proc.stdin : null,
    stdout: out1 === 'pipe' ? proc.stdout : null,
    stderr: err2 === 'pipe' ? proc.stderr : null,
  });
  child.uidMap = maps.uidMap;
  child.gidMap = maps.gidMap;
  return child;
}
