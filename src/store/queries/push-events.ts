/**
 * Push events (the `push_events` table): recorded when a registry announces a change, updated once
 * the scan they triggered says whether the registry agrees.
 */
import { and, desc, eq, inArray, lt, type SQL } from 'drizzle-orm';
import type { Database } from '../db.js';
import { pushEvents, repositories, repositorySnapshots } from '../schema/index.js';
import { ensureTarget } from './targets.js';

export type PushEventStatus = 'received' | 'scanned' | 'unconfirmed' | 'confirmed' | 'ignored';
export const pushEventStatuses: readonly PushEventStatus[] = ['received', 'scanned', 'unconfirmed', 'confirmed', 'ignored'];

export interface NewPushEvent {
  repository: string;
  tag: string | null;
  digest: string | null;
  action: 'push' | 'delete';
  eventType: string;
  eventId: string | null;
  occurredAt: Date | null;
  status: 'received' | 'ignored';
  note: string | null;
}

export type PushEventRow = typeof pushEvents.$inferSelect;

/**
 * Records the claims of one delivery in one transaction. A delivery whose event id was recorded
 * before (a redelivery) records nothing: `duplicate` is true and `rows` is empty.
 */
export async function recordPushEvents(
  db: Database,
  p: { target: { id: string; kind: string }; source: string; receivedAt: Date; payloadSha256: string; events: NewPushEvent[] },
): Promise<{ rows: PushEventRow[]; duplicate: boolean }> {
  if (!p.events.length) return { rows: [], duplicate: false };
  return db.transaction(async (tx) => {
    const t = tx as unknown as Database;
    await ensureTarget(t, p.target);
    const values = p.events.map((e) => ({
      targetId: p.target.id,
      source: p.source,
      receivedAt: p.receivedAt,
      occurredAt: e.occurredAt,
      eventType: e.eventType,
      eventId: e.eventId,
      repository: e.repository,
      tag: e.tag,
      digest: e.digest,
      action: e.action,
      payloadSha256: p.payloadSha256,
      status: e.status,
      note: e.note,
    }));
    const rows = await t.insert(pushEvents).values(values).onConflictDoNothing().returning();
    return { rows, duplicate: rows.length === 0 };
  });
}

export async function settlePushEvents(db: Database, verdicts: Array<{ id: number; status: PushEventStatus; scanId: number | null; note: string | null }>): Promise<void> {
  if (!verdicts.length) return;
  await db.transaction(async (tx) => {
    for (const v of verdicts) await tx.update(pushEvents).set({ status: v.status, scanId: v.scanId, note: v.note }).where(eq(pushEvents.id, v.id));
  });
}

/** Leaves the events `received` with a note (the scan could not run or did not finish). */
export async function notePushEvents(db: Database, ids: number[], note: string, scanId: number | null = null): Promise<void> {
  if (!ids.length) return;
  await db.update(pushEvents).set({ note, scanId }).where(inArray(pushEvents.id, ids));
}

/** Whether the scan observed the repository completely (it wrote the repository's snapshot). */
export async function observedInScan(db: Database, p: { targetId: string; repository: string; scanId: number }): Promise<boolean> {
  const rows = await db
    .select({ scanId: repositorySnapshots.scanId })
    .from(repositorySnapshots)
    .innerJoin(repositories, eq(repositories.id, repositorySnapshots.repositoryId))
    .where(and(eq(repositories.targetId, p.targetId), eq(repositories.name, p.repository), eq(repositorySnapshots.scanId, p.scanId)))
    .limit(1);
  return rows.length > 0;
}

/** Newest first, keyset-paged by id. */
export async function pushEventsPage(db: Database, p: { targetId?: string; status?: string[]; repository?: string; after?: number; limit: number }) {
  const where: SQL[] = [];
  if (p.targetId) where.push(eq(pushEvents.targetId, p.targetId));
  if (p.status?.length) where.push(inArray(pushEvents.status, p.status));
  if (p.repository) where.push(eq(pushEvents.repository, p.repository));
  if (p.after !== undefined) where.push(lt(pushEvents.id, p.after));
  const rows = await db
    .select()
    .from(pushEvents)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(pushEvents.id))
    .limit(p.limit + 1);
  const more = rows.length > p.limit;
  const items = more ? rows.slice(0, p.limit) : rows;
  return { items, next: more ? items[items.length - 1].id : null };
}
