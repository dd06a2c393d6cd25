/**
 * Plans and timings of the reporting views and functions on a synthetic estate (by default
 * 1,000,000 tags and 10,000,000 tag events), on PostgreSQL.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/tagledger_bench npx tsx bench/reporting-sql.ts
 *
 * The database must be empty (it is migrated, then filled with generate_series); the script prints
 * Markdown: one EXPLAIN (ANALYZE, BUFFERS) per query. Sizes: BENCH_TARGETS (5), BENCH_REPOSITORIES
 * (10000), BENCH_TAGS_PER_REPOSITORY (100), BENCH_SCANS (10: one event per tag per scan, the first a
 * `created`, then moves).
 */
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { migrationsFolder } from '../src/store/db.js';

const url = process.env.BENCH_DATABASE_URL;
if (!url) {
  process.stderr.write('set BENCH_DATABASE_URL to an empty PostgreSQL database\n');
  process.exit(3);
}
const int = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const targets = int('BENCH_TARGETS', 5);
const repositories = int('BENCH_REPOSITORIES', 10_000);
const tagsPerRepository = int('BENCH_TAGS_PER_REPOSITORY', 100);
const scans = int('BENCH_SCANS', 10);
const day0 = '2026-01-01T00:00:00Z';

const client = new pg.Client({ connectionString: url });
await client.connect();
// The migrations alone: openDatabase would also hash-chain every event first (src/store/queries/chain.ts),
// which is not what is measured here; the synthetic events stay unchained.
await migrate(drizzle(client), { migrationsFolder });

const existing = await client.query('SELECT count(*)::int AS n FROM tags');
const log = (s: string) => process.stderr.write(`${new Date().toISOString()} ${s}\n`);
if (existing.rows[0].n === 0) {
  log('seeding');
  await client.query(`INSERT INTO targets (id, kind) SELECT 'target-' || g, 'ecr' FROM generate_series(1, $1::int) g`, [targets]);
  await client.query(
    `INSERT INTO scans (target_id, status, started_at, finished_at, repositories, tags)
     SELECT 'target-' || t, 'succeeded', $2::timestamptz + s * interval '1 day', $2::timestamptz + s * interval '1 day' + interval '5 minutes', 0, 0
     FROM generate_series(0, $1::int - 1) s, generate_series(1, $3::int) t ORDER BY s, t`,
    [scans, day0, targets],
  );
  // Protection varies over every mode the views map.
  await client.query(
    `INSERT INTO repositories (id, target_id, name, pull_reference, first_seen_at, protection)
     SELECT g, 'target-' || (g % $2::int + 1), 'team-' || (g % 97) || '/app-' || g, 'registry.example/team-' || (g % 97) || '/app-' || g, $3::timestamptz,
            (ARRAY['{"kind":"ecr","mode":"IMMUTABLE","filters":[]}', '{"kind":"ecr","mode":"MUTABLE","filters":[]}',
                   '{"kind":"ecr","mode":"IMMUTABLE_WITH_EXCLUSION","filters":["dev-*"]}', '{"kind":"gar","immutableTags":true}',
                   '{"kind":"unknown"}', '{"kind":"harbor","project":"p","repositoryInProject":"a","rules":[]}'])[g % 6 + 1]::jsonb
     FROM generate_series(1, $1::int) g`,
    [repositories, targets, day0],
  );
  await client.query(`SELECT setval(pg_get_serial_sequence('repositories', 'id'), $1::int)`, [repositories]);
  log('tags');
  await client.query(
    `INSERT INTO tags (repository_id, name, digest, present, protected, protection_reason, first_seen_at, changed_at)
     SELECT r, 'v1.' || i, 'sha256:' || md5(r || ':' || i || ':' || ($2::int - 1)) || md5(i || ':' || r), i % 50 <> 0, r % 6 IN (0, 3),
            'bench', $3::timestamptz, $3::timestamptz + ($2::int - 1) * interval '1 day'
     FROM generate_series(1, $1::int) r, generate_series(1, $4::int) i`,
    [repositories, scans, day0, tagsPerRepository],
  );
  for (let s = 0; s < scans; s++) {
    log(`tag events of scan ${s + 1}/${scans}`);
    // Every 50th tag is deleted in the last scan, so tags_as_of has absent tags to skip.
    await client.query(
      `INSERT INTO tag_events (repository_id, tag, kind, digest, previous_digest, protected, protection_reason, observed_at, scan_id)
       SELECT r, 'v1.' || i,
              CASE WHEN $1::int = 0 THEN 'created' WHEN $1::int = $5::int - 1 AND i % 50 = 0 THEN 'deleted' ELSE 'moved' END,
              CASE WHEN $1::int = $5::int - 1 AND i % 50 = 0 THEN NULL ELSE 'sha256:' || md5(r || ':' || i || ':' || $1::int) || md5(i || ':' || r) END,
              CASE WHEN $1::int = 0 THEN NULL ELSE 'sha256:' || md5(r || ':' || i || ':' || ($1::int - 1)) || md5(i || ':' || r) END,
              false, 'bench', $2::timestamptz + $1::int * interval '1 day',
              (SELECT id FROM scans WHERE target_id = 'target-' || (r % $3::int + 1) AND started_at = $2::timestamptz + $1::int * interval '1 day')
       FROM generate_series(1, $4::int) r, generate_series(1, $6::int) i`,
      [s, day0, targets, repositories, scans, tagsPerRepository],
    );
    await client.query(
      `INSERT INTO repository_snapshots (repository_id, scan_id, observed_at, tag_count, tags_hash, protection)
       SELECT r.id, s.id, s.started_at, $2::int, md5(r.id || ':' || $1::int), r.protection
       FROM repositories r JOIN scans s ON s.target_id = r.target_id AND s.started_at = $3::timestamptz + $1::int * interval '1 day'`,
      [s, tagsPerRepository, day0],
    );
  }
  log('findings');
  await client.query(
    `INSERT INTO findings (fingerprint, type, lifecycle, severity, status, target_id, repository, tag, summary, remediation, first_seen_at, last_seen_at, status_changed_at, status_by)
     SELECT 'bench:' || g, 'tag.moved', 'event', (ARRAY['info','low','medium','high','critical'])[g % 5 + 1],
            (ARRAY['open','acknowledged','resolved','open'])[g % 4 + 1], 'target-' || (g % $1::int + 1), 'team-' || (g % 97) || '/app-' || g % $2::int, 'v1.' || g % 100,
            'bench finding', 'bench', $3::timestamptz, $3::timestamptz, $3::timestamptz, 'bench'
     FROM generate_series(1, 100000) g`,
    [targets, repositories, day0],
  );
  log('analyze');
  await client.query('VACUUM ANALYZE');
}

const counts = await client.query(`SELECT (SELECT count(*) FROM tags)::bigint AS tags, (SELECT count(*) FROM tag_events)::bigint AS events,
  (SELECT count(*) FROM repositories)::bigint AS repositories, (SELECT count(*) FROM findings)::bigint AS findings`);
const version = await client.query('SHOW server_version');
const middle = `${day0.slice(0, 10)}T00:00:00Z`;
const at = new Date(Date.parse(middle) + 4.5 * 86_400_000).toISOString();
const repo = 'team-3/app-100';
const target = `target-${(100 % targets) + 1}`;

const queries: Array<[string, string]> = [
  ['the digest of one tag at a time (tag_digest_at)', `SELECT tag_digest_at('${target}', '${repo}', 'v1.42', '${at}')`],
  [
    'the same lookup as tag_digest_at runs it (its body, on tag_history)',
    `SELECT CASE WHEN h.kind = 'deleted' THEN NULL ELSE h.digest END FROM tag_history h
     WHERE h.target = '${target}' AND h.repository = '${repo}' AND h.tag = 'v1.42' AND h.observed_at <= '${at}'
     ORDER BY h.observed_at DESC, h.event_id DESC LIMIT 1`,
  ],
  ["one repository's tag→digest map at a time", `SELECT * FROM tags_as_of('${at}') WHERE target = '${target}' AND repository = '${repo}'`],
  ["one target's map at a time (count)", `SELECT count(*) FROM tags_as_of('${at}') WHERE target = '${target}'`],
  ['the whole map at a time (count)', `SELECT count(*) FROM tags_as_of('${at}')`],
  ["one repository's current tags", `SELECT * FROM current_tags WHERE target = '${target}' AND repository = '${repo}'`],
  ["a target's least protected repositories", `SELECT * FROM repository_protection WHERE target = '${target}' ORDER BY unprotected_tags DESC, repository LIMIT 20`],
  ['compliance summary (every target)', 'SELECT * FROM compliance_summary'],
  ["one tag's history", `SELECT * FROM tag_history WHERE target = '${target}' AND repository = '${repo}' AND tag = 'v1.42' ORDER BY observed_at, event_id`],
  ['the 50 latest changes', `SELECT * FROM tag_history WHERE kind <> 'created' ORDER BY observed_at DESC, event_id DESC LIMIT 50`],
  ['open critical and high findings', `SELECT * FROM open_findings WHERE severity IN ('critical', 'high') ORDER BY severity_rank DESC, id LIMIT 100`],
];

const out: string[] = [];
const c = counts.rows[0];
out.push(`PostgreSQL ${version.rows[0].server_version}: ${Number(c.tags).toLocaleString('en')} tags, ${Number(c.events).toLocaleString('en')} tag events, ${Number(c.repositories).toLocaleString('en')} repositories, ${Number(c.findings).toLocaleString('en')} findings.`, '');
for (const [title, q] of queries) {
  // Once to warm the cache, then the measured run.
  await client.query(q);
  const plan = await client.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${q}`);
  const lines = plan.rows.map((r: Record<string, string>) => r['QUERY PLAN']);
  const time = lines.find((l) => l.startsWith('Execution Time'));
  out.push(`### ${title}: ${time?.replace('Execution Time: ', '')}`, '', '```sql', q.replace(/\s+/g, ' ').trim(), '```', '', '```', ...lines, '```', '');
}
await client.end();
process.stdout.write(`${out.join('\n')}\n`);
