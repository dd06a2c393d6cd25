/**
 * Records one COMPLETE repository observation: repository row, settings change, tag state, tag
 * events and the scan's snapshot row. Run it inside one transaction per repository.
 *
 * Tag rows are written only when something about the tag changed, so an unchanged repository costs
 * one snapshot row. Bulk writes go through `unnest(...)` arrays: the query builder is far too slow for
 * repositories with tens of thousands of tags.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../db.js';
import { repositories, repositoryEvents, repositorySnapshots, tags } from '../schema/index.js';
import type { RepositoryObservation } from '../../collectors/types.js';
import { diffTags, repositoryGoneEvents, tagMapHash, type KnownTag, type TagEvent } from '../../audit/diff.js';
import { protectionFor, type ProtectionSettings } from '../../audit/protection.js';
import { stableJson } from './json.js';
import { ChainCursor, GENESIS } from '../../audit/chain.js';

/** The repository's hash chain, extended event by event inside the repository's transaction. */
interface ChainContext {
  cursor: ChainCursor;
  target: string;
  repository: string;
}

async function saveChainHead(db: Database, repositoryId: number, chain: ChainContext, previousSeq: number): Promise<void> {
  if (chain.cursor.seq === previousSeq) return;
  await db.update(repositories).set({ chainSeq: chain.cursor.seq, chainHead: chain.cursor.head }).where(eq(repositories.id, repositoryId));
}

export interface RecordedTagEvent extends TagEvent {
  /** Row id in tag_events. */
  id: number;
  protected: boolean;
  protectionReason: string;
}

export interface RecordedRepositoryEvent {
  /** Row id in repository_events. */
  id: number;
  kind: 'discovered' | 'settings_changed' | 'gone' | 'back';
  before: unknown;
  after: unknown;
}

export interface CurrentTagState {
  tag: string;
  digest: string;
  protected: boolean;
  reason: string;
  extra: Record<string, unknown> | null;
}

export interface RecordResult {
  repositoryId: number;
  tagEvents: RecordedTagEvent[];
  repositoryEvents: RecordedRepositoryEvent[];
  /** Settings before this observation (null for a new repository). */
  previousProtection: ProtectionSettings | null;
  protection: ProtectionSettings;
  /** Every present tag after this observation (empty for a repository gone). */
  tags: CurrentTagState[];
  /** The repository's chain head after this change, or null when it recorded no event. */
  chainHead: string | null;
}

interface KnownTagRow extends KnownTag {
  mediaType: string | null;
  pushedAt: Date | null;
  protected: boolean;
  protectionReason: string;
  extra: string | null;
}

export async function recordObservation(
  db: Database,
  p: { targetId: string; scanId: number; observedAt: Date; observation: RepositoryObservation },
): Promise<RecordResult> {
  const { observation: obs, observedAt, scanId } = p;
  const repoEvents: Array<Omit<RecordedRepositoryEvent, 'id'>> = [];

  const [existing] = await db
    .select({ id: repositories.id, protection: repositories.protection, goneAt: repositories.goneAt, chainSeq: repositories.chainSeq, chainHead: repositories.chainHead })
    .from(repositories)
    .where(and(eq(repositories.targetId, p.targetId), eq(repositories.name, obs.repository)));

  let repositoryId: number;
  if (!existing) {
    const [row] = await db
      .insert(repositories)
      .values({ targetId: p.targetId, name: obs.repository, pullReference: obs.pullReference, firstSeenAt: observedAt, protection: obs.protection, rawSettings: obs.raw ?? null })
      .returning({ id: repositories.id });
    repositoryId = row.id;
    repoEvents.push({ kind: 'discovered', before: null, after: obs.protection });
  } else {
    repositoryId = existing.id;
    if (existing.goneAt) repoEvents.push({ kind: 'back', before: null, after: null });
    if (stableJson(existing.protection) !== stableJson(obs.protection)) {
      repoEvents.push({ kind: 'settings_changed', before: existing.protection, after: obs.protection });
    }
    await db
      .update(repositories)
      .set({ pullReference: obs.pullReference, protection: obs.protection, rawSettings: obs.raw ?? null, goneAt: null })
      .where(eq(repositories.id, repositoryId));
  }

  const known = await loadKnownTags(db, repositoryId);
  const events = diffTags(known.values(), obs.tags);
  const verdicts = new Map(obs.tags.map((t) => [t.tag, protectionFor(obs.protection as ProtectionSettings, t.tag)]));

  // Rows to write: new, moved, restored, or with changed protection / evidence.
  const upserts: UpsertRow[] = [];
  for (const t of obs.tags) {
    const v = verdicts.get(t.tag)!;
    const k = known.get(t.tag);
    const extra = t.extra ? stableJson(t.extra) : null;
    const pushedAt = t.pushedAt ? t.pushedAt.toISOString() : null;
    if (
      !k ||
      !k.present ||
      k.digest !== t.digest ||
      k.protected !== v.protected ||
      k.protectionReason !== v.reason ||
      k.mediaType !== t.mediaType ||
      (k.pushedAt ? k.pushedAt.toISOString() : null) !== pushedAt ||
      k.extra !== extra
    ) {
      upserts.push({ name: t.tag, digest: t.digest, mediaType: t.mediaType, pushedAt, present: true, protected: v.protected, reason: v.reason, extra });
    }
  }
  const unsaved = events.map((e) => {
    const v = verdicts.get(e.tag) ?? { protected: known.get(e.tag)!.protected, reason: known.get(e.tag)!.protectionReason };
    return { ...e, protected: v.protected, protectionReason: v.reason };
  });
  for (const e of unsaved) {
    if (e.kind === 'deleted') {
      const k = known.get(e.tag)!;
      upserts.push({ name: e.tag, digest: k.digest, mediaType: k.mediaType, pushedAt: k.pushedAt?.toISOString() ?? null, present: false, protected: k.protected, reason: k.protectionReason, extra: k.extra });
    }
  }

  await upsertTags(db, repositoryId, observedAt, upserts);
  const chain: ChainContext = { cursor: new ChainCursor(existing?.chainSeq ?? 0, existing?.chainHead ?? GENESIS), target: p.targetId, repository: obs.repository };
  const savedRepoEvents = await insertRepositoryEvents(db, repositoryId, scanId, observedAt, repoEvents, chain);
  const recorded = await insertTagEvents(db, repositoryId, scanId, observedAt, unsaved, chain);
  await saveChainHead(db, repositoryId, chain, existing?.chainSeq ?? 0);
  const chainHead = chain.cursor.seq === (existing?.chainSeq ?? 0) ? null : chain.cursor.head;
  await db.insert(repositorySnapshots).values({
    repositoryId,
    scanId,
    observedAt,
    tagCount: obs.tags.length,
    tagsHash: tagMapHash(obs.tags),
    protection: obs.protection,
  });
  return {
    repositoryId,
    tagEvents: recorded,
    repositoryEvents: savedRepoEvents,
    previousProtection: existing ? (existing.protection as ProtectionSettings) : null,
    protection: obs.protection,
    tags: obs.tags.map((t) => {
      const v = verdicts.get(t.tag)!;
      return { tag: t.tag, digest: t.digest, protected: v.protected, reason: v.reason, extra: t.extra ?? null };
    }),
    chainHead,
  };
}

async function insertRepositoryEvents(
  db: Database,
  repositoryId: number,
  scanId: number,
  observedAt: Date,
  events: Array<Omit<RecordedRepositoryEvent, 'id'>>,
  chain: ChainContext,
): Promise<RecordedRepositoryEvent[]> {
  const saved: RecordedRepositoryEvent[] = [];
  for (const e of events) {
    const link = chain.cursor.append({
      type: 'repository',
      target: chain.target,
      repository: chain.repository,
      kind: e.kind,
      before: e.before ?? null,
      after: e.after ?? null,
      observedAt: observedAt.toISOString(),
      scanId,
    });
    const [row] = await db
      .insert(repositoryEvents)
      .values({ repositoryId, scanId, kind: e.kind, before: e.before, after: e.after, observedAt, chainSeq: link.seq, hash: link.hash })
      .returning({ id: repositoryEvents.id });
    saved.push({ id: row.id, ...e });
  }
  return saved;
}

/**
 * Marks a repository gone (a complete catalog listing no longer has it): a `gone` repository event
 * and a `deleted` event for each tag it still had.
 */
export async function recordRepositoryGone(
  db: Database,
  p: { repositoryId: number; scanId: number; observedAt: Date },
): Promise<RecordResult> {
  const known = await loadKnownTags(db, p.repositoryId);
  const events = repositoryGoneEvents(known.values());
  const unsaved = events.map((e) => {
    const k = known.get(e.tag)!;
    return { ...e, protected: k.protected, protectionReason: k.protectionReason };
  });
  const [repo] = await db
    .select({ protection: repositories.protection, name: repositories.name, targetId: repositories.targetId, chainSeq: repositories.chainSeq, chainHead: repositories.chainHead })
    .from(repositories)
    .where(eq(repositories.id, p.repositoryId));
  await db
    .update(tags)
    .set({ present: false, changedAt: p.observedAt })
    .where(and(eq(tags.repositoryId, p.repositoryId), eq(tags.present, true)));
  const chain: ChainContext = { cursor: new ChainCursor(repo.chainSeq, repo.chainHead ?? GENESIS), target: repo.targetId, repository: repo.name };
  const recorded = await insertTagEvents(db, p.repositoryId, p.scanId, p.observedAt, unsaved, chain);
  await db.update(repositories).set({ goneAt: p.observedAt }).where(eq(repositories.id, p.repositoryId));
  const saved = await insertRepositoryEvents(db, p.repositoryId, p.scanId, p.observedAt, [{ kind: 'gone', before: null, after: null }], chain);
  await saveChainHead(db, p.repositoryId, chain, repo.chainSeq);
  const protection = repo.protection as ProtectionSettings;
  return { repositoryId: p.repositoryId, tagEvents: recorded, repositoryEvents: saved, previousProtection: protection, protection, tags: [], chainHead: chain.cursor.head };
}

/** Repositories of a target that are not gone: candidates for "gone" after a complete listing. */
export async function liveRepositories(db: Database, targetId: string): Promise<Array<{ id: number; name: string }>> {
  return db
    .select({ id: repositories.id, name: repositories.name })
    .from(repositories)
    .where(and(eq(repositories.targetId, targetId), sql`${repositories.goneAt} IS NULL`));
}

async function loadKnownTags(db: Database, repositoryId: number): Promise<Map<string, KnownTagRow>> {
  const rows = await db
    .select({
      tag: tags.name,
      digest: tags.digest,
      present: tags.present,
      mediaType: tags.mediaType,
      pushedAt: tags.pushedAt,
      protected: tags.protected,
      protectionReason: tags.protectionReason,
      extra: sql<string | null>`${tags.extra}::text`,
    })
    .from(tags)
    .where(eq(tags.repositoryId, repositoryId));
  const map = new Map<string, KnownTagRow>();
  for (const r of rows) {
    // Normalise the stored jsonb text the same way new evidence is serialised.
    map.set(r.tag, { ...r, extra: r.extra === null ? null : stableJson(JSON.parse(r.extra)) });
  }
  return map;
}

interface UpsertRow {
  name: string;
  digest: string;
  mediaType: string | null;
  pushedAt: string | null;
  present: boolean;
  protected: boolean;
  reason: string;
  extra: string | null;
}

const CHUNK = 5000;

async function upsertTags(db: Database, repositoryId: number, at: Date, rows: UpsertRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    const c = rows.slice(i, i + CHUNK);
    await db.execute(sql`
      INSERT INTO tags (repository_id, name, digest, media_type, pushed_at, first_seen_at, changed_at, present, protected, protection_reason, extra)
      SELECT ${repositoryId}, u.name, u.digest, u.media_type, u.pushed_at, ${at.toISOString()}::timestamptz, ${at.toISOString()}::timestamptz,
             u.present, u.protected, u.reason, u.extra
      FROM unnest(
        ${sql.param(c.map((r) => r.name))}::text[],
        ${sql.param(c.map((r) => r.digest))}::text[],
        ${sql.param(c.map((r) => r.mediaType))}::text[],
        ${sql.param(c.map((r) => r.pushedAt))}::timestamptz[],
        ${sql.param(c.map((r) => r.present))}::boolean[],
        ${sql.param(c.map((r) => r.protected))}::boolean[],
        ${sql.param(c.map((r) => r.reason))}::text[],
        ${sql.param(c.map((r) => r.extra))}::jsonb[]
      ) AS u(name, digest, media_type, pushed_at, present, protected, reason, extra)
      ON CONFLICT (repository_id, name) DO UPDATE SET
        digest = excluded.digest, media_type = excluded.media_type, pushed_at = excluded.pushed_at,
        changed_at = excluded.changed_at, present = excluded.present, protected = excluded.protected,
        protection_reason = excluded.protection_reason, extra = excluded.extra`);
  }
}

async function insertTagEvents(
  db: Database,
  repositoryId: number,
  scanId: number,
  at: Date,
  events: Array<Omit<RecordedTagEvent, 'id'>>,
  chain: ChainContext,
): Promise<RecordedTagEvent[]> {
  const saved: RecordedTagEvent[] = [];
  const observedAt = at.toISOString();
  for (let i = 0; i < events.length; i += CHUNK) {
    const c = events.slice(i, i + CHUNK);
    const links = c.map((e) =>
      chain.cursor.append({
        type: 'tag',
        target: chain.target,
        repository: chain.repository,
        tag: e.tag,
        kind: e.kind,
        digest: e.digest,
        previousDigest: e.previousDigest,
        protected: e.protected,
        protectionReason: e.protectionReason,
        observedAt,
        scanId,
      }),
    );
    const res = (await db.execute(sql`
      INSERT INTO tag_events (repository_id, tag, kind, digest, previous_digest, protected, protection_reason, observed_at, scan_id, chain_seq, hash)
      SELECT ${repositoryId}, u.tag, u.kind, u.digest, u.previous_digest, u.protected, u.reason, ${observedAt}::timestamptz, ${scanId}, u.seq, u.hash
      FROM unnest(
        ${sql.param(c.map((e) => e.tag))}::text[],
        ${sql.param(c.map((e) => e.kind))}::text[],
        ${sql.param(c.map((e) => e.digest))}::text[],
        ${sql.param(c.map((e) => e.previousDigest))}::text[],
        ${sql.param(c.map((e) => e.protected))}::boolean[],
        ${sql.param(c.map((e) => e.protectionReason))}::text[],
        ${sql.param(links.map((l) => l.seq))}::bigint[],
        ${sql.param(links.map((l) => l.hash))}::text[]
      ) AS u(tag, kind, digest, previous_digest, protected, reason, seq, hash)
      ORDER BY u.seq
      RETURNING id, tag`)) as unknown as { rows: Array<{ id: string | number; tag: string }> };
    // Each tag appears once per batch of events, so ids map back by tag.
    const ids = new Map(res.rows.map((r) => [r.tag, Number(r.id)]));
    for (const e of c) saved.push({ ...e, id: ids.get(e.tag)! });
  }
  return saved;
}
