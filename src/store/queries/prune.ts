/**
 * Deletes rows older than a cutoff, in batches: each statement deletes at most `batchSize` rows and
 * commits on its own, so `prune` never holds long locks and is safe while `serve` scans.
 *
 * What goes: repository snapshots (each repository's latest is kept: it is "last seen"), delivery
 * attempts, alerts that are delivered or failed for good once their attempts are gone, schedule
 * slots, and, with `closedFindings`, findings that are no longer open (with their alerts).
 *
 * What stays, whatever its age: scans, tag events and repository events. They are the hash-chained
 * ledger (src/audit/chain.ts): every event links to its predecessor from the first one on, and every
 * scan root to the previous scan's, so deleting any of them would make `tagledger verify` report
 * the history as tampered with. Open and acknowledged findings stay too.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db.js';

export interface PruneOptions {
  cutoff: Date;
  /** Also delete findings resolved or waived before the cutoff (with their alerts and attempts). */
  closedFindings?: boolean;
  batchSize?: number;
  signal?: AbortSignal;
  /** After each batch (progress for logs). */
  onBatch?: (what: keyof PruneStats, deleted: number) => void;
}

export interface PruneStats {
  snapshots: number;
  deliveryAttempts: number;
  alerts: number;
  slots: number;
  findings: number;
}

export const DEFAULT_PRUNE_BATCH = 5_000;

export async function pruneOlderThan(db: Database, opts: PruneOptions): Promise<PruneStats> {
  const stats: PruneStats = { snapshots: 0, deliveryAttempts: 0, alerts: 0, slots: 0, findings: 0 };
  const cutoff = opts.cutoff.toISOString();
  const batch = opts.batchSize ?? DEFAULT_PRUNE_BATCH;
  const step = async (what: keyof PruneStats, statement: (limit: number) => SQL | ((db: Database) => Promise<number>)) => {
    for (;;) {
      if (opts.signal?.aborted) return;
      const s = statement(batch);
      const n = typeof s === 'function' ? await db.transaction((tx) => s(tx as unknown as Database)) : await count(db, s);
      stats[what] += n;
      if (n) opts.onBatch?.(what, n);
      if (n < batch) return;
    }
  };

  await step('snapshots', (limit) => sql`
    WITH victims AS (
      SELECT s.repository_id, s.scan_id FROM repository_snapshots s
      WHERE s.observed_at < ${cutoff}::timestamptz
        AND EXISTS (SELECT 1 FROM repository_snapshots n
                    WHERE n.repository_id = s.repository_id AND (n.observed_at, n.scan_id) > (s.observed_at, s.scan_id))
      LIMIT ${limit}
    ), d AS (
      DELETE FROM repository_snapshots r USING victims v
      WHERE r.repository_id = v.repository_id AND r.scan_id = v.scan_id
      RETURNING 1
    ) SELECT count(*)::int AS n FROM d`);

  await step('deliveryAttempts', (limit) => sql`
    WITH d AS (
      DELETE FROM delivery_attempts WHERE id IN (
        SELECT id FROM delivery_attempts WHERE started_at < ${cutoff}::timestamptz LIMIT ${limit})
      RETURNING 1
    ) SELECT count(*)::int AS n FROM d`);

  // Finished alerts (delivered, or failed for good) whose attempts are gone too.
  await step('alerts', (limit) => sql`
    WITH d AS (
      DELETE FROM alerts WHERE id IN (
        SELECT a.id FROM alerts a
        WHERE a.status IN ('delivered', 'failed')
          AND coalesce(a.delivered_at, a.last_attempt_at, a.created_at) < ${cutoff}::timestamptz
          AND a.queued_at < ${cutoff}::timestamptz
          AND NOT EXISTS (SELECT 1 FROM delivery_attempts x WHERE x.alert_id = a.id)
        LIMIT ${limit})
      RETURNING 1
    ) SELECT count(*)::int AS n FROM d`);

  if (opts.closedFindings) {
    // Closed findings, with the alerts (and their attempts) that reference them: one transaction per batch.
    await step('findings', (limit) => async (tx: Database) => {
      const ids = rows<{ id: number }>(
        await tx.execute(sql`
          SELECT id FROM findings
          WHERE status IN ('resolved', 'waived') AND last_seen_at < ${cutoff}::timestamptz AND status_changed_at < ${cutoff}::timestamptz
          ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED`),
      ).map((r) => Number(r.id));
      if (!ids.length) return 0;
      const list = sql.join(
        ids.map((id) => sql`${id}`),
        sql`, `,
      );
      await tx.execute(sql`DELETE FROM delivery_attempts WHERE alert_id IN (SELECT id FROM alerts WHERE finding_id IN (${list}))`);
      const gone = await count(tx, sql`WITH d AS (DELETE FROM alerts WHERE finding_id IN (${list}) RETURNING 1) SELECT count(*)::int AS n FROM d`);
      stats.alerts += gone;
      return count(tx, sql`WITH d AS (DELETE FROM findings WHERE id IN (${list}) RETURNING 1) SELECT count(*)::int AS n FROM d`);
    });
  }

  await step('slots', (limit) => sql`
    WITH victims AS (
      SELECT target_id, slot FROM schedule_slots WHERE slot < ${cutoff}::timestamptz LIMIT ${limit}
    ), d AS (
      DELETE FROM schedule_slots s USING victims v WHERE s.target_id = v.target_id AND s.slot = v.slot RETURNING 1
    ) SELECT count(*)::int AS n FROM d`);

  return stats;
}

async function count(db: Database, statement: SQL): Promise<number> {
  const [row] = rows<{ n: number }>(await db.execute(statement));
  return Number(row?.n ?? 0);
}

function rows<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}
