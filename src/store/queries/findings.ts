/**
 * Stores finding candidates with their lifecycle. Returns the findings that became open (new or
 * re-opened) — the ones that alert.
 */
import { and, asc, desc, eq, getTableColumns, inArray, or, sql, type SQL } from 'drizzle-orm';
import { stableJson } from './json.js';
import type { Database } from '../db.js';
import { findings } from '../schema/index.js';
import type { FindingCandidate } from '../../audit/findings.js';
import { severities, type Severity } from '../../notifiers/types.js';

export type FindingRow = typeof findings.$inferSelect;

/** A finding as the CLI (`--json`) and the API show it. */
export function findingJson(f: FindingRow) {
  return {
    id: f.id,
    type: f.type,
    severity: f.severity,
    status: f.status,
    target: f.targetId,
    repository: f.repository,
    tag: f.tag,
    digest: f.digest,
    previousDigest: f.previousDigest,
    summary: f.summary,
    remediation: f.remediation,
    firstSeenAt: f.firstSeenAt.toISOString(),
    lastSeenAt: f.lastSeenAt.toISOString(),
    statusChangedAt: f.statusChangedAt.toISOString(),
    statusBy: f.statusBy,
    statusReason: f.statusReason,
  };
}

export type FindingStatus = 'open' | 'acknowledged' | 'resolved' | 'waived';

export interface StoreFindingsInput {
  targetId: string;
  scanId: number | null;
  now: Date;
  candidates: FindingCandidate[];
  /**
   * Scope of the condition findings evaluated: open condition findings in this scope whose
   * fingerprint is not among the candidates are resolved (the condition is gone).
   */
  conditionScope?: { repository: string | null; types?: string[] };
}

export async function storeFindings(db: Database, p: StoreFindingsInput): Promise<FindingRow[]> {
  const opened: FindingRow[] = [];
  const fingerprints = p.candidates.map((c) => c.fingerprint);
  // One read: the candidates' rows and every unresolved condition of the scope (to resolve those
  // no longer among the candidates).
  const wanted: SQL[] = [];
  if (fingerprints.length) wanted.push(inArray(findings.fingerprint, fingerprints));
  if (p.conditionScope) wanted.push(and(...conditionScopeFilter(p.targetId, p.conditionScope))!);
  const existing = wanted.length ? await db.select().from(findings).where(wanted.length === 1 ? wanted[0] : or(...wanted)) : [];
  const byFingerprint = new Map(existing.map((f) => [f.fingerprint, f]));

  for (const c of p.candidates) {
    const prev = byFingerprint.get(c.fingerprint);
    const common = findingValues(c, p);
    if (!prev) {
      const status: FindingStatus = c.waiver ? 'waived' : 'open';
      const [row] = await db
        .insert(findings)
        .values({
          ...common,
          fingerprint: c.fingerprint,
          type: c.type,
          lifecycle: c.lifecycle,
          status,
          targetId: p.targetId,
          firstSeenAt: p.now,
          openedScanId: p.scanId,
          statusChangedAt: p.now,
          statusBy: 'tagledger',
          statusReason: c.waiver ? `waived: ${c.waiver.reason}` : null,
        })
        .returning();
      if (status === 'open') opened.push(row);
      continue;
    }
    const update = existingFindingUpdate(c, prev, common);
    if (!update) continue;
    const [row] = await db
      .update(findings)
      .set({ ...common, status: update.status, ...(update.changed ? { statusChangedAt: p.now, statusBy: 'tagledger', statusReason: update.reason } : {}) })
      .where(eq(findings.id, prev.id))
      .returning();
    if (update.changed && update.status === 'open') opened.push(row);
  }

  if (p.conditionScope) {
    const cleared = clearedConditions(existing, new Set(fingerprints), p.targetId, p.conditionScope);
    if (cleared.length) {
      await db
        .update(findings)
        .set({ status: 'resolved', statusChangedAt: p.now, statusBy: 'tagledger', statusReason: 'condition cleared', lastScanId: p.scanId })
        .where(inArray(findings.id, cleared.map((f) => f.id)));
    }
  }
  return opened;
}

/**
 * The condition findings of one repository, whatever their status: what storeFindings would read
 * for that repository's condition candidates and scope (one row per condition type at most).
 */
export async function loadRepositoryConditions(db: Database, targetId: string, repository: string): Promise<FindingRow[]> {
  return db
    .select()
    .from(findings)
    .where(and(eq(findings.targetId, targetId), eq(findings.repository, repository), eq(findings.lifecycle, 'condition')));
}

/** loadRepositoryConditions for every repository of a target at once, by repository. */
export async function loadTargetConditions(db: Database, targetId: string): Promise<Map<string, FindingRow[]>> {
  const rows = await db
    .select()
    .from(findings)
    .where(and(eq(findings.targetId, targetId), eq(findings.lifecycle, 'condition')));
  const out = new Map<string, FindingRow[]>();
  for (const f of rows) {
    if (f.repository === null) continue;
    const list = out.get(f.repository);
    if (list) list.push(f);
    else out.set(f.repository, [f]);
  }
  return out;
}

/**
 * storeFindings would write nothing for these candidates and this scope, given the rows it would
 * read (`stored`: every condition finding of the scope's repository, see loadRepositoryConditions).
 * Condition candidates only: an event candidate always has something to say.
 */
export function findingsUnchanged(candidates: FindingCandidate[], stored: FindingRow[], p: { targetId: string; scanId: number | null; now: Date; conditionScope: { repository: string; types?: string[] } }): boolean {
  const byFingerprint = new Map(stored.map((f) => [f.fingerprint, f]));
  for (const c of candidates) {
    const prev = byFingerprint.get(c.fingerprint);
    if (!prev || c.lifecycle !== 'condition' || existingFindingUpdate(c, prev, findingValues(c, p))) return false;
  }
  return clearedConditions(stored, new Set(candidates.map((c) => c.fingerprint)), p.targetId, p.conditionScope).length === 0;
}

type FindingValues = ReturnType<typeof findingValues>;

function findingValues(c: FindingCandidate, p: { scanId: number | null; now: Date }) {
  return {
    severity: c.severity,
    repository: c.repository,
    tag: c.tag,
    digest: c.digest,
    previousDigest: c.previousDigest,
    protection: c.protection,
    summary: c.summary,
    remediation: c.remediation,
    details: c.details,
    lastSeenAt: p.now,
    lastScanId: p.scanId,
    waivedUntil: c.waiver?.expires ?? null,
  };
}

/** How a stored finding changes when its candidate is seen again; null: not at all. */
function existingFindingUpdate(c: FindingCandidate, prev: FindingRow, common: FindingValues): { status: FindingStatus; changed: boolean; reason: string | null } | null {
  // Event findings never change after they open; conditions track their state.
  if (c.lifecycle === 'event') return null;
  let next: FindingStatus = prev.status as FindingStatus;
  let reason = prev.statusReason;
  if (c.waiver) {
    if (prev.status !== 'waived') reason = `waived: ${c.waiver.reason}`;
    next = 'waived';
  } else if (prev.status === 'resolved' || prev.status === 'waived') {
    next = 'open';
    reason = prev.status === 'waived' ? 'waiver no longer applies' : 'condition is back';
  }
  const changed = next !== prev.status;
  // A condition seen again exactly as stored writes nothing: "last seen" of an open condition is
  // its repository's latest snapshot (findingLastSeen), which the scan writes anyway.
  if (!changed && sameFinding(prev, common)) return null;
  return { status: next, changed, reason };
}

function conditionScopeFilter(targetId: string, scope: NonNullable<StoreFindingsInput['conditionScope']>): SQL[] {
  const filter: SQL[] = [
    eq(findings.targetId, targetId),
    eq(findings.lifecycle, 'condition'),
    inArray(findings.status, ['open', 'acknowledged', 'waived']),
    scope.repository === null ? sql`${findings.repository} IS NULL` : eq(findings.repository, scope.repository),
  ];
  if (scope.types) filter.push(inArray(findings.type, scope.types));
  return filter;
}

/** Unresolved conditions of the scope that are not among the candidates: their condition is gone. */
function clearedConditions(rows: FindingRow[], candidates: Set<string>, targetId: string, scope: NonNullable<StoreFindingsInput['conditionScope']>): FindingRow[] {
  return rows.filter(
    (f) =>
      f.targetId === targetId &&
      f.lifecycle === 'condition' &&
      (f.status === 'open' || f.status === 'acknowledged' || f.status === 'waived') &&
      f.repository === scope.repository &&
      (!scope.types || scope.types.includes(f.type)) &&
      !candidates.has(f.fingerprint),
  );
}

/** What a re-evaluation would write is what the row holds already (times and scan ids aside). */
function sameFinding(
  prev: FindingRow,
  next: Pick<FindingRow, 'severity' | 'repository' | 'tag' | 'digest' | 'previousDigest' | 'summary' | 'remediation' | 'protection' | 'details' | 'waivedUntil'>,
): boolean {
  return (
    prev.severity === next.severity &&
    prev.repository === next.repository &&
    prev.tag === next.tag &&
    prev.digest === next.digest &&
    prev.previousDigest === next.previousDigest &&
    prev.summary === next.summary &&
    prev.remediation === next.remediation &&
    stableJson(prev.protection ?? null) === stableJson(next.protection ?? null) &&
    stableJson(prev.details ?? null) === stableJson(next.details ?? null) &&
    (prev.waivedUntil?.getTime() ?? null) === (next.waivedUntil?.getTime() ?? null)
  );
}

/**
 * A finding's "last seen" as shown everywhere (CLI, API, reports, the `open_findings` view). A
 * condition finding about a repository that is not resolved holds at every scan that observes the
 * repository, and a re-scan that finds it unchanged writes nothing to it, so its last sighting is
 * the repository's latest snapshot; everything else is as stored. `f` is the findings table's alias.
 */
export function findingLastSeen(f: string): SQL<Date> {
  return sql.raw(
    `(CASE WHEN ${f}.lifecycle = 'condition' AND ${f}.status <> 'resolved' AND ${f}.repository IS NOT NULL ` +
      `THEN GREATEST(${f}.last_seen_at, (SELECT max(ls.observed_at) FROM repository_snapshots ls JOIN repositories lr ON lr.id = ls.repository_id ` +
      `WHERE lr.target_id = ${f}.target_id AND lr.name = ${f}.repository)) ELSE ${f}.last_seen_at END)`,
  ) as SQL<Date>;
}

/** Findings rows with "last seen" as shown (see findingLastSeen). */
export function findingColumns() {
  return { ...getTableColumns(findings), lastSeenAt: findingLastSeen('findings').mapWith(findings.lastSeenAt) };
}

export interface FindingFilter {
  status?: FindingStatus[];
  /** At least this severity. */
  minSeverity?: Severity;
  targetId?: string;
  type?: string;
  limit?: number;
}

export async function listFindings(db: Database, f: FindingFilter = {}): Promise<FindingRow[]> {
  const where: SQL[] = [];
  if (f.status?.length) where.push(inArray(findings.status, f.status));
  if (f.minSeverity) where.push(inArray(findings.severity, severities.slice(severities.indexOf(f.minSeverity)) as string[]));
  if (f.targetId) where.push(eq(findings.targetId, f.targetId));
  if (f.type) where.push(eq(findings.type, f.type));
  return db
    .select(findingColumns())
    .from(findings)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(sql`array_position(ARRAY['info','low','medium','high','critical'], ${findings.severity})`), asc(findings.id))
    .limit(f.limit ?? 1000);
}

/** Acknowledge or resolve by hand; who and why are recorded. Returns null when no such finding. */
export async function setFindingStatus(
  db: Database,
  p: { id: number; status: 'acknowledged' | 'resolved'; by: string; reason: string; now: Date },
): Promise<FindingRow | null> {
  const [changed] = await db
    .update(findings)
    .set({ status: p.status, statusBy: p.by, statusReason: p.reason, statusChangedAt: p.now })
    .where(eq(findings.id, p.id))
    .returning({ id: findings.id });
  if (!changed) return null;
  const [row] = await db.select(findingColumns()).from(findings).where(eq(findings.id, changed.id));
  return row ?? null;
}

/** Open, unacknowledged findings at or above a severity (for `--fail-on`). */
export async function countOpenAtLeast(db: Database, min: Severity, targetIds?: string[]): Promise<number> {
  const where: SQL[] = [eq(findings.status, 'open'), inArray(findings.severity, severities.slice(severities.indexOf(min)) as string[])];
  if (targetIds?.length) where.push(inArray(findings.targetId, targetIds));
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(findings).where(and(...where));
  return Number(row.n);
}
