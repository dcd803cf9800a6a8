/**
 * explain/explain: resolve, then run every rule, then shape the report. Deterministic: the same
 * input gives the same report, byte for byte (sets sorted, findings sorted, provenance keys sorted).
 */
import { BerthError } from '../errors/index.js';
import { capSetToNames } from '../caps/set.js';
import { resolveFacts, type Facts } from './facts.js';
import type { ExplainInput } from './input.js';
import { sortFindings, type ExplainReport, type ReportUser } from './report.js';
import { RULES } from './rules/index.js';

function reportUser(f: Facts): ReportUser | null {
  if (!f.user) return null;
  const u = f.user;
  const groupNames: Record<string, string> = {};
  for (const gid of [u.gid, ...u.groups].sort((a, b) => a - b)) {
    const name = f.db.group?.find((g) => g.gid === gid)?.name;
    if (name !== undefined) groupNames[String(gid)] = name;
  }
  return { uid: u.uid, gid: u.gid, additionalGids: [...new Set(u.groups)].sort((a, b) => a - b), home: u.home, ...(u.name !== undefined ? { name: u.name } : {}), groupNames };
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k];
  return out;
}

export function explain(input: ExplainInput): ExplainReport {
  const f = resolveFacts(input);
  const findings = RULES.flatMap((rule) => {
    const out = rule.check(f);
    for (const x of out) {
      // Invariant: a rule reports only its own code, so codes stay documented one per rule.
      if (x.code !== rule.code) {
        throw new BerthError('E_EXPLAIN_RULE', `explain rule ${rule.code}: produced a finding with code ${x.code}`, {
          hint: 'this is a bug in berth; please report it',
        });
      }
    }
    return out;
  });
  const e = f.exec;
  const after = e.outcome === 'ok' && e.transform ? e.transform.caps : f.caps.proc;
  const provenance = { ...f.provenance };
  if (!f.user) provenance.exec = 'not reached: the container fails while resolving its user; the exec is predicted for uid 0';
  else if (f.startBlockers.length > 0) provenance.exec = `not reached: the container fails before exec (${f.startBlockers.join(', ')})`;
  if (e.transform) provenance['exec.capabilities'] = e.transform.reason.join('; ');
  else if (e.fileCapsError) provenance['exec.capabilities'] = e.fileCapsError.message;
  return {
    profile: f.profile,
    engine: f.engine.title,
    image: { ...(f.image.reference !== undefined ? { reference: f.image.reference } : {}), ...(f.image.id !== undefined ? { id: f.image.id } : {}) },
    process: {
      user: reportUser(f),
      cwd: f.cwd.path,
      args: f.args.argv,
      noNewPrivileges: f.noNewPrivs.value,
      capabilities: {
        bounding: capSetToNames(f.caps.proc.bounding),
        effective: capSetToNames(f.caps.proc.effective),
        permitted: capSetToNames(f.caps.proc.permitted),
        inheritable: capSetToNames(f.caps.proc.inheritable),
        ambient: capSetToNames(f.caps.proc.ambient),
      },
    },
    exec: {
      path: e.path,
      ...(e.resolved !== undefined && e.resolved !== e.path ? { resolved: e.resolved } : {}),
      fileCapabilities: e.fileCapsText,
      setuid: e.inode ? (e.inode.mode & 0o4000) !== 0 : false,
      setgid: e.inode ? (e.inode.mode & 0o2000) !== 0 : false,
      outcome: e.outcome,
      reached: f.user !== undefined && f.startBlockers.length === 0,
      capabilities: { effective: capSetToNames(after.effective), permitted: capSetToNames(after.permitted) },
    },
    findings: sortFindings(findings),
    provenance: sortedRecord(provenance),
  };
}
