/**
 * Row 13: same-archive symlink-then-file (snyk zip-slip #41) and the OCI "no duplicates" rule.
 * Entries apply strictly in order, each name unlinked before it is created, and creates use
 * O_CREAT|O_EXCL|O_NOFOLLOW: a regular file never opens an existing symlink.
 */
import assert from 'node:assert/strict';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeAdvisory, dir, file, symlink } from './harness.js';

describeAdvisory('snyk zip-slip #41: symlink, then a file of the same name', [
  {
    name: 'f -> <outside>/canary, then file f: f is a new regular file',
    layers: (sb) => [[symlink('f', sb.canary), file('f', 'evil')]],
    check: (sb) => {
      assert.ok(lstatSync(join(sb.root, 'f')).isFile());
      assert.equal(readFileSync(join(sb.root, 'f'), 'utf8'), 'evil');
    },
  },
  {
    name: 'duplicates apply in order: file, dir, file, symlink: the last one wins',
    layers: (sb) => [[file('x', '1'), dir('x'), file('x/in', 'in'), file('x', '2'), symlink('x', sb.canary)]],
    check: (sb) => assert.ok(lstatSync(join(sb.root, 'x')).isSymbolicLink()),
  },
  {
    name: 'L1 f -> <outside>/canary, L2 file f with mode 0777: the canary keeps its mode',
    layers: (sb) => [[symlink('f', sb.canary)], [file('f', 'evil', { mode: 0o777 })]],
    check: (sb) => assert.equal(lstatSync(join(sb.root, 'f')).mode & 0o777, 0o777),
  },
]);
