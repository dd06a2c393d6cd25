-- A re-scan that finds a condition (a mutable repository, an unprotected tag) unchanged no longer
-- rewrites its finding: "last seen" of a condition finding that is not resolved is its
-- repository's latest snapshot, the scan's record that it observed the repository. Same columns as
-- before; only last_seen is computed. (src/store/queries/findings.ts: findingLastSeen)
CREATE OR REPLACE VIEW open_findings AS
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
       CASE WHEN f.lifecycle = 'condition' AND f.repository IS NOT NULL
            THEN GREATEST(f.last_seen_at, (SELECT max(ls.observed_at)
                                           FROM repository_snapshots ls
                                           JOIN repositories lr ON lr.id = ls.repository_id
                                           WHERE lr.target_id = f.target_id AND lr.name = f.repository))
            ELSE f.last_seen_at
       END AS last_seen,
       f.opened_scan_id,
       f.last_scan_id,
       f.fingerprint
FROM findings f
WHERE f.status = 'open';
