import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { userDbFromText, workdirCreationOwner, type IdentityContext, type ProfileName, type UserDb } from '../../src/identity/index.js';
import { isBerthError } from '../../src/errors/index.js';

const DB = userDbFromText({
  passwd: 'root:x:0:0:root:/root:/bin/sh\napp:x:2000:2001::/srv/app:/bin/sh\n',
  group: 'root:x:0:\napp:x:2001:\nwww:x:33:\n',
});
const NONE = userDbFromText({ passwd: null, group: null });

interface Row {
  name: string;
  profile: ProfileName;
  context: IdentityContext;
  user: string;
  db?: UserDb;
  owner: [number, number];
  parents: [number, number];
}

describe('workdirCreationOwner: who owns a missing working directory', () => {
  const rows: Row[] = [
    { name: 'rule 50: berth run leaves it to runc: container root', profile: 'berth', context: 'run', user: 'app', owner: [0, 0], parents: [0, 0] },
    { name: 'rule 52: Docker run creates it as root, not as USER', profile: 'docker', context: 'run', user: 'app', owner: [0, 0], parents: [0, 0] },
    { name: 'rule 50: Kubernetes: the runtime creates it as container root', profile: 'kubernetes', context: 'run', user: '1000', owner: [0, 0], parents: [0, 0] },
    { name: 'rule 53: podman chowns the leaf to USER (chrootuser), parents stay root', profile: 'podman', context: 'run', user: 'app', owner: [2000, 2001], parents: [0, 0] },
    { name: 'rule 53: podman with a bare unknown uid: gid 0', profile: 'podman-rootless', context: 'run', user: '4242', owner: [4242, 0], parents: [0, 0] },
    { name: 'rule 40: BuildKit: a numeric user alone gives gid = uid, parents too', profile: 'docker', context: 'build', user: '4242', owner: [4242, 4242], parents: [4242, 4242] },
    { name: 'rule 40: BuildKit: a name gives passwd uid and gid', profile: 'docker', context: 'build', user: 'app', owner: [2000, 2001], parents: [2000, 2001] },
    { name: 'rule 40: BuildKit: name:group', profile: 'docker', context: 'build', user: 'app:www', owner: [2000, 33], parents: [2000, 33] },
    { name: 'rule 40: BuildKit: a missing name silently gives 0:0', profile: 'docker', context: 'build', user: 'ghost', owner: [0, 0], parents: [0, 0] },
    { name: 'rule 40: BuildKit: no passwd file silently gives 0:0', profile: 'docker', context: 'build', user: 'app', db: NONE, owner: [0, 0], parents: [0, 0] },
    { name: 'rule 40: BuildKit: a missing group keeps the previous gid', profile: 'docker', context: 'build', user: 'app:ghost', owner: [2000, 2001], parents: [2000, 2001] },
    { name: 'rule 40: BuildKit: the literal "root"', profile: 'docker', context: 'build', user: 'root:root', db: NONE, owner: [0, 0], parents: [0, 0] },
    { name: 'BuildKit: no USER means the builder\'s 0:0', profile: 'docker', context: 'build', user: '', owner: [0, 0], parents: [0, 0] },
    { name: 'berth build follows BuildKit', profile: 'berth', context: 'build', user: '4242', owner: [4242, 4242], parents: [4242, 4242] },
    { name: 'rule 46: buildah: a bare number gives gid = uid for every created directory', profile: 'podman', context: 'build', user: '4242', owner: [4242, 4242], parents: [4242, 4242] },
    { name: 'rule 46: buildah: a name goes through GetUser', profile: 'podman', context: 'build', user: 'app', owner: [2000, 2001], parents: [2000, 2001] },
    { name: 'rule 46: buildah: a lookup failure silently gives 0:0', profile: 'podman', context: 'build', user: 'ghost', owner: [0, 0], parents: [0, 0] },
    { name: 'rule 42e: kaniko: no group part gives gid = uid, only the leaf', profile: 'kaniko', context: 'build', user: 'app', owner: [2000, 2000], parents: [0, 0] },
    { name: 'rule 42e: kaniko: explicit group', profile: 'kaniko', context: 'build', user: 'app:www', owner: [2000, 33], parents: [0, 0] },
    { name: 'rule 42e: kaniko: no USER, no chown', profile: 'kaniko', context: 'build', user: '', owner: [0, 0], parents: [0, 0] },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const o = workdirCreationOwner(r.profile, r.context, r.user, r.db ?? DB);
      assert.deepEqual([o.uid, o.gid], r.owner);
      assert.deepEqual([o.parents.uid, o.parents.gid], r.parents);
      assert.ok(o.because.length > 0);
    });
  }

  const failures: { name: string; profile: ProfileName; context: IdentityContext; user: string; code: string }[] = [
    { name: 'berth build: a missing name is an error, not a silent root', profile: 'berth', context: 'build', user: 'ghost', code: 'E_USER_NOT_FOUND' },
    { name: 'berth build: a missing group is an error', profile: 'berth', context: 'build', user: 'app:ghost', code: 'E_GROUP_NOT_FOUND' },
    { name: 'podman run: a lookup failure fails the start', profile: 'podman', context: 'run', user: 'ghost', code: 'E_USER_NOT_FOUND' },
    { name: 'kaniko: an unknown user fails the step', profile: 'kaniko', context: 'build', user: 'ghost', code: 'E_USER_NOT_FOUND' },
    { name: 'kubernetes does not build', profile: 'kubernetes', context: 'build', user: '', code: 'E_IDENTITY_INPUT_INVALID' },
    { name: 'kaniko does not run containers', profile: 'kaniko', context: 'run', user: '', code: 'E_IDENTITY_INPUT_INVALID' },
  ];
  for (const f of failures) {
    test(`failure: ${f.name}`, () => {
      assert.throws(() => workdirCreationOwner(f.profile, f.context, f.user, DB), (e: unknown) => {
        assert.ok(isBerthError(e), String(e));
        assert.equal(e.code, f.code);
        return true;
      });
    });
  }
  test('podman run wording for a failed lookup', () => {
    assert.throws(() => workdirCreationOwner('podman', 'run', 'ghost', DB), { message: 'looking up ghost inside of the container: determining run uid: error looking up user "ghost"' });
  });
});
