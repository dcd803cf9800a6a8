import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildahAdditionalGroups, buildahGetUser, buildahUserForCopy, buildahView, parseGroupBuildah, parsePasswdBuildah } from '../../src/identity/buildah.js';
import { userDbFromText } from '../../src/identity/index.js';
import { isBerthError } from '../../src/errors/index.js';

describe('buildah parsers stop at the first malformed line (identity.md rule 45)', () => {
  const passwdCases: { name: string; text: string; names: string[]; stopLine?: number }[] = [
    { name: 'all good', text: 'root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n', names: ['root', 'bob'] },
    { name: 'a blank line ends the file for buildah', text: 'root:x:0:0::/root:/bin/sh\n\nbob:x:1000:1000::/home/bob:/bin/sh\n', names: ['root'], stopLine: 2 },
    { name: 'a plain # comment ends it too', text: 'root:x:0:0::/root:/bin/sh\n# users\nbob:x:1000:1000::/h:/bin/sh\n', names: ['root'], stopLine: 2 },
    { name: 'a line with 6 fields', text: 'a:x:1:1::/a\nb:x:2:2::/b:/sh\n', names: [], stopLine: 1 },
    { name: 'a line with 8 fields', text: 'a:x:1:1::/a:/sh:\n', names: [], stopLine: 1 },
    { name: 'a signed uid (ParseUint)', text: 'a:x:+1:1::/a:/sh\n', names: [], stopLine: 1 },
    { name: 'a uid above 2^32-1', text: 'a:x:4294967296:1::/a:/sh\n', names: [], stopLine: 1 },
    { name: 'uid 4294967295 is accepted (no MaxInt32 check)', text: 'a:x:4294967295:1::/a:/sh\n', names: ['a'] },
    { name: 'lines are not trimmed', text: ' a:x:1:1::/a:/sh\n', names: [' a'] },
    { name: 'a CRLF line loses only its CR', text: 'a:x:1:1::/a:/sh\r\n', names: ['a'] },
  ];
  for (const c of passwdCases) {
    test(`passwd: ${c.name}`, () => {
      const p = parsePasswdBuildah(c.text);
      assert.deepEqual(p.entries.map((e) => e.name), c.names);
      assert.equal(p.stoppedAt?.line, c.stopLine);
    });
  }
  const groupCases: { name: string; text: string; names: string[]; stopLine?: number }[] = [
    { name: '# lines are skipped (scanWithoutComments)', text: '# x\n  # y\nwheel:x:10:root\n', names: ['wheel'] },
    { name: 'a blank line stops', text: 'a:x:1:\n\nb:x:2:\n', names: ['a'], stopLine: 2 },
    { name: 'three fields stop', text: 'a:x:1\nb:x:2:\n', names: [], stopLine: 1 },
    { name: 'a bad gid stops', text: 'a:x:one:\nb:x:2:\n', names: [], stopLine: 1 },
  ];
  for (const c of groupCases) {
    test(`group: ${c.name}`, () => {
      const p = parseGroupBuildah(c.text);
      assert.deepEqual(p.entries.map((e) => e.name), c.names);
      assert.equal(p.stoppedAt?.line, c.stopLine);
    });
  }
  test('property: buildah parsers never throw', () => {
    fc.assert(fc.property(fc.string({ maxLength: 1000 }), (s) => {
      parsePasswdBuildah(s);
      parseGroupBuildah(s);
    }), { numRuns: 300 });
  });
});

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'bob:x:1000:1000::/home/bob:/bin/sh',
  'app:x:2000:2001::/srv/app:/bin/sh',
  '',
  'hidden:x:3000:3000::/home/hidden:/bin/sh',
].join('\n');
const GROUP = [
  'root:x:0:',
  'bob:x:1000:',
  'dev:x:500:bobby', // substring match for bob
  'ops:x:501:bob,alice',
  'appgrp:x:2001:',
].join('\n');
const bdb = buildahView(userDbFromText({ passwd: PASSWD, group: GROUP }));

describe('buildahGetUser: chrootuser.GetUser (rule 43)', () => {
  const rows: { name: string; spec: string; uid: number; gid: number; home: string }[] = [
    { name: 'empty spec means "0"', spec: '', uid: 0, gid: 0, home: '/root' },
    { name: 'a name gives passwd uid and gid', spec: 'bob', uid: 1000, gid: 1000, home: '/home/bob' },
    { name: 'a number alone takes the passwd gid of that uid', spec: '2000', uid: 2000, gid: 2001, home: '/srv/app' },
    { name: 'a number without entry gets gid 0 and HOME /', spec: '4242', uid: 4242, gid: 0, home: '/' },
    { name: 'uid:gid needs no lookup', spec: '4242:77', uid: 4242, gid: 77, home: '/' },
    { name: 'name:group by name', spec: 'bob:ops', uid: 1000, gid: 501, home: '/home/bob' },
    { name: '":group" means uid 0', spec: ':ops', uid: 0, gid: 501, home: '/root' },
    { name: 'uid 4294967295 is a number for buildah (no MaxInt32 check)', spec: '4294967295', uid: 4294967295, gid: 0, home: '/' },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const got = buildahGetUser(r.spec, bdb);
      assert.deepEqual({ uid: got.uid, gid: got.gid, home: got.home }, { uid: r.uid, gid: r.gid, home: r.home });
    });
  }
  const failures: { name: string; spec: string; code: string; message: string }[] = [
    { name: 'an unknown user', spec: 'nobody', code: 'E_USER_NOT_FOUND', message: 'determining run uid: error looking up user "nobody"' },
    { name: 'rule 45: a user after the blank line is invisible to buildah', spec: 'hidden', code: 'E_USER_NOT_FOUND', message: 'determining run uid: error looking up user "hidden"' },
    { name: 'an unknown group', spec: 'bob:nogroup', code: 'E_GROUP_NOT_FOUND', message: 'determining run gid: error looking up group "nogroup"' },
    { name: 'both unknown: the uid error wins', spec: 'x:y', code: 'E_USER_NOT_FOUND', message: 'determining run uid: error looking up user "x"' },
    { name: '"+5" is a name for ParseUint', spec: '+5', code: 'E_USER_NOT_FOUND', message: 'determining run uid: error looking up user "+5"' },
  ];
  for (const f of failures) {
    test(`failure: ${f.name}`, () => {
      assert.throws(() => buildahGetUser(f.spec, bdb), (e: unknown) => {
        assert.ok(isBerthError(e));
        assert.equal(e.code, f.code);
        assert.equal(e.message, f.message);
        return true;
      });
    });
  }
});

describe('buildahAdditionalGroups: substring member test (rule 44)', () => {
  test('bob matches "bobby" (dev) and "bob,alice" (ops)', () => {
    const g = buildahAdditionalGroups(1000, bdb);
    assert.equal(g?.username, 'bob');
    assert.deepEqual(g?.groups.map((x) => x.gid), [500, 501]);
  });
  test('a uid without an entry has no result (ErrNoSuchUser)', () => {
    assert.equal(buildahAdditionalGroups(4242, bdb), undefined);
  });
});

describe('buildahUserForCopy: WORKDIR ownership (rule 46)', () => {
  const rows: { name: string; spec: string; uid: number; gid: number }[] = [
    { name: 'a bare number gives gid = uid', spec: '4242', uid: 4242, gid: 4242 },
    { name: 'a number with a numeric group', spec: '4242:7', uid: 4242, gid: 7 },
    { name: 'a name goes through GetUser', spec: 'app', uid: 2000, gid: 2001 },
    { name: 'a known uid with a group name', spec: '1000:ops', uid: 1000, gid: 501 },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const got = buildahUserForCopy(r.spec, bdb);
      assert.ok(!('error' in got));
      assert.deepEqual({ uid: got.uid, gid: got.gid }, { uid: r.uid, gid: r.gid });
    });
  }
  test('failure: an unknown name is reported (the caller falls back to 0:0)', () => {
    const got = buildahUserForCopy('ghost', bdb);
    assert.ok('error' in got && got.error.code === 'E_USER_NOT_FOUND');
  });
});
