/**
 * `berth explain [OPTIONS] IMAGE [CMD...]`: flags -> one explainImage() call -> the text report or
 * --json. Flag syntax (ranges, --security-opt) is parsed here; every other check is the API's.
 */
import { explainImage } from '../../api/explain.js';
import { renderReport } from '../../explain/render.js';
import { parseSecurityOpts, parseSubuidRange, parseUidRange } from '../../explain/input.js';
import { PROFILE_NAMES } from '../../explain/profiles.js';
import type { ProfileName } from '../../identity/types.js';
import { BerthError } from '../../errors/index.js';
import type { CommandSpec } from '../args.js';
import { flagBool, flagList, flagString, parseArgs } from '../args.js';
import type { CliContext } from '../context.js';

export const spec: CommandSpec = {
  name: 'explain',
  usage: 'berth explain [OPTIONS] IMAGE [CMD...]',
  summary: [
    'Predict, from the image alone, who the container process will be (uid, gid, groups, HOME,',
    'capabilities, working directory, the program it execs) under an engine profile, and which',
    'failures will follow, each with the chain of facts behind it and a fix. Reads only the image',
    'config and the per-layer file index. Exits 0 when the report was produced, whatever it finds.',
    '',
    `Profiles: ${PROFILE_NAMES.join(', ')}.`,
    'With --pod, the container\'s securityContext applies (profile kubernetes unless openshift is',
    'given) and IMAGE may be omitted: the container\'s image is used. Words after IMAGE are the',
    'command, as for `run`, so put options before IMAGE.',
  ].join('\n'),
  passthroughAfter: 1,
  flags: [
    { name: 'profile', kind: 'string', value: 'NAME', help: 'engine profile (default berth; kubernetes when --pod is given)' },
    { name: 'user', short: 'u', kind: 'string', value: 'USER[:GROUP]', help: 'run as this user, as `run -u` would' },
    { name: 'group-add', kind: 'multi', value: 'GROUP', help: 'add a supplementary group' },
    { name: 'cap-add', kind: 'multi', value: 'CAP', help: 'add a capability to the bounding set (or ALL)' },
    { name: 'cap-drop', kind: 'multi', value: 'CAP', help: 'drop a capability (or ALL)' },
    { name: 'workdir', short: 'w', kind: 'string', value: 'DIR', help: 'working directory (absolute)' },
    { name: 'security-opt', kind: 'multi', value: 'OPT', help: 'no-new-privileges[:true|false]' },
    { name: 'userns', kind: 'string', value: 'MODE', help: 'user namespace mode: host, keep-id[:uid=N,gid=N], nomap, auto[:size=N]' },
    { name: 'subuid-range', kind: 'string', value: 'START:COUNT', help: 'model a rootless host with this subordinate ID range' },
    { name: 'uid-range', kind: 'string', value: 'START/SIZE', help: 'OpenShift namespace UID range (default 1000680000/10000)' },
    { name: 'pod', kind: 'string', value: 'FILE', help: 'Kubernetes Pod or workload YAML whose securityContext applies' },
    { name: 'container', kind: 'string', value: 'NAME', help: 'container in --pod (default: the first)' },
    { name: 'runtime-default', kind: 'string', value: 'CRI', help: 'node runtime for kubernetes/openshift: cri-o (default) or containerd' },
    { name: 'entrypoint', kind: 'string', value: 'CMD', help: 'override the image ENTRYPOINT ("" clears it)' },
    { name: 'json', kind: 'boolean', help: 'print the report as JSON' },
  ],
};

function usage(reason: string): BerthError {
  return new BerthError('E_CLI_USAGE', `berth explain: ${reason}`, { hint: `usage: ${spec.usage} (see \`berth explain --help\`)` });
}

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const p = parseArgs(spec, argv);
  const pod = flagString(p, 'pod');
  const image = p.positionals[0];
  if (image === undefined && pod === undefined) throw usage('expected an IMAGE');

  const profileFlag = flagString(p, 'profile');
  if (profileFlag !== undefined && !(PROFILE_NAMES as readonly string[]).includes(profileFlag)) {
    throw usage(`unknown profile "${profileFlag}" (profiles: ${PROFILE_NAMES.join(', ')})`);
  }
  const cri = flagString(p, 'runtime-default');
  if (cri !== undefined && cri !== 'cri-o' && cri !== 'containerd') throw usage(`--runtime-default takes cri-o or containerd, got "${cri}"`);

  const security = parseSecurityOpts(flagList(p, 'security-opt'));
  for (const opt of security.ignored) {
    ctx.warn({ code: 'W_SECURITY_OPT_IGNORED', message: `--security-opt ${opt} does not change the process's credentials; explain ignores it` });
  }
  const subuid = flagString(p, 'subuid-range');
  const uidRange = flagString(p, 'uid-range');
  const entrypoint = flagString(p, 'entrypoint');

  const report = await explainImage({
    root: ctx.root,
    onWarning: ctx.warn,
    image,
    profile: profileFlag as ProfileName | undefined,
    runtimeDefault: cri as 'cri-o' | 'containerd' | undefined,
    user: flagString(p, 'user'),
    groupAdd: flagList(p, 'group-add'),
    capAdd: flagList(p, 'cap-add'),
    capDrop: flagList(p, 'cap-drop'),
    workdir: flagString(p, 'workdir'),
    noNewPrivileges: security.noNewPrivileges,
    userns: flagString(p, 'userns'),
    subuidRange: subuid === undefined ? undefined : parseSubuidRange(subuid),
    uidRange: uidRange === undefined ? undefined : parseUidRange(uidRange),
    pod,
    container: flagString(p, 'container'),
    // Docker's `--entrypoint ""` clears the image ENTRYPOINT.
    entrypoint: entrypoint === undefined ? undefined : entrypoint === '' ? [] : [entrypoint],
    args: p.rest.length > 0 ? p.rest : undefined,
  });
  if (flagBool(p, 'json')) ctx.json(report);
  else ctx.out(renderReport(report));
  return 0;
}
