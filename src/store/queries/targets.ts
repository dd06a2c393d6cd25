import { sql } from 'drizzle-orm';
import type { Database } from '../db.js';
import { targets } from '../schema/index.js';

/** The target's row, its kind updated when the configuration changed it; an unchanged row is not rewritten. */
export async function ensureTarget(db: Database, target: { id: string; kind: string }): Promise<void> {
  await db
    .insert(targets)
    .values({ id: target.id, kind: target.kind })
    .onConflictDoUpdate({ target: targets.id, set: { kind: sql`excluded.kind` }, setWhere: sql`${targets.kind} IS DISTINCT FROM excluded.kind` });
}
