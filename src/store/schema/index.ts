/**
 * The database schema. Migrations in `migrations/` are generated from it by drizzle-kit
 * (`npm run db:generate`); the same schema and migrations run on PGlite and PostgreSQL.
 *
 * History grows with change, not with scans: `tags` holds the current state, `tag_events` the
 * append-only log of changes, and `repository_snapshots` one small row per repository per scan.
 */
import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const targets = pgTable('targets', {
  id: text('id').primaryKey(),
  kind: text('kind').notNull(),
  firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
});

export const scans = pgTable(
  'scans',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    targetId: text('target_id').notNull().references(() => targets.id),
    status: text('status').notNull(), // running | succeeded | partial | failed | aborted
    startedAt: ts('started_at').notNull(),
    finishedAt: ts('finished_at'),
    /** Repositories and tags observed completely in this scan. */
    repositories: integer('repositories').notNull().default(0),
    tags: integer('tags').notNull().default(0),
    events: jsonb('events').$type<{ created: number; moved: number; deleted: number; restored: number }>(),
    errors: jsonb('errors').$type<Array<{ repository: string | null; code: string; message: string }>>().notNull().default(sql`'[]'::jsonb`),
    warnings: jsonb('warnings').$type<Array<{ repository: string | null; code: string; message: string }>>().notNull().default(sql`'[]'::jsonb`),
    /** Which process ran it: `host:pid`. */
    runner: text('runner'),
  },
  (t) => [index('scans_target_started_idx').on(t.targetId, t.startedAt)],
);

export const repositories = pgTable(
  'repositories',
  {
    id: serial('id').primaryKey(),
    targetId: text('target_id').notNull().references(() => targets.id),
    name: text('name').notNull(),
    pullReference: text('pull_reference').notNull(),
    firstSeenAt: ts('first_seen_at').notNull(),
    /** Normalised ProtectionSettings. */
    protection: jsonb('protection').notNull(),
    /** Vendor settings as read, kept as evidence. */
    rawSettings: jsonb('raw_settings'),
    /** Set when a complete catalog listing no longer had it; cleared when it comes back. */
    goneAt: ts('gone_at'),
  },
  (t) => [uniqueIndex('repositories_target_name_idx').on(t.targetId, t.name)],
);

export const repositoryEvents = pgTable(
  'repository_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    repositoryId: integer('repository_id').notNull().references(() => repositories.id),
    scanId: bigint('scan_id', { mode: 'number' }).notNull().references(() => scans.id),
    kind: text('kind').notNull(), // discovered | settings_changed | gone | back
    before: jsonb('before'),
    after: jsonb('after'),
    observedAt: ts('observed_at').notNull(),
  },
  (t) => [index('repository_events_repo_idx').on(t.repositoryId, t.observedAt)],
);

export const repositorySnapshots = pgTable(
  'repository_snapshots',
  {
    repositoryId: integer('repository_id').notNull().references(() => repositories.id),
    scanId: bigint('scan_id', { mode: 'number' }).notNull().references(() => scans.id),
    observedAt: ts('observed_at').notNull(),
    tagCount: integer('tag_count').notNull(),
    /** sha256 over the sorted `tag digest` lines: equal hashes mean an equal tag→digest map. */
    tagsHash: text('tags_hash').notNull(),
    protection: jsonb('protection').notNull(),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.scanId] }), index('repository_snapshots_observed_idx').on(t.repositoryId, t.observedAt)],
);

export const tags = pgTable(
  'tags',
  {
    repositoryId: integer('repository_id').notNull().references(() => repositories.id),
    name: text('name').notNull(),
    digest: text('digest').notNull(),
    mediaType: text('media_type'),
    pushedAt: ts('pushed_at'),
    firstSeenAt: ts('first_seen_at').notNull(),
    /** When this row last changed (digest, presence, protection or evidence). */
    changedAt: ts('changed_at').notNull(),
    /** false once the tag was deleted; the row keeps the last digest so a return is a "restored". */
    present: boolean('present').notNull(),
    protected: boolean('protected').notNull(),
    protectionReason: text('protection_reason').notNull(),
    extra: jsonb('extra'),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.name] })],
);

export const tagEvents = pgTable(
  'tag_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    repositoryId: integer('repository_id').notNull().references(() => repositories.id),
    tag: text('tag').notNull(),
    kind: text('kind').notNull(), // created | moved | deleted | restored
    digest: text('digest'),
    previousDigest: text('previous_digest'),
    /** Whether the registry protected the tag when the change was observed. */
    protected: boolean('protected').notNull(),
    protectionReason: text('protection_reason').notNull(),
    observedAt: ts('observed_at').notNull(),
    scanId: bigint('scan_id', { mode: 'number' }).notNull().references(() => scans.id),
  },
  (t) => [index('tag_events_repo_tag_idx').on(t.repositoryId, t.tag, t.observedAt), index('tag_events_scan_idx').on(t.scanId)],
);
