import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_CAPS, caps, defaultCaps, type CapSet } from '../../src/caps/index.js';
import { inodePermission, mayChmod, type Access, type Credential, type InodeInfo } from '../../src/perms/index.js';

const cred = (uid: number, gid: number, effective: CapSet = 0n, groups: number[] = [], mappedInNs?: Credential['mappedInNs']): Credential => ({
  uid,
  gid,
  groups,
  effective,
  ...(mappedInNs ? { mappedInNs } : {}),
});
const file = (uid: number, gid: number, mode: number): InodeInfo => ({ type: 'file', uid, gid, mode });
const dir = (uid: number, gid: number, mode: number): InodeInfo => ({ type: 'dir', uid, gid, mode });
const R: Access = { read: true };
const W: Access = { write: true };
const X: Access = { exec: true };
const RX: Access = { read: true, exec: true };

describe('inodePermission: allowed (generic_permission)', () => {
  const cases: { name: string; cred: Credential; inode: InodeInfo; want: Access; because?: string }[] = [
    { name: 'owner class: owner reads 0600', cred: cred(1000, 1000), inode: file(1000, 1000, 0o600), want: R, because: 'uid 1000 is the owner; mode 0600 grants the owner rw-' },
    { name: 'group class via the primary gid', cred: cred(1000, 50), inode: file(0, 50, 0o640), want: R, because: 'uid 1000 is not the owner (0) but its primary group is 50; mode 0640 grants the group r--' },
    { name: 'group class via a supplementary group', cred: cred(1000, 1000, 0n, [4, 50]), inode: file(0, 50, 0o640), want: R, because: 'uid 1000 is not the owner (0) but a supplementary group is 50; mode 0640 grants the group r--' },
    { name: 'other class: reads 0644', cred: cred(1000, 1000), inode: file(0, 0, 0o644), want: R, because: 'uid 1000 is not the owner (0) and not in group 0; mode 0644 grants others r--' },
    { name: 'other class: executes 0755', cred: cred(1000, 1000), inode: file(0, 0, 0o755), want: X },
    { name: 'other class: searches a 0711 directory', cred: cred(1000, 1000), inode: dir(0, 0, 0o711), want: X },
    { name: 'nothing requested is always allowed', cred: cred(1000, 1000), inode: file(0, 0, 0o000), want: {}, because: 'no access was requested' },
    { name: 'CAP_DAC_OVERRIDE: read and write of a 0000 file', cred: cred(0, 0, caps('DAC_OVERRIDE')), inode: file(1000, 1000, 0o000), want: { read: true, write: true }, because: 'uid 0 is not the owner (1000) and not in group 1000; mode 0000 grants others --- but read and write (rw-) is needed; allowed by CAP_DAC_OVERRIDE' },
    { name: 'CAP_DAC_OVERRIDE: execute when some x bit is set (0700 owned by someone else)', cred: cred(0, 0, caps('DAC_OVERRIDE')), inode: file(1000, 1000, 0o700), want: X },
    { name: 'CAP_DAC_OVERRIDE: search any directory', cred: cred(0, 0, caps('DAC_OVERRIDE')), inode: dir(65532, 65532, 0o000), want: RX },
    { name: 'CAP_DAC_OVERRIDE: write a 0555 directory', cred: cred(0, 0, caps('DAC_OVERRIDE')), inode: dir(1000, 1000, 0o555), want: W },
    { name: 'CAP_DAC_READ_SEARCH: read a 0000 file', cred: cred(1000, 1000, caps('DAC_READ_SEARCH')), inode: file(0, 0, 0o000), want: R, because: 'uid 1000 is not the owner (0) and not in group 0; mode 0000 grants others --- but read (r--) is needed; allowed by CAP_DAC_READ_SEARCH' },
    { name: 'CAP_DAC_READ_SEARCH: read and search a 0700 directory', cred: cred(1000, 1000, caps('DAC_READ_SEARCH')), inode: dir(0, 0, 0o700), want: RX },
    { name: 'capabilities count when the owner is mapped', cred: cred(0, 0, caps('DAC_OVERRIDE'), [], (u, g) => u < 65536 && g < 65536), inode: file(1000, 1000, 0o600), want: R },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = inodePermission(c.cred, c.inode, c.want);
      assert.equal(r.allowed, true, r.because);
      assert.equal(r.errno, undefined);
      if (c.because) assert.equal(r.because, c.because);
    });
  }
});

describe('inodePermission: denied with EACCES', () => {
  const cases: { name: string; cred: Credential; inode: InodeInfo; want: Access; because?: string | RegExp }[] = [
    {
      name: 'OpenShift-style uid on a 0700 directory of 65532 (search)',
      cred: cred(1000680000, 0, 0n, [1000680000]),
      inode: dir(65532, 65532, 0o700),
      want: X,
      because:
        'uid 1000680000 is not the owner (65532) and not in group 65532; mode 0700 grants others --- but search (--x) is needed; no CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH in the effective set',
    },
    { name: 'the owner class is exclusive: owner denied by 0077 although others may', cred: cred(1000, 1000), inode: file(1000, 1000, 0o077), want: R, because: /uid 1000 is the owner; mode 0077 grants the owner ---/ },
    { name: 'the group class is exclusive: group member denied by 0604 although others may', cred: cred(1000, 50), inode: file(0, 50, 0o604), want: R, because: /primary group is 50; mode 0604 grants the group ---/ },
    { name: 'other class: write to 0644', cred: cred(1000, 1000), inode: file(0, 0, 0o644), want: W, because: /no CAP_DAC_OVERRIDE in the effective set$/ },
    { name: 'root is only a uid: uid 0 without capabilities cannot read a 0600 file of 1000', cred: cred(0, 0), inode: file(1000, 1000, 0o600), want: R },
    {
      name: 'CAP_DAC_OVERRIDE cannot execute a file without any x bit',
      cred: cred(0, 0, ALL_CAPS),
      inode: file(0, 0, 0o644),
      want: X,
      because: 'uid 0 is the owner; mode 0644 grants the owner rw- but execute (--x) is needed; CAP_DAC_OVERRIDE cannot grant execute: no x bit is set in mode 0644',
    },
    { name: 'CAP_DAC_READ_SEARCH does not grant write to a directory', cred: cred(1000, 1000, caps('DAC_READ_SEARCH')), inode: dir(0, 0, 0o755), want: W, because: /no CAP_DAC_OVERRIDE in the effective set$/ },
    { name: 'CAP_DAC_READ_SEARCH does not grant read+write of a file', cred: cred(1000, 1000, caps('DAC_READ_SEARCH')), inode: file(0, 0, 0o444), want: { read: true, write: true } },
    { name: 'CAP_DAC_READ_SEARCH does not grant execute of a file', cred: cred(1000, 1000, caps('DAC_READ_SEARCH')), inode: file(0, 0, 0o700), want: X },
    {
      name: 'userns.md rule 5: CAP_DAC_OVERRIDE does not count on a file whose owner is unmapped',
      cred: cred(0, 0, defaultCaps('docker'), [], (u, g) => u < 65536 && g < 65536),
      inode: file(70000, 70000, 0o600),
      want: R,
      because: /CAP_DAC_OVERRIDE does not count: owner 70000 or group 70000 is not mapped in the user namespace$/,
    },
    {
      name: 'userns.md rule 5: an unmapped group alone is enough to void the capability',
      cred: cred(0, 0, caps('DAC_OVERRIDE'), [], (_u, g) => g < 65536),
      inode: file(1000, 70000, 0o600),
      want: { write: true },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = inodePermission(c.cred, c.inode, c.want);
      assert.equal(r.allowed, false);
      assert.equal(r.errno, 'EACCES');
      if (typeof c.because === 'string') assert.equal(r.because, c.because);
      else if (c.because) assert.match(r.because, c.because);
    });
  }
});

describe('mayChmod (inode_owner_or_capable)', () => {
  test('the owner may', () => {
    assert.deepEqual(mayChmod(cred(1000, 1000), file(1000, 1000, 0o644)), { allowed: true, because: 'uid 1000 is the owner' });
  });
  test('CAP_FOWNER makes a non-owner owner-equivalent', () => {
    const r = mayChmod(cred(0, 0, caps('FOWNER')), file(1000, 1000, 0o644));
    assert.equal(r.allowed, true);
    assert.match(r.because, /has CAP_FOWNER/);
  });
  test('a non-owner without CAP_FOWNER gets EPERM', () => {
    assert.deepEqual(mayChmod(cred(1000, 1000), file(0, 0, 0o644)), {
      allowed: false,
      errno: 'EPERM',
      because: 'uid 1000 is not the owner (0); no CAP_FOWNER in the effective set',
    });
  });
  test('userns.md rule 5: CAP_FOWNER needs only the owner uid mapped', () => {
    const asked: [number, number][] = [];
    const mapped = (u: number, g: number): boolean => {
      asked.push([u, g]);
      return u < 65536 && g < 65536;
    };
    // Group 70000 is unmapped, the owner 1000 is mapped: CAP_FOWNER still counts.
    assert.equal(mayChmod(cred(0, 0, caps('FOWNER'), [], mapped), file(1000, 70000, 0o644)).allowed, true);
    assert.deepEqual(asked, [[1000, 0]]);
    const r = mayChmod(cred(0, 0, caps('FOWNER'), [], mapped), file(70000, 0, 0o644));
    assert.equal(r.errno, 'EPERM');
    assert.match(r.because, /CAP_FOWNER does not count: owner 70000 is not mapped/);
  });
  test('setgid is cleared when the caller is not in the group and lacks CAP_FSETID', () => {
    const r = mayChmod(cred(1000, 1000), file(1000, 50, 0o755), 0o2755);
    assert.equal(r.mode, 0o755);
    assert.match(r.because, /setgid bit is cleared/);
  });
  test('setgid is kept for a group member, or with CAP_FSETID', () => {
    assert.equal(mayChmod(cred(1000, 1000, 0n, [50]), file(1000, 50, 0o755), 0o2755).mode, 0o2755);
    assert.equal(mayChmod(cred(0, 0, caps('FOWNER', 'FSETID')), file(1000, 50, 0o755), 0o2755).mode, 0o2755);
  });
  test('setuid is not touched by chmod', () => {
    assert.equal(mayChmod(cred(1000, 1000), file(1000, 50, 0o755), 0o4755).mode, 0o4755);
  });
});
