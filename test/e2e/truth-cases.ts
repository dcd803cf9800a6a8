/**
 * The truth-check matrix: the images, the named cases (image, user spec, --group-add, capability
 * flags, working directory, no_new_privs), the probe every container runs, and the pure comparison
 * of `berth explain --json` predictions with what the probe saw. truth.test.ts does the I/O; this
 * file has none, so the parser and the comparison are tested on canned text as well.
 *
 * What is compared, for each case (docs/truth-check.md):
 * - whether the container starts at all (explain: the user resolves, args[0] can be executed, and no
 *   error finding stops it; run: berth exits 0 and the probe printed its first marker);
 * - the shell's /proc/self/status: Uid and Gid (all four fields), Groups, CapEff and CapPrm (the
 *   prediction after the shell's own execve: `exec.capabilities`), CapBnd, CapInh, CapAmb (the
 *   process sets) and NoNewPrivs;
 * - `pwd` and `$HOME`;
 * - the exec of /probe/cat, a symlink to /usr/bin/ping (busybox with cap_net_raw=ep, so busybox
 *   runs its `cat` applet with the file's capabilities): ok or the errno, and when ok the CapEff and
 *   CapPrm the program got, against the `exec` part of a second explain whose command is that
 *   program.
 */
import { capSetFromMask, capSetFromNames, capSetToNames } from '../../src/caps/index.js';
import type { ExecOutcome, ExplainReport } from '../../src/explain/index.js';

/** The capability probe: its basename picks busybox's `cat` applet; its target carries the file capability. */
export const PROBE = '/probe/cat';
/** Where PROBE points: the fixture's ping, a copy of busybox with cap_net_raw=ep. */
export const PROBE_TARGET = '/usr/bin/ping';

/**
 * The shell script the container runs. Markers start with `@` on their own line so that a probe
 * failure (its message on stderr, folded into stdout) cannot be mistaken for a field. It always
 * exits 0 once it started, so a non-zero exit means the container did not start.
 */
export const PROBE_SCRIPT = [
  'echo @status',
  'cat /proc/self/status',
  'echo @cwd',
  'pwd',
  'echo "@home $HOME"',
  'echo @probe',
  `${PROBE} /proc/self/status 2>&1`,
  'echo "@probe-rc $?"',
  'exit 0',
].join('; ');

/** The container command for every case (words after IMAGE). */
export const PROBE_COMMAND: readonly string[] = ['sh', '-c', PROBE_SCRIPT];
/** The command of the second explain: predicts the exec of the capability probe. */
export const PROBE_EXEC_COMMAND: readonly string[] = [PROBE, '/proc/self/status'];

/** Images made from the busybox fixture (plus PROBE) with `berth import --change`. */
export const IMAGES: Readonly<Record<string, readonly string[]>> = {
  'truth/plain:1': ['CMD ["/bin/sh"]'],
  'truth/user-foo:1': ['USER foo', 'WORKDIR /home/foo', 'CMD ["/bin/sh"]'],
  'truth/user-65532:1': ['USER 65532', 'WORKDIR /home/nonroot', 'CMD ["/bin/sh"]'],
  'truth/user-foo-bar:1': ['USER foo:bar', 'CMD ["/bin/sh"]'],
  'truth/workdir-missing:1': ['USER nonroot', 'WORKDIR /srv/app', 'CMD ["/bin/sh"]'],
  'truth/user-unknown:1': ['USER 4242:4242', 'WORKDIR /tmp', 'CMD ["/bin/sh"]'],
};

export type Mode = 'rootful' | 'rootless';

export interface TruthCase {
  /** Unique; the test name is `<mode>: <name>`. */
  name: string;
  /** A key of IMAGES. */
  image: string;
  /** berth options before IMAGE, the same for explain and run. */
  flags: readonly string[];
  /** Default: both. */
  modes?: readonly Mode[];
  /**
   * Modes in which prediction and reality are known to disagree, with the cause: the case runs and
   * is reported as a to-do (it does not fail the suite) until the cause is fixed.
   */
  knownGap?: Partial<Record<Mode, string>>;
}


const P = 'truth/plain:1';

/**
 * The matrix. Each row runs in both modes: rootful as root, rootless as the unprivileged test user
 * whose subordinate IDs give the namespace 0 -> the user, 1..65536 -> 200000..265535.
 */
export const CASES: readonly TruthCase[] = [
  // User specs (identity.md: moby/sys GetExecUser rules; berth adds the primary gid to the groups).
  { name: 'no USER: root, with wheel from /etc/group', image: P, flags: [] },
  { name: '-u root', image: P, flags: ['-u', 'root'] },
  { name: '-u foo: bar from /etc/group', image: P, flags: ['-u', 'foo'] },
  { name: "-u 10000: the uid's passwd name brings bar", image: P, flags: ['-u', '10000'] },
  { name: '-u foo:foo: an explicit group leaves out bar', image: P, flags: ['-u', 'foo:foo'] },
  { name: '-u foo:bar', image: P, flags: ['-u', 'foo:bar'] },
  { name: '-u 10000:20000', image: P, flags: ['-u', '10000:20000'] },
  { name: '-u 0:20000: root with another primary group', image: P, flags: ['-u', '0:20000'] },
  { name: '-u nonroot', image: P, flags: ['-u', 'nonroot'] },
  { name: '-u 65532:65532', image: P, flags: ['-u', '65532:65532'] },
  { name: '-u nobody', image: P, flags: ['-u', 'nobody'] },
  { name: '-u 4242: a uid without a passwd line gets gid 0', image: P, flags: ['-u', '4242'] },
  { name: '-u 4242:4242: neither in passwd nor group', image: P, flags: ['-u', '4242:4242'] },
  { name: '-u 70000: above the rootless namespace', image: P, flags: ['-u', '70000'] },
  { name: '-u 1000680000:0 -w /home/nonroot: OpenShift-style uid in a 0700 directory', image: P, flags: ['-u', '1000680000:0', '-w', '/home/nonroot'] },
  { name: '-u nosuch: unknown user name, no start', image: P, flags: ['-u', 'nosuch'] },
  { name: '-u foo:nosuch: unknown group name, no start', image: P, flags: ['-u', 'foo:nosuch'] },
  // --group-add
  { name: '--group-add bar as root', image: P, flags: ['--group-add', 'bar'] },
  { name: '-u foo --group-add wheel', image: P, flags: ['-u', 'foo', '--group-add', 'wheel'] },
  { name: '-u foo:foo --group-add bar', image: P, flags: ['-u', 'foo:foo', '--group-add', 'bar'] },
  { name: '-u nonroot --group-add 4242 --group-add bar', image: P, flags: ['-u', 'nonroot', '--group-add', '4242', '--group-add', 'bar'] },
  { name: '--group-add nosuch: unknown group, no start', image: P, flags: ['--group-add', 'nosuch'] },
  // Capabilities (Docker's 14 by default; only uid 0 has them effective; file caps need the bounding set).
  { name: '--cap-drop NET_RAW: the cap_net_raw=ep program fails with EPERM, as root', image: P, flags: ['--cap-drop', 'NET_RAW'] },
  { name: '-u foo --cap-drop NET_RAW: EPERM', image: P, flags: ['-u', 'foo', '--cap-drop', 'NET_RAW'] },
  { name: '--cap-drop ALL as root', image: P, flags: ['--cap-drop', 'ALL'] },
  { name: '-u foo --cap-drop ALL --cap-add NET_RAW: only the file capability after exec', image: P, flags: ['-u', 'foo', '--cap-drop', 'ALL', '--cap-add', 'NET_RAW'] },
  { name: '--cap-add ALL as root', image: P, flags: ['--cap-add', 'ALL'] },
  { name: '-u foo --cap-add ALL: bounding only', image: P, flags: ['-u', 'foo', '--cap-add', 'ALL'] },
  { name: '--cap-add SYS_ADMIN --cap-drop CHOWN', image: P, flags: ['--cap-add', 'SYS_ADMIN', '--cap-drop', 'CHOWN'] },
  { name: '-u foo --cap-add NET_ADMIN', image: P, flags: ['-u', 'foo', '--cap-add', 'NET_ADMIN'] },
  { name: '--cap-add NET_RAW --cap-drop NET_RAW: added and dropped stays', image: P, flags: ['--cap-add', 'NET_RAW', '--cap-drop', 'NET_RAW'] },
  { name: '--cap-add SYS_RESOURCE', image: P, flags: ['--cap-add', 'SYS_RESOURCE'] },
  // no_new_privs
  { name: '--security-opt no-new-privileges as root', image: P, flags: ['--security-opt', 'no-new-privileges'] },
  { name: '-u foo --security-opt no-new-privileges: file capability not granted', image: P, flags: ['-u', 'foo', '--security-opt', 'no-new-privileges'] },
  { name: '-u foo no-new-privileges --cap-drop NET_RAW: still EPERM', image: P, flags: ['-u', 'foo', '--security-opt', 'no-new-privileges', '--cap-drop', 'NET_RAW'] },
  // Working directory (runc creates a missing one 0755 as container root; changes into it before switching user).
  { name: '-u foo -w /tmp', image: P, flags: ['-u', 'foo', '-w', '/tmp'] },
  { name: '-w /srv/new: created', image: P, flags: ['-w', '/srv/new'] },
  { name: '-u foo -w /srv/new: created as root', image: P, flags: ['-u', 'foo', '-w', '/srv/new'] },
  { name: '-u foo -w /home/nonroot: starts in a directory it cannot search', image: P, flags: ['-u', 'foo', '-w', '/home/nonroot'] },
  { name: '-u foo -w /home/foo', image: P, flags: ['-u', 'foo', '-w', '/home/foo'] },
  // Images with USER and WORKDIR.
  { name: 'USER foo, WORKDIR /home/foo', image: 'truth/user-foo:1', flags: [] },
  { name: 'USER foo image with -u 0', image: 'truth/user-foo:1', flags: ['-u', '0'] },
  { name: 'USER foo image with --group-add wheel --cap-drop NET_RAW', image: 'truth/user-foo:1', flags: ['--group-add', 'wheel', '--cap-drop', 'NET_RAW'] },
  { name: 'USER 65532, WORKDIR /home/nonroot (0700, its own)', image: 'truth/user-65532:1', flags: [] },
  { name: 'USER 65532 image with -u foo: WORKDIR not searchable', image: 'truth/user-65532:1', flags: ['-u', 'foo'] },
  { name: 'USER 65532 image with -u 1000680000:0', image: 'truth/user-65532:1', flags: ['-u', '1000680000:0'] },
  { name: 'USER foo:bar', image: 'truth/user-foo-bar:1', flags: [] },
  { name: 'USER nonroot, WORKDIR /srv/app missing', image: 'truth/workdir-missing:1', flags: [] },
  { name: 'USER 4242:4242, WORKDIR /tmp', image: 'truth/user-unknown:1', flags: [] },
  { name: 'USER 4242:4242 image with --group-add bar --security-opt no-new-privileges', image: 'truth/user-unknown:1', flags: ['--group-add', 'bar', '--security-opt', 'no-new-privileges'] },
];

// ---------------------------------------------------------------------------------------------
// Observation: what the probe printed.

export interface ProcStatus {
  /** real, effective, saved, filesystem */
  uid: number[];
  gid: number[];
  groups: number[];
  capInh: string;
  capPrm: string;
  capEff: string;
  capBnd: string;
  capAmb: string;
  noNewPrivs: boolean;
}

export type ProbeOutcome = ExecOutcome | 'unknown';

export interface Observation {
  /** berth's exit code. */
  exitCode: number | null;
  /** The probe printed its first marker: the container's process ran. */
  started: boolean;
  status?: ProcStatus;
  cwd?: string;
  home?: string;
  probe?: { outcome: ProbeOutcome; rc: number; message?: string; status?: ProcStatus };
}

/** Parses the lines of /proc/PID/status that matter here; undefined when one is missing. */
export function parseProcStatus(lines: readonly string[]): ProcStatus | undefined {
  const field = (name: string): string | undefined => {
    const line = lines.find((l) => l.startsWith(`${name}:`));
    return line === undefined ? undefined : line.slice(name.length + 1).trim();
  };
  const ids = (s: string | undefined) => (s === undefined ? undefined : s.split(/\s+/).filter(Boolean).map(Number));
  const uid = ids(field('Uid'));
  const gid = ids(field('Gid'));
  const groups = field('Groups');
  const capInh = field('CapInh');
  const capPrm = field('CapPrm');
  const capEff = field('CapEff');
  const capBnd = field('CapBnd');
  const capAmb = field('CapAmb');
  const nnp = field('NoNewPrivs');
  if (!uid || !gid || groups === undefined || !capInh || !capPrm || !capEff || !capBnd || !capAmb || nnp === undefined) return undefined;
  return {
    uid,
    gid,
    groups: (ids(groups) ?? []).sort((a, b) => a - b),
    capInh,
    capPrm,
    capEff,
    capBnd,
    capAmb,
    noNewPrivs: nnp === '1',
  };
}

/** The errno behind busybox ash's message for a failed exec ("sh: /probe/cat: Operation not permitted"). */
function outcomeOf(message: string): ProbeOutcome {
  if (/Operation not permitted/.test(message)) return 'EPERM';
  if (/Permission denied/.test(message)) return 'EACCES';
  if (/not found|No such file/.test(message)) return 'ENOENT';
  if (/Invalid argument/.test(message)) return 'EINVAL';
  return 'unknown';
}

/** Reads the probe's output (berth's stdout) into an Observation. */
export function parseProbeOutput(stdout: string, exitCode: number | null): Observation {
  const lines = stdout.split('\n');
  const at = (marker: string) => lines.findIndex((l) => l === marker || l.startsWith(`${marker} `));
  const iStatus = at('@status');
  if (iStatus === -1) return { exitCode, started: false };
  const iCwd = at('@cwd');
  const iHome = at('@home');
  const iProbe = at('@probe');
  const iRc = at('@probe-rc');
  const obs: Observation = { exitCode, started: true };
  const status = parseProcStatus(lines.slice(iStatus + 1, iCwd === -1 ? undefined : iCwd));
  if (status) obs.status = status;
  if (iCwd !== -1 && iCwd + 1 < lines.length) obs.cwd = lines[iCwd + 1];
  if (iHome !== -1) obs.home = lines[iHome].slice('@home '.length);
  if (iProbe !== -1 && iRc !== -1) {
    const rc = Number(lines[iRc].slice('@probe-rc '.length));
    const body = lines.slice(iProbe + 1, iRc);
    const probeStatus = parseProcStatus(body);
    if (rc === 0 && probeStatus) obs.probe = { outcome: 'ok', rc, status: probeStatus };
    else {
      const message = body.join('\n').trim();
      obs.probe = { outcome: outcomeOf(message), rc, message };
    }
  }
  return obs;
}

// ---------------------------------------------------------------------------------------------
// Prediction: what the two explain reports say.

/** Error findings that do not keep the container from starting (runc still starts in the directory). */
const STARTS_DESPITE = new Set(['WORKDIR_NOT_ACCESSIBLE', 'HOME_NOT_WRITABLE']);

export interface Prediction {
  starts: boolean;
  /** Why explain says it does not start (finding codes, or the exec outcome). */
  startBlockers: string[];
  uid?: number;
  gid?: number;
  groups?: number[];
  /** Capability names, sorted, after the shell's execve. */
  effective?: string[];
  permitted?: string[];
  bounding?: string[];
  inheritable?: string[];
  ambient?: string[];
  noNewPrivileges?: boolean;
  cwd?: string;
  home?: string;
  probe?: { outcome: ExecOutcome; effective: string[]; permitted: string[] };
}

/**
 * `shell` is explain's report for PROBE_COMMAND, `probe` its report for PROBE_EXEC_COMMAND with the
 * same options.
 */
export function predictionOf(shell: ExplainReport, probe: ExplainReport): Prediction {
  const blockers = shell.findings.filter((f) => f.severity === 'error' && !STARTS_DESPITE.has(f.code)).map((f) => `${f.code} ${f.subject}`);
  if (shell.process.user === null) blockers.push('process.user is null');
  if (!shell.exec.reached) blockers.push('exec not reached');
  if (shell.exec.outcome !== 'ok') blockers.push(`exec ${shell.exec.path ?? shell.process.args[0]}: ${shell.exec.outcome}`);
  const starts = blockers.length === 0;
  if (!starts || shell.process.user === null) return { starts, startBlockers: blockers };
  const u = shell.process.user;
  return {
    starts,
    startBlockers: [],
    uid: u.uid,
    gid: u.gid,
    groups: [...u.additionalGids].sort((a, b) => a - b),
    effective: shell.exec.capabilities.effective,
    permitted: shell.exec.capabilities.permitted,
    bounding: shell.process.capabilities.bounding,
    inheritable: shell.process.capabilities.inheritable,
    ambient: shell.process.capabilities.ambient,
    noNewPrivileges: shell.process.noNewPrivileges,
    cwd: shell.process.cwd,
    home: u.home,
    probe: { outcome: probe.exec.outcome, effective: probe.exec.capabilities.effective, permitted: probe.exec.capabilities.permitted },
  };
}

// ---------------------------------------------------------------------------------------------
// Comparison.

/** Names in the observed mask compared with the predicted names: "+CAP_X -CAP_Y" (extra, missing), or undefined when equal. */
function capDiff(predicted: readonly string[], observedMask: string): string | undefined {
  const want = capSetFromNames(predicted);
  const got = capSetFromMask(observedMask);
  if (want === got) return undefined;
  const extra = capSetToNames(got & ~want).map((n) => `+${n}`);
  const missing = capSetToNames(want & ~got).map((n) => `-${n}`);
  return `${[...extra, ...missing].join(' ')} (container ${observedMask})`;
}

/**
 * Every field where prediction and observation differ, one line each ("Groups: predicted [10000
 * 20000], container [10000]"). Empty = agreement.
 */
export function disagreements(p: Prediction, o: Observation): string[] {
  const out: string[] = [];
  if (p.starts !== o.started) {
    out.push(
      p.starts
        ? `start: predicted to start, but berth exited ${o.exitCode} before the probe ran`
        : `start: predicted not to start (${p.startBlockers.join('; ')}), but the probe ran`,
    );
    return out;
  }
  if (!p.starts) return out;
  const s = o.status;
  if (!s) return ['status: the probe printed no complete /proc/self/status'];
  const ids = (name: string, want: number | undefined, got: number[]) => {
    if (got.length !== 4 || got.some((x) => x !== want)) out.push(`${name}: predicted ${want} (x4), container ${got.join(' ')}`);
  };
  ids('Uid', p.uid, s.uid);
  ids('Gid', p.gid, s.gid);
  const wantGroups = p.groups ?? [];
  if (wantGroups.join(' ') !== s.groups.join(' ')) out.push(`Groups: predicted [${wantGroups.join(' ')}], container [${s.groups.join(' ')}]`);
  for (const [name, want, got] of [
    ['CapEff', p.effective, s.capEff],
    ['CapPrm', p.permitted, s.capPrm],
    ['CapBnd', p.bounding, s.capBnd],
    ['CapInh', p.inheritable, s.capInh],
    ['CapAmb', p.ambient, s.capAmb],
  ] as const) {
    const d = capDiff(want ?? [], got);
    if (d) out.push(`${name}: ${d}`);
  }
  if (p.noNewPrivileges !== s.noNewPrivs) out.push(`NoNewPrivs: predicted ${p.noNewPrivileges ? 1 : 0}, container ${s.noNewPrivs ? 1 : 0}`);
  if (p.cwd !== o.cwd) out.push(`cwd: predicted ${p.cwd}, container ${o.cwd ?? '(none printed)'}`);
  if (p.home !== o.home) out.push(`HOME: predicted ${p.home}, container ${o.home ?? '(none printed)'}`);
  const want = p.probe;
  const got = o.probe;
  if (want && !got) out.push('exec: the probe did not report');
  if (want && got) {
    if (want.outcome !== got.outcome) {
      out.push(`exec ${PROBE}: predicted ${want.outcome}, container ${got.outcome}${got.message ? ` (${got.message.split('\n')[0]})` : ''}`);
    } else if (want.outcome === 'ok' && got.status) {
      const e = capDiff(want.effective, got.status.capEff);
      if (e) out.push(`exec ${PROBE} CapEff: ${e}`);
      const pr = capDiff(want.permitted, got.status.capPrm);
      if (pr) out.push(`exec ${PROBE} CapPrm: ${pr}`);
    }
  }
  return out;
}
