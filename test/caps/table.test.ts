import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { CAP, CAPS, CAP_LAST_CAP, capInfo, capNameOf } from '../../src/caps/index.js';

describe('capability table', () => {
  test('numbers run 0..40 with CAP_CHOWN first and CAP_CHECKPOINT_RESTORE last', () => {
    assert.equal(CAP_LAST_CAP, 40);
    assert.equal(CAPS.length, 41);
    assert.deepEqual(CAPS[0], { number: 0, name: 'CAP_CHOWN', textName: 'cap_chown' });
    assert.deepEqual(CAPS[40], { number: 40, name: 'CAP_CHECKPOINT_RESTORE', textName: 'cap_checkpoint_restore' });
    CAPS.forEach((c, i) => assert.equal(c.number, i));
  });

  test('well-known numbers', () => {
    assert.equal(CAP.NET_RAW, 13);
    assert.equal(CAP.SYS_ADMIN, 21);
    assert.equal(CAP.SETFCAP, 31);
    assert.equal(CAP.MAC_OVERRIDE, 32);
    assert.equal(capInfo('CAP_NET_BIND_SERVICE')?.number, 10);
    assert.equal(capNameOf(39), 'CAP_BPF');
    assert.equal(capNameOf(41), undefined);
  });

  const header = '/usr/include/linux/capability.h';
  test('matches the installed kernel header', { skip: !existsSync(header) && `${header} not installed` }, () => {
    const text = readFileSync(header, 'utf8');
    const defined = new Map<string, number>();
    for (const m of text.matchAll(/^#define\s+(CAP_[A-Z_]+)\s+(\d+)\s*$/gm)) defined.set(m[1], Number(m[2]));
    const last = /^#define\s+CAP_LAST_CAP\s+(CAP_[A-Z_]+)/m.exec(text);
    assert.ok(last, 'CAP_LAST_CAP found');
    assert.equal(defined.get(last[1]), CAP_LAST_CAP);
    for (const c of CAPS) assert.equal(defined.get(c.name), c.number, c.name);
  });
});
