/**
 * From recorded push events to scans: per repository, events are debounced (a burst of pushes makes
 * one scan), then every repository of a target whose quiet period ended is scanned in ONE scan limited
 * to them, through the normal collector, diff, store and alert path. The target's lock still
 * applies: while the target is being scanned (here or by another replica), the batch waits and tries
 * again after it. After the scan, each event's claim is compared with what the scan stored.
 *
 * Events left `received` (the process stopped first, or the scan could not run) are covered by the
 * next scheduled scan of the target; their rows say so in `note`.
 */
import type { Logger } from 'pino';
import type { Database } from '../store/db.js';
import type { ScanSummary } from '../scheduler/run-scan.js';
import { TargetBusyError } from '../scheduler/run-scan.js';
import { SchedulerStoppedError } from '../scheduler/schedule.js';
import { hasEarlierScan } from '../alerts/evaluate.js';
import { currentTags } from '../store/queries/tags.js';
import { notePushEvents, observedInScan, settlePushEvents } from '../store/queries/push-events.js';
import { systemClock, type Clock } from '../scheduler/clock.js';
import { judgeClaims, type CheckStatus, type ClaimToCheck } from './confirm.js';
import type { PushSource } from './types.js';

/** Scans some repositories of a target (the Scheduler); null: the whole target. */
export interface RepositoryScanner {
  scanRepositories(targetId: string, repositories: string[] | null): Promise<ScanSummary>;
}

export interface QueuedEvent extends ClaimToCheck {
  source: PushSource;
}

export interface PushEventQueueOptions {
  db: Database;
  logger: Logger;
  scanner: RepositoryScanner;
  /** Quiet period per target before its repository is scanned. */
  debounceMs(targetId: string): number;
  /** A repository with events arriving without pause is scanned after this long anyway (default 30 s). */
  maxWaitMs?: number;
  /** Waits between attempts while the target is busy: doubling from `initial` up to `max` (default 1 s → 15 s). */
  busyRetry?: { initialMs: number; maxMs: number };
  clock?: Clock;
  /** Each event's outcome once its scan finished. */
  onChecked?(source: PushSource, status: CheckStatus): void;
}

interface Pending {
  events: QueuedEvent[];
  firstAt: number;
  timer: NodeJS.Timeout;
}

interface TargetQueue {
  pending: Map<string, Pending>;
  /** Quiet period over: waiting for the next scan of the target. */
  ready: Map<string, QueuedEvent[]>;
  worker: Promise<void> | null;
}

export class PushEventQueue {
  private readonly targets = new Map<string, TargetQueue>();
  private readonly abort = new AbortController();
  private readonly clock: Clock;

  constructor(private readonly opts: PushEventQueueOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Queues recorded events about one repository; its scan starts after the quiet period. */
  enqueue(targetId: string, repository: string, events: QueuedEvent[]): void {
    if (this.abort.signal.aborted || !events.length) return;
    const q = this.queueOf(targetId);
    const now = this.clock.now().getTime();
    const existing = q.pending.get(repository);
    if (existing) clearTimeout(existing.timer);
    const entry: Pending = existing ?? { events: [], firstAt: now, timer: undefined as unknown as NodeJS.Timeout };
    entry.events.push(...events);
    const maxWait = this.opts.maxWaitMs ?? 30_000;
    const delay = Math.max(0, Math.min(this.opts.debounceMs(targetId), entry.firstAt + maxWait - now));
    entry.timer = setTimeout(() => this.due(targetId, repository), delay);
    q.pending.set(repository, entry);
  }

  /** Resolves once nothing is pending, waiting or being scanned (tests). */
  async idle(): Promise<void> {
    for (;;) {
      const workers = [...this.targets.values()].map((q) => q.worker).filter((w): w is Promise<void> => w !== null);
      const pending = [...this.targets.values()].some((q) => q.pending.size > 0 || q.ready.size > 0);
      if (!workers.length && !pending) return;
      if (workers.length) await Promise.allSettled(workers);
      else await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Drops what has not started (those events stay `received`) and waits for the scans in flight. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('shutting down'));
    for (const q of this.targets.values()) {
      for (const p of q.pending.values()) clearTimeout(p.timer);
      q.pending.clear();
    }
    await Promise.allSettled([...this.targets.values()].map((q) => q.worker));
  }

  private queueOf(targetId: string): TargetQueue {
    let q = this.targets.get(targetId);
    if (!q) this.targets.set(targetId, (q = { pending: new Map(), ready: new Map(), worker: null }));
    return q;
  }

  private due(targetId: string, repository: string): void {
    const q = this.queueOf(targetId);
    const entry = q.pending.get(repository);
    if (!entry) return;
    q.pending.delete(repository);
    q.ready.set(repository, [...(q.ready.get(repository) ?? []), ...entry.events]);
    this.kick(targetId, q);
  }

  /** One worker per target: scans run one after the other, as the target's lock wants anyway. */
  private kick(targetId: string, q: TargetQueue): void {
    if (q.worker || this.abort.signal.aborted) return;
    q.worker = this.work(targetId, q).finally(() => {
      q.worker = null;
      // Repositories that became due while the last scan was being recorded.
      if (q.ready.size) this.kick(targetId, q);
    });
  }

  private async work(targetId: string, q: TargetQueue): Promise<void> {
    const log = this.opts.logger.child({ target: targetId, component: 'push-events' });
    const retry = this.opts.busyRetry ?? { initialMs: 1_000, maxMs: 15_000 };
    let wait = retry.initialMs;
    while (q.ready.size && !this.abort.signal.aborted) {
      const batch = new Map(q.ready);
      q.ready.clear();
      const repositories = [...batch.keys()].sort();
      const ids = [...batch.values()].flat().map((e) => e.id);
      let summary: ScanSummary;
      try {
        // The first scan of a target is its baseline: it reads everything, not just what the events name.
        const whole = !(await hasEarlierScan(this.opts.db, targetId, 0));
        log.info({ repositories, events: ids.length, whole }, whole ? 'push events: scanning the whole target (it has no finished scan yet)' : 'push events: scanning the repositories they name');
        summary = await this.opts.scanner.scanRepositories(targetId, whole ? null : repositories);
        wait = retry.initialMs;
      } catch (err) {
        if (err instanceof TargetBusyError) {
          // Back in line (events that arrived meanwhile join them), after the running scan.
          for (const [repo, events] of batch) q.ready.set(repo, [...events, ...(q.ready.get(repo) ?? [])]);
          log.debug({ repositories, retryMs: wait }, 'target is being scanned; push-event scan waits');
          await this.clock.sleep(wait, this.abort.signal);
          wait = Math.min(wait * 2, retry.maxMs);
          continue;
        }
        if (err instanceof SchedulerStoppedError || this.abort.signal.aborted) break;
        const message = err instanceof Error ? err.message : String(err);
        log.error({ repositories, err: message }, 'push-event scan could not run; the next scheduled scan covers these repositories');
        await notePushEvents(this.opts.db, ids, `scan could not run: ${message}`).catch(() => undefined);
        continue;
      }
      await this.settle(targetId, batch, summary, log).catch((err: unknown) =>
        log.error({ err: err instanceof Error ? err.message : String(err), scanId: summary.scanId }, 'could not record the outcome of push events'),
      );
    }
  }

  private async settle(targetId: string, batch: Map<string, QueuedEvent[]>, summary: ScanSummary, log: Logger): Promise<void> {
    const { db } = this.opts;
    const scanId = summary.scanId;
    if (summary.status === 'aborted' || summary.status === 'failed') {
      const why = summary.status === 'aborted' ? 'aborted' : `failed: ${summary.errors.find((e) => e.repository === null)?.message ?? 'target not read'}`;
      await notePushEvents(db, [...batch.values()].flat().map((e) => e.id), `scan #${scanId} ${why}; the next scan covers it`, scanId);
      return;
    }
    for (const [repository, events] of batch) {
      const sorted = [...events].sort((a, b) => a.id - b.id);
      const problem = summary.errors.find((e) => e.repository === repository);
      let verdicts: Array<{ id: number; status: CheckStatus; note: string }>;
      if (problem) {
        verdicts = sorted.map((e) => ({ id: e.id, status: 'scanned', note: `the repository could not be read in scan #${scanId}: ${problem.message}` }));
      } else if (await observedInScan(db, { targetId, repository, scanId })) {
        const present = new Map((await currentTags(db, { targetId, repository })).filter((t) => t.present).map((t) => [t.tag, t.digest]));
        verdicts = judgeClaims(sorted, present);
      } else if (summary.status === 'succeeded') {
        // A complete listing without the repository (or one that vanished while read): it holds no tags.
        verdicts = judgeClaims(sorted, new Map());
      } else {
        verdicts = sorted.map((e) => ({ id: e.id, status: 'scanned', note: `scan #${scanId} did not read the repository completely (${summary.status})` }));
      }
      await settlePushEvents(db, verdicts.map((v) => ({ ...v, scanId })));
      for (const v of verdicts) {
        const e = sorted.find((x) => x.id === v.id)!;
        this.opts.onChecked?.(e.source, v.status);
        if (v.status === 'unconfirmed') log.warn({ repository, pushEvent: v.id, scanId, tag: e.tag, action: e.action, note: v.note }, 'push event not confirmed by the registry');
      }
    }
  }
}
