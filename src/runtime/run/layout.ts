/**
 * Where containers live inside a store (docs/run.md "On disk"). Pure path arithmetic: every path
 * comes from the store root and a validated container ID, so no caller can build a path from junk.
 *
 *   <root>/berth/containers/lock             flock: taken exclusively to create, name, reap or remove
 *   <root>/berth/containers/<id>/record.json the container record (written before runc starts)
 *   <root>/berth/containers/<id>/config.json the bundle's runtime config
 *   <root>/berth/containers/<id>/rootfs/     mount point of the overlay (or the copy)
 *   <root>/berth/containers/<id>/upper/      overlay upper and work directories
 *   <root>/berth/containers/<id>/work/
 *   <root>/berth/runc/<id>/                  runc's state (runc --root <root>/berth/runc)
 *   <root>/berth/rootfs/<hex>/rootfs/        an image's unpacked rootfs, keyed by its chain ID
 */
import { join } from 'node:path';
import { BerthError } from '../../errors/index.js';

const ID_RE = /^[0-9a-f]{64}$/;
/** Docker's container-name grammar (moby daemon/names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`). */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_NAME = 128;

export function isContainerId(s: string): boolean {
  return ID_RE.test(s);
}

/** Checks a `--name` value; Docker's grammar, at most 128 characters. */
export function checkContainerName(name: string): string {
  if (!NAME_RE.test(name) || name.length > MAX_NAME) {
    throw new BerthError('E_CONTAINER_NAME_INVALID', `run --name ${JSON.stringify(name)}: invalid container name`, {
      hint: `a name starts with a letter or digit, continues with letters, digits, "_", "." or "-", and has at most ${MAX_NAME} characters`,
      details: { name },
    });
  }
  return name;
}

export class ContainerLayout {
  readonly root: string;
  readonly containers: string;
  readonly lock: string;
  readonly runcRoot: string;
  readonly rootfsCache: string;

  constructor(storeRoot: string) {
    this.root = storeRoot;
    this.containers = join(storeRoot, 'berth', 'containers');
    this.lock = join(this.containers, 'lock');
    this.runcRoot = join(storeRoot, 'berth', 'runc');
    this.rootfsCache = join(storeRoot, 'berth', 'rootfs');
  }

  dir(id: string): string {
    if (!isContainerId(id)) throw new BerthError('E_CONTAINER_ID_INVALID', `container ${id}: not a container ID (64 hex digits)`);
    return join(this.containers, id);
  }

  record(id: string): string {
    return join(this.dir(id), 'record.json');
  }

  /** runc's state directory of one container. */
  runcState(id: string): string {
    return join(this.runcRoot, this.dir(id).slice(this.containers.length + 1));
  }
}

/** The bundle of one container: all relative names, so the mount options never contain the store path. */
export const BUNDLE = {
  config: 'config.json',
  rootfs: 'rootfs',
  upper: 'upper',
  work: 'work',
} as const;
