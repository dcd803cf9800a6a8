import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getAdditionalGroups, getExecUser, userDbFromText, type ExecUserDefaults } from '../../src/identity/index.js';
import { isBerthError } from '../../src/errors/index.js';

// One fixture with the odd lines real images carry (identity.md section 1).
const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh', // 1
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin', // 2
  'foo:x:10000:10000::/home/foo:/bin/sh', // 3
  'twin:x:10000:777::/home/twin:/bin/sh', // 4  second entry with uid 10000
  '#hash:x:5:5::/hash:', // 5  a user named "#hash"
  'bad:x:abc:def::/bad:', // 6  ids read as 0
  '1000:x:4000:4001::/home/numname:/bin/sh', // 7  a user NAMED "1000"
  ':x:700:701::/nameless:', // 8  empty name
  'max:x:2147483647:2147483647::/max:', // 9
  'this is just some garbage data', // 10
  '  spaced:x:300:301::/home/spaced:/bin/sh  ', // 11
  'odd:x:111:112::/home/odd:::::', // 12
  'wheel:x:50:50::/w:', // 13 a user named like a group
].join('\n');

const GROUP = [
  'root:x:0:root', // 1
  '# a comment', // 2
  'wheel:x:10:root,foo', // 3
  'foo:x:10000:', // 4
  'bar:x:20000:foo', // 5
  'spacey:x:20001: foo', // 6  " foo" is not "foo"
  'again:x:20000:foo', // 7  same gid twice
  'staff:x:50:daemon', // 8
  'nameless:x:702:', // 9
  '444:x:555:odd', // 10 a group NAMED "444"
  'oddgrp:x:444:', // 11
  'maxgrp:x:2147483647:', // 12
].join('\n');

const db = userDbFromText({ passwd: PASSWD, group: GROUP });
const DEFAULTS: ExecUserDefaults = { uid: 8888, gid: 8888, sgids: [8888], home: '/8888' };

interface Row {
  name: string;
  spec: string;
  defaults?: ExecUserDefaults | null;
  uid: number;
  gid: number;
  sgids: number[];
  home: string;
}

describe('getExecUser: moby/sys HEAD, success table', () => {
  const rows: Row[] = [
    { name: 'rule 6/11: name; gid, home from passwd; sgids from member lists in file order with duplicates', spec: 'foo', uid: 10000, gid: 10000, sgids: [10, 20000, 20000], home: '/home/foo' },
    { name: 'rule 5/6: a number matches the uid column, first match wins (foo, not twin)', spec: '10000', uid: 10000, gid: 10000, sgids: [10, 20000, 20000], home: '/home/foo' },
    { name: 'rule 11: the primary group is listed only if the user is a member', spec: 'root', uid: 0, gid: 0, sgids: [0, 10], home: '/root' },
    { name: 'rule 11: a group\'s own name is irrelevant (daemon is in staff by membership)', spec: 'daemon', uid: 1, gid: 1, sgids: [50], home: '/usr/sbin' },
    { name: 'rule 10: explicit group name disables memberships, sgids stay default', spec: 'foo:bar', uid: 10000, gid: 20000, sgids: [8888], home: '/home/foo' },
    { name: 'rule 10: explicit numeric group not in the file is used as-is', spec: 'foo:4242', uid: 10000, gid: 4242, sgids: [8888], home: '/home/foo' },
    { name: 'rule 5: a numeric group part matches the gid column, not a group named "444"', spec: 'odd:444', uid: 111, gid: 444, sgids: [8888], home: '/home/odd' },
    { name: 'rule 5: a numeric user part never matches a user NAMED "1000"', spec: '1000', uid: 1000, gid: 8888, sgids: [8888], home: '/8888' },
    { name: 'rule 7/12: numeric uid without entry keeps default gid, sgids, home', spec: '1337', uid: 1337, gid: 8888, sgids: [8888], home: '/8888' },
    { name: 'rule 7/12: with nil defaults an unknown uid gets gid 0 and no home', spec: '1337', defaults: null, uid: 1337, gid: 0, sgids: [], home: '' },
    { name: 'rule 3: "name:" is the same as "name"', spec: 'foo:', uid: 10000, gid: 10000, sgids: [10, 20000, 20000], home: '/home/foo' },
    { name: 'rule 3: ":group" names only a group; the default uid still picks its entry', spec: ':bar', defaults: null, uid: 0, gid: 20000, sgids: [], home: '/root' },
    { name: 'rule 3/6: an empty spec resolves the default uid\'s entry', spec: '', defaults: null, uid: 0, gid: 0, sgids: [0, 10], home: '/root' },
    { name: 'rule 3: ":" names nothing', spec: ':', uid: 8888, gid: 8888, sgids: [8888], home: '/8888' },
    { name: 'rule 4: "+10000" is numeric', spec: '+10000', uid: 10000, gid: 10000, sgids: [10, 20000, 20000], home: '/home/foo' },
    { name: 'rule 4: "010000" is numeric', spec: '010000', uid: 10000, gid: 10000, sgids: [10, 20000, 20000], home: '/home/foo' },
    { name: 'rule 4: "-0" is numeric uid 0', spec: '-0', uid: 0, gid: 0, sgids: [0, 10], home: '/root' },
    { name: 'rule 4: MaxInt32 is in range', spec: '2147483647', uid: 2147483647, gid: 2147483647, sgids: [8888], home: '/max' },
    { name: 'rule 4: MaxInt32 as explicit gid', spec: 'foo:2147483647', uid: 10000, gid: 2147483647, sgids: [8888], home: '/home/foo' },
    { name: 'rule 15: "#hash" is a user in passwd', spec: '#hash', uid: 5, gid: 5, sgids: [8888], home: '/hash' },
    { name: 'rule 16: a non-numeric uid field reads as 0 (bad is root!)', spec: 'bad', uid: 0, gid: 0, sgids: [8888], home: '/bad' },
    { name: 'rule 14: the entry with spaces around it is trimmed', spec: 'spaced', uid: 300, gid: 301, sgids: [8888], home: '/home/spaced' },
    { name: 'rule 9: an entry with an empty name matches by uid but runs no group stage', spec: '700', uid: 700, gid: 701, sgids: [8888], home: '/nameless' },
    { name: 'rule 16: extra fields are ignored', spec: 'odd', uid: 111, gid: 112, sgids: [555], home: '/home/odd' },
    { name: 'a user named like a group gets no membership from that name', spec: 'wheel', uid: 50, gid: 50, sgids: [8888], home: '/w' },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const ex = getExecUser(r.spec, r.defaults === undefined ? DEFAULTS : r.defaults, db);
      assert.deepEqual({ uid: ex.uid, gid: ex.gid, sgids: ex.sgids, home: ex.home }, { uid: r.uid, gid: r.gid, sgids: r.sgids, home: r.home });
    });
  }
  test('rule 1: the result does not alias the defaults\' sgids', () => {
    const d = { uid: 1, gid: 1, sgids: [1], home: '/' };
    const ex = getExecUser('1337', d, db);
    ex.sgids.push(2);
    assert.deepEqual(d.sgids, [1]);
  });
  test('provenance: the matched entries are returned', () => {
    const ex = getExecUser('foo', null, db);
    assert.equal(ex.userEntry?.line, 3);
    assert.deepEqual(ex.memberOf.map((g) => g.line), [3, 5, 7]);
    const ex2 = getExecUser('foo:bar', null, db);
    assert.equal(ex2.groupEntry?.line, 5);
  });
  test('rule 2: HEAD cuts at the first ":", so "foo:bar:x" asks for group "bar:x"', () => {
    assert.throws(() => getExecUser('foo:bar:x', null, db), { code: 'E_GROUP_NOT_FOUND', message: 'unable to find group bar:x: no matching entries in group file' });
  });
});

describe('getExecUser: missing files (rules 8, 13; moby TestGetExecUserNilSources)', () => {
  const none = userDbFromText({ passwd: null, group: null });
  const onlyPasswd = userDbFromText({ passwd: PASSWD, group: null });
  const onlyGroup = userDbFromText({ passwd: null, group: GROUP });
  const rows: (Row & { db: typeof db })[] = [
    { name: 'empty spec, no files: all defaults', db: none, spec: '', uid: 8888, gid: 8888, sgids: [8888], home: '/8888' },
    { name: 'name with passwd but no group file: no memberships', db: onlyPasswd, spec: 'root', uid: 0, gid: 0, sgids: [8888], home: '/root' },
    { name: 'numeric uid with no files', db: none, spec: '0', uid: 0, gid: 8888, sgids: [8888], home: '/8888' },
    { name: 'numeric uid:gid with no files', db: none, spec: '0:0', uid: 0, gid: 0, sgids: [8888], home: '/8888' },
    { name: 'rule 24: no passwd, 0:root still works via /etc/group', db: onlyGroup, spec: '0:root', uid: 0, gid: 0, sgids: [8888], home: '/8888' },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const ex = getExecUser(r.spec, DEFAULTS, r.db);
      assert.deepEqual({ uid: ex.uid, gid: ex.gid, sgids: ex.sgids, home: ex.home }, { uid: r.uid, gid: r.gid, sgids: r.sgids, home: r.home });
    });
  }
});

describe('getExecUser: failure table', () => {
  const none = userDbFromText({ passwd: null, group: null });
  const onlyPasswd = userDbFromText({ passwd: PASSWD, group: null });
  const rows: { name: string; spec: string; db?: typeof db; code: string; message?: string | RegExp }[] = [
    { name: 'rule 7: unknown name', spec: 'notuser', code: 'E_USER_NOT_FOUND', message: 'unable to find user notuser: no matching entries in passwd file' },
    { name: 'rule 7: unknown name with unknown group fails on the user first', spec: 'notuser:notgroup', code: 'E_USER_NOT_FOUND' },
    { name: 'rule 10: unknown group name', spec: 'root:notgroup', code: 'E_GROUP_NOT_FOUND', message: 'unable to find group notgroup: no matching entries in group file' },
    { name: 'rule 10: numeric user, unknown group name', spec: '8888:notgroup', code: 'E_GROUP_NOT_FOUND' },
    { name: 'rule 4: negative uid', spec: '-1:0', code: 'E_ID_RANGE', message: /uids and gids must be in range 0-2147483647/ },
    { name: 'rule 4: negative gid', spec: '0:-3', code: 'E_ID_RANGE' },
    { name: 'rule 4: negative name-like number', spec: '-43', code: 'E_ID_RANGE' },
    { name: 'rule 4: MaxInt32 + 1 as uid', spec: '2147483648', code: 'E_ID_RANGE' },
    { name: 'rule 4: MaxInt32 + 1 as gid', spec: '42:2147483648', code: 'E_ID_RANGE' },
    { name: 'rule 4: MaxInt64', spec: '9223372036854775807', code: 'E_ID_RANGE' },
    { name: 'rule 4: MaxInt64 + 1 is a range error, never a name (CVE-2026-46680 class)', spec: '9223372036854775808', code: 'E_ID_RANGE' },
    { name: 'rule 4: MaxInt64 + 1 as group never matches a group name', spec: '0:9223372036854775808', code: 'E_ID_RANGE' },
    { name: 'rule 4: the range error comes before any file is read', spec: '4294967296', db: none, code: 'E_ID_RANGE' },
    { name: 'rule 24: "root;0" is a name', spec: 'root;0', code: 'E_USER_NOT_FOUND' },
    { name: 'rule 2: nothing is trimmed, " root" is a name', spec: ' root', code: 'E_USER_NOT_FOUND' },
    { name: 'rule 13/24: no group file, explicit group name fails', spec: '0:root', db: onlyPasswd, code: 'E_GROUP_NOT_FOUND' },
    { name: 'rule 24: no passwd file, a name fails', spec: 'root', db: none, code: 'E_USER_NOT_FOUND' },
  ];
  for (const r of rows) {
    test(r.name, () => {
      assert.throws(() => getExecUser(r.spec, null, r.db ?? db), (e: unknown) => {
        assert.ok(isBerthError(e));
        assert.equal(e.code, r.code);
        if (typeof r.message === 'string') assert.equal(e.message, r.message);
        else if (r.message) assert.match(e.message, r.message);
        return true;
      });
    });
  }
  test('rule 8: a passwd file that fails to parse fails the lookup with moby/sys wording', () => {
    const broken = userDbFromText({ passwd: `${'a'.repeat(70000)}\n`, group: '' });
    assert.throws(() => getExecUser('foo', null, broken), { code: 'E_USER_FILE_LINE_TOO_LONG', message: 'unable to find user foo: bufio.Scanner: token too long' });
    assert.throws(() => getExecUser('', null, broken), { message: 'unable to find user 0: bufio.Scanner: token too long' });
  });
  test('rule 9/10: a broken group file fails only when the group stage runs', () => {
    const broken = userDbFromText({ passwd: PASSWD, group: `g:x:1:${'m'.repeat(1 << 20)}\n` });
    assert.equal(getExecUser('1337', null, broken).uid, 1337);
    assert.throws(() => getExecUser('foo', null, broken), { message: 'unable to find groups for spec foo: bufio.Scanner: token too long' });
  });
});

describe('getAdditionalGroups: --group-add (rule 20)', () => {
  test('names resolve through /etc/group, numbers are used as-is, first match wins', () => {
    assert.deepEqual(getAdditionalGroups(['bar', '4242', 'staff'], db).map((g) => g.gid), [20000, 4242, 50]);
  });
  test('a number matches only the gid column (v0.4.1+): "444" is gid 444, not group "444"', () => {
    assert.deepEqual(getAdditionalGroups(['444'], db).map((g) => g.gid), [444]);
  });
  test('duplicates are removed; order is first appearance (deterministic, unlike Go map order)', () => {
    assert.deepEqual(getAdditionalGroups(['20000', 'bar', 'again', '10'], db).map((g) => g.gid), [20000, 10]);
  });
  test('with no group file numbers still work', () => {
    assert.deepEqual(getAdditionalGroups(['5'], userDbFromText({ passwd: null, group: null })).map((g) => g.gid), [5]);
  });
  const failures: { name: string; list: string[]; code: string; message?: string }[] = [
    { name: 'unknown name', list: ['nope'], code: 'E_GROUP_NOT_FOUND', message: 'unable to find group nope: no matching entries in group file' },
    { name: 'negative number', list: ['-1'], code: 'E_ID_RANGE' },
    { name: 'above MaxInt32', list: ['2147483648'], code: 'E_ID_RANGE' },
    { name: 'empty item is rejected instead of panicking (moby/sys HEAD dereferences nil)', list: ['bar', ''], code: 'E_GROUP_INVALID' },
  ];
  for (const f of failures) {
    test(`failure: ${f.name}`, () => {
      assert.throws(() => getAdditionalGroups(f.list, db), (e: unknown) => {
        assert.ok(isBerthError(e));
        assert.equal(e.code, f.code);
        if (f.message) assert.equal(e.message, f.message);
        return true;
      });
    });
  }
  test('failure: a matching group line with an out-of-range gid', () => {
    const weird = userDbFromText({ passwd: null, group: 'neg:x:-5:\n' });
    assert.throws(() => getAdditionalGroups(['neg'], weird), { code: 'E_ID_RANGE' });
  });
});

describe('getExecUser: properties', () => {
  const name = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/);
  const small = fc.integer({ min: 0, max: 20 });
  const entry = fc.record({ name, uid: small, gid: small, home: fc.stringMatching(/^\/[a-z]{0,5}$/) });
  const group = fc.record({ name, gid: small, members: fc.array(name, { maxLength: 3 }) });
  const dbArb = fc.record({ passwd: fc.array(entry, { maxLength: 8 }), group: fc.array(group, { maxLength: 8 }) }).map(({ passwd, group: g }) => ({
    passwd,
    group: g,
    db: userDbFromText({
      passwd: passwd.map((e) => `${e.name}:x:${e.uid}:${e.gid}::${e.home}:/bin/sh`).join('\n'),
      group: g.map((e) => `${e.name}:x:${e.gid}:${e.members.join(',')}`).join('\n'),
    }),
  }));

  test('a numeric uid resolves to the first entry with that uid, or stays bare', () => {
    fc.assert(fc.property(dbArb, small, ({ passwd, group: g, db: d }, uid) => {
      const ex = getExecUser(String(uid), null, d);
      const first = passwd.find((e) => e.uid === uid);
      assert.equal(ex.uid, uid);
      if (first) {
        assert.equal(ex.gid, first.gid);
        assert.equal(ex.home, first.home);
        assert.deepEqual(ex.sgids, g.filter((x) => x.members.includes(first.name)).map((x) => x.gid));
      } else {
        assert.deepEqual({ gid: ex.gid, sgids: ex.sgids, home: ex.home }, { gid: 0, sgids: [], home: '' });
      }
    }));
  });
  test('an explicit group never adds memberships', () => {
    fc.assert(fc.property(dbArb, small, small, ({ db: d }, uid, gid) => {
      const ex = getExecUser(`${uid}:${gid}`, null, d);
      assert.deepEqual([ex.uid, ex.gid, ex.sgids], [uid, gid, []]);
    }));
  });
  test('a name either resolves to the first entry of that name or fails with E_USER_NOT_FOUND', () => {
    fc.assert(fc.property(dbArb, name, ({ passwd, db: d }, n) => {
      const first = passwd.find((e) => e.name === n);
      if (first) assert.equal(getExecUser(n, null, d).uid, first.uid);
      else assert.throws(() => getExecUser(n, null, d), { code: 'E_USER_NOT_FOUND' });
    }));
  });
});
