/**
 * The text report: the identity line reads like id(1), findings are grouped by severity with
 * their chains and fixes, and a process that never starts says so.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explain, formatIdLine, renderReport } from '../../src/explain/index.js';
import { DEBIAN_CONFIG, debianFiles, image } from './fixtures.js';

const img = image(debianFiles(), { ...DEBIAN_CONFIG, WorkingDir: '/home/nonroot' });

describe('formatIdLine', () => {
  const cases: { name: string; user: Parameters<typeof formatIdLine>[0]; line: string }[] = [
    {
      name: 'names from the image',
      user: { uid: 10000, gid: 10000, additionalGids: [10000, 20000], home: '/home/foo', name: 'foo', groupNames: { '10000': 'foo', '20000': 'bar' } },
      line: 'uid=10000(foo) gid=10000(foo) groups=10000(foo),20000(bar)',
    },
    {
      name: 'an arbitrary uid with gid 0 (OpenShift)',
      user: { uid: 1000680000, gid: 0, additionalGids: [0, 1000680000], home: '/', groupNames: { '0': 'root' } },
      line: 'uid=1000680000 gid=0(root) groups=0(root),1000680000',
    },
    {
      name: 'the primary gid comes first even when setgroups leaves it out',
      user: { uid: 0, gid: 0, additionalGids: [10], home: '/root', name: 'root', groupNames: { '0': 'root', '10': 'wheel' } },
      line: 'uid=0(root) gid=0(root) groups=0(root),10(wheel)',
    },
  ];
  for (const c of cases) test(c.name, () => assert.equal(formatIdLine(c.user), c.line));
});

describe('renderReport', () => {
  test('openshift: identity, capabilities, exec, then findings by severity', () => {
    const text = renderReport(explain({ image: img, profile: 'openshift' }));
    assert.match(text, /^test:1 under profile openshift: OpenShift restricted-v2 on CRI-O with crun$/m);
    assert.match(text, /^ {2}uid=1000680000 gid=0\(root\) groups=0\(root\),1000680000$/m);
    assert.match(text, /^ {4}bounding: {4}\(none\)$/m);
    assert.match(text, /^ {2}no_new_privs: yes$/m);
    assert.match(text, /^ {2}\/bin\/sh: execs$/m);
    const errors = text.indexOf('\nErrors:\n');
    const warnings = text.indexOf('\nWarnings:\n');
    const notes = text.indexOf('\nNotes:\n');
    assert.ok(errors > 0 && warnings > errors && notes > warnings, text);
    assert.match(text, /^ {2}WORKDIR_NOT_ACCESSIBLE {2}\/home\/nonroot$/m);
    assert.match(text, /^ {4}because:$/m);
    assert.match(text, /^ {4}fix: make it usable by group 0/m);
    assert.match(text, /^Findings: 1 error, 2 warnings, 1 note$/m);
  });

  test('a failing exec names the errno', () => {
    const text = renderReport(explain({ image: img, run: { user: '1000', capDrop: ['NET_RAW'], args: ['ping'] } }));
    assert.match(text, /^ {2}\/usr\/bin\/ping \(cap_net_raw=ep\): fails with EPERM$/m);
  });

  test('an unresolved user: the exec is not reached', () => {
    const text = renderReport(explain({ image: img, run: { user: 'nosuch' } }));
    assert.match(text, /user: cannot be resolved/);
    assert.match(text, /not reached: the container fails before exec/);
  });

  test('no findings', () => {
    const clean = image(
      [{ path: 'bin/', type: 'dir' }, { path: 'bin/app', mode: 0o755 }, { path: 'etc/', type: 'dir' }, { path: 'etc/passwd', content: 'app:x:1000:1000::/tmp:/bin/app\n' }, { path: 'tmp/', type: 'dir', mode: 0o1777 }],
      { User: '1000', Cmd: ['/bin/app'] },
    );
    assert.match(renderReport(explain({ image: clean, profile: 'docker' })), /^No findings\.$/m);
  });
});
