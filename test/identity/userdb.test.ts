import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  assertUserFileSize,
  formatGroupEntry,
  formatPasswdEntry,
  GROUP_SCAN_BUFFER_BYTES,
  MAX_USER_FILE_BYTES,
  PASSWD_SCAN_BUFFER_BYTES,
  parseGroup,
  parsePasswd,
  userDbFromText,
} from '../../src/identity/index.js';
import { isBerthError } from '../../src/errors/index.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isBerthError(e) ? e.code : 'not a BerthError';
  }
  return undefined;
}

describe('parsePasswd: moby/sys ParsePasswdFilter (identity.md rules 14-18)', () => {
  const cases: { name: string; text: string; expect: Partial<{ name: string; uid: number; gid: number; home: string; shell: string; line: number }>[] }[] = [
    { name: 'a normal line', text: 'foo:x:10000:10000::/home/foo:/bin/sh\n', expect: [{ name: 'foo', uid: 10000, gid: 10000, home: '/home/foo', shell: '/bin/sh', line: 1 }] },
    { name: 'rule 14: blank lines skipped, line numbers kept', text: '\n\nroot:x:0:0::/root:\n', expect: [{ name: 'root', line: 3 }] },
    { name: 'rule 14: leading and trailing whitespace trimmed, CRLF too', text: '  bob:x:1:2::/b:/sh \r\n', expect: [{ name: 'bob', shell: '/sh' }] },
    { name: 'rule 15: # lines are users in passwd', text: '#x:x:5:5::/c:\n', expect: [{ name: '#x', uid: 5, gid: 5, home: '/c' }] },
    { name: 'rule 16: non-numeric ids become 0 silently', text: 'bad:x:abc:def::/bad:\n', expect: [{ name: 'bad', uid: 0, gid: 0, home: '/bad' }] },
    { name: 'rule 16: a line without ":" is a user named by the whole line', text: 'this is just some garbage data\n', expect: [{ name: 'this is just some garbage data', uid: 0, gid: 0, home: '' }] },
    { name: 'rule 16: missing fields are empty, extra fields ignored', text: 'odd:x:111:112::/home/odd:::::\nshort:x:7\n', expect: [{ name: 'odd', uid: 111, gid: 112, home: '/home/odd', shell: '' }, { name: 'short', uid: 7, gid: 0, home: '' }] },
    { name: 'rule 16: int64 overflow is clamped, not 0', text: 'big:x:99999999999999999999:1::/:\n', expect: [{ name: 'big', uid: 9223372036854775807 }] },
    { name: 'rule 4: Atoi accepts + and leading zeros in fields', text: 'p:x:+5:007::/:\n', expect: [{ uid: 5, gid: 7 }] },
    { name: 'rule 18: NIS + line is a user "+" with uid 0', text: '+::::::\n', expect: [{ name: '+', uid: 0, gid: 0, home: '' }] },
    { name: 'a BOM stays part of the first name (Go TrimSpace keeps U+FEFF)', text: '\ufeffroot:x:0:0::/root:\n', expect: [{ name: '\ufeffroot' }] },
    { name: 'no trailing newline', text: 'a:x:1:1::/a:/sh', expect: [{ name: 'a', shell: '/sh' }] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = parsePasswd(c.text);
      assert.equal(got.length, c.expect.length);
      c.expect.forEach((e, i) => {
        for (const [k, v] of Object.entries(e)) assert.deepEqual((got[i] as unknown as Record<string, unknown>)[k], v, `${k} of entry ${i}`);
      });
    });
  }
  test('entries keep the trimmed text for provenance', () => {
    assert.equal(parsePasswd(' foo:x:1:1::/f:/sh\r\n')[0].text, 'foo:x:1:1::/f:/sh');
  });
  test('bytes input is split on bytes and decoded as UTF-8', () => {
    const got = parsePasswd(Buffer.from('jos\u00e9:x:5:5::/h:/sh\n', 'utf8'));
    assert.equal(got[0].name, 'jos\u00e9');
  });
});

describe('parseGroup: moby/sys ParseGroupFilter (rules 14-17)', () => {
  const cases: { name: string; text: string; expect: { name?: string; gid?: number; members?: string[]; line?: number }[] }[] = [
    { name: 'members split on ","', text: 'wheel:x:10:root,foo\n', expect: [{ name: 'wheel', gid: 10, members: ['root', 'foo'] }] },
    { name: 'rule 15: # lines skipped in group, also after leading space', text: '# c\n  #d\nadm:x:4:\n', expect: [{ name: 'adm', gid: 4, members: [], line: 3 }] },
    { name: 'rule 17: members are not trimmed', text: 'g:x:5: bob,alice \n', expect: [{ members: [' bob', 'alice'] }] },
    { name: 'rule 17: empty member field is an empty list', text: 'g:x:5:\n', expect: [{ members: [] }] },
    { name: 'rule 17: empty items inside a list are kept', text: 'g:x:5:a,,b\n', expect: [{ members: ['a', '', 'b'] }] },
    { name: 'missing member field is an empty list', text: 'g:x:5\n', expect: [{ gid: 5, members: [] }] },
    { name: 'rule 16: bad gid is 0', text: 'g:x:nope:a\n', expect: [{ gid: 0, members: ['a'] }] },
    { name: 'rule 16: a line without ":" is a group named by the line', text: 'garbage\n', expect: [{ name: 'garbage', gid: 0 }] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = parseGroup(c.text);
      assert.equal(got.length, c.expect.length);
      c.expect.forEach((e, i) => {
        for (const [k, v] of Object.entries(e)) assert.deepEqual((got[i] as unknown as Record<string, unknown>)[k], v, `${k} of entry ${i}`);
      });
    });
  }
});

describe('line length limits (rule 19)', () => {
  const passwdMax = PASSWD_SCAN_BUFFER_BYTES - 1;
  const groupMax = GROUP_SCAN_BUFFER_BYTES - 1;
  test('a passwd line of 65535 bytes parses', () => {
    const line = `u:x:1:1::/:${'a'.repeat(passwdMax - 11)}`;
    assert.equal(Buffer.byteLength(line), passwdMax);
    assert.equal(parsePasswd(`${line}\n`)[0].name, 'u');
  });
  test('a passwd line of 65535 bytes with CR counts the CR', () => {
    const line = `u:x:1:1::/:${'a'.repeat(passwdMax - 11)}`;
    assert.equal(codeOf(() => parsePasswd(`${line}\r\n`)), 'E_USER_FILE_LINE_TOO_LONG');
  });
  test('multi-byte characters count as their UTF-8 bytes', () => {
    const line = `u:x:1:1::/:${'\u00e9'.repeat(passwdMax / 2)}`;
    assert.equal(codeOf(() => parsePasswd(line)), 'E_USER_FILE_LINE_TOO_LONG');
  });
  test('a group line of 1 MiB - 1 bytes parses; passwd would not', () => {
    const line = `g:x:5:${'m'.repeat(groupMax - 6)}`;
    assert.equal(parseGroup(line)[0].gid, 5);
    assert.equal(codeOf(() => parsePasswd(line)), 'E_USER_FILE_LINE_TOO_LONG');
  });
});

describe('failures', () => {
  const cases: { name: string; run: () => unknown; code: string }[] = [
    { name: 'passwd line over 64 KiB', run: () => parsePasswd(`${'x'.repeat(PASSWD_SCAN_BUFFER_BYTES)}\n`), code: 'E_USER_FILE_LINE_TOO_LONG' },
    { name: 'group line over 1 MiB', run: () => parseGroup(`g:x:1:${'y'.repeat(GROUP_SCAN_BUFFER_BYTES)}`), code: 'E_USER_FILE_LINE_TOO_LONG' },
    { name: 'byte input line over 64 KiB', run: () => parsePasswd(Buffer.alloc(PASSWD_SCAN_BUFFER_BYTES, 0x61)), code: 'E_USER_FILE_LINE_TOO_LONG' },
    { name: 'a file over 10 MiB (moby/sys v0.4.1 openUserFile)', run: () => assertUserFileSize('/etc/group', MAX_USER_FILE_BYTES + 1), code: 'E_USER_FILE_TOO_LARGE' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(codeOf(c.run), c.code));
  test('the size check accepts exactly 10 MiB and words the error like moby/sys', () => {
    assertUserFileSize('/etc/group', MAX_USER_FILE_BYTES);
    assert.throws(() => assertUserFileSize('/etc/group', MAX_USER_FILE_BYTES + 1), /read \/etc\/group: file exceeds 10485760 bytes/);
  });
});

describe('userDbFromText', () => {
  test('null means a missing file', () => {
    const db = userDbFromText({ passwd: null, group: 'g:x:1:\n' });
    assert.equal(db.passwd, null);
    assert.equal(db.group?.length, 1);
  });
  test('a parse failure is kept on the db, not thrown (engines fail only when they read the file)', () => {
    const db = userDbFromText({ passwd: 'a:x:1:1::/:\n', group: `${'z'.repeat(GROUP_SCAN_BUFFER_BYTES)}\n` });
    assert.equal(db.group, null);
    assert.equal(db.groupError?.code, 'E_USER_FILE_LINE_TOO_LONG');
    assert.equal(db.passwd?.length, 1);
  });
});

describe('property tests', () => {
  test('parsers never throw on arbitrary text with short lines', () => {
    fc.assert(fc.property(fc.string({ maxLength: 2000, unit: 'grapheme' }), (s) => {
      parsePasswd(s);
      parseGroup(s);
    }), { numRuns: 500 });
  });
  test('parsers never throw on arbitrary bytes with short lines', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), (b) => {
      parsePasswd(b);
      parseGroup(b);
    }), { numRuns: 300 });
  });

  const field = fc.stringMatching(/^[a-zA-Z0-9_./ -]{0,12}$/).filter((s) => !s.includes(':'));
  const name = fc.stringMatching(/^[a-z_][a-z0-9_-]{0,15}$/);
  const id = fc.integer({ min: 0, max: 2147483647 });

  test('parse of a printed passwd entry gives it back', () => {
    fc.assert(fc.property(name, field, id, id, field, field, field, (n, pw, uid, gid, gecos, home, shell) => {
      const e = { name: n, password: pw, uid, gid, gecos, home, shell: shell.trimEnd() };
      const got = parsePasswd(`${formatPasswdEntry(e)}\n`);
      assert.equal(got.length, 1);
      const { line, text, ...rest } = got[0];
      assert.deepEqual(rest, e);
      assert.equal(line, 1);
      assert.equal(text, formatPasswdEntry(e));
    }));
  });
  test('parse of a printed group entry gives it back', () => {
    fc.assert(fc.property(name, field, id, fc.array(name, { maxLength: 5 }), (n, pw, gid, members) => {
      const e = { name: n, password: pw, gid, members };
      const got = parseGroup(formatGroupEntry(e));
      assert.equal(got.length, 1);
      const { line, text, ...rest } = got[0];
      assert.deepEqual(rest, e);
      assert.equal(line, 1);
      assert.equal(text, formatGroupEntry(e));
    }));
  });
  test('line numbers count every physical line, entries come in file order', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.constant(''), fc.constant('   '), name.map((n) => `${n}:x:1:1::/:`)), { maxLength: 30 }), (lines) => {
      const got = parsePasswd(lines.join('\n'));
      const expected = lines.map((l, i) => ({ l: l.trim(), i: i + 1 })).filter((x) => x.l !== '');
      assert.deepEqual(got.map((e) => e.line), expected.map((x) => x.i));
    }));
  });
});
