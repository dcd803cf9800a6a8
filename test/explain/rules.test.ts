/**
 * Every finding code, with the cases that must produce it and the cases that must not.
 * Each positive case also checks what a user reads: severity, subject, and the facts in `because`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding } from '../../src/errors/index.js';
import { explain, FINDING_CODES, type ExplainInput, type ExplainReport } from '../../src/explain/index.js';
import { ALL_CAPS, capSetFromNames } from '../../src/caps/set.js';
import { CAP_NET_RAW_EP, CAP_NET_RAW_EP_V3_1001, DEBIAN_CONFIG, debianFiles, image, type FileSpec } from './fixtures.js';

interface Case {
  name: string;
  input: ExplainInput;
  /** Checks on the finding (positive cases) or on the report. */
  check?: (f: Finding, r: ExplainReport) => void;
}

const deb = (config: Record<string, unknown> = DEBIAN_CONFIG, extra: FileSpec[] = []) => image(debianFiles(extra), config);
const withCmd = (cmd: string[], extra: FileSpec[] = []) => deb({ ...DEBIAN_CONFIG, Cmd: cmd }, extra);
const noSetid = (files: FileSpec[]) => files.map((f) => (f.mode !== undefined && f.mode & 0o6000 ? { ...f, mode: f.mode & 0o777 } : f));
const because = (f: Finding) => f.because.join('\n');

const NO_SYS_RESOURCE = ALL_CAPS & ~capSetFromNames(['CAP_SYS_RESOURCE']);
/** Rootful berth whose own bounding set lacks CAP_SYS_RESOURCE. */
const rootNoSysResource = { uid: 0, gid: 0, rootless: false, subuids: [], subgids: [], bounding: NO_SYS_RESOURCE };

const host1001 = { uid: 1001, gid: 1001, userName: 'tester', rootless: true, subuids: [{ start: 100000, count: 65536 }], subgids: [{ start: 100000, count: 65536 }] };

const TABLE: Record<string, { positive: Case[]; negative: Case[] }> = {
  USER_NOT_FOUND: {
    positive: [
      {
        name: '--user with a name the image does not have',
        input: { image: deb(), run: { user: 'nosuch' } },
        check: (f) => {
          assert.equal(f.severity, 'error');
          assert.equal(f.subject, 'nosuch');
          assert.match(f.message, /unable to find user nosuch: no matching entries in passwd file/);
          assert.match(because(f), /\/etc\/passwd has 5 entries/);
        },
      },
      { name: 'image USER name missing, docker profile', input: { image: deb({ ...DEBIAN_CONFIG, User: 'app' }), profile: 'docker' }, check: (f) => assert.equal(f.subject, 'app') },
    ],
    negative: [
      { name: 'a numeric uid needs no passwd entry', input: { image: deb(), run: { user: '4242' } } },
      { name: 'a name that exists', input: { image: deb(), run: { user: 'foo' } } },
    ],
  },
  GROUP_NOT_FOUND: {
    positive: [
      {
        name: '--user foo:nosuchgroup',
        input: { image: deb(), run: { user: 'foo:nosuchgroup' } },
        check: (f) => {
          assert.equal(f.subject, 'nosuchgroup');
          assert.match(f.message, /unable to find group nosuchgroup: no matching entries in group file/);
        },
      },
    ],
    negative: [{ name: 'a numeric group needs no group entry', input: { image: deb(), run: { user: 'foo:4242' } } }],
  },
  USER_INVALID: {
    positive: [
      { name: 'uid above 2147483647', input: { image: deb(), run: { user: '2147483648' } }, check: (f) => assert.match(f.message, /uids and gids must be in range 0-2147483647/) },
      { name: 'openshift runAsUser outside the namespace range', input: { image: deb(), profile: 'openshift', pod: { runAsUser: 5 } }, check: (f) => assert.equal(f.severity, 'error') },
    ],
    negative: [{ name: 'uid 2147483647', input: { image: deb(), run: { user: '2147483647' } } }],
  },
  NON_NUMERIC_USER_RUN_AS_NON_ROOT: {
    positive: [
      {
        name: 'runAsNonRoot with image USER foo',
        input: { image: deb({ ...DEBIAN_CONFIG, User: 'foo' }), profile: 'kubernetes', pod: { runAsNonRoot: true, source: 'pod.yaml' } },
        check: (f) => {
          assert.match(f.message, /container has runAsNonRoot and image has non-numeric user \(foo\), cannot verify user is non-root/);
          assert.match(because(f), /\/etc\/passwd:4 foo:x:10000:10000::\/home\/foo:\/bin\/sh gives foo uid 10000/);
          assert.match(f.fix, /runAsUser: 10000/);
        },
      },
    ],
    negative: [
      { name: 'runAsNonRoot with image USER 10000', input: { image: deb({ ...DEBIAN_CONFIG, User: '10000' }), profile: 'kubernetes', pod: { runAsNonRoot: true } } },
      { name: 'runAsNonRoot with a runAsUser', input: { image: deb({ ...DEBIAN_CONFIG, User: 'foo' }), profile: 'kubernetes', pod: { runAsNonRoot: true, runAsUser: 10000 } } },
    ],
  },
  RUN_AS_NON_ROOT_VIOLATED: {
    positive: [
      { name: 'runAsNonRoot with no USER (root)', input: { image: deb(), profile: 'kubernetes', pod: { runAsNonRoot: true } }, check: (f) => assert.match(f.message, /image will run as root/) },
      { name: 'runAsNonRoot with runAsUser 0', input: { image: deb(), profile: 'kubernetes', pod: { runAsNonRoot: true, runAsUser: 0 } }, check: (f) => assert.match(f.message, /runAsUser breaks non-root policy/) },
    ],
    negative: [{ name: 'runAsNonRoot with runAsUser 1000', input: { image: deb(), profile: 'kubernetes', pod: { runAsNonRoot: true, runAsUser: 1000 } } }],
  },
  RUNS_AS_ROOT: {
    positive: [
      {
        name: 'no USER under berth rootful: host root, warning',
        input: { image: deb() },
        check: (f) => {
          assert.equal(f.severity, 'warning');
          assert.match(because(f), /container root is host root/);
        },
      },
      {
        name: 'rootless podman: root maps to the host user, info',
        input: { image: deb(), profile: 'podman-rootless', host: host1001 },
        check: (f) => {
          assert.equal(f.severity, 'info');
          assert.match(because(f), /host uid 1001/);
        },
      },
    ],
    negative: [{ name: '--user foo', input: { image: deb(), run: { user: 'foo' } } }],
  },
  SUPPLEMENTARY_GROUPS_DIFFER: {
    positive: [
      {
        name: 'kubernetes supplementalGroupsPolicy Strict drops the membership of bar',
        input: { image: deb({ ...DEBIAN_CONFIG, User: 'foo' }), profile: 'kubernetes', pod: { runAsUser: 10000, supplementalGroupsPolicy: 'Strict' } },
        check: (f) => {
          assert.equal(f.severity, 'warning');
          assert.match(f.message, /group 20000/);
          assert.match(because(f), /\/etc\/group:6 bar:x:20000:foo makes foo a member of 20000/);
          assert.match(f.fix, /supplementalGroups/);
        },
      },
      { name: '--user foo:foo turns memberships off', input: { image: deb(), run: { user: 'foo:foo' } }, check: (f) => assert.match(f.fix, /drop the ":group" part/) },
      {
        name: 'kaniko RUN drops the group part of USER foo:bar',
        input: { image: deb({ ...DEBIAN_CONFIG, User: 'foo:bar' }), profile: 'kaniko' },
        check: (f) => {
          assert.match(f.message, /gid 10000 and groups \[10000, 20000\], where BuildKit runs the same step with gid 20000 and groups \[20000\]/);
          assert.match(because(f), /kaniko RUN passes only "foo"/);
        },
      },
    ],
    negative: [
      { name: '--user foo (Merge semantics)', input: { image: deb(), run: { user: 'foo' } } },
      { name: 'kubernetes Merge', input: { image: deb({ ...DEBIAN_CONFIG, User: 'foo' }), profile: 'kubernetes', pod: { runAsUser: 10000 } } },
      { name: 'kaniko with USER foo agrees with BuildKit', input: { image: deb({ ...DEBIAN_CONFIG, User: 'foo' }), profile: 'kaniko' } },
      { name: 'podman root without the primary gid in setgroups: gid 0 still applies', input: { image: deb(), profile: 'podman' } },
      { name: 'a uid without a passwd entry has no image memberships to lose', input: { image: deb(), profile: 'podman-rootless', run: { userns: 'keep-id' }, host: host1001 } },
    ],
  },
  RESTRICTED_V2_VIOLATION: {
    positive: [
      { name: 'openshift pod adds NET_RAW', input: { image: deb(), profile: 'openshift', pod: { capabilities: { add: ['NET_RAW'] } } }, check: (f) => assert.match(f.message, /CAP_NET_RAW/) },
      { name: 'openshift pod allows privilege escalation', input: { image: deb(), profile: 'openshift', pod: { allowPrivilegeEscalation: true } }, check: (f) => assert.equal(f.subject, 'allowPrivilegeEscalation') },
    ],
    negative: [
      { name: 'openshift adds NET_BIND_SERVICE', input: { image: deb(), profile: 'openshift', pod: { capabilities: { add: ['NET_BIND_SERVICE'] } } } },
      { name: 'kubernetes (no SCC) adds NET_RAW', input: { image: deb(), profile: 'kubernetes', pod: { capabilities: { add: ['NET_RAW'] } } } },
    ],
  },
  WORKDIR_MISSING: {
    positive: [
      {
        name: 'docker creates a missing WORKDIR as root: foo cannot write in it',
        input: { image: deb({ ...DEBIAN_CONFIG, WorkingDir: '/app' }), profile: 'docker', run: { user: 'foo' } },
        check: (f) => {
          assert.equal(f.severity, 'warning');
          assert.match(because(f), /mode 0755 owned by 0:0/);
          assert.match(f.message, /uid 10000 cannot create files in it/);
        },
      },
      { name: 'podman refuses a --workdir that does not exist', input: { image: deb(), profile: 'podman', run: { workdir: '/nope' } }, check: (f) => assert.equal(f.severity, 'error') },
      { name: 'root can use a created WORKDIR: info', input: { image: deb({ ...DEBIAN_CONFIG, WorkingDir: '/app' }) }, check: (f) => assert.equal(f.severity, 'info') },
      { name: 'a WORKDIR that is a file', input: { image: deb({ ...DEBIAN_CONFIG, WorkingDir: '/bin/sh' }) }, check: (f) => assert.match(f.message, /not a directory/) },
    ],
    negative: [{ name: 'an existing WORKDIR', input: { image: deb({ ...DEBIAN_CONFIG, WorkingDir: '/home/foo' }), run: { user: 'foo' } } }],
  },
  WORKDIR_NOT_ACCESSIBLE: {
    positive: [
      {
        name: 'uid 1000 and a 0700 WORKDIR owned by 65532',
        input: { image: deb({ ...DEBIAN_CONFIG, WorkingDir: '/home/nonroot' }), run: { user: '1000' } },
        check: (f) => {
          assert.match(f.message, /the container still starts there, but relative file operations fail with EACCES/);
          assert.match(f.fix, /chmod o\+x \/home\/nonroot/);
        },
      },
      {
        name: 'an ancestor denies search: relative operations still work',
        input: {
          image: image(debianFiles([{ path: 'srv/', type: 'dir', mode: 0o700 }, { path: 'srv/app/', type: 'dir', mode: 0o777 }]), { ...DEBIAN_CONFIG, WorkingDir: '/srv/app' }),
          run: { user: 'foo' },
        },
        check: (f) => assert.match(because(f), /the denial is at \/srv, above the working directory/),
      },
      {
        name: 'kaniko changes directory after switching user: the step fails',
        input: { image: deb({ ...DEBIAN_CONFIG, User: 'foo', WorkingDir: '/home/nonroot' }), profile: 'kaniko' },
        check: (f) => assert.match(f.message, /chdir \/home\/nonroot: permission denied/),
      },
    ],
    negative: [
      { name: 'the owner 65532', input: { image: deb({ ...DEBIAN_CONFIG, WorkingDir: '/home/nonroot' }), run: { user: '65532' } } },
      { name: 'root with CAP_DAC_OVERRIDE', input: { image: deb({ ...DEBIAN_CONFIG, WorkingDir: '/home/nonroot' }) } },
    ],
  },
  HOME_NOT_WRITABLE: {
    positive: [
      { name: 'a uid with no passwd entry gets HOME=/', input: { image: deb(), run: { user: '1000' } }, check: (f) => assert.equal(f.subject, '/') },
      { name: 'nobody\'s /nonexistent', input: { image: deb(), run: { user: 'nobody' } }, check: (f) => assert.match(f.message, /does not exist/) },
    ],
    negative: [
      { name: 'foo owns /home/foo', input: { image: deb(), run: { user: 'foo' } } },
      { name: 'HOME from the image environment', input: { image: deb({ ...DEBIAN_CONFIG, Env: ['HOME=/tmp'] }), run: { user: '1000' } } },
    ],
  },
  NO_COMMAND: {
    positive: [{ name: 'no ENTRYPOINT, no CMD, no command', input: { image: deb({}) } }],
    negative: [{ name: 'a CMD', input: { image: deb() } }],
  },
  ENTRYPOINT_NOT_FOUND: {
    positive: [
      { name: 'a name not in PATH', input: { image: withCmd(['nosuchprog']) }, check: (f) => assert.match(f.message, /executable file not found in \$PATH/) },
      { name: 'an absolute path that does not exist', input: { image: withCmd(['/opt/app']) }, check: (f) => assert.match(because(f), /no entry "opt"/) },
      { name: 'a dangling symlink', input: { image: withCmd(['/bin/dangling'], [{ path: 'bin/dangling', type: 'symlink', linkname: '/nowhere' }]) } },
    ],
    negative: [{ name: 'ls through PATH', input: { image: withCmd(['ls']) } }],
  },
  ENTRYPOINT_NOT_EXECUTABLE: {
    positive: [
      { name: 'mode 0644', input: { image: withCmd(['/bin/run.sh'], [{ path: 'bin/run.sh', mode: 0o644 }]), run: { user: 'foo' } }, check: (f) => assert.match(f.message, /permission denied/) },
      {
        name: 'found in PATH but not executable for the user',
        input: { image: withCmd(['tool'], [{ path: 'usr/bin/tool', mode: 0o700 }]), run: { user: 'foo' } },
        check: (f) => assert.match(because(f), /LookPath/),
      },
    ],
    negative: [
      { name: 'mode 0755', input: { image: withCmd(['/bin/run.sh'], [{ path: 'bin/run.sh', mode: 0o755 }]), run: { user: 'foo' } } },
      { name: 'root executes a 0700 file it does not own (CAP_DAC_OVERRIDE, x bit set)', input: { image: withCmd(['/bin/tool'], [{ path: 'bin/tool', mode: 0o700, uid: 5 }]) } },
    ],
  },
  EXEC_FILE_CAPS_NOT_IN_BOUNDING: {
    positive: [
      {
        name: 'ping as the entrypoint with --cap-drop NET_RAW',
        input: { image: withCmd(['ping']), run: { user: '1000', capDrop: ['NET_RAW'] } },
        check: (f, r) => {
          assert.equal(f.severity, 'error');
          assert.equal(r.exec.outcome, 'EPERM');
          assert.match(because(f), /cap_net_raw=ep/);
          assert.match(because(f), /execve fails with EPERM/);
        },
      },
      { name: 'root is refused too', input: { image: withCmd(['ping']), run: { capDrop: ['NET_RAW'] } }, check: (_f, r) => assert.equal(r.exec.outcome, 'EPERM') },
      {
        name: 'podman\'s default set has no NET_RAW: ping fails later',
        input: { image: deb(), profile: 'podman', run: { user: 'foo' } },
        check: (f, r) => {
          assert.equal(f.severity, 'warning');
          assert.equal(f.subject, '/usr/bin/ping');
          assert.equal(r.exec.outcome, 'ok');
        },
      },
    ],
    negative: [
      { name: 'docker default set has NET_RAW', input: { image: withCmd(['ping']), profile: 'docker', run: { user: '1000' } } },
      { name: 'kubernetes adds NET_RAW', input: { image: deb(), profile: 'kubernetes', pod: { capabilities: { add: ['NET_RAW'] } } } },
    ],
  },
  EXEC_FILE_CAPS_IGNORED_NO_NEW_PRIVS: {
    positive: [
      {
        name: 'ping as uid 1000 with no-new-privileges',
        input: { image: withCmd(['ping']), run: { user: '1000', noNewPrivileges: true } },
        check: (f, r) => {
          assert.equal(f.severity, 'warning');
          assert.equal(r.exec.outcome, 'ok');
          assert.deepEqual(r.exec.capabilities.effective, []);
          assert.match(f.message, /CAP_NET_RAW/);
        },
      },
      { name: 'kubernetes allowPrivilegeEscalation: false, ping not the entrypoint', input: { image: deb(), profile: 'kubernetes', cri: 'containerd', pod: { runAsUser: 1000, allowPrivilegeEscalation: false } }, check: (f) => assert.equal(f.severity, 'info') },
    ],
    negative: [
      { name: 'without no-new-privileges', input: { image: withCmd(['ping']), run: { user: '1000' } } },
      { name: 'root loses nothing: its permitted set already holds NET_RAW', input: { image: withCmd(['ping']), run: { noNewPrivileges: true } } },
    ],
  },
  EXEC_SETUID_IGNORED_NO_NEW_PRIVS: {
    positive: [
      { name: 'setuid passwd as uid 1000 with no-new-privileges', input: { image: withCmd(['/usr/bin/passwd']), run: { user: '1000', noNewPrivileges: true } }, check: (f) => assert.match(f.message, /runs as uid 1000/) },
    ],
    negative: [{ name: 'without no-new-privileges', input: { image: withCmd(['/usr/bin/passwd']), run: { user: '1000' } } }],
  },
  EXEC_FILE_CAPS_FOREIGN_ROOTID: {
    positive: [
      {
        name: 'a v3 capability for rootid 1001 under docker',
        input: { image: image(debianFiles().map((f) => (f.path === 'usr/bin/ping' ? { ...f, cap: CAP_NET_RAW_EP_V3_1001 } : f)), { Cmd: ['/usr/bin/ping'] }), profile: 'docker', run: { user: '1000' } },
        check: (f, r) => {
          assert.match(f.message, /rootid 1001/);
          assert.deepEqual(r.exec.capabilities.effective, []);
        },
      },
    ],
    negative: [
      {
        name: 'berth stores v3 values as v2 when it unpacks',
        input: { image: image(debianFiles().map((f) => (f.path === 'usr/bin/ping' ? { ...f, cap: CAP_NET_RAW_EP_V3_1001 } : f)), { Cmd: ['/usr/bin/ping'] }), run: { user: '1000' } },
        check: (_f, r) => assert.deepEqual(r.exec.capabilities.effective, ['CAP_NET_RAW']),
      },
    ],
  },
  EXEC_FILE_CAPS_INVALID: {
    positive: [
      {
        name: 'a 4-byte security.capability',
        input: { image: image(debianFiles().map((f) => (f.path === 'usr/bin/ping' ? { ...f, cap: '01000002' } : f)), { Cmd: ['/usr/bin/ping'] }) },
        check: (f, r) => {
          assert.equal(r.exec.outcome, 'EINVAL');
          assert.equal(f.severity, 'error');
        },
      },
    ],
    negative: [{ name: 'a valid value', input: { image: withCmd(['/usr/bin/ping']) } }],
  },
  FILE_CAPS_LOST: {
    positive: [
      {
        name: 'ping without its capability under podman (ping_group_range 0 0), as foo',
        input: { image: image(debianFiles().map((f) => (f.path === 'usr/bin/ping' ? { ...f, cap: undefined } : f)), DEBIAN_CONFIG), profile: 'podman', run: { user: 'foo' } },
        check: (f) => {
          assert.equal(f.severity, 'warning');
          assert.match(because(f), /no security\.capability and no setuid bit/);
          assert.match(because(f), /"0 0"/);
        },
      },
      {
        name: 'under Docker ping works over ICMP datagram sockets: info',
        input: { image: image(debianFiles().map((f) => (f.path === 'usr/bin/ping' ? { ...f, cap: undefined } : f)), DEBIAN_CONFIG), profile: 'docker', run: { user: 'foo' } },
        check: (f) => assert.equal(f.severity, 'info'),
      },
      { name: 'arping needs a raw socket', input: { image: deb(DEBIAN_CONFIG, [{ path: 'usr/sbin/', type: 'dir' }, { path: 'usr/sbin/arping', mode: 0o755 }]), run: { user: 'foo' } }, check: (f) => assert.equal(f.subject, '/usr/sbin/arping') },
    ],
    negative: [
      { name: 'ping with its capability', input: { image: deb(), run: { user: 'foo' } } },
      { name: 'root does not need it', input: { image: image(debianFiles().map((f) => (f.path === 'usr/bin/ping' ? { ...f, cap: undefined } : f)), DEBIAN_CONFIG) } },
      { name: 'a busybox applet symlink is not a lost capability', input: { image: deb(DEBIAN_CONFIG, [{ path: 'bin/busybox', mode: 0o755 }, { path: 'bin/ping6', type: 'symlink', linkname: 'busybox' }]), run: { user: 'foo' } } },
    ],
  },
  SETUID_FILES: {
    positive: [{ name: 'setuid passwd', input: { image: deb() }, check: (f) => assert.match(because(f), /\/usr\/bin\/passwd: mode 4755 owned by 0:0 \(setuid root\)/) }],
    negative: [{ name: 'no set-ID files', input: { image: image(noSetid(debianFiles()), DEBIAN_CONFIG) } }],
  },
  PROCESS_ID_NOT_MAPPED: {
    positive: [
      {
        name: 'rootless --user 70000 above the namespace (0 -> user, 1..65536 -> subordinate IDs)',
        input: { image: deb(), run: { user: '70000' }, host: host1001 },
        check: (f, r) => {
          assert.equal(f.severity, 'error');
          assert.equal(f.subject, 'uid 70000');
          assert.match(because(f), /maps uids 0 -> 1001, 1\.\.65536 -> 100000\.\.165535/);
          assert.match(because(f), /the process uid 70000 is not mapped/);
          assert.match(f.fix, /a uid below 65537/);
          assert.match(f.fix, /subordinate IDs/);
          assert.equal(r.exec.reached, false);
          assert.match(r.provenance.exec ?? '', /PROCESS_ID_NOT_MAPPED/);
        },
      },
      {
        name: 'rootless --user 1000:1000680000: the gid only',
        input: { image: deb(), run: { user: '1000:1000680000' }, host: host1001 },
        check: (f) => {
          assert.equal(f.subject, 'gid 1000680000');
          assert.match(because(f), /the process gid 1000680000 is not mapped/);
        },
      },
      {
        name: 'rootless --group-add 70000: a supplementary gid',
        input: { image: deb(), run: { user: 'foo', groupAdd: ['70000'] }, host: host1001 },
        check: (f) => {
          assert.equal(f.subject, 'gid 70000');
          assert.match(because(f), /the process additional gid 70000 is not mapped/);
        },
      },
      {
        name: '--subuid-range with 1000 IDs (container IDs 0..1000) and --user 1001:1001',
        input: { image: deb(), run: { user: '1001:1001', subuidRange: { start: 100000, count: 1000 } } },
        check: (f) => assert.equal(f.subject, 'uid 1001, gid 1001'),
      },
    ],
    negative: [
      { name: 'rootless --user 65536: the last mapped uid', input: { image: deb(), run: { user: '65536:65536' }, host: host1001 }, check: (_f, r) => assert.equal(r.exec.reached, true) },
      { name: 'rootful berth --user 70000: no user namespace', input: { image: deb(), run: { user: '70000' } }, check: (_f, r) => assert.equal(r.exec.reached, true) },
    ],
  },
  CAP_NOT_IN_HOST_BOUNDING: {
    positive: [
      {
        name: 'rootful --cap-add SYS_RESOURCE, berth\'s bounding set lacks it',
        input: { image: deb(), run: { capAdd: ['SYS_RESOURCE'] }, host: rootNoSysResource },
        check: (f, r) => {
          assert.equal(f.severity, 'error');
          assert.equal(f.subject, 'CAP_SYS_RESOURCE');
          assert.match(because(f), /lacks CAP_SYS_RESOURCE/);
          assert.match(f.fix, /leave out --cap-add CAP_SYS_RESOURCE/);
          assert.equal(r.exec.reached, false);
        },
      },
      { name: 'rootful --cap-add ALL --cap-add sys_resource', input: { image: deb(), run: { capAdd: ['ALL', 'sys_resource'] }, host: rootNoSysResource } },
    ],
    negative: [
      {
        name: 'rootful --cap-add ALL: every capability berth holds',
        input: { image: deb(), run: { capAdd: ['ALL'] }, host: rootNoSysResource },
        check: (_f, r) => {
          assert.ok(!r.process.capabilities.bounding.includes('CAP_SYS_RESOURCE'));
          assert.ok(r.process.capabilities.bounding.includes('CAP_SYS_ADMIN'));
          assert.equal(r.exec.reached, true);
          assert.match(r.provenance['process.capabilities'] ?? '', /lacks CAP_SYS_RESOURCE/);
        },
      },
      {
        name: 'rootless --cap-add SYS_RESOURCE: the user namespace has a full bounding set',
        input: { image: deb(), run: { capAdd: ['SYS_RESOURCE'] }, host: { ...host1001, bounding: NO_SYS_RESOURCE } },
        check: (_f, r) => assert.ok(r.process.capabilities.bounding.includes('CAP_SYS_RESOURCE')),
      },
      { name: 'rootful --cap-add NET_ADMIN, which it holds', input: { image: deb(), run: { capAdd: ['NET_ADMIN'] }, host: rootNoSysResource } },
      {
        name: 'docker profile: berth\'s own bounding set is not applied',
        input: { image: deb(), profile: 'docker', run: { capAdd: ['SYS_RESOURCE'] }, host: rootNoSysResource },
        check: (_f, r) => assert.ok(r.process.capabilities.bounding.includes('CAP_SYS_RESOURCE')),
      },
    ],
  },
  IDS_OUTSIDE_MAPPING: {
    positive: [
      {
        name: 'rootless podman with 5000 subordinate IDs and files owned by 10000 and 65532',
        input: { image: deb(), profile: 'podman-rootless', run: { subuidRange: { start: 100000, count: 5000 } } },
        check: (f) => {
          assert.equal(f.severity, 'error');
          assert.match(f.subject, /uids 10000, 65532/);
          assert.match(because(f), /uid 65532 owns \/home\/nonroot/);
          assert.match(because(f), /potentially insufficient UIDs or GIDs/);
          assert.match(f.fix, /--add-subuids 100000-165531/);
        },
      },
      { name: 'berth as a rootless user of this host', input: { image: deb(), host: { ...host1001, subuids: [{ start: 200000, count: 1000 }], subgids: [{ start: 200000, count: 1000 }] } } },
    ],
    negative: [
      { name: 'rootless podman with 65536 subordinate IDs', input: { image: deb(), profile: 'podman-rootless', run: { subuidRange: { start: 100000, count: 65536 } } } },
      { name: 'rootful berth: no user namespace', input: { image: deb() } },
    ],
  },
};

describe('finding rules', () => {
  test('the table covers every code with positive and negative cases', () => {
    assert.deepEqual(Object.keys(TABLE).sort(), [...FINDING_CODES]);
    for (const [code, t] of Object.entries(TABLE)) {
      assert.ok(t.positive.length > 0 && t.negative.length > 0, code);
    }
  });

  for (const [code, t] of Object.entries(TABLE)) {
    describe(code, () => {
      for (const c of t.positive) {
        test(`reports: ${c.name}`, () => {
          const r = explain(c.input);
          const f = r.findings.find((x) => x.code === code);
          assert.ok(f, `expected ${code}, got ${r.findings.map((x) => x.code).join(', ') || 'nothing'}`);
          assert.ok(f.because.length > 0 && f.fix.length > 0 && f.message.length > 0);
          c.check?.(f, r);
        });
      }
      for (const c of t.negative) {
        test(`does not report: ${c.name}`, () => {
          const r = explain(c.input);
          const f = r.findings.find((x) => x.code === code);
          assert.equal(f, undefined, f && `${f.subject}: ${f.message}`);
          c.check?.(f as unknown as Finding, r);
        });
      }
    });
  }
});

describe('finding invariants', () => {
  test('the ping image with every profile: each finding has a cause and a fix', () => {
    for (const profile of ['berth', 'docker', 'podman', 'podman-rootless', 'kubernetes', 'openshift', 'kaniko'] as const) {
      const r = explain({ image: deb({ ...DEBIAN_CONFIG, WorkingDir: '/home/nonroot' }, [{ path: 'usr/bin/ping6', mode: 0o755, cap: CAP_NET_RAW_EP }]), profile });
      for (const f of r.findings) {
        assert.ok(FINDING_CODES.includes(f.code), f.code);
        assert.ok(f.because.every((b) => b.length > 0), `${profile} ${f.code}`);
        assert.ok(f.fix.length > 0, `${profile} ${f.code}`);
      }
    }
  });
});
