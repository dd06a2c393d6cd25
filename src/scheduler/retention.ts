/**
 * `retention:` in the config: `serve` prunes old rows on a schedule (daily at 03:00 by default).
 * With several replicas the run is claimed like a scan slot (job `:retention`), so one replica
 * prunes; the deletes are batched (store/queries/prune.ts) and safe while scans run.
 */
import type { Logger } from 'pino';
import type { Database } from '../store/db.js';
import { parseDuration } from '../config/common.js';
import { pruneOlderThan, type PruneStats } from '../store/queries/prune.js';
import { DEFAULT_TIMEZONE, nodeCronDriver, type CronDriver, type CronHandle } from './cron.js';
import { systemClock, type Clock } from './clock.js';
import type { SlotCoordinator } from './slots.js';

export const RETENTION_JOB = ':retention';

export interface RetentionSettings {
  olderThan: string;
  schedule: string;
  events: boolean;
}

export class RetentionJob {
  private readonly abort = new AbortController();
  private handle: CronHandle | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly opts: {
      db: Database;
      logger: Logger;
      settings: RetentionSettings;
      coordinator: SlotCoordinator;
      timezone?: string;
      cron?: CronDriver;
      clock?: Clock;
    },
  ) {}

  start(): void {
    const driver = this.opts.cron ?? nodeCronDriver(this.opts.logger);
    this.handle = driver.schedule({
      name: 'retention',
      expression: this.opts.settings.schedule,
      timezone: this.opts.timezone ?? DEFAULT_TIMEZONE,
      onTick: (slot) => {
        if (this.running) return; // the previous prune is still deleting
        this.running = this.run(slot).finally(() => (this.running = null));
      },
    });
    this.opts.logger.info({ olderThan: this.opts.settings.olderThan, schedule: this.opts.settings.schedule, events: this.opts.settings.events, nextRun: this.handle.nextRun()?.toISOString() ?? null }, 'retention scheduled');
  }

  /** One scheduled prune; returns null when another replica took the slot or it failed. */
  async run(slot: Date): Promise<PruneStats | null> {
    const log = this.opts.logger.child({ job: 'retention', slot: slot.toISOString() });
    try {
      if (!(await this.opts.coordinator.claim(RETENTION_JOB, slot))) {
        log.info('retention skipped: another replica took this slot');
        return null;
      }
      const now = (this.opts.clock ?? systemClock).now();
      const cutoff = new Date(now.getTime() - parseDuration(this.opts.settings.olderThan));
      log.info({ cutoff: cutoff.toISOString() }, 'pruning');
      const stats = await pruneOlderThan(this.opts.db, { cutoff, closedFindings: this.opts.settings.events, signal: this.abort.signal });
      log.info({ ...stats }, 'pruned');
      return stats;
    } catch (err) {
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'retention run failed');
      return null;
    }
  }

  async stop(): Promise<void> {
    this.handle?.stop();
    this.abort.abort(new Error('shutting down'));
    await this.running;
  }
}
