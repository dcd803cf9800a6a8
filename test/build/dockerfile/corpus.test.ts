/**
 * Real-world-shaped Dockerfiles run through the whole front end the way the build executor uses
 * it: parse, plan the stages, walk each stage with its argument scope, expand every instruction.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BuildArgs,
  exposedPorts,
  instantiate,
  normalizeWorkdir,
  parseDockerfile,
  parseRunMount,
  parseTrigger,
  planRunCommand,
  planStages,
  type Dockerfile,
  type Instruction,
  type StageScope,
} from '../../../src/build/dockerfile/index.js';
import type { Warning } from '../../../src/errors/index.js';

const GO_MULTISTAGE = `# syntax=docker/dockerfile:1.7
# check=error=true

ARG GO_VERSION=1.22
ARG DISTROLESS=gcr.io/distroless/static-debian12:nonroot

FROM --platform=$BUILDPLATFORM golang:\${GO_VERSION}-bookworm AS build
ARG TARGETOS TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \\
    --mount=type=cache,target=/root/.cache/go-build \\
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \\
    --mount=type=cache,target=/root/.cache/go-build \\
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \\
    go build -trimpath -ldflags "-s -w -X main.version=\${VERSION}" -o /out/server ./cmd/server

FROM build AS test
RUN go test ./...

FROM \${DISTROLESS} AS final
LABEL org.opencontainers.image.source="https://example.com/app" \\
      org.opencontainers.image.version=$VERSION
COPY --from=build --chown=nonroot:nonroot /out/server /usr/local/bin/server
USER nonroot:nonroot
EXPOSE 8080/tcp
ENTRYPOINT ["/usr/local/bin/server"]
`;

const NODE_APP = `FROM node:20-bookworm-slim AS deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
COPY package.json package-lock.json ./
RUN npm ci --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \\
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --chown=node:node . .
COPY <<EOF /app/config.json
{"port": \${PORT}, "env": "\${NODE_ENV}"}
EOF
USER node
EXPOSE $PORT
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \\
  CMD node -e "fetch('http://localhost:'+process.env.PORT+'/health').then(r=>process.exit(r.ok?0:1))"
STOPSIGNAL SIGTERM
CMD ["node", "server.js"]
`;

const HEREDOCS = `# syntax=docker/dockerfile:1
FROM debian:bookworm
RUN <<EOT bash
  set -eux
  apt-get update
  apt-get install -y --no-install-recommends ca-certificates curl
  rm -rf /var/lib/apt/lists/*
EOT
RUN <<'PY'
#!/usr/bin/env python3
import os
print(os.environ.get("HOME", "$HOME stays"))
PY
COPY <<-"CONF" <<-NGINX /etc/
	listen 80;
	CONF
	server_name $HOSTNAME;
	NGINX
RUN cat <<A <<B > /both.txt
first
A
second
B
`;

const ONBUILD_BASE = `FROM python:3.12-slim
WORKDIR /app
ONBUILD COPY requirements.txt /app/
ONBUILD RUN pip install --no-cache-dir -r requirements.txt
ONBUILD COPY . /app
ONBUILD RUN <<EOF
python -m compileall -q /app
EOF
CMD ["python", "-m", "app"]
`;

const WINDOWS = `# escape=\`
FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command", "$ErrorActionPreference = 'Stop';"]
ARG NODE_VERSION=20.11.0
ENV NODE_HOME=C:\\nodejs
RUN Invoke-WebRequest -OutFile node.zip \`
      -Uri "https://nodejs.org/dist/v$env:NODE_VERSION/node-v$env:NODE_VERSION-win-x64.zip"; \`
    Expand-Archive node.zip -DestinationPath C:\\ ; \`
    Rename-Item "C:\\node-v$env:NODE_VERSION-win-x64" $env:NODE_HOME
WORKDIR C:\\app
COPY package.json C:\\app\\
VOLUME C:\\data
`;

const DEBIAN_SERVICE = `ARG DEBIAN=bookworm
FROM debian:\${DEBIAN}-slim
ARG DEBIAN APT_PROXY
ARG DEBIAN_FRONTEND=noninteractive
ENV LANG=C.UTF-8 \\
    APP_HOME=/opt/svc
# Install packages.
RUN set -eux; \\
    # the proxy is optional
    apt-get update; \\

    apt-get install -y --no-install-recommends tini; \\
    rm -rf /var/lib/apt/lists/*
RUN groupadd -r svc && useradd -r -g svc -d $APP_HOME svc
WORKDIR $APP_HOME
WORKDIR data
VOLUME ["/opt/svc/data", "/var/log/svc"]
EXPOSE 7000-7002/udp
USER svc
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD svc --foreground
`;

interface Walked {
  df: Dockerfile;
  scopes: Map<number, StageScope>;
  expanded: Map<number, Instruction[]>;
  workdir: Map<number, string>;
  args: BuildArgs;
}

/** Walks the planned stages as an executor would, expanding every instruction. */
function walk(text: string, opts: { target?: string; buildArgs?: Record<string, string>; baseEnv?: string[] } = {}): Walked {
  const df = parseDockerfile(text);
  const args = new BuildArgs(df, { buildArgs: opts.buildArgs, buildPlatform: { os: 'linux', architecture: 'amd64' }, targetPlatform: { os: 'linux', architecture: 'arm64' }, target: opts.target });
  const plan = planStages(df, opts.target, { args });
  const scopes = new Map<number, StageScope>();
  const expanded = new Map<number, Instruction[]>();
  const workdir = new Map<number, string>();
  for (const p of plan.stages) {
    const scope = p.base.kind === 'stage' ? args.stage({ parent: scopes.get(p.base.index)! }) : args.stage({ baseEnv: opts.baseEnv ?? ['PATH=/usr/local/bin:/usr/bin:/bin'] });
    let wd = p.base.kind === 'stage' ? workdir.get(p.base.index)! : '/';
    const out: Instruction[] = [];
    for (const ins of p.stage.instructions) {
      if (ins.kind === 'ARG') {
        scope.declare(ins);
        out.push(ins);
        continue;
      }
      const x = instantiate(ins, scope.lookup, df);
      if (x.kind === 'ENV') scope.setEnv(x);
      if (x.kind === 'WORKDIR') wd = normalizeWorkdir(wd, x.path);
      out.push(x);
    }
    scopes.set(p.stage.index, scope);
    expanded.set(p.stage.index, out);
    workdir.set(p.stage.index, wd);
  }
  return { df, scopes, expanded, workdir, args };
}

function find<K extends Instruction['kind']>(list: Instruction[], kind: K, nth = 0): Instruction & { kind: K } {
  const all = list.filter((i) => i.kind === kind);
  assert.ok(all[nth], `${kind} #${nth}`);
  return all[nth] as Instruction & { kind: K };
}

describe('corpus: multi-stage Go build', () => {
  test('structure, directives and the build plan', () => {
    const df = parseDockerfile(GO_MULTISTAGE);
    assert.deepEqual(df.directives, { syntax: 'docker/dockerfile:1.7', check: 'error=true' });
    assert.deepEqual(df.stages.map((s) => s.name), ['build', 'test', 'final']);
    const plan = planStages(df);
    assert.deepEqual(plan.stages.map((s) => s.stage.index), [0, 2], 'the test stage is not needed for final');
    assert.deepEqual(plan.images, ['gcr.io/distroless/static-debian12:nonroot', 'golang:1.22-bookworm']);
    assert.deepEqual(planStages(df, 'test').stages.map((s) => [s.stage.index, s.base]), [[0, { kind: 'image', ref: 'golang:1.22-bookworm' }], [1, { kind: 'stage', index: 0 }]]);
  });

  test('platform args, mounts, expansion and the final image config inputs', () => {
    const w = walk(GO_MULTISTAGE, { buildArgs: { VERSION: '1.4.0', GO_VERSION: '1.23' } });
    assert.deepEqual(w.args.from(w.df.stages[0]), { image: 'golang:1.23-bookworm', platform: 'linux/amd64' });
    const build = w.expanded.get(0)!;
    const run = find(build, 'RUN', 1);
    assert.equal(run.form, 'shell');
    assert.match(run.form === 'shell' ? run.command : '', /GOARCH=\$TARGETARCH {5}go build/);
    assert.deepEqual(run.flags.mount.map((m) => parseRunMount(m, { line: run.line })).map((m) => [m.type, m.target, m.readOnly]), [
      ['cache', '/go/pkg/mod', false],
      ['cache', '/root/.cache/go-build', false],
    ]);
    const runEnv = w.scopes.get(0)!.runEnv();
    assert.ok(runEnv.includes('TARGETARCH=arm64') && runEnv.includes('TARGETOS=linux') && runEnv.includes('VERSION=1.4.0'));
    assert.equal(w.workdir.get(0), '/src');
    const final = w.expanded.get(2)!;
    const label = find(final, 'LABEL');
    assert.deepEqual(label.pairs.map((p) => [p.key, p.value]), [
      ['org.opencontainers.image.source', 'https://example.com/app'],
      ['org.opencontainers.image.version', ''],
    ], 'VERSION is not declared in the final stage, so it is empty there');
    const copy = find(final, 'COPY');
    assert.deepEqual([copy.from, copy.chown, copy.sources, copy.dest], ['build', 'nonroot:nonroot', ['/out/server'], '/usr/local/bin/server']);
    assert.deepEqual(find(final, 'ENTRYPOINT').command, ['/usr/local/bin/server']);
    assert.deepEqual(exposedPorts(find(final, 'EXPOSE').ports, { line: 1 }), ['8080/tcp']);
    assert.deepEqual(w.args.unused(), []);
  });
});

describe('corpus: Node.js application', () => {
  test('ENV continuation, heredoc config expanded with ENV, healthcheck, EXPOSE $PORT', () => {
    const w = walk(NODE_APP, { buildArgs: { UNUSED: 'x' } });
    const rt = w.expanded.get(1)!;
    assert.deepEqual(find(rt, 'ENV').pairs.map((p) => `${p.key}=${p.value}`), ['NODE_ENV=production', 'PORT=3000']);
    assert.deepEqual(find(rt, 'COPY', 2).files, [{ name: 'EOF', data: '{"port": 3000, "env": "production"}\n', expand: true }]);
    assert.deepEqual(find(rt, 'EXPOSE').ports, ['3000']);
    const hc = find(rt, 'HEALTHCHECK').healthcheck;
    assert.deepEqual([hc.Test[0], hc.Interval, hc.Timeout, hc.StartPeriod, hc.Retries], ['CMD-SHELL', 30e9, 3e9, 10e9, 3]);
    assert.match(hc.Test[1], /^node -e "fetch\('http:\/\/localhost:'\+process\.env\.PORT/);
    assert.deepEqual(w.scopes.get(1)!.imageEnv(), ['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_ENV=production', 'PORT=3000']);
    assert.deepEqual(find(rt, 'COPY', 0).from, 'deps');
    assert.equal(w.workdir.get(1), '/app');
    assert.deepEqual(w.args.unused(), ['UNUSED']);
  });
});

describe('corpus: heredocs', () => {
  test('RUN heredocs become scripts; COPY heredocs become files', () => {
    const w = walk(HEREDOCS);
    const ins = w.expanded.get(0)!;
    const [bash, py, both] = ins.filter((i) => i.kind === 'RUN');
    assert.ok(bash.kind === 'RUN' && py.kind === 'RUN' && both.kind === 'RUN');
    assert.deepEqual(planRunCommand(bash), {
      kind: 'shell',
      script: '<<EOT bash\n  set -eux\n  apt-get update\n  apt-get install -y --no-install-recommends ca-certificates curl\n  rm -rf /var/lib/apt/lists/*\nEOT',
    });
    const pyPlan = planRunCommand(py);
    assert.equal(pyPlan.kind, 'file');
    assert.match(pyPlan.kind === 'file' ? pyPlan.data : '', /\$HOME stays/);
    assert.deepEqual(planRunCommand(both), { kind: 'shell', script: 'cat <<A <<B > /both.txt\nfirst\nA\nsecond\nB' });
    const copy = find(ins, 'COPY');
    assert.deepEqual(copy.files, [
      { name: 'CONF', data: 'listen 80;\n', expand: false },
      { name: 'NGINX', data: 'server_name ;\n', expand: true },
    ]);
    assert.deepEqual(ins.map((i) => [i.kind, i.line, i.endLine]), [
      ['RUN', 3, 8],
      ['RUN', 9, 13],
      ['COPY', 14, 18],
      ['RUN', 19, 23],
    ]);
  });
});

describe('corpus: ONBUILD base image', () => {
  test('triggers are parsed now, stored as expressions, and parse back the same', () => {
    const df = parseDockerfile(ONBUILD_BASE);
    const triggers = df.stages[0].instructions.filter((i) => i.kind === 'ONBUILD');
    assert.deepEqual(triggers.map((t) => t.kind === 'ONBUILD' && t.trigger.kind), ['COPY', 'RUN', 'COPY', 'RUN']);
    const expressions = triggers.map((t) => (t.kind === 'ONBUILD' ? t.expression : ''));
    assert.deepEqual(expressions, [
      'COPY requirements.txt /app/',
      'RUN pip install --no-cache-dir -r requirements.txt',
      'COPY . /app',
      'RUN <<EOF\npython -m compileall -q /app\nEOF',
    ]);
    // A child build runs them at its FROM line.
    const again = expressions.map((e) => parseTrigger(e, { line: 1 }));
    assert.deepEqual(again.map((t) => t.kind), ['COPY', 'RUN', 'COPY', 'RUN']);
    const last = again[3];
    assert.deepEqual(last.kind === 'RUN' && planRunCommand(last), { kind: 'shell', script: 'python -m compileall -q /app\n' });
  });
});

describe('corpus: Windows, escape=`', () => {
  test('backtick continuations, backslash paths, PowerShell SHELL', () => {
    const w = walk(WINDOWS, { baseEnv: [] });
    const ins = w.expanded.get(0)!;
    assert.deepEqual(find(ins, 'SHELL').shell, ['powershell', '-Command', "$ErrorActionPreference = 'Stop';"]);
    assert.deepEqual(find(ins, 'ENV').pairs, [{ key: 'NODE_HOME', value: 'C:\\nodejs', legacy: false }]);
    const run = find(ins, 'RUN');
    assert.equal(run.form === 'shell' && run.command.includes('Expand-Archive node.zip -DestinationPath C:\\ ;     Rename-Item'), true);
    assert.deepEqual([run.line, run.endLine], [6, 9]);
    assert.equal(find(ins, 'WORKDIR').path, 'C:\\app');
    assert.deepEqual(find(ins, 'COPY').dest, 'C:\\app\\');
    assert.deepEqual(find(ins, 'VOLUME').paths, ['C:\\data']);
  });
});

describe('corpus: Debian service', () => {
  test('global ARG redeclared, comments and a blank line inside a continuation, relative WORKDIR', () => {
    const warnings: Warning[] = [];
    const df = parseDockerfile(DEBIAN_SERVICE, { onWarning: (x) => warnings.push(x) });
    assert.deepEqual(warnings.map((x) => [x.code, x.details?.line]), [['W_DOCKERFILE_EMPTY_CONTINUATION', 8]]);
    const w = walk(DEBIAN_SERVICE, { buildArgs: { DEBIAN: 'trixie' } });
    assert.equal(w.args.from(w.df.stages[0]).image, 'debian:trixie-slim');
    const ins = w.expanded.get(0)!;
    const [install, users] = ins.filter((i) => i.kind === 'RUN');
    assert.equal(install.kind === 'RUN' && install.command, 'set -eux;     apt-get update;     apt-get install -y --no-install-recommends tini;     rm -rf /var/lib/apt/lists/*');
    assert.equal(users.kind === 'RUN' && users.command, 'groupadd -r svc && useradd -r -g svc -d $APP_HOME svc');
    assert.equal(w.workdir.get(0), '/opt/svc/data');
    assert.deepEqual(find(ins, 'VOLUME').paths, ['/opt/svc/data', '/var/log/svc']);
    assert.deepEqual(exposedPorts(find(ins, 'EXPOSE').ports, { line: 1 }), ['7000/udp', '7001/udp', '7002/udp']);
    assert.deepEqual(find(ins, 'CMD'), { ...find(df.stages[0].instructions, 'CMD') });
    const env = w.scopes.get(0)!.runEnv();
    assert.ok(env.includes('DEBIAN=trixie') && env.includes('DEBIAN_FRONTEND=noninteractive') && !env.some((e) => e.startsWith('APT_PROXY=')));
    assert.ok(!w.scopes.get(0)!.imageEnv().some((e) => e.startsWith('DEBIAN')), 'ARGs never reach the image config');
  });
});
