/**
 * Synthetic images for explain tests: a file list becomes tar headers, a per-layer file index and
 * the merged view, exactly as import builds them, so the rules see what they see in production.
 */
import { FileIndexBuilder, mergeFileIndexes, type ImageFileView } from '../../src/layer/fileindex.js';
import type { TarHeader } from '../../src/layer/tar/types.js';
import type { ExplainImage, ExplainImageConfig } from '../../src/explain/input.js';

export interface FileSpec {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink';
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  /** Captured for /etc/passwd and /etc/group. */
  content?: string;
  /** Raw security.capability, hex. */
  cap?: string;
}

/** `cap_net_raw=ep`: v2, effective, permitted bit 13 (layers-and-capabilities.md section 3). */
export const CAP_NET_RAW_EP = '0100000200200000000000000000000000000000';
/** `cap_net_raw=p`: the same without the effective flag. */
export const CAP_NET_RAW_P = '0000000200200000000000000000000000000000';
/** `cap_net_raw=ep` as v3 for rootid 1001 (written inside a rootless namespace). */
export const CAP_NET_RAW_EP_V3_1001 = '0100000300200000000000000000000000000000e9030000';

function header(f: FileSpec): TarHeader {
  const type = f.type ?? (f.path.endsWith('/') ? 'dir' : 'file');
  const size = f.content !== undefined ? Buffer.byteLength(f.content) : 0;
  return {
    path: f.path,
    type,
    mode: f.mode ?? (type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
    uid: f.uid ?? 0,
    gid: f.gid ?? 0,
    uname: '',
    gname: '',
    size: type === 'file' ? size : 0,
    mtime: { sec: 0, nsec: 0 },
    linkname: f.linkname ?? '',
    devmajor: 0,
    devminor: 0,
    xattrs: f.cap ? new Map([['security.capability', Buffer.from(f.cap, 'hex')]]) : new Map(),
  };
}

export function layerIndex(files: FileSpec[]) {
  const b = new FileIndexBuilder();
  for (const f of files) {
    const h = header(f);
    b.add(h);
    if (f.content !== undefined && b.wantsBody(h)) b.addBody(h.path, Buffer.from(f.content));
  }
  return b.finish();
}

export function view(...layers: FileSpec[][]): ImageFileView {
  return mergeFileIndexes(layers.map(layerIndex));
}

export function image(files: FileSpec[], config: ExplainImageConfig['config'] = {}, more: FileSpec[][] = []): ExplainImage {
  return { reference: 'test:1', config: { config }, view: view(files, ...more) };
}

export const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  'foo:x:10000:10000::/home/foo:/bin/sh',
  'nonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh',
  '',
].join('\n');

/** What `groupadd -g 20000 bar; useradd -u 10000 -G bar foo` leaves in /etc/group. */
export const GROUP = ['root:x:0:', 'daemon:x:1:', 'wheel:x:10:root', 'nogroup:x:65534:', 'foo:x:10000:', 'bar:x:20000:foo', 'nonroot:x:65532:', ''].join('\n');

/** A small Debian-like root filesystem. */
export function debianFiles(extra: FileSpec[] = []): FileSpec[] {
  return [
    { path: 'bin/', type: 'dir' },
    { path: 'bin/sh', mode: 0o755 },
    { path: 'bin/ls', mode: 0o755 },
    { path: 'etc/', type: 'dir' },
    { path: 'etc/passwd', content: PASSWD },
    { path: 'etc/group', content: GROUP },
    { path: 'home/', type: 'dir' },
    { path: 'home/foo/', type: 'dir', uid: 10000, gid: 10000 },
    { path: 'home/nonroot/', type: 'dir', mode: 0o700, uid: 65532, gid: 65532 },
    { path: 'root/', type: 'dir', mode: 0o700 },
    { path: 'tmp/', type: 'dir', mode: 0o1777 },
    { path: 'usr/', type: 'dir' },
    { path: 'usr/bin/', type: 'dir' },
    { path: 'usr/bin/ping', mode: 0o755, cap: CAP_NET_RAW_EP },
    { path: 'usr/bin/passwd', mode: 0o4755 },
    ...extra,
  ];
}

export const DEBIAN_CONFIG = { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] };
