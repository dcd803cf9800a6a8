/**
 * explain/rules/common: the Rule shape and the sentences several rules share (who the process
 * is, what a path's metadata is), so every finding describes the same facts the same way.
 */
import type { Finding, Severity } from '../../errors/index.js';
import { capHas, capSetToNames } from '../../caps/set.js';
import { formatMode, type InodeInfo } from '../../perms/access.js';
import type { Facts } from '../facts.js';

/** One finding code and the check that produces it. Rules are pure functions of the facts. */
export interface Rule {
  code: string;
  check(facts: Facts): Finding[];
}

export function finding(code: string, severity: Severity, subject: string, message: string, because: string[], fix: string): Finding {
  return { code, severity, subject, message, because: because.filter((b) => b !== ''), fix };
}

/** `uid 1000680000, gid 0, groups [0, 1000680000]`. */
export function whoIs(f: Facts): string {
  if (!f.user) return 'an unresolved user';
  const u = f.user;
  return `uid ${u.uid}${u.name ? ` (${u.name})` : ''}, gid ${u.gid}, groups [${u.groups.join(', ')}]`;
}

/** Where the user spec came from, for error findings. */
export function userSpecSource(f: Facts): { spec: string; from: string } {
  if (f.engine.kubernetes) {
    if (f.pod?.runAsUser !== undefined) return { spec: String(f.pod.runAsUser), from: `runAsUser in ${f.pod.source ?? 'the pod'}` };
    return { spec: f.image.user, from: 'the image USER (the kubelet passes it to the runtime)' };
  }
  if (f.run.user !== undefined && f.run.user !== '') return { spec: f.run.user, from: '--user' };
  return { spec: f.image.user, from: f.image.user === '' ? 'no USER in the image (root)' : 'the image USER' };
}

/** `mode 0700 owned by 65532:65532`. */
export function inodeText(inode: Pick<InodeInfo, 'mode' | 'uid' | 'gid'>): string {
  return `mode ${formatMode(inode.mode)} owned by ${inode.uid}:${inode.gid}`;
}

/** The DAC capabilities the program holds after exec, in words. */
export function dacCapsText(f: Facts): string {
  const eff = f.capsAfter.effective;
  const held = ['CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH'].filter((c) => capHas(eff, c));
  return held.length > 0
    ? `the program holds ${held.join(' and ')} after exec`
    : `the program holds no CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH after exec (effective set: ${capSetToNames(eff).join(', ') || 'empty'})`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
