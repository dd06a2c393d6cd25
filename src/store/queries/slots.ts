/**
 * Scheduled-run slots: exactly one replica runs a target's scheduled tick. Every replica computes
 * the same slot instant from the cron expression; the first INSERT of (target, slot) wins and the
 * others find the row there (`ON CONFLICT DO NOTHING` returns nothing).
 */
import { and, eq, lt } from 'drizzle-orm';
import type { Database } from '../db.js';
import { scheduleSlots } from '../schema/index.js';

/** Slot rows kept per target by the scheduler itself (prune may remove them sooner). */
export const SLOT_HISTORY_MS = 7 * 86_400_000;

export async function claimSlot(db: Database, p: { targetId: string; slot: Date; claimedBy: string; now: Date }): Promise<boolean> {
  const rows = await db
    .insert(scheduleSlots)
    .values({ targetId: p.targetId, slot: p.slot, claimedBy: p.claimedBy, claimedAt: p.now })
    .onConflictDoNothing()
    .returning({ targetId: scheduleSlots.targetId });
  return rows.length === 1;
}

/** Records which scan a won slot started. */
export async function attachScanToSlot(db: Database, p: { targetId: string; slot: Date; scanId: number }): Promise<void> {
  await db
    .update(scheduleSlots)
    .set({ scanId: p.scanId })
    .where(and(eq(scheduleSlots.targetId, p.targetId), eq(scheduleSlots.slot, p.slot)));
}

/** Forgets a target's slots older than `before` (keeps the table small without `prune`). */
export async function forgetSlots(db: Database, p: { targetId: string; before: Date }): Promise<number> {
  const rows = await db
    .delete(scheduleSlots)
    .where(and(eq(scheduleSlots.targetId, p.targetId), lt(scheduleSlots.slot, p.before)))
    .returning({ slot: scheduleSlots.slot });
  return rows.length;
}

export async function slotsOf(db: Database, targetId: string) {
  return db.select().from(scheduleSlots).where(eq(scheduleSlots.targetId, targetId)).orderBy(scheduleSlots.slot);
}
