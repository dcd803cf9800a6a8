/**
 * Row 16: overlay and bookkeeping xattr injection. Overlay metadata (redirects, opaque markers)
 * would be obeyed when the unpacked layer becomes an overlay lower directory; SELinux labels
 * belong to the host; ownership-override and berth's own xattrs must not be forgeable. They are
 * dropped, reported once, and everything else is kept byte-exact.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describeAdvisory, dir, file, getfattr } from './harness.js';

const injected: Record<string, Buffer> = {
  'trusted.overlay.redirect': Buffer.from('/etc'),
  'trusted.overlay.opaque': Buffer.from('y'),
  'user.overlay.opaque': Buffer.from('y'),
  'security.selinux': Buffer.from('system_u:object_r:shadow_t:s0\0'),
  'user.containers.override_stat': Buffer.from('0:0:04755:file'),
  'user.rootlesscontainers': Buffer.from('\x08\x00'),
  'user.berth.owner': Buffer.from('0:0'),
  'trusted.berth.owner': Buffer.from('0:0'),
};

describeAdvisory('overlay and metadata xattr injection', [
  {
    name: 'a file carrying every forbidden xattr keeps only user.keep',
    layers: () => [[file('f', 'x', { xattrs: { ...injected, 'user.keep': Buffer.from([0, 0xff, 0xfe, 0x80]) } })]],
    check: (sb, applied) => {
      assert.equal(getfattr(join(sb.root, 'f')), 'user.keep=0x00fffe80');
      assert.equal(applied!.stats.xattrsFiltered, 8);
      const w = applied!.warnings.filter((x) => x.code === 'W_UNPACK_XATTR_FILTERED');
      assert.equal(w.length, 1);
      for (const name of Object.keys(injected)) assert.match(w[0].message, new RegExp(name.replaceAll('.', '\\.')));
    },
  },
  {
    name: 'a directory with trusted.overlay.opaque is an ordinary directory',
    layers: () => [[dir('d', { xattrs: { 'trusted.overlay.opaque': Buffer.from('y'), 'user.x': Buffer.from('1') } })]],
    check: (sb) => assert.equal(getfattr(join(sb.root, 'd')), 'user.x=0x31'),
  },
  {
    name: 'as real root, other trusted.* xattrs are applied',
    layers: () => [[file('t', 'x', { xattrs: { 'trusted.md5': Buffer.from('abc') } })]],
    check: (sb) => assert.equal(getfattr(join(sb.root, 't')), 'trusted.md5=0x616263'),
  },
  {
    name: 'in a user namespace, trusted.* cannot be written: dropped and reported as not applied',
    options: { privilege: 'userns' },
    layers: () => [[file('t', 'x', { xattrs: { 'trusted.md5': Buffer.from('abc') } })]],
    check: (sb, applied) => {
      assert.equal(getfattr(join(sb.root, 't')), '');
      assert.equal(applied!.stats.lost.xattrs, 1);
      assert.equal(applied!.warnings.filter((w) => w.code === 'W_UNPACK_XATTR').length, 1);
    },
  },
]);
