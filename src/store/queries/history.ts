import { and, asc, desc, eq, lte } from 'drizzle-orm';
import type { Database } from '../db.js';
import { repositories, repositorySnapshots, tagEvents } from '../schema/index.js';

export interface TagHistoryEvent {
  kind: 'created' | 'moved' | 'deleted' | 'restored';
  digest: string | null;
  previousDigest: string | null;
  observedAt: Date;
  scanId: number;
  protected: boolean;
  protectionReason: string;
}

export async function findRepository(db: Database, p: { targetId: string; repository: string }) {
  const [row] = await db
    .select()
    .from(repositories)
    .where(and(eq(repositories.targetId, p.targetId), eq(repositories.name, p.repository)));
  return row ?? null;
}

/** A tag's timeline, oldest first. Empty when tagledger never saw the tag. */
export async function tagHistory(db: Database, p: { targetId: string; repository: string; tag: string }): Promise<TagHistoryEvent[]> {
  const rows = await db
    .select({
      kind: tagEvents.kind,
      digest: tagEvents.digest,
      previousDigest: tagEvents.previousDigest,
      observedAt: tagEvents.observedAt,
      scanId: tagEvents.scanId,
      protected: tagEvents.protected,
      protectionReason: tagEvents.protectionReason,
    })
    .from(tagEvents)
    .innerJoin(repositories, eq(repositories.id, tagEvents.repositoryId))
    .where(and(eq(repositories.targetId, p.targetId), eq(repositories.name, p.repository), eq(tagEvents.tag, p.tag)))
    .orderBy(asc(tagEvents.observedAt), asc(tagEvents.id));
  return rows as TagHistoryEvent[];
}

/**
 * The digest a tag pointed to at `at`, as last observed at or before it: the latest event at or
 * before `at` decides the digest (null when deleted or not yet seen), and `observedAt` is the latest
 * complete observation of the repository at or before `at`.
 */
export async function digestAt(
  db: Database,
  p: { targetId: string; repository: string; tag: string; at: Date },
): Promise<{ digest: string | null; observedAt: Date | null }> {
  const repo = await findRepository(db, p);
  if (!repo) return { digest: null, observedAt: null };
  const [event] = await db
    .select({ kind: tagEvents.kind, digest: tagEvents.digest })
    .from(tagEvents)
    .where(and(eq(tagEvents.repositoryId, repo.id), eq(tagEvents.tag, p.tag), lte(tagEvents.observedAt, p.at)))
    .orderBy(desc(tagEvents.observedAt), desc(tagEvents.id))
    .limit(1);
  const [snap] = await db
    .select({ observedAt: repositorySnapshots.observedAt })
    .from(repositorySnapshots)
    .where(and(eq(repositorySnapshots.repositoryId, repo.id), lte(repositorySnapshots.observedAt, p.at)))
    .orderBy(desc(repositorySnapshots.observedAt))
    .limit(1);
  if (!event || event.kind === 'deleted') return { digest: null, observedAt: snap?.observedAt ?? null };
  return { digest: event.digest, observedAt: snap?.observedAt ?? null };
}
