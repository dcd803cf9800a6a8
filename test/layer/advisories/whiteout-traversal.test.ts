/**
 * Row 14: whiteout traversal. A whiteout's directory resolves inside the root like any parent,
 * and the whiteout names `.wh.`, `.wh..` and `.wh...` (deleting nothing, '.' or '..') are errors.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describeAdvisory, dir, file, symlink } from './harness.js';

describeAdvisory('whiteout traversal', [
  {
    name: 'L1 lib -> /usr/lib and usr/lib/libc.so.6, L2 lib/.wh.libc.so.6: deletes root/usr/lib/libc.so.6',
    layers: () => [[symlink('lib', '/usr/lib'), file('usr/lib/libc.so.6', 'elf'), file('usr/lib/keep', 'k')], [file('lib/.wh.libc.so.6')]],
    check: (sb) => {
      assert.equal(existsSync(join(sb.root, 'usr/lib/libc.so.6')), false);
      assert.equal(existsSync(join(sb.root, 'usr/lib/keep')), true);
    },
  },
  {
    name: 'L1 o -> <outside>, L2 o/.wh.canary: resolves in the root, where there is nothing to delete',
    layers: (sb) => [[symlink('o', sb.outside)], [file('o/.wh.canary')]],
  },
  {
    name: 'L1 o -> ../outside, L2 .wh.o: only the link o goes, not what it points to',
    layers: () => [[symlink('o', '../outside')], [file('.wh.o')]],
    check: (sb) => assert.equal(existsSync(join(sb.root, 'o')), false),
  },
  {
    name: '../.wh.x clamps to the root: deletes root/x',
    layers: () => [[file('x', 'x')], [file('../.wh.x')]],
    check: (sb) => assert.equal(existsSync(join(sb.root, 'x')), false),
  },
  { name: '.wh. is invalid', layers: () => [[file('.wh.')]], code: 'E_LAYER_WHITEOUT' },
  { name: 'a/.wh.. is invalid', layers: () => [[dir('a'), file('a/.wh..')]], code: 'E_LAYER_WHITEOUT' },
  { name: '.wh... is invalid', layers: () => [[file('.wh...')]], code: 'E_LAYER_WHITEOUT' },
  {
    name: 'a whiteout under a missing directory does nothing and creates nothing',
    layers: () => [[file('no/such/.wh.thing')]],
    check: (sb) => assert.equal(existsSync(join(sb.root, 'no')), false),
  },
]);
