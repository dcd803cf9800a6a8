/**
 * api/build: `build(options)`, the Dockerfile builder (docs/build.md). Reads the Dockerfile and
 * .dockerignore, checks the host (rootful or rootless, with the same preflight as run), and runs
 * build/executor.ts with the store open.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BerthError, errnoOf, type WarningSink } from '../errors/index.js';
import { parseReference } from '../oci/index.js';
import { executeBuild, type BuildEvent, type BuildOutcome } from '../build/executor.js';
import { checkOptions, type StoreOptions } from './options.js';
import { withContext } from './context.js';
import { openStore } from './store.js';

export type { BuildEvent };

export interface BuildOptions extends StoreOptions {
  /** The build context directory. */
  context: string;
  /** The Dockerfile; default `<context>/Dockerfile`. */
  file?: string;
  /** Names to give the image (`NAME[:TAG]`). */
  tags?: string[];
  /** `--build-arg NAME=VALUE`. */
  buildArgs?: Record<string, string>;
  /** Build up to this stage (`--target`). */
  target?: string;
  /** Run every step, reusing nothing. */
  noCache?: boolean;
  /** Base images: pulled when the store lacks them (`missing`, default), `always`, or `never`. */
  pull?: 'always' | 'missing' | 'never';
  /** Registry transport for those pulls: false allows plain HTTP. */
  tlsVerify?: boolean;
  /** Network of RUN steps: `host` (default, as Docker builds) or `none`. */
  network?: 'host' | 'none';
  /** Step, cache, output and completion events. */
  onProgress?: (e: BuildEvent) => void;
}

export type BuildResult = BuildOutcome;

const KEYS = ['root', 'onWarning', 'context', 'file', 'tags', 'buildArgs', 'target', 'noCache', 'network', 'onProgress', 'pull', 'tlsVerify'] as const;

async function readText(path: string, what: string, hint: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new BerthError('E_BUILD_INPUT', `build: cannot read the ${what} ${path}: ${errnoOf(e) === 'ENOENT' ? 'no such file' : (e as Error).message}`, { hint, cause: e });
  }
}

export async function build(options: BuildOptions): Promise<BuildResult> {
  const o = checkOptions('build', options, KEYS);
  if (typeof o.context !== 'string' || o.context === '') throw new BerthError('E_OPTION_INVALID', 'build(): context must be a directory path', { hint: 'pass { context: "." }' });
  const network = o.network ?? 'host';
  if (network !== 'host' && network !== 'none') throw new BerthError('E_OPTION_INVALID', `build --network ${String(network)}: use host or none`, { hint: 'RUN steps share the host network (host) or have only a loopback (none)' });
  const tags = (o.tags ?? []).map((t) => parseReference(t).toString());
  if (o.pull !== undefined && !['always', 'missing', 'never'].includes(o.pull)) throw new BerthError('E_OPTION_INVALID', `build --pull ${String(o.pull)}: use always, missing or never`, { hint: 'missing pulls only base images the store lacks' });
  const onWarning: WarningSink = o.onWarning ?? (() => undefined);
  const contextDir = resolve(o.context);
  return withContext('build', async () => {
    const st = await stat(contextDir).catch(() => undefined);
    if (!st?.isDirectory()) throw new BerthError('E_BUILD_INPUT', `build: the context ${contextDir} is not a directory`, { hint: 'give the directory holding the files the Dockerfile copies' });
    const file = o.file !== undefined ? resolve(o.file) : join(contextDir, 'Dockerfile');
    const dockerfileText = await readText(file, 'Dockerfile', 'give its path with -f, or put a Dockerfile in the context');
    // The host is looked at only when a step has to run (a fully cached build never does).
    const host = async () => {
      const [{ readHostFacts }, { runtimeNamespace }] = await Promise.all([import('../host/index.js'), import('./run.js')]);
      const facts = await readHostFacts({ onWarning });
      return { facts, ns: runtimeNamespace(facts) };
    };
    const store = await openStore(o);
    try {
      return await executeBuild({
        store,
        host,
        contextDir,
        dockerfileText,
        dockerfileName: basename(file),
        dockerfilePath: file,
        tags,
        buildArgs: o.buildArgs ?? {},
        ...(o.target !== undefined ? { target: o.target } : {}),
        noCache: o.noCache === true,
        pull: o.pull ?? 'missing',
        ...(o.tlsVerify !== undefined ? { tlsVerify: o.tlsVerify } : {}),
        network,
        onProgress: o.onProgress ?? (() => undefined),
        onWarning,
      });
    } finally {
      await store.close();
    }
  });
}
