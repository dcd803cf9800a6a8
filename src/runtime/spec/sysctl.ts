/**
 * `--sysctl KEY=VALUE`: parsing and the namespace rule that decides whether a container may set a
 * key. Sources: docker/cli `opts/opts.go` ValidateSysctl (which keys Docker accepts at all) and
 * runc `libcontainer/configs/validate/validator.go` sysctl (which namespace each key needs, and the
 * wording of its refusals, kept so users recognise them).
 */
import { BerthError } from '../../errors/index.js';
import type { SpecNamespaceType } from './types.js';

export interface Sysctl {
  key: string;
  value: string;
}

/** IPC-namespaced keys (runc validSysctlMap); `fs.mqueue.*` is IPC-namespaced too. */
const IPC_KEYS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** `KEY=VALUE`; the value may contain `=` and spaces (`net.ipv4.ping_group_range=0 2147483647`). */
export function parseSysctl(text: string): Sysctl {
  const eq = text.indexOf('=');
  const key = eq < 0 ? text : text.slice(0, eq);
  if (eq < 0 || key.trim() === '' || /\s/.test(key)) {
    throw new BerthError('E_SPEC_SYSCTL', `parse --sysctl ${text}: not KEY=VALUE`, {
      hint: 'write --sysctl net.ipv4.ping_group_range="0 1000"',
      details: { sysctl: text },
    });
  }
  // The kernel accepts both separators; runc and Docker compare keys in the dotted form.
  return { key: key.replace(/\//g, '.'), value: text.slice(eq + 1) };
}

/** The namespace a key belongs to, or undefined when it is not namespaced (never allowed). */
export function sysctlNamespace(key: string): SpecNamespaceType | undefined {
  if (IPC_KEYS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key.startsWith('net.')) return 'network';
  if (key === 'kernel.domainname' || key === 'kernel.hostname') return 'uts';
  return undefined;
}

/**
 * Throws E_SPEC_SYSCTL when a container with `namespaces` (the ones it creates itself) may not
 * set `key`; `what` names the input for the message.
 */
export function checkSysctl(key: string, namespaces: ReadonlySet<SpecNamespaceType>, what: string, op = 'apply'): void {
  const ns = sysctlNamespace(key);
  const fail = (reason: string, hint: string): never => {
    throw new BerthError('E_SPEC_SYSCTL', `${op} ${what}: ${reason}`, { hint, details: { key } });
  };
  if (ns === 'ipc' && !namespaces.has('ipc')) {
    fail(`sysctl "${key}" is not allowed in the hosts ipc namespace`, 'the container shares the host IPC namespace; drop the --sysctl');
  }
  if (ns === 'network' && !namespaces.has('network')) {
    fail(
      `sysctl "${key}" not allowed in host network namespace`,
      'with --network host the setting would change the host itself: set it on the host, or use --network none',
    );
  }
  if (key === 'kernel.hostname') {
    fail(`sysctl "${key}" is not allowed as it conflicts with the OCI "hostname" field`, 'use --hostname');
  }
  if (ns === 'uts' && !namespaces.has('uts')) {
    fail(`sysctl "${key}" is not in a separate kernel namespace`, 'the container shares the host UTS namespace');
  }
  if (ns === undefined) {
    fail(
      `sysctl "${key}" is not in a separate kernel namespace`,
      'only namespaced sysctls can be set per container: net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*, kernel.domainname',
    );
  }
}
