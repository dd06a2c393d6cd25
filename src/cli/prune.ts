/**
 * `tagledger prune --older-than 90d [--events]`: see store/queries/prune.ts for what goes and what
 * stays. `--events` adds closed findings; tag and repository events themselves are never deleted:
 * they are the hash-chained ledger that `tagledger verify` checks from its first link.
 */
import type { Logger } from 'pino';
import type { Database } from '../store/db.js';
import { parseDuration } from '../config/common.js';
import { pruneOlderThan, type PruneStats } from '../store/queries/prune.js';
import { UsageError } from './exit.js';

export function parseOlderThan(value: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    throw new UsageError(`--older-than "${value}" must be a duration like 90d, 12h or 30m`);
  }
  if (ms <= 0) throw new UsageError('--older-than must be longer than 0');
  return ms;
}

export async function pruneCommand(
  db: Database,
  opts: { olderThan: string; events?: boolean; json?: boolean; now?: Date; batchSize?: number },
  logger: Logger,
  signal?: AbortSignal,
): Promise<string> {
  const ms = parseOlderThan(opts.olderThan);
  const cutoff = new Date((opts.now ?? new Date()).getTime() - ms);
  logger.info({ cutoff: cutoff.toISOString(), closedFindings: Boolean(opts.events) }, 'pruning');
  const stats = await pruneOlderThan(db, {
    cutoff,
    closedFindings: opts.events,
    batchSize: opts.batchSize,
    signal,
    onBatch: (what, n) => logger.debug({ what, deleted: n }, 'pruned a batch'),
  });
  if (opts.json) return JSON.stringify({ cutoff: cutoff.toISOString(), deleted: stats });
  return renderPrune(cutoff, stats, Boolean(opts.events));
}

function renderPrune(cutoff: Date, s: PruneStats, events: boolean): string {
  const parts = [`${s.snapshots} repository snapshots`, `${s.deliveryAttempts} delivery attempts`, `${s.alerts} finished alerts`, `${s.slots} schedule slots`];
  if (events) parts.push(`${s.findings} closed findings`);
  return [
    `deleted older than ${cutoff.toISOString()}: ${parts.join(', ')}`,
    `kept: scans, tag events and repository events (the hash-chained ledger: tagledger verify)${events ? '' : ', and findings (--events prunes closed ones)'}`,
  ].join('\n');
}
