/**
 * The reporting views and functions (migrations/0004_reporting_views.sql) on the database the tests
 * run on: PGlite by default, PostgreSQL with DATABASE_URL (CI runs both). Data comes from real
 * scans of the OCI and ECR emulators through runScan, at fixed times, so the time-travel answers
 * can be checked against `digestAt` (the rule behind `tagledger history --at`).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import type { TargetConfig } from '../../src/config/schema.js';
import type { Database } from '../../src/store/db.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { startEcrEmulator, type EcrEmulator } from '../../src/emulators/ecr/index.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import { digestAt, tagHistory } from '../../src/store/queries/history.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { listFindings } from '../../src/store/queries/findings.js';
import { openTestDatabase, onPostgres, type TestDatabase } from '../helpers/db.js';
import { complete, observed, scriptedCollector } from '../helpers/scripted-collector.js';
import { stubAwsCredentials } from '../helpers/aws.js';

const logger = pino({ level: 'silent' });
type Row = Record<string, unknown>;

let t: TestDatabase;
let oci: OciEmulator;
let ecr: EcrEmulator;
const ociTarget = (url: string) => ({ id: 'shop', kind: 'oci', url, insecureSkipTlsVerify: false }) as TargetConfig;

const rowsOf = async (db: Database, q: ReturnType<typeof sql>): Promise<Row[]> => (await db.execute(q) as unknown as { rows: Row[] }).rows;
const iso = (v: unknown) => (v === null ? null : (v instanceof Date ? v : new Date(String(v))).toISOString());

/** runScan at a fixed instant: every timestamp of the scan is `at` plus a few milliseconds. */
function scanAt(target: TargetConfig, at: string, extra: Partial<Parameters<typeof runScan>[2]> = {}) {
  let ms = Date.parse(at);
  return runScan(t.db, target, { logger, now: () => new Date(ms++), ...extra });
}

const T1 = '2026-03-01T10:00:00.000Z';
const T2 = '2026-03-02T10:00:00.000Z';
const T3 = '2026-03-03T10:00:00.000Z';
const T4 = '2026-03-04T10:00:00.000Z';
const digests: Record<string, string> = {};

beforeAll(async () => {
  t = await openTestDatabase();
  oci = await startOciEmulator();
  // The shop target: api:1.4.2 moves, api:old is deleted and comes back on another image, api:1.4.2
  // is finally deleted, web:latest never changes.
  digests.v1 = oci.pushImage('shop/api', '1.4.2').digest;
  digests.old1 = oci.pushImage('shop/api', 'old').digest;
  oci.pushImage('shop/web', 'latest');
  const target = ociTarget(oci.url);
  expect((await scanAt(target, T1)).status).toBe('succeeded');
  digests.v2 = oci.moveTag('shop/api', '1.4.2').digest;
  oci.deleteTag('shop/api', 'old');
  expect((await scanAt(target, T2)).events).toEqual({ created: 0, moved: 1, deleted: 1, restored: 0 });
  digests.old2 = oci.pushImage('shop/api', 'old').digest;
  oci.pushImage('shop/api', 'new');
  expect((await scanAt(target, T3)).events).toEqual({ created: 1, moved: 0, deleted: 0, restored: 1 });
  oci.deleteTag('shop/api', '1.4.2');
  expect((await scanAt(target, T4)).events).toEqual({ created: 0, moved: 0, deleted: 1, restored: 0 });

  // ECR: every mutability mode, read through the real AWS SDK.
  stubAwsCredentials('AKIAREPORTING', 'reporting-secret');
  ecr = await startEcrEmulator();
  const e = ecr.estate;
  e.createRepository('ecr/immutable', { imageTagMutability: 'IMMUTABLE' });
  e.createRepository('ecr/mutable', { imageTagMutability: 'MUTABLE' });
  e.createRepository('ecr/imm-excl', { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', filters: ['dev-*'] });
  e.createRepository('ecr/mut-excl', { imageTagMutability: 'MUTABLE_WITH_EXCLUSION', filters: ['v*'] });
  for (const repo of ['ecr/immutable', 'ecr/mutable', 'ecr/imm-excl', 'ecr/mut-excl']) {
    e.pushImage(repo, { tag: 'v1' });
    e.pushImage(repo, { tag: 'dev-1' });
  }
  const ecrTarget = { id: 'aws', kind: 'ecr', region: 'us-east-1', endpoint: ecr.url, insecureSkipTlsVerify: false } as TargetConfig;
  expect((await scanAt(ecrTarget, T1)).status).toBe('succeeded');

  // GAR and Harbor settings, as their collectors normalise them (their emulators are exercised in
  // their own end-to-end tests; here only the stored settings matter).
  const other = { id: 'other', kind: 'oci', url: 'http://127.0.0.1:9', insecureSkipTlsVerify: false } as TargetConfig;
  const collector = scriptedCollector('other', [
    observed('europe-west1/images/api', { v1: 1 }, { kind: 'gar', immutableTags: true, mode: 'STANDARD_REPOSITORY' }),
    observed('europe-west1/images/tools', { v1: 2 }, { kind: 'gar', immutableTags: false }),
    observed('europe-west1/virtual/api', { v1: 3 }, { kind: 'gar', immutableTags: true, mode: 'VIRTUAL_REPOSITORY' }),
    observed('team/api', { v1: 4 }, { kind: 'harbor', project: 'team', repositoryInProject: 'api', rules: [] }),
    complete,
  ]);
  expect((await scanAt(other, T1, { collector })).status).toBe('succeeded');
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await oci?.close();
  await ecr?.close();
  await t?.close();
});

describe('tag_digest_at and tags_as_of', () => {
  const hour = 3_600_000;
  /** Around each scan, and exactly at and 1 ms before each recorded change (where `<` and `<=` differ). */
  let observedAt: number[] = [];
  beforeAll(async () => {
    observedAt = (await rowsOf(t.db, sql`SELECT DISTINCT observed_at FROM tag_history`)).map((r) => Date.parse(iso(r.observed_at)!));
    expect(observedAt.length).toBeGreaterThanOrEqual(4);
  });
  const instants = () => {
    const list = [T1, T2, T3, T4].flatMap((x) => [Date.parse(x) - hour, Date.parse(x) + hour]);
    list.push(...observedAt.flatMap((ms) => [ms - 1, ms]), Date.parse('2020-01-01T00:00:00Z'), Date.parse('2030-01-01T00:00:00Z'));
    return list.map((ms) => new Date(ms));
  };

  it('gives the same digest as digestAt, before the first observation, across moves, deletions and restorations', async () => {
    const cases = [
      ['shop', 'shop/api', '1.4.2'],
      ['shop', 'shop/api', 'old'],
      ['shop', 'shop/api', 'new'],
      ['shop', 'shop/web', 'latest'],
      ['shop', 'shop/api', 'never-seen'],
      ['shop', 'no/such/repository', 'latest'],
      ['nobody', 'shop/api', '1.4.2'],
    ] as const;
    let nonNull = 0;
    for (const [target, repository, tag] of cases) {
      for (const at of instants()) {
        const [row] = await rowsOf(t.db, sql`SELECT tag_digest_at(${target}, ${repository}, ${tag}, ${at.toISOString()}::timestamptz) AS digest`);
        const expected = await digestAt(t.db, { targetId: target, repository, tag, at });
        expect({ target, repository, tag, at: at.toISOString(), digest: row.digest ?? null }).toEqual({ target, repository, tag, at: at.toISOString(), digest: expected.digest });
        if (expected.digest) nonNull++;
      }
    }
    expect(nonNull).toBeGreaterThan(10); // the comparison is not all nulls
  });

  it('answers the documented question: which digest did api:1.4.2 point to on a given day', async () => {
    const at = async (when: string) =>
      (await rowsOf(t.db, sql`SELECT tag_digest_at('shop', 'shop/api', '1.4.2', ${when}::timestamptz) AS d`))[0].d ?? null;
    expect(await at('2026-02-28T12:00:00Z')).toBeNull(); // before tagledger first saw it
    expect(await at('2026-03-01T12:00:00Z')).toBe(digests.v1);
    expect(await at('2026-03-03T12:00:00Z')).toBe(digests.v2);
    expect(await at('2026-03-05T12:00:00Z')).toBeNull(); // deleted on 4 March
    expect(digests.v1).not.toBe(digests.v2);
  });

  it('tags_as_of returns the whole tag→digest map of a moment, by the same rule', async () => {
    const known = await rowsOf(t.db, sql`SELECT target, repository, tag FROM known_tags`);
    expect(known.length).toBeGreaterThan(10);
    const moments = [...observedAt.flatMap((ms) => [ms - 1, ms]), Date.parse('2030-01-01T00:00:00Z')].map((ms) => new Date(ms));
    for (const at of moments) {
      const expected: string[] = [];
      for (const k of known) {
        const d = await digestAt(t.db, { targetId: String(k.target), repository: String(k.repository), tag: String(k.tag), at });
        if (d.digest) expected.push(`${k.target} ${k.repository}:${k.tag} ${d.digest}`);
      }
      const got = (await rowsOf(t.db, sql`SELECT * FROM tags_as_of(${at.toISOString()}::timestamptz)`)).map((r) => `${r.target} ${r.repository}:${r.tag} ${r.digest}`);
      expect(got.sort()).toEqual(expected.sort());
    }
    const onThird = await rowsOf(t.db, sql`SELECT tag, digest FROM tags_as_of('2026-03-03T12:00:00Z') WHERE target = 'shop' AND repository = 'shop/api' ORDER BY tag`);
    expect(onThird).toEqual([
      { tag: '1.4.2', digest: digests.v2 },
      { tag: 'new', digest: expect.any(String) },
      { tag: 'old', digest: digests.old2 },
    ]);
  });
});

describe('views', () => {
  it('current_tags lists the present tags with protection, first and last seen', async () => {
    const rows = await rowsOf(t.db, sql`SELECT * FROM current_tags WHERE target = 'shop' AND repository = 'shop/api' ORDER BY tag`);
    const stored = (await currentTags(t.db, { targetId: 'shop', repository: 'shop/api' })).filter((r) => r.present);
    expect(rows.map((r) => [r.tag, r.digest, r.protected, r.protection_reason, iso(r.first_seen)])).toEqual(
      stored.map((r) => [r.tag, r.digest, r.protected, r.protectionReason, r.firstSeenAt.toISOString()]),
    );
    expect(rows.map((r) => r.tag)).toEqual(['new', 'old']);
    // An OCI registry says nothing about immutability: not protected.
    expect(rows.every((r) => r.protected === false)).toBe(true);
    // Last seen: the repository's latest complete observation (the fourth scan).
    expect(rows.every((r) => iso(r.last_seen)!.startsWith('2026-03-04T10:00:00'))).toBe(true);
  });

  it('tag_history lists every change with its scan, as tagHistory does', async () => {
    const rows = await rowsOf(t.db, sql`SELECT * FROM tag_history WHERE target = 'shop' AND repository = 'shop/api' AND tag = 'old' ORDER BY observed_at, event_id`);
    const expected = await tagHistory(t.db, { targetId: 'shop', repository: 'shop/api', tag: 'old' });
    expect(rows.map((r) => [r.kind, r.digest, r.previous_digest, iso(r.observed_at), Number(r.scan_id)])).toEqual(
      expected.map((e) => [e.kind, e.digest, e.previousDigest, e.observedAt.toISOString(), e.scanId]),
    );
    expect(rows.map((r) => r.kind)).toEqual(['created', 'deleted', 'restored']);
  });

  it('repository_protection names the mode of every kind of registry and counts protected tags', async () => {
    const rows = await rowsOf(t.db, sql`SELECT target, repository, mode, protected_tags, unprotected_tags, protected, settings FROM repository_protection ORDER BY target, repository`);
    const byName = Object.fromEntries(rows.map((r) => [`${r.target}/${r.repository}`, [r.mode, Number(r.protected_tags), Number(r.unprotected_tags), r.protected]]));
    expect(byName).toEqual({
      'aws/ecr/imm-excl': ['immutable_with_exclusion', 1, 1, false],
      'aws/ecr/immutable': ['immutable', 2, 0, true],
      'aws/ecr/mut-excl': ['mutable_with_exclusion', 1, 1, false],
      'aws/ecr/mutable': ['mutable', 0, 2, false],
      'other/europe-west1/images/api': ['immutable', 1, 0, true],
      'other/europe-west1/images/tools': ['mutable', 0, 1, false],
      'other/europe-west1/virtual/api': ['mutable', 0, 1, false],
      'other/team/api': ['rules', 0, 1, false],
      'shop/shop/api': ['unknown', 0, 2, false],
      'shop/shop/web': ['unknown', 0, 1, false],
    });
    const settings = rows.find((r) => r.repository === 'ecr/imm-excl')!.settings;
    expect(typeof settings === 'string' ? JSON.parse(settings) : settings).toEqual({ kind: 'ecr', mode: 'IMMUTABLE_WITH_EXCLUSION', filters: ['dev-*'] });
  });

  it('open_findings holds exactly the open findings', async () => {
    const rows = await rowsOf(t.db, sql`SELECT id, type, severity, severity_rank FROM open_findings ORDER BY id`);
    const open = await listFindings(t.db, { status: ['open'] });
    expect(rows.map((r) => [Number(r.id), r.type, r.severity])).toEqual(open.sort((a, b) => a.id - b.id).map((f) => [f.id, f.type, f.severity]));
    expect(rows.some((r) => r.type === 'tag.moved')).toBe(true);
    expect(rows.every((r) => Number(r.severity_rank) === ['info', 'low', 'medium', 'high', 'critical'].indexOf(String(r.severity)) + 1)).toBe(true);
  });

  it('compliance_summary gives one row per target with shares, open findings by severity and the last good scan', async () => {
    const rows = await rowsOf(t.db, sql`SELECT * FROM compliance_summary ORDER BY target`);
    expect(rows.map((r) => r.target)).toEqual(['aws', 'other', 'shop']);
    const aws = rows[0];
    expect([aws.repositories, aws.protected_repositories, Number(aws.protected_repositories_share), aws.tags, aws.protected_tags, Number(aws.protected_tags_share)]).toEqual([4, 1, 0.25, 8, 4, 0.5]);
    const shop = rows[2];
    expect([shop.repositories, shop.protected_repositories, Number(shop.protected_repositories_share), shop.tags, shop.protected_tags, Number(shop.protected_tags_share)]).toEqual([2, 0, 0, 3, 0, 0]);
    expect(iso(shop.last_successful_scan)!.startsWith('2026-03-04T10:00:00')).toBe(true);
    expect(shop.last_scan_status).toBe('succeeded');
    for (const r of rows) {
      const open = await listFindings(t.db, { status: ['open'], targetId: String(r.target) });
      for (const s of ['critical', 'high', 'medium', 'low', 'info']) expect([r.target, s, Number(r[`open_${s}`])]).toEqual([r.target, s, open.filter((f) => f.severity === s).length]);
      expect(Number(r.open_findings)).toBe(open.length);
    }
  });
});

describe('tagledger_reader', () => {
  /** Runs `fn` as tagledger_reader inside a transaction that is always rolled back. */
  async function asReader<T>(fn: (db: Database) => Promise<T>): Promise<T> {
    let out: T;
    const rollback = new Error('rollback');
    await t.db
      .transaction(async (tx) => {
        await tx.execute(sql`SET LOCAL ROLE tagledger_reader`);
        out = await fn(tx as unknown as Database);
        throw rollback;
      })
      .catch((err) => {
        if (err !== rollback) throw err;
      });
    return out!;
  }

  /** The error a statement gets, run in a savepoint so the transaction goes on. */
  async function failure(db: Database, q: ReturnType<typeof sql>): Promise<string> {
    try {
      await db.transaction(async (sp) => {
        await sp.execute(q);
      });
      return 'no error';
    } catch (err) {
      const e = err as { message?: string; cause?: { message?: string } };
      return `${e.message ?? ''} ${e.cause?.message ?? ''}`;
    }
  }

  it(`exists after the migration (${onPostgres ? 'PostgreSQL' : 'PGlite'}), reads the views and functions and nothing else`, async () => {
    const [role] = await rowsOf(t.db, sql`SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'tagledger_reader'`);
    expect(role).toEqual({ rolcanlogin: false, rolsuper: false });
    await asReader(async (db) => {
      const [who] = await rowsOf(db, sql`SELECT current_user AS u`);
      expect(who.u).toBe('tagledger_reader');
      for (const view of ['known_tags', 'current_tags', 'repository_protection', 'tag_history', 'open_findings', 'compliance_summary']) {
        const [n] = await rowsOf(db, sql`SELECT count(*)::int AS n FROM ${sql.identifier(view)}`);
        expect([view, Number(n.n) > 0]).toEqual([view, true]);
      }
      const [d] = await rowsOf(db, sql`SELECT tag_digest_at('shop', 'shop/api', '1.4.2', '2026-03-01T12:00:00Z') AS d`);
      expect(d.d).toBe(digests.v1);
      const [m] = await rowsOf(db, sql`SELECT count(*)::int AS n FROM tags_as_of('2026-03-03T12:00:00Z') WHERE target = 'shop'`);
      expect(Number(m.n)).toBe(4);
      expect(await failure(db, sql`SELECT * FROM tags`)).toMatch(/permission denied/);
      expect(await failure(db, sql`SELECT * FROM findings`)).toMatch(/permission denied/);
      expect(await failure(db, sql`DELETE FROM open_findings`)).toMatch(/permission denied/);
      expect(await failure(db, sql`INSERT INTO targets (id, kind) VALUES ('x', 'oci')`)).toMatch(/permission denied/);
    });
  });
});

describe('indexes', () => {
  /** The plan of a query with sequential scans priced out: which index serves it, if any does. */
  async function plan(q: ReturnType<typeof sql>): Promise<string> {
    let text = '';
    const done = new Error('done');
    await t.db
      .transaction(async (tx) => {
        await tx.execute(sql`SET LOCAL enable_seqscan = off`);
        const rows = await rowsOf(tx as unknown as Database, sql`EXPLAIN ${q}`);
        text = rows.map((r) => String(Object.values(r)[0])).join('\n');
        throw done;
      })
      .catch((err) => {
        if (err !== done) throw err;
      });
    return text;
  }

  it("serve a tag's digest at a time, a filtered tags_as_of (inlined), the latest changes and open findings", async () => {
    const digestLookup = await plan(sql`
      SELECT CASE WHEN h.kind = 'deleted' THEN NULL ELSE h.digest END FROM tag_history h
      WHERE h.target = 'shop' AND h.repository = 'shop/api' AND h.tag = '1.4.2' AND h.observed_at <= '2026-03-03T12:00:00Z'
      ORDER BY h.observed_at DESC, h.event_id DESC LIMIT 1`);
    expect(digestLookup).toContain('tag_events_repo_tag_idx');
    expect(digestLookup).toContain('repositories_target_name_idx');

    const asOf = await plan(sql`SELECT * FROM tags_as_of('2026-03-03T12:00:00Z') WHERE target = 'shop' AND repository = 'shop/api'`);
    expect(asOf).not.toContain('Function Scan'); // inlined: the WHERE reaches the indexes
    expect(asOf).toContain('repositories_target_name_idx');
    expect(asOf).toContain('tag_events_repo_tag_idx');

    const latest = await plan(sql`SELECT * FROM tag_history WHERE kind <> 'created' ORDER BY observed_at DESC, event_id DESC LIMIT 50`);
    expect(latest).toContain('tag_events_changes_idx');

    const open = await plan(sql`SELECT * FROM open_findings WHERE severity IN ('critical', 'high')`);
    expect(open).toContain('findings_status_idx');

    const current = await plan(sql`SELECT * FROM current_tags WHERE target = 'shop' AND repository = 'shop/api'`);
    expect(current).toContain('repositories_target_name_idx');
    expect(current).toMatch(/tags_pkey|tags_repository_id_name_pk/);
  });
});
