/** `tagledger alerts list|deliver|retry`. */
import { desc, eq, inArray } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../store/db.js';
import { alerts } from '../store/schema/index.js';
import type { Config } from '../config/schema.js';
import { deliverDueAlerts, retryAlert, type DispatchStats } from '../alerts/dispatcher.js';
import { releaseOrphanedHeldAlerts } from '../alerts/outbox.js';
import { buildNotifiers, dispatchSettings } from '../alerts/setup.js';
import { parseDuration } from '../config/common.js';
import { UsageError } from './exit.js';
import { table } from './format.js';

const STATUSES = ['created', 'retrying', 'delivered', 'failed'];

export async function alertsList(db: Database, opts: { status?: string; json?: boolean; limit?: number }): Promise<string> {
  const wanted = opts.status ? opts.status.split(',') : undefined;
  if (wanted?.some((s) => !STATUSES.includes(s))) throw new UsageError(`--status must be among ${STATUSES.join(', ')}`);
  const rows = await db
    .select()
    .from(alerts)
    .where(wanted ? inArray(alerts.status, wanted) : undefined)
    .orderBy(desc(alerts.id))
    .limit(opts.limit ?? 100);
  if (opts.json) {
    return JSON.stringify({
      alerts: rows.map((a) => ({
        id: a.id,
        deliveryId: a.deliveryId,
        notifier: a.notifierId,
        findingId: a.findingId,
        status: a.status,
        attempts: a.attempts,
        nextAttemptAt: a.nextAttemptAt?.toISOString() ?? null,
        lastStatus: a.lastStatus,
        lastError: a.lastError,
        createdAt: a.createdAt.toISOString(),
        deliveredAt: a.deliveredAt?.toISOString() ?? null,
      })),
    });
  }
  if (!rows.length) return 'no alerts';
  return table(
    ['id', 'notifier', 'status', 'attempts', 'next attempt', 'last error', 'summary'],
    rows.map((a) => [a.id, a.notifierId, a.status, a.attempts, a.nextAttemptAt?.toISOString() ?? '-', a.lastError ?? '-', String((a.payload as { summary?: string }).summary ?? '').slice(0, 80)]),
  );
}

/** Delivers what is due, for at most `within` milliseconds. */
export async function deliverNow(db: Database, config: Config, logger: Logger, withinMs: number): Promise<DispatchStats> {
  await releaseOrphanedHeldAlerts(db, new Date());
  const signal = AbortSignal.timeout(withinMs);
  return deliverDueAlerts(db, buildNotifiers(config), dispatchSettings(config), { logger, signal });
}

export async function alertsDeliver(db: Database, config: Config, logger: Logger, within: string | undefined): Promise<string> {
  const ms = within ? parseDuration(within) : 60_000;
  const s = await deliverNow(db, config, logger, ms);
  return `delivered ${s.delivered}, will retry ${s.retrying}, failed ${s.failed}`;
}

export async function alertsRetry(db: Database, id: string): Promise<string> {
  const n = Number(id);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`"${id}" is not an alert id`);
  const [row] = await db.select({ status: alerts.status }).from(alerts).where(eq(alerts.id, n));
  if (!row) throw new UsageError(`no alert with id ${n}`);
  if (row.status === 'delivered') throw new UsageError(`alert ${n} was already delivered`);
  await retryAlert(db, n, new Date());
  return `alert ${n} queued for delivery (tagledger alerts deliver, or the next scan, sends it)`;
}
