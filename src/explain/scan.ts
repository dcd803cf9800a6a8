/**
 * explain/scan: one pass over the merged image file view that collects what the image-wide rules
 * need: setuid/setgid files, files carrying `security.capability`, the well-known programs that
 * normally carry a capability or the setuid bit, and (when a user namespace is modelled) which
 * IDs own which files. The view comes from the per-layer file index, so no layer data is read.
 */
import type { ImageFileView, ViewEntry } from '../layer/fileindex.js';

/** A byte-string path from the file index, as text for people (layer/tar/types.ts). */
export function displayPath(p: string): string {
  return Buffer.from(p, 'latin1').toString('utf8');
}

/** A path from the image config (UTF-8 JSON) as the index's byte string. */
export function bytePath(p: string): string {
  return Buffer.from(p, 'utf8').toString('latin1');
}

export interface ScannedFile {
  /** Display form. */
  path: string;
  mode: number;
  uid: number;
  gid: number;
  /** Raw security.capability, lowercase hex. */
  capability?: string;
}

/**
 * Programs that only work for a non-root user when they carry a file capability or the setuid
 * bit. `icmp`: iputils ping falls back to an ICMP datagram socket, which the kernel allows when the
 * process's group is inside net.ipv4.ping_group_range.
 */
export interface PrivilegedProgram {
  name: string;
  needs: string;
  icmp?: boolean;
  /** Missing privilege breaks the program's main job (warning) or only some uses (info). */
  severity: 'warning' | 'info';
}

export const PRIVILEGED_PROGRAMS: readonly PrivilegedProgram[] = [
  { name: 'ping', needs: 'cap_net_raw (iputils ships cap_net_raw=ep; older packages set the setuid bit)', icmp: true, severity: 'warning' },
  { name: 'ping6', needs: 'cap_net_raw (iputils ships cap_net_raw=ep; older packages set the setuid bit)', icmp: true, severity: 'warning' },
  { name: 'arping', needs: 'cap_net_raw (iputils ships cap_net_raw=ep)', severity: 'warning' },
  { name: 'clockdiff', needs: 'cap_net_raw (iputils ships cap_net_raw=ep)', severity: 'warning' },
  { name: 'mtr-packet', needs: 'cap_net_raw (Debian sets cap_net_raw=ep)', severity: 'warning' },
  { name: 'newuidmap', needs: 'the setuid bit or cap_setuid (shadow-utils)', severity: 'warning' },
  { name: 'newgidmap', needs: 'the setuid bit or cap_setgid (shadow-utils)', severity: 'warning' },
  { name: 'su', needs: 'the setuid bit (owner root)', severity: 'info' },
  { name: 'sudo', needs: 'the setuid bit (owner root)', severity: 'info' },
  { name: 'passwd', needs: 'the setuid bit (owner root)', severity: 'info' },
  { name: 'newgrp', needs: 'the setuid bit (owner root)', severity: 'info' },
  { name: 'mount', needs: 'the setuid bit (owner root)', severity: 'info' },
  { name: 'umount', needs: 'the setuid bit (owner root)', severity: 'info' },
  { name: 'fusermount', needs: 'the setuid bit (owner root)', severity: 'info' },
  { name: 'fusermount3', needs: 'the setuid bit (owner root)', severity: 'info' },
];

/** Where a package manager installs programs. */
const BIN_DIRS = new Set(['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin']);

const PROGRAMS = new Map(PRIVILEGED_PROGRAMS.map((p) => [p.name, p]));

export interface ImageScan {
  /** Regular files with the setuid or setgid bit, sorted by path. */
  setidFiles: ScannedFile[];
  /** Regular files with a security.capability xattr, sorted by path. */
  capabilityFiles: ScannedFile[];
  /** Well-known privileged programs found as regular files in the usual bin directories. */
  privilegedPrograms: (ScannedFile & { program: PrivilegedProgram })[];
  /** Owner uid -> paths and gid -> paths (display form); only when asked for (user-namespace checks). */
  uids?: Map<number, string[]>;
  gids?: Map<number, string[]>;
  /** Highest uid or gid owning a file (0 for an empty image). */
  maxId: number;
}

function dirOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

export function scanImage(view: ImageFileView, opts: { owners: boolean }): ImageScan {
  const setidFiles: ScannedFile[] = [];
  const capabilityFiles: ScannedFile[] = [];
  const privilegedPrograms: ImageScan['privilegedPrograms'] = [];
  const uids = opts.owners ? new Map<number, string[]>() : undefined;
  const gids = opts.owners ? new Map<number, string[]>() : undefined;
  let maxId = 0;
  const note = (m: Map<number, string[]>, id: number, path: string) => {
    const list = m.get(id);
    if (!list) m.set(id, [path]);
    else list.push(path);
  };
  for (const e of view.entries({ sorted: false }) as Iterable<ViewEntry>) {
    if (e.implicit) continue;
    if (e.uid > maxId) maxId = e.uid;
    if (e.gid > maxId) maxId = e.gid;
    if (uids && gids) {
      note(uids, e.uid, e.path);
      note(gids, e.gid, e.path);
    }
    if (e.type !== 'file' && e.type !== 'hardlink') continue;
    const file = (): ScannedFile => ({
      path: displayPath(e.path),
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      ...(e.capability !== undefined ? { capability: e.capability } : {}),
    });
    if ((e.mode & 0o6000) !== 0) setidFiles.push(file());
    if (e.capability !== undefined) capabilityFiles.push(file());
    const slash = e.path.lastIndexOf('/');
    const program = PROGRAMS.get(e.path.slice(slash + 1));
    if (program && BIN_DIRS.has(dirOf(e.path))) privilegedPrograms.push({ ...file(), program });
  }
  // The walk above is in no particular order; the lists leave sorted by path.
  const byPath = (a: ScannedFile, b: ScannedFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  setidFiles.sort(byPath);
  capabilityFiles.sort(byPath);
  privilegedPrograms.sort(byPath);
  return {
    setidFiles,
    capabilityFiles,
    privilegedPrograms,
    ...(uids && gids ? { uids: displayOwners(uids), gids: displayOwners(gids) } : {}),
    maxId,
  };
}

function displayOwners(m: Map<number, string[]>): Map<number, string[]> {
  return new Map([...m].map(([id, paths]) => [id, paths.map(displayPath)]));
}
