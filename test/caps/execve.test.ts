import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_CAPS,
  capSetToNames,
  caps,
  defaultCaps,
  execveTransform,
  parseFileCapsText,
  processCapsFor,
  type CapEngine,
  type CapSet,
  type ExecFile,
  type ExecProcess,
  type ExecRule,
} from '../../src/caps/index.js';
import { isBerthError } from '../../src/errors/index.js';

const DOCKER = defaultCaps('docker');
const NO_NET_RAW = DOCKER & ~caps('NET_RAW');

/** The process a runtime starts, as processCapsFor describes it, about to exec the entrypoint. */
function started(
  uid: number,
  opts: { engine?: CapEngine; bounding?: CapSet; capAdd?: CapSet; nnp?: boolean; euid?: number } = {},
): ExecProcess {
  const { because: _because, ...sets } = processCapsFor({
    uid,
    bounding: opts.bounding ?? DOCKER,
    engine: opts.engine ?? 'docker',
    capAdd: opts.capAdd,
  });
  const e = opts.euid ?? uid;
  return { ...sets, uid: { r: uid, e, s: e }, gid: { r: uid, e: uid, s: uid }, noNewPrivs: opts.nnp ?? false };
}

const ping = (extra: Partial<ExecFile> = {}): ExecFile => ({
  path: '/bin/ping',
  uid: 0,
  gid: 0,
  mode: 0o755,
  fileCaps: parseFileCapsText('cap_net_raw=ep'),
  ...extra,
});
const plain = (extra: Partial<ExecFile> = {}): ExecFile => ({ path: '/bin/app', uid: 0, gid: 0, mode: 0o755, ...extra });
const setuidRoot = (extra: Partial<ExecFile> = {}): ExecFile => ({ path: '/usr/bin/su', uid: 0, gid: 0, mode: 0o4755, ...extra });

interface Case {
  name: string;
  proc: ExecProcess;
  file: ExecFile;
  outcome: 'ok' | 'EPERM';
  effective?: CapSet;
  permitted?: CapSet;
  ambient?: CapSet;
  euid?: number;
  egid?: number;
  rules?: ExecRule[];
}

const N = (s: CapSet): string[] => capSetToNames(s);

describe('execveTransform: section 4.1 rules, one per case', () => {
  const cases: Case[] = [
    {
      name: '4.1 file caps: ping cap_net_raw=ep as uid 1000 with NET_RAW in bounding gets CAP_NET_RAW',
      proc: started(1000),
      file: ping(),
      outcome: 'ok',
      effective: caps('NET_RAW'),
      permitted: caps('NET_RAW'),
      euid: 1000,
      rules: ['fcaps', 'effective-from-permitted'],
    },
    {
      name: '4.1 capability-dumb: ping as uid 1000 without NET_RAW in bounding fails with EPERM (--cap-drop NET_RAW)',
      proc: started(1000, { bounding: NO_NET_RAW }),
      file: ping(),
      outcome: 'EPERM',
      rules: ['fcaps', 'capability-dumb'],
    },
    {
      name: '4.1 capability-dumb applies to root too (drop: [ALL])',
      proc: started(0, { bounding: 0n }),
      file: ping(),
      outcome: 'EPERM',
      effective: 0n,
      permitted: 0n,
      euid: 0,
    },
    {
      name: '4.1 capability-dumb needs the effective flag: cap_net_raw+p without NET_RAW in bounding execs, without it',
      proc: started(1000, { bounding: NO_NET_RAW }),
      file: ping({ fileCaps: parseFileCapsText('cap_net_raw+p') }),
      outcome: 'ok',
      effective: 0n,
      permitted: 0n,
    },
    {
      name: '4.1 no_new_privs: ping as uid 1000 under docker execs but gets no CAP_NET_RAW',
      proc: started(1000, { nnp: true }),
      file: ping(),
      outcome: 'ok',
      effective: 0n,
      permitted: 0n,
      rules: ['fcaps', 'nnp-downgrade', 'effective-from-permitted'],
    },
    {
      name: '4.1 no_new_privs only forbids gaining: under containerd uid 1000 already holds NET_RAW in P, so ping keeps it',
      proc: started(1000, { engine: 'containerd', nnp: true }),
      file: ping(),
      outcome: 'ok',
      effective: caps('NET_RAW'),
      permitted: caps('NET_RAW'),
    },
    {
      name: '4.1 no_new_privs does not avoid the capability-dumb EPERM',
      proc: started(1000, { bounding: NO_NET_RAW, nnp: true }),
      file: ping(),
      outcome: 'EPERM',
    },
    {
      name: '4.1 root magic: a setuid-root binary run by uid 1000 gets euid 0 and the whole bounding set',
      proc: started(1000),
      file: setuidRoot(),
      outcome: 'ok',
      effective: DOCKER,
      permitted: DOCKER,
      euid: 0,
      rules: ['fcaps-none', 'setuid', 'root-magic', 'root-effective'],
    },
    {
      name: '4.1 setuid-root binary WITH file caps run by non-root: only the file caps, no root magic',
      proc: started(1000),
      file: setuidRoot({ fileCaps: parseFileCapsText('cap_net_raw=ep') }),
      outcome: 'ok',
      effective: caps('NET_RAW'),
      permitted: caps('NET_RAW'),
      euid: 0,
      rules: ['fcaps', 'setuid', 'setuid-root-with-fcaps', 'effective-from-permitted'],
    },
    {
      name: '4.1 root runs a plain program: permitted = effective = bounding',
      proc: started(0),
      file: plain(),
      outcome: 'ok',
      effective: DOCKER,
      permitted: DOCKER,
      euid: 0,
    },
    {
      name: '4.1 root with file caps still gets the whole bounding set',
      proc: started(0),
      file: ping(),
      outcome: 'ok',
      effective: DOCKER,
      permitted: DOCKER,
    },
    {
      name: '4.1 real uid 0 with effective uid 1000: permitted = bounding but effective stays empty',
      proc: { ...started(0), effective: 0n, uid: { r: 0, e: 1000, s: 1000 } },
      file: plain(),
      outcome: 'ok',
      effective: 0n,
      permitted: DOCKER,
      euid: 1000,
    },
    {
      name: '4.1 non-root without file caps keeps only ambient: podman --cap-add NET_ADMIN for uid 1000',
      proc: started(1000, { engine: 'podman', bounding: defaultCaps('podman') | caps('NET_ADMIN'), capAdd: caps('NET_ADMIN') }),
      file: plain(),
      outcome: 'ok',
      effective: caps('NET_ADMIN'),
      permitted: caps('NET_ADMIN'),
      ambient: caps('NET_ADMIN'),
      rules: ['fcaps-none', 'ambient-kept', 'effective-from-ambient'],
    },
    {
      name: '4.1 non-root plain exec under docker: nothing at all',
      proc: started(1000),
      file: plain(),
      outcome: 'ok',
      effective: 0n,
      permitted: 0n,
      ambient: 0n,
    },
    {
      name: '4.1 ambient is cleared by a binary with file caps',
      proc: started(1000, { engine: 'podman', bounding: DOCKER | caps('NET_ADMIN'), capAdd: caps('NET_ADMIN') }),
      file: ping(),
      outcome: 'ok',
      effective: caps('NET_RAW'),
      permitted: caps('NET_RAW'),
      ambient: 0n,
      rules: ['fcaps', 'ambient-cleared', 'effective-from-permitted'],
    },
    {
      name: '4.1 ambient is cleared by a setuid binary',
      proc: started(1000, { engine: 'podman', bounding: DOCKER | caps('NET_ADMIN'), capAdd: caps('NET_ADMIN') }),
      file: setuidRoot(),
      outcome: 'ok',
      ambient: 0n,
      euid: 0,
      effective: DOCKER | caps('NET_ADMIN'),
    },
    {
      name: '4.1 ambient is cleared by a setgid binary too',
      proc: started(1000, { engine: 'podman', bounding: DOCKER | caps('NET_ADMIN'), capAdd: caps('NET_ADMIN') }),
      file: plain({ gid: 42, mode: 0o2755 }),
      outcome: 'ok',
      ambient: 0n,
      effective: 0n,
      permitted: 0n,
      euid: 1000,
      egid: 42,
      rules: ['fcaps-none', 'setgid', 'ambient-cleared'],
    },
    {
      name: '4.1 no_new_privs: the setuid bit is ignored (fs/exec.c bprm_fill_uid), so ambient survives',
      proc: started(1000, { engine: 'podman', bounding: DOCKER | caps('NET_ADMIN'), capAdd: caps('NET_ADMIN'), nnp: true }),
      file: setuidRoot(),
      outcome: 'ok',
      euid: 1000,
      effective: caps('NET_ADMIN'),
      permitted: caps('NET_ADMIN'),
      ambient: caps('NET_ADMIN'),
      rules: ['fcaps-none', 'setid-nnp', 'ambient-kept', 'effective-from-ambient'],
    },
    {
      name: '4.1 no_new_privs: a setuid-root binary gives nothing to uid 1000',
      proc: started(1000, { nnp: true }),
      file: setuidRoot(),
      outcome: 'ok',
      euid: 1000,
      effective: 0n,
      permitted: 0n,
    },
    {
      name: '4.1 no_new_privs: an effective uid that differs from the real uid returns to it',
      proc: { ...started(1000, { nnp: true }), uid: { r: 1000, e: 2000, s: 2000 } },
      file: plain(),
      outcome: 'ok',
      euid: 1000,
      rules: ['fcaps-none', 'nnp-downgrade'],
    },
    {
      name: '4.1 nosuid mount: file caps and the setuid bit are ignored',
      proc: started(1000),
      file: setuidRoot({ nosuid: true, fileCaps: parseFileCapsText('cap_net_raw=ep') }),
      outcome: 'ok',
      euid: 1000,
      effective: 0n,
      permitted: 0n,
      rules: ['nosuid'],
    },
    {
      name: '4.1 nosuid mount: no capability-dumb EPERM either (the caps are never read)',
      proc: started(1000, { bounding: NO_NET_RAW }),
      file: ping({ nosuid: true }),
      outcome: 'ok',
    },
    {
      name: '4.1 v3 rootid that does not own the namespace: caps ignored',
      proc: started(1000),
      file: ping({ fileCaps: parseFileCapsText('cap_net_raw=ep [rootid=1001]') }),
      outcome: 'ok',
      effective: 0n,
      permitted: 0n,
      rules: ['fcaps-rootid-foreign'],
    },
    {
      name: '4.1 v3 rootid that does not own the namespace: no capability-dumb EPERM (the kernel reports no xattr)',
      proc: started(1000, { bounding: NO_NET_RAW }),
      file: ping({ fileCaps: parseFileCapsText('cap_net_raw=ep [rootid=1001]') }),
      outcome: 'ok',
    },
    {
      name: '4.1 v3 rootid owning the namespace (userns root is host uid 1001): caps honoured',
      proc: started(1000),
      file: ping({ fileCaps: parseFileCapsText('cap_net_raw=ep [rootid=1001]'), rootidOwnsNs: true }),
      outcome: 'ok',
      effective: caps('NET_RAW'),
      permitted: caps('NET_RAW'),
    },
    {
      name: '4.1 v3 rootid 0 (host root owns every namespace) is honoured by default',
      proc: started(1000),
      file: ping({ fileCaps: { version: 3, effective: true, permitted: caps('NET_RAW'), inheritable: 0n, rootid: 0 } }),
      outcome: 'ok',
      effective: caps('NET_RAW'),
    },
    {
      name: '4.1 v1 file caps work at exec',
      proc: started(1000),
      file: ping({ fileCaps: { version: 1, effective: true, permitted: caps('NET_RAW'), inheritable: 0n } }),
      outcome: 'ok',
      effective: caps('NET_RAW'),
    },
    {
      name: '4.1 file caps without the effective flag: permitted only (a capability-aware program raises them itself)',
      proc: started(1000),
      file: ping({ fileCaps: parseFileCapsText('cap_net_raw+p') }),
      outcome: 'ok',
      effective: 0n,
      permitted: caps('NET_RAW'),
    },
    {
      name: '4.3 CVE-2022-24769: with inheritable empty, a file-inheritable cap grants nothing',
      proc: started(1000),
      file: plain({ fileCaps: parseFileCapsText('cap_sys_admin=ei') }),
      outcome: 'ok',
      effective: 0n,
      permitted: 0n,
    },
    {
      name: '4.3 CVE-2022-24769: the old runtimes that filled inheritable let fI grant it',
      proc: { ...started(1000), inheritable: DOCKER },
      file: plain({ fileCaps: parseFileCapsText('cap_chown=ei') }),
      outcome: 'ok',
      effective: caps('CHOWN'),
      permitted: caps('CHOWN'),
    },
    {
      name: '4.1 SECBIT_NOROOT: uid 0 gets nothing from exec',
      proc: { ...started(0), securebits: { noroot: true } },
      file: plain(),
      outcome: 'ok',
      effective: 0n,
      permitted: 0n,
      rules: ['fcaps-none', 'noroot'],
    },
    {
      name: 'bprm_fill_uid: setgid without group execute is a locking mark, not a gid change',
      proc: started(1000),
      file: plain({ gid: 42, mode: 0o2745 }),
      outcome: 'ok',
      egid: 1000,
      rules: ['fcaps-none', 'setgid-no-group-exec'],
    },
    {
      name: 'bprm_fill_uid: a setuid file whose owner is unmapped in the namespace does not change the uid',
      proc: started(1000),
      file: setuidRoot({ idsMappedInNs: false }),
      outcome: 'ok',
      euid: 1000,
      effective: 0n,
    },
    {
      name: 'get_vfs_caps_from_disk: file cap bits above CAP_LAST_CAP are masked, so they cause no EPERM',
      proc: started(1000),
      file: ping({ fileCaps: { version: 2, effective: true, permitted: caps('NET_RAW') | (1n << 50n), inheritable: 0n } }),
      outcome: 'ok',
      effective: caps('NET_RAW'),
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const r = execveTransform(c.proc, c.file);
      assert.equal(r.outcome, c.outcome, r.reason.join('\n'));
      assert.equal(r.reason.length, r.rules.length);
      if (c.effective !== undefined) assert.deepEqual(N(r.caps.effective), N(c.effective));
      if (c.permitted !== undefined) assert.deepEqual(N(r.caps.permitted), N(c.permitted));
      if (c.ambient !== undefined) assert.deepEqual(N(r.caps.ambient), N(c.ambient));
      if (c.euid !== undefined) assert.equal(r.euid, c.euid);
      if (c.egid !== undefined) assert.equal(r.egid, c.egid);
      if (c.rules !== undefined) assert.deepEqual(r.rules, c.rules);
      // Invariants of every result: inheritable and bounding never change; E within P; A within P and I.
      assert.equal(r.caps.inheritable, c.proc.inheritable);
      assert.equal(r.caps.bounding, c.proc.bounding);
      assert.equal(r.caps.effective & ~r.caps.permitted, 0n);
      assert.equal(r.caps.ambient & ~(r.caps.permitted & r.caps.inheritable), 0n);
      if (r.outcome === 'EPERM') {
        assert.equal(r.caps.effective, c.proc.effective);
        assert.equal(r.euid, c.proc.uid.e);
      } else {
        assert.equal(r.uid.s, r.euid);
      }
    });
  }

  test('the EPERM reason names the missing capability', () => {
    const r = execveTransform(started(1000, { bounding: NO_NET_RAW }), ping());
    assert.match(r.reason.at(-1) ?? '', /CAP_NET_RAW is not in the bounding set.*EPERM/);
  });

  test('exec clears SECBIT_KEEP_CAPS and keeps the other securebits', () => {
    const r = execveTransform({ ...started(0), securebits: { keepCaps: true, noSetuidFixup: true } }, plain());
    assert.deepEqual(r.securebits, { keepCaps: false, noSetuidFixup: true });
  });

  test('ALL caps in bounding: a cap=ep binary for any cap execs', () => {
    const r = execveTransform(started(1000, { bounding: ALL_CAPS }), plain({ fileCaps: parseFileCapsText('cap_sys_admin,cap_bpf=ep') }));
    assert.deepEqual(N(r.caps.effective), ['CAP_BPF', 'CAP_SYS_ADMIN']);
  });
});

describe('execveTransform: invalid process states', () => {
  const bad: { name: string; proc: ExecProcess }[] = [
    { name: 'effective not within permitted', proc: { ...started(1000), effective: caps('CHOWN') } },
    { name: 'ambient not within permitted and inheritable', proc: { ...started(1000), ambient: caps('CHOWN'), permitted: caps('CHOWN') } },
    { name: 'a set beyond 64 bits', proc: { ...started(1000), bounding: 1n << 70n } },
  ];
  for (const b of bad) {
    test(`${b.name} -> E_CAP_STATE_INVALID`, () => {
      assert.throws(() => execveTransform(b.proc, plain()), (e: unknown) => isBerthError(e) && e.code === 'E_CAP_STATE_INVALID');
    });
  }
});
