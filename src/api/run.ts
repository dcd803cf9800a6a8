/**
 * api/run: `berth run [OPTIONS] IMAGE [CMD...]` and the library's run().
 *
 * Three phases (architecture.md, house style 12):
 * 1. Resolve (async, reads the image once): options normalised; host facts; the image config and
 *    merged file index from the store; /etc/passwd and /etc/group read through that index (never
 *    libc or host tools: layers-and-capabilities.md row 22); the identity (profile berth, the same
 *    inputs `berth explain` uses, so prediction and reality agree); the container user namespace;
 *    file owners checked against the maps before any work.
 * 2. Build and validate config.json (runtime/spec, pure).
 * 3. Execute (runtime/run): cached rootfs, container record, payload in a private mount
 *    namespace, exit status, cleanup.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { BerthError, ignoreWarnings, type Warning, type WarningSink } from '../errors/index.js';
import { readHostFacts, type HostFacts } from '../host/index.js';
import { containerUserns, parseSubidFile, selectSubids, uncoveredIds, type ContainerUserns, type ContainerUsernsContext, type IdMap } from '../idmap/index.js';
import { resolveIdentity } from '../identity/resolve.js';
import type { IdentityInput, ResolvedIdentity } from '../identity/types.js';
import { userDbFromText } from '../identity/userdb.js';
import type { ImageFileView } from '../layer/fileindex.js';
import { chainId } from '../oci/index.js';
import { parseSecurityOpts } from '../explain/input.js';
import { capAddWithinBounding } from '../explain/hostbounding.js';
import { capSetFromMask } from '../caps/set.js';
import { preflightRootless, rootlessMaps } from '../runtime/userns/index.js';
import { buildSpec, parseEnvFile, validateSpec, type EnvSetting, type NetworkMode, type RuntimeSpec, type SpecInputs } from '../runtime/spec/index.js';
import {
  ContainerLayout,
  executeContainer,
  listContainerIds,
  reapStale,
  readRecord,
  removeContainer,
  signalInit,
  stampAlive,
  type CleanupContext,
  type ExecuteResult,
  type RunStdio,
} from '../runtime/run/index.js';
import { FileLock } from '../sys/flock.js';
import type { Store } from '../store/index.js';
import { checkOptions, requireString, type StoreOptions } from './options.js';
import { loadImageFacts, openStore, type ImageFacts } from './store.js';
import { withContext } from './context.js';

/** Where the container's stdin, stdout and stderr go. */
export type RunStdioOption =
  /** berth's own stdio (the CLI). */
  | 'inherit'
  /** stdout and stderr captured into the result; stdin from `input` (or empty). */
  | 'pipe'
  /** Streams: data is piped to and from them; an absent member means empty stdin, or output discarded. */
  | { stdin?: Readable; stdout?: Writable; stderr?: Writable };

export interface RunOptions extends StoreOptions {
  /** Image name or ID in the store. */
  image: string;
  /** The command words after IMAGE (replace the image CMD). */
  cmd?: string[];
  /** `--entrypoint`: one word as Docker's CLI passes it ('' clears the image ENTRYPOINT), or the argv. */
  entrypoint?: string | string[];
  /** `--name`; default the first 12 hex digits of the container ID. */
  name?: string;
  /** `--rm`: remove the container when it exits. Default true for the library; the CLI follows Docker (false). */
  rm?: boolean;
  /** `-u/--user USER[:GROUP]`. */
  user?: string;
  groupAdd?: string[];
  capAdd?: string[];
  capDrop?: string[];
  /** `-w/--workdir` (absolute). */
  workdir?: string;
  /** `-e/--env NAME=VALUE` or `NAME` (taken from this process's environment). */
  env?: string[];
  /** `--env-file PATH`; applied before `env`. */
  envFile?: string[];
  /** `-v SRC:DST[:ro|rw]`, SRC an absolute host path that exists. */
  volumes?: string[];
  /** `--read-only`. */
  readOnly?: boolean;
  /** `--network`; default none (own network namespace with a loopback that is up). */
  network?: NetworkMode;
  /** `--sysctl KEY=VALUE`. */
  sysctls?: string[];
  /** `--security-opt` values (no-new-privileges[:true|false]; others are ignored with a warning). */
  securityOpt?: string[];
  /** `--security-opt no-new-privileges`. */
  noNewPrivileges?: boolean;
  /** `--userns host|keep-id[:...]|nomap|auto[:...]`. */
  userns?: string;
  uidmap?: string[];
  gidmap?: string[];
  /** `-i`: keep stdin open (with stdio 'inherit'). */
  interactive?: boolean;
  /** `-t`: a terminal for the container (berth's stdin must be one). */
  tty?: boolean;
  /** `--hostname`. */
  hostname?: string;
  /** `--runtime runc|crun`; default runc. */
  runtime?: 'runc' | 'crun';
  /** Default 'pipe' for the library; the CLI passes 'inherit'. */
  stdio?: RunStdioOption;
  /** stdin bytes for stdio 'pipe'. */
  input?: Buffer | string;
  /** Forward SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 (and SIGWINCH with tty) received by this process. Default false. */
  forwardSignals?: boolean;
  /** Aborting stops the container: SIGTERM, then SIGKILL after `stopTimeoutMs` (default 10 s). */
  signal?: AbortSignal;
  stopTimeoutMs?: number;
  /** Environment consulted for `-e NAME` without a value; default process.env. */
  callerEnv?: Record<string, string | undefined>;
  /**
   * Rootless: keep the intermediate user namespace for the life of this process and join it on
   * later runs (one `nsenter` instead of `unshare` + `newuidmap` + `newgidmap`). Default true; the
   * CLI, which runs one container per process, passes false.
   */
  shareUserNamespace?: boolean;
  /** Pull the image from its registry: when it is not in the store (`missing`, default), `always`, or `never`. */
  pull?: 'always' | 'missing' | 'never';
  /** Registry transport for that pull: false allows plain HTTP. */
  tlsVerify?: boolean;
}

export interface RunResult {
  id: string;
  name: string;
  /** The process's exit status; 128+n when a signal ended it (as runc reports it). */
  exitCode: number;
  /** The signal behind an exit status above 128, by name; null otherwise. */
  signal: NodeJS.Signals | null;
  /** With stdio 'pipe'. */
  stdout?: Buffer;
  stderr?: Buffer;
}

const KEYS = [
  'root', 'onWarning', 'image', 'cmd', 'entrypoint', 'name', 'rm', 'user', 'groupAdd', 'capAdd', 'capDrop', 'workdir', 'env', 'envFile',
  'volumes', 'readOnly', 'network', 'sysctls', 'securityOpt', 'noNewPrivileges', 'userns', 'uidmap', 'gidmap', 'interactive', 'tty', 'hostname',
  'runtime', 'stdio', 'input', 'forwardSignals', 'signal', 'stopTimeoutMs', 'callerEnv', 'shareUserNamespace', 'pull', 'tlsVerify',
] as const;

function invalid(name: string, reason: string, hint: string): BerthError {
  return new BerthError('E_OPTION_INVALID', `run(): option "${name}" ${reason}`, { hint });
}

function conflict(a: string, b: string, hint: string): BerthError {
  return new BerthError('E_OPTION_CONFLICT', `run(): options "${a}" and "${b}" cannot be combined`, { hint });
}

function strings(o: Record<string, unknown>, name: string): string[] | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalid(name, 'must be an array of strings', `e.g. ${name}: ['...']`);
  return [...(v as string[])];
}

function optString(o: Record<string, unknown>, name: string): string | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(name, 'must be a string', `give ${name} as a string`);
  return v;
}

function optBool(o: Record<string, unknown>, name: string): boolean | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalid(name, 'must be a boolean', 'true or false');
  return v;
}

/** Options after checking: every type and combination verified once. */
export interface NormalisedRun {
  image: string;
  cmd?: string[];
  entrypoint?: string | string[];
  name?: string;
  rm: boolean;
  user?: string;
  groupAdd: string[];
  capAdd: string[];
  capDrop: string[];
  workdir?: string;
  env: string[];
  envFile: string[];
  volumes: string[];
  readOnly: boolean;
  network: NetworkMode;
  sysctls: string[];
  noNewPrivileges?: boolean;
  ignoredSecurityOpts: string[];
  userns?: string;
  uidmap: string[];
  gidmap: string[];
  interactive: boolean;
  tty: boolean;
  hostname?: string;
  runtime: 'runc' | 'crun';
  stdio: RunStdioOption;
  input?: Buffer | string;
  forwardSignals: boolean;
  signal?: AbortSignal;
  stopTimeoutMs: number;
  callerEnv: Record<string, string | undefined>;
  shareUserNamespace: boolean;
}

/** Normalises run() options once: unknown keys, wrong types and contradictory pairs are refused, naming the option. */
export function normaliseRunOptions(options: RunOptions): NormalisedRun & { root?: string; onWarning?: WarningSink } {
  const o = checkOptions('run', options, KEYS) as unknown as Record<string, unknown>;
  const image = requireString('run', 'image', o.image);
  const network = optString(o, 'network') ?? 'none';
  if (network !== 'none' && network !== 'host') throw invalid('network', `is "${network}"`, 'use none or host (berth has no bridge networks)');
  const runtime = optString(o, 'runtime') ?? 'runc';
  if (runtime !== 'runc' && runtime !== 'crun') throw invalid('runtime', `is "${runtime}"`, 'use runc or crun');
  let entrypoint: string | string[] | undefined;
  if (o.entrypoint !== undefined) {
    if (typeof o.entrypoint === 'string') entrypoint = o.entrypoint;
    else entrypoint = strings(o, 'entrypoint');
  }
  const stdio = (o.stdio ?? 'pipe') as RunStdioOption;
  if (stdio !== 'inherit' && stdio !== 'pipe' && (typeof stdio !== 'object' || stdio === null)) {
    throw invalid('stdio', `is ${JSON.stringify(stdio)}`, "use 'inherit', 'pipe' or { stdin, stdout, stderr } streams");
  }
  const input = o.input;
  if (input !== undefined && typeof input !== 'string' && !Buffer.isBuffer(input)) throw invalid('input', 'must be a string or a Buffer', 'give the bytes for the container\'s stdin');
  if (input !== undefined && stdio !== 'pipe') throw conflict('input', 'stdio', "input is the stdin of stdio 'pipe'; with streams, pass stdio.stdin");
  const securityOpt = strings(o, 'securityOpt') ?? [];
  const sec = parseSecurityOpts(securityOpt);
  const nnp = optBool(o, 'noNewPrivileges');
  if (nnp !== undefined && sec.noNewPrivileges !== undefined && nnp !== sec.noNewPrivileges) {
    throw conflict('noNewPrivileges', 'securityOpt', 'give no-new-privileges once');
  }
  const workdir = optString(o, 'workdir');
  if (workdir !== undefined && !workdir.startsWith('/')) {
    throw new BerthError('E_WORKDIR_INVALID', `run --workdir ${workdir}: the working directory '${workdir}' is invalid, it needs to be an absolute path`, {
      hint: 'give an absolute path, e.g. --workdir /app',
    });
  }
  const uidmap = strings(o, 'uidmap') ?? [];
  const gidmap = strings(o, 'gidmap') ?? [];
  const userns = optString(o, 'userns');
  if ((uidmap.length > 0 || gidmap.length > 0) && userns !== undefined && userns !== '' && userns !== 'host') {
    throw conflict('userns', 'uidmap', 'give either --userns or --uidmap/--gidmap');
  }
  const stopTimeoutMs = o.stopTimeoutMs === undefined ? 10_000 : (o.stopTimeoutMs as number);
  if (!Number.isSafeInteger(stopTimeoutMs) || stopTimeoutMs < 0) throw invalid('stopTimeoutMs', 'must be a non-negative integer', 'milliseconds, e.g. 10000');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalid('signal', 'must be an AbortSignal', 'pass controller.signal');
  const callerEnv = (o.callerEnv ?? process.env) as Record<string, string | undefined>;
  if (typeof callerEnv !== 'object' || callerEnv === null) throw invalid('callerEnv', 'must be an object', 'e.g. process.env');
  const name = optString(o, 'name');
  return {
    ...(o.root !== undefined ? { root: o.root as string } : {}),
    ...(o.onWarning !== undefined ? { onWarning: o.onWarning as WarningSink } : {}),
    image,
    ...(o.cmd !== undefined ? { cmd: strings(o, 'cmd') } : {}),
    ...(entrypoint !== undefined ? { entrypoint } : {}),
    ...(name !== undefined ? { name } : {}),
    rm: optBool(o, 'rm') ?? true,
    ...(optString(o, 'user') !== undefined ? { user: optString(o, 'user') } : {}),
    groupAdd: strings(o, 'groupAdd') ?? [],
    capAdd: strings(o, 'capAdd') ?? [],
    capDrop: strings(o, 'capDrop') ?? [],
    ...(workdir !== undefined ? { workdir } : {}),
    env: strings(o, 'env') ?? [],
    envFile: strings(o, 'envFile') ?? [],
    volumes: strings(o, 'volumes') ?? [],
    readOnly: optBool(o, 'readOnly') ?? false,
    network,
    sysctls: strings(o, 'sysctls') ?? [],
    ...((nnp ?? sec.noNewPrivileges) !== undefined ? { noNewPrivileges: nnp ?? sec.noNewPrivileges } : {}),
    ignoredSecurityOpts: sec.ignored,
    ...(userns !== undefined ? { userns } : {}),
    uidmap,
    gidmap,
    interactive: optBool(o, 'interactive') ?? false,
    tty: optBool(o, 'tty') ?? false,
    ...(optString(o, 'hostname') !== undefined ? { hostname: optString(o, 'hostname') } : {}),
    runtime,
    stdio,
    ...(input !== undefined ? { input: input as Buffer | string } : {}),
    forwardSignals: optBool(o, 'forwardSignals') ?? false,
    ...(o.signal !== undefined ? { signal: o.signal as AbortSignal } : {}),
    stopTimeoutMs,
    callerEnv,
    shareUserNamespace: optBool(o, 'shareUserNamespace') ?? true,
  };
}

/** The namespace runc runs in: rootless, berth's intermediate one; otherwise berth's own. */
export interface RuntimeNamespaceFacts {
  uidMap: IdMap;
  gidMap: IdMap;
  rootless: boolean;
  /** The user's host identity (keep-id's default), and for messages. */
  hostUid: number;
  hostGid: number;
}

export function runtimeNamespace(facts: HostFacts): RuntimeNamespaceFacts {
  if (facts.mode === 'rootless') {
    preflightRootless(facts);
    const { uidMap, gidMap } = rootlessMaps(facts);
    return { uidMap, gidMap, rootless: true, hostUid: facts.uid, hostGid: facts.gid };
  }
  // Rootful, or already root in a namespace (its own maps are the IDs available).
  return { uidMap: facts.uidMap, gidMap: facts.gidMap, rootless: false, hostUid: facts.outer?.uid ?? 0, hostGid: facts.outer?.gid ?? 0 };
}

/** Highest uid or gid owning a file in the image, + 1 (the size `--userns auto` needs). */
function imageIdsSize(view: ImageFileView): number {
  let max = 0;
  for (const e of view.entries()) {
    if (e.uid > max) max = e.uid;
    if (e.gid > max) max = e.gid;
  }
  return max + 1;
}

/**
 * Refuses an image whose files are owned by IDs the container cannot hold, before any work
 * (userns.md U1): the IDs, sample paths, and the subordinate range that would be needed.
 */
export function checkOwners(view: ImageFileView, userns: ContainerUserns, ns: RuntimeNamespaceFacts, image: string): void {
  const owners = (kind: 'uid' | 'gid') => {
    const m = new Map<number, string[]>();
    for (const e of view.entries({ sorted: true })) {
      const id = kind === 'uid' ? e.uid : e.gid;
      let paths = m.get(id);
      if (!paths) m.set(id, (paths = []));
      if (paths.length < 3) paths.push(Buffer.from(e.path, 'latin1').toString('utf8'));
    }
    return m;
  };
  const problems: string[] = [];
  const details: Record<string, unknown> = {};
  let needed = 0;
  for (const kind of ['uid', 'gid'] as const) {
    const map = kind === 'uid' ? userns.uidMap : userns.gidMap;
    const u = uncoveredIds(map, owners(kind));
    if (u.ids.length === 0) continue;
    details[`${kind}s`] = u.ids;
    details[`${kind}Samples`] = u.samples;
    needed = Math.max(needed, u.requiredSubids);
    const shown = u.samples.map((s) => `${s.id} (${s.paths.join(', ')})`).join('; ');
    problems.push(`${u.files} file${u.files === 1 ? '' : 's'} owned by ${kind}s the container cannot hold: ${shown}${u.ids.length > u.samples.length ? ` and ${u.ids.length - u.samples.length} more` : ''}`);
  }
  if (problems.length === 0) return;
  const range = (m: IdMap) => m.map((r) => `${r.container}-${r.container + r.size - 1}`).join(', ');
  const nsText = ns.rootless
    ? `this user namespace has container IDs ${range(userns.uidMap)} (1 + ${Math.max(0, userns.uidMap.reduce((n, r) => n + r.size, 0) - 1)} subordinate IDs)`
    : `the container's user namespace maps IDs ${range(userns.uidMap)}`;
  throw new BerthError('E_RUN_IDS_UNMAPPED', `run ${image}: ${problems.join('; ')}; ${nsText}`, {
    hint: ns.rootless && !userns.userns
      ? `delegate at least ${needed} subordinate IDs (e.g. \`sudo usermod --add-subuids 100000-${100000 + needed} --add-subgids 100000-${100000 + needed} USER\`), or fix the owners in the image`
      : 'choose --userns/--uidmap/--gidmap that cover every owner, or fix the owners in the image',
    details: { ...details, requiredSubids: needed },
  });
}

/** Everything the resolve phase found; the build phase turns it into config.json. */
export interface ResolvedRun {
  o: NormalisedRun;
  facts: HostFacts;
  ns: RuntimeNamespaceFacts;
  /** Open until the container is gone (the rootfs cache reads layers through it). */
  store: Store;
  image: ImageFacts;
  identity: ResolvedIdentity;
  userns: ContainerUserns;
  env: (string | EnvSetting)[];
}

async function readEnvFiles(paths: readonly string[]): Promise<EnvSetting[]> {
  const out: EnvSetting[] = [];
  for (const p of paths) {
    let data: Buffer;
    try {
      data = await readFile(p);
    } catch (e) {
      throw new BerthError('E_RUN_ENV_FILE', `run --env-file ${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
        hint: 'give the path of a file with NAME=VALUE lines',
        cause: e,
      });
    }
    out.push(...parseEnvFile(data, p));
  }
  return out;
}

/** The identity input exactly as `berth explain` builds it for the berth profile. */
function identityInput(o: NormalisedRun, image: ImageFacts, ns: RuntimeNamespaceFacts, cwd: string): IdentityInput {
  const config = image.config.config ?? {};
  const passwd = image.view.lookup('/etc/passwd', { follow: true });
  return {
    profile: 'berth',
    imageUser: config.User ?? '',
    ...(o.user !== undefined ? { user: o.user } : {}),
    ...(o.groupAdd.length > 0 ? { groupAdd: o.groupAdd } : {}),
    context: 'run',
    ...(o.userns !== undefined ? { userns: o.userns } : {}),
    hostUid: ns.hostUid,
    hostGid: ns.hostGid,
    ...(ns.rootless ? { availableGids: ns.gidMap.reduce((n, r) => n + r.size, 0) } : {}),
    env: [...(config.Env ?? [])],
    workingDir: cwd,
    ...(passwd && passwd.type === 'file' ? { passwdFile: { mode: passwd.mode, uid: passwd.uid, size: passwd.size } } : {}),
  };
}

/**
 * What `--userns auto` needs besides the image: the maps of other live containers (auto avoids
 * them) and, as root, the pool it takes IDs from: the subordinate ranges of user "containers"
 * (containers/storage's convention).
 */
async function autoContext(storeRoot: string, ns: RuntimeNamespaceFacts, onWarning: WarningSink): Promise<Pick<ContainerUsernsContext, 'usedUidMaps' | 'usedGidMaps' | 'autoUidPool' | 'autoGidPool'>> {
  const layout = new ContainerLayout(storeRoot);
  const usedUidMaps: IdMap[] = [];
  const usedGidMaps: IdMap[] = [];
  for (const id of await listContainerIds(layout)) {
    const rec = await readRecord(layout, id).catch(() => undefined);
    if (!rec || rec.status === 'exited' || !rec.uidMap || !rec.gidMap || !(await stampAlive(rec.owner))) continue;
    usedUidMaps.push(rec.uidMap);
    usedGidMaps.push(rec.gidMap);
  }
  if (ns.rootless) return { usedUidMaps, usedGidMaps };
  const pool = async (path: string) => {
    const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return '';
      throw e;
    });
    return selectSubids(parseSubidFile(text, { onWarning, path }), { user: 'containers', uid: -1 }).map((r) => ({ start: r.start, end: r.start + r.count }));
  };
  return { usedUidMaps, usedGidMaps, autoUidPool: await pool('/etc/subuid'), autoGidPool: await pool('/etc/subgid') };
}

/** Phase 1. */
/**
 * Fits `--cap-add` to the bounding set of this process (CapBnd): a rootful container can hold only
 * what berth holds, as a process can only drop from its bounding set (capabilities(7)). An
 * explicit capability it lacks is refused here, not by runc's capset ("unable to apply caps:
 * operation not permitted"); `ALL` means all it holds (as Docker does), with one W_CAP_HOST_BOUNDING.
 * A rootless container starts in a new user namespace, whose bounding set is full: nothing to fit.
 * explain makes the same decision (explain/hostbounding.ts).
 */
export function fitCapAddToHost(capAdd: readonly string[], hostBounding: string | undefined, rootless: boolean, onWarning: WarningSink): string[] {
  if (rootless || hostBounding === undefined || capAdd.length === 0) return [...capAdd];
  const fit = capAddWithinBounding(capAdd, capSetFromMask(hostBounding));
  if (fit.missing.length > 0) {
    const names = fit.missing.join(', ');
    throw new BerthError('E_CAP_NOT_IN_HOST_BOUNDING', `run --cap-add ${names}: the bounding set of the process running berth lacks ${fit.missing.length === 1 ? 'it' : 'them'}`, {
      hint: `the process that runs berth does not hold ${names} in its bounding set (CapBnd ${hostBounding}), so no container it starts can have ${fit.missing.length === 1 ? 'it' : 'them'}: leave out --cap-add ${names}, or run berth from a process that holds ${fit.missing.length === 1 ? 'it' : 'them'}`,
      details: { capabilities: fit.missing, capBnd: hostBounding },
    });
  }
  if (fit.allNotHeld.length > 0) {
    onWarning({
      code: 'W_CAP_HOST_BOUNDING',
      message: `--cap-add ALL: the bounding set of the process running berth lacks ${fit.allNotHeld.join(', ')}; the container gets every other capability`,
      details: { missing: fit.allNotHeld, capBnd: hostBounding },
    });
  }
  return fit.add;
}

export async function resolveRun(o: NormalisedRun & { root?: string }, onWarning: WarningSink): Promise<ResolvedRun> {
  const facts = await readHostFacts({ onWarning });
  const ns = runtimeNamespace(facts);
  o = { ...o, capAdd: fitCapAddToHost(o.capAdd, facts.capBnd, ns.rootless, onWarning) };
  const store = await openStore(o, { create: false });
  let image: ImageFacts;
  try {
    image = await loadImageFacts(store, o.image);
  } catch (e) {
    await store.close();
    throw e;
  }
  if (image.layers.length === 0) {
    await store.close();
    throw new BerthError('E_RUN_IMAGE_EMPTY', `run ${o.image}: the image has no layers`, { hint: 'import or build an image with a root file system' });
  }
  try {
    return await resolveRunWith(o, { facts, ns, store, image }, onWarning);
  } catch (e) {
    await store.close();
    throw e;
  }
}

/**
 * The rest of phase 1, for an image the caller already holds (run: a stored image; build: the
 * state of a stage between steps). The caller keeps the store open and closes it.
 */
export async function resolveRunWith(
  o: NormalisedRun,
  held: { facts: HostFacts; ns: RuntimeNamespaceFacts; store: Store; image: ImageFacts },
  onWarning: WarningSink,
): Promise<ResolvedRun> {
  const { facts, ns, store, image } = held;
  const config = image.config.config ?? {};
  const cwd = o.workdir ?? (config.WorkingDir ? (config.WorkingDir.startsWith('/') ? config.WorkingDir : `/${config.WorkingDir}`) : '/');
  const db = userDbFromText({ passwd: image.view.readFile('/etc/passwd') ?? null, group: image.view.readFile('/etc/group') ?? null });
  const identity = resolveIdentity(identityInput(o, image, ns, cwd), db);
  const wantsAuto = o.userns !== undefined && o.userns.startsWith('auto');
  const userns = containerUserns(
    { ...(o.userns !== undefined ? { userns: o.userns } : {}), uidmap: o.uidmap, gidmap: o.gidmap },
    {
      uidMap: ns.uidMap,
      gidMap: ns.gidMap,
      rootless: ns.rootless,
      hostUid: ns.hostUid,
      hostGid: ns.hostGid,
      ...(wantsAuto ? { imageIdsSize: imageIdsSize(image.view), ...(await autoContext(store.root, ns, onWarning)) } : {}),
    },
  );
  if (ns.rootless || userns.userns) checkOwners(image.view, userns, ns, o.image);
  const env: (string | EnvSetting)[] = [...(await readEnvFiles(o.envFile)), ...o.env];
  return { o, facts, ns, store, image, identity, userns, env };
}

/** resolveRun, pulling the image first (`always`) or when the store lacks it (`missing`). */
async function resolveWithPull(o: NormalisedRun & { root?: string }, options: RunOptions, onWarning: WarningSink): Promise<ResolvedRun> {
  const policy = options.pull ?? 'missing';
  if (policy !== 'always' && policy !== 'missing' && policy !== 'never') throw invalid('pull', 'must be always, missing or never', 'missing pulls only images the store lacks');
  const { pullImage } = await import('./registry.js');
  const pull = () => pullImage({ reference: o.image, ...(o.root !== undefined ? { root: o.root } : {}), onWarning, ...(options.tlsVerify !== undefined ? { tlsVerify: options.tlsVerify } : {}) });
  if (policy === 'always') await pull();
  try {
    return await resolveRun(o, onWarning);
  } catch (e) {
    if (policy !== 'missing' || !(e instanceof BerthError) || (e.code !== 'E_IMAGE_NOT_FOUND' && e.code !== 'E_STORE_NOT_FOUND')) throw e;
    try {
      await pull();
    } catch (pe) {
      throw new BerthError(e.code, `${e.message}; pulling it failed too: ${(pe as Error).message}`, { ...(e.hint ? { hint: e.hint } : {}), cause: pe });
    }
    return resolveRun(o, onWarning);
  }
}

/** Phase 2 (pure). */
export function buildRunSpec(r: ResolvedRun, containerId: string, rootfsPath: string): { spec: RuntimeSpec; warnings: Warning[] } {
  const o = r.o;
  const inputs: SpecInputs = {
    image: r.image.config,
    identity: r.identity,
    containerId,
    ...(o.hostname !== undefined ? { hostname: o.hostname } : {}),
    ...(o.entrypoint !== undefined ? { entrypoint: o.entrypoint } : {}),
    ...(o.cmd !== undefined ? { cmd: o.cmd } : {}),
    env: r.env,
    hostEnv: o.callerEnv,
    ...(o.workdir !== undefined ? { workdir: o.workdir } : {}),
    tty: o.tty,
    capAdd: o.capAdd,
    capDrop: o.capDrop,
    ...(o.noNewPrivileges !== undefined ? { noNewPrivileges: o.noNewPrivileges } : {}),
    readOnly: o.readOnly,
    network: o.network,
    volumes: o.volumes,
    sysctls: o.sysctls,
    userns: r.userns,
    namespace: { uidMap: r.ns.uidMap, gidMap: r.ns.gidMap, rootless: r.ns.rootless },
    hostRlimits: r.facts.rlimits,
    rootfsPath,
  };
  // run shows no provenance; buildSpec with the same inputs and provenance is what explains a field.
  const built = buildSpec(inputs, undefined, { provenance: false });
  validateSpec(built.spec, {
    uidMap: r.ns.uidMap,
    gidMap: r.ns.gidMap,
    rootless: r.ns.rootless,
    // The rootless namespace is created with subordinate GIDs, so newgidmap leaves setgroups "allow".
    ...(r.ns.rootless ? { setgroups: 'allow' as const } : r.facts.setgroups !== undefined ? { setgroups: r.facts.setgroups } : {}),
    hostRlimits: r.facts.rlimits,
  });
  return { spec: built.spec, warnings: built.warnings };
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(osConstants.signals).map(([k, v]) => [v, k as NodeJS.Signals]));

export function signalOfStatus(code: number): NodeJS.Signals | null {
  return code > 128 ? (SIGNAL_NAMES.get(code - 128) ?? null) : null;
}

/**
 * Runs a command in a new container from a stored image and resolves when it has exited and
 * everything it used is cleaned up. A container that fails to start is a BerthError
 * (E_RUN_CMD_NOT_FOUND, E_RUN_CMD_NOT_EXECUTABLE, E_RUN_START_FAILED, ...); a process that ran
 * reports its own exit status, whatever it is.
 */
export async function run(options: RunOptions): Promise<RunResult> {
  const o = normaliseRunOptions(options);
  const onWarning = o.onWarning ?? ignoreWarnings;
  return withContext(`run ${o.image}`, async () => {
    for (const opt of o.ignoredSecurityOpts) {
      onWarning({ code: 'W_SECURITY_OPT_IGNORED', message: `--security-opt ${opt} is not supported; it is ignored` });
    }
    const resolved = await resolveWithPull(o, options, onWarning);
    let result: ExecuteResult;
    try {
      result = await executeContainer({
        store: resolved.store,
        facts: resolved.facts,
        namespace: { uidMap: resolved.ns.uidMap, gidMap: resolved.ns.gidMap, rootless: resolved.ns.rootless },
        ...(resolved.userns.userns ? { containerMaps: { uidMap: resolved.userns.uidMap, gidMap: resolved.userns.gidMap } } : {}),
        image: {
          spec: o.image,
          id: resolved.image.id,
          chainId: chainId(resolved.image.layers.map((l) => l.diffId)),
          layers: resolved.image.layers.map((l) => l.digest),
        },
        ...(o.name !== undefined ? { name: o.name } : {}),
        autoRemove: o.rm,
        runtime: o.runtime,
        buildSpec: (id, rootfsPath) => {
          const b = buildRunSpec(resolved, id, rootfsPath);
          b.warnings.forEach(onWarning);
          return b.spec;
        },
        stdio: toRunStdio(o),
        shareUserNamespace: o.shareUserNamespace,
        onWarning,
      });
    } finally {
      await resolved.store.close();
    }
    const out: RunResult = { id: result.id, name: result.name, exitCode: result.exitCode, signal: signalOfStatus(result.exitCode) };
    if (result.stdout) out.stdout = result.stdout;
    if (result.stderr) out.stderr = result.stderr;
    return out;
  });
}

function toRunStdio(o: NormalisedRun): RunStdio {
  return {
    mode: o.stdio,
    ...(o.input !== undefined ? { input: o.input } : {}),
    interactive: o.interactive,
    tty: o.tty,
    forwardSignals: o.forwardSignals,
    ...(o.signal ? { signal: o.signal } : {}),
    stopTimeoutMs: o.stopTimeoutMs,
  };
}


/** One container as `listContainers` reports it. */
export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  imageId: string;
  /** running: its berth process is alive; exited: kept after exit (run without --rm). */
  status: 'running' | 'exited';
  exitCode?: number;
  created: string;
  finished?: string;
  rootless: boolean;
}

async function withContainers<T>(o: StoreOptions, op: string, fn: (layout: ContainerLayout, ctx: CleanupContext) => Promise<T>): Promise<T> {
  const onWarning = o.onWarning ?? ignoreWarnings;
  const store = await openStore(o, { create: false });
  const root = store.root;
  await store.close();
  const facts = await readHostFacts({ onWarning });
  const layout = new ContainerLayout(root);
  const ns = facts.mode === 'rootless' ? runtimeNamespace(facts) : undefined;
  const ctx: CleanupContext = { layout, facts, ...(ns ? { rootless: { uidMap: ns.uidMap, gidMap: ns.gidMap } } : {}), onWarning };
  await mkdir(layout.containers, { recursive: true, mode: 0o700 });
  const lock = await FileLock.acquire(layout.lock, 'exclusive');
  try {
    await reapStale(ctx);
    return await withContext(op, () => fn(layout, ctx));
  } finally {
    lock.release();
  }
}

/** Every container of the store (after cleaning up after dead berth processes), by creation time then ID. */
export async function listContainers(options: StoreOptions = {}): Promise<ContainerSummary[]> {
  const o = checkOptions('listContainers', options, ['root', 'onWarning']);
  return withContainers(o, 'list containers', async (layout) => {
    const out: ContainerSummary[] = [];
    for (const id of await listContainerIds(layout)) {
      const rec = await readRecord(layout, id);
      if (!rec) continue;
      out.push({
        id: rec.id,
        name: rec.name,
        image: rec.image,
        imageId: rec.imageId,
        status: rec.status === 'exited' ? 'exited' : 'running',
        ...(rec.exitCode !== undefined ? { exitCode: rec.exitCode } : {}),
        created: rec.created,
        ...(rec.finished !== undefined ? { finished: rec.finished } : {}),
        rootless: rec.rootless,
      });
    }
    return out.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : 1));
  });
}

export interface RemoveContainerOptions extends StoreOptions {
  /** Container names, full IDs or ID prefixes of at least 12 hex digits. */
  containers: string[];
  /** Kill running containers first (SIGKILL), as `docker rm -f`. */
  force?: boolean;
}

/** `berth rm`: removes stopped containers (running ones only with force). Returns the IDs removed, in the order given. */
export async function removeContainers(options: RemoveContainerOptions): Promise<string[]> {
  const o = checkOptions('removeContainers', options, ['root', 'onWarning', 'containers', 'force']);
  if (!Array.isArray(o.containers) || o.containers.some((c) => typeof c !== 'string' || c === '')) {
    throw new BerthError('E_OPTION_INVALID', 'removeContainers(): option "containers" must be an array of names or IDs', { hint: "e.g. containers: ['web']" });
  }
  return withContainers(o, 'remove containers', async (layout, ctx) => {
    const removed: string[] = [];
    const all = [];
    for (const id of await listContainerIds(layout)) {
      const rec = await readRecord(layout, id);
      if (rec) all.push(rec);
    }
    for (const want of o.containers) {
      const hits = all.filter((r) => r.name === want || r.id === want || (/^[0-9a-f]{12,64}$/.test(want) && r.id.startsWith(want)));
      const exact = hits.filter((r) => r.name === want || r.id === want);
      const pick = exact.length === 1 ? exact : hits;
      if (pick.length === 0) throw new BerthError('E_CONTAINER_NOT_FOUND', `remove container ${want}: no such container`, { hint: 'list containers with listContainers() (berth ps)' });
      if (pick.length > 1) throw new BerthError('E_CONTAINER_AMBIGUOUS', `remove container ${want}: the prefix matches ${pick.length} containers`, { hint: 'give the name or more digits of the ID' });
      const rec = pick[0];
      if (rec.status !== 'exited' && (await stampAlive(rec.owner))) {
        if (!o.force) {
          throw new BerthError('E_CONTAINER_RUNNING', `remove container ${rec.name}: the container is running`, { hint: 'stop it first, or remove it with force (berth rm -f)', details: { id: rec.id } });
        }
        // The owner sees its runtime exit and cleans up (or marks the record exited); wait for it.
        await signalInit(layout.runcState(rec.id), 'SIGKILL');
        const until = Date.now() + 15_000;
        while ((await stampAlive(rec.owner)) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      }
      if (await readRecord(layout, rec.id).catch(() => undefined)) await removeContainer(ctx, rec);
      removed.push(rec.id);
    }
    return removed;
  });
}
