/** `check` results as a terminal table or JSON, and `--pin` outcomes. */
import { table } from '../cli/format.js';
import type { CheckRun } from './run.js';
import { checkSeverities, type CheckSeverity } from './verdict.js';
import type { PinPlan } from './pin.js';

export interface CheckSummary {
  files: number;
  references: number;
  bySeverity: Record<CheckSeverity, number>;
  movedWithin: string;
}

export function summarise(run: CheckRun, movedWithin: string): CheckSummary {
  const bySeverity = Object.fromEntries(checkSeverities.map((s) => [s, 0])) as Record<CheckSeverity, number>;
  for (const e of run.entries) bySeverity[e.result.severity]++;
  return { files: run.inputs.length, references: run.entries.filter((e) => e.site).length, bySeverity, movedWithin };
}

export function checkJson(run: CheckRun, movedWithin: string): string {
  return JSON.stringify({ results: run.entries.map((e) => e.result), summary: summarise(run, movedWithin) });
}

export function renderCheckTable(run: CheckRun, movedWithin: string): string {
  const s = summarise(run, movedWithin);
  if (!run.entries.length) return `no image references found in ${s.files} file(s)`;
  const rows = run.entries.map((e) => {
    const r = e.result;
    const reason = r.notes.length ? `${r.reason} (+ ${r.notes.join('; ')})` : r.reason;
    return [`${r.file}:${r.line}`, r.severity === 'none' ? 'ok' : r.severity, r.verdict, r.reference ?? '-', reason];
  });
  const counts = [...checkSeverities]
    .reverse()
    .filter((sev) => s.bySeverity[sev] > 0)
    .map((sev) => `${s.bySeverity[sev]} ${sev === 'none' ? 'ok' : sev}`)
    .join(', ');
  return `${table(['LOCATION', 'SEVERITY', 'VERDICT', 'IMAGE', 'REASON'], rows)}\n\n${s.references} reference(s) in ${s.files} file(s): ${counts}`;
}

export function pinJson(plan: PinPlan, opts: { dryRun: boolean }): string {
  return JSON.stringify({ dryRun: opts.dryRun, pins: plan.outcomes, files: plan.files.map((f) => f.input.file) });
}

export function renderPinTable(plan: PinPlan, opts: { dryRun: boolean }): string {
  if (!plan.outcomes.length) return 'no image references found';
  const rows = plan.outcomes.map((o) => [`${o.file}:${o.line}`, o.status, o.reference ?? '-', o.status === 'pinned' ? `${o.pinned} (${o.reason})` : o.reason]);
  const count = (s: string) => plan.outcomes.filter((o) => o.status === s).length;
  const verb = opts.dryRun ? 'would pin' : 'pinned';
  return `${table(['LOCATION', 'PIN', 'IMAGE', 'DETAIL'], rows)}\n\n${verb} ${count('pinned')}, refused ${count('refused')}, skipped ${count('skipped')}; ${opts.dryRun ? 'would change' : 'changed'} ${plan.files.length} file(s)`;
}
