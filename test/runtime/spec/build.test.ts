import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildSpec,
  defaultPipeline,
  emptySpec,
  pointer,
  serializeSpec,
  transformerNamed,
  type RuntimeSpec,
  type SpecInputs,
  type SpecTransformer,
} from '../../../src/runtime/spec/index.js';
import { ROOTLESS, codeOf, errorOf, identityFor, inputs } from './fixtures.js';

/** Every leaf pointer of a JSON value (arrays of primitives and array elements that are objects count as one). */
function leafPointers(v: unknown, at = '', element = false, out: string[] = []): string[] {
  const prim = (x: unknown) => x === null || typeof x !== 'object';
  if (prim(v) || (element && !Array.isArray(v))) out.push(at);
  else if (Array.isArray(v)) {
    if (v.length === 0 || v.every(prim)) out.push(at);
    else v.forEach((x, i) => leafPointers(x, `${at}/${i}`, true, out));
  } else {
    const keys = Object.keys(v as object);
    if (keys.length === 0) out.push(at);
    for (const k of keys) leafPointers((v as Record<string, unknown>)[k], `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, false, out);
  }
  return out;
}

const rich = () =>
  inputs({
    image: { config: { Entrypoint: ['/entry.sh'], Cmd: ['serve'], Env: ['A=1'], WorkingDir: '/app' } },
    identity: identityFor('foo'),
    env: [{ value: 'B=2', source: '--env-file app.env:1' }, 'C=3'],
    tty: true,
    capAdd: ['NET_ADMIN'],
    capDrop: ['MKNOD'],
    volumes: ['/srv/b:/b', '/srv/a:/a:ro'],
    sysctls: ['net.core.somaxconn=100'],
    annotations: { 'z.k': '1', 'a.k': '2' },
    extraMaskedPaths: ['/sys/devices/system/cpu/cpu0/thermal_throttle'],
  });

describe('determinism', () => {
  test('same inputs give the same bytes', () => {
    assert.equal(serializeSpec(buildSpec(rich()).spec), serializeSpec(buildSpec(rich()).spec));
    assert.deepEqual(buildSpec(rich()).provenance, buildSpec(rich()).provenance);
  });
  test('flag order of volumes and annotations does not change the bytes', () => {
    const a = rich();
    const b = { ...rich(), volumes: ['/srv/a:/a:ro', '/srv/b:/b'], annotations: { 'a.k': '2', 'z.k': '1' } };
    assert.equal(serializeSpec(buildSpec(a).spec), serializeSpec(buildSpec(b).spec));
  });
  test('object keys are sorted at every level; the file ends with a newline', () => {
    const text = serializeSpec(buildSpec(rich()).spec);
    assert.ok(text.endsWith('}\n'));
    const check = (v: unknown): void => {
      if (v === null || typeof v !== 'object') return;
      if (Array.isArray(v)) return v.forEach(check);
      const keys = Object.keys(v);
      assert.deepEqual(keys, [...keys].sort());
      keys.forEach((k) => check((v as Record<string, unknown>)[k]));
    };
    check(JSON.parse(text));
  });
  test('the inputs are not modified', () => {
    const i = rich();
    const before = JSON.stringify(i);
    buildSpec(i);
    assert.equal(JSON.stringify(i), before);
  });
});

describe('provenance', () => {
  const r = buildSpec(rich());
  const p = r.provenance;
  test('every field of the spec has an entry (or one above it)', () => {
    for (const leaf of leafPointers(r.spec)) {
      const covered = Object.keys(p).some((k) => leaf === k || leaf.startsWith(`${k}/`));
      assert.ok(covered, `no provenance for ${leaf}`);
    }
  });
  test('entries are sorted by pointer', () => {
    assert.deepEqual(Object.keys(p), Object.keys(p).sort());
  });
  test('process.user.uid names --user and the passwd line', () => {
    assert.equal(p['/process/user/uid']!.transformer, 'user');
    assert.match(p['/process/user/uid']!.source, /user spec "foo" from --user/);
    assert.match(p['/process/user/uid']!.source, /\/etc\/passwd:4 foo:x:10000:10000:Foo user:\/home\/foo:\/bin\/sh/);
    assert.match(p['/process/user/additionalGids']!.source, /\/etc\/group:6 bar:x:20000:foo/);
  });
  test('uid 0 written over the skeleton is still the user step', () => {
    const q = buildSpec(inputs()).provenance;
    assert.equal(q['/process/user/uid']!.transformer, 'user');
    assert.equal(q['/process/cwd']!.transformer, 'cwd');
    assert.equal(q['/root/path']!.transformer, 'base');
  });
  test('args, cwd, caps, env entries, mounts and sysctls name their inputs', () => {
    assert.match(p['/process/args']!.source, /Entrypoint \["\/entry.sh"\] from the image config/);
    assert.equal(p['/process/cwd']!.source, 'image config WorkingDir /app');
    assert.match(p['/process/capabilities/bounding']!.source, /Docker default capabilities.*--cap-add NET_ADMIN; --cap-drop MKNOD/);
    assert.match(p['/process/capabilities/effective']!.source, /uid 10000 is not 0/);
    const env = r.spec.process.env;
    assert.equal(p[pointer('process', 'env', env.indexOf('B=2'))]!.source, '--env-file app.env:1');
    assert.equal(p[pointer('process', 'env', env.indexOf('C=3'))]!.source, '-e C=3');
    assert.match(p[pointer('process', 'env', env.indexOf('HOME=/home/foo'))]!.source, /\/etc\/passwd:4/);
    const a = r.spec.mounts.findIndex((m) => m.destination === '/a');
    assert.deepEqual(p[pointer('mounts', a)], { transformer: 'volumes', source: '--volume /srv/a:/a:ro' });
    assert.equal(p['/mounts/0']!.transformer, 'default-mounts');
    assert.deepEqual(p['/linux/sysctl/net.core.somaxconn'], { transformer: 'sysctls', source: '--sysctl net.core.somaxconn=100' });
    assert.equal(p['/linux/sysctl/net.ipv4.ping_group_range']!.transformer, 'ping-group-range');
    assert.equal(p['/hostname']!.transformer, 'hostname');
  });
  test('a later step that rewrites a field takes its provenance', () => {
    const q = buildSpec(inputs({ namespace: ROOTLESS, network: 'host' })).provenance;
    const s = buildSpec(inputs({ namespace: ROOTLESS, network: 'host' })).spec;
    const sys = s.mounts.findIndex((m) => m.destination === '/sys');
    assert.equal(q[pointer('mounts', sys)]!.transformer, 'userns-mounts');
    assert.match(q[pointer('mounts', sys)]!.source, /read-only rbind/);
  });
  test('a field removed by a later step loses its entry', () => {
    const q = buildSpec(inputs({ namespace: ROOTLESS, network: 'host' }));
    assert.equal(q.spec.mounts.length, 6);
    assert.equal(q.provenance['/mounts/6'], undefined);
    assert.equal(q.provenance['/linux/resources'], undefined);
  });
});

describe('pipelines', () => {
  test('the default pipeline has unique names in a fixed order', () => {
    const names = defaultPipeline.map((t) => t.name);
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(names.slice(0, 3), ['base', 'args', 'user']);
  });
  test('a step can be replaced by name; changes without a note get the step default source', () => {
    const custom: SpecTransformer = {
      name: 'hostname',
      source: 'fixed by the test pipeline',
      apply(draft) {
        draft.hostname = 'fixed';
      },
    };
    const pipeline = defaultPipeline.map((t) => (t.name === 'hostname' ? custom : t));
    const r = buildSpec(inputs(), pipeline);
    assert.equal(r.spec.hostname, 'fixed');
    assert.ok(r.spec.process.env.includes('HOSTNAME=fixed'));
    assert.deepEqual(r.provenance['/hostname'], { transformer: 'hostname', source: 'fixed by the test pipeline' });
  });
  test('an empty pipeline gives the skeleton', () => {
    const r = buildSpec(inputs(), []);
    assert.deepEqual(r.spec, JSON.parse(JSON.stringify(emptySpec())) as RuntimeSpec);
    assert.equal(r.provenance['/ociVersion']!.transformer, 'skeleton');
  });
  test('duplicate step names are refused', () => {
    const t = transformerNamed('base')!;
    assert.throws(() => buildSpec(inputs(), [t, t]), /appears twice/);
  });
  test('undefined members a step leaves are dropped, as in the written file', () => {
    const t: SpecTransformer = {
      name: 'sets-undefined',
      apply(draft) {
        draft.hostname = undefined;
        draft.process.terminal = undefined;
      },
    };
    const r = buildSpec(inputs(), [...defaultPipeline, t]);
    assert.ok(!('hostname' in r.spec));
    assert.equal(r.provenance['/hostname'], undefined);
    assert.equal(r.provenance['/process/terminal'], undefined);
  });
});

describe('checkInputs', () => {
  const failures: { name: string; over: Record<string, unknown> }[] = [
    { name: 'unknown key', over: { capsAdd: ['NET_ADMIN'] } },
    { name: 'args with cmd', over: { args: ['true'], cmd: ['x'] } },
    { name: 'args with entrypoint', over: { args: ['true'], entrypoint: 'sh' } },
    { name: 'unsupported network', over: { network: 'bridge' } },
    { name: 'bad container ID', over: { containerId: 'a/b' } },
    { name: 'empty container ID', over: { containerId: '' } },
    { name: 'volumes not a list', over: { volumes: '/a:/b' } },
    { name: 'missing identity', over: { identity: undefined } },
  ];
  for (const c of failures) {
    test(`fails: ${c.name}`, () => {
      assert.equal(codeOf(() => buildSpec({ ...inputs(), ...c.over } as SpecInputs)), 'E_SPEC_INPUT');
    });
  }
  test('the message names the unknown key', () => {
    assert.match(errorOf(() => buildSpec({ ...inputs(), capsAdd: [] } as unknown as SpecInputs)).message, /unknown input "capsAdd"/);
  });
});

describe('buildSpec without provenance', () => {
  const cases: [string, Partial<SpecInputs>][] = [
    ['defaults', {}],
    ['user, caps, sysctls, read-only', { identity: identityFor('foo'), capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'], sysctls: ['net.ipv4.ping_group_range=1 0'], readOnly: true }],
    ['rootless with a tty', { namespace: ROOTLESS, tty: true }],
  ];
  for (const [name, over] of cases) {
    test(`${name}: the same spec and warnings as with provenance, and no provenance`, () => {
      const withP = buildSpec(inputs(over));
      const without = buildSpec(inputs(over), defaultPipeline, { provenance: false });
      assert.equal(serializeSpec(without.spec), serializeSpec(withP.spec));
      assert.deepEqual(without.warnings, withP.warnings);
      assert.deepEqual(without.provenance, {});
      assert.ok(Object.keys(withP.provenance).length > 10);
    });
  }
});
