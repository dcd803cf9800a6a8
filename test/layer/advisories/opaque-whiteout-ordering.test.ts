/**
 * Row 15: opaque-whiteout ordering. `.wh..wh..opq` hides the lower layers' children of its
 * directory as if it came first, wherever it appears; `.wh.x` deletes only a lower `x`. What
 * this layer adds survives both.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeAdvisory, dir, file } from './harness.js';

const lower = () => [dir('a'), dir('a/b'), file('a/b/old', 'old'), file('a/c', 'c'), dir('a/d'), file('a/d/e', 'e')];

describeAdvisory('opaque whiteout ordering', [
  {
    name: 'L2 a/b/new, then a/.wh..wh..opq: a/b/new survives, every lower child of a is gone',
    layers: () => [lower(), [file('a/b/new', 'new'), file('a/.wh..wh..opq')]],
    check: (sb) => {
      assert.deepEqual(readdirSync(join(sb.root, 'a')), ['b']);
      assert.deepEqual(readdirSync(join(sb.root, 'a/b')), ['new']);
    },
  },
  {
    name: 'opaque first (the usual order), then new children: only the new ones',
    layers: () => [lower(), [dir('a'), file('a/.wh..wh..opq'), file('a/z', 'z')]],
    check: (sb) => assert.deepEqual(readdirSync(join(sb.root, 'a')), ['z']),
  },
  {
    name: 'the opaque directory merged by this layer (a/ listed) keeps this layer\'s subdirectory a/d but not its lower e',
    layers: () => [lower(), [dir('a', { mode: 0o700 }), dir('a/d'), file('a/d/f', 'f'), file('a/.wh..wh..opq')]],
    check: (sb) => {
      assert.deepEqual(readdirSync(join(sb.root, 'a')), ['d']);
      assert.deepEqual(readdirSync(join(sb.root, 'a/d')), ['f']);
    },
  },
  {
    name: 'x then .wh.x in the same layer: x stays',
    layers: () => [[file('y', 'lower')], [file('x', 'mine'), file('.wh.x'), file('.wh.y')]],
    check: (sb) => {
      assert.equal(readFileSync(join(sb.root, 'x'), 'utf8'), 'mine');
      assert.equal(existsSync(join(sb.root, 'y')), false);
    },
  },
  {
    name: '.wh.x before x: the lower x is replaced by the new one',
    layers: () => [[dir('x'), file('x/old', 'old')], [file('.wh.x'), file('x', 'new')]],
    check: (sb) => assert.equal(readFileSync(join(sb.root, 'x'), 'utf8'), 'new'),
  },
  {
    name: 'an opaque marker at the root hides every lower entry',
    layers: () => [lower(), [file('top', 't'), file('.wh..wh..opq')]],
    check: (sb) => assert.deepEqual(readdirSync(sb.root), ['top']),
  },
  {
    name: 'AUFS metadata (.wh..wh.plnk) is skipped and reported',
    layers: () => [[dir('.wh..wh.plnk'), file('.wh..wh.plnk/123.456', 'x'), file('ok', 'ok')]],
    check: (sb, applied) => {
      assert.deepEqual(readdirSync(sb.root), ['ok']);
      assert.equal(applied!.stats.skipped, 2);
      assert.equal(applied!.warnings.filter((w) => w.code === 'W_UNPACK_AUFS').length, 1);
    },
  },
]);
