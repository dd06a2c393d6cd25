/** `tagledger scan`: scan every (or the named) target once, store the results, summarise. */
import type { Logger } from 'pino';
import type { TargetConfig } from '../config/schema.js';
import type { Database } from '../store/db.js';
import { runScan, TargetBusyError, type ScanProgress, type ScanSummary } from '../scheduler/run-scan.js';
import type { AlertingContext } from '../alerts/evaluate.js';
import { ExitCode, UsageError } from './exit.js';
import { shortDigest, table } from './format.js';

export interface ScanCommandOptions {
  targets?: string[];
  json?: boolean;
  signal?: AbortSignal;
  /** Targets scanned at once (1 on PGlite, which is a single connection). */
  parallel: number;
  out?: NodeJS.WriteStream;
  err?: NodeJS.WriteStream;
  alerting?: AlertingContext;
  /** Collectors in worker threads (config `collectorThreads`). */
  thread?: boolean;
}

export function selectTargets(all: TargetConfig[], ids: string[] | undefined): TargetConfig[] {
  if (!ids || ids.length === 0) {
    if (all.length === 0) throw new UsageError('the config has no targets to scan');
    return all;
  }
  const unknown = ids.filter((id) => !all.some((t) => t.id === id));
  if (unknown.length) throw new UsageError(`unknown target ${unknown.map((u) => `"${u}"`).join(', ')} (configured: ${all.map((t) => t.id).join(', ') || 'none'})`);
  return all.filter((t) => ids.includes(t.id));
}

export async function scanTargets(db: Database, targets: TargetConfig[], logger: Logger, opts: ScanCommandOptions): Promise<ScanSummary[]> {
  const err = opts.err ?? process.stderr;
  const live = Boolean(err.isTTY) && !opts.json;
  const progress = live ? new ProgressLine(err) : null;
  const summaries: ScanSummary[] = [];
  const queue = [...targets];
  const worker = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      summaries.push(await scanOne(db, t, logger, opts, progress));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.parallel, targets.length)) }, worker));
  progress?.clear();
  // Report in config order whatever order they finished in.
  return targets.map((t) => summaries.find((s) => s.target === t.id)!);
}

async function scanOne(db: Database, target: TargetConfig, logger: Logger, opts: ScanCommandOptions, progress: ProgressLine | null): Promise<ScanSummary> {
  try {
    return await runScan(db, target, { logger, signal: opts.signal, alerting: opts.alerting, thread: opts.thread, onProgress: progress ? (p) => progress.update(p) : undefined });
  } catch (err) {
    const now = new Date();
    const message = err instanceof TargetBusyError ? err.message : `scan could not run: ${err instanceof Error ? err.message : String(err)}`;
    logger.error({ target: target.id, err: message }, 'scan could not run');
    return {
      scanId: 0,
      target: target.id,
      status: 'failed',
      startedAt: now,
      finishedAt: now,
      repositories: 0,
      tags: 0,
      events: { created: 0, moved: 0, deleted: 0, restored: 0 },
      errors: [{ repository: null, code: 'failed', message }],
      warnings: [],
      changes: [],
      findingsOpened: 0,
      alertsQueued: 0,
    };
  }
}

export function scanExitCode(summaries: ScanSummary[]): number {
  return summaries.some((s) => s.status !== 'succeeded') ? ExitCode.scanFailed : ExitCode.ok;
}

/** The `scan --json` contract. */
export function scanJson(summaries: ScanSummary[]): unknown {
  return {
    scans: summaries.map((s) => ({
      scanId: s.scanId,
      target: s.target,
      status: s.status,
      startedAt: s.startedAt.toISOString(),
      finishedAt: s.finishedAt.toISOString(),
      repositories: s.repositories,
      tags: s.tags,
      events: s.events,
      errors: s.errors,
      warnings: s.warnings,
      findingsOpened: s.findingsOpened,
      alertsQueued: s.alertsQueued,
    })),
  };
}

export function renderScanSummary(summaries: ScanSummary[], maxChanges = 50): string {
  const out: string[] = [];
  out.push(
    table(
      ['target', 'status', 'repositories', 'tags', 'created', 'moved', 'deleted', 'restored', 'errors', 'new findings'],
      summaries.map((s) => [s.target, s.status, s.repositories, s.tags, s.events.created, s.events.moved, s.events.deleted, s.events.restored, s.errors.length, s.findingsOpened]),
    ),
  );
  for (const s of summaries) {
    const lines: string[] = [];
    for (const c of s.changes) {
      for (const r of c.repositoryEvents) {
        if (r.kind === 'discovered') continue;
        lines.push(`  ${r.kind.padEnd(17)} ${c.repository}`);
      }
      for (const e of c.tagEvents) {
        if (e.kind === 'created' && c.repositoryEvents.some((r) => r.kind === 'discovered')) continue;
        const arrow = e.kind === 'deleted' ? `${shortDigest(e.previousDigest)} → (gone)` : e.previousDigest ? `${shortDigest(e.previousDigest)} → ${shortDigest(e.digest)}` : shortDigest(e.digest);
        lines.push(`  ${e.kind.padEnd(17)} ${c.repository}:${e.tag}  ${arrow}  [${e.protected ? 'protected' : 'not protected'}]`);
      }
    }
    const firstSeen = s.changes.filter((c) => c.repositoryEvents.some((r) => r.kind === 'discovered'));
    if (firstSeen.length) lines.unshift(`  first seen        ${firstSeen.length} repositor${firstSeen.length === 1 ? 'y' : 'ies'} (baseline recorded)`);
    if (lines.length) {
      out.push('', `${s.target}: what changed`);
      out.push(...lines.slice(0, maxChanges));
      if (lines.length > maxChanges) out.push(`  ... and ${lines.length - maxChanges} more (tagledger history, or the tag_events table)`);
    }
    for (const e of s.errors) out.push(`${s.target}: error${e.repository ? ` in ${e.repository}` : ''} (${e.code}): ${e.message}`);
    for (const w of s.warnings) out.push(`${s.target}: warning${w.repository ? ` in ${w.repository}` : ''}: ${w.message}`);
  }
  return out.join('\n');
}

/** One status line on a terminal, redrawn as a scan progresses. */
class ProgressLine {
  private last = 0;
  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(p: ScanProgress): void {
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    const total = p.repositoriesFound === null ? '?' : String(p.repositoriesFound);
    const text = `scanning ${p.target}: ${p.repositoriesDone}/${total} repositories, ${p.tags} tags, ${p.errors} errors`;
    this.stream.write(`\r\x1b[2K${text.slice(0, (this.stream.columns ?? 120) - 1)}`);
  }

  clear(): void {
    this.stream.write('\r\x1b[2K');
  }
}
