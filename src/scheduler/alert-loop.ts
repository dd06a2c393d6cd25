/**
 * `serve`'s alert dispatcher: delivers due alerts every few seconds, and right away when woken
 * (after each scan). Several replicas may run it at once: rows are claimed with FOR UPDATE SKIP
 * LOCKED under a lease (alerts/dispatcher.ts), so each alert goes out once per delivery attempt.
 */
import type { Logger } from 'pino';
import type { Database } from '../store/db.js';
import type { Notifier } from '../notifiers/types.js';
import { deliverDueAlerts, type DispatchSettings, type DispatchStats } from '../alerts/dispatcher.js';
import { releaseOrphanedHeldAlerts } from '../alerts/outbox.js';

export interface AlertLoopOptions {
  db: Database;
  notifiers: Map<string, Notifier>;
  settings: DispatchSettings;
  logger: Logger;
  /** Poll interval (default 5 s). */
  intervalMs?: number;
  onRound?: (stats: DispatchStats) => void;
}

export class AlertLoop {
  private readonly abort = new AbortController();
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private running: Promise<void> | null = null;

  constructor(private readonly opts: AlertLoopOptions) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Deliver now instead of at the next poll (a scan just queued alerts). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stops after the deliveries in flight (they are aborted through the signal and recorded). */
  async stop(): Promise<void> {
    this.abort.abort(new Error('shutting down'));
    this.wakeUp?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { db, logger } = this.opts;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      this.woken = false;
      try {
        await releaseOrphanedHeldAlerts(db, new Date());
        const stats = await deliverDueAlerts(db, this.opts.notifiers, this.opts.settings, { logger, signal });
        this.opts.onRound?.(stats);
        if (stats.delivered + stats.retrying + stats.failed > 0) logger.debug({ ...stats }, 'alert delivery round');
      } catch (err) {
        if (signal.aborted) break;
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'alert delivery round failed; will try again');
      }
      if (!this.woken) await this.pause(this.opts.intervalMs ?? 5_000);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
      if (this.abort.signal.aborted) done();
    });
  }
}
