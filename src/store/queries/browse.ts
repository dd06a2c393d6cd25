/**
 * Paged reads for the HTTP API. Keyset pagination: each query takes the last key of the previous
 * page (`after`) and returns up to `limit + 1` rows, so the caller knows whether a next page exists
 * without counting. Rows inserted while a client pages never shift the pages it has not read yet.
 */
import { and, asc, desc, eq, gt, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db.js';
import { findings, repositories, scans, tagEvents, targets } from '../schema/index.js';
import { severities, type Severity } from '../../notifiers/types.js';
import { findingColumns } from './findings.js';

export interface Page<T, K> {
  items: T[];
  /** Key to continue after, or null on the last page. */
  next: K | null;
}

function page<T, K>(rows: T[], limit: number, key: (row: T) => K): Page<T, K> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, next: more ? key(items[items.length - 1]) : null };
}

/** Every target in the database with its latest scan (targets keep their history after leaving the config). */
export async function storedTargets(db: Database) {
  const rows = await db.select().from(targets).orderBy(asc(targets.id));
  const latest = await db.execute(sql`
    SELECT DISTINCT ON (target_id) target_id, id, status, started_at, finished_at
    FROM scans ORDER BY target_id, id DESC`);
  const byTarget = new Map(
    (latest as unknown as { rows: Array<{ target_id: string; id: string | number; status: string; started_at: string | Date; finished_at: string | Date | null }> }).rows.map((r) => [
      r.target_id,
      { id: Number(r.id), status: r.status, startedAt: toDate(r.started_at), finishedAt: r.finished_at === null ? null : toDate(r.finished_at) },
    ]),
  );
  return rows.map((t) => ({ ...t, lastScan: byTarget.get(t.id) ?? null }));
}

export async function scansPage(db: Database, p: { targetId?: string; status?: string[]; after?: number; limit: number }) {
  const where: SQL[] = [];
  if (p.targetId) where.push(eq(scans.targetId, p.targetId));
  if (p.status?.length) where.push(inArray(scans.status, p.status));
  if (p.after !== undefined) where.push(lt(scans.id, p.after));
  const rows = await db
    .select()
    .from(scans)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(scans.id))
    .limit(p.limit + 1);
  return page(rows, p.limit, (r) => r.id);
}

export interface RepositoryListRow {
  id: number;
  targetId: string;
  name: string;
  pullReference: string;
  protection: unknown;
  firstSeenAt: Date;
  goneAt: Date | null;
  lastSeenAt: Date | null;
  tags: number;
  unprotectedTags: number;
}

/**
 * Repositories with their present-tag counts. `protected`: true keeps repositories with at least
 * one tag and every present tag protected by the registry; false keeps the others.
 */
export async function repositoriesPage(db: Database, p: { targetId?: string; protected?: boolean; after?: number; limit: number }): Promise<Page<RepositoryListRow, number>> {
  const where: SQL[] = [sql`TRUE`];
  if (p.targetId) where.push(sql`r.target_id = ${p.targetId}`);
  if (p.after !== undefined) where.push(sql`r.id > ${p.after}`);
  const having =
    p.protected === undefined
      ? sql``
      : p.protected
        ? sql`HAVING count(t.name) FILTER (WHERE t.present) > 0 AND count(t.name) FILTER (WHERE t.present AND NOT t.protected) = 0`
        : sql`HAVING NOT (count(t.name) FILTER (WHERE t.present) > 0 AND count(t.name) FILTER (WHERE t.present AND NOT t.protected) = 0)`;
  const res = await db.execute(sql`
    SELECT r.id, r.target_id, r.name, r.pull_reference, r.protection, r.first_seen_at, r.gone_at,
           (SELECT max(s.observed_at) FROM repository_snapshots s WHERE s.repository_id = r.id) AS last_seen_at,
           count(t.name) FILTER (WHERE t.present)::int AS tags,
           count(t.name) FILTER (WHERE t.present AND NOT t.protected)::int AS unprotected_tags
    FROM repositories r LEFT JOIN tags t ON t.repository_id = r.id
    WHERE ${sql.join(where, sql` AND `)}
    GROUP BY r.id
    ${having}
    ORDER BY r.id
    LIMIT ${p.limit + 1}`);
  const rows = (res as unknown as { rows: Array<Record<string, unknown>> }).rows.map(
    (r): RepositoryListRow => ({
      id: Number(r.id),
      targetId: String(r.target_id),
      name: String(r.name),
      pullReference: String(r.pull_reference),
      protection: typeof r.protection === 'string' ? JSON.parse(r.protection) : r.protection,
      firstSeenAt: toDate(r.first_seen_at as string),
      goneAt: r.gone_at ? toDate(r.gone_at as string) : null,
      lastSeenAt: r.last_seen_at ? toDate(r.last_seen_at as string) : null,
      tags: Number(r.tags),
      unprotectedTags: Number(r.unprotected_tags),
    }),
  );
  return page(rows, p.limit, (r) => r.id);
}

export async function findingsPage(
  db: Database,
  p: { status?: string[]; minSeverity?: Severity; type?: string; targetId?: string; after?: number; limit: number },
) {
  const where: SQL[] = [];
  if (p.status?.length) where.push(inArray(findings.status, p.status));
  if (p.minSeverity) where.push(inArray(findings.severity, severities.slice(severities.indexOf(p.minSeverity)) as string[]));
  if (p.type) where.push(eq(findings.type, p.type));
  if (p.targetId) where.push(eq(findings.targetId, p.targetId));
  if (p.after !== undefined) where.push(lt(findings.id, p.after));
  const rows = await db
    .select(findingColumns())
    .from(findings)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(findings.id))
    .limit(p.limit + 1);
  return page(rows, p.limit, (r) => r.id);
}

/** A tag's events, oldest first, paged by event id. */
export async function tagHistoryPage(db: Database, p: { targetId: string; repository: string; tag: string; after?: number; limit: number }) {
  const where: SQL[] = [eq(repositories.targetId, p.targetId), eq(repositories.name, p.repository), eq(tagEvents.tag, p.tag)];
  if (p.after !== undefined) where.push(gt(tagEvents.id, p.after));
  const rows = await db
    .select({
      id: tagEvents.id,
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
    .where(and(...where))
    .orderBy(asc(tagEvents.id))
    .limit(p.limit + 1);
  return page(rows, p.limit, (r) => r.id);
}

function toDate(v: string | Date): Date {
  return v instanceof Date ? v : new Date(v);
}
