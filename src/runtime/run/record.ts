/**
 * The container record: what a berth process writes before it starts runc, so that a later berth
 * command can tell a live container from one whose berth was killed and clean up after it.
 *
 * A process is identified by pid AND start time (field 22 of /proc/PID/stat), so a recycled pid
 * never makes a dead container look alive. Records are replaced by rename, never edited in place.
 */
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, errnoOf } from '../../errors/index.js';
import type { IdMap } from '../../idmap/index.js';
import { isContainerId, type ContainerLayout } from './layout.js';

export const RECORD_VERSION = 1;

export type ContainerStatus = 'created' | 'running' | 'exited';

export interface ProcessStamp {
  pid: number;
  /** Start time in clock ticks since boot (/proc/PID/stat field 22). */
  start: number;
}

export interface ContainerRecord {
  version: typeof RECORD_VERSION;
  id: string;
  name: string;
  /** The image as given and the image ID it resolved to. */
  image: string;
  imageId: string;
  /** Chain ID of the cached rootfs used as the overlay's lower layer. */
  chainId: string;
  /** Directory name of that rootfs under berth/rootfs (gc keeps it while the record exists). */
  rootfsKey: string;
  /** The berth process that owns the container while it runs. */
  owner: ProcessStamp;
  runtime: 'runc' | 'crun';
  /** runc's --root. */
  stateRoot: string;
  /** True when runc ran in berth's rootless user namespace (cleanup may need that namespace). */
  rootless: boolean;
  /** `--rm`: everything goes when the process exits. */
  autoRemove: boolean;
  /** ISO 8601 times. */
  created: string;
  finished?: string;
  status: ContainerStatus;
  exitCode?: number;
  /** The container's own user namespace maps (container ID -> namespace ID), when it has one. */
  uidMap?: IdMap;
  gidMap?: IdMap;
  /** A mount point outside the container directory (rootless modes whose root cannot reach the store). */
  externalRootfs?: string;
}

/** Start time of a process from its /proc/PID/stat text (the comm field may hold spaces and parens). */
export function parseStatStart(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // Fields after comm start at field 3 (state); starttime is field 22.
  const fields = text.slice(close + 2).split(' ');
  const v = fields[22 - 3];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

export async function processStamp(pid: number): Promise<ProcessStamp | undefined> {
  try {
    const start = parseStatStart(await readFile(`/proc/${pid}/stat`, 'utf8'));
    return start === undefined ? undefined : { pid, start };
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ESRCH') return undefined;
    throw e;
  }
}

/** True while the stamped process runs (a zombie counts as gone: it can no longer clean up). */
export async function stampAlive(s: ProcessStamp): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(`/proc/${s.pid}/stat`, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ESRCH') return false;
    throw e;
  }
  const close = text.lastIndexOf(')');
  const state = text.slice(close + 2, close + 3);
  return parseStatStart(text) === s.start && state !== 'Z' && state !== 'X';
}

function isMap(v: unknown): v is IdMap {
  const n = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  return Array.isArray(v) && v.every((r) => typeof r === 'object' && r !== null && n(r.container) && n(r.host) && n(r.size));
}

/** Validates a parsed record; anything else is reported, never trusted for paths or pids. */
export function parseRecord(text: string, path: string): ContainerRecord {
  let o: Partial<ContainerRecord>;
  try {
    o = JSON.parse(text) as Partial<ContainerRecord>;
  } catch {
    o = {};
  }
  const int = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const ok =
    o !== null &&
    typeof o === 'object' &&
    o.version === RECORD_VERSION &&
    typeof o.id === 'string' &&
    isContainerId(o.id) &&
    typeof o.name === 'string' &&
    typeof o.image === 'string' &&
    typeof o.imageId === 'string' &&
    typeof o.chainId === 'string' &&
    typeof o.rootfsKey === 'string' &&
    typeof o.owner === 'object' &&
    o.owner !== null &&
    int(o.owner.pid) &&
    int(o.owner.start) &&
    (o.runtime === 'runc' || o.runtime === 'crun') &&
    typeof o.stateRoot === 'string' &&
    typeof o.rootless === 'boolean' &&
    typeof o.autoRemove === 'boolean' &&
    typeof o.created === 'string' &&
    (o.status === 'created' || o.status === 'running' || o.status === 'exited') &&
    (o.exitCode === undefined || int(o.exitCode)) &&
    (o.externalRootfs === undefined || typeof o.externalRootfs === 'string') &&
    (o.uidMap === undefined || isMap(o.uidMap)) &&
    (o.gidMap === undefined || isMap(o.gidMap));
  if (!ok) {
    throw new BerthError('E_CONTAINER_RECORD_INVALID', `read container record ${path}: damaged or from another berth version`, {
      hint: 'remove the container directory by hand if no container runs from it',
      details: { path },
    });
  }
  return o as ContainerRecord;
}

export async function writeRecord(layout: ContainerLayout, rec: ContainerRecord): Promise<void> {
  const final = layout.record(rec.id);
  const tmp = `${final}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, final);
}

export async function readRecord(layout: ContainerLayout, id: string): Promise<ContainerRecord | undefined> {
  const path = layout.record(id);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  }
  return parseRecord(text, path);
}

/** IDs of every container directory, sorted (directories without a record are included: half-created). */
export async function listContainerIds(layout: ContainerLayout): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(layout.containers);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return [];
    throw e;
  }
  return names.filter(isContainerId).sort();
}

export function recordDir(layout: ContainerLayout, id: string): string {
  return join(layout.containers, id);
}
