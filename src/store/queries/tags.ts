import { and, asc, eq } from 'drizzle-orm';
import type { Database } from '../db.js';
import { repositories, tags } from '../schema/index.js';

/** The current state of every tag tagledger knows in a repository (deleted ones with present=false). */
export async function currentTags(db: Database, p: { targetId: string; repository: string }) {
  return db
    .select({
      tag: tags.name,
      digest: tags.digest,
      mediaType: tags.mediaType,
      pushedAt: tags.pushedAt,
      present: tags.present,
      protected: tags.protected,
      protectionReason: tags.protectionReason,
      extra: tags.extra,
      firstSeenAt: tags.firstSeenAt,
      changedAt: tags.changedAt,
    })
    .from(tags)
    .innerJoin(repositories, eq(repositories.id, tags.repositoryId))
    .where(and(eq(repositories.targetId, p.targetId), eq(repositories.name, p.repository)))
    .orderBy(asc(tags.name));
}
