import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveIdentity, userDbFromText, type IdentityInput, type ResolvedIdentity, type UserDb } from '../../src/identity/index.js';
import { isBerthError } from '../../src/errors/index.js';

// A Debian-like image after `groupadd -g 20000 bar; useradd -u 10000 -G bar foo`.
const DEBIAN = userDbFromText({
  passwd: [
    'root:x:0:0:root:/root:/bin/bash',
    'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    'foo:x:10000:10000::/home/foo:/bin/sh',
    '',
  ].join('\n'),
  group: ['root:x:0:', 'daemon:x:1:', 'users:x:100:', 'nogroup:x:65534:', 'foo:x:10000:', 'bar:x:20000:foo', ''].join('\n'),
});

// A distroless-like image (USER 65532).
const DISTROLESS = userDbFromText({
  passwd: 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
  group: 'root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n',
});

// busybox: root is a member of wheel.
const BUSYBOX = userDbFromText({
  passwd: 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nbad:x:abc:def::/bad:/bin/sh\nhuge:x:4294967296:4294967297::/huge:/bin/sh\n',
  group: 'root:x:0:\nwheel:x:10:root\ndaemon:x:1:\nneg:x:-7:daemon\n',
});

function resolve(inp: Partial<IdentityInput> & { profile: IdentityInput['profile'] }, db: UserDb = DEBIAN): ResolvedIdentity {
  return resolveIdentity({ imageUser: '', ...inp }, db);
}

function ids(r: ResolvedIdentity): { uid: number; gid: number; groups: number[] } {
  return { uid: r.uid, gid: r.gid, groups: r.additionalGids };
}

interface Row {
  name: string;
  input: Partial<IdentityInput> & { profile: IdentityInput['profile'] };
  db?: UserDb;
  uid: number;
  gid: number;
  groups: number[];
  raw?: number[];
  home?: string;
  notes?: string[];
}

function runRows(rows: Row[]): void {
  for (const r of rows) {
    test(r.name, () => {
      const got = resolve(r.input, r.db);
      assert.deepEqual(ids(got), { uid: r.uid, gid: r.gid, groups: r.groups });
      if (r.raw) assert.deepEqual(got.rawAdditionalGids, r.raw);
      if (r.home !== undefined) assert.equal(got.home, r.home);
      if (r.notes) for (const n of r.notes) assert.ok(got.notes.some((x) => x.code === n), `note ${n} in ${JSON.stringify(got.notes.map((x) => x.code))}`);
    });
  }
}

describe('acceptance: useradd -u 10000 -G bar foo', () => {
  runRows([
    { name: 'berth -u foo: [10000, 20000]', input: { profile: 'berth', user: 'foo' }, uid: 10000, gid: 10000, groups: [10000, 20000], home: '/home/foo' },
    { name: 'berth -u 10000: [10000, 20000] (rule 23: a uid still finds the name)', input: { profile: 'berth', user: '10000' }, uid: 10000, gid: 10000, groups: [10000, 20000] },
    { name: 'berth -u foo:foo: [10000] (rule 10: explicit group, no memberships)', input: { profile: 'berth', user: 'foo:foo' }, uid: 10000, gid: 10000, groups: [10000] },
    { name: 'docker -u foo', input: { profile: 'docker', user: 'foo' }, uid: 10000, gid: 10000, groups: [10000, 20000] },
    { name: 'podman USER foo', input: { profile: 'podman', imageUser: 'foo' }, uid: 10000, gid: 10000, groups: [10000, 20000] },
  ]);
  test('provenance names the passwd and group lines', () => {
    const r = resolve({ profile: 'berth', user: 'foo' });
    assert.ok(r.because.includes('/etc/passwd:4 foo:x:10000:10000::/home/foo:/bin/sh gives uid 10000, gid 10000'), r.because.join('\n'));
    assert.ok(r.because.includes('/etc/group:6 bar:x:20000:foo lists foo: supplementary gid 20000'), r.because.join('\n'));
    assert.equal(r.userName, 'foo');
    assert.equal(r.groupName, 'foo');
  });
});

describe('berth profile: Docker-compatible, primary gid always in, strict, sorted', () => {
  runRows([
    { name: 'the primary gid is included though the user is not listed in its group', input: { profile: 'berth', user: 'daemon' }, uid: 1, gid: 1, groups: [1], home: '/usr/sbin' },
    { name: 'an empty USER resolves the uid 0 entry and its memberships (busybox: wheel)', input: { profile: 'berth' }, db: BUSYBOX, uid: 0, gid: 0, groups: [0, 10], home: '/root' },
    { name: 'an unknown uid: gid 0, HOME / (runc default)', input: { profile: 'berth', user: '4242' }, uid: 4242, gid: 0, groups: [0], home: '/' },
    { name: '--group-add names and numbers, sorted unique', input: { profile: 'berth', user: 'foo', groupAdd: ['100', 'bar', 'users', '5'] }, uid: 10000, gid: 10000, groups: [5, 100, 10000, 20000] },
    { name: 'HOME from the environment wins', input: { profile: 'berth', user: 'foo', env: ['HOME=/data'] }, uid: 10000, gid: 10000, groups: [10000, 20000], home: '/data' },
    { name: 'an empty HOME in the environment is filled from passwd', input: { profile: 'berth', user: 'foo', env: ['HOME=/x', 'HOME='] }, uid: 10000, gid: 10000, groups: [10000, 20000], home: '/home/foo' },
    { name: 'keep-id without a USER runs as the host ids and adds the host gid', input: { profile: 'berth', userns: 'keep-id', hostUid: 1000, hostGid: 1000 }, uid: 1000, gid: 1000, groups: [1000] },
    { name: 'keep-id with a USER keeps the user and adds the host gid', input: { profile: 'berth', user: 'foo', userns: 'keep-id', hostUid: 1000, hostGid: 1000 }, uid: 10000, gid: 10000, groups: [1000, 10000, 20000] },
    { name: 'rootless: a gid outside the user namespace is kept and flagged', input: { profile: 'berth', user: 'foo', availableGids: 15000 }, uid: 10000, gid: 10000, groups: [10000, 20000], notes: ['GID_NOT_IN_USERNS'] },
    { name: 'the build context uses the same rules', input: { profile: 'berth', context: 'build', imageUser: 'foo' }, uid: 10000, gid: 10000, groups: [10000, 20000] },
  ]);
  const failures: { name: string; input: Partial<IdentityInput> & { profile: IdentityInput['profile'] }; db?: UserDb; code: string; message?: RegExp }[] = [
    { name: 'unknown user', input: { profile: 'berth', user: 'ghost' }, code: 'E_USER_NOT_FOUND', message: /^unable to find user ghost: no matching entries in passwd file$/ },
    { name: 'unknown group', input: { profile: 'berth', user: 'foo:ghost' }, code: 'E_GROUP_NOT_FOUND' },
    { name: 'out-of-range uid', input: { profile: 'berth', user: '2147483648' }, code: 'E_ID_RANGE', message: /uids and gids must be in range 0-2147483647/ },
    { name: 'a passwd uid that moby/sys reads as 0 is an error, not root', input: { profile: 'berth', user: 'bad' }, db: BUSYBOX, code: 'E_USER_DB_INVALID', message: /uid field "abc", which is not a number/ },
    { name: 'a passwd uid beyond 32 bits is an error, not truncated', input: { profile: 'berth', user: 'huge' }, db: BUSYBOX, code: 'E_ID_RANGE', message: /gives uid 4294967296/ },
    { name: 'a membership with a negative gid is an error', input: { profile: 'berth', user: 'daemon' }, db: BUSYBOX, code: 'E_ID_RANGE', message: /neg:x:-7:daemon gives gid -7/ },
    { name: 'an empty --group-add item', input: { profile: 'berth', user: 'foo', groupAdd: [''] }, code: 'E_GROUP_INVALID' },
    { name: 'a --group-add name whose gid field is not a number', input: { profile: 'berth', groupAdd: ['odd'] }, db: userDbFromText({ passwd: 'root:x:0:0::/root:/bin/sh\n', group: 'odd:x:x1:\n' }), code: 'E_USER_DB_INVALID', message: /gid field "x1"/ },
    { name: 'unknown --group-add name', input: { profile: 'berth', groupAdd: ['ghost'] }, code: 'E_GROUP_NOT_FOUND' },
    { name: 'keep-id without host ids', input: { profile: 'berth', userns: 'keep-id' }, code: 'E_IDENTITY_INPUT_INVALID' },
  ];
  for (const f of failures) {
    test(`failure: ${f.name}`, () => {
      assert.throws(() => resolve(f.input, f.db), (e: unknown) => {
        assert.ok(isBerthError(e), String(e));
        assert.equal(e.code, f.code);
        if (f.message) assert.match(e.message, f.message);
        return true;
      });
    });
  }
});

describe('docker profile (identity.md section 2.1, rule 39)', () => {
  runRows([
    { name: 'rule 22: raw list is [gid] + memberships + --group-add, not de-duplicated', input: { profile: 'docker', user: 'foo', groupAdd: ['bar', '10000'] }, uid: 10000, gid: 10000, groups: [10000, 20000], raw: [10000, 20000, 20000, 10000], notes: ['GROUP_ADD_ORDER_RANDOM'] },
    { name: 'rule 21: a uid not in passwd gets gid 0 and groups [0]', input: { profile: 'docker', user: '4242' }, uid: 4242, gid: 0, groups: [0], home: '/' },
    { name: 'rule 21: empty USER is root with root\'s memberships', input: { profile: 'docker' }, db: BUSYBOX, uid: 0, gid: 0, groups: [0, 10] },
    { name: 'rule 10: a named user with an explicit numeric group not in /etc/group', input: { profile: 'docker', user: 'foo:4242' }, uid: 10000, gid: 4242, groups: [4242] },
    { name: 'rule 23: 1000:2000 gives exactly [2000]', input: { profile: 'docker', user: '1000:2000' }, uid: 1000, gid: 2000, groups: [2000] },
    { name: 'Docker converts a passwd uid beyond 32 bits with uint32()', input: { profile: 'docker', user: 'huge' }, db: BUSYBOX, uid: 0, gid: 1, groups: [1], notes: ['ID_TRUNCATED'] },
    { name: 'Docker reads a non-numeric passwd uid as 0 (root)', input: { profile: 'docker', user: 'bad' }, db: BUSYBOX, uid: 0, gid: 0, groups: [0] },
    { name: 'rule 39: BuildKit RUN fast path, root:root without any passwd', input: { profile: 'docker', context: 'build', imageUser: 'root:root' }, db: userDbFromText({ passwd: null, group: null }), uid: 0, gid: 0, groups: [0] },
    { name: 'rule 39: BuildKit RUN numeric uid:gid reads no files, no memberships', input: { profile: 'docker', context: 'build', imageUser: '10000:10000' }, uid: 10000, gid: 10000, groups: [10000] },
    { name: 'rule 39: BuildKit RUN name with a numeric group goes through GetExecUser', input: { profile: 'docker', context: 'build', imageUser: 'foo:4242' }, uid: 10000, gid: 4242, groups: [4242] },
    { name: 'rule 39: BuildKit RUN name resolves like GetExecUser', input: { profile: 'docker', context: 'build', imageUser: 'foo' }, uid: 10000, gid: 10000, groups: [10000, 20000] },
    { name: 'rule 39: BuildKit swallows a lookup error for an empty USER', input: { profile: 'docker', context: 'build' }, db: userDbFromText({ passwd: `${'x'.repeat(70000)}\n`, group: '' }), uid: 0, gid: 0, groups: [0], notes: ['LOOKUP_ERROR_IGNORED'] },
  ]);
  test('failure: rule 24 unknown user', () => {
    assert.throws(() => resolve({ profile: 'docker', user: 'no-such-user' }), { code: 'E_USER_NOT_FOUND', message: 'unable to find user no-such-user: no matching entries in passwd file' });
  });
  test('failure: rule 24 1:no-such-group', () => {
    assert.throws(() => resolve({ profile: 'docker', user: '1:no-such-group' }), { code: 'E_GROUP_NOT_FOUND' });
  });
  test('failure: BuildKit RUN with a named USER does not swallow errors', () => {
    assert.throws(() => resolve({ profile: 'docker', context: 'build', imageUser: 'ghost' }), { code: 'E_USER_NOT_FOUND' });
  });
});

describe('podman profiles (rules 19, 43-45, 53)', () => {
  runRows([
    { name: 'no user: spec default 0:0, root\'s memberships, no primary gid added', input: { profile: 'podman' }, db: BUSYBOX, uid: 0, gid: 0, groups: [0, 10], raw: [10], notes: ['PRIMARY_GID_NOT_IN_GROUPS'] },
    { name: 'a ":" in the spec turns image memberships off', input: { profile: 'podman', user: 'foo:foo' }, uid: 10000, gid: 10000, groups: [10000] },
    { name: 'a named user with an explicit numeric group', input: { profile: 'podman', user: 'foo:4242' }, uid: 10000, gid: 4242, groups: [4242] },
    { name: 'a numeric user without entry: podman adds a passwd line with the WORKDIR as home', input: { profile: 'podman', user: '4242', workingDir: '/app' }, uid: 4242, gid: 0, groups: [0], home: '/app', notes: ['PASSWD_ENTRY_ADDED'] },
    { name: 'and adds "0:x:0:4242" to a group file without gid 0, which makes gid 0 a membership', input: { profile: 'podman', user: '4242' }, db: userDbFromText({ passwd: 'root:x:0:0::/root:/bin/sh\n', group: 'users:x:100:\n' }), uid: 4242, gid: 0, groups: [0], notes: ['PASSWD_ENTRY_ADDED', 'GROUP_ENTRY_ADDED'] },
    { name: 'a named user in an image without a gid-0 group gets "0:x:0:foo" added, so gid 0 becomes a membership', input: { profile: 'podman', imageUser: 'foo' }, db: userDbFromText({ passwd: 'foo:x:10000:10000::/home/foo:/bin/sh\n', group: 'foo:x:10000:\n' }), uid: 10000, gid: 10000, groups: [0, 10000], notes: ['GROUP_ENTRY_ADDED'] },
    { name: 'rootless keep-id without USER: host ids, host gid added', input: { profile: 'podman-rootless', userns: 'keep-id', hostUid: 1000, hostGid: 1000 }, uid: 1000, gid: 1000, groups: [1000] },
    { name: 'rootless keep-id with USER foo: the host gid is added too', input: { profile: 'podman-rootless', imageUser: 'foo', userns: 'keep-id', hostUid: 1000, hostGid: 1001 }, uid: 10000, gid: 10000, groups: [1001, 10000, 20000], raw: [1001, 10000, 20000] },
    { name: 'keep-id:uid=,gid= options', input: { profile: 'podman-rootless', userns: 'keep-id:uid=1001,gid=0' }, uid: 1001, gid: 0, groups: [0] },
    { name: 'rootless: memberships outside the user namespace are skipped with podman\'s warning', input: { profile: 'podman-rootless', user: 'foo', availableGids: 15000 }, uid: 10000, gid: 10000, groups: [10000], notes: ['GID_NOT_IN_USERNS'] },
    { name: 'rootful: no such filter', input: { profile: 'podman', user: 'foo', availableGids: 15000 }, uid: 10000, gid: 10000, groups: [10000, 20000] },
    { name: '--group-add keep-groups alone', input: { profile: 'podman-rootless', user: 'foo', groupAdd: ['keep-groups'] }, uid: 10000, gid: 10000, groups: [10000, 20000], notes: ['KEEP_GROUPS'] },
    { name: 'build: buildah adds memberships by substring (rule 44)', input: { profile: 'podman', context: 'build', imageUser: 'bob' }, db: userDbFromText({ passwd: 'root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n', group: 'dev:x:500:bobby\n' }), uid: 1000, gid: 1000, groups: [500, 1000], notes: ['SUBSTRING_MEMBER_MATCH'] },
    { name: 'build: empty USER is "0"', input: { profile: 'podman', context: 'build' }, uid: 0, gid: 0, groups: [0], home: '/root' },
    { name: 'build: numeric --group-add', input: { profile: 'podman', context: 'build', imageUser: 'foo', groupAdd: ['7'] }, uid: 10000, gid: 10000, groups: [7, 10000, 20000] },
  ]);
  const failures: { name: string; input: Partial<IdentityInput> & { profile: IdentityInput['profile'] }; db?: UserDb; code: string; message?: string }[] = [
    { name: 'unknown user (moby/sys wording)', input: { profile: 'podman', user: 'ghost' }, code: 'E_USER_NOT_FOUND', message: 'unable to find user ghost: no matching entries in passwd file' },
    { name: 'keep-groups with other groups', input: { profile: 'podman-rootless', user: 'foo', groupAdd: ['keep-groups', '5'] }, code: 'E_GROUP_INVALID' },
    { name: 'nomap is rootless only', input: { profile: 'podman', userns: 'nomap' }, code: 'E_IDENTITY_INPUT_INVALID' },
    { name: 'build: rule 45 a user after a blank line is invisible to buildah', input: { profile: 'podman', context: 'build', imageUser: 'foo' }, db: userDbFromText({ passwd: 'root:x:0:0::/root:/bin/sh\n\nfoo:x:1:1::/f:/bin/sh\n', group: '' }), code: 'E_USER_NOT_FOUND', message: 'determining run uid: error looking up user "foo"' },
    { name: 'build: non-numeric --group-add', input: { profile: 'podman', context: 'build', groupAdd: ['wheel'] }, code: 'E_GROUP_INVALID' },
    { name: 'unknown --group-add name', input: { profile: 'podman', user: 'foo', groupAdd: ['ghost'] }, code: 'E_GROUP_NOT_FOUND', message: 'looking up supplemental groups for container: unable to find group ghost: no matching entries in group file' },
  ];
  for (const f of failures) {
    test(`failure: ${f.name}`, () => {
      assert.throws(() => resolve(f.input, f.db), (e: unknown) => {
        assert.ok(isBerthError(e), String(e));
        assert.equal(e.code, f.code);
        if (f.message) assert.equal(e.message, f.message);
        return true;
      });
    });
  }
});

describe('kubernetes profile (rules 32-37)', () => {
  runRows([
    { name: 'rule 33: the image group is discarded (USER 999:999 -> gid from passwd, else 0)', input: { profile: 'kubernetes', imageUser: '999:999' }, uid: 999, gid: 0, groups: [0], notes: ['IMAGE_GROUP_DISCARDED'] },
    { name: 'rule 33: USER foo:bar -> foo\'s passwd gid and memberships', input: { profile: 'kubernetes', imageUser: 'foo:bar' }, uid: 10000, gid: 10000, groups: [10000, 20000] },
    { name: 'rule 33: runAsGroup sets the gid', input: { profile: 'kubernetes', imageUser: 'foo', kubernetes: { runAsGroup: 3000 } }, uid: 10000, gid: 3000, groups: [3000, 20000] },
    { name: 'rule 36 CRI-O Merge: [gid] + memberships + [fsGroup] + supplementalGroups, insertion order', input: { profile: 'kubernetes', kubernetes: { runAsUser: 10000, fsGroup: 2000, supplementalGroups: [4000, 20000] } }, uid: 10000, gid: 10000, groups: [2000, 4000, 10000, 20000], raw: [10000, 20000, 2000, 4000] },
    { name: 'rule 37 Strict: {gid} ∪ fsGroup ∪ supplementalGroups, no memberships', input: { profile: 'kubernetes', kubernetes: { runAsUser: 10000, fsGroup: 2000, supplementalGroups: [4000], supplementalGroupsPolicy: 'Strict' } }, uid: 10000, gid: 10000, groups: [2000, 4000, 10000] },
    { name: 'rule 37 Strict with runAsGroup: uid=1000 gid=3000 groups=3000,4000', input: { profile: 'kubernetes', kubernetes: { runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000], supplementalGroupsPolicy: 'Strict' } }, uid: 1000, gid: 3000, groups: [3000, 4000] },
    { name: 'rule 36 containerd Merge: sorted unique', input: { profile: 'kubernetes', kubernetes: { runtime: 'containerd', runAsUser: 10000, supplementalGroups: [4000] } }, uid: 10000, gid: 10000, groups: [4000, 10000, 20000], raw: [4000, 10000, 20000] },
    { name: 'rule 28 containerd leaves out a group named like the user (CRI-O does not)', input: { profile: 'kubernetes', kubernetes: { runtime: 'containerd', runAsUser: 10000 } }, db: userDbFromText({ passwd: 'foo:x:10000:5::/h:/bin/sh\n', group: 'foo:x:7:foo\nbar:x:8:foo\n' }), uid: 10000, gid: 5, groups: [5, 8] },
    { name: 'rule 28 CRI-O keeps that group', input: { profile: 'kubernetes', kubernetes: { runtime: 'cri-o', runAsUser: 10000 } }, db: userDbFromText({ passwd: 'foo:x:10000:5::/h:/bin/sh\n', group: 'foo:x:7:foo\nbar:x:8:foo\n' }), uid: 10000, gid: 5, groups: [5, 7, 8] },
    { name: 'containerd user:runAsGroup never uses the passwd gid', input: { profile: 'kubernetes', imageUser: 'foo', kubernetes: { runtime: 'containerd', runAsGroup: 3000, supplementalGroupsPolicy: 'Strict' } }, uid: 10000, gid: 3000, groups: [3000] },
    { name: 'no USER anywhere: the kubelet uses uid 0', input: { profile: 'kubernetes' }, uid: 0, gid: 0, groups: [0], home: '/root' },
    { name: 'no USER, runAsGroup via the kubelet: uid 0 with that gid', input: { profile: 'kubernetes', kubernetes: { runAsGroup: 3000 } }, uid: 0, gid: 3000, groups: [3000] },
    { name: 'containerd Strict with no user at all (direct CRI): the gid is not in the list', input: { profile: 'kubernetes', kubernetes: { runtime: 'containerd', viaKubelet: false, supplementalGroups: [4000], supplementalGroupsPolicy: 'Strict' } }, uid: 0, gid: 0, groups: [0, 4000], raw: [4000], notes: ['PRIMARY_GID_NOT_IN_GROUPS'] },
    { name: 'runAsNonRoot with a numeric non-root image user passes', input: { profile: 'kubernetes', imageUser: '10000', kubernetes: { runAsNonRoot: true } }, uid: 10000, gid: 10000, groups: [10000, 20000] },
    { name: 'volume gids are appended after supplementalGroups', input: { profile: 'kubernetes', kubernetes: { runAsUser: 4242, extraGroups: [6000], supplementalGroups: [5000] } }, uid: 4242, gid: 0, groups: [0, 5000, 6000], raw: [0, 5000, 6000] },
  ]);
  test('Strict drops the image memberships, which imageGroupsGids still shows', () => {
    const r = resolve({ profile: 'kubernetes', kubernetes: { runAsUser: 10000, supplementalGroupsPolicy: 'Strict' } });
    assert.deepEqual(r.additionalGids, [10000]);
    assert.deepEqual(r.imageGroupsGids, [10000, 20000]);
  });
  const failures: { name: string; input: Partial<IdentityInput> & { profile: IdentityInput['profile'] }; code: string; message?: string }[] = [
    { name: 'runAsNonRoot with a non-numeric image user', input: { profile: 'kubernetes', imageUser: 'foo', kubernetes: { runAsNonRoot: true } }, code: 'E_RUN_AS_NON_ROOT', message: 'container has runAsNonRoot and image has non-numeric user (foo), cannot verify user is non-root' },
    { name: 'runAsNonRoot and an image without USER', input: { profile: 'kubernetes', kubernetes: { runAsNonRoot: true } }, code: 'E_RUN_AS_NON_ROOT', message: 'container has runAsNonRoot and image will run as root' },
    { name: 'runAsNonRoot and runAsUser 0', input: { profile: 'kubernetes', imageUser: '10000', kubernetes: { runAsNonRoot: true, runAsUser: 0, pod: 'web_default', container: 'app' } }, code: 'E_RUN_AS_NON_ROOT', message: 'container\'s runAsUser breaks non-root policy (pod: "web_default", container: app)' },
    { name: 'CRI-O: runAsGroup without any user (direct CRI)', input: { profile: 'kubernetes', kubernetes: { viaKubelet: false, runAsGroup: 5 } }, code: 'E_GROUP_WITHOUT_USER', message: 'user group is specified without user or username' },
    { name: 'containerd: runAsGroup without any user (direct CRI)', input: { profile: 'kubernetes', kubernetes: { runtime: 'containerd', viaKubelet: false, runAsGroup: 5 } }, code: 'E_GROUP_WITHOUT_USER', message: 'user group "5" is specified without user' },
    { name: 'CRI-O: an image user name not in passwd', input: { profile: 'kubernetes', imageUser: 'ghost' }, code: 'E_USER_NOT_FOUND', message: 'get exec user: unable to find user ghost: no matching entries in passwd file' },
    { name: 'containerd: an image user name not in passwd', input: { profile: 'kubernetes', imageUser: 'ghost', kubernetes: { runtime: 'containerd' } }, code: 'E_USER_NOT_FOUND', message: 'no users found' },
    { name: 'an image uid beyond MaxInt32 reaches the runtime and fails', input: { profile: 'kubernetes', imageUser: '4294967296' }, code: 'E_ID_RANGE' },
  ];
  for (const f of failures) {
    test(`failure: ${f.name}`, () => {
      assert.throws(() => resolve(f.input), (e: unknown) => {
        assert.ok(isBerthError(e), String(e));
        assert.equal(e.code, f.code);
        if (f.message) assert.equal(e.message, f.message);
        return true;
      });
    });
  }
  test('the non-numeric user hint gives the uid from the image', () => {
    assert.throws(() => resolve({ profile: 'kubernetes', imageUser: 'foo', kubernetes: { runAsNonRoot: true } }), (e: unknown) => {
      assert.ok(isBerthError(e));
      assert.match(e.hint ?? '', /runAsUser: 10000/);
      return true;
    });
  });
});

describe('openshift profile (rules 54-58)', () => {
  runRows([
    { name: 'distroless USER 65532: uid from the range, gid 0, fsGroup added', input: { profile: 'openshift', imageUser: '65532' }, db: DISTROLESS, uid: 1000680000, gid: 0, groups: [0, 1000680000], notes: ['IMAGE_USER_OVERRIDDEN', 'PASSWD_ENTRY_ADDED'] },
    { name: 'the namespace range decides', input: { profile: 'openshift', imageUser: '65532', openshift: { uidRange: { start: 1000620000, size: 10000 } } }, db: DISTROLESS, uid: 1000620000, gid: 0, groups: [0, 1000620000] },
    { name: 'a runAsUser inside the range is kept', input: { profile: 'openshift', openshift: { runAsUser: 1000680005 } }, db: DISTROLESS, uid: 1000680005, gid: 0, groups: [0, 1000680000] },
    { name: 'fsGroup defaults to the supplemental-groups range', input: { profile: 'openshift', openshift: { supplementalGroupRanges: [{ start: 5000, size: 100 }] } }, db: DISTROLESS, uid: 1000680000, gid: 0, groups: [0, 5000] },
    { name: 'supplementalGroups are RunAsAny', input: { profile: 'openshift', kubernetes: { supplementalGroups: [7] } }, db: DISTROLESS, uid: 1000680000, gid: 0, groups: [0, 7, 1000680000] },
    { name: 'CRI-O writes the working directory as home of the added passwd line', input: { profile: 'openshift', workingDir: '/home/nonroot' }, db: DISTROLESS, uid: 1000680000, gid: 0, groups: [0, 1000680000], home: '/home/nonroot' },
    { name: 'rule 58: a group-writable /etc/passwd is left alone: HOME /', input: { profile: 'openshift', workingDir: '/app', passwdFile: { mode: 0o664, uid: 0, size: 100 } }, db: DISTROLESS, uid: 1000680000, gid: 0, groups: [0, 1000680000], home: '/' },
  ]);
  const failures: { name: string; input: Partial<IdentityInput> & { profile: IdentityInput['profile'] }; code: string; message?: string }[] = [
    { name: 'runAsUser outside the range', input: { profile: 'openshift', kubernetes: { runAsUser: 1000 } }, code: 'E_OUT_OF_RANGE', message: 'unable to validate against any security context constraint: [provider "restricted-v2": securityContext.runAsUser: Invalid value: 1000: must be in the ranges: [1000680000, 1000689999]]' },
    { name: 'fsGroup outside the range', input: { profile: 'openshift', kubernetes: { fsGroup: 5 } }, code: 'E_OUT_OF_RANGE' },
    { name: 'conflicting runAsUser values', input: { profile: 'openshift', openshift: { runAsUser: 1000680001 }, kubernetes: { runAsUser: 1000680002 } }, code: 'E_IDENTITY_INPUT_INVALID' },
  ];
  for (const f of failures) {
    test(`failure: ${f.name}`, () => {
      assert.throws(() => resolve(f.input, DISTROLESS), (e: unknown) => {
        assert.ok(isBerthError(e), String(e));
        assert.equal(e.code, f.code);
        if (f.message) assert.equal(e.message, f.message);
        return true;
      });
    });
  }
});

describe('kaniko profile (rules 41-42)', () => {
  runRows([
    { name: 'rule 42a: RUN drops the group part', input: { profile: 'kaniko', imageUser: 'foo:root' }, uid: 10000, gid: 10000, groups: [10000, 20000], notes: ['RUN_GROUP_DROPPED'] },
    { name: 'rule 42c: unknown uid gets gid = uid and an empty setgroups', input: { profile: 'kaniko', imageUser: '4242' }, uid: 4242, gid: 4242, groups: [4242], raw: [], home: '/', notes: ['PRIMARY_GID_NOT_IN_GROUPS'] },
    { name: 'empty USER: the executor\'s own root credentials', input: { profile: 'kaniko' }, uid: 0, gid: 0, groups: [0], home: '/root', notes: ['EXECUTOR_CREDENTIALS'] },
    { name: 'rule 42b: a user named "1000" wins over uid 1000', input: { profile: 'kaniko', imageUser: '1000' }, db: userDbFromText({ passwd: '1000:x:4000:4000::/n:/bin/sh\nreal:x:1000:1000::/r:/bin/sh\n', group: '' }), uid: 4000, gid: 4000, groups: [4000], notes: ['NAME_BEATS_UID'] },
  ]);
  test('kaniko differs from Docker rules for an unknown uid (gid = uid, not 0)', () => {
    const r = resolve({ profile: 'kaniko', imageUser: '4242' });
    assert.deepEqual(r.additionalGids, [4242]);
    assert.deepEqual(r.rawAdditionalGids, []);
    assert.deepEqual(r.imageGroupsGids, [0]);
  });
  test('failure: /etc/group missing fails a RUN as a passwd user', () => {
    assert.throws(() => resolve({ profile: 'kaniko', imageUser: 'foo' }, userDbFromText({ passwd: 'foo:x:1:1::/f:/bin/sh\n', group: null })), { code: 'E_USER_DB_MISSING' });
  });
});

describe('input normalisation: unknown keys and contradictory pairs are rejected', () => {
  const rows: { name: string; input: Record<string, unknown>; pattern?: RegExp }[] = [
    { name: 'unknown option', input: { profile: 'berth', imageUser: '', usr: 'x' }, pattern: /invalid option "usr"/ },
    { name: 'unknown profile', input: { profile: 'lxc', imageUser: '' } },
    { name: 'kubernetes options under docker', input: { profile: 'docker', imageUser: '', kubernetes: { runAsUser: 1 } } },
    { name: 'openshift options under kubernetes', input: { profile: 'kubernetes', imageUser: '', openshift: {} } },
    { name: '--user under kubernetes', input: { profile: 'kubernetes', imageUser: '', user: 'foo' } },
    { name: '--group-add under openshift', input: { profile: 'openshift', imageUser: '', groupAdd: ['5'] } },
    { name: 'a build under kubernetes', input: { profile: 'kubernetes', imageUser: '', context: 'build' } },
    { name: 'kaniko run', input: { profile: 'kaniko', imageUser: '', context: 'run' } },
    { name: 'keep-id under docker', input: { profile: 'docker', imageUser: '', userns: 'keep-id' } },
    { name: 'keep-id for a podman build', input: { profile: 'podman', imageUser: '', context: 'build', userns: 'keep-id' } },
    { name: 'OpenShift on containerd', input: { profile: 'openshift', imageUser: '', kubernetes: { runtime: 'containerd' } } },
    { name: 'negative runAsUser', input: { profile: 'kubernetes', imageUser: '', kubernetes: { runAsUser: -1 } } },
    { name: 'unknown supplementalGroupsPolicy', input: { profile: 'kubernetes', imageUser: '', kubernetes: { supplementalGroupsPolicy: 'Loose' } } },
    { name: 'unknown kubernetes key', input: { profile: 'kubernetes', imageUser: '', kubernetes: { runAsUsr: 1 } }, pattern: /kubernetes\.runAsUsr/ },
    { name: 'unknown keep-id option', input: { profile: 'podman', imageUser: '', userns: 'keep-id:foo=1' } },
    { name: 'unknown userns mode', input: { profile: 'podman', imageUser: '', userns: 'weird' } },
    { name: 'groupAdd not a list', input: { profile: 'berth', imageUser: '', groupAdd: 'wheel' } },
  ];
  for (const r of rows) {
    test(r.name, () => {
      assert.throws(() => resolveIdentity(r.input as unknown as IdentityInput, DEBIAN), (e: unknown) => {
        assert.ok(isBerthError(e), String(e));
        assert.equal(e.code, 'E_IDENTITY_INPUT_INVALID');
        if (r.pattern) assert.match(e.message, r.pattern);
        return true;
      });
    });
  }
});

describe('determinism', () => {
  test('the same input gives the same JSON', () => {
    const a = JSON.stringify(resolve({ profile: 'docker', user: 'foo', groupAdd: ['users', 'bar'] }));
    const b = JSON.stringify(resolve({ profile: 'docker', user: 'foo', groupAdd: ['users', 'bar'] }));
    assert.equal(a, b);
  });
  test('additionalGids are sorted, unique and contain the gid for every profile', () => {
    for (const profile of ['berth', 'docker', 'podman', 'podman-rootless', 'kubernetes', 'openshift', 'kaniko'] as const) {
      for (const imageUser of ['10000', '', '4242']) {
        const r = resolve({ profile, imageUser, ...(profile === 'kubernetes' || profile === 'openshift' ? { kubernetes: { supplementalGroups: [20000, 3, 3], supplementalGroupsPolicy: 'Strict' as const } } : {}) });
        assert.deepEqual(r.additionalGids, [...new Set([r.gid, ...r.rawAdditionalGids])].sort((x, y) => x - y), `${profile} ${imageUser}`);
      }
    }
  });
});

describe('large user databases', () => {
  const groups = Array.from({ length: 150000 }, (_, i) => `g${i}:x:${i + 200000}:foo`).join('\n');
  const big = userDbFromText({ passwd: 'foo:x:1000:1000::/home/foo:/bin/sh\n', group: `root:x:0:\n${groups}` });
  for (const profile of ['berth', 'docker', 'podman', 'kubernetes', 'kaniko'] as const) {
    test(`${profile}: 150000 memberships are all kept, provenance stays short`, () => {
      const r = resolve({ profile, imageUser: 'foo' }, big);
      assert.equal(r.additionalGids.length, 150001);
      assert.ok(r.because.length < 60, `${r.because.length} provenance lines`);
    });
  }
});
