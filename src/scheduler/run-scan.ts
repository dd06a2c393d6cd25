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
import { PGlite } from '@electric-sql/pglite';
import { rawClient, type Database } from '../store/db.js';
import { tryLockTarget } from '../store/locks.js';
import { ensureTarget } from '../store/queries/targets.js';
import { abortStaleScans, finishScan, startScan, type AbortedScan, type ScanProblem } from '../store/queries/scans.js';
import {
  InvalidObservationError,
  liveRepositories,
  prepareObservation,
  recordObservation,
  recordRepositoryGone,
  repositoryUnchanged,
  snapshotOf,
  unchangedResult,
  type PreparedObservation,
  type RecordResult,
  type StoredRepository,
} from '../store/queries/observations.js';
import { findingsUnchanged } from '../store/queries/findings.js';
import { SnapshotBatch, StoredState } from './stored-state.js';
import { countEvents } from '../audit/diff.js';
import { validateObservation } from './validate.js';
import { alertingContext, evaluateRepository, evaluateTarget, hasEarlierScan, repositoryCandidates, type AlertingContext } from '../alerts/evaluate.js';
import { enqueueScanAnchors, releaseHeldAlerts, type AnchoredScan } from '../alerts/outbox.js';
import { recordScanRoot } from '../store/queries/chain.js';
import type { RemediationTarget } from '../audit/remediation.js';

export type ScanStatus = 'succeeded' | 'partial' | 'failed' | 'aborted';

/**
 * A repository's changes as the summary keeps them: its events, without the tag list the findings
 * were evaluated on. Tags created in a repository seen for the first time are counted in the
 * summary's `events` but not listed: a first scan would otherwise hold the whole estate in memory.
 */
export interface RepositoryChanges extends Omit<RecordResult, 'tags'> {
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
  /** What changed, per repository (only repositories with changes), in the order they were read. */
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
  /**
   * Run the collector in a worker thread (collectors/thread), so that reading registry answers
   * overlaps storing them (config `collectorThreads`). Default: on the scan's own thread.
   */
  thread?: boolean;
  onProgress?: (p: ScanProgress) => void;
  /** Called once the scan row exists (the API answers 202 with its id). */
  onStarted?: (scanId: number) => void;
  now?: () => Date;
  /** Policy and notifiers; by default the default policy and no notifiers. */
  alerting?: AlertingContext;
  /**
   * Read only these repositories (push events name the ones that changed): the target's filter is
   * narrowed to this literal list, so the listing is still read whole but only these are observed,
   * and none is called gone (one missing from the listing is a warning). Names outside the target's
   * own filter are dropped. Recorded as the scan's scope.
   */
  scope?: string[];
  /**
   * Repository transactions in flight at once. Default: 2 on PostgreSQL, so that the next
   * repository is prepared while the database writes the previous one; 1 on PGlite, which runs
   * one transaction at a time anyway.
   */
  storeConcurrency?: number;
}

export class TargetBusyError extends Error {
  constructor(readonly targetId: string) {
    super(`target "${targetId}" is being scanned by another process; skipped`);
    this.name = 'TargetBusyError';
  }
}

export async function runScan(db: Database, configured: TargetConfig, opts: RunScanOptions): Promise<ScanSummary> {
  const now = opts.now ?? (() => new Date());
  const scope = opts.scope ? scopeWithin(configured, opts.scope) : null;
  const target: TargetConfig = scope ? { ...configured, repositories: scope } : configured;
  const log = opts.logger.child({ target: target.id });
  await ensureTarget(db, { id: target.id, kind: target.kind });
  const lock = await tryLockTarget(db, target.id);
  if (!lock) throw new TargetBusyError(target.id);
  try {
    const alerting = opts.alerting ?? alertingContext();
    // A stale scan gets its root now, so its anchors are queued with it, in one transaction.
    const aborted = await db.transaction(async (tx) => {
      const t = tx as unknown as Database;
      const stale = await abortStaleScans(t, target.id, now());
      for (const s of stale) {
        await enqueueScanAnchors(t, { anchors: alerting.anchors, target: { id: target.id, kind: target.kind }, scan: anchoredScan(s), now: s.finishedAt ?? now() });
      }
      return stale.length;
    });
    if (aborted) log.warn({ aborted }, 'marked scans left running by a stopped process as aborted');
    const startedAt = now();
    const scanId = await startScan(db, { targetId: target.id, startedAt, runner: `${hostname()}:${process.pid}`, scope });
    const scanLog = log.child({ scanId });
    scanLog.info(scope ? { scope } : {}, 'scan started');
    if (target.insecureSkipTlsVerify) {
      // Said at every scan, not once per process: whoever reads the logs of any run should see it.
      scanLog.warn(
        { insecureSkipTlsVerify: true },
        `TLS certificate verification is OFF for target "${target.id}" (insecureSkipTlsVerify: true): anyone between tagledger and the registry can answer in its name; set caFile instead`,
      );
    }
    opts.onStarted?.(scanId);
    const baseline = !(await hasEarlierScan(db, target.id, scanId));
    // The scan also stops when the target's lock is lost with its database connection: another
    // process may take the target then, and two scans must never write one target at once.
    const stop = opts.signal ? AbortSignal.any([opts.signal, lock.lost]) : lock.lost;
    const state = await collectAndStore(db, target, scanId, { ...opts, alerting, signal: stop }, baseline, scanLog, now);
    if (lock.lost.aborted && !opts.signal?.aborted) {
      const message = `${errorMessage(lock.lost.reason)}; the scan was stopped so that no other scan of the target overlaps it`;
      state.errors.push({ repository: null, code: 'failed', message });
      scanLog.error({ err: message }, 'scan stopped: the target lock was lost');
    }
    const status: ScanStatus = opts.signal?.aborted
      ? 'aborted'
      : state.errors.some((e) => e.repository === null)
        ? 'failed'
        : state.errors.length > 0
          ? 'partial'
          : 'succeeded';
    const finishedAt = now();
    const events = state.events;
    let anchorsQueued = 0;
    await db
      .transaction(async (tx) => {
        const t = tx as unknown as Database;
        await finishScan(t, scanId, { status, finishedAt, repositories: state.repositories, tags: state.tags, events, errors: state.errors, warnings: state.warnings });
        const targetError = state.errors.find((e) => e.repository === null)?.message ?? (status === 'aborted' ? 'scan aborted' : null);
        state.alertsQueued += await evaluateTarget(t, alerting, { target: remediationTarget(target), scanId, now: finishedAt, lastError: targetError });
        const root = await recordScanRoot(t, { targetId: target.id, scanId, heads: state.heads });
        // The anchor commits with the root it carries: a recorded root always has its delivery queued.
        anchorsQueued = await enqueueScanAnchors(t, {
          anchors: alerting.anchors,
          target: { id: target.id, kind: target.kind },
          scan: { id: scanId, status, startedAt, finishedAt, repositories: state.repositories, tags: state.tags, events, errors: state.errors.length, warnings: state.warnings.length, ...root },
          now: finishedAt,
        });
        await releaseHeldAlerts(t, [scanId], finishedAt);
      })
      .catch((err: unknown) => {
        // The database went away (a restart, a failover): what was stored stays stored, whole
        // repositories only; the scan row says "running" until the target's next scan marks it aborted.
        const message = `could not record the end of scan ${scanId} of target "${target.id}" (${innermostMessage(err)}); the repositories stored before stay stored, and the target's next scan marks this one aborted`;
        scanLog.error({ err: innermostMessage(err) }, 'could not record the end of the scan');
        throw new Error(message, { cause: err });
      });
    scanLog.info({ status, repositories: state.repositories, tags: state.tags, events, errors: state.errors.length, findingsOpened: state.findingsOpened, alertsQueued: state.alertsQueued, ...(anchorsQueued ? { anchorsQueued } : {}) }, 'scan finished');
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
  /** Arrival order of each changed repository, so that `changes` keeps the collector's order. */
  order: Map<RepositoryChanges, number>;
  /** Tag events recorded, by kind. */
  events: { created: number; moved: number; deleted: number; restored: number };
}

interface StoreContext {
  db: Database;
  target: TargetConfig;
  scanId: number;
  alerting: AlertingContext;
  baseline: boolean;
  log: Logger;
  now: () => Date;
  /** The target's repository rows and condition findings, as stored before this scan. */
  stored: StoredState;
  /** Snapshot rows of unchanged repositories, waiting to be written. */
  snapshots: SnapshotBatch;
}

/** The scope's names that the target's own filter admits (sorted, unique); at least one. */
function scopeWithin(target: TargetConfig, names: string[]): string[] {
  const filter = repositoryFilter(target.repositories);
  const kept = [...new Set(names)].filter((n) => filter.matches(n)).sort();
  if (!kept.length) throw new Error(`target "${target.id}": none of ${names.map((n) => `"${n}"`).join(', ')} matches the target's repositories filter`);
  return kept;
}

/** A stale scan's row, as its anchor describes it. */
function anchoredScan(s: AbortedScan): AnchoredScan {
  return {
    id: s.id,
    status: 'aborted',
    startedAt: s.startedAt,
    finishedAt: s.finishedAt ?? s.startedAt,
    repositories: s.repositories,
    tags: s.tags,
    events: s.events ?? null,
    errors: s.errors.length,
    warnings: s.warnings.length,
    rootHash: s.rootHash,
    previousRoot: s.previousRoot,
  };
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
  const state: ScanState = { repositories: 0, tags: 0, errors: [], warnings: [], changes: [], findingsOpened: 0, alertsQueued: 0, heads: new Map(), order: new Map(), events: countEvents([]) };
  const seen = new Set<string>();
  const filter = repositoryFilter(target.repositories);
  let listingComplete = false;
  let found: number | null = null;
  const progress = () =>
    opts.onProgress?.({ target: target.id, repositoriesDone: seen.size, repositoriesFound: found, tags: state.tags, errors: state.errors.length });

  let collector: Collector;
  let sc: StoreContext;
  try {
    // A limited scan reads only the repositories it names; a whole one, the target's rows at once.
    const stored = opts.scope ? StoredState.onDemand(db, target.id) : await StoredState.preload(db, target.id);
    sc = { db, target, scanId, alerting: opts.alerting, baseline, log, now, stored, snapshots: new SnapshotBatch(db) };
    // Loaded on demand: the vendor SDKs behind the collectors are heavy to import.
    collector =
      opts.collector ??
      (opts.thread
        ? (await import('../collectors/thread/host.js')).createThreadedCollector(target, { logger: log })
        : await (await import('../collectors/index.js')).createCollector(target, { logger: log }));
  } catch (err) {
    state.errors.push({ repository: null, code: 'failed', message: errorMessage(err) });
    return state;
  }
  const signal = opts.signal ?? new AbortController().signal;
  // Repository transactions run a few at a time (each on its own connection), never more: the
  // collector is not read further while they are all busy, so memory stays bounded.
  const limit = Math.max(1, opts.storeConcurrency ?? (rawClient(db) instanceof PGlite ? 1 : 2));
  const storing = new Set<Promise<void>>();
  let arrived = 0;
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
          // A limited scan stores nothing beyond its scope, whatever the collector yields.
          if (opts.scope && !filter.matches(result.observation.repository)) break;
          seen.add(result.observation.repository);
          const stored: Promise<void> = storeObservation(sc, result.observation, state, arrived++).finally(() => {
            storing.delete(stored);
            progress();
          });
          storing.add(stored);
          if (storing.size >= limit) await Promise.race(storing);
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
    await Promise.all(storing);
    await flushSnapshots(sc, state);
    await collector.close?.().catch(() => undefined);
  }
  state.changes.sort((a, b) => state.order.get(a)! - state.order.get(b)!);

  const targetFailed = state.errors.some((e) => e.repository === null);
  if (opts.scope && listingComplete && !targetFailed && !signal.aborted) {
    // A limited scan never calls a repository gone: with one or two names in scope it cannot tell a
    // registry that lists nothing (storage not mounted, permissions lost) from one that lost just
    // these, and the empty-listing guard below would fail the scan instead. The next scan of the
    // whole target decides; until then the repository keeps its tags.
    for (const name of filter.literals ?? []) {
      if (seen.has(name)) continue;
      const problem = { repository: name, code: 'vanished', message: `repository "${name}" is not in the registry's listing; a scan of the whole target records it gone` };
      state.warnings.push(problem);
      log.warn(problem, 'repository named by the scope is not in the listing');
    }
  } else if (listingComplete && !targetFailed && !signal.aborted) {
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
      const change = changeOf(repo.name, result, state);
      state.changes.push(change);
      state.order.set(change, arrived++);
      if (result.chainHead) state.heads.set(repo.name, result.chainHead);
      log.info({ repository: repo.name, deletedTags: result.tagEvents.length }, 'repository gone from the catalog');
    }
  }
  return state;
}

async function storeObservation(sc: StoreContext, obs: RepositoryObservation, state: ScanState, arrival: number): Promise<void> {
  const { db, scanId, log, now } = sc;
  const targetId = sc.target.id;
  try {
    const observedAt = now();
    const prepared = prepareObservation(obs);
    const stored = await sc.stored.repository(obs.repository);
    if (stored && (await storeUnchanged(sc, stored, prepared, observedAt))) {
      // Counted once its snapshot is written (flushSnapshots).
      if (sc.snapshots.add({ row: snapshotOf(stored.id, scanId, observedAt, prepared, stored.lastTagsHash), repository: obs.repository, tags: prepared.count })) await flushSnapshots(sc, state);
      return;
    }
    let opened = 0;
    let queued = 0;
    const result = await db.transaction(async (tx) => {
      const t = tx as unknown as Database;
      const record = await recordObservation(t, { targetId, scanId, observedAt, observation: obs, prepared, stored, validate: validateObservation });
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
      const change = changeOf(obs.repository, result, state);
      state.changes.push(change);
      state.order.set(change, arrival);
    }
  } catch (err) {
    if (err instanceof InvalidObservationError) {
      state.errors.push({ repository: obs.repository, code: 'failed', message: err.problem });
      log.error({ repository: obs.repository, reason: err.problem }, 'registry returned an invalid observation; repository not diffed');
      return;
    }
    state.errors.push({ repository: obs.repository, code: 'failed', message: `could not store: ${errorMessage(err)}` });
    log.error({ repository: obs.repository, err: errorMessage(err) }, 'could not store repository; nothing of it was written');
  }
}

/**
 * A re-scan of a repository in which nothing changed (the common case) writes its snapshot and
 * nothing else. True when the stored row says what the observation says and the repository's
 * condition findings would be written back exactly as they are: then the snapshot row is all there
 * is to write (no transaction, no per-tag work), and it joins the scan's batch. Otherwise (false)
 * the caller records the observation in full. The target's lock keeps other scans from writing
 * the repository in between.
 */
async function storeUnchanged(sc: StoreContext, stored: StoredRepository, prepared: PreparedObservation, observedAt: Date): Promise<boolean> {
  if (!repositoryUnchanged(stored, prepared)) return false;
  const repository = prepared.observation.repository;
  const candidates = repositoryCandidates(sc.alerting, { target: remediationTarget(sc.target), repository, now: observedAt, record: unchangedResult(stored, prepared) });
  const conditions = await sc.stored.conditions(repository);
  return findingsUnchanged(candidates, conditions, { targetId: sc.target.id, scanId: sc.scanId, now: observedAt, conditionScope: { repository } });
}

/** Writes the waiting snapshot rows; their repositories count as stored, or as failed with the reason. */
async function flushSnapshots(sc: StoreContext, state: ScanState): Promise<void> {
  const { written, failed, error } = await sc.snapshots.flush();
  for (const p of written) {
    state.repositories += 1;
    state.tags += p.tags;
  }
  if (!failed.length) return;
  const message = `could not store: ${innermostMessage(error)}`;
  for (const p of failed) state.errors.push({ repository: p.repository, code: 'failed', message });
  sc.log.error({ repositories: failed.length, err: innermostMessage(error) }, 'could not store the snapshots of unchanged repositories; they count as not scanned');
}

/** The driver's own words: the query builder wraps them as "Failed query: <sql> params: ...". */
function innermostMessage(err: unknown): string {
  let e = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return errorMessage(e);
}

/** Counts a repository's tag events and keeps what the summary lists of them (see RepositoryChanges). */
function changeOf(repository: string, result: RecordResult, state: ScanState): RepositoryChanges {
  for (const [kind, n] of Object.entries(countEvents(result.tagEvents))) state.events[kind as keyof ScanState['events']] += n;
  const { tags: _evaluated, ...rest } = result;
  const discovered = result.repositoryEvents.some((e) => e.kind === 'discovered');
  return { repository, ...rest, tagEvents: discovered ? rest.tagEvents.filter((e) => e.kind !== 'created') : rest.tagEvents };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
