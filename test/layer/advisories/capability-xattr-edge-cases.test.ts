/**
 * Row 17: `security.capability` edge cases. v1 values are widened to v2 (the kernel refuses to
 * write v1), a v3 value loses its rootid (written raw it would be read in berth's namespace),
 * malformed sizes are dropped with a warning, and binary values with 0xff bytes stay byte-exact.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CAP_NET_RAW, capV2, describeAdvisory, file, getcap, getfattr } from './harness.js';

function capV1(permitted: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(0x01000001, 0);
  b.writeUInt32LE(permitted, 4);
  return b;
}

function capV3(permitted: number, rootid: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0x03000001, 0);
  b.writeUInt32LE(permitted, 4);
  b.writeUInt32LE(rootid, 20);
  return b;
}

/** Every capability (0..40), effective: `=ep`, a value full of 0xff bytes. */
const allEp = Buffer.alloc(20);
allEp.writeUInt32LE(0x02000001, 0);
allEp.writeUInt32LE(0xffffffff, 4);
allEp.writeUInt32LE(0x000001ff, 12);

const capOf = (sb: { root: string }, name: string) =>
  getfattr(join(sb.root, name))
    .split('\n')
    .find((l) => l.startsWith('security.capability='));

describeAdvisory('file capability edge cases', [
  {
    name: 'v1 (12 bytes) is widened to v2',
    layers: () => [[file('v1', 'x', { mode: 0o755, xattrs: { 'security.capability': capV1(CAP_NET_RAW) } })]],
    check: (sb) => {
      assert.equal(capOf(sb, 'v1'), `security.capability=0x${capV2(CAP_NET_RAW).toString('hex')}`);
      assert.equal(getcap(join(sb.root, 'v1')), 'cap_net_raw=ep');
    },
  },
  {
    name: 'v3 with rootid 1000 is written as v2, with a warning naming the rootid',
    layers: () => [[file('v3', 'x', { mode: 0o755, xattrs: { 'security.capability': capV3(CAP_NET_RAW, 1000) } })]],
    check: (sb, applied) => {
      assert.equal(capOf(sb, 'v3'), `security.capability=0x${capV2(CAP_NET_RAW).toString('hex')}`);
      const w = applied!.warnings.filter((x) => x.code === 'W_UNPACK_FILECAPS_ROOTID');
      assert.equal(w.length, 1);
      assert.match(w[0].message, /rootid 1000/);
    },
  },
  {
    name: 'v3 with rootid 0 is written as v2 silently',
    layers: () => [[file('v3', 'x', { xattrs: { 'security.capability': capV3(CAP_NET_RAW, 0) } })]],
    check: (sb, applied) => {
      assert.equal(capOf(sb, 'v3'), `security.capability=0x${capV2(CAP_NET_RAW).toString('hex')}`);
      assert.equal(applied!.warnings.length, 0);
    },
  },
  {
    name: 'a 16-byte value is dropped with a warning; the file and its other xattrs are kept',
    layers: () => [[file('bad', 'x', { xattrs: { 'security.capability': Buffer.alloc(16, 1), 'user.a': Buffer.from('b') } })]],
    check: (sb, applied) => {
      assert.equal(getfattr(join(sb.root, 'bad')), 'user.a=0x62');
      assert.equal(applied!.warnings.filter((x) => x.code === 'W_UNPACK_FILECAPS_INVALID').length, 1);
    },
  },
  {
    name: 'an unknown revision is dropped with a warning',
    layers: () => [[file('bad', 'x', { xattrs: { 'security.capability': Buffer.from('0000000500000000000000000000000000000000', 'hex') } })]],
    check: (_sb, applied) => assert.equal(applied!.warnings.filter((x) => x.code === 'W_UNPACK_FILECAPS_INVALID').length, 1),
  },
  {
    name: '=ep (0xff bytes) is kept byte-exact',
    layers: () => [[file('all', 'x', { mode: 0o755, xattrs: { 'security.capability': allEp } })]],
    check: (sb) => {
      assert.equal(capOf(sb, 'all'), `security.capability=0x${allEp.toString('hex')}`);
      assert.equal(getcap(join(sb.root, 'all')), '=ep');
    },
  },
  {
    name: 'a capability on a directory or symlink is not a file capability: dropped',
    layers: () => [[file('t', 'x'), { header: { ...file('l', '').header, type: 'symlink', linkname: 't', xattrs: new Map([['security.capability', capV2(CAP_NET_RAW)]]) } }]],
    check: (sb) => assert.equal(getfattr(join(sb.root, 'l')), ''),
  },
]);
