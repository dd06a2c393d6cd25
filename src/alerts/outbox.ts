/**
 * Turns newly opened findings into outbox rows, in the caller's transaction: "save first, alert
 * second". Delivery happens later in the dispatcher; a receiver that is down delays alerts, it never
 * loses them.
 */
import { randomUUID } from 'node:crypto';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Database } from '../store/db.js';
import { alerts, scans } from '../store/schema/index.js';
import type { FindingRow } from '../store/queries/findings.js';
import type { AlertMessage, FindingType, Severity } from '../notifiers/types.js';
import { notifierWants, type NotifierFilter } from '../notifiers/common.js';

export interface OutboxNotifier extends NotifierFilter {
  id: string;
  batch?: boolean;
}

export function alertMessage(f: FindingRow, target: { id: string; kind: string }, deliveryId: string, baseline: boolean): AlertMessage {
  return {
    version: 1,
    id: deliveryId,
    type: f.type as FindingType,
    severity: f.severity as Severity,
    summary: baseline ? `[first scan] ${f.summary}` : f.summary,
    remediation: f.remediation,
    occurredAt: f.lastSeenAt.toISOString(),
    target,
    repository: f.repository,
    tag: f.tag,
    digest: f.digest,
    previousDigest: f.previousDigest,
    protection: (f.protection as AlertMessage['protection']) ?? null,
    scanId: f.lastScanId ?? null,
    finding: { id: f.id, status: f.status },
  };
}

/**
 * One outbox row per (opened finding, notifier that wants it). Batching notifiers get rows held
 * (next_attempt_at NULL) until the scan ends, then sent as one message.
 */
export async function enqueueAlerts(
  db: Database,
  p: { opened: FindingRow[]; target: { id: string; kind: string }; scanId: number | null; notifiers: OutboxNotifier[]; now: Date; baseline: boolean },
): Promise<number> {
  const rows: Array<typeof alerts.$inferInsert> = [];
  for (const f of p.opened) {
    for (const n of p.notifiers) {
      if (!notifierWants(n, { type: f.type as FindingType, severity: f.severity as Severity, targetId: p.target.id })) continue;
      const deliveryId = randomUUID();
      const batched = Boolean(n.batch) && p.scanId !== null;
      rows.push({
        deliveryId,
        notifierId: n.id,
        findingId: f.id,
        scanId: p.scanId,
        batchKey: batched ? `scan:${p.scanId}:${n.id}` : null,
        payload: alertMessage(f, p.target, deliveryId, p.baseline),
        status: 'created',
        nextAttemptAt: batched ? null : p.now,
        createdAt: p.now,
        queuedAt: p.now,
      });
    }
  }
  if (rows.length) await db.insert(alerts).values(rows);
  return rows.length;
}

/** Makes a finished (or aborted) scan's held batch alerts due. */
export async function releaseHeldAlerts(db: Database, scanIds: number[], now: Date): Promise<void> {
  if (!scanIds.length) return;
  await db
    .update(alerts)
    .set({ nextAttemptAt: now })
    .where(and(inArray(alerts.scanId, scanIds), isNull(alerts.nextAttemptAt), eq(alerts.status, 'created')));
}

/** Held alerts of scans that are no longer running (their process died before releasing them). */
export async function releaseOrphanedHeldAlerts(db: Database, now: Date): Promise<void> {
  await db
    .update(alerts)
    .set({ nextAttemptAt: now })
    .where(
      and(
        isNull(alerts.nextAttemptAt),
        eq(alerts.status, 'created'),
        sql`${alerts.scanId} IN (SELECT ${scans.id} FROM ${scans} WHERE ${scans.status} <> 'running')`,
      ),
    );
}
