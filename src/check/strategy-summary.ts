/**
 * Where each repository stands against "SemVer plus Git SHA tags on immutable repositories": the share
 * of its tags per strategy, its floating tags the registry does not protect, and whether version tags
 * (SemVer, Git SHA, date or build number) were ever re-pushed, from the tag history.
 *
 * `summariseTagStrategies` is pure; `tagStrategySummary` reads the ledger and calls it.
 */
import { and, asc, eq, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../store/db.js';
import { repositories, tagEvents, tags } from '../store/schema/index.js';
import { classifyTag, isVersionStrategy, tagStrategies, type TagStrategy } from './strategy.js';

export interface RepushedTag {
  tag: string;
  strategy: TagStrategy;
  /** Moves, plus returns after deletion with another digest. */
  repushes: number;
  lastAt: Date;
}

export interface RepositoryStrategySummary {
  targetId: string;
  repository: string;
  pullReference: string;
  /** Present tags. */
  tags: number;
  byStrategy: Record<TagStrategy, number>;
  /** byStrategy / tags, 0 when there are no tags. */
  share: Record<TagStrategy, number>;
  /** Present floating tags the registry lets be overwritten. */
  floatingUnprotected: string[];
  /** Present version tags (semver, git-sha, date-or-build). */
  versionTags: number;
  /** Present version tags the registry lets be overwritten. */
  versionTagsUnprotected: number;
  /** Version tags ever re-pushed (present or not), most re-pushed first. */
  repushedVersionTags: RepushedTag[];
}

export interface StrategyTagRow {
  tag: string;
  present: boolean;
  protected: boolean;
}

export interface RepushRow {
  tag: string;
  repushes: number;
  lastAt: Date;
}

export function summariseTagStrategies(
  repo: { targetId: string; repository: string; pullReference: string },
  tagRows: StrategyTagRow[],
  repushRows: RepushRow[],
): RepositoryStrategySummary {
  const byStrategy = Object.fromEntries(tagStrategies.map((s) => [s, 0])) as Record<TagStrategy, number>;
  const floatingUnprotected: string[] = [];
  let versionTags = 0;
  let versionTagsUnprotected = 0;
  let present = 0;
  for (const t of tagRows) {
    if (!t.present) continue;
    present++;
    const { strategy } = classifyTag(t.tag);
    byStrategy[strategy]++;
    if (strategy === 'floating' && !t.protected) floatingUnprotected.push(t.tag);
    if (isVersionStrategy(strategy)) {
      versionTags++;
      if (!t.protected) versionTagsUnprotected++;
    }
  }
  const share = Object.fromEntries(tagStrategies.map((s) => [s, present ? byStrategy[s] / present : 0])) as Record<TagStrategy, number>;
  const repushedVersionTags = repushRows
    .map((r) => ({ ...r, strategy: classifyTag(r.tag).strategy }))
    .filter((r) => isVersionStrategy(r.strategy) && r.repushes > 0)
    .sort((a, b) => b.repushes - a.repushes || a.tag.localeCompare(b.tag));
  return { ...repo, tags: present, byStrategy, share, floatingUnprotected: floatingUnprotected.sort(), versionTags, versionTagsUnprotected, repushedVersionTags };
}

/**
 * One summary per repository still in the registry, ordered by target and repository; optionally
 * only one target (`targetId`), some targets (`targetIds`, e.g. `report --target a b`), one repository.
 */
export async function tagStrategySummary(db: Database, p: { targetId?: string; targetIds?: string[]; repository?: string } = {}): Promise<RepositoryStrategySummary[]> {
  const where: SQL[] = [isNull(repositories.goneAt)];
  if (p.targetId) where.push(eq(repositories.targetId, p.targetId));
  if (p.targetIds) where.push(p.targetIds.length ? inArray(repositories.targetId, p.targetIds) : sql`FALSE`);
  if (p.repository) where.push(eq(repositories.name, p.repository));
  const repos = await db
    .select({ id: repositories.id, targetId: repositories.targetId, name: repositories.name, pullReference: repositories.pullReference })
    .from(repositories)
    .where(and(...where))
    .orderBy(asc(repositories.targetId), asc(repositories.name));
  if (!repos.length) return [];

  // Joined with the same filter rather than an id list, so a whole estate stays one statement.
  const tagRows = await db
    .select({ repositoryId: tags.repositoryId, tag: tags.name, present: tags.present, protected: tags.protected })
    .from(tags)
    .innerJoin(repositories, eq(repositories.id, tags.repositoryId))
    .where(and(...where, eq(tags.present, true)));
  const repushRows = await db
    .select({
      repositoryId: tagEvents.repositoryId,
      tag: tagEvents.tag,
      repushes: sql<number>`count(*)::int`,
      lastAt: sql<Date>`max(${tagEvents.observedAt})`,
    })
    .from(tagEvents)
    .innerJoin(repositories, eq(repositories.id, tagEvents.repositoryId))
    .where(
      and(
        ...where,
        or(eq(tagEvents.kind, 'moved'), and(eq(tagEvents.kind, 'restored'), sql`${tagEvents.digest} IS DISTINCT FROM ${tagEvents.previousDigest}`)),
      ),
    )
    .groupBy(tagEvents.repositoryId, tagEvents.tag);

  const tagsBy = groupBy(tagRows, (r) => r.repositoryId);
  const repushBy = groupBy(repushRows, (r) => r.repositoryId);
  return repos.map((r) =>
    summariseTagStrategies(
      { targetId: r.targetId, repository: r.name, pullReference: r.pullReference },
      tagsBy.get(r.id) ?? [],
      (repushBy.get(r.id) ?? []).map((x) => ({ tag: x.tag, repushes: Number(x.repushes), lastAt: new Date(x.lastAt) })),
    ),
  );
}

function groupBy<T>(rows: T[], key: (row: T) => number): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list) list.push(row);
    else out.set(k, [row]);
  }
  return out;
}
