/**
 * explain/render: the text form of an ExplainReport, for people. The process's identity reads
 * the way `id` prints it, then capabilities, working directory and the exec outcome, then the
 * findings grouped by severity, each with its chain of facts and its fix.
 */
import type { Finding, Severity } from '../errors/index.js';
import { SEVERITY_ORDER, sortFindings, type ExplainReport, type ReportUser } from './report.js';

/**
 * `uid=10000(foo) gid=10000(foo) groups=10000(foo),20000(bar)`, as GNU id(1) prints it inside the
 * container: the primary gid first, then the supplementary groups in the kernel's (ascending) order.
 */
export function formatIdLine(user: ReportUser): string {
  const named = (id: number, name: string | undefined) => (name === undefined ? String(id) : `${id}(${name})`);
  const group = (gid: number) => named(gid, user.groupNames[String(gid)]);
  const groups = [user.gid, ...user.additionalGids.filter((g) => g !== user.gid)];
  return `uid=${named(user.uid, user.name)} gid=${group(user.gid)} groups=${groups.map(group).join(',')}`;
}

function capList(names: readonly string[]): string {
  return names.length === 0 ? '(none)' : names.join(' ');
}

const HEADINGS: Record<Severity, [string, string]> = {
  error: ['error', 'errors'],
  warning: ['warning', 'warnings'],
  info: ['note', 'notes'],
};

function renderFinding(f: Finding, out: string[]): void {
  out.push(`  ${f.code}  ${f.subject}`);
  out.push(`    ${f.message}`);
  if (f.because.length > 0) {
    out.push('    because:');
    for (const b of f.because) out.push(`      - ${b}`);
  }
  if (f.fix) out.push(`    fix: ${f.fix}`);
}

export function renderReport(report: ExplainReport): string {
  const out: string[] = [];
  const img = report.image.reference ?? report.image.id ?? 'image';
  out.push(`${img} under profile ${report.profile}: ${report.engine}`);
  out.push('');
  out.push('Process');
  const p = report.process;
  if (p.user) {
    out.push(`  ${formatIdLine(p.user)}`);
    out.push(`  HOME=${p.user.home}`);
  } else {
    out.push('  user: cannot be resolved (the container does not start; see the errors below)');
  }
  out.push(`  cwd:  ${p.cwd}`);
  out.push(`  args: ${p.args.length === 0 ? '(none)' : JSON.stringify(p.args)}`);
  out.push(`  no_new_privs: ${p.noNewPrivileges ? 'yes' : 'no'}`);
  out.push('  capabilities before exec:');
  out.push(`    bounding:    ${capList(p.capabilities.bounding)}`);
  out.push(`    effective:   ${capList(p.capabilities.effective)}`);
  out.push(`    permitted:   ${capList(p.capabilities.permitted)}`);
  out.push(`    inheritable: ${capList(p.capabilities.inheritable)}`);
  out.push(`    ambient:     ${capList(p.capabilities.ambient)}`);
  out.push('');
  out.push('Exec');
  const e = report.exec;
  if (!e.reached) {
    out.push('  not reached: the container fails before exec (see the errors below)');
  } else if (e.path === null) {
    out.push(`  ${p.args[0] ?? '(no command)'}: ${e.outcome}`);
  } else {
    const marks = [e.setuid ? 'setuid' : '', e.setgid ? 'setgid' : '', e.fileCapabilities ? e.fileCapabilities : ''].filter(Boolean);
    const shown = e.resolved !== undefined ? `${e.path} -> ${e.resolved}` : e.path;
    out.push(`  ${shown}${marks.length ? ` (${marks.join(', ')})` : ''}: ${e.outcome === 'ok' ? 'execs' : `fails with ${e.outcome}`}`);
    if (e.outcome === 'ok') {
      out.push(`  after exec: effective ${capList(e.capabilities.effective)}; permitted ${capList(e.capabilities.permitted)}`);
    }
  }
  out.push('');

  const findings = sortFindings(report.findings);
  if (findings.length === 0) {
    out.push('No findings.');
  } else {
    const counts = SEVERITY_ORDER.map((s) => [s, findings.filter((f) => f.severity === s).length] as const)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${HEADINGS[s][n === 1 ? 0 : 1]}`);
    out.push(`Findings: ${counts.join(', ')}`);
    for (const s of SEVERITY_ORDER) {
      const group = findings.filter((f) => f.severity === s);
      if (group.length === 0) continue;
      out.push('');
      out.push(`${HEADINGS[s][1][0].toUpperCase()}${HEADINGS[s][1].slice(1)}:`);
      group.forEach((f, i) => {
        if (i > 0) out.push('');
        renderFinding(f, out);
      });
    }
  }
  return `${out.join('\n')}\n`;
}
