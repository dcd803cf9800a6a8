import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isBerthError, type BerthError } from '../../../src/errors/index.js';
import type { HostFacts } from '../../../src/host/index.js';
import {
  diagnoseMapToolFailure,
  diagnoseUnshareFailure,
  preflightRootless,
  rootlessMaps,
  type MapToolFailure,
} from '../../../src/runtime/userns/index.js';

function errorOf(f: () => unknown): BerthError {
  try {
    f();
  } catch (e) {
    assert.ok(isBerthError(e), String(e));
    return e;
  }
  assert.fail('expected an error');
}

/** tester (1001) on a Debian 12 host with uidmap installed and 100000:65536 in both files. */
function tester(): HostFacts {
  return {
    uid: 1001,
    gid: 1001,
    euid: 1001,
    egid: 1001,
    userName: 'tester',
    home: '/home/tester',
    groups: [1001],
    mode: 'rootless',
    uidMap: [{ container: 0, host: 0, size: 4294967295 }],
    gidMap: [{ container: 0, host: 0, size: 4294967295 }],
    setgroups: 'allow',
    noNewPrivs: false,
    capEff: '0000000000000000',
    seccomp: 0,
    userns: { maxUserNamespaces: 96365 },
    subuids: [{ start: 100000, count: 65536 }],
    subgids: [{ start: 100000, count: 65536 }],
    subidSource: 'getsubids',
    tools: {
      unshare: { path: '/usr/bin/unshare', setuidRoot: false },
      nsenter: { path: '/usr/bin/nsenter', setuidRoot: false },
      newuidmap: { path: '/usr/bin/newuidmap', setuidRoot: true },
      newgidmap: { path: '/usr/bin/newgidmap', setuidRoot: true },
    },
    kernel: { release: '6.1.0', major: 6, minor: 1 },
    overlayInUserns: true,
    rlimits: {},
    warnings: [],
  };
}

function withFacts(change: (f: HostFacts) => void): HostFacts {
  const f = tester();
  change(f);
  return f;
}

describe('preflightRootless: passes', () => {
  test('a well set up user', () => preflightRootless(tester()));
  test('newuidmap/newgidmap carrying file capabilities instead of setuid (Fedora)', () => {
    preflightRootless(
      withFacts((f) => {
        f.tools.newuidmap = { path: '/usr/bin/newuidmap', setuidRoot: false, fileCaps: ['cap_setuid'] };
        f.tools.newgidmap = { path: '/usr/bin/newgidmap', setuidRoot: false, fileCaps: ['cap_setgid'] };
      }),
    );
  });
  test('the maps it checked are the Step 2 maps', () => {
    assert.deepEqual(rootlessMaps(tester()), {
      uidMap: [
        { container: 0, host: 1001, size: 1 },
        { container: 1, host: 100000, size: 65536 },
      ],
      gidMap: [
        { container: 0, host: 1001, size: 1 },
        { container: 1, host: 100000, size: 65536 },
      ],
    });
  });
});

describe('preflightRootless: the Step 1 table', () => {
  const cases: { name: string; facts: HostFacts; code: string; message: RegExp; hint?: RegExp }[] = [
    {
      name: 'no passwd entry (os.userInfo found none)',
      facts: withFacts((f) => delete f.userName),
      code: 'E_USERNS_NO_PASSWD_ENTRY',
      message: /uid 1001 has no passwd entry; newuidmap needs one/,
      hint: /\/etc\/passwd or to NSS/,
    },
    {
      name: 'user.max_user_namespaces=0',
      facts: withFacts((f) => (f.userns.maxUserNamespaces = 0)),
      code: 'E_USERNS_DISABLED',
      message: /unprivileged user namespaces are disabled \(user\.max_user_namespaces=0\)/,
    },
    {
      name: 'kernel.unprivileged_userns_clone=0',
      facts: withFacts((f) => (f.userns.unprivilegedUsernsClone = 0)),
      code: 'E_USERNS_DISABLED',
      message: /kernel\.unprivileged_userns_clone=0/,
    },
    {
      name: 'Ubuntu AppArmor restriction (nerdctl#2847)',
      facts: withFacts((f) => (f.userns.apparmorRestrictUnprivilegedUserns = 1)),
      code: 'E_USERNS_APPARMOR',
      message: /Ubuntu AppArmor restricts unprivileged user namespaces/,
      hint: /profile with `userns,` for \/usr\/bin\/unshare, or set the sysctl to 0/,
    },
    {
      name: 'no util-linux unshare',
      facts: withFacts((f) => delete f.tools.unshare),
      code: 'E_USERNS_TOOL_MISSING',
      message: /util-linux `unshare` not found/,
    },
    {
      name: 'no newuidmap',
      facts: withFacts((f) => delete f.tools.newuidmap),
      code: 'E_USERNS_TOOL_MISSING',
      message: /newuidmap not found/,
      hint: /install uidmap/,
    },
    {
      name: 'no newgidmap',
      facts: withFacts((f) => delete f.tools.newgidmap),
      code: 'E_USERNS_TOOL_MISSING',
      message: /newgidmap not found/,
    },
    {
      name: 'scenario 14: NoNewPrivs=1',
      facts: withFacts((f) => (f.noNewPrivs = true)),
      code: 'E_USERNS_NO_NEW_PRIVS',
      message: /berth runs with no_new_privs \(systemd NoNewPrivileges=, docker no-new-privileges\), so the setuid newuidmap cannot work/,
    },
    {
      name: 'scenario 13: a newuidmap copy without setuid and without caps',
      facts: withFacts((f) => (f.tools.newuidmap = { path: '/tmp/bin/newuidmap', setuidRoot: false, fileCaps: [] })),
      code: 'E_USERNS_TOOL_NOT_PRIVILEGED',
      message: /\/tmp\/bin\/newuidmap is neither setuid root nor has cap_setuid\+ep$/,
    },
    {
      name: 'newgidmap with the wrong capability',
      facts: withFacts((f) => (f.tools.newgidmap = { path: '/usr/bin/newgidmap', setuidRoot: false, fileCaps: ['cap_setuid'] })),
      code: 'E_USERNS_TOOL_NOT_PRIVILEGED',
      message: /newgidmap is neither setuid root nor has cap_setgid\+ep/,
    },
    {
      name: 'capabilities that could not be read are said to be unknown',
      facts: withFacts((f) => (f.tools.newuidmap = { path: '/usr/bin/newuidmap', setuidRoot: false })),
      code: 'E_USERNS_TOOL_NOT_PRIVILEGED',
      message: /could not be read/,
    },
    {
      name: 'scenario 11: no subordinate UIDs',
      facts: withFacts((f) => (f.subuids = [])),
      code: 'E_NO_SUBIDS',
      message: /no subordinate UIDs for tester in \/etc\/subuid \(or NSS subid\)/,
      hint: /sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 tester/,
    },
    {
      name: 'no subordinate GIDs',
      facts: withFacts((f) => (f.subgids = [])),
      code: 'E_NO_SUBIDS',
      message: /no subordinate GIDs for tester in \/etc\/subgid/,
    },
    {
      name: 'scenario 15: overlapping ranges',
      facts: withFacts((f) => (f.subuids = [{ start: 165536, count: 65536 }, { start: 200000, count: 65536 }])),
      code: 'E_SUBID_OVERLAP',
      message: /subuid ranges 165536\+65536 and 200000\+65536 overlap/,
    },
    {
      name: 'scenario 16: the own uid inside a range',
      facts: withFacts((f) => (f.subuids = [{ start: 1000, count: 65536 }])),
      code: 'E_SUBID_CONTAINS_OWN_ID',
      message: /subuid range 1000\+65536 contains your own uid 1001/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const e = errorOf(() => preflightRootless(c.facts));
      assert.equal(e.code, c.code);
      assert.match(e.message, c.message);
      assert.ok(e.message.startsWith(`create user namespace for ${c.facts.userName ?? 'uid 1001'}: `), e.message);
      if (c.hint) assert.match(e.hint ?? '', c.hint);
    });
  }
});

describe('diagnoseMapToolFailure: the Step 4 table (newuidmap stderr under LC_ALL=C)', () => {
  const base = (stderr: string, tool: MapToolFailure['tool'] = 'newuidmap'): MapToolFailure => ({ tool, code: 1, stderr, pid: 4242 });
  const cases: { name: string; failure: MapToolFailure; facts?: HostFacts; code: string; message: RegExp }[] = [
    {
      name: 'scenario 19: a range not delegated',
      failure: base('newuidmap: uid range [1-11) -> [200000-200010) not allowed\n'),
      code: 'E_USERNS_NOT_DELEGATED',
      message: /host UIDs 200000\.\.200009 are not delegated to tester \(check \/etc\/subuid or `getsubids tester`\)$/,
    },
    {
      name: 'newgidmap: a gid range not delegated',
      failure: base('newgidmap: gid range [0-1) -> [5000-5001) not allowed\n', 'newgidmap'),
      code: 'E_USERNS_NOT_DELEGATED',
      message: /host GIDs 5000\.\.5000 are not delegated to tester \(check \/etc\/subgid or `getsubids -g tester`\)/,
    },
    {
      name: 'EPERM with no_new_privs on: named as such',
      failure: base('newuidmap: write to uid_map failed: Operation not permitted\n'),
      facts: withFacts((f) => (f.noNewPrivs = true)),
      code: 'E_USERNS_NO_NEW_PRIVS',
      message: /no_new_privs/,
    },
    {
      name: 'EPERM from a copy without setuid: named as such',
      failure: base('newuidmap: write to uid_map failed: Operation not permitted\n'),
      facts: withFacts((f) => (f.tools.newuidmap = { path: '/tmp/bin/newuidmap', setuidRoot: false, fileCaps: [] })),
      code: 'E_USERNS_TOOL_NOT_PRIVILEGED',
      message: /neither setuid root/,
    },
    {
      name: 'EPERM under AppArmor: named as such',
      failure: base('newuidmap: write to uid_map failed: Operation not permitted\n'),
      facts: withFacts((f) => (f.userns.apparmorRestrictUnprivilegedUserns = 1)),
      code: 'E_USERNS_APPARMOR',
      message: /AppArmor/,
    },
    {
      name: 'EPERM with nothing visible: a second write or a security module',
      failure: base('newgidmap: write to gid_map failed: Operation not permitted\n', 'newgidmap'),
      code: 'E_USERNS_MAP_DENIED',
      message: /refused to write gid_map .* the map was written already, or a security module/,
    },
    {
      name: 'EINVAL: the kernel rejected the map',
      failure: base('newuidmap: write to uid_map failed: Invalid argument\n'),
      code: 'E_USERNS_MAP_REJECTED',
      message: /kernel rejected the map: overlapping ranges, more than 340 lines, or 4 KiB or more of text$/,
    },
    {
      name: 'sg/newgrp: newuidmap wording',
      failure: base('newuidmap: Target process 4242 is owned by a different user: uid:1001 pw_uid:1001 st_uid:1001, gid:1001 pw_gid:1001 st_gid:27\n'),
      code: 'E_USERNS_OWNER_MISMATCH',
      message: /real\/effective uid or gid differs from the holder \(sg\/newgrp or setgid wrapper\)/,
    },
    {
      name: 'sg/newgrp: newgidmap wording',
      failure: base('newgidmap: Target 4242 is owned by a different user: uid:1001 pw_uid:1001 st_uid:1001, gid:27 pw_gid:1001 st_gid:1001\n', 'newgidmap'),
      code: 'E_USERNS_OWNER_MISMATCH',
      message: /sg\/newgrp/,
    },
    {
      name: 'the holder died: its own message is quoted',
      failure: { ...base('newuidmap: Could not open proc directory for target 4242\n'), holderStderr: 'berth-holder: killed\n' },
      code: 'E_USERNS_HOLDER_EXITED',
      message: /namespace holder exited early: berth-holder: killed$/,
    },
    {
      name: 'no passwd entry, as newuidmap says it',
      failure: base('newuidmap: Cannot determine your user name.\n'),
      code: 'E_USERNS_NO_PASSWD_ENTRY',
      message: /no passwd entry/,
    },
    {
      name: 'anything else is quoted with the exit status',
      failure: base('newuidmap: something new\n'),
      code: 'E_USERNS_MAP_FAILED',
      message: /newuidmap exited with status 1: newuidmap: something new$/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const e = diagnoseMapToolFailure(c.failure, c.facts ?? tester());
      assert.equal(e.code, c.code);
      assert.match(e.message, c.message);
      assert.equal((e.details as { stderr?: string }).stderr, c.failure.stderr.trim());
    });
  }
});

describe('diagnoseUnshareFailure', () => {
  const cases: { name: string; stderr: string; facts?: HostFacts; code: string; message: RegExp }[] = [
    {
      name: 'EPERM with namespaces disabled by sysctl',
      stderr: 'unshare: unshare failed: Operation not permitted',
      facts: withFacts((f) => (f.userns.maxUserNamespaces = 0)),
      code: 'E_USERNS_DISABLED',
      message: /max_user_namespaces=0/,
    },
    {
      name: 'EPERM under a seccomp filter',
      stderr: 'unshare: unshare failed: Operation not permitted',
      facts: withFacts((f) => (f.seccomp = 2)),
      code: 'E_USERNS_UNSHARE_DENIED',
      message: /refused to create a user namespace .* seccomp filter/,
    },
    {
      name: 'ENOSPC: the namespace limit',
      stderr: 'unshare: unshare failed: No space left on device',
      code: 'E_USERNS_LIMIT',
      message: /limit is reached .*user\.max_user_namespaces=96365/,
    },
    {
      name: 'busybox unshare without --user',
      stderr: "unshare: unrecognized option '--user'",
      code: 'E_USERNS_UNSHARE_FAILED',
      message: /does not understand util-linux options/,
    },
    {
      name: 'anything else is quoted',
      stderr: 'unshare: something odd',
      code: 'E_USERNS_UNSHARE_FAILED',
      message: /exited with status 1 before creating the namespace: unshare: something odd$/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const e = diagnoseUnshareFailure(c.stderr, 1, c.facts ?? tester());
      assert.equal(e.code, c.code);
      assert.match(e.message, c.message);
    });
  }
});
