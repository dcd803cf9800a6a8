/**
 * The protocol of berth's programs that run inside the user namespace (unpack-child.ts,
 * build/pack-child.ts): stdout carries one JSON object per line, `{"warning":{...}}` for each
 * warning, the program's own result objects, and `{"error":{code,message,hint,details}}` when it
 * fails. This module holds both ends: writing those lines, and reading them back in berth.
 */
import { BerthError, isBerthError, type Warning, type WarningSink } from '../../errors/index.js';
import type { ExitStatus, UserNsChild } from '../userns/index.js';

/** Child side: one protocol line. */
export function emit(o: unknown): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

/** Child side: runs `main`, reporting a failure as an error line (codes kept) and exit status 1. */
export function runChild(main: () => Promise<void>, fallbackCode: string): void {
  main().catch((e: unknown) => {
    if (isBerthError(e)) emit({ error: { code: e.code, message: e.message, hint: e.hint, details: e.details } });
    else emit({ error: { code: fallbackCode, message: (e as Error)?.stack ?? String(e) } });
    process.exitCode = 1;
  });
}

export interface ChildReport {
  status: ExitStatus;
  /** The first 64 KiB of stderr, for messages. */
  stderr: string;
  /** Every line that is neither a warning nor an error. */
  results: Record<string, unknown>[];
}

/**
 * Parent side: waits for the child, passes its warnings on, and throws the error it reported
 * (with its code, hint and details). The caller decides what a missing result or a bad status means.
 */
export async function readChildReport(child: UserNsChild, onWarning: WarningSink): Promise<ChildReport> {
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (err.length < 65536) err += d;
  });
  const status = await child.wait();
  const results: Record<string, unknown>[] = [];
  let failure: BerthError | undefined;
  for (const line of out.split('\n')) {
    if (line === '') continue;
    let o: { warning?: Warning; error?: { code: string; message: string; hint?: string; details?: Record<string, unknown> } } & Record<string, unknown>;
    try {
      o = JSON.parse(line);
    } catch {
      continue;
    }
    if (o.warning) onWarning(o.warning);
    else if (o.error) failure ??= new BerthError(o.error.code, o.error.message, { ...(o.error.hint ? { hint: o.error.hint } : {}), ...(o.error.details ? { details: o.error.details } : {}) });
    else results.push(o);
  }
  if (failure) throw failure;
  return { status, stderr: err, results };
}

/** `killed by SIGX` or `status N`, and the stderr text, for a child that failed without reporting why. */
export function describeExit(r: Pick<ChildReport, 'status' | 'stderr'>): string {
  const how = r.status.signal ? `killed by ${r.status.signal}` : `status ${String(r.status.code)}`;
  return `${how}${r.stderr.trim() ? `: ${r.stderr.trim().slice(0, 2000)}` : ''}`;
}
