-- Reporting: the views and functions analysts and auditors query directly, a read-only role for
-- them, and the indexes that keep those queries interactive on large estates. Documented, with
-- example queries, in README.md ("Reporting").
--
-- Hand-written (drizzle-kit generate --custom): drizzle's schema cannot express views over joins,
-- SQL functions or roles. It must run on PostgreSQL 15 (the oldest server supported) and on PGlite
-- (PostgreSQL 18): nothing newer than 15 is used.
--
-- The functions read through the views, not the tables: views run with their owner's privileges,
-- so tagledger_reader needs SELECT on the views and nothing else, and the functions stay plain SQL
-- functions (SECURITY INVOKER, no SET clause) that the planner inlines, so a WHERE on
-- tags_as_of(...) reaches the indexes.

-- "What changed lately": moves, deletions and restorations newest first. Partial, because a
-- baseline scan writes one `created` event per tag and those would bury the changes; with the id,
-- because one scan's changes share their observation time and the order must not need a sort.
CREATE INDEX "tag_events_changes_idx" ON "tag_events" USING btree ("observed_at", "id") WHERE "kind" <> 'created';
--> statement-breakpoint

-- Every tag tagledger has seen, deleted ones included (present = false, digest = the last one seen).
CREATE VIEW known_tags AS
SELECT r.target_id AS target,
       r.name AS repository,
       t.name AS tag,
       t.digest,
       t.present,
       t.protected,
       t.protection_reason,
       t.first_seen_at AS first_seen,
       t.changed_at AS last_changed,
       t.media_type,
       t.pushed_at,
       r.pull_reference,
       r.id AS repository_id
FROM tags t
JOIN repositories r ON r.id = t.repository_id;
--> statement-breakpoint

-- Present tags. last_seen: the repository's latest complete observation (its latest snapshot),
-- which listed every present tag.
CREATE VIEW current_tags AS
SELECT k.target,
       k.repository,
       k.tag,
       k.digest,
       k.protected,
       k.protection_reason,
       k.first_seen,
       s.last_seen,
       k.last_changed,
       k.media_type,
       k.pushed_at,
       k.pull_reference,
       k.repository_id
FROM known_tags k
LEFT JOIN LATERAL (
  SELECT max(rs.observed_at) AS last_seen FROM repository_snapshots rs WHERE rs.repository_id = k.repository_id
) s ON true
WHERE k.present;
--> statement-breakpoint

-- One row per repository. mode: the registry's setting in one vocabulary (ECR's four modes; GAR
-- immutableTags true/false; Harbor's rules; unknown for a registry that reports nothing, such as a
-- plain OCI registry). A GAR virtual repository is mutable whatever its flag: a tag resolves to the
-- highest-priority upstream that has it (src/audit/protection.ts). `protected`: the repository has
-- present tags and the registry protects every one (the same rule as GET /api/v1/repositories).
CREATE VIEW repository_protection AS
SELECT r.target_id AS target,
       r.name AS repository,
       r.pull_reference,
       CASE r.protection->>'kind'
         WHEN 'ecr' THEN
           CASE r.protection->>'mode'
             WHEN 'IMMUTABLE' THEN 'immutable'
             WHEN 'MUTABLE' THEN 'mutable'
             WHEN 'IMMUTABLE_WITH_EXCLUSION' THEN 'immutable_with_exclusion'
             WHEN 'MUTABLE_WITH_EXCLUSION' THEN 'mutable_with_exclusion'
             ELSE 'unknown'
           END
         WHEN 'gar' THEN
           CASE
             WHEN r.protection->>'mode' = 'VIRTUAL_REPOSITORY' THEN 'mutable'
             WHEN r.protection->'immutableTags' = 'true'::jsonb THEN 'immutable'
             ELSE 'mutable'
           END
         WHEN 'harbor' THEN 'rules'
         ELSE 'unknown'
       END AS mode,
       r.protection AS settings,
       r.raw_settings AS vendor_settings,
       coalesce(c.protected_tags, 0) AS protected_tags,
       coalesce(c.unprotected_tags, 0) AS unprotected_tags,
       coalesce(c.protected_tags, 0) > 0 AND coalesce(c.unprotected_tags, 0) = 0 AS protected,
       s.last_seen,
       r.first_seen_at AS first_seen,
       r.gone_at,
       r.id AS repository_id
FROM repositories r
LEFT JOIN LATERAL (
  SELECT (count(*) FILTER (WHERE t.protected))::int AS protected_tags,
         (count(*) FILTER (WHERE NOT t.protected))::int AS unprotected_tags
  FROM tags t
  WHERE t.repository_id = r.id AND t.present
) c ON true
LEFT JOIN LATERAL (
  SELECT max(rs.observed_at) AS last_seen FROM repository_snapshots rs WHERE rs.repository_id = r.id
) s ON true;
--> statement-breakpoint

-- Every recorded tag change. event_id orders changes observed at the same instant.
CREATE VIEW tag_history AS
SELECT r.target_id AS target,
       r.name AS repository,
       e.tag,
       e.kind,
       e.digest,
       e.previous_digest,
       e.observed_at,
       e.scan_id,
       e.protected,
       e.protection_reason,
       e.id AS event_id,
       e.repository_id
FROM tag_events e
JOIN repositories r ON r.id = e.repository_id;
--> statement-breakpoint

-- Open findings (acknowledged, resolved and waived ones are not open). severity_rank orders them:
-- info 1, low 2, medium 3, high 4, critical 5.
CREATE VIEW open_findings AS
SELECT f.id,
       f.target_id AS target,
       f.repository,
       f.tag,
       f.type,
       f.severity,
       array_position(ARRAY['info', 'low', 'medium', 'high', 'critical'], f.severity) AS severity_rank,
       f.summary,
       f.remediation,
       f.digest,
       f.previous_digest,
       f.protection,
       f.first_seen_at AS first_seen,
       f.last_seen_at AS last_seen,
       f.opened_scan_id,
       f.last_scan_id,
       f.fingerprint
FROM findings f
WHERE f.status = 'open';
--> statement-breakpoint

-- One row per target: its live repositories (not gone) and present tags, the shares protected,
-- open findings by severity, and its last successful scan. Shares are null when there is nothing
-- to divide by. The tag counts are one pass over tags (cheaper for every target at once than
-- repository_protection's per-repository counts); `protected` means what it means there.
CREATE VIEW compliance_summary AS
SELECT tg.id AS target,
       tg.kind,
       coalesce(p.repositories, 0) AS repositories,
       coalesce(p.protected_repositories, 0) AS protected_repositories,
       CASE WHEN p.repositories > 0 THEN round(p.protected_repositories::numeric / p.repositories, 4) END AS protected_repositories_share,
       coalesce(p.tags, 0) AS tags,
       coalesce(p.protected_tags, 0) AS protected_tags,
       CASE WHEN p.tags > 0 THEN round(p.protected_tags::numeric / p.tags, 4) END AS protected_tags_share,
       coalesce(f.critical, 0) AS open_critical,
       coalesce(f.high, 0) AS open_high,
       coalesce(f.medium, 0) AS open_medium,
       coalesce(f.low, 0) AS open_low,
       coalesce(f.info, 0) AS open_info,
       coalesce(f.total, 0) AS open_findings,
       ok.finished_at AS last_successful_scan,
       ok.id AS last_successful_scan_id,
       latest.status AS last_scan_status
FROM targets tg
LEFT JOIN (
  SELECT r.target_id,
         count(*)::int AS repositories,
         (count(*) FILTER (WHERE c.protected_tags > 0 AND c.unprotected_tags = 0))::int AS protected_repositories,
         coalesce(sum(c.protected_tags + c.unprotected_tags), 0)::int AS tags,
         coalesce(sum(c.protected_tags), 0)::int AS protected_tags
  FROM repositories r
  LEFT JOIN (
    SELECT t.repository_id,
           count(*) FILTER (WHERE t.protected) AS protected_tags,
           count(*) FILTER (WHERE NOT t.protected) AS unprotected_tags
    FROM tags t
    WHERE t.present
    GROUP BY t.repository_id
  ) c ON c.repository_id = r.id
  WHERE r.gone_at IS NULL
  GROUP BY r.target_id
) p ON p.target_id = tg.id
LEFT JOIN LATERAL (
  SELECT (count(*) FILTER (WHERE fi.severity = 'critical'))::int AS critical,
         (count(*) FILTER (WHERE fi.severity = 'high'))::int AS high,
         (count(*) FILTER (WHERE fi.severity = 'medium'))::int AS medium,
         (count(*) FILTER (WHERE fi.severity = 'low'))::int AS low,
         (count(*) FILTER (WHERE fi.severity = 'info'))::int AS info,
         count(*)::int AS total
  FROM findings fi
  WHERE fi.target_id = tg.id AND fi.status = 'open'
) f ON true
LEFT JOIN LATERAL (
  SELECT s.id, s.finished_at FROM scans s
  WHERE s.target_id = tg.id AND s.status = 'succeeded'
  ORDER BY s.started_at DESC, s.id DESC
  LIMIT 1
) ok ON true
LEFT JOIN LATERAL (
  SELECT s.status FROM scans s
  WHERE s.target_id = tg.id
  ORDER BY s.started_at DESC, s.id DESC
  LIMIT 1
) latest ON true;
--> statement-breakpoint

-- The digest a tag pointed to at `at`: the latest change observed at or before `at` decides; null
-- before the first observation and while the tag was deleted. The same rule as
-- `tagledger history --at` (digestAt in src/store/queries/history.ts).
CREATE FUNCTION tag_digest_at(target text, repository text, tag text, at timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN h.kind = 'deleted' THEN NULL ELSE h.digest END
  FROM tag_history h
  WHERE h.target = tag_digest_at.target
    AND h.repository = tag_digest_at.repository
    AND h.tag = tag_digest_at.tag
    AND h.observed_at <= tag_digest_at.at
  ORDER BY h.observed_at DESC, h.event_id DESC
  LIMIT 1
$$;
--> statement-breakpoint

-- Every tag that existed at `at`, with its digest then: the whole tag→digest map at that moment,
-- by the same rule as tag_digest_at (a tag deleted at the time is absent). Filter it like a table:
-- SELECT * FROM tags_as_of('2026-03-03T12:00:00Z') WHERE target = 'prod' AND repository = 'shop/api'.
-- first_seen (set once, at the tag's first observation) skips tags that did not exist yet.
CREATE FUNCTION tags_as_of(at timestamptz)
RETURNS TABLE (target text, repository text, tag text, digest text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT k.target, k.repository, k.tag, e.digest
  FROM known_tags k
  CROSS JOIN LATERAL (
    SELECT h.kind, h.digest
    FROM tag_history h
    WHERE h.repository_id = k.repository_id
      AND h.tag = k.tag
      AND h.observed_at <= tags_as_of.at
    ORDER BY h.observed_at DESC, h.event_id DESC
    LIMIT 1
  ) e
  WHERE k.first_seen <= tags_as_of.at
    AND e.kind <> 'deleted'
$$;
--> statement-breakpoint

COMMENT ON VIEW known_tags IS 'Every tag tagledger has seen, deleted ones included (present = false; digest = the last one seen).';
--> statement-breakpoint
COMMENT ON VIEW current_tags IS 'Present tags with digest, registry protection (false when the registry reports nothing) and when first and last seen.';
--> statement-breakpoint
COMMENT ON VIEW repository_protection IS 'One row per repository: mode (immutable|mutable|immutable_with_exclusion|mutable_with_exclusion|rules|unknown), settings, protected and unprotected present tags.';
--> statement-breakpoint
COMMENT ON VIEW tag_history IS 'Every recorded tag change (created, moved, deleted, restored), with the scan that observed it.';
--> statement-breakpoint
COMMENT ON VIEW open_findings IS 'Findings with status open.';
--> statement-breakpoint
COMMENT ON VIEW compliance_summary IS 'One row per target: repositories, shares of repositories and tags protected, open findings by severity, last successful scan.';
--> statement-breakpoint
COMMENT ON FUNCTION tag_digest_at(text, text, text, timestamptz) IS 'The digest the tag pointed to at the given time (null before its first observation or while deleted).';
--> statement-breakpoint
COMMENT ON FUNCTION tags_as_of(timestamptz) IS 'Every tag that existed at the given time, with its digest then.';
--> statement-breakpoint

-- tagledger_reader: SELECT on the views, EXECUTE on the functions, nothing else. Roles belong to the
-- server, not the database, so the role may already exist (another tagledger database on the same
-- server, or created by an administrator). A migrating user without CREATEROLE gets a notice
-- instead of a failed start: the views work without the role.
DO $$
BEGIN
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tagledger_reader') THEN
      CREATE ROLE tagledger_reader NOLOGIN;
    END IF;
  EXCEPTION
    -- Created at the same moment by the migration of another database on this server.
    WHEN duplicate_object OR unique_violation THEN NULL;
    WHEN insufficient_privilege THEN
      RAISE NOTICE 'role tagledger_reader not created: this user may not create roles. An administrator can run CREATE ROLE tagledger_reader NOLOGIN and the GRANTs listed in the README (Reporting).';
  END;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tagledger_reader') THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO tagledger_reader', current_schema());
    GRANT SELECT ON known_tags, current_tags, repository_protection, tag_history, open_findings, compliance_summary TO tagledger_reader;
    GRANT EXECUTE ON FUNCTION tag_digest_at(text, text, text, timestamptz), tags_as_of(timestamptz) TO tagledger_reader;
  END IF;
END
$$;
