#!/usr/bin/env node
// Test and benchmark images built locally (there is no registry to pull from):
//   busybox  - a small rootfs from Debian's busybox-static, with users, groups, a setuid file,
//              a file-capability ping and a 0700 WORKDIR owned by another uid;
//   minbase  - a Debian bookworm minbase rootfs from debootstrap (about 200 MB, 6,800 entries,
//              /usr/bin/ping with cap_net_raw=ep), cached under $BERTH_FIXTURES.
// Usage: node scripts/fixtures.mjs busybox DIR | minbase   (prints the rootfs path)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync, chmodSync, chownSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES = process.env.BERTH_FIXTURES ?? '/var/cache/berth-fixtures';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
foo:x:10000:10000:Foo user:/home/foo:/bin/sh
nonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh
`;
const GROUP = `root:x:0:
daemon:x:1:
wheel:x:10:root
nogroup:x:65534:
foo:x:10000:
bar:x:20000:foo
nonroot:x:65532:
`;

/** Builds the busybox rootfs in `dir` (which must not exist). Needs root for owners and caps. */
export function makeBusyboxRootfs(dir) {
  mkdirSync(dir, { recursive: false });
  for (const d of ['bin', 'usr', 'usr/bin', 'usr/sbin', 'sbin', 'etc', 'root', 'home', 'tmp', 'dev', 'proc', 'sys', 'var', 'var/empty']) {
    mkdirSync(join(dir, d));
  }
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'root'), 0o700);
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) {
    if (a === 'busybox' || a === 'ping') continue;
    symlinkSync('busybox', join(dir, 'bin', a));
  }
  // A real file (not a symlink) so it can carry its own file capability, like Debian's iputils ping.
  copyFileSync('/bin/busybox', join(dir, 'usr/bin/ping'));
  chmodSync(join(dir, 'usr/bin/ping'), 0o755);
  execFileSync('setcap', ['cap_net_raw+ep', join(dir, 'usr/bin/ping')]);
  // A setuid-root file.
  copyFileSync('/bin/busybox', join(dir, 'usr/bin/su-test'));
  chmodSync(join(dir, 'usr/bin/su-test'), 0o4755);
  writeFileSync(join(dir, 'etc/passwd'), PASSWD);
  writeFileSync(join(dir, 'etc/group'), GROUP);
  mkdirSync(join(dir, 'home/foo'));
  chownSync(join(dir, 'home/foo'), 10000, 10000);
  mkdirSync(join(dir, 'home/nonroot'));
  chownSync(join(dir, 'home/nonroot'), 65532, 65532);
  chmodSync(join(dir, 'home/nonroot'), 0o700);
  execFileSync('setfattr', ['-n', 'user.berth-test', '-v', '0x00fffe80', join(dir, 'etc/passwd')]);
  return dir;
}

/** Returns the cached Debian minbase rootfs, creating it with debootstrap when missing. */
export function minbaseRootfs() {
  const dir = join(FIXTURES, 'bookworm-minbase');
  if (existsSync(join(dir, 'usr/bin/ping'))) return dir;
  mkdirSync(FIXTURES, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  execFileSync('debootstrap', ['--variant=minbase', '--include=iputils-ping,libcap2-bin', 'bookworm', tmp, process.env.BERTH_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian'], { stdio: ['ignore', 'ignore', 'inherit'] });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [what, arg] = process.argv.slice(2);
  if (what === 'busybox' && arg) console.log(makeBusyboxRootfs(arg));
  else if (what === 'minbase') console.log(minbaseRootfs());
  else {
    console.error('usage: fixtures.mjs busybox DIR | minbase');
    process.exit(2);
  }
}
