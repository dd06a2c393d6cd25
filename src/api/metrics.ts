/**
 * Prometheus metrics of one `serve` instance, on a registry of its own (never prom-client's global
 * one, so several servers can live in one process, as in tests).
 *
 * Counters and the histogram count what THIS replica did (Prometheus sums replicas); the gauges
 * about stored state (findings, alerts, latest scans) are read from the database on each scrape,
 * so every replica reports the same, whichever one ran the scan.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../store/db.js';
import type { ScanSummary } from '../scheduler/run-scan.js';
import type { DispatchStats } from '../alerts/dispatcher.js';
import type { SkipReason } from '../scheduler/schedule.js';
import type { PushSource } from '../events/types.js';
import type { CheckStatus } from '../events/confirm.js';

/** What became of a push-event delivery (the HTTP answer). */
export type PushEventResult = 'accepted' | 'duplicate' | 'ignored' | 'test' | 'unauthorized' | 'invalid' | 'too_large';

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly scans: Counter<'target' | 'status'>;
  private readonly scanDuration: Histogram<'target'>;
  private readonly tagEvents: Counter<'target' | 'kind'>;
  private readonly deliveries: Counter<'result'>;
  private readonly skippedTicks: Counter<'target' | 'reason'>;
  private readonly pushEvents: Counter<'source' | 'result'>;
  private readonly pushEventChecks: Counter<'source' | 'status'>;

  constructor(db: Database | null, logger?: Logger) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.scans = new Counter({ name: 'tagledger_scans_total', help: 'Scans finished by this replica, by target and status.', labelNames: ['target', 'status'], registers });
    this.scanDuration = new Histogram({
      name: 'tagledger_scan_duration_seconds',
      help: 'Duration of scans run by this replica.',
      labelNames: ['target'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    this.tagEvents = new Counter({ name: 'tagledger_tag_events_total', help: 'Tag events recorded by scans of this replica, by kind.', labelNames: ['target', 'kind'], registers });
    this.deliveries = new Counter({ name: 'tagledger_alert_deliveries_total', help: 'Alert delivery attempts by this replica, by result.', labelNames: ['result'], registers });
    this.skippedTicks = new Counter({
      name: 'tagledger_skipped_ticks_total',
      help: 'Scheduled ticks this replica did not scan: overlap (still scanning here), not_elected (another replica took the slot), busy (target locked elsewhere), coordinator_error.',
      labelNames: ['target', 'reason'],
      registers,
    });

    this.pushEvents = new Counter({
      name: 'tagledger_push_events_total',
      help: 'Push-event deliveries received by this replica, by source (harbor, ecr, gar) and result: accepted, duplicate, ignored, test, unauthorized, invalid, too_large.',
      labelNames: ['source', 'result'],
      registers,
    });
    this.pushEventChecks = new Counter({
      name: 'tagledger_push_event_checks_total',
      help: "Push events checked against the scan they triggered, by source and status: confirmed, unconfirmed (the registry contradicts the event), scanned (could not be judged).",
      labelNames: ['source', 'status'],
      registers,
    });

    const refresh = (what: string, query: (db: Database) => Promise<void>) => async () => {
      if (!db) return;
      try {
        await query(db);
      } catch (err) {
        logger?.warn({ err: err instanceof Error ? err.message : String(err), metric: what }, 'could not refresh a metric from the database');
      }
    };
    const openFindings: Gauge<'type' | 'severity'> = new Gauge({
      name: 'tagledger_open_findings',
      help: 'Open findings (not acknowledged, resolved or waived), by type and severity.',
      labelNames: ['type', 'severity'],
      registers,
      collect: refresh('tagledger_open_findings', async (d) => {
        const rows = await select<{ type: string; severity: string; n: number }>(d, sql`SELECT type, severity, count(*)::int AS n FROM findings WHERE status = 'open' GROUP BY type, severity`);
        openFindings.reset();
        for (const r of rows) openFindings.set({ type: r.type, severity: r.severity }, Number(r.n));
      }),
    });
    const alerts: Gauge<'state'> = new Gauge({
      name: 'tagledger_alerts',
      help: 'Alerts in the outbox: pending (waiting for delivery or a retry) and dead (failed for good).',
      labelNames: ['state'],
      registers,
      collect: refresh('tagledger_alerts', async (d) => {
        const [r] = await select<{ pending: number; dead: number }>(
          d,
          sql`SELECT count(*) FILTER (WHERE status IN ('created', 'retrying'))::int AS pending, count(*) FILTER (WHERE status = 'failed')::int AS dead FROM alerts`,
        );
        alerts.set({ state: 'pending' }, Number(r?.pending ?? 0));
        alerts.set({ state: 'dead' }, Number(r?.dead ?? 0));
      }),
    });
    const latest = () =>
      select<{ target_id: string; repositories: number; tags: number }>(
        db!,
        // Scans limited to some repositories (push events) say nothing about the target as a whole.
        sql`SELECT DISTINCT ON (target_id) target_id, repositories, tags FROM scans WHERE status <> 'running' AND scope IS NULL ORDER BY target_id, id DESC`,
      );
    const repositoriesObserved: Gauge<'target'> = new Gauge({
      name: 'tagledger_repositories_observed',
      help: "Repositories observed completely by each target's latest finished scan of the whole target.",
      labelNames: ['target'],
      registers,
      collect: refresh('tagledger_repositories_observed', async () => {
        repositoriesObserved.reset();
        for (const r of await latest()) repositoriesObserved.set({ target: r.target_id }, Number(r.repositories));
      }),
    });
    const tagsObserved: Gauge<'target'> = new Gauge({
      name: 'tagledger_tags_observed',
      help: "Tags observed by each target's latest finished scan of the whole target.",
      labelNames: ['target'],
      registers,
      collect: refresh('tagledger_tags_observed', async () => {
        tagsObserved.reset();
        for (const r of await latest()) tagsObserved.set({ target: r.target_id }, Number(r.tags));
      }),
    });
  }

  recordScan(s: ScanSummary): void {
    this.scans.inc({ target: s.target, status: s.status });
    this.scanDuration.observe({ target: s.target }, Math.max(0, (s.finishedAt.getTime() - s.startedAt.getTime()) / 1000));
    for (const kind of ['created', 'moved', 'deleted', 'restored'] as const) {
      if (s.events[kind]) this.tagEvents.inc({ target: s.target, kind }, s.events[kind]);
    }
  }

  recordDeliveries(stats: DispatchStats): void {
    for (const result of ['delivered', 'retrying', 'failed'] as const) {
      if (stats[result]) this.deliveries.inc({ result }, stats[result]);
    }
  }

  recordSkippedTick(target: string, reason: SkipReason): void {
    this.skippedTicks.inc({ target, reason });
  }

  recordPushEvent(source: PushSource, result: PushEventResult): void {
    this.pushEvents.inc({ source, result });
  }

  recordPushEventCheck(source: PushSource, status: CheckStatus): void {
    this.pushEventChecks.inc({ source, status });
  }

  /** The metric names this instance exports (besides the default process metrics). */
  static readonly names = [
    'tagledger_scans_total',
    'tagledger_scan_duration_seconds',
    'tagledger_repositories_observed',
    'tagledger_tags_observed',
    'tagledger_tag_events_total',
    'tagledger_open_findings',
    'tagledger_alerts',
    'tagledger_alert_deliveries_total',
    'tagledger_skipped_ticks_total',
    'tagledger_push_events_total',
    'tagledger_push_event_checks_total',
  ] as const;
}

async function select<T>(db: Database, q: ReturnType<typeof sql>): Promise<T[]> {
  return ((await db.execute(q)) as unknown as { rows: T[] }).rows;
}
