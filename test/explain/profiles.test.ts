/**
 * Engine profiles: the default capability set, no_new_privs and process capabilities each profile
 * gives, and the runtime whose chdir order decides when an unreachable WORKDIR fails.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chdirBehaviour, engineProfile, explain, PROFILE_NAMES, type ExplainInput } from '../../src/explain/index.js';
import { DEBIAN_CONFIG, debianFiles, image } from './fixtures.js';

const img = image(debianFiles(), DEBIAN_CONFIG);

describe('default bounding sets, as root (layers-and-capabilities.md 4.3)', () => {
  const cases: { name: string; input: Omit<ExplainInput, 'image'>; count: number; netRaw: boolean; nnp: boolean }[] = [
    { name: 'berth: the Docker/containerd 14', input: {}, count: 14, netRaw: true, nnp: false },
    { name: 'docker: 14', input: { profile: 'docker' }, count: 14, netRaw: true, nnp: false },
    { name: 'podman: 11, no NET_RAW', input: { profile: 'podman' }, count: 11, netRaw: false, nnp: false },
    { name: 'podman-rootless: 11', input: { profile: 'podman-rootless' }, count: 11, netRaw: false, nnp: false },
    { name: 'kubernetes on CRI-O (default): 9', input: { profile: 'kubernetes' }, count: 9, netRaw: false, nnp: false },
    { name: 'kubernetes on containerd: 14', input: { profile: 'kubernetes', cri: 'containerd' }, count: 14, netRaw: true, nnp: false },
    { name: 'kaniko executor (Docker default): 14', input: { profile: 'kaniko' }, count: 14, netRaw: true, nnp: false },
    { name: 'openshift restricted-v2: drop ALL and no_new_privs', input: { profile: 'openshift' }, count: 0, netRaw: false, nnp: true },
    { name: 'openshift may add NET_BIND_SERVICE back', input: { profile: 'openshift', pod: { capabilities: { add: ['NET_BIND_SERVICE'] } } }, count: 1, netRaw: false, nnp: true },
    { name: 'kubernetes privileged: every capability, no no_new_privs', input: { profile: 'kubernetes', pod: { privileged: true, allowPrivilegeEscalation: false } }, count: 41, netRaw: true, nnp: false },
    { name: 'kubernetes allowPrivilegeEscalation: false sets no_new_privs', input: { profile: 'kubernetes', pod: { allowPrivilegeEscalation: false } }, count: 9, netRaw: false, nnp: true },
    { name: 'docker --cap-drop ALL --cap-add NET_RAW', input: { profile: 'docker', run: { capDrop: ['ALL'], capAdd: ['NET_RAW'] } }, count: 1, netRaw: true, nnp: false },
    { name: 'berth --security-opt no-new-privileges', input: { run: { noNewPrivileges: true } }, count: 14, netRaw: true, nnp: true },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = explain({ image: img, ...c.input });
      // restricted-v2 assigns a uid from the namespace range; CRI-O gives it the same sets as root.
      assert.equal(r.process.user?.uid, c.input.profile === 'openshift' ? 1000680000 : 0);
      assert.equal(r.process.capabilities.bounding.length, c.count);
      assert.equal(r.process.capabilities.bounding.includes('CAP_NET_RAW'), c.netRaw);
      assert.equal(r.process.noNewPrivileges, c.nnp);
      // Root gets effective = permitted = bounding; inheritable and ambient stay empty (CVE-2022-24769).
      assert.deepEqual(r.process.capabilities.effective, r.process.capabilities.bounding);
      assert.deepEqual(r.process.capabilities.inheritable, []);
      assert.deepEqual(r.process.capabilities.ambient, []);
    });
  }
});

describe('non-root processes before exec', () => {
  const cases: { name: string; input: Omit<ExplainInput, 'image'>; effective: number; ambient: string[] }[] = [
    { name: 'docker: only the bounding set', input: { profile: 'docker', run: { user: 'foo' } }, effective: 0, ambient: [] },
    { name: 'CRI-O: effective = bounding for every uid', input: { profile: 'kubernetes', run: { user: '10000' } }, effective: 9, ambient: [] },
    { name: 'podman: --cap-add becomes ambient for a non-root user', input: { profile: 'podman', run: { user: 'foo', capAdd: ['NET_RAW'] } }, effective: 1, ambient: ['CAP_NET_RAW'] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = explain({ image: img, ...c.input });
      assert.notEqual(r.process.user?.uid, 0);
      assert.equal(r.process.capabilities.effective.length, c.effective);
      assert.deepEqual(r.process.capabilities.ambient, c.ambient);
    });
  }

  test('podman ambient NET_RAW survives the exec of a plain program', () => {
    const r = explain({ image: img, profile: 'podman', run: { user: 'foo', capAdd: ['NET_RAW'], args: ['/bin/ls'] } });
    assert.deepEqual(r.exec.capabilities.effective, ['CAP_NET_RAW']);
  });

  test('CRI-O non-root loses its capabilities at exec', () => {
    const r = explain({ image: img, profile: 'kubernetes', run: { user: '10000', args: ['/bin/ls'] } });
    assert.deepEqual(r.exec.capabilities.effective, []);
  });
});

describe('profile table', () => {
  test('every profile has an engine title and a process starter', () => {
    for (const name of PROFILE_NAMES) {
      const p = engineProfile(name);
      assert.equal(p.name, name);
      assert.ok(p.title.length > 0);
      assert.ok(['runc', 'crun', 'go-exec'].includes(p.starter));
    }
  });

  test('runc and crun start in an unreachable directory; Go os/exec (kaniko) fails before the step', () => {
    assert.equal(chdirBehaviour('runc').startsInDirectory, true);
    assert.match(chdirBehaviour('runc').text, /EPERM\/EACCES/);
    assert.equal(chdirBehaviour('crun').startsInDirectory, true);
    assert.equal(chdirBehaviour('go-exec').startsInDirectory, false);
  });

  test('the node runtime is selectable for kubernetes', () => {
    assert.equal(engineProfile('kubernetes', 'containerd').capDefaults, 'containerd');
    assert.equal(engineProfile('openshift').capDefaults, 'cri-o');
  });
});
