import { and, desc, eq, sql } from 'drizzle-orm';
import type { Database } from '../db.js';
import { scans } from '../schema/index.js';
import { recordScanRoot, scanHeads } from './chain.js';

export type ScanStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'aborted';

export interface ScanProblem {
  repository: string | null;
  code: string;
  message: string;
}

/** `scope`: the repositories a limited scan reads (push events); absent for the whole target. */
export async function startScan(db: Database, p: { targetId: string; startedAt: Date; runner: string; scope?: string[] | null }): Promise<number> {
  const [row] = await db
    .insert(scans)
    .values({ targetId: p.targetId, status: 'running', startedAt: p.startedAt, runner: p.runner, scope: p.scope ?? null })
    .returning({ id: scans.id });
  return row.id;
}

export async function finishScan(
  db: Database,
  scanId: number,
  p: {
    status: Exclude<ScanStatus, 'running'>;
    finishedAt: Date;
    repositories: number;
    tags: number;
    events: { created: number; moved: number; deleted: number; restored: number };
    errors: ScanProblem[];
    warnings: ScanProblem[];
  },
): Promise<void> {
  await db
    .update(scans)
    .set({ status: p.status, finishedAt: p.finishedAt, repositories: p.repositories, tags: p.tags, events: p.events, errors: p.errors, warnings: p.warnings })
    .where(eq(scans.id, scanId));
}

/** A scan `abortStaleScans` finished, with the root it recorded for it. */
export type AbortedScan = typeof scans.$inferSelect & { rootHash: string; previousRoot: string };

/**
 * Marks scans of a target still `running` as aborted and records their roots; returns them, oldest
 * first, so that the caller can queue their anchors in the same transaction. Call it only while
 * holding the target's lock: then no live process can be running them.
 */
export async function abortStaleScans(db: Database, targetId: string, now: Date): Promise<AbortedScan[]> {
  const rows = await db
    .update(scans)
    .set({
      status: 'aborted',
      finishedAt: now,
      errors: sql`${scans.errors} || ${JSON.stringify([{ repository: null, code: 'failed', message: 'the process running this scan stopped before it finished' }])}::jsonb`,
    })
    .where(and(eq(scans.targetId, targetId), eq(scans.status, 'running')))
    .returning();
  // Their repositories' events were committed one transaction at a time: cover them with roots too.
  const aborted: AbortedScan[] = [];
  for (const row of rows.sort((a, b) => a.id - b.id)) {
    const root = await recordScanRoot(db, { targetId, scanId: row.id, heads: await scanHeads(db, row.id) });
    aborted.push({ ...row, ...root });
  }
  return aborted;
}

export async function recentScans(db: Database, p: { targetId?: string; limit: number }) {
  return db
    .select()
    .from(scans)
    .where(p.targetId ? eq(scans.targetId, p.targetId) : undefined)
    .orderBy(desc(scans.id))
    .limit(p.limit);
}
