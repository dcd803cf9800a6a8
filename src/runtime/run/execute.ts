/**
 * One container's life, from the cached rootfs to the last removed file (docs/run.md "Lifecycle"):
 *
 * 1. the image's rootfs is unpacked into the store once (rootfs.ts);
 * 2. under the containers lock: stale containers are reaped (cleanup.ts), the name is checked,
 *    the container directory and its record are created; the lock is released;
 * 3. config.json is written, the payload mounts the rootfs in a private mount namespace and execs
 *    the runtime in the foreground with stdio passed through (runner.ts, payload.ts);
 * 4. signals are forwarded; the runtime's exit status is the container's;
 * 5. everything is removed (`--rm`), or the record is marked exited and the runtime state removed.
 *
 * A berth killed at any point leaves a record whose owner is dead; the next command reaps it.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BerthError, errnoOf, type WarningSink } from '../../errors/index.js';
import type { HostFacts } from '../../host/index.js';
import { toContainer, type IdMap } from '../../idmap/index.js';
import type { Store } from '../../store/index.js';
import { FileLock } from '../../sys/flock.js';
import { detachMount, mountOverlay } from '../../sys/mount.js';
import type { StdioTarget } from '../userns/index.js';
import type { RuntimeSpec } from '../spec/index.js';
import { reapStale, removeContainer, stopLeftovers, type CleanupContext } from './cleanup.js';
import { BUNDLE, ContainerLayout, checkContainerName } from './layout.js';
import { PAYLOAD_SETUP_FAILED, parseRuntimeLog, payloadArgv, runtimeArgv, startFailure, type RootfsMethod } from './payload.js';
import { listContainerIds, processStamp, readRecord, writeRecord, type ContainerRecord } from './record.js';
import { ensureRootfs } from './rootfs.js';
import { startPayload, type RunningPayload } from './runner.js';
import { signalInit } from './state.js';

const PAYLOAD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const RUNTIME_LOG = 'runtime.log';

export interface RunStdio {
  mode: 'inherit' | 'pipe' | { stdin?: Readable; stdout?: Writable; stderr?: Writable };
  input?: Buffer | string;
  interactive: boolean;
  tty: boolean;
  forwardSignals: boolean;
  signal?: AbortSignal;
  stopTimeoutMs: number;
}

export interface ExecuteInput {
  store: Store;
  facts: HostFacts;
  /** The namespace runc runs in. */
  namespace: { uidMap: IdMap; gidMap: IdMap; rootless: boolean };
  /** The container's own user namespace maps (container ID -> namespace ID), when it has one. */
  containerMaps?: { uidMap: IdMap; gidMap: IdMap };
  image: { spec: string; id: string; chainId: string; layers: readonly string[] };
  name?: string;
  autoRemove: boolean;
  runtime: 'runc' | 'crun';
  /** Builds config.json for the container ID, with root.path as given. */
  buildSpec(id: string, rootfsPath: string): RuntimeSpec;
  stdio: RunStdio;
  /** Rootless: run in this process's shared user namespace (runner.ts). */
  shareUserNamespace?: boolean;
  /**
   * A build step: `lowers` are more overlay lower directories (absolute, topmost first) stacked
   * over the cached image rootfs (the layers earlier steps wrote), and the overlay upper directory
   * (what this step changed) is moved to `keepUpper` after the process exits, before cleanup.
   * Needs overlayfs.
   */
  step?: { lowers: readonly string[]; keepUpper: string; base?: string };
  onWarning: WarningSink;
}

export interface ExecuteResult {
  id: string;
  name: string;
  exitCode: number;
  stdout?: Buffer;
  stderr?: Buffer;
}

let overlayKnown: boolean | undefined;

/** Whether this kernel has overlayfs (/proc/filesystems), read once per process. */
async function kernelHasOverlay(): Promise<boolean> {
  if (overlayKnown === undefined) {
    const text = await readFile('/proc/filesystems', 'utf8').catch(() => '');
    overlayKnown = /\boverlay$/m.test(text);
  }
  return overlayKnown;
}

/** Overlay where the kernel allows it (rootful; in a user namespace from Linux 5.11), else a copy. */
export async function rootfsMethod(facts: HostFacts, rootless: boolean): Promise<RootfsMethod> {
  if (!(await kernelHasOverlay())) return 'copy';
  if ((rootless || facts.mode === 'in-userns') && !facts.overlayInUserns) return 'copy';
  return 'overlay';
}

function nameConflict(name: string, id: string): BerthError {
  return new BerthError('E_CONTAINER_NAME_IN_USE', `run --name ${name}: the container name "${name}" is already in use by container ${id.slice(0, 12)}`, {
    hint: 'remove that container (berth rm NAME) or choose another --name',
    details: { name, id },
  });
}

function runtimePath(facts: HostFacts, runtime: 'runc' | 'crun'): string {
  const t = facts.tools[runtime];
  if (!t) {
    throw new BerthError('E_RUN_RUNTIME_MISSING', `run --runtime ${runtime}: ${runtime} not found in PATH`, {
      hint: runtime === 'runc' ? 'install runc (Debian: apt install runc)' : 'install crun, or use --runtime runc',
      details: { runtime },
    });
  }
  return t.path;
}

/** Creates the container directory and record under the lock, after reaping stale containers. */
async function createContainer(input: ExecuteInput, layout: ContainerLayout, cleanup: CleanupContext, chainKey: string): Promise<ContainerRecord> {
  await mkdir(layout.containers, { recursive: true, mode: 0o700 });
  await mkdir(layout.runcRoot, { recursive: true, mode: 0o700 });
  const lock = await FileLock.acquire(layout.lock, 'exclusive');
  try {
    await reapStale(cleanup);
    const id = randomBytes(32).toString('hex');
    const name = input.name !== undefined ? checkContainerName(input.name) : id.slice(0, 12);
    for (const other of await listContainerIds(layout)) {
      const rec = await readRecord(layout, other).catch(() => undefined);
      if (rec?.name === name) throw nameConflict(name, rec.id);
    }
    const owner = await processStamp(process.pid);
    if (!owner) throw new BerthError('E_RUN_PROC', 'run: cannot read /proc/self/stat', { hint: 'berth needs /proc mounted' });
    const rec: ContainerRecord = {
      version: 1,
      id,
      name,
      image: input.image.spec,
      imageId: input.image.id,
      chainId: input.image.chainId,
      rootfsKey: chainKey,
      owner,
      runtime: input.runtime,
      stateRoot: layout.runcRoot,
      rootless: input.namespace.rootless,
      autoRemove: input.autoRemove,
      created: new Date().toISOString(),
      status: 'running',
      ...(input.containerMaps ? { uidMap: input.containerMaps.uidMap, gidMap: input.containerMaps.gidMap } : {}),
    };
    await mkdir(layout.dir(id), { mode: 0o700 });
    await writeRecord(layout, rec);
    return rec;
  } finally {
    lock.release();
  }
}

interface StdioPlan {
  targets: [StdioTarget, StdioTarget, StdioTarget];
  attach(p: RunningPayload): { stdout?: () => Buffer; stderr?: () => Buffer; done: Promise<void> };
}

function planStdio(s: RunStdio): StdioPlan {
  const collect = (stream: Readable | null): { get: () => Buffer; done: Promise<void> } => {
    const chunks: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      if (!stream) return resolve();
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve());
      stream.on('error', () => resolve());
    });
    return { get: () => Buffer.concat(chunks), done };
  };
  if (s.mode === 'inherit') {
    return {
      targets: [s.interactive || s.tty ? 'inherit' : 'ignore', 'inherit', 'inherit'],
      attach: () => ({ done: Promise.resolve() }),
    };
  }
  if (s.mode === 'pipe') {
    return {
      targets: [s.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      attach(p) {
        if (p.stdin) {
          p.stdin.on('error', () => {
            // EPIPE: the container did not read all of its input, as with any pipe.
          });
          p.stdin.end(s.input);
        }
        const out = collect(p.stdout);
        const err = collect(p.stderr);
        return { stdout: out.get, stderr: err.get, done: Promise.all([out.done, err.done]).then(() => undefined) };
      },
    };
  }
  const streams = s.mode;
  return {
    targets: [streams.stdin ? 'pipe' : 'ignore', streams.stdout ? 'pipe' : 'ignore', streams.stderr ? 'pipe' : 'ignore'],
    attach(p) {
      if (streams.stdin && p.stdin) {
        p.stdin.on('error', () => {
          // EPIPE: the container stopped reading.
        });
        streams.stdin.pipe(p.stdin);
      }
      const waits: Promise<void>[] = [];
      for (const [from, to] of [
        [p.stdout, streams.stdout],
        [p.stderr, streams.stderr],
      ] as const) {
        if (from && to) {
          from.pipe(to, { end: false });
          waits.push(new Promise((resolve) => from.on('end', () => resolve())));
        }
      }
      return { done: Promise.all(waits).then(() => undefined) };
    },
  };
}

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * Forwards this process's signals to the runtime (which passes them to the container). The third
 * SIGINT or SIGTERM kills the container's init with SIGKILL, for a process that ignores them (a
 * PID 1 without handlers ignores every default-action signal).
 */
function forwardSignals(p: RunningPayload, stateDir: string, tty: boolean, onWarning: WarningSink): () => void {
  let stops = 0;
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of [...FORWARDED, ...(tty ? (['SIGWINCH'] as const) : [])]) {
    const h = () => {
      if (sig === 'SIGINT' || sig === 'SIGTERM') {
        stops++;
        if (stops >= 3) {
          void signalInit(stateDir, 'SIGKILL').catch((e: unknown) => onWarning({ code: 'W_RUN_KILL', message: `kill container: ${(e as Error).message}` }));
          return;
        }
        // Told each time, so a user (or a script pacing its signals) knows where it stands.
        if (stops === 1) onWarning({ code: 'W_RUN_STOP_FORWARDED', message: `forwarded ${sig} to the container; two more SIGINT or SIGTERM kill it` });
        else onWarning({ code: 'W_RUN_STOP_PENDING', message: `forwarded ${sig} to the container again; one more SIGINT or SIGTERM kills it` });
      }
      p.kill(sig);
    };
    handlers.set(sig, h);
    process.on(sig, h);
  }
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}

/** SIGTERM now, SIGKILL to the init process after the timeout (docker stop). */
function stopOnAbort(p: RunningPayload, stateDir: string, s: RunStdio, onWarning: WarningSink): () => void {
  const signal = s.signal;
  if (!signal) return () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    p.kill('SIGTERM');
    timer = setTimeout(() => {
      void signalInit(stateDir, 'SIGKILL').catch((e: unknown) => onWarning({ code: 'W_RUN_KILL', message: `kill container: ${(e as Error).message}` }));
    }, s.stopTimeoutMs);
    timer.unref();
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return () => {
    signal.removeEventListener('abort', onAbort);
    if (timer) clearTimeout(timer);
  };
}

/** The runtime's own start error, turned into a BerthError; undefined when the process ran. */
async function runtimeFailure(containerDir: string, code: number, image: string, runtime: string): Promise<BerthError | undefined> {
  let text: string;
  try {
    text = await readFile(join(containerDir, RUNTIME_LOG), 'utf8');
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw e;
    // No log: the runtime never started, so the payload's mount (or copy) failed.
    if (code === PAYLOAD_SETUP_FAILED) {
      return new BerthError('E_RUN_ROOTFS_FAILED', `run ${image}: mounting the container's root file system failed (the reason is printed above)`, {
        hint: 'check free space and that overlayfs works here (`grep overlay /proc/filesystems`)',
      });
    }
    return undefined;
  }
  if (code === 0) return undefined;
  const entries = parseRuntimeLog(text).filter((e) => runtime !== 'runc' || /runc run failed|unable to start container/.test(e.msg));
  const f = startFailure(entries);
  if (!f) return undefined;
  const map = {
    'not-found': ['E_RUN_CMD_NOT_FOUND', 127, 'check the command and the image PATH (berth explain shows where it is searched)'],
    permission: ['E_RUN_CMD_NOT_EXECUTABLE', 126, 'the file must be executable by the container user (berth explain shows why it is not)'],
    other: ['E_RUN_START_FAILED', 125, `the message is ${runtime}'s; berth explain predicts most identity and permission failures`],
  } as const;
  const [errCode, exitCode, hint] = map[f.kind];
  return new BerthError(errCode, `run ${image}: the container process could not start: ${f.message}`, { hint, details: { exitCode, runtime } });
}

export async function executeContainer(input: ExecuteInput): Promise<ExecuteResult> {
  const layout = new ContainerLayout(input.store.root);
  const rootless = input.namespace.rootless ? { uidMap: input.namespace.uidMap, gidMap: input.namespace.gidMap } : undefined;
  const cleanup: CleanupContext = { layout, facts: input.facts, ...(rootless ? { rootless } : {}), onWarning: input.onWarning };
  const runtime = runtimePath(input.facts, input.runtime);

  const cached = input.step?.base !== undefined ? { key: 'scratch', rootfs: input.step.base } : await ensureRootfs({
    store: input.store,
    layout,
    chainId: input.image.chainId,
    layers: input.image.layers,
    facts: input.facts,
    namespace: input.namespace,
    ...(input.containerMaps ? { containerMaps: input.containerMaps } : {}),
    onWarning: input.onWarning,
  });
  const method = await rootfsMethod(input.facts, input.namespace.rootless);
  if (method === 'copy' && input.step) {
    throw new BerthError('E_BUILD_NO_OVERLAY', `build: overlayfs is not available ${input.namespace.rootless ? 'in a user namespace on this kernel (Linux >= 5.11 needed)' : 'on this kernel'}`, {
      hint: input.namespace.rootless ? 'build as root, or on Linux 5.11 or later' : 'load the overlay module (modprobe overlay)',
    });
  }
  if (method === 'copy') {
    input.onWarning({
      code: 'W_RUN_NO_OVERLAY',
      message: `overlayfs is not available ${input.namespace.rootless ? 'in a user namespace on this kernel (Linux >= 5.11 needed)' : 'on this kernel'}; each container gets a copy of the image's root file system, which is slower`,
    });
  }

  const rec = await createContainer(input, layout, cleanup, cached.key);
  const dir = layout.dir(rec.id);
  let externalRootfs: string | undefined;
  let restoreSignals = () => undefined as void;
  let stopAbort = () => undefined as void;
  let finished = false;
  let mounted: string | undefined;
  try {
    // Container root must be able to reach the rootfs to mount it (userns.md rule 27). When the
    // container's user namespace does not map the namespace's root (nomap, auto, some --uidmap),
    // the store's 0700 directories stop it, so the rootfs is mounted on a fresh directory in the
    // world-traversable temporary directory instead.
    if (input.containerMaps && toContainer(input.containerMaps.uidMap, 0) === undefined) {
      externalRootfs = await mkdtemp(join(tmpdir(), 'berth-rootfs-'));
      await chmod(externalRootfs, 0o711);
      await writeRecord(layout, { ...rec, externalRootfs });
    }
    await mkdir(join(dir, BUNDLE.rootfs), { mode: 0o755 });
    if (method === 'overlay') {
      await mkdir(join(dir, BUNDLE.upper), { mode: 0o755 });
      await mkdir(join(dir, BUNDLE.work), { mode: 0o700 });
    }
    const rootfsPath = externalRootfs ?? BUNDLE.rootfs;
    const spec = input.buildSpec(rec.id, rootfsPath);
    await writeFile(join(dir, BUNDLE.config), `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });

    const lowers = [...(input.step?.lowers ?? []), cached.rootfs];
    const runtimeCmd = runtimeArgv({ runtimePath: runtime, stateRoot: layout.runcRoot, logFile: join(dir, RUNTIME_LOG), containerId: rec.id, bundle: '.' });
    // Rootful, berth mounts the overlay itself and starts the runtime directly: two children
    // (unshare, sh) and util-linux mount fewer. The mount lives in berth's mount namespace, so it
    // is detached as soon as the runtime exits, and by cleanup (cleanup.ts) for a berth that died.
    // Overlay's option syntax cannot quote ',' or ':' in a path; such stores use the payload.
    const direct = method === 'overlay' && !input.namespace.rootless && input.facts.mode === 'rootful' && externalRootfs === undefined;
    const overlayData = direct ? `lowerdir=${lowers.join(':')},upperdir=${join(dir, BUNDLE.upper)},workdir=${join(dir, BUNDLE.work)}` : '';
    const mountDirect = direct && overlayData.length < 3800 && ![...lowers, dir].some((p) => /[,:\\]/.test(p));
    if (mountDirect) {
      try {
        mountOverlay('berth-overlay', join(dir, BUNDLE.rootfs), overlayData);
      } catch (e) {
        throw new BerthError('E_RUN_ROOTFS_FAILED', `run ${input.image.spec}: mounting the container's root file system failed: ${(e as Error).message}`, {
          hint: 'check free space and that overlayfs works here (`grep overlay /proc/filesystems`)',
          cause: e,
        });
      }
      mounted = join(dir, BUNDLE.rootfs);
    }
    const argv = mountDirect ? runtimeCmd : payloadArgv({
      containerDir: dir,
      // Relative paths keep the mount options short (one page at most).
      lower: lowers.map((l) => relative(dir, l)).join(':'),
      // In a user namespace overlay keeps its whiteout and opaque markers in user.overlay.* (the
      // trusted.* namespace is not writable there); a build step's upper directory is read back.
      ...(input.namespace.rootless || input.facts.mode === 'in-userns' ? { overlayOptions: ['userxattr'] } : {}),
      target: rootfsPath,
      upper: BUNDLE.upper,
      work: BUNDLE.work,
      method,
      runtime: runtimeCmd,
    });
    const plan = planStdio(input.stdio);
    const payload = await startPayload({
      facts: input.facts,
      argv,
      ...(rootless ? { rootless, shareUserNamespace: input.shareUserNamespace === true } : {}),
      ...(mountDirect ? { direct: true } : {}),
      stdio: plan.targets,
      env: { PATH: PAYLOAD_PATH },
      cwd: dir,
    });
    const stateDir = layout.runcState(rec.id);
    if (input.stdio.forwardSignals) restoreSignals = forwardSignals(payload, stateDir, input.stdio.tty, input.onWarning);
    stopAbort = stopOnAbort(payload, stateDir, input.stdio, input.onWarning);
    const attached = plan.attach(payload);
    const st = await payload.wait();
    await attached.done;
    restoreSignals();
    stopAbort();
    const exitCode = st.code ?? 128 + (st.signal ? signalNumber(st.signal) : 0);
    if (mounted !== undefined) {
      detachMount(mounted);
      mounted = undefined;
    }

    const failure = await runtimeFailure(dir, exitCode, input.image.spec, input.runtime);
    if (input.step && !failure) await rename(join(dir, BUNDLE.upper), input.step.keepUpper);
    finished = true;
    try {
      await finish(cleanup, { ...rec, ...(externalRootfs !== undefined ? { externalRootfs } : {}) }, failure ? undefined : exitCode);
    } catch (c) {
      // The process ran and its status stands; what is left is reaped by the next berth command.
      input.onWarning({ code: 'W_CONTAINER_CLEANUP', message: `clean up container ${rec.name}: ${(c as Error).message}`, details: { id: rec.id } });
    }
    if (failure) throw failure;
    const result: ExecuteResult = { id: rec.id, name: rec.name, exitCode };
    const out = attached.stdout?.();
    const err = attached.stderr?.();
    if (out) result.stdout = out;
    if (err) result.stderr = err;
    return result;
  } catch (e) {
    restoreSignals();
    stopAbort();
    if (mounted !== undefined) {
      try {
        detachMount(mounted);
      } catch (c) {
        input.onWarning({ code: 'W_CONTAINER_CLEANUP', message: `unmount ${mounted}: ${(c as Error).message}`, details: { id: rec.id } });
      }
    }
    if (!finished) {
      await finish(cleanup, { ...rec, ...(externalRootfs !== undefined ? { externalRootfs } : {}) }, undefined).catch((c: unknown) =>
        input.onWarning({ code: 'W_CONTAINER_CLEANUP', message: `clean up container ${rec.name}: ${(c as Error).message}`, details: { id: rec.id } }),
      );
    }
    throw e;
  }
}

/** 128+n for a runtime that was itself killed by signal n (the shell's convention). */
function signalNumber(sig: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[sig] ?? 0;
}

/** Removes the container (`--rm`, or a container that never ran), else keeps it as exited. */
async function finish(ctx: CleanupContext, rec: ContainerRecord, exitCode: number | undefined): Promise<void> {
  if (rec.autoRemove || exitCode === undefined) {
    await removeContainer(ctx, rec);
    return;
  }
  await stopLeftovers(ctx, ctx.layout.runcState(rec.id));
  await writeRecord(ctx.layout, { ...rec, status: 'exited', exitCode, finished: new Date().toISOString() });
}
