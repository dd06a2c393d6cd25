/**
 * Who runs a scheduled tick when several replicas share one database: the replica whose INSERT of
 * (target, slot) lands first (see store/queries/slots.ts). It decides the slot, not the scan: the
 * scan still takes the target's lock, so a slot won while an earlier scan (from another replica or
 * from the API) is still running is skipped as busy rather than run twice at once.
 */
import { hostname } from 'node:os';
import type { Database } from '../store/db.js';
import { attachScanToSlot, claimSlot, forgetSlots, SLOT_HISTORY_MS } from '../store/queries/slots.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

export interface SlotCoordinator {
  /** true: this replica runs `job` for `slot`; false: another one already claimed it. */
  claim(job: string, slot: Date): Promise<boolean>;
  /** Records the scan a won slot started (for operators and tests: one scan per slot). */
  started?(job: string, slot: Date, scanId: number): Promise<void>;
}

export function runnerId(): string {
  return `${hostname()}:${process.pid}`;
}

export function databaseCoordinator(db: Database, opts: { runner?: string; clock?: Clock } = {}): SlotCoordinator {
  const runner = opts.runner ?? runnerId();
  const clock = opts.clock ?? systemClock;
  return {
    async claim(job, slot) {
      const won = await claimSlot(db, { targetId: job, slot, claimedBy: runner, now: clock.now() });
      if (won) await forgetSlots(db, { targetId: job, before: new Date(slot.getTime() - SLOT_HISTORY_MS) });
      return won;
    },
    async started(job, slot, scanId) {
      await attachScanToSlot(db, { targetId: job, slot, scanId });
    },
  };
}
