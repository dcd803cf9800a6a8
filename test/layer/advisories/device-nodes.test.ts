/**
 * Row 18: devices and FIFOs. Real root creates device nodes (including char 0:0, which in a
 * layer is a device, not a whiteout); any other caller skips them with one warning. FIFOs are
 * always created.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { describeAdvisory, entry } from './harness.js';

const nodes = () => [
  entry('dev/mem', 'char', { devmajor: 1, devminor: 1, mode: 0o640, gid: 15 }),
  entry('dev/sda', 'block', { devmajor: 8, devminor: 0, mode: 0o660, gid: 6 }),
  entry('dev/zero-zero', 'char', { devmajor: 0, devminor: 0, mode: 0o600 }),
  entry('run/fifo', 'fifo', { mode: 0o620, uid: 42 }),
];

describeAdvisory('device nodes and FIFOs', [
  {
    name: 'as root: char 1:1, block 8:0, char 0:0 and a FIFO, with modes and owners',
    layers: () => [nodes()],
    check: (sb, applied) => {
      const mem = lstatSync(join(sb.root, 'dev/mem'));
      assert.ok(mem.isCharacterDevice());
      assert.equal(mem.rdev, (1 << 8) | 1);
      assert.equal(mem.mode & 0o7777, 0o640);
      assert.equal(mem.gid, 15);
      assert.ok(lstatSync(join(sb.root, 'dev/sda')).isBlockDevice());
      assert.equal(lstatSync(join(sb.root, 'dev/sda')).rdev, 8 << 8);
      assert.equal(lstatSync(join(sb.root, 'dev/zero-zero')).rdev, 0);
      const fifo = lstatSync(join(sb.root, 'run/fifo'));
      assert.ok(fifo.isFIFO());
      assert.equal(fifo.mode & 0o7777, 0o620);
      assert.equal(fifo.uid, 42);
      assert.deepEqual(applied!.stats.created, { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, devices: 3, fifos: 1 });
    },
  },
  {
    name: 'in a user namespace: devices skipped with one warning, the FIFO created',
    options: { privilege: 'userns' },
    layers: () => [nodes()],
    check: (sb, applied) => {
      assert.equal(existsSync(join(sb.root, 'dev/mem')), false);
      assert.equal(existsSync(join(sb.root, 'dev/zero-zero')), false);
      assert.ok(lstatSync(join(sb.root, 'run/fifo')).isFIFO());
      assert.equal(applied!.stats.lost.devices, 3);
      const w = applied!.warnings.filter((x) => x.code === 'W_UNPACK_DEVICE');
      assert.equal(w.length, 1);
      assert.match(w[0].message, /3 devices, e\.g\. \/dev\/mem/);
    },
  },
  {
    name: 'a device replaces a regular file of the same name',
    layers: () => [[entry('dev/null', 'file')], [entry('dev/null', 'char', { devmajor: 1, devminor: 3, mode: 0o666 })]],
    check: (sb) => assert.ok(lstatSync(join(sb.root, 'dev/null')).isCharacterDevice()),
  },
]);
