/**
 * explain/rules/image: findings about the image's files as a whole: well-known programs that lost
 * the capability or setuid bit they need, the set-ID files a process could use, and file owners
 * a rootless user namespace cannot hold.
 */
import type { Finding } from '../../errors/index.js';
import { formatMode } from '../../perms/access.js';
import { uncoveredIds } from '../../idmap/coverage.js';
import type { IdMap } from '../../idmap/ranges.js';
import { mapText, type Facts } from '../facts.js';
import { finding, plural, type Rule } from './common.js';

/** Whether the kernel lets this process open an ICMP datagram socket (net/ipv4/ping.c ping_init_sock). */
function icmpAllowed(f: Facts): { allowed: boolean; because: string } {
  const r = f.engine.pingGroupRange;
  if (!r) {
    return { allowed: false, because: `${f.engine.title} leaves net.ipv4.ping_group_range at the kernel default "1 0": no group may open ICMP datagram sockets` };
  }
  const groups = [f.user!.gid, ...f.user!.groups];
  const hit = groups.find((g) => g >= r.low && g <= r.high);
  const range = `net.ipv4.ping_group_range is "${r.low} ${r.high}" (${r.source})`;
  return hit !== undefined
    ? { allowed: true, because: `${range}, which includes gid ${hit}: iputils ping falls back to an ICMP datagram socket and works without the capability` }
    : { allowed: false, because: `${range}, which includes none of the process's groups [${groups.join(', ')}]` };
}

export const fileCapsLost: Rule = {
  code: 'FILE_CAPS_LOST',
  check(f) {
    if (!f.user) return [];
    const euid = f.exec.transform?.euid ?? f.user.uid;
    if (euid === 0) return [];
    const out: Finding[] = [];
    for (const p of f.scan.privilegedPrograms) {
      if (p.capability !== undefined || (p.mode & 0o4000) !== 0) continue;
      const because = [
        `${p.path} is a regular file, mode ${formatMode(p.mode)} owned by ${p.uid}:${p.gid}, with no security.capability and no setuid bit`,
        `${p.program.name} needs ${p.program.needs} when a non-root user runs it`,
        `the process runs as uid ${euid}, not root`,
      ];
      let severity = p.program.severity;
      if (p.program.icmp) {
        const icmp = icmpAllowed(f);
        because.push(icmp.because);
        if (icmp.allowed) severity = 'info';
      }
      because.push(
        'usual cause: a tool that dropped the xattr while building or copying the image (GNU tar without --xattrs --xattrs-include=\'*\', umoci unpack --rootless, kaniko#1837 and #2176, COPY --from in kaniko and Docker 24.0.5 per kaniko#2866) or a chown after setcap, which clears it',
      );
      out.push(
        finding(
          'FILE_CAPS_LOST',
          severity,
          p.path,
          `${p.path} has neither its file capability nor the setuid bit, so ${p.program.name} cannot do its privileged work as uid ${euid}`,
          because,
          p.program.needs.startsWith('cap_')
            ? `restore it in the image (RUN setcap cap_net_raw+ep ${p.path}, or reinstall the package) and build with a tool that keeps security.capability`
            : `restore it (RUN chmod u+s ${p.path}, or reinstall the package) if the container needs it`,
        ),
      );
    }
    return out;
  },
};

/** At most this many files are listed one by one. */
const MAX_LISTED = 50;

export const setuidFiles: Rule = {
  code: 'SETUID_FILES',
  check(f) {
    const files = f.scan.setidFiles;
    if (files.length === 0) return [];
    const because = files.slice(0, MAX_LISTED).map((s) => {
      const bits = [(s.mode & 0o4000) !== 0 ? `setuid ${s.uid === 0 ? 'root' : `uid ${s.uid}`}` : '', (s.mode & 0o2000) !== 0 ? `setgid gid ${s.gid}` : '']
        .filter(Boolean)
        .join(', ');
      return `${s.path}: mode ${formatMode(s.mode)} owned by ${s.uid}:${s.gid} (${bits})`;
    });
    if (files.length > MAX_LISTED) because.push(`and ${files.length - MAX_LISTED} more`);
    because.push(
      f.noNewPrivs.value
        ? `no_new_privs is set (${f.noNewPrivs.because}): the kernel ignores these bits in this container`
        : 'no_new_privs is not set: running any of them changes the effective uid or gid',
    );
    return [
      finding(
        'SETUID_FILES',
        'info',
        plural(files.length, 'set-ID file'),
        `the image has ${plural(files.length, 'setuid or setgid file')}, each a way for the process to change its credentials`,
        because,
        'remove the bits from programs the container does not need (RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +), or run with no_new_privs',
      ),
    ];
  },
};

function rangeFix(f: Facts, need: number): string {
  const user = f.userns.assumed.length > 0 ? 'USER' : 'the user';
  const start = f.userns.subuids[0]?.start ?? 100000;
  return `delegate at least ${need} subordinate IDs to ${user}, e.g. sudo usermod --add-subuids ${start}-${start + need - 1} --add-subgids ${start}-${start + need - 1} USER (then run \`podman system migrate\` for podman), or rebuild the image so its files are owned by lower IDs`;
}

export const idsOutsideMapping: Rule = {
  code: 'IDS_OUTSIDE_MAPPING',
  check(f) {
    const ns = f.userns;
    if (!ns.modelled || !f.scan.uids || !f.scan.gids) return [];
    const check = (kind: 'uid' | 'gid', map: IdMap, owners: Map<number, string[]>) => ({ kind, map, u: uncoveredIds(map, owners) });
    const results = [check('uid', ns.container.uidMap, f.scan.uids), check('gid', ns.container.gidMap, f.scan.gids)].filter((r) => r.u.ids.length > 0);
    if (results.length === 0) return [];
    const because: string[] = [];
    if (ns.rootless) {
      because.push(
        `rootless: the intermediate user namespace maps uids ${mapText(ns.uidNamespace)} and gids ${mapText(ns.gidNamespace)}, so container IDs 0..${ns.uidNamespace.reduce((n, r) => n + r.size, 0) - 1} exist (the user's own ID plus the subordinate IDs)`,
      );
    }
    for (const a of ns.assumed) because.push(`assumed: ${a}`);
    if (ns.container.userns) because.push(`--userns ${ns.container.mode} maps container uids ${mapText(ns.container.uidMap)}`);
    let need = 0;
    for (const r of results) {
      for (const s of r.u.samples) because.push(`${r.kind} ${s.id} owns ${s.paths.join(', ')}${s.paths.length < (r.kind === 'uid' ? f.scan.uids : f.scan.gids).get(s.id)!.length ? ', ...' : ''}`);
      if (r.u.ids.length > r.u.samples.length) because.push(`and ${r.u.ids.length - r.u.samples.length} more ${r.kind}s`);
      need = Math.max(need, r.u.requiredSubids);
    }
    const first = results[0].u;
    const firstPath = first.samples[0]?.paths[0] ?? '';
    because.push(
      f.profile === 'podman-rootless'
        ? `podman fails while storing the layer: "potentially insufficient UIDs or GIDs available in user namespace (requested ${first.ids[0]}:${first.ids[0]} for ${firstPath}): Check /etc/subuid and /etc/subgid if configured locally and run "podman system migrate": lchown ${firstPath}: invalid argument"`
        : 'chown to an ID the namespace does not map fails with EINVAL (user_namespaces(7)); berth checks every owner before writing and refuses the layer',
    );
    const ids = results.map((r) => `${r.kind}s ${r.u.ids.slice(0, 5).join(', ')}${r.u.ids.length > 5 ? ', ...' : ''}`).join(' and ');
    // A file counts once even when both its owner and its group are unmapped.
    const files = new Set<string>();
    for (const r of results) {
      const owners = r.kind === 'uid' ? f.scan.uids : f.scan.gids;
      for (const id of r.u.ids) for (const p of owners.get(id) ?? []) files.add(p);
    }
    return [
      finding(
        'IDS_OUTSIDE_MAPPING',
        'error',
        ids,
        `the image cannot be unpacked in this user namespace: ${plural(files.size, 'file is', 'files are')} owned by ${ids}, which it does not map`,
        because,
        rangeFix(f, need),
      ),
    ];
  },
};

export const IMAGE_RULES: readonly Rule[] = [fileCapsLost, setuidFiles, idsOutsideMapping];
