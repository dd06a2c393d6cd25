/**
 * Glue between a stored repository change and the findings/outbox tables, run inside the
 * repository's transaction so events, findings and alerts commit together.
 */
import { and, desc, eq, inArray } from 'drizzle-orm';
import type { Database } from '../store/db.js';
import { scans } from '../store/schema/index.js';
import type { RecordResult } from '../store/queries/observations.js';
import { storeFindings } from '../store/queries/findings.js';
import { repositoryFindings, scanFailureFinding, type FindingCandidate } from '../audit/findings.js';
import { compilePolicy, type CompiledPolicy, type PolicyConfig } from '../audit/policy.js';
import type { RemediationTarget } from '../audit/remediation.js';
import { enqueueAlerts, type OutboxNotifier } from './outbox.js';

export interface AlertingContext {
  policy: CompiledPolicy;
  movableTags: string[];
  notifiers: OutboxNotifier[];
  /** The notifiers named by `anchor:`: each scan root goes to them as `scan.completed`. */
  anchors: OutboxNotifier[];
  /** Consecutive failed scans before `target.scan_failed` opens. */
  scanFailureThreshold: number;
}

export function alertingContext(
  cfg: { policy?: PolicyConfig; notifiers?: OutboxNotifier[]; anchor?: string[]; alerts?: { scanFailureThreshold?: number } } = {},
): AlertingContext {
  const notifiers = cfg.notifiers ?? [];
  const anchors = (cfg.anchor ?? []).map((id, i) => {
    const n = notifiers.find((x) => x.id === id);
    // The config schema refuses this with the path; callers that build a context by hand get it here.
    if (!n) throw new Error(`anchor[${i}]: no notifier has id "${id}"`);
    return n;
  });
  return {
    policy: compilePolicy(cfg.policy),
    movableTags: cfg.policy?.movableTags ?? ['latest'],
    notifiers,
    anchors,
    scanFailureThreshold: cfg.alerts?.scanFailureThreshold ?? 3,
  };
}

export interface EvaluateInput {
  target: RemediationTarget;
  repository: string;
  scanId: number;
  now: Date;
  baseline: boolean;
  record: RecordResult;
  /** The repository is gone: its conditions resolve, its deletions are findings. */
  gone?: boolean;
}

/** What a repository's recorded change means under the policy: the candidates storeFindings takes. */
export function repositoryCandidates(ctx: AlertingContext, p: Omit<EvaluateInput, 'scanId' | 'baseline'>): FindingCandidate[] {
  const settingsEvent = p.record.repositoryEvents.find((e) => e.kind === 'settings_changed');
  const { events, conditions } = repositoryFindings({
    target: p.target,
    repository: p.repository,
    settings: p.record.protection,
    previousSettings: settingsEvent ? p.record.previousProtection : null,
    tags: p.record.tags,
    events: p.record.tagEvents,
    settingsEventId: settingsEvent?.id ?? null,
    policy: ctx.policy,
    movableTags: ctx.movableTags,
    now: p.now,
  });
  return [...events, ...(p.gone ? [] : conditions)];
}

/** Returns how many findings opened and alerts were queued. */
export async function evaluateRepository(db: Database, ctx: AlertingContext, p: EvaluateInput): Promise<{ opened: number; alerts: number }> {
  const opened = await storeFindings(db, {
    targetId: p.target.id,
    scanId: p.scanId,
    now: p.now,
    candidates: repositoryCandidates(ctx, p),
    conditionScope: { repository: p.repository },
  });
  const queued = await enqueueAlerts(db, { opened, target: { id: p.target.id, kind: p.target.kind }, scanId: p.scanId, notifiers: ctx.notifiers, now: p.now, baseline: p.baseline });
  return { opened: opened.length, alerts: queued };
}

/** After a scan: open or resolve `target.scan_failed`. */
export async function evaluateTarget(db: Database, ctx: AlertingContext, p: { target: RemediationTarget; scanId: number; now: Date; lastError: string | null }): Promise<number> {
  const recent = await db
    .select({ status: scans.status })
    .from(scans)
    .where(and(eq(scans.targetId, p.target.id), inArray(scans.status, ['succeeded', 'partial', 'failed', 'aborted'])))
    .orderBy(desc(scans.id))
    .limit(Math.max(ctx.scanFailureThreshold, 1) + 1);
  let consecutive = 0;
  for (const r of recent) {
    if (r.status === 'failed' || r.status === 'aborted') consecutive++;
    else break;
  }
  const candidate = scanFailureFinding({ targetId: p.target.id, consecutiveFailures: consecutive, threshold: ctx.scanFailureThreshold, lastError: p.lastError ?? 'unknown', policy: ctx.policy });
  const opened = await storeFindings(db, {
    targetId: p.target.id,
    scanId: p.scanId,
    now: p.now,
    candidates: candidate ? [candidate] : [],
    conditionScope: { repository: null, types: ['target.scan_failed'] },
  });
  return enqueueAlerts(db, { opened, target: { id: p.target.id, kind: p.target.kind }, scanId: p.scanId, notifiers: ctx.notifiers, now: p.now, baseline: false });
}

/** Has this target finished a scan before (so this one is not the baseline)? */
export async function hasEarlierScan(db: Database, targetId: string, scanId: number): Promise<boolean> {
  const rows = await db
    .select({ id: scans.id })
    .from(scans)
    .where(and(eq(scans.targetId, targetId), inArray(scans.status, ['succeeded', 'partial'])))
    .limit(1);
  return rows.some((r) => r.id !== scanId);
}
