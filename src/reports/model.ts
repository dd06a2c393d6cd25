/**
 * The report model: what `tagledger report` renders in every format and what the compliance page
 * shows, read through the reporting views (migrations/0004_reporting_views.sql) so the report and
 * an analyst's SQL agree by construction. Renderers are pure functions of these plain objects:
 * dates are ISO 8601 strings, nothing refers back to the database.
 */
import { tagStrategySummary } from '../check/strategy-summary.js';
import type { TagStrategy } from '../check/strategy.js';
import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../store/db.js';
import { severities, type Severity } from '../notifiers/types.js';
import { findingLastSeen } from '../store/queries/findings.js';

export const REPORT_VERSION = 1;

export type ProtectionMode = 'immutable' | 'mutable' | 'immutable_with_exclusion' | 'mutable_with_exclusion' | 'rules' | 'unknown';

export interface TargetSummary {
  target: string;
  kind: string;
  /** Live repositories (not gone). */
  repositories: number;
  /** Repositories with present tags, every one protected by the registry. */
  protectedRepositories: number;
  /** 0..1, null without repositories. */
  protectedRepositoriesShare: number | null;
  /** Present tags. */
  tags: number;
  protectedTags: number;
  protectedTagsShare: number | null;
  /** Open findings by severity (all of them, whatever the report's severity filter). */
  openFindings: Record<Severity, number>;
  lastSuccessfulScan: string | null;
  lastScanStatus: string | null;
}

export interface ReportFinding {
  id: number;
  type: string;
  severity: Severity;
  status: 'open' | 'acknowledged';
  target: string;
  repository: string | null;
  tag: string | null;
  digest: string | null;
  previousDigest: string | null;
  summary: string;
  remediation: string;
  firstSeen: string;
  lastSeen: string;
  fingerprint: string;
  /** Why it was acknowledged (or the last automatic status change). */
  statusReason: string | null;
  /** host[:port]/path of the repository, when it is known. */
  pullReference: string | null;
}

export interface ReportTag {
  tag: string;
  digest: string;
  present: boolean;
  protected: boolean;
  protectionReason: string;
  firstSeen: string;
  lastChanged: string;
}

export interface ReportRepository {
  id: number;
  target: string;
  repository: string;
  pullReference: string;
  mode: ProtectionMode;
  settings: unknown;
  protectedTags: number;
  unprotectedTags: number;
  protected: boolean;
  lastSeen: string | null;
  /** Present tags, unprotected first; at most the model's per-repository limit. */
  tags: ReportTag[];
  /** Present tags left out of `tags` by the limits. */
  tagsOmitted: number;
  /** How the repository tags: strategy shares, floating tags left mutable, version tags ever re-pushed. */
  strategy: ReportStrategy | null;
}

export interface ReportStrategy {
  share: Record<TagStrategy, number>;
  floatingUnprotected: string[];
  versionTags: number;
  versionTagsUnprotected: number;
  repushedVersionTags: Array<{ tag: string; repushes: number; lastAt: string }>;
}

export interface TagChange {
  eventId: number;
  target: string;
  repository: string;
  repositoryId: number;
  tag: string;
  kind: 'created' | 'moved' | 'deleted' | 'restored';
  digest: string | null;
  previousDigest: string | null;
  observedAt: string;
  protected: boolean;
  scanId: number;
}

export interface ReportModel {
  version: typeof REPORT_VERSION;
  generatedAt: string;
  filters: { targets: string[] | null; minSeverity: Severity | null };
  targets: TargetSummary[];
  /** Open and acknowledged findings at or above the severity filter, most severe first. */
  findings: ReportFinding[];
  /** Findings that matched but were left out by the limit. */
  findingsOmitted: number;
  repositories: ReportRepository[];
  /** Live repositories left out by the limit. */
  repositoriesOmitted: number;
  /** Latest tag moves, deletions and restorations, newest first. */
  changes: TagChange[];
}

export interface ReportOptions {
  /** Only these target ids (default: every target in the database). */
  targets?: string[];
  /** Only findings at or above this severity. */
  minSeverity?: Severity;
  now?: Date;
  /** Default 5000. */
  findingsLimit?: number;
  /** Latest changes to include (default 200). */
  changesLimit?: number;
  /** Present tags listed per repository (default 100). */
  tagsPerRepository?: number;
  /** Present tags listed over all repositories (default 20000): a report stays a readable size. */
  maxTags?: number;
  /** Live repositories listed (default: all). */
  repositoriesLimit?: number;
}

type Row = Record<string, unknown>;

function rows(res: unknown): Row[] {
  return (res as { rows: Row[] }).rows;
}

function iso(v: unknown): string {
  return (v instanceof Date ? v : new Date(String(v))).toISOString();
}

function isoOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : iso(v);
}

function num(v: unknown): number {
  return v === null || v === undefined ? 0 : Number(v);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function str(v: unknown): string {
  return String(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function json(v: unknown): unknown {
  return typeof v === 'string' ? JSON.parse(v) : v;
}

function severitiesFrom(min: Severity | undefined): string[] {
  return severities.slice(min ? severities.indexOf(min) : 0) as string[];
}

const textArray = (values: string[]) => sql`${sql.param(values)}::text[]`;

/** `column = ANY(targets)`, or TRUE without a target filter. */
function targetFilter(column: SQL, targets: string[] | undefined): SQL {
  return targets?.length ? sql`${column} = ANY(${textArray(targets)})` : sql`TRUE`;
}

/** Target ids stored in the database, sorted. */
export async function storedTargetIds(db: Database): Promise<string[]> {
  return rows(await db.execute(sql`SELECT id FROM targets ORDER BY id`)).map((r) => str(r.id));
}

export async function targetSummaries(db: Database, targets?: string[]): Promise<TargetSummary[]> {
  const res = await db.execute(sql`
    SELECT * FROM compliance_summary WHERE ${targetFilter(sql`target`, targets)} ORDER BY target`);
  return rows(res).map((r) => ({
    target: str(r.target),
    kind: str(r.kind),
    repositories: num(r.repositories),
    protectedRepositories: num(r.protected_repositories),
    protectedRepositoriesShare: numOrNull(r.protected_repositories_share),
    tags: num(r.tags),
    protectedTags: num(r.protected_tags),
    protectedTagsShare: numOrNull(r.protected_tags_share),
    openFindings: { critical: num(r.open_critical), high: num(r.open_high), medium: num(r.open_medium), low: num(r.open_low), info: num(r.open_info) },
    lastSuccessfulScan: isoOrNull(r.last_successful_scan),
    lastScanStatus: strOrNull(r.last_scan_status),
  }));
}

function findingFrom(r: Row): ReportFinding {
  return {
    id: num(r.id),
    type: str(r.type),
    severity: str(r.severity) as Severity,
    status: str(r.status) as ReportFinding['status'],
    target: str(r.target_id),
    repository: strOrNull(r.repository),
    tag: strOrNull(r.tag),
    digest: strOrNull(r.digest),
    previousDigest: strOrNull(r.previous_digest),
    summary: str(r.summary),
    remediation: str(r.remediation),
    firstSeen: iso(r.first_seen_at),
    lastSeen: iso(r.last_seen_at),
    fingerprint: str(r.fingerprint),
    statusReason: strOrNull(r.status_reason),
    pullReference: strOrNull(r.pull_reference),
  };
}

/** Open and acknowledged findings, most severe first; `where` narrows them further. */
async function findingRows(db: Database, where: SQL, limit: number): Promise<{ findings: ReportFinding[]; omitted: number }> {
  const res = await db.execute(sql`
    SELECT f.id, f.type, f.severity, f.status, f.target_id, f.repository, f.tag, f.digest, f.previous_digest,
           f.summary, f.remediation, f.first_seen_at, ${findingLastSeen('f')} AS last_seen_at, f.fingerprint, f.status_reason, r.pull_reference
    FROM findings f
    LEFT JOIN repositories r ON r.target_id = f.target_id AND r.name = f.repository
    WHERE f.status IN ('open', 'acknowledged') AND ${where}
    ORDER BY array_position(ARRAY['info', 'low', 'medium', 'high', 'critical'], f.severity) DESC, f.id
    LIMIT ${limit + 1}`);
  const list = rows(res).map(findingFrom);
  if (list.length <= limit) return { findings: list, omitted: 0 };
  const [count] = rows(await db.execute(sql`SELECT count(*)::int AS n FROM findings f WHERE f.status IN ('open', 'acknowledged') AND ${where}`));
  return { findings: list.slice(0, limit), omitted: num(count.n) - limit };
}

function changeFrom(r: Row): TagChange {
  return {
    eventId: num(r.event_id),
    target: str(r.target),
    repository: str(r.repository),
    repositoryId: num(r.repository_id),
    tag: str(r.tag),
    kind: str(r.kind) as TagChange['kind'],
    digest: strOrNull(r.digest),
    previousDigest: strOrNull(r.previous_digest),
    observedAt: iso(r.observed_at),
    protected: Boolean(r.protected),
    scanId: num(r.scan_id),
  };
}

function tagFrom(r: Row): ReportTag {
  return {
    tag: str(r.tag),
    digest: str(r.digest),
    present: Boolean(r.present),
    protected: Boolean(r.protected),
    protectionReason: str(r.protection_reason),
    firstSeen: iso(r.first_seen),
    lastChanged: iso(r.last_changed),
  };
}

function repositoryFrom(r: Row): ReportRepository {
  return {
    id: num(r.repository_id),
    target: str(r.target),
    repository: str(r.repository),
    pullReference: str(r.pull_reference),
    mode: str(r.mode) as ProtectionMode,
    settings: json(r.settings),
    protectedTags: num(r.protected_tags),
    unprotectedTags: num(r.unprotected_tags),
    protected: Boolean(r.protected),
    lastSeen: isoOrNull(r.last_seen),
    tags: [],
    tagsOmitted: num(r.protected_tags) + num(r.unprotected_tags),
    strategy: null,
  };
}

export async function buildReportModel(db: Database, opts: ReportOptions = {}): Promise<ReportModel> {
  const targets = opts.targets?.length ? [...new Set(opts.targets)].sort() : undefined;
  const perRepository = opts.tagsPerRepository ?? 100;
  const maxTags = opts.maxTags ?? 20_000;

  const summaries = await targetSummaries(db, targets);
  const { findings, omitted } = await findingRows(
    db,
    sql`${targetFilter(sql`f.target_id`, targets)} AND f.severity = ANY(${textArray(severitiesFrom(opts.minSeverity))})`,
    opts.findingsLimit ?? 5000,
  );

  const repositoriesLimit = opts.repositoriesLimit ?? null;
  const listed = rows(
    await db.execute(sql`
      SELECT * FROM repository_protection
      WHERE gone_at IS NULL AND ${targetFilter(sql`target`, targets)}
      ORDER BY target, repository
      ${repositoriesLimit === null ? sql`` : sql`LIMIT ${repositoriesLimit + 1}`}`),
  ).map(repositoryFrom);
  const repositories = repositoriesLimit === null ? listed : listed.slice(0, repositoriesLimit);
  let repositoriesOmitted = 0;
  if (listed.length > repositories.length) {
    const [count] = rows(await db.execute(sql`SELECT count(*)::int AS n FROM repositories WHERE gone_at IS NULL AND ${targetFilter(sql`target_id`, targets)}`));
    repositoriesOmitted = num(count.n) - repositories.length;
  }

  // Tagging strategy per repository (SemVer and Git SHA tags on immutable repositories is the goal).
  const strategies = await tagStrategySummary(db, { targetIds: targets });
  const byName = new Map(repositories.map((r) => [`${r.target}\u0000${r.repository}`, r]));
  for (const st of strategies) {
    const repo = byName.get(`${st.targetId}\u0000${st.repository}`);
    if (!repo) continue;
    repo.strategy = {
      share: st.share,
      floatingUnprotected: st.floatingUnprotected,
      versionTags: st.versionTags,
      versionTagsUnprotected: st.versionTagsUnprotected,
      repushedVersionTags: st.repushedVersionTags.map((t) => ({ tag: t.tag, repushes: t.repushes, lastAt: t.lastAt.toISOString() })),
    };
  }

  // Tags of the first repositories, up to the limits (unprotected first: those are the findings).
  const tagRows = rows(
    await db.execute(sql`
      SELECT rp.repository_id, k.*
      FROM repository_protection rp
      CROSS JOIN LATERAL (
        SELECT kt.tag, kt.digest, kt.present, kt.protected, kt.protection_reason, kt.first_seen, kt.last_changed
        FROM known_tags kt
        WHERE kt.repository_id = rp.repository_id AND kt.present
        ORDER BY kt.protected, kt.tag
        LIMIT ${perRepository}
      ) k
      WHERE rp.gone_at IS NULL AND ${targetFilter(sql`rp.target`, targets)}
      ORDER BY rp.target, rp.repository, k.protected, k.tag
      LIMIT ${maxTags}`),
  );
  const byId = new Map(repositories.map((r) => [r.id, r]));
  for (const r of tagRows) {
    const repo = byId.get(num(r.repository_id));
    if (!repo) continue;
    repo.tags.push(tagFrom(r));
    repo.tagsOmitted--;
  }

  const changes = rows(
    await db.execute(sql`
      SELECT * FROM tag_history
      WHERE kind <> 'created' AND ${targetFilter(sql`target`, targets)}
      ORDER BY observed_at DESC, event_id DESC
      LIMIT ${opts.changesLimit ?? 200}`),
  ).map(changeFrom);

  return {
    version: REPORT_VERSION,
    generatedAt: (opts.now ?? new Date()).toISOString(),
    filters: { targets: targets ?? null, minSeverity: opts.minSeverity ?? null },
    targets: summaries,
    findings,
    findingsOmitted: omitted,
    repositories,
    repositoriesOmitted,
    changes,
  };
}

export interface RepositoryDetail {
  generatedAt: string;
  repository: ReportRepository & { goneAt: string | null; vendorSettings: unknown };
  /** Every tag tagledger has seen here, deleted ones too (present = false), at most `tagsLimit`. */
  tags: ReportTag[];
  tagsOmitted: number;
  findings: ReportFinding[];
  changes: TagChange[];
}

/** One repository for the compliance page's drill-down; null when there is no such repository. */
export async function repositoryDetail(db: Database, repositoryId: number, opts: { now?: Date; tagsLimit?: number; changesLimit?: number } = {}): Promise<RepositoryDetail | null> {
  const [row] = rows(await db.execute(sql`SELECT * FROM repository_protection WHERE repository_id = ${repositoryId}`));
  if (!row) return null;
  const repository = { ...repositoryFrom(row), goneAt: isoOrNull(row.gone_at), vendorSettings: json(row.vendor_settings) };
  const limit = opts.tagsLimit ?? 2000;
  const tags = rows(
    await db.execute(sql`
      SELECT tag, digest, present, protected, protection_reason, first_seen, last_changed
      FROM known_tags WHERE repository_id = ${repositoryId}
      ORDER BY present DESC, protected, tag
      LIMIT ${limit + 1}`),
  ).map(tagFrom);
  const [count] = tags.length > limit ? rows(await db.execute(sql`SELECT count(*)::int AS n FROM known_tags WHERE repository_id = ${repositoryId}`)) : [{ n: tags.length }];
  const { findings } = await findingRows(db, sql`f.target_id = ${repository.target} AND f.repository = ${repository.repository}`, 1000);
  const changes = rows(
    await db.execute(sql`
      SELECT * FROM tag_history
      WHERE repository_id = ${repositoryId} AND kind <> 'created'
      ORDER BY observed_at DESC, event_id DESC
      LIMIT ${opts.changesLimit ?? 200}`),
  ).map(changeFrom);
  return {
    generatedAt: (opts.now ?? new Date()).toISOString(),
    repository,
    tags: tags.slice(0, limit),
    tagsOmitted: num(count.n) - Math.min(tags.length, limit),
    findings,
    changes,
  };
}

export interface TagTimeline {
  generatedAt: string;
  repository: ReportRepository;
  tag: string;
  /** The tag's state now (null when tagledger never saw it). */
  current: ReportTag | null;
  /** Every recorded change, oldest first. */
  events: TagChange[];
  findings: ReportFinding[];
}

/** A tag's timeline; null when the repository does not exist. */
export async function tagTimeline(db: Database, repositoryId: number, tag: string, opts: { now?: Date } = {}): Promise<TagTimeline | null> {
  const [row] = rows(await db.execute(sql`SELECT * FROM repository_protection WHERE repository_id = ${repositoryId}`));
  if (!row) return null;
  const repository = repositoryFrom(row);
  const [current] = rows(
    await db.execute(sql`
      SELECT tag, digest, present, protected, protection_reason, first_seen, last_changed
      FROM known_tags WHERE repository_id = ${repositoryId} AND tag = ${tag}`),
  ).map(tagFrom);
  const events = rows(
    await db.execute(sql`
      SELECT * FROM tag_history WHERE repository_id = ${repositoryId} AND tag = ${tag}
      ORDER BY observed_at, event_id`),
  ).map(changeFrom);
  const { findings } = await findingRows(db, sql`f.target_id = ${repository.target} AND f.repository = ${repository.repository} AND f.tag = ${tag}`, 1000);
  return { generatedAt: (opts.now ?? new Date()).toISOString(), repository, tag, current: current ?? null, events, findings };
}
