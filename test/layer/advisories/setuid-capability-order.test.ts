/**
 * Row 19: metadata ordering. chown clears setuid/setgid and removes `security.capability`, so a
 * setuid-root binary with a capability only survives as write -> chown -> xattrs -> chmod ->
 * times. Both the bits and the capability must be there afterwards.
 */
import assert from 'node:assert/strict';
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { CAP_NET_RAW, capV2, describeAdvisory, file, getcap } from './harness.js';

describeAdvisory('setuid and capability survive the metadata order', [
  {
    name: 'setuid-root 4755 with cap_net_raw+ep: mode 4755, root:root, capability kept',
    layers: () => [[file('usr/bin/ping', 'ELF', { mode: 0o4755, xattrs: { 'security.capability': capV2(CAP_NET_RAW) } })]],
    check: (sb) => {
      const st = lstatSync(join(sb.root, 'usr/bin/ping'));
      assert.equal(st.mode & 0o7777, 0o4755);
      assert.equal(st.uid, 0);
      assert.equal(st.gid, 0);
      assert.equal(getcap(join(sb.root, 'usr/bin/ping')), 'cap_net_raw=ep');
    },
  },
  {
    name: 'setgid 2755 owned 1000:50 with a capability: all kept',
    layers: () => [[file('bin/x', 'ELF', { mode: 0o2755, uid: 1000, gid: 50, xattrs: { 'security.capability': capV2(CAP_NET_RAW) } })]],
    check: (sb) => {
      const st = lstatSync(join(sb.root, 'bin/x'));
      assert.equal(st.mode & 0o7777, 0o2755);
      assert.equal(st.uid, 1000);
      assert.equal(st.gid, 50);
      assert.equal(getcap(join(sb.root, 'bin/x')), 'cap_net_raw=ep');
    },
  },
  {
    name: 'replacing a setuid file by one of another owner keeps the new bits and capability',
    layers: () => [[file('f', 'a', { mode: 0o4755 })], [file('f', 'b', { mode: 0o6750, uid: 7, gid: 8, xattrs: { 'security.capability': capV2(CAP_NET_RAW) } })]],
    check: (sb) => {
      const st = lstatSync(join(sb.root, 'f'));
      assert.equal(st.mode & 0o7777, 0o6750);
      assert.equal(getcap(join(sb.root, 'f')), 'cap_net_raw=ep');
    },
  },
]);
