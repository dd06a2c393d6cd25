/**
 * Turns newly opened findings, and recorded scan roots (anchors), into outbox rows, in the caller's
 * transaction: "save first, alert second". Delivery happens later in the dispatcher; a receiver that
 * is down delays alerts, it never loses them. An anchor is a row with no finding and a
 * `scan.completed` payload: the table needed nothing new to hold it.
 */
import { randomUUID } from 'node:crypto';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Database } from '../store/db.js';
import { alerts, scans } from '../store/schema/index.js';
import type { FindingRow } from '../store/queries/findings.js';
import type { AlertMessage, FindingType, ScanCompletedMessage, Severity } from '../notifiers/types.js';
import { coversTarget, notifierWants, type NotifierFilter } from '../notifiers/common.js';

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

/** What a scan anchor says about its scan: the row as the scan-finishing transaction wrote it. */
export interface AnchoredScan {
  id: number;
  status: ScanCompletedMessage['status'];
  startedAt: Date;
  finishedAt: Date;
  repositories: number;
  tags: number;
  events: { created: number; moved: number; deleted: number; restored: number } | null;
  errors: number;
  warnings: number;
  rootHash: string;
  previousRoot: string;
}

export function scanCompletedMessage(scan: AnchoredScan, target: { id: string; kind: string }, deliveryId: string): ScanCompletedMessage {
  const events = scan.events ?? { created: 0, moved: 0, deleted: 0, restored: 0 };
  const changes = events.created + events.moved + events.deleted + events.restored;
  return {
    version: 1,
    id: deliveryId,
    type: 'scan.completed',
    summary: `scan ${scan.id} of ${target.id} ${scan.status}: root ${scan.rootHash.slice(0, 12)}… (${scan.repositories} repositories, ${scan.tags} tags, ${changes} tag changes)`,
    occurredAt: scan.finishedAt.toISOString(),
    target,
    scanId: scan.id,
    status: scan.status,
    startedAt: scan.startedAt.toISOString(),
    finishedAt: scan.finishedAt.toISOString(),
    rootHash: scan.rootHash,
    previousRoot: scan.previousRoot,
    counts: { repositories: scan.repositories, tags: scan.tags, events: { ...events }, errors: scan.errors, warnings: scan.warnings },
  };
}

/**
 * One `scan.completed` outbox row per anchor notifier whose `targets` filter admits the target. Call
 * it in the transaction that records the scan's root, so that no root is ever recorded without its
 * anchor queued: the dispatcher then delivers it like any alert (retries, attempts, at-least-once).
 * Never batched, never held: a root is worth most the moment it has left the database.
 */
export async function enqueueScanAnchors(
  db: Database,
  p: { anchors: OutboxNotifier[]; target: { id: string; kind: string }; scan: AnchoredScan; now: Date },
): Promise<number> {
  const rows: Array<typeof alerts.$inferInsert> = [];
  for (const n of p.anchors) {
    if (!coversTarget(n, p.target.id)) continue;
    const deliveryId = randomUUID();
    rows.push({
      deliveryId,
      notifierId: n.id,
      findingId: null,
      scanId: p.scan.id,
      batchKey: null,
      payload: scanCompletedMessage(p.scan, p.target, deliveryId),
      status: 'created',
      nextAttemptAt: p.now,
      createdAt: p.now,
      queuedAt: p.now,
    });
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
