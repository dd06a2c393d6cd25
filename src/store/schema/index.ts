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
    /**
     * Tamper evidence: sha256 over the previous scan root of the target and the sorted
     * (repository, chain head) pairs this scan touched. See src/audit/chain.ts.
     */
    rootHash: text('root_hash'),
    previousRoot: text('previous_root'),
    /**
     * The repositories the scan was limited to (a scan triggered by push events reads only the
     * repositories the events named); null for a scan of the whole target.
     */
    scope: jsonb('scope').$type<string[]>(),
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
    /** Head of the repository's hash chain over its tag and repository events (see src/audit/chain.ts). */
    chainSeq: bigint('chain_seq', { mode: 'number' }).notNull().default(0),
    chainHead: text('chain_head'),
    /**
     * sha256 over everything stored per present tag (digest, media type, pushed-at, protection
     * verdict and reason, evidence) as of the last observation; an observation with the same hash
     * cannot change a tag row, so its tags are neither read nor diffed. Null: unknown (read them).
     */
    stateHash: text('state_hash'),
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
    /** Position in the repository's hash chain, and the chain hash up to and including this event. */
    chainSeq: bigint('chain_seq', { mode: 'number' }),
    hash: text('hash'),
  },
  (t) => [
    index('repository_events_repo_idx').on(t.repositoryId, t.observedAt),
    uniqueIndex('repository_events_chain_idx').on(t.repositoryId, t.chainSeq),
    // Finds rows still to be chained (from before chains existed) without scanning the table.
    index('repository_events_unchained_idx').on(t.repositoryId).where(sql`hash IS NULL`),
  ],
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
  (t) => [
    primaryKey({ columns: [t.repositoryId, t.scanId] }),
    index('repository_snapshots_observed_idx').on(t.repositoryId, t.observedAt),
    // `prune` deletes scans: the foreign-key check looks snapshots up by scan.
    index('repository_snapshots_scan_idx').on(t.scanId),
  ],
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
    /** Position in the repository's hash chain, and the chain hash up to and including this event. */
    chainSeq: bigint('chain_seq', { mode: 'number' }),
    hash: text('hash'),
  },
  (t) => [
    index('tag_events_repo_tag_idx').on(t.repositoryId, t.tag, t.observedAt),
    index('tag_events_scan_idx').on(t.scanId),
    uniqueIndex('tag_events_chain_idx').on(t.repositoryId, t.chainSeq),
    index('tag_events_unchained_idx').on(t.repositoryId).where(sql`hash IS NULL`),
  ],
);

/**
 * Findings with a lifecycle: open → acknowledged / resolved / waived. One row per fingerprint: a
 * condition that returns re-opens its row; every tag change has a fingerprint of its own.
 */
export const findings = pgTable(
  'findings',
  {
    id: serial('id').primaryKey(),
    fingerprint: text('fingerprint').notNull(),
    type: text('type').notNull(),
    lifecycle: text('lifecycle').notNull(), // event | condition
    severity: text('severity').notNull(),
    status: text('status').notNull(), // open | acknowledged | resolved | waived
    targetId: text('target_id').notNull().references(() => targets.id),
    repository: text('repository'),
    tag: text('tag'),
    digest: text('digest'),
    previousDigest: text('previous_digest'),
    protection: jsonb('protection'),
    summary: text('summary').notNull(),
    remediation: text('remediation').notNull(),
    details: jsonb('details'),
    firstSeenAt: ts('first_seen_at').notNull(),
    lastSeenAt: ts('last_seen_at').notNull(),
    openedScanId: bigint('opened_scan_id', { mode: 'number' }).references(() => scans.id),
    lastScanId: bigint('last_scan_id', { mode: 'number' }).references(() => scans.id),
    /** Who changed the status last, when and why (`tagledger` for automatic changes). */
    statusChangedAt: ts('status_changed_at').notNull(),
    statusBy: text('status_by').notNull(),
    statusReason: text('status_reason'),
    waivedUntil: ts('waived_until'),
  },
  (t) => [
    uniqueIndex('findings_fingerprint_idx').on(t.fingerprint),
    index('findings_status_idx').on(t.status, t.severity),
    index('findings_target_repo_idx').on(t.targetId, t.repository),
  ],
);

/**
 * The alert outbox: written in the same transaction as the findings that cause them, delivered by
 * the dispatcher at least once. `next_attempt_at` NULL holds a batched alert until its scan ends.
 */
export const alerts = pgTable(
  'alerts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** The payload id and X-Tagledger-Delivery header: the same on every retry. */
    deliveryId: text('delivery_id').notNull(),
    notifierId: text('notifier_id').notNull(),
    findingId: integer('finding_id').references(() => findings.id),
    scanId: bigint('scan_id', { mode: 'number' }).references(() => scans.id),
    /** Alerts with the same key go out as one batch message. */
    batchKey: text('batch_key'),
    payload: jsonb('payload').notNull(),
    status: text('status').notNull(), // created | retrying | delivered | failed
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at'),
    createdAt: ts('created_at').notNull(),
    /** Start of the current delivery round (created_at, or when `alerts retry` re-queued it): maxAge counts from here. */
    queuedAt: ts('queued_at').notNull(),
    lastAttemptAt: ts('last_attempt_at'),
    deliveredAt: ts('delivered_at'),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
  },
  (t) => [index('alerts_due_idx').on(t.status, t.nextAttemptAt), index('alerts_batch_idx').on(t.batchKey)],
);

/** Every delivery attempt, successful or not. */
export const deliveryAttempts = pgTable(
  'delivery_attempts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    alertId: bigint('alert_id', { mode: 'number' }).notNull().references(() => alerts.id),
    attempt: integer('attempt').notNull(),
    startedAt: ts('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    statusCode: integer('status_code'),
    result: text('result').notNull(), // delivered | retry | failed
    error: text('error'),
    nextAttemptAt: ts('next_attempt_at'),
  },
  (t) => [index('delivery_attempts_alert_idx').on(t.alertId)],
);

/**
 * One row per scheduled run that some replica claimed: `INSERT ... ON CONFLICT DO NOTHING` on the
 * primary key gives exactly one run per target and slot across replicas sharing the database.
 * `target_id` is a target id, or `:retention` for the daily prune (no FK: a job is not a target).
 */
export const scheduleSlots = pgTable(
  'schedule_slots',
  {
    targetId: text('target_id').notNull(),
    /** The cron match time the run belongs to (the same instant on every replica). */
    slot: ts('slot').notNull(),
    /** `host:pid` of the replica that won the slot. */
    claimedBy: text('claimed_by').notNull(),
    claimedAt: ts('claimed_at').notNull(),
    /** The scan the slot started (null when the run was skipped, or for jobs). */
    scanId: bigint('scan_id', { mode: 'number' }),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.slot] })],
);

/**
 * Push events received from registries (Harbor webhooks, ECR events through EventBridge, Artifact
 * Registry notifications through Pub/Sub): one row per claim about one repository. An event is a
 * trigger and a piece of evidence, never the truth: the repository is scanned, and `status` says
 * whether the registry's state afterwards agrees with the claim.
 */
export const pushEvents = pgTable(
  'push_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    targetId: text('target_id').notNull().references(() => targets.id),
    source: text('source').notNull(), // harbor | ecr | gar
    receivedAt: ts('received_at').notNull(),
    /** When the registry says the change happened. */
    occurredAt: ts('occurred_at'),
    /** The vendor's own name for it: PUSH_ARTIFACT, DELETE_ARTIFACT, PUSH, DELETE, INSERT, ... */
    eventType: text('event_type').notNull(),
    /** The delivery's id where the vendor gives one (EventBridge event id, Pub/Sub message id): redeliveries are recorded once. */
    eventId: text('event_id'),
    repository: text('repository').notNull(),
    tag: text('tag'),
    digest: text('digest'),
    action: text('action').notNull(), // push | delete
    /** sha256 of the request body as received. */
    payloadSha256: text('payload_sha256').notNull(),
    status: text('status').notNull(), // received | scanned | unconfirmed | confirmed | ignored
    scanId: bigint('scan_id', { mode: 'number' }).references(() => scans.id),
    note: text('note'),
  },
  (t) => [
    index('push_events_target_received_idx').on(t.targetId, t.receivedAt),
    uniqueIndex('push_events_delivery_idx').on(t.targetId, t.source, t.eventId).where(sql`event_id IS NOT NULL`),
  ],
);
