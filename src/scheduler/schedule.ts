/**
 * `serve`'s scheduler: one cron schedule per configured target. A tick runs a scan when
 *   1. this process is not already scanning the target (overlap prevention),
 *   2. this replica claimed the tick's slot (exactly one replica per slot, see slots.ts),
 *   3. after a random jitter, the target's lock is free (runScan: an advisory lock on PostgreSQL).
 * Otherwise the tick is skipped, logged with the reason and counted (`tagledger_skipped_ticks_total`).
 *
 * Ticks come from a CronDriver (node-cron in production); tests call `tick()` or drive a fake one.
 */
import type { Logger } from 'pino';
import type { TargetConfig } from '../config/schema.js';
import { parseDuration } from '../config/common.js';
import type { Collector } from '../collectors/types.js';
import type { Database } from '../store/db.js';
import type { AlertingContext } from '../alerts/evaluate.js';
import { runScan as defaultRunScan, TargetBusyError, type RunScanOptions, type ScanSummary } from './run-scan.js';
import { DEFAULT_JITTER, DEFAULT_SCHEDULE, DEFAULT_TIMEZONE, nodeCronDriver, type CronDriver, type CronHandle } from './cron.js';
import { jitterDelay, systemClock, type Clock } from './clock.js';
import type { SlotCoordinator } from './slots.js';

export type SkipReason = 'overlap' | 'not_elected' | 'busy' | 'coordinator_error';

export type TickOutcome = { ran: true; summary: ScanSummary } | { ran: false; reason: SkipReason | 'stopping' | 'error' };

export interface SchedulerHooks {
  scanFinished?(summary: ScanSummary): void;
  tickSkipped?(targetId: string, reason: SkipReason): void;
}

export interface SchedulerOptions {
  db: Database;
  logger: Logger;
  targets: TargetConfig[];
  coordinator: SlotCoordinator;
  /** IANA zone the cron expressions are read in (default UTC). */
  timezone?: string;
  alerting?: AlertingContext;
  /** Collectors in worker threads (config `collectorThreads`). */
  collectorThreads?: boolean;
  hooks?: SchedulerHooks;
  clock?: Clock;
  random?: () => number;
  cron?: CronDriver;
  /** Tests: a ready collector per target instead of one built from the config. */
  collectorFor?: (target: TargetConfig) => Collector | undefined;
  /** Tests: the scan function (default runScan). */
  runScan?: typeof defaultRunScan;
}

export interface ScheduledTarget {
  target: TargetConfig;
  schedule: string;
  jitterMs: number;
}

export class UnknownTargetError extends Error {
  constructor(readonly targetId: string) {
    super(`target "${targetId}" is not in the config`);
    this.name = 'UnknownTargetError';
  }
}

export class SchedulerStoppedError extends Error {
  constructor() {
    super('the service is shutting down');
    this.name = 'SchedulerStoppedError';
  }
}

export function scheduledTarget(target: TargetConfig): ScheduledTarget {
  return { target, schedule: target.schedule ?? DEFAULT_SCHEDULE, jitterMs: parseDuration(target.jitter ?? DEFAULT_JITTER) };
}

export class Scheduler {
  readonly entries: Map<string, ScheduledTarget>;
  readonly timezone: string;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly abort = new AbortController();
  /** Targets this process is scanning (or waiting out the jitter for). */
  private readonly active = new Set<string>();
  /** Scans of some repositories of a target that push events started here (see scanRepositories). */
  private readonly limited = new Map<string, Promise<unknown>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private handles: CronHandle[] = [];
  private stopped = false;

  constructor(private readonly opts: SchedulerOptions) {
    this.entries = new Map(opts.targets.map((t) => [t.id, scheduledTarget(t)]));
    this.timezone = opts.timezone ?? DEFAULT_TIMEZONE;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
  }

  /** Starts one cron schedule per target. */
  start(): void {
    const driver = this.opts.cron ?? nodeCronDriver(this.opts.logger);
    for (const entry of this.entries.values()) {
      const handle = driver.schedule({
        name: `scan:${entry.target.id}`,
        expression: entry.schedule,
        timezone: this.timezone,
        onTick: (slot) => void this.track(this.tick(entry.target.id, slot)),
      });
      this.handles.push(handle);
      this.opts.logger.info(
        { target: entry.target.id, schedule: entry.schedule, timezone: this.timezone, jitterMs: entry.jitterMs, nextRun: handle.nextRun()?.toISOString() ?? null },
        'target scheduled',
      );
    }
  }

  /** Resolves when the ticks and scans in flight have ended (tests drive ticks through a fake driver). */
  async settled(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /** Is this process scanning the target now? */
  isActive(targetId: string): boolean {
    return this.active.has(targetId);
  }

  /** One scheduled tick of a target for `slot` (the cron match time). Never throws. */
  async tick(targetId: string, slot: Date): Promise<TickOutcome> {
    const entry = this.entries.get(targetId);
    const log = this.opts.logger.child({ target: targetId, slot: slot.toISOString() });
    if (!entry) return { ran: false, reason: 'error' };
    if (this.stopped) return { ran: false, reason: 'stopping' };
    if (this.active.has(targetId)) return this.skip(log, targetId, 'overlap', 'scheduled scan skipped: the previous scan of this target is still running here');
    // Reserve before the first await, so a second tick arriving meanwhile sees the overlap.
    this.active.add(targetId);
    try {
      let won: boolean;
      try {
        won = await this.opts.coordinator.claim(targetId, slot);
      } catch (err) {
        log.error({ err: errorText(err) }, 'could not claim the schedule slot; tick skipped');
        return this.skip(log, targetId, 'coordinator_error', null);
      }
      if (!won) return this.skip(log, targetId, 'not_elected', 'scheduled scan skipped: another replica took this slot');
      const delay = jitterDelay(entry.jitterMs, this.random);
      if (delay > 0) {
        log.debug({ delayMs: delay }, 'waiting out the jitter');
        await this.clock.sleep(delay, this.abort.signal);
      }
      if (this.abort.signal.aborted) return { ran: false, reason: 'stopping' };
      // A push event's scan of a few repositories holds the target's lock for seconds: the slot's
      // scan waits for it rather than being skipped as busy until the next slot.
      const limited = this.limited.get(targetId);
      if (limited) await limited.catch(() => undefined);
      if (this.abort.signal.aborted) return { ran: false, reason: 'stopping' };
      try {
        // runScan adds the target to its own log lines.
        const summary = await this.scan(entry, this.opts.logger.child({ slot: slot.toISOString() }), (scanId) => {
          this.opts.coordinator.started?.(targetId, slot, scanId).catch((err: unknown) => log.warn({ err: errorText(err) }, 'could not record the slot\'s scan id'));
        });
        return { ran: true, summary };
      } catch (err) {
        if (err instanceof TargetBusyError) return this.skip(log, targetId, 'busy', 'scheduled scan skipped: the target is being scanned elsewhere (another replica or an API request)');
        log.error({ err: errorText(err) }, 'scheduled scan could not run');
        return { ran: false, reason: 'error' };
      }
    } finally {
      this.active.delete(targetId);
    }
  }

  /**
   * A scan now (the API's `POST /api/v1/scans`): resolves with the scan id once the scan has
   * started; `finished` settles when it ends. Rejects with TargetBusyError when the target is
   * being scanned (here or by another replica), UnknownTargetError, or SchedulerStoppedError.
   */
  runNow(targetId: string): Promise<{ scanId: number; finished: Promise<ScanSummary | null> }> {
    const entry = this.entries.get(targetId);
    if (!entry) return Promise.reject(new UnknownTargetError(targetId));
    if (this.stopped) return Promise.reject(new SchedulerStoppedError());
    if (this.active.has(targetId)) return Promise.reject(new TargetBusyError(targetId));
    this.active.add(targetId);
    const log = this.opts.logger.child({ target: targetId, trigger: 'api' });
    return new Promise((resolve, reject) => {
      let started = false;
      const finished = this.scan(entry, this.opts.logger.child({ trigger: 'api' }), (scanId) => {
        started = true;
        resolve({ scanId, finished: finished.catch(() => null) });
      })
        .catch((err: unknown) => {
          if (!started) reject(err);
          else log.error({ err: errorText(err) }, 'scan failed');
          return null;
        })
        .finally(() => this.active.delete(targetId));
      void this.track(finished);
    });
  }

  /**
   * A scan of some repositories of a target, for push events (`repositories` null: the whole
   * target). Rejects with TargetBusyError while the target is being scanned, here (a scheduled or
   * API scan, including one waiting out its jitter) or by another replica, so the caller retries
   * after it; UnknownTargetError; SchedulerStoppedError.
   */
  scanRepositories(targetId: string, repositories: string[] | null): Promise<ScanSummary> {
    const entry = this.entries.get(targetId);
    if (!entry) return Promise.reject(new UnknownTargetError(targetId));
    if (this.stopped) return Promise.reject(new SchedulerStoppedError());
    if (this.active.has(targetId) || this.limited.has(targetId)) return Promise.reject(new TargetBusyError(targetId));
    const run = this.scan(entry, this.opts.logger.child({ trigger: 'push-event' }), () => undefined, repositories ?? undefined);
    const settled = run.catch(() => undefined).finally(() => this.limited.delete(targetId));
    this.limited.set(targetId, settled);
    void this.track(settled);
    return run;
  }

  /**
   * Stops taking new work, aborts the jitter waits and scans in flight (runScan lets the
   * repository transaction in flight commit and marks the scan aborted) and waits for them.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const h of this.handles) h.stop();
    this.handles = [];
    this.abort.abort(new Error('shutting down'));
    await Promise.allSettled([...this.inFlight]);
  }

  private async scan(entry: ScheduledTarget, log: Logger, onStarted: (scanId: number) => void, scope?: string[]): Promise<ScanSummary> {
    const run = this.opts.runScan ?? defaultRunScan;
    const options: RunScanOptions = {
      logger: log,
      signal: this.abort.signal,
      alerting: this.opts.alerting,
      collector: this.opts.collectorFor?.(entry.target),
      thread: this.opts.collectorThreads,
      onStarted,
      scope,
    };
    const summary = await run(this.opts.db, entry.target, options);
    this.opts.hooks?.scanFinished?.(summary);
    return summary;
  }

  private skip(log: Logger, targetId: string, reason: SkipReason, message: string | null): TickOutcome {
    if (message) log.info({ reason }, message);
    this.opts.hooks?.tickSkipped?.(targetId, reason);
    return { ran: false, reason };
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
