/**
 * `berth run [OPTIONS] IMAGE [CMD...]`: flags -> one run() call; the container's exit status is
 * berth's. Words after IMAGE belong to the container's command, so berth's options go before it.
 * A container that could not start exits like Docker: 127 (command not found), 126 (not
 * executable), 125 (any other berth or runtime error).
 */
import { run as runContainer } from '../../api/run.js';
import { BerthError, isBerthError } from '../../errors/index.js';
import type { CommandSpec } from '../args.js';
import { flagBool, flagList, flagString, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'run',
  usage: 'berth run [OPTIONS] IMAGE [CMD...]',
  summary: [
    'Run a command in a new container from a stored image, with the identity `berth explain`',
    'predicts. As root the container runs directly on runc; as a plain user, in a user namespace',
    'with your full subordinate-ID range. stdin (with -i), stdout and stderr pass through, and',
    'berth exits with the container\'s status (128+n when a signal ended it). Words after IMAGE',
    'are the command, so put options before IMAGE.',
  ].join('\n'),
  passthroughAfter: 1,
  flags: [
    { name: 'rm', kind: 'boolean', help: 'remove the container when it exits' },
    { name: 'pull', kind: 'string', value: 'always|missing|never', help: 'pull the image from its registry (default missing: only when the store lacks it)' },
    { name: 'tls-verify', kind: 'string', value: 'true|false', help: 'registry transport for a pull: false allows plain HTTP' },
    { name: 'name', kind: 'string', value: 'NAME', help: 'name the container' },
    { name: 'user', short: 'u', kind: 'string', value: 'USER[:GROUP]', help: 'user name or uid, and optionally group name or gid' },
    { name: 'group-add', kind: 'multi', value: 'GROUP', help: 'add a supplementary group' },
    { name: 'cap-add', kind: 'multi', value: 'CAP', help: 'add a capability to the bounding set (or ALL)' },
    { name: 'cap-drop', kind: 'multi', value: 'CAP', help: 'drop a capability (or ALL)' },
    { name: 'workdir', short: 'w', kind: 'string', value: 'DIR', help: 'working directory inside the container (absolute)' },
    { name: 'env', short: 'e', kind: 'multi', value: 'NAME[=VALUE]', help: 'set an environment variable (NAME alone: from berth\'s environment)' },
    { name: 'env-file', kind: 'multi', value: 'FILE', help: 'read NAME=VALUE lines from a file' },
    { name: 'entrypoint', kind: 'string', value: 'CMD', help: 'override the image ENTRYPOINT ("" clears it)' },
    { name: 'volume', short: 'v', kind: 'multi', value: 'SRC:DST[:ro]', help: 'bind-mount an absolute host path' },
    { name: 'read-only', kind: 'boolean', help: 'mount the container\'s root file system read-only' },
    { name: 'network', kind: 'string', value: 'none|host', help: 'network namespace: none (own, loopback only; default) or host' },
    { name: 'sysctl', kind: 'multi', value: 'KEY=VALUE', help: 'set a namespaced kernel parameter' },
    { name: 'security-opt', kind: 'multi', value: 'OPT', help: 'no-new-privileges[:true|false]' },
    { name: 'userns', kind: 'string', value: 'MODE', help: 'user namespace: host (default), keep-id[:uid=N,gid=N], nomap, auto[:size=N]' },
    { name: 'uidmap', kind: 'multi', value: 'C:H:N', help: 'container uid map entry (podman syntax, IDs of berth\'s namespace)' },
    { name: 'gidmap', kind: 'multi', value: 'C:H:N', help: 'container gid map entry' },
    { name: 'interactive', short: 'i', kind: 'boolean', help: 'keep stdin open' },
    { name: 'tty', short: 't', kind: 'boolean', help: 'allocate a terminal for the container' },
    { name: 'hostname', kind: 'string', value: 'NAME', help: 'container host name' },
    { name: 'runtime', kind: 'string', value: 'runc|crun', help: 'OCI runtime (default runc)' },
  ],
};

function usage(reason: string): BerthError {
  return new BerthError('E_CLI_USAGE', `berth run: ${reason}`, { hint: `usage: ${spec.usage} (see \`berth run --help\`)` });
}

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  const image = p.positionals[0];
  if (image === undefined) throw usage('expected an IMAGE');
  const network = flagString(p, 'network');
  if (network !== undefined && network !== 'none' && network !== 'host') throw usage(`--network takes none or host, got "${network}"`);
  const runtime = flagString(p, 'runtime');
  if (runtime !== undefined && runtime !== 'runc' && runtime !== 'crun') throw usage(`--runtime takes runc or crun, got "${runtime}"`);
  const tty = flagBool(p, 'tty');
  try {
    const r = await runContainer({
      root: ctx.root,
      onWarning: ctx.warn,
      image,
      ...(p.rest.length > 0 ? { cmd: p.rest } : {}),
      ...(flagString(p, 'entrypoint') !== undefined ? { entrypoint: flagString(p, 'entrypoint') } : {}),
      ...(flagString(p, 'name') !== undefined ? { name: flagString(p, 'name') } : {}),
      rm: flagBool(p, 'rm'),
      ...(flagString(p, 'user') !== undefined ? { user: flagString(p, 'user') } : {}),
      groupAdd: flagList(p, 'group-add'),
      capAdd: flagList(p, 'cap-add'),
      capDrop: flagList(p, 'cap-drop'),
      ...(flagString(p, 'workdir') !== undefined ? { workdir: flagString(p, 'workdir') } : {}),
      env: flagList(p, 'env'),
      envFile: flagList(p, 'env-file'),
      volumes: flagList(p, 'volume'),
      readOnly: flagBool(p, 'read-only'),
      ...(network !== undefined ? { network } : {}),
      sysctls: flagList(p, 'sysctl'),
      securityOpt: flagList(p, 'security-opt'),
      ...(flagString(p, 'userns') !== undefined ? { userns: flagString(p, 'userns') } : {}),
      uidmap: flagList(p, 'uidmap'),
      gidmap: flagList(p, 'gidmap'),
      interactive: flagBool(p, 'interactive'),
      tty,
      ...(flagString(p, 'hostname') !== undefined ? { hostname: flagString(p, 'hostname') } : {}),
      ...(runtime !== undefined ? { runtime } : {}),
      stdio: 'inherit',
      forwardSignals: true,
      // One container per process: a namespace kept for later runs would only cost a process.
      shareUserNamespace: false,
      ...(flagString(p, 'pull') !== undefined ? { pull: flagString(p, 'pull') as 'always' | 'missing' | 'never' } : {}),
      ...(flagString(p, 'tls-verify') !== undefined ? { tlsVerify: flagString(p, 'tls-verify') !== 'false' } : {}),
      callerEnv: ctx.env,
    });
    return r.exitCode;
  } catch (e) {
    // Docker's convention for a container that could not start: 127 not found, 126 not executable.
    const exit = isBerthError(e) ? (e.details?.exitCode as number | undefined) : undefined;
    if (isBerthError(e) && (exit === 126 || exit === 127)) {
      ctx.stderr.write(`berth: ${e.message}\n`);
      if (e.hint) ctx.stderr.write(`hint: ${e.hint}\n`);
      return exit;
    }
    throw e;
  }
}
