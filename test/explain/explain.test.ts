/**
 * explain(): the acceptance cases, the report's shape, argv rules and determinism.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBerthError } from '../../src/errors/index.js';
import { explain, FINDING_CODES, type ExplainInput } from '../../src/explain/index.js';
import { CAP_NET_RAW_EP, DEBIAN_CONFIG, debianFiles, image } from './fixtures.js';

const deb = (config: Record<string, unknown> = DEBIAN_CONFIG) => image(debianFiles(), config);

describe('acceptance: groupadd -g 20000 bar; useradd -u 10000 -G bar foo', () => {
  const cases: { name: string; user: string; groups: number[] }[] = [
    { name: '-u foo gets the membership of bar', user: 'foo', groups: [10000, 20000] },
    { name: '-u 10000 looks the name up and gets the same groups', user: '10000', groups: [10000, 20000] },
    { name: '-u foo:foo (explicit group) turns memberships off', user: 'foo:foo', groups: [10000] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = explain({ image: deb(), run: { user: c.user } });
      assert.equal(r.process.user?.uid, 10000);
      assert.equal(r.process.user?.gid, 10000);
      assert.deepEqual(r.process.user?.additionalGids, c.groups);
      assert.equal(r.process.user?.home, '/home/foo');
    });
  }
});

describe('acceptance: distroless-like image under --profile openshift', () => {
  const distroless = image(
    [
      { path: 'etc/', type: 'dir' },
      { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' },
      { path: 'etc/group', content: 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' },
      { path: 'home/', type: 'dir' },
      { path: 'home/nonroot/', type: 'dir', mode: 0o700, uid: 65532, gid: 65532 },
      { path: 'app', mode: 0o755 },
    ],
    { User: '65532', WorkingDir: '/home/nonroot', Entrypoint: ['/app'] },
  );

  test('uid from the namespace range, gid 0, WORKDIR_NOT_ACCESSIBLE', () => {
    const r = explain({ image: distroless, profile: 'openshift' });
    assert.equal(r.process.user?.uid, 1000680000);
    assert.equal(r.process.user?.gid, 0);
    assert.equal(r.process.noNewPrivileges, true);
    assert.deepEqual(r.process.capabilities.bounding, []);
    const f = r.findings.find((x) => x.code === 'WORKDIR_NOT_ACCESSIBLE');
    assert.ok(f, JSON.stringify(r.findings.map((x) => x.code)));
    assert.equal(f.severity, 'error');
    assert.equal(f.subject, '/home/nonroot');
    const text = f.because.join('\n');
    // The chain names the mode bits, the runtimes' chdir order, and what fails later.
    assert.match(text, /mode 0700 grants others ---/);
    assert.match(text, /runc >= 1\.0\.0-rc94/);
    assert.match(text, /crun/);
    assert.match(text, /STARTS in the directory/);
    assert.match(text, /`ls \.` fails with EACCES/);
    assert.match(f.fix, /chgrp -R 0 \/home\/nonroot && chmod -R g=u \/home\/nonroot/);
  });

  test('--uid-range moves the uid', () => {
    const r = explain({ image: distroless, profile: 'openshift', run: { uidRange: { start: 1000900000, size: 10000 } } });
    assert.equal(r.process.user?.uid, 1000900000);
  });

  test('the same image as its own user 65532 has no workdir finding', () => {
    const r = explain({ image: distroless, profile: 'docker' });
    assert.equal(r.process.user?.uid, 65532);
    assert.ok(!r.findings.some((x) => x.code === 'WORKDIR_NOT_ACCESSIBLE'));
  });
});

describe('acceptance: /usr/bin/ping with cap_net_raw=ep, as uid 1000', () => {
  test('--cap-drop NET_RAW: exec outcome EPERM', () => {
    const r = explain({ image: deb(), run: { user: '1000', capDrop: ['NET_RAW'], args: ['ping', '-c1', '127.0.0.1'] } });
    assert.equal(r.exec.path, '/usr/bin/ping');
    assert.equal(r.exec.fileCapabilities, 'cap_net_raw=ep');
    assert.equal(r.exec.outcome, 'EPERM');
    assert.ok(!r.process.capabilities.bounding.includes('CAP_NET_RAW'));
    const f = r.findings.find((x) => x.code === 'EXEC_FILE_CAPS_NOT_IN_BOUNDING' && x.subject === '/usr/bin/ping');
    assert.equal(f?.severity, 'error');
    assert.match(f!.fix, /--cap-add NET_RAW/);
  });

  test('default capabilities: exec ok and CAP_NET_RAW effective after exec', () => {
    const r = explain({ image: deb(), run: { user: '1000', args: ['ping', '-c1', '127.0.0.1'] } });
    assert.equal(r.exec.outcome, 'ok');
    assert.deepEqual(r.process.capabilities.effective, []);
    assert.deepEqual(r.exec.capabilities.effective, ['CAP_NET_RAW']);
    assert.deepEqual(r.exec.capabilities.permitted, ['CAP_NET_RAW']);
  });
});

describe('report shape', () => {
  test('fields the issue lists, sorted sets, provenance for each decision', () => {
    const r = explain({ image: deb(), run: { user: 'foo' } });
    assert.deepEqual(Object.keys(r).sort(), ['engine', 'exec', 'findings', 'image', 'process', 'profile', 'provenance']);
    assert.equal(r.profile, 'berth');
    assert.deepEqual(Object.keys(r.process.capabilities).sort(), ['ambient', 'bounding', 'effective', 'inheritable', 'permitted']);
    assert.deepEqual(r.process.capabilities.bounding, [...r.process.capabilities.bounding].sort());
    assert.equal(r.process.capabilities.bounding.length, 14);
    for (const k of ['process.user', 'process.cwd', 'process.args', 'process.capabilities', 'process.noNewPrivileges', 'exec.path']) {
      assert.ok(r.provenance[k], `provenance for ${k}`);
    }
    assert.deepEqual(Object.keys(r.provenance), Object.keys(r.provenance).sort());
    assert.deepEqual(r.process.user?.groupNames, { '10000': 'foo', '20000': 'bar' });
    for (const f of r.findings) {
      assert.deepEqual(Object.keys(f).sort(), ['because', 'code', 'fix', 'message', 'severity', 'subject']);
    }
  });

  test('the same input gives the same bytes', () => {
    const input: ExplainInput = { image: deb({ ...DEBIAN_CONFIG, WorkingDir: '/home/nonroot' }), profile: 'podman', run: { user: 'foo', capDrop: ['ALL'] } };
    assert.equal(JSON.stringify(explain(input)), JSON.stringify(explain(input)));
  });

  test('findings are ordered error, warning, info', () => {
    const r = explain({ image: deb({ ...DEBIAN_CONFIG, WorkingDir: '/home/nonroot' }), profile: 'openshift' });
    const order = r.findings.map((f) => ['error', 'warning', 'info'].indexOf(f.severity));
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
  });

  test('an unresolved user: user null, exec not reached', () => {
    const r = explain({ image: deb(), run: { user: 'nosuch' } });
    assert.equal(r.process.user, null);
    assert.equal(r.exec.reached, false);
    assert.match(r.provenance['process.user'], /unable to find user nosuch/);
  });

  test('a symlinked program reports where it resolves', () => {
    const img = image(debianFiles([{ path: 'bin/busybox', mode: 0o755 }, { path: 'bin/echo', type: 'symlink', linkname: 'busybox' }]), DEBIAN_CONFIG);
    const r = explain({ image: img, run: { args: ['echo', 'hi'] } });
    assert.equal(r.exec.path, '/bin/echo');
    assert.equal(r.exec.resolved, '/bin/busybox');
  });

  test('an image with no /etc/passwd: numeric users still resolve', () => {
    const img = image([{ path: 'bin/', type: 'dir' }, { path: 'bin/sh', mode: 0o755 }], { Cmd: ['/bin/sh'] });
    const r = explain({ image: img, run: { user: '1234:5678' } });
    assert.deepEqual([r.process.user?.uid, r.process.user?.gid, r.process.user?.additionalGids], [1234, 5678, [5678]]);
  });
});

describe('argv: ENTRYPOINT, CMD and their overrides', () => {
  const img = image(debianFiles([{ path: 'usr/bin/tini', mode: 0o755 }]), { Entrypoint: ['/usr/bin/tini', '--'], Cmd: ['/bin/sh', '-c', 'sleep 1'] });
  const cases: { name: string; input: Omit<ExplainInput, 'image'>; argv: string[] }[] = [
    { name: 'image ENTRYPOINT + CMD', input: {}, argv: ['/usr/bin/tini', '--', '/bin/sh', '-c', 'sleep 1'] },
    { name: 'a command after IMAGE replaces CMD', input: { run: { args: ['ls'] } }, argv: ['/usr/bin/tini', '--', 'ls'] },
    { name: '--entrypoint discards the image CMD', input: { run: { entrypoint: ['/bin/ls'] } }, argv: ['/bin/ls'] },
    { name: '--entrypoint "" with a command', input: { run: { entrypoint: [], args: ['/bin/ls', '-l'] } }, argv: ['/bin/ls', '-l'] },
    { name: 'kubernetes command: image ENTRYPOINT and CMD ignored', input: { profile: 'kubernetes', pod: { command: ['/bin/sh'] } }, argv: ['/bin/sh'] },
    { name: 'kubernetes args only: image ENTRYPOINT + args', input: { profile: 'kubernetes', pod: { args: ['x'] } }, argv: ['/usr/bin/tini', '--', 'x'] },
    { name: 'kubernetes command and args', input: { profile: 'kubernetes', pod: { command: ['/bin/ls'], args: ['-l'] } }, argv: ['/bin/ls', '-l'] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(explain({ image: img, ...c.input }).process.args, c.argv);
    });
  }
});

describe('working directory and PATH', () => {
  test('a relative program is resolved against the working directory', () => {
    const img = image(debianFiles([{ path: 'srv/', type: 'dir' }, { path: 'srv/run.sh', mode: 0o755 }]), { WorkingDir: '/srv', Cmd: ['./run.sh'] });
    const r = explain({ image: img });
    assert.equal(r.exec.outcome, 'ok');
    assert.equal(r.exec.resolved, '/srv/run.sh');
  });

  test('without PATH in the image the engine default PATH is searched', () => {
    const img = image(debianFiles(), { Cmd: ['ls'] });
    const r = explain({ image: img });
    assert.equal(r.exec.path, '/bin/ls');
    assert.match(r.provenance['exec.path'], /engine default/);
  });

  test('a PATH entry the user cannot execute is skipped for a later one (Go exec.LookPath)', () => {
    const img = image(
      debianFiles([
        { path: 'opt/', type: 'dir' },
        { path: 'opt/bin/', type: 'dir' },
        { path: 'opt/bin/ls', mode: 0o700 },
      ]),
      { Env: ['PATH=/opt/bin:/bin'], Cmd: ['ls'] },
    );
    const r = explain({ image: img, run: { user: 'foo' } });
    assert.equal(r.exec.path, '/bin/ls');
    assert.equal(r.exec.outcome, 'ok');
  });

  test('a capability file found through PATH', () => {
    const img = image(debianFiles([{ path: 'usr/local/', type: 'dir' }, { path: 'usr/local/bin/', type: 'dir' }, { path: 'usr/local/bin/probe', mode: 0o755, cap: CAP_NET_RAW_EP }]), DEBIAN_CONFIG);
    const r = explain({ image: img, profile: 'podman', run: { user: 'foo', args: ['probe'] } });
    assert.equal(r.exec.path, '/usr/local/bin/probe');
    assert.equal(r.exec.outcome, 'EPERM');
  });
});

describe('property: any image and flags give a report or a BerthError', () => {
  const modes = [0o755, 0o700, 0o644, 0o4755, 0o2755, 0o000, 0o711];
  const ids = [0, 1000, 10000, 65532, 70000];
  const pool = ['bin/sh', 'bin/ls', 'usr/bin/ping', 'app/run', 'home/foo', 'home/nonroot', 'srv/data'];
  const caps = [undefined, CAP_NET_RAW_EP, '01000002', CAP_NET_RAW_EP.slice(0, 36) + 'ff'];

  test('never a TypeError; sets sorted; codes known', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ p: fc.constantFrom(...pool), dir: fc.boolean(), mode: fc.constantFrom(...modes), uid: fc.constantFrom(...ids), gid: fc.constantFrom(...ids), cap: fc.constantFrom(...caps) }), { maxLength: 8 }),
        fc.constantFrom('berth', 'docker', 'podman', 'podman-rootless', 'kubernetes', 'openshift', 'kaniko'),
        fc.constantFrom(undefined, 'foo', '1000', 'foo:foo', 'nosuch', '0', '10000:20000'),
        fc.constantFrom(undefined, ['/bin/sh'], ['ping'], ['/app/run'], ['./run'], []),
        fc.constantFrom(undefined, '/srv', '/home/nonroot', '/app', '/nope/deeper'),
        fc.subarray(['NET_RAW', 'ALL', 'DAC_OVERRIDE']),
        fc.boolean(),
        (files, profile, user, args, workdir, capDrop, nnp) => {
          const specs = [
            { path: 'etc/', type: 'dir' as const },
            { path: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\nfoo:x:10000:10000::/home/foo:/bin/sh\n' },
            { path: 'etc/group', content: 'root:x:0:\nfoo:x:10000:\nbar:x:20000:foo\n' },
            ...files.map((f) => ({ path: f.dir ? `${f.p}/` : f.p, type: f.dir ? ('dir' as const) : ('file' as const), mode: f.mode, uid: f.uid, gid: f.gid, ...(f.cap && !f.dir ? { cap: f.cap } : {}) })),
          ];
          const k8s = profile === 'kubernetes' || profile === 'openshift';
          const input: ExplainInput = {
            image: image(specs, { Cmd: ['/bin/sh'], ...(workdir ? { WorkingDir: workdir } : {}) }),
            profile,
            run: {
              ...(user !== undefined && !(k8s && !/^\d+(:\d+)?$/.test(user)) ? { user } : {}),
              ...(args !== undefined ? { args: [...args] } : {}),
              ...(capDrop.length > 0 ? { capDrop } : {}),
              ...(nnp ? { noNewPrivileges: true } : {}),
            },
          };
          let r: ReturnType<typeof explain>;
          try {
            r = explain(input);
          } catch (e) {
            assert.ok(isBerthError(e), String(e instanceof Error ? e.stack : e));
            return;
          }
          for (const set of Object.values(r.process.capabilities)) assert.deepEqual(set, [...set].sort());
          if (r.process.user) assert.deepEqual(r.process.user.additionalGids, [...new Set(r.process.user.additionalGids)].sort((a, b) => a - b));
          for (const f of r.findings) assert.ok(FINDING_CODES.includes(f.code));
          assert.ok(['ok', 'EPERM', 'EACCES', 'ENOENT', 'EINVAL'].includes(r.exec.outcome));
        },
      ),
      { numRuns: 300 },
    );
  });
});
