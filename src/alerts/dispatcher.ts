/**
 * Delivers due alerts from the outbox. Rows are claimed with FOR UPDATE SKIP LOCKED and a lease (so
 * several dispatchers — replicas — never send the same row at once, and a dispatcher that dies
 * mid-delivery leaves the row due again when the lease ends: at-least-once). Every attempt is
 * recorded; failures retry with exponential backoff and jitter until `maxAttempts` or `maxAge`.
 */
import { createHash } from 'node:crypto';
import { eq, inArray, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../store/db.js';
import { alerts, deliveryAttempts } from '../store/schema/index.js';
import type { AlertMessage, AlertPayload, DeliveryResult, Notifier, ScanCompletedMessage } from '../notifiers/types.js';
import { backoffDelay } from '../net/retry.js';
import { MAX_CONCURRENT_DELIVERIES } from '../notifiers/common.js';

export interface DispatchSettings {
  maxAttempts: number;
  maxAgeMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Per delivery. */
  timeoutMs: number;
}

export const defaultDispatchSettings: DispatchSettings = {
  maxAttempts: 12,
  maxAgeMs: 24 * 3_600_000,
  backoffInitialMs: 2_000,
  backoffMaxMs: 10 * 60_000,
  timeoutMs: 10_000,
};

export interface DispatchStats {
  delivered: number;
  retrying: number;
  failed: number;
}

type AlertRow = typeof alerts.$inferSelect;

export interface DispatchOptions {
  logger: Logger;
  now?: () => Date;
  signal?: AbortSignal;
  /**
   * Rows claimed (and sent at once) per round; default MAX_CONCURRENT_DELIVERIES. Claiming more than
   * a notifier can send at once would queue deliveries behind a slow receiver, where they time out
   * without being sent, and outlive their lease.
   */
  limit?: number;
  random?: () => number;
}

/** Claims due rows (and the rest of their batches) under a lease. */
export async function claimDueAlerts(db: Database, p: { now: Date; leaseMs: number; limit: number }): Promise<AlertRow[]> {
  const leaseUntil = new Date(p.now.getTime() + p.leaseMs).toISOString();
  const nowIso = p.now.toISOString();
  return db.transaction(async (tx) => {
    const res = (await tx.execute(sql`
      WITH due AS (
        SELECT id FROM alerts
        WHERE status IN ('created', 'retrying') AND next_attempt_at <= ${nowIso}::timestamptz
        ORDER BY next_attempt_at, id
        LIMIT ${p.limit}
        FOR UPDATE SKIP LOCKED
      ), batch_mates AS (
        SELECT a.id FROM alerts a
        WHERE a.batch_key IN (SELECT batch_key FROM alerts WHERE id IN (SELECT id FROM due) AND batch_key IS NOT NULL)
          AND a.status IN ('created', 'retrying') AND a.next_attempt_at <= ${nowIso}::timestamptz
        FOR UPDATE SKIP LOCKED
      )
      UPDATE alerts SET next_attempt_at = ${leaseUntil}::timestamptz
      WHERE id IN (SELECT id FROM due UNION SELECT id FROM batch_mates)
      RETURNING id`)) as unknown as { rows: Array<{ id: string | number }> };
    const ids = res.rows.map((r) => Number(r.id));
    if (!ids.length) return [];
    return tx.select().from(alerts).where(inArray(alerts.id, ids)).orderBy(alerts.id);
  });
}

/** Delivers everything due now, round after round, until nothing is due or the signal aborts. */
export async function deliverDueAlerts(db: Database, notifiers: Map<string, Notifier>, settings: DispatchSettings, opts: DispatchOptions): Promise<DispatchStats> {
  const stats: DispatchStats = { delivered: 0, retrying: 0, failed: 0 };
  const now = opts.now ?? (() => new Date());
  for (;;) {
    if (opts.signal?.aborted) break;
    const claimed = await claimDueAlerts(db, { now: now(), leaseMs: leaseFor(settings), limit: opts.limit ?? MAX_CONCURRENT_DELIVERIES });
    if (!claimed.length) break;
    const groups = groupByDelivery(claimed);
    await Promise.all(
      groups.map(async (group) => {
        const outcome = await deliverGroup(db, notifiers, settings, group, opts, now);
        stats[outcome] += group.length;
      }),
    );
  }
  return stats;
}

function groupByDelivery(rows: AlertRow[]): AlertRow[][] {
  const groups = new Map<string, AlertRow[]>();
  for (const r of rows) {
    const key = r.batchKey ?? `single:${r.id}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()];
}

/** A batch's delivery id is derived from its key, so every retry carries the same id. */
export function batchDeliveryId(batchKey: string): string {
  const h = createHash('sha256').update(batchKey).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

async function deliverGroup(
  db: Database,
  notifiers: Map<string, Notifier>,
  settings: DispatchSettings,
  group: AlertRow[],
  opts: DispatchOptions,
  now: () => Date,
): Promise<keyof DispatchStats> {
  const first = group[0];
  const notifier = notifiers.get(first.notifierId);
  const startedAt = now();
  let result: DeliveryResult;
  if (!notifier) {
    result = { ok: false, status: null, retryable: false, error: `notifier "${first.notifierId}" is no longer configured`, durationMs: 0 };
  } else {
    const payload: AlertPayload = first.batchKey
      ? { version: 1, id: batchDeliveryId(first.batchKey), type: 'batch', alerts: group.map((r) => r.payload as AlertMessage) }
      : (first.payload as AlertMessage | ScanCompletedMessage);
    const timeout = AbortSignal.timeout(settings.timeoutMs + 1_000);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      result = await notifier.send(payload, signal);
    } catch (err) {
      // A notifier should not throw; if it does, treat it as a retryable failure.
      result = { ok: false, status: null, retryable: true, error: err instanceof Error ? err.message : String(err), durationMs: now().getTime() - startedAt.getTime() };
    }
  }
  const finishedAt = now();
  const attempts = first.attempts + 1;
  const tooOld = finishedAt.getTime() - first.queuedAt.getTime() >= settings.maxAgeMs;
  let outcome: keyof DispatchStats;
  let next: Date | null = null;
  if (result.ok) outcome = 'delivered';
  else if (!result.retryable || attempts >= settings.maxAttempts || tooOld) outcome = 'failed';
  else {
    outcome = 'retrying';
    const backoff = backoffDelay(attempts - 1, { baseDelayMs: settings.backoffInitialMs, maxDelayMs: settings.backoffMaxMs }, opts.random);
    next = new Date(finishedAt.getTime() + Math.max(backoff, result.retryAfterMs ?? 0));
  }
  const status = outcome === 'delivered' ? 'delivered' : outcome === 'failed' ? 'failed' : 'retrying';
  const error = result.ok ? null : outcome === 'failed' && result.retryable ? `${result.error ?? 'failed'} (gave up: ${tooOld ? 'maxAge reached' : `${attempts} attempts`})` : (result.error ?? null);
  await db.transaction(async (tx) => {
    const ids = group.map((r) => r.id);
    await tx
      .update(alerts)
      .set({
        status,
        attempts,
        nextAttemptAt: next,
        lastAttemptAt: startedAt,
        deliveredAt: result.ok ? finishedAt : null,
        lastStatus: result.status,
        lastError: error,
      })
      .where(inArray(alerts.id, ids));
    const counts = await tx
      .select({ alertId: deliveryAttempts.alertId, n: sql<number>`count(*)::int` })
      .from(deliveryAttempts)
      .where(inArray(deliveryAttempts.alertId, ids))
      .groupBy(deliveryAttempts.alertId);
    const previous = new Map(counts.map((c) => [Number(c.alertId), Number(c.n)]));
    await tx.insert(deliveryAttempts).values(
      group.map((r) => ({
        alertId: r.id,
        attempt: (previous.get(r.id) ?? 0) + 1,
        startedAt,
        durationMs: Math.round(result.durationMs),
        statusCode: result.status,
        result: outcome === 'retrying' ? 'retry' : outcome,
        error,
        nextAttemptAt: next,
      })),
    );
  });
  const log = opts.logger.child({ notifier: first.notifierId, alerts: group.length, deliveryId: first.batchKey ? batchDeliveryId(first.batchKey) : first.deliveryId });
  if (outcome === 'delivered') log.info({ status: result.status }, 'alert delivered');
  else if (outcome === 'retrying') log.warn({ status: result.status, error, nextAttemptAt: next?.toISOString() }, 'alert delivery failed; will retry');
  else log.error({ status: result.status, error }, 'alert delivery failed for good');
  return outcome;
}

/** `tagledger alerts retry ID`: make a failed (or waiting) alert due now, with a fresh attempt budget. */
export async function retryAlert(db: Database, id: number, now: Date): Promise<boolean> {
  const rows = await db
    .update(alerts)
    .set({ status: 'retrying', attempts: 0, nextAttemptAt: now, queuedAt: now })
    .where(eq(alerts.id, id))
    .returning({ id: alerts.id });
  return rows.length > 0;
}

/**
 * How long a claim keeps other dispatchers off a row: long enough for one delivery (which the
 * timeout bounds) to finish and be recorded; after it, a row whose dispatcher died is due again.
 */
export function leaseFor(settings: Pick<DispatchSettings, 'timeoutMs'>): number {
  return settings.timeoutMs * 2 + 5_000;
}
