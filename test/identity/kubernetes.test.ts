import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsePodSpec } from '../../src/identity/kubernetes.js';
import { resolveIdentity, userDbFromText } from '../../src/identity/index.js';
import { isBerthError } from '../../src/errors/index.js';

const POD = `
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    runAsNonRoot: true
    fsGroup: 2000
    supplementalGroups: [4000, 5000]
    supplementalGroupsPolicy: Strict
    seccompProfile: { type: RuntimeDefault }
  initContainers:
    - name: init
      image: busybox
  containers:
    - name: app
      image: example/app:1
      command: ["/app"]
      args: ["--port", "8080"]
      workingDir: /srv
      env:
        - { name: HOME, value: /data }
        - name: FROM_SECRET
          valueFrom: { secretKeyRef: { name: s, key: k } }
      securityContext:
        runAsUser: 10000
        allowPrivilegeEscalation: false
        privileged: false
        readOnlyRootFilesystem: true
        capabilities: { drop: [ALL], add: [NET_BIND_SERVICE] }
    - name: sidecar
      image: example/sidecar:2
`;

const DEPLOYMENT = `
apiVersion: v1
kind: Service
metadata: { name: svc }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: api }
spec:
  template:
    spec:
      securityContext: { runAsGroup: 7 }
      containers:
        - name: api
          image: example/api
          securityContext: { runAsGroup: 8 }
`;

const CRONJOB = `
apiVersion: batch/v1
kind: CronJob
metadata: { name: nightly }
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          securityContext: { runAsUser: 1000680000 }
          containers:
            - name: job
              image: example/job
`;

describe('parsePodSpec: success table', () => {
  test('a Pod: first container by default, securityContext merged (rule 32)', () => {
    const p = parsePodSpec(POD);
    assert.equal(p.kind, 'Pod');
    assert.equal(p.containerName, 'app');
    assert.equal(p.containerPath, 'spec.containers[0]');
    assert.equal(p.image, 'example/app:1');
    assert.deepEqual(p.command, ['/app']);
    assert.deepEqual(p.args, ['--port', '8080']);
    assert.equal(p.workingDir, '/srv');
    assert.deepEqual(p.env, [{ name: 'HOME', value: '/data' }, { name: 'FROM_SECRET' }]);
    assert.deepEqual(p.securityContext, {
      container: 'app',
      pod: 'web_shop',
      runAsUser: 10000, // the container wins
      runAsGroup: 3000, // from the pod
      runAsNonRoot: true,
      fsGroup: 2000,
      supplementalGroups: [4000, 5000],
      supplementalGroupsPolicy: 'Strict',
    });
    assert.deepEqual(p.capabilities, { add: ['NET_BIND_SERVICE'], drop: ['ALL'] });
    assert.equal(p.allowPrivilegeEscalation, false);
    assert.equal(p.privileged, false);
    assert.equal(p.readOnlyRootFilesystem, true);
    assert.equal(p.seccompProfile, 'RuntimeDefault');
    assert.equal(p.sources.runAsUser, 'spec.containers[0].securityContext.runAsUser');
    assert.equal(p.sources.runAsGroup, 'spec.securityContext.runAsGroup');
    assert.equal(p.sources.fsGroup, 'spec.securityContext.fsGroup');
  });
  test('a named container', () => {
    const p = parsePodSpec(POD, 'sidecar');
    assert.equal(p.containerName, 'sidecar');
    assert.equal(p.securityContext.runAsUser, 1000);
    assert.deepEqual(p.capabilities, { add: [], drop: [] });
  });
  test('an init container can be named', () => {
    const p = parsePodSpec(POD, 'init');
    assert.equal(p.init, true);
    assert.equal(p.containerPath, 'spec.initContainers[0]');
  });
  test('a Deployment after a Service in a multi-document file', () => {
    const p = parsePodSpec(DEPLOYMENT);
    assert.equal(p.kind, 'Deployment');
    assert.equal(p.name, 'api');
    assert.equal(p.document, 1);
    assert.equal(p.containerPath, 'spec.template.spec.containers[0]');
    assert.equal(p.securityContext.runAsGroup, 8);
  });
  test('a CronJob', () => {
    const p = parsePodSpec(CRONJOB);
    assert.equal(p.containerPath, 'spec.jobTemplate.spec.template.spec.containers[0]');
    assert.equal(p.securityContext.runAsUser, 1000680000);
  });
  test('a List of workloads', () => {
    const p = parsePodSpec('kind: List\nitems:\n  - kind: ConfigMap\n  - kind: Job\n    spec: { template: { spec: { containers: [ { name: j } ] } } }\n');
    assert.equal(p.kind, 'Job');
    assert.equal(p.item, 1);
  });
  test('the parsed context feeds the kubernetes profile', () => {
    const db = userDbFromText({ passwd: 'foo:x:10000:10000::/home/foo:/bin/sh\n', group: 'bar:x:20000:foo\n' });
    const p = parsePodSpec(POD);
    const r = resolveIdentity({ profile: 'kubernetes', imageUser: 'foo', kubernetes: p.securityContext, env: p.env.flatMap((e) => (e.value === undefined ? [] : [`${e.name}=${e.value}`])) }, db);
    assert.deepEqual({ uid: r.uid, gid: r.gid, groups: r.additionalGids, home: r.home }, { uid: 10000, gid: 3000, groups: [2000, 3000, 4000, 5000], home: '/data' });
  });
});

describe('parsePodSpec: failure table', () => {
  const rows: { name: string; yaml: string; container?: string; code: string; message?: RegExp }[] = [
    { name: 'not a workload', yaml: 'kind: Service\nmetadata: { name: s }\n', code: 'E_POD_INVALID', message: /no workload found \(document 0 is a Service\)/ },
    { name: 'no kind', yaml: 'spec: {}\n', code: 'E_POD_INVALID', message: /document 0: kind: is missing/ },
    { name: 'a scalar document', yaml: 'just text\n', code: 'E_POD_INVALID', message: /must be a mapping/ },
    { name: 'empty input', yaml: '', code: 'E_POD_INVALID' },
    { name: 'YAML syntax error', yaml: 'kind: Pod\nspec: [\n', code: 'E_POD_INVALID', message: /YAML error/ },
    { name: 'an unresolved alias', yaml: '*a\n', code: 'E_POD_INVALID', message: /Unresolved alias/ },
    { name: 'a self-referencing alias in a field', yaml: 'kind: Pod\nspec: &s { containers: [ *s ] }\n', code: 'E_POD_INVALID', message: /spec\.containers\[0\]\.name: is missing/ },
    { name: 'duplicate keys', yaml: 'kind: Pod\nkind: Pod\n', code: 'E_POD_INVALID', message: /YAML error/ },
    { name: 'a Deployment without a template', yaml: 'kind: Deployment\nspec: {}\n', code: 'E_POD_INVALID', message: /spec\.template: is missing/ },
    { name: 'no containers', yaml: 'kind: Pod\nspec: {}\n', code: 'E_POD_INVALID', message: /spec\.containers: is missing/ },
    { name: 'empty containers', yaml: 'kind: Pod\nspec: { containers: [] }\n', code: 'E_POD_INVALID', message: /must be a non-empty list/ },
    { name: 'a container without a name', yaml: 'kind: Pod\nspec: { containers: [ { image: x } ] }\n', code: 'E_POD_INVALID', message: /spec\.containers\[0\]\.name: is missing/ },
    { name: 'a negative runAsUser', yaml: 'kind: Pod\nspec: { containers: [ { name: a, securityContext: { runAsUser: -1 } } ] }\n', code: 'E_POD_INVALID', message: /spec\.containers\[0\]\.securityContext\.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive/ },
    { name: 'a quoted runAsUser', yaml: 'kind: Pod\nspec: { securityContext: { runAsUser: "1000" }, containers: [ { name: a } ] }\n', code: 'E_POD_INVALID', message: /spec\.securityContext\.runAsUser/ },
    { name: 'fsGroup at container level', yaml: 'kind: Pod\nspec: { containers: [ { name: a, securityContext: { fsGroup: 5 } } ] }\n', code: 'E_POD_INVALID', message: /is a pod-level field/ },
    { name: 'an unknown supplementalGroupsPolicy', yaml: 'kind: Pod\nspec: { securityContext: { supplementalGroupsPolicy: Loose }, containers: [ { name: a } ] }\n', code: 'E_POD_INVALID', message: /Unsupported value: "Loose"/ },
    { name: 'capabilities.add not a list', yaml: 'kind: Pod\nspec: { containers: [ { name: a, securityContext: { capabilities: { add: NET_RAW } } } ] }\n', code: 'E_POD_INVALID', message: /capabilities\.add: must be a list/ },
    { name: 'a supplemental group out of range', yaml: 'kind: Pod\nspec: { securityContext: { supplementalGroups: [1, 4294967296] }, containers: [ { name: a } ] }\n', code: 'E_POD_INVALID', message: /supplementalGroups\[1\]/ },
    { name: 'an absent container name lists the names', yaml: POD, container: 'db', code: 'E_POD_CONTAINER_NOT_FOUND', message: /container "db" not found; containers are document 0 \(Pod web\): app, sidecar, init \(init\)/ },
  ];
  for (const r of rows) {
    test(r.name, () => {
      assert.throws(() => parsePodSpec(r.yaml, r.container), (e: unknown) => {
        assert.ok(isBerthError(e), String(e));
        assert.equal(e.code, r.code);
        if (r.message) assert.match(e.message, r.message);
        return true;
      });
    });
  }
  test('property: arbitrary text either parses or fails with a BerthError', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
      try {
        parsePodSpec(s);
      } catch (e) {
        assert.ok(isBerthError(e), `${String(e)} for ${JSON.stringify(s)}`);
      }
    }), { numRuns: 300 });
  });
});
