import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { containerdAdditionalGids, containerdWithUser, criImageUser } from '../../src/identity/containerd.js';
import { userDbFromText } from '../../src/identity/index.js';
import { isBerthError } from '../../src/errors/index.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'foo:x:10000:10000::/home/foo:/bin/sh',
  'huge:x:4294967296:0::/:', // Go int, converted with uint32()
].join('\n');
const GROUP = [
  'root:x:0:root',
  'foo:x:10000:foo', // same name as the user: left out (rule 28)
  'bar:x:20000:foo',
  'staff:x:50:',
].join('\n');
const db = userDbFromText({ passwd: PASSWD, group: GROUP });

describe('containerdWithUser: oci.WithUser (identity.md rules 26-27)', () => {
  const rows: { name: string; user: string; db?: typeof db; uid: number; gid: number }[] = [
    { name: 'rule 27: uid alone takes the passwd gid', user: '10000', uid: 10000, gid: 10000 },
    { name: 'rule 27: uid not in passwd gets gid 0', user: '4242', uid: 4242, gid: 0 },
    { name: 'rule 27: no passwd file: gid 0', user: '4242', db: userDbFromText({ passwd: null, group: null }), uid: 4242, gid: 0 },
    { name: 'rule 26: a name', user: 'foo', uid: 10000, gid: 10000 },
    { name: 'rule 26: both parts numeric: no file read', user: '1:2', db: userDbFromText({ passwd: null, group: null }), uid: 1, gid: 2 },
    { name: 'rule 26: user:gid never uses the passwd gid', user: 'foo:50', uid: 10000, gid: 50 },
    { name: 'rule 26: uid:group looks the group up', user: '4242:bar', uid: 4242, gid: 20000 },
    { name: 'rule 26: user:group', user: 'foo:staff', uid: 10000, gid: 50 },
    { name: 'a passwd uid beyond 32 bits is truncated by uint32()', user: 'huge', uid: 0, gid: 0 },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const got = containerdWithUser(r.user, r.db ?? db);
      assert.deepEqual({ uid: got.uid, gid: got.gid }, { uid: r.uid, gid: r.gid });
    });
  }
  const failures: { name: string; user: string; db?: typeof db; code: string; message: string }[] = [
    { name: 'three parts', user: 'a:b:c', code: 'E_USER_INVALID', message: 'invalid USER value a:b:c' },
    { name: 'uid out of range', user: '2147483648', code: 'E_ID_RANGE', message: 'invalid USER value "2147483648": uid out of range' },
    { name: 'uid overflowing int64', user: '9223372036854775808', code: 'E_ID_RANGE', message: 'invalid USER value "9223372036854775808": uid out of range' },
    { name: 'gid out of range', user: '1:-1', code: 'E_ID_RANGE', message: 'invalid USER value "1:-1": gid out of range' },
    { name: 'unknown name', user: 'ghost', code: 'E_USER_NOT_FOUND', message: 'no users found' },
    { name: 'unknown group', user: '1:ghost', code: 'E_GROUP_NOT_FOUND', message: 'no groups found' },
    { name: 'a name with no passwd file', user: 'foo', db: userDbFromText({ passwd: null, group: null }), code: 'E_USER_DB_MISSING', message: 'open etc/passwd: no such file or directory' },
  ];
  for (const f of failures) {
    test(`failure: ${f.name}`, () => {
      assert.throws(() => containerdWithUser(f.user, f.db ?? db), (e: unknown) => {
        assert.ok(isBerthError(e));
        assert.equal(e.code, f.code);
        assert.equal(e.message, f.message);
        return true;
      });
    });
  }
});

describe('containerdAdditionalGids: oci.WithAdditionalGIDs (rule 28)', () => {
  test('memberships of the name, minus a group named like the user', () => {
    assert.deepEqual(containerdAdditionalGids('foo', db).gids, [20000]);
  });
  test('a numeric user is turned into its passwd name first', () => {
    assert.deepEqual(containerdAdditionalGids('10000', db).gids, [20000]);
  });
  test('a uid without a passwd entry has no groups', () => {
    assert.deepEqual(containerdAdditionalGids('4242', db).gids, []);
  });
  test('root is listed in its own group "root" and gets nothing from it', () => {
    assert.deepEqual(containerdAdditionalGids('0', db).gids, []);
  });
  test('a user string with ":" is a literal name and matches nothing', () => {
    assert.deepEqual(containerdAdditionalGids('foo:bar', db).gids, []);
  });
  test('no group file: no groups', () => {
    assert.deepEqual(containerdAdditionalGids('foo', userDbFromText({ passwd: PASSWD, group: null })).gids, []);
  });
});

describe('criImageUser: what containerd and CRI-O report to the kubelet (rule 33)', () => {
  const rows: { name: string; user: string; out: { uid?: number; username?: string } }[] = [
    { name: 'a number', user: '1000', out: { uid: 1000 } },
    { name: 'the group part is dropped', user: '999:999', out: { uid: 999 } },
    { name: 'a name', user: 'nginx:nginx', out: { username: 'nginx' } },
    { name: 'empty', user: '', out: {} },
    { name: 'only a group', user: ':wheel', out: {} },
    { name: 'ParseInt accepts a sign', user: '+5', out: { uid: 5 } },
  ];
  for (const r of rows) test(r.name, () => assert.deepEqual(criImageUser(r.user), r.out));
});
