/**
 * The truth check: for every case of truth-cases.ts, rootful (as root) and rootless (as the
 * unprivileged test user), `berth explain --json` predicts the process and `berth run --rm` runs a
 * probe that prints what the process really got; the two must agree field by field. A
 * disagreement is either a wrong prediction or a wrong run: the failure message lists the fields,
 * and the summary line counts the cases (docs/truth-check.md).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExplainReport } from '../../src/explain/index.js';
import { berth, isRoot, makeBusyboxRootfs, tempDir, testUserIds } from './helpers.js';
import {
  CASES,
  IMAGES,
  PROBE,
  PROBE_COMMAND,
  PROBE_EXEC_COMMAND,
  PROBE_TARGET,
  disagreements,
  parseProbeOutput,
  predictionOf,
  type Mode,
  type Observation,
  type Prediction,
  type TruthCase,
} from './truth-cases.js';

interface Outcome {
  mode: Mode;
  name: string;
  diffs: string[];
}

const testUser = testUserIds();

describe('truth check: berth explain vs berth run', { skip: !isRoot && 'needs root: the fixture has owners and a file capability, and the rootless half switches to the test user' }, () => {
  let work: { dir: string; cleanup: () => void };
  const stores: Partial<Record<Mode, string>> = {};
  const outcomes: Outcome[] = [];

  before(async () => {
    work = tempDir('e2e-truth', testUser);
    const rootfs = makeBusyboxRootfs(join(work.dir, 'rootfs'));
    mkdirSync(join(rootfs, 'probe'));
    symlinkSync(PROBE_TARGET, join(rootfs, PROBE.slice(1)));
    stores.rootful = join(work.dir, 'store-rootful');
    for (const [ref, changes] of Object.entries(IMAGES)) {
      const r = await berth(['import', ...changes.flatMap((c) => ['--change', c]), rootfs, ref], { root: stores.rootful });
      assert.equal(r.code, 0, `import ${ref}: ${r.stderr}`);
    }
    if (testUser) {
      // The test user's own store gets the same images (same IDs) through save and load.
      const archive = join(work.dir, 'truth-images.tar');
      const s = await berth(['save', '-o', archive, ...Object.keys(IMAGES)], { root: stores.rootful });
      assert.equal(s.code, 0, `save: ${s.stderr}`);
      chownSync(archive, testUser.uid, testUser.gid);
      stores.rootless = join(work.dir, 'store-rootless');
      const l = await berth(['load', '-i', archive], { root: stores.rootless, asTestUser: true });
      assert.equal(l.code, 0, `load as ${testUser.uid}: ${l.stderr}`);
    }
  });

  after(() => {
    const agree = outcomes.filter((o) => o.diffs.length === 0).length;
    const lines = [`truth check: ${outcomes.length} cases, ${agree} agree, ${outcomes.length - agree} disagree`];
    for (const o of outcomes.filter((x) => x.diffs.length > 0)) lines.push(`  ${o.mode}: ${o.name}: ${o.diffs.join('; ')}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (process.env.BERTH_TRUTH_REPORT) writeFileSync(process.env.BERTH_TRUTH_REPORT, `${JSON.stringify(outcomes, null, 2)}\n`);
    work?.cleanup();
  });

  async function explainJson(mode: Mode, c: TruthCase, command: readonly string[]): Promise<ExplainReport> {
    const r = await berth(['explain', '--json', ...c.flags, c.image, ...command], { root: stores[mode], asTestUser: mode === 'rootless' });
    assert.equal(r.code, 0, `explain: ${r.stderr}`);
    return JSON.parse(r.stdout) as ExplainReport;
  }

  async function check(mode: Mode, c: TruthCase): Promise<{ prediction: Prediction; observation: Observation; stderr: string }> {
    // Independent commands: the two predictions and the run go side by side.
    const [shell, probe, run] = await Promise.all([
      explainJson(mode, c, PROBE_COMMAND),
      explainJson(mode, c, PROBE_EXEC_COMMAND),
      berth(['run', '--rm', ...c.flags, c.image, ...PROBE_COMMAND], { root: stores[mode], asTestUser: mode === 'rootless' }),
    ]);
    return { prediction: predictionOf(shell, probe), observation: parseProbeOutput(run.stdout, run.code), stderr: run.stderr };
  }

  for (const mode of ['rootful', 'rootless'] as const) {
    const skip = mode === 'rootless' && !testUser && 'no test user berthtest (scripts/test.mjs creates it with subordinate IDs)';
    describe(mode, { skip }, () => {
      for (const c of CASES.filter((x) => (x.modes ?? ['rootful', 'rootless']).includes(mode))) {
        // A known gap still runs and reports its disagreement, as a to-do rather than a failure.
        const gap = c.knownGap?.[mode];
        test(c.name, gap ? { todo: `known gap: ${gap}` } : {}, async () => {
          const { prediction, observation, stderr } = await check(mode, c);
          const diffs = disagreements(prediction, observation);
          outcomes.push({ mode, name: c.name, diffs });
          assert.deepEqual(diffs, [], `prediction and container disagree\nberth run stderr: ${stderr.trim() || '(empty)'}`);
        });
      }
    });
  }
});

// The checker itself, on canned output: a parser that lost a field would make every case agree.
describe('truth check: the comparison', () => {
  const status = (o: { uid?: number; groups?: string; eff?: string } = {}) => {
    const uid = o.uid ?? 10000;
    const eff = o.eff ?? '0000000000000000';
    return [
      `Uid:\t${uid}\t${uid}\t${uid}\t${uid}`,
      'Gid:\t10000\t10000\t10000\t10000',
      `Groups:\t${o.groups ?? '20000 10000'} `,
      'CapInh:\t0000000000000000',
      `CapPrm:\t${eff}`,
      `CapEff:\t${eff}`,
      'CapBnd:\t00000000a80425fb',
      'CapAmb:\t0000000000000000',
      'NoNewPrivs:\t0',
    ];
  };
  const output = (shell: string[], probe: string[], rc: number) =>
    ['@status', ...shell, '@cwd', '/home/foo', '@home /home/foo', '@probe', ...probe, `@probe-rc ${rc}`, ''].join('\n');
  const netRaw = '0000000000002000';
  const docker14 = ['CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT'];
  const foo: Prediction = {
    starts: true,
    startBlockers: [],
    uid: 10000,
    gid: 10000,
    groups: [10000, 20000],
    effective: [],
    permitted: [],
    bounding: docker14,
    inheritable: [],
    ambient: [],
    noNewPrivileges: false,
    cwd: '/home/foo',
    home: '/home/foo',
    probe: { outcome: 'ok', effective: ['CAP_NET_RAW'], permitted: ['CAP_NET_RAW'] },
  };

  test('an observation equal to the prediction agrees (Groups in any order)', () => {
    const o = parseProbeOutput(output(status(), status({ eff: netRaw }), 0), 0);
    assert.deepEqual(o.status?.groups, [10000, 20000]);
    assert.deepEqual(disagreements(foo, o), []);
  });

  const differing: { name: string; stdout: string; code: number | null; field: RegExp }[] = [
    { name: 'a missing group', stdout: output(status({ groups: '10000' }), status({ eff: netRaw }), 0), code: 0, field: /^Groups: predicted \[10000 20000\], container \[10000\]$/ },
    { name: 'another uid', stdout: output(status({ uid: 0 }), status({ eff: netRaw }), 0), code: 0, field: /^Uid: predicted 10000 \(x4\), container 0 0 0 0$/ },
    { name: 'an extra effective capability', stdout: output(status({ eff: '0000000000000001' }), status({ eff: netRaw }), 0), code: 0, field: /^CapEff: \+CAP_CHOWN / },
    { name: 'the probe failing with EPERM', stdout: output(status(), ['sh: /probe/cat: Operation not permitted'], 126), code: 0, field: /^exec \/probe\/cat: predicted ok, container EPERM/ },
    { name: 'the probe without its file capability', stdout: output(status(), status(), 0), code: 0, field: /^exec \/probe\/cat CapEff: -CAP_NET_RAW/ },
    { name: 'a run that never started', stdout: '', code: 125, field: /^start: predicted to start, but berth exited 125/ },
  ];
  for (const c of differing) {
    test(`disagrees on ${c.name}`, () => {
      const diffs = disagreements(foo, parseProbeOutput(c.stdout, c.code));
      assert.ok(diffs.some((d) => c.field.test(d)), diffs.join('\n'));
    });
  }

  test('a container predicted not to start that ran disagrees; one that did not run agrees', () => {
    const p: Prediction = { starts: false, startBlockers: ['USER_NOT_FOUND nosuch'] };
    assert.match(disagreements(p, parseProbeOutput(output(status(), [], 0), 0)).join(''), /predicted not to start \(USER_NOT_FOUND nosuch\)/);
    assert.deepEqual(disagreements(p, parseProbeOutput('', 125)), []);
  });
});
