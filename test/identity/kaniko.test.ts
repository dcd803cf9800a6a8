import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  goLookupGroup,
  goLookupUser,
  goLookupUserId,
  kanikoHome,
  kanikoLocalGroups,
  kanikoLookupUser,
  kanikoRunCredentials,
  kanikoUserGroup,
} from '../../src/identity/kaniko.js';
import { userDbFromText } from '../../src/identity/index.js';
import { isBerthError } from '../../src/errors/index.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  '# comment skipped by Go os/user',
  'foo:x:10000:10000::/home/foo:/bin/sh',
  '1000:x:4000:4001::/home/numname:/bin/sh', // a user NAMED 1000
  'real:x:1000:1000::/home/real:/bin/sh', // the user with uid 1000
  'padded:x:01500:1500::/home/padded:/bin/sh', // uid text "01500"
  '+nis:x:7:7::/nis:/bin/sh', // skipped by Go
  'short:x:8:8', // fewer than 6 colons: skipped by Go
].join('\n');
const GROUP = [
  'root:x:0:',
  'foo:x:10000:',
  'bar:x:20000:foo',
  'dup:x:20000:foo', // duplicates kept
  'weird:x:notanumber', // 3 fields, non-numeric gid: skipped before the crash
  'numgrp:x:30000:real',
].join('\n');
const db = userDbFromText({ passwd: PASSWD, group: GROUP });

describe('Go os/user pure parser (what kaniko reads with CGO_ENABLED=0)', () => {
  test('Lookup by name skips # lines and NIS entries', () => {
    assert.equal(goLookupUser(PASSWD, '+nis'), 'unknown');
    assert.equal(goLookupUser(PASSWD, 'short'), 'unknown');
    const r = goLookupUser(PASSWD, 'foo');
    assert.ok(typeof r !== 'string' && r.uid === '10000' && r.homeDir === '/home/foo');
  });
  test('LookupId matches the uid TEXT: "1500" does not find "01500"', () => {
    assert.equal(goLookupUserId(PASSWD, '1500'), 'unknown');
    assert.equal(goLookupUserId(PASSWD, 'abc'), 'invalid');
    assert.equal(goLookupUserId(null, '0'), 'missing');
  });
  test('group lookup by name', () => {
    const g = goLookupGroup(GROUP, 'bar');
    assert.ok(typeof g !== 'string' && g.gid === '20000');
  });
});

describe('kaniko util.LookupUser: name first, then id (rule 42b)', () => {
  test('a user NAMED "1000" beats uid 1000', () => {
    const r = kanikoLookupUser(db, '1000');
    assert.equal(r.via, 'name');
    assert.equal(r.user.uid, '4000');
  });
  test('a number without an entry becomes a bare uid with HOME /', () => {
    const r = kanikoLookupUser(db, '4242');
    assert.deepEqual({ via: r.via, uid: r.user.uid, gid: r.user.gid, home: r.user.homeDir }, { via: 'number', uid: '4242', gid: '', home: '/' });
  });
  test('failure: an unknown name', () => {
    assert.throws(() => kanikoLookupUser(db, 'ghost'), { code: 'E_USER_NOT_FOUND', message: 'user ghost is not a uid and does not exist on the system' });
  });
});

describe('kanikoRunCredentials: SyscallCredentials (rules 41, 42a-c)', () => {
  const rows: { name: string; user: string; uid: number; gid: number; groups: number[] }[] = [
    { name: 'rule 41: [passwd gid] + exact memberships, duplicates kept', user: 'foo', uid: 10000, gid: 10000, groups: [10000, 20000, 20000] },
    { name: 'rule 42c: unknown uid gets gid = uid and no groups', user: '4242', uid: 4242, gid: 4242, groups: [] },
    { name: 'rule 42b: USER 1000 resolves the user NAMED 1000 (uid 4000); its uid text is looked up again', user: '1000', uid: 4000, gid: 4001, groups: [4001] },
    { name: 'by uid when no name matches', user: '10000', uid: 10000, gid: 10000, groups: [10000, 20000, 20000] },
    { name: 'root', user: 'root', uid: 0, gid: 0, groups: [0] },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const c = kanikoRunCredentials(db, r.user);
      assert.deepEqual({ uid: c.uid, gid: c.gid, groups: c.groups }, { uid: r.uid, gid: r.gid, groups: r.groups });
    });
  }
  const failures: { name: string; db: ReturnType<typeof userDbFromText>; user: string; code: string; message?: string }[] = [
    { name: 'unknown user name', db, user: 'ghost', code: 'E_USER_NOT_FOUND', message: 'credentials: get uid/gid: user ghost is not a uid and does not exist on the system' },
    { name: 'rule 41: a passwd user and no /etc/group fails the step', db: userDbFromText({ passwd: PASSWD, group: null }), user: 'foo', code: 'E_USER_DB_MISSING', message: 'credentials: group ids for user: open: open /etc/group: no such file or directory' },
    { name: 'rule 41: a 3-field group line with a numeric gid crashes kaniko', db: userDbFromText({ passwd: PASSWD, group: 'g:x:5\n' }), user: 'foo', code: 'E_USER_DB_INVALID' },
    { name: 'rule 41: a 1-field group line crashes kaniko', db: userDbFromText({ passwd: PASSWD, group: 'garbage\n' }), user: 'foo', code: 'E_USER_DB_INVALID' },
    { name: 'a signed gid in a member group is refused by ParseUint', db: userDbFromText({ passwd: PASSWD, group: 'g:x:+5:foo\n' }), user: 'foo', code: 'E_ID_INVALID' },
  ];
  for (const f of failures) {
    test(`failure: ${f.name}`, () => {
      assert.throws(() => kanikoRunCredentials(f.db, f.user), (e: unknown) => {
        assert.ok(isBerthError(e));
        assert.equal(e.code, f.code);
        if (f.message) assert.equal(e.message, f.message);
        return true;
      });
    });
  }
  test('an unknown uid does not need /etc/group (groups are empty before it is opened)', () => {
    const c = kanikoRunCredentials(userDbFromText({ passwd: PASSWD, group: null }), '4242');
    assert.deepEqual(c.groups, []);
  });
  test('the crash happens only for lines with a numeric gid and too few fields', () => {
    assert.deepEqual(kanikoLocalGroups('a:x:nan\nb:x:5:bob\n').map((r) => r.name), ['b']);
  });
});

describe('kanikoHome: addDefaultHOME (rule 42d)', () => {
  const rows: { name: string; user: string; env?: string[]; home: string }[] = [
    { name: 'HOME in the env wins, even empty', user: 'foo', env: ['HOME='], home: '' },
    { name: 'empty USER gets /root', user: '', home: '/root' },
    { name: 'USER root gets /root whatever passwd says', user: 'root', home: '/root' },
    { name: 'a user gets its passwd home', user: 'foo', home: '/home/foo' },
    { name: 'an unknown uid gets /', user: '4242', home: '/' },
  ];
  for (const r of rows) test(r.name, () => assert.equal(kanikoHome(db, r.user, r.env).home, r.home));
});

describe('kanikoUserGroup: WORKDIR / --chown owner (rule 42e)', () => {
  const rows: { name: string; spec: string; uid: number; gid: number }[] = [
    { name: 'no group part: gid = uid even for a named user with another passwd gid', spec: 'padded', uid: 1500, gid: 1500 },
    { name: 'explicit group name', spec: 'foo:bar', uid: 10000, gid: 20000 },
    { name: 'explicit numeric group without entry', spec: 'foo:4242', uid: 10000, gid: 4242 },
    { name: 'a bare unknown uid', spec: '4242', uid: 4242, gid: 4242 },
    { name: 'split on every ":": a third part is ignored', spec: 'foo:bar:zzz', uid: 10000, gid: 20000 },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const got = kanikoUserGroup(db, r.spec);
      assert.deepEqual({ uid: got.uid, gid: got.gid }, { uid: r.uid, gid: r.gid });
    });
  }
  test('failure: an unknown group name', () => {
    assert.throws(() => kanikoUserGroup(db, 'foo:nogroup'), { code: 'E_GROUP_NOT_FOUND', message: 'identifying uid and gid for user foo:nogroup: strconv.ParseUint: parsing "nogroup": invalid syntax' });
  });
  test('failure: an unknown user name', () => {
    assert.throws(() => kanikoUserGroup(db, 'ghost'), { code: 'E_USER_NOT_FOUND' });
  });
});
