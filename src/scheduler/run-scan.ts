/**
 * One scan of one target: run its collector, store each complete repository observation in its own
 * transaction, record errors without diffing, and only after a complete listing call missing
 * repositories gone.
 */
import type { Logger } from 'pino';
import { hostname } from 'node:os';
import type { TargetConfig } from '../config/schema.js';
import type { Collector, RepositoryObservation } from '../collectors/types.js';
import { repositoryFilter } from '../collectors/filter.js';
import type { Database } from '../store/db.js';
import { tryLockTarget } from '../store/locks.js';
import { ensureTarget } from '../store/queries/targets.js';
import { abortStaleScans, finishScan, startScan, type ScanProblem } from '../store/queries/scans.js';
import { liveRepositories, recordObservation, recordRepositoryGone, type RecordResult } from '../store/queries/observations.js';
import { countEvents } from '../audit/diff.js';
import { validateObservation } from './validate.js';
import { alertingContext, evaluateRepository, evaluateTarget, hasEarlierScan, type AlertingContext } from '../alerts/evaluate.js';
import { releaseHeldAlerts } from '../alerts/outbox.js';
import { recordScanRoot } from '../store/queries/chain.js';
import type { RemediationTarget } from '../audit/remediation.js';

export type ScanStatus = 'succeeded' | 'partial' | 'failed' | 'aborted';

export interface RepositoryChanges extends RecordResult {
  repository: string;
}

export interface ScanSummary {
  scanId: number;
  target: string;
  status: ScanStatus;
  startedAt: Date;
  finishedAt: Date;
  /** Repositories and tags observed completely in this scan. */
  repositories: number;
  tags: number;
  events: { created: number; moved: number; deleted: number; restored: number };
  errors: ScanProblem[];
  warnings: ScanProblem[];
  /** What changed, per repository (only repositories with changes). */
  changes: RepositoryChanges[];
  /** Findings opened (new or re-opened) and alerts queued by this scan. */
  findingsOpened: number;
  alertsQueued: number;
}

export interface ScanProgress {
  target: string;
  repositoriesDone: number;
  /** Repositories found so far (null until the collector says). */
  repositoriesFound: number | null;
  tags: number;
  errors: number;
}

export interface RunScanOptions {
  logger: Logger;
  signal?: AbortSignal;
  /** A ready collector (tests, emulators); by default one is created from the target config. */
  collector?: Collector;
  onProgress?: (p: ScanProgress) => void;
  /** Called once the scan row exists (the API answers 202 with its id). */
  onStarted?: (scanId: number) => void;
  now?: () => Date;
  /** Policy and notifiers; by default the default policy and no notifiers. */
  alerting?: AlertingContext;
}

export class TargetBusyError extends Error {
  constructor(readonly targetId: string) {
    super(`target "${targetId}" is being scanned by another process; skipped`);
    this.name = 'TargetBusyError';
  }
}

export async function runScan(db: Database, target: TargetConfig, opts: RunScanOptions): Promise<ScanSummary> {
  const now = opts.now ?? (() => new Date());
  const log = opts.logger.child({ target: target.id });
  await ensureTarget(db, { id: target.id, kind: target.kind });
  const lock = await tryLockTarget(db, target.id);
  if (!lock) throw new TargetBusyError(target.id);
  try {
    const aborted = await abortStaleScans(db, target.id, now());
    if (aborted) log.warn({ aborted }, 'marked scans left running by a stopped process as aborted');
    const startedAt = now();
    const scanId = await startScan(db, { targetId: target.id, startedAt, runner: `${hostname()}:${process.pid}` });
    const scanLog = log.child({ scanId });
    scanLog.info('scan started');
    if (target.insecureSkipTlsVerify) {
      // Said at every scan, not once per process: whoever reads the logs of any run should see it.
      scanLog.warn(
        { insecureSkipTlsVerify: true },
        `TLS certificate verification is OFF for target "${target.id}" (insecureSkipTlsVerify: true): anyone between tagledger and the registry can answer in its name; set caFile instead`,
      );
    }
    opts.onStarted?.(scanId);
    const alerting = opts.alerting ?? alertingContext();
    const baseline = !(await hasEarlierScan(db, target.id, scanId));
    const state = await collectAndStore(db, target, scanId, { ...opts, alerting }, baseline, scanLog, now);
    const status: ScanStatus = opts.signal?.aborted
      ? 'aborted'
      : state.errors.some((e) => e.repository === null)
        ? 'failed'
        : state.errors.length > 0
          ? 'partial'
          : 'succeeded';
    const finishedAt = now();
    const events = countEvents(state.changes.flatMap((c) => c.tagEvents));
    await db.transaction(async (tx) => {
      const t = tx as unknown as Database;
      await finishScan(t, scanId, { status, finishedAt, repositories: state.repositories, tags: state.tags, events, errors: state.errors, warnings: state.warnings });
      const targetError = state.errors.find((e) => e.repository === null)?.message ?? (status === 'aborted' ? 'scan aborted' : null);
      state.alertsQueued += await evaluateTarget(t, alerting, { target: remediationTarget(target), scanId, now: finishedAt, lastError: targetError });
      await recordScanRoot(t, { targetId: target.id, scanId, heads: state.heads });
      await releaseHeldAlerts(t, [scanId], finishedAt);
    });
    scanLog.info({ status, repositories: state.repositories, tags: state.tags, events, errors: state.errors.length, findingsOpened: state.findingsOpened, alertsQueued: state.alertsQueued }, 'scan finished');
    return {
      scanId,
      target: target.id,
      status,
      startedAt,
      finishedAt,
      repositories: state.repositories,
      tags: state.tags,
      events,
      errors: state.errors,
      warnings: state.warnings,
      changes: state.changes,
      findingsOpened: state.findingsOpened,
      alertsQueued: state.alertsQueued,
    };
  } finally {
    await lock.release();
  }
}

interface ScanState {
  repositories: number;
  tags: number;
  errors: ScanProblem[];
  warnings: ScanProblem[];
  changes: RepositoryChanges[];
  findingsOpened: number;
  alertsQueued: number;
  /** Repository name → its chain head after this scan, for every repository the scan recorded events in. */
  heads: Map<string, string>;
}

interface StoreContext {
  db: Database;
  target: TargetConfig;
  scanId: number;
  alerting: AlertingContext;
  baseline: boolean;
  log: Logger;
  now: () => Date;
}

/** What remediation texts need to know about a target (no secrets). */
export function remediationTarget(target: TargetConfig): RemediationTarget {
  const t = target as unknown as Record<string, unknown>;
  return {
    id: target.id,
    kind: target.kind,
    region: typeof t.region === 'string' ? t.region : undefined,
    registryId: typeof t.registryId === 'string' ? t.registryId : undefined,
    project: typeof t.project === 'string' ? t.project : undefined,
  };
}

async function collectAndStore(
  db: Database,
  target: TargetConfig,
  scanId: number,
  opts: RunScanOptions & { alerting: AlertingContext },
  baseline: boolean,
  log: Logger,
  now: () => Date,
): Promise<ScanState> {
  const state: ScanState = { repositories: 0, tags: 0, errors: [], warnings: [], changes: [], findingsOpened: 0, alertsQueued: 0, heads: new Map() };
  const sc: StoreContext = { db, target, scanId, alerting: opts.alerting, baseline, log, now };
  const seen = new Set<string>();
  const filter = repositoryFilter(target.repositories);
  let listingComplete = false;
  let found: number | null = null;
  const progress = () =>
    opts.onProgress?.({ target: target.id, repositoriesDone: seen.size, repositoriesFound: found, tags: state.tags, errors: state.errors.length });

  let collector: Collector;
  try {
    // Loaded on demand: the vendor SDKs behind the collectors are heavy to import.
    collector = opts.collector ?? (await import('../collectors/index.js')).createCollector(target, { logger: log });
  } catch (err) {
    state.errors.push({ repository: null, code: 'failed', message: errorMessage(err) });
    return state;
  }
  const signal = opts.signal ?? new AbortController().signal;
  try {
    for await (const result of collector.collect(signal)) {
      if (signal.aborted) break;
      switch (result.kind) {
        case 'discovered':
          found = result.repositories;
          break;
        case 'listing':
          listingComplete = result.complete;
          break;
        case 'error': {
          const problem = { repository: result.repository, code: result.code, message: result.cause };
          if (result.repository !== null) seen.add(result.repository);
          if (result.code === 'vanished') {
            state.warnings.push(problem);
            log.warn(problem, 'repository vanished during the scan');
          } else {
            state.errors.push(problem);
            log.error(problem, result.repository ? 'repository not scanned' : 'target scan failed');
          }
          break;
        }
        case 'observed': {
          seen.add(result.observation.repository);
          await storeObservation(sc, result.observation, state);
          break;
        }
      }
      progress();
    }
  } catch (err) {
    if (!signal.aborted) {
      state.errors.push({ repository: null, code: 'failed', message: errorMessage(err) });
      log.error({ err: errorMessage(err) }, 'collector failed');
    }
  } finally {
    await collector.close?.().catch(() => undefined);
  }

  const targetFailed = state.errors.some((e) => e.repository === null);
  if (listingComplete && !targetFailed && !signal.aborted) {
    const live = (await liveRepositories(db, target.id)).filter((repo) => filter.matches(repo.name));
    if (seen.size === 0 && live.length > 0) {
      // A registry that suddenly lists nothing at all is far more often broken (storage not mounted,
      // credentials that lost every permission, the wrong project) than emptied: calling every
      // repository gone would report every tag deleted. The scan fails instead, until it lists again.
      const message = `the registry listed no repositories at all, but ${live.length} were present at the last scan; none is recorded as gone (check its storage and the credentials' permissions)`;
      state.errors.push({ repository: null, code: 'failed', message });
      log.error({ present: live.length }, 'empty repository listing not trusted; nothing recorded as gone');
      return state;
    }
    for (const repo of live) {
      if (seen.has(repo.name)) continue;
      const observedAt = now();
      const result = await db.transaction(async (tx) => {
        const t = tx as unknown as Database;
        const record = await recordRepositoryGone(t, { repositoryId: repo.id, scanId, observedAt });
        const outcome = await evaluateRepository(t, opts.alerting, { target: remediationTarget(target), repository: repo.name, scanId, now: observedAt, baseline, record, gone: true });
        state.findingsOpened += outcome.opened;
        state.alertsQueued += outcome.alerts;
        return record;
      });
      state.changes.push({ repository: repo.name, ...result });
      if (result.chainHead) state.heads.set(repo.name, result.chainHead);
      log.info({ repository: repo.name, deletedTags: result.tagEvents.length }, 'repository gone from the catalog');
    }
  }
  return state;
}

async function storeObservation(sc: StoreContext, obs: RepositoryObservation, state: ScanState) {
  const { db, scanId, log, now } = sc;
  const targetId = sc.target.id;
  const invalid = validateObservation(obs);
  if (invalid) {
    state.errors.push({ repository: obs.repository, code: 'failed', message: invalid });
    log.error({ repository: obs.repository, reason: invalid }, 'registry returned an invalid observation; repository not diffed');
    return;
  }
  try {
    const observedAt = now();
    let opened = 0;
    let queued = 0;
    const result = await db.transaction(async (tx) => {
      const t = tx as unknown as Database;
      const record = await recordObservation(t, { targetId, scanId, observedAt, observation: obs });
      const outcome = await evaluateRepository(t, sc.alerting, { target: remediationTarget(sc.target), repository: obs.repository, scanId, now: observedAt, baseline: sc.baseline, record });
      opened = outcome.opened;
      queued = outcome.alerts;
      return record;
    });
    state.findingsOpened += opened;
    state.alertsQueued += queued;
    state.repositories += 1;
    state.tags += obs.tags.length;
    if (result.chainHead) state.heads.set(obs.repository, result.chainHead);
    if (result.tagEvents.length || result.repositoryEvents.some((e) => e.kind !== 'discovered')) {
      state.changes.push({ repository: obs.repository, ...result });
    }
  } catch (err) {
    state.errors.push({ repository: obs.repository, code: 'failed', message: `could not store: ${errorMessage(err)}` });
    log.error({ repository: obs.repository, err: errorMessage(err) }, 'could not store repository; nothing of it was written');
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
