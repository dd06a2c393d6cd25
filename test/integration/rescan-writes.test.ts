/**
 * What a re-scan writes. An unchanged repository is recognised by its state hash and costs one
 * snapshot row (no tag row read or written); anything a tag row stores that changed without a
 * digest change (evidence, media type, pushed-at, protection) is still written; several repository
 * transactions in flight keep the scan's results in the collector's order.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { runScan } from '../../src/scheduler/run-scan.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { tagHistory } from '../../src/store/queries/history.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { complete, digest, observed, scriptedCollector } from '../helpers/scripted-collector.js';
import type { TargetConfig } from '../../src/config/schema.js';
import type { RepositoryResult } from '../../src/collectors/types.js';
import type { Database } from '../../src/store/db.js';
import { tagMapHash } from '../../src/audit/diff.js';
import { listFindings } from '../../src/store/queries/findings.js';
import type { ProtectionSettings } from '../../src/audit/protection.js';
import { alertingContext, type AlertingContext } from '../../src/alerts/evaluate.js';

const logger = pino({ level: 'silent' });
const target = { id: 'local', kind: 'oci', url: 'http://127.0.0.1:1', insecureSkipTlsVerify: false } as TargetConfig;
const TABLES = ['targets', 'scans', 'repositories', 'repository_events', 'repository_snapshots', 'tags', 'tag_events', 'findings', 'alerts'];

let t: TestDatabase;
beforeEach(async () => {
  t = await openTestDatabase();
});
afterEach(async () => {
  await t.close();
});

let clock = Date.parse('2026-05-01T00:00:00Z');
const now = () => new Date((clock += 1000));
const scan = (results: RepositoryResult[], storeConcurrency?: number, alerting?: AlertingContext) =>
  runScan(t.db, target, { logger, collector: scriptedCollector('local', results), now, storeConcurrency, alerting });

async function rows<T>(db: Database, q: ReturnType<typeof sql>): Promise<T[]> {
  return ((await db.execute(q)) as unknown as { rows: T[] }).rows;
}

/** Rows each table gained or had rewritten by `fn`: live tuples written by transactions after it began. */
async function writesOf(fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const [{ x }] = await rows<{ x: string }>(t.db, sql`SELECT txid_current()::text AS x`);
  await fn();
  const xid = BigInt(x) % 2n ** 32n;
  const out: Record<string, number> = {};
  for (const table of TABLES) {
    const [{ n }] = await rows<{ n: number }>(t.db, sql.raw(`SELECT count(*)::int AS n FROM ${table} WHERE xmin::text::bigint > ${xid}`));
    if (Number(n) > 0) out[table] = Number(n);
  }
  return out;
}

const ecr: ProtectionSettings = { kind: 'ecr', mode: 'IMMUTABLE_WITH_EXCLUSION', filters: ['dev-*'] };

function withEvidence(result: RepositoryResult, extra: Record<string, unknown>, tag: string): RepositoryResult {
  if (result.kind !== 'observed') return result;
  for (const x of result.observation.tags) if (x.tag === tag) x.extra = extra;
  return result;
}

/** "Last seen" of every open condition finding, as listFindings (CLI, API) and the open_findings view give it. */
async function lastSeen(): Promise<Array<{ id: number; repository: string | null; cli: string; view: string }>> {
  const listed = await listFindings(t.db, { status: ['open'] });
  const view = await rows<{ id: number; last_seen: string }>(t.db, sql`SELECT id, last_seen::text AS last_seen FROM open_findings`);
  return listed
    .filter((f) => f.lifecycle === 'condition')
    .map((f) => ({ id: f.id, repository: f.repository, cli: f.lastSeenAt.toISOString(), view: view.find((v) => Number(v.id) === f.id)!.last_seen }));
}

describe('re-scans', () => {
  it('write one snapshot row per unchanged repository and the scan row, nothing else', async () => {
    const estate = () => [observed('app', { a: 1, b: 2, 'dev-1': 3 }, ecr), observed('tools', { x: 4 }), complete];
    await scan(estate());
    // The second scan stores the state hash of repositories created before it existed.
    await t.db.execute(sql`UPDATE repositories SET state_hash = NULL`);
    const refreshed = await writesOf(() => scan(estate()));
    expect(refreshed.tags).toBeUndefined();
    expect(refreshed.repositories).toBe(2);

    const seenBefore = await lastSeen();
    const writes = await writesOf(() => scan(estate()));
    // Only the scan row and one snapshot per repository: open condition findings (the mutable
    // repository "tools", the unprotected dev-1 of "app") are not rewritten ...
    expect(writes).toEqual({ scans: 1, repository_snapshots: 2 });
    // ... and still show the scan that saw them last, everywhere "last seen" is read.
    const seenAfter = await lastSeen();
    expect(seenAfter.length).toBeGreaterThan(0);
    const latest = await rows<{ name: string; at: string }>(
      t.db,
      sql`SELECT r.name, max(s.observed_at)::text AS at FROM repository_snapshots s JOIN repositories r ON r.id = s.repository_id GROUP BY r.name`,
    );
    const lastScan = await rows<{ id: string }>(t.db, sql`SELECT max(scan_id)::text AS id FROM repository_snapshots`);
    const latestSnapshots = await rows<{ n: number }>(t.db, sql`SELECT count(*)::int AS n FROM repository_snapshots WHERE scan_id = ${Number(lastScan[0].id)}`);
    expect(Number(latestSnapshots[0].n)).toBe(2);
    for (const f of seenAfter) {
      const at = new Date(latest.find((l) => l.name === f.repository)!.at).getTime();
      expect(new Date(f.cli).getTime()).toBe(at);
      expect(new Date(f.view).getTime()).toBe(at);
      expect(new Date(f.cli).getTime()).toBeGreaterThan(new Date(seenBefore.find((b) => b.id === f.id)!.cli).getTime());
    }

    // Each snapshot's tags_hash is the documented hash of the repository's tag → digest map.
    const app = estate()[0];
    const hashes = await rows<{ tags_hash: string }>(t.db, sql`SELECT s.tags_hash FROM repository_snapshots s JOIN repositories r ON r.id = s.repository_id WHERE r.name = 'app'`);
    expect(new Set(hashes.map((h) => h.tags_hash))).toEqual(new Set([tagMapHash(app.kind === 'observed' ? app.observation.tags : [])]));

    // An unchanged repository's snapshot takes the tags hash of its latest snapshot; without one
    // (snapshots pruned by hand), it is computed from the tags.
    await t.db.execute(sql`DELETE FROM repository_snapshots`);
    expect(await writesOf(() => scan(estate()))).toEqual({ scans: 1, repository_snapshots: 2 });
    const recomputed = await rows<{ tags_hash: string }>(t.db, sql`SELECT s.tags_hash FROM repository_snapshots s JOIN repositories r ON r.id = s.repository_id WHERE r.name = 'app'`);
    expect(recomputed.map((h) => h.tags_hash)).toEqual([tagMapHash(app.kind === 'observed' ? app.observation.tags : [])]);
  });

  it('re-judges the findings of an unchanged repository when the policy changed, or a finding was set by hand', async () => {
    const estate = () => [observed('app', { 'v1.0': 1, 'dev-1': 2 }, ecr), observed('tools', { x: 4 }), complete];
    const open = async () =>
      (await listFindings(t.db, { status: ['open', 'waived'] }))
        .filter((f) => f.lifecycle === 'condition')
        .map((f) => `${f.type} ${f.repository} ${f.status}`)
        .sort();
    await scan(estate());
    expect(await open()).toEqual(['repository.mutable app open', 'repository.mutable tools open']);
    expect(await writesOf(() => scan(estate()))).toEqual({ scans: 1, repository_snapshots: 2 });

    // Nothing in the registry changed, but policy now says dev-1 must never move: a new finding.
    const strict = alertingContext({ policy: { protectedTags: ['dev-*'] } });
    const judged = await writesOf(() => scan(estate(), undefined, strict));
    expect(judged.findings).toBe(1);
    expect(await open()).toEqual(['repository.mutable app open', 'repository.mutable tools open', 'tag.unprotected app open']);
    expect(await writesOf(() => scan(estate(), undefined, strict))).toEqual({ scans: 1, repository_snapshots: 2 });

    // A waiver for one condition: written as waived.
    const waived = alertingContext({ policy: { protectedTags: ['dev-*'], ignore: [{ target: 'local', repository: 'tools', type: 'repository.mutable', reason: 'scratch images' }] } });
    expect((await writesOf(() => scan(estate(), undefined, waived))).findings).toBe(1);
    expect(await open()).toEqual(['repository.mutable app open', 'repository.mutable tools waived', 'tag.unprotected app open']);

    // Back to the default policy: the tag rule's finding resolves, the waiver no longer applies.
    expect((await writesOf(() => scan(estate()))).findings).toBe(2);
    expect(await open()).toEqual(['repository.mutable app open', 'repository.mutable tools open']);

    // A condition resolved by hand in the database is the scan's to re-open.
    await t.db.execute(sql`UPDATE findings SET status = 'resolved' WHERE repository = 'tools'`);
    expect((await writesOf(() => scan(estate()))).findings).toBe(1);
    expect(await open()).toEqual(['repository.mutable app open', 'repository.mutable tools open']);
  });

  it('stores evidence, media type and pushed-at that changed while every digest stayed the same', async () => {
    const first = withEvidence(observed('app', { a: 1, b: 2 }, ecr), { imageStatus: 'ACTIVE', imageSizeInBytes: 10 }, 'a');
    // Evidence with every character an array literal must escape survives the round trip.
    const awkward = { note: 'a "quoted", {braced} \\ back\\slash NULL', n: null, nested: { z: 1, a: [true] } };
    withEvidence(first, awkward, 'b');
    await scan([first, complete]);
    expect((await currentTags(t.db, { targetId: 'local', repository: 'app' })).find((r) => r.tag === 'b')!.extra).toEqual(awkward);

    const archived = withEvidence(withEvidence(observed('app', { a: 1, b: 2 }, ecr), { imageStatus: 'ARCHIVED', imageSizeInBytes: 10 }, 'a'), awkward, 'b');
    const writes = await writesOf(async () => {
      const s = await scan([archived, complete]);
      expect(s.events).toEqual({ created: 0, moved: 0, deleted: 0, restored: 0 });
    });
    expect(writes.tags).toBe(1);
    expect(writes.tag_events).toBeUndefined();
    let stored = await currentTags(t.db, { targetId: 'local', repository: 'app' });
    expect(stored.find((r) => r.tag === 'a')!.extra).toEqual({ imageStatus: 'ARCHIVED', imageSizeInBytes: 10 });

    // The same evidence with its keys in another order is the same row: nothing to write.
    const reordered = withEvidence(withEvidence(observed('app', { a: 1, b: 2 }, ecr), { imageSizeInBytes: 10, imageStatus: 'ARCHIVED' }, 'a'), awkward, 'b');
    expect((await writesOf(() => scan([reordered, complete]))).tags).toBeUndefined();

    const retyped = observed('app', { a: 1, b: 2 }, ecr);
    if (retyped.kind === 'observed') {
      retyped.observation.tags[0].extra = { imageSizeInBytes: 10, imageStatus: 'ARCHIVED' };
      retyped.observation.tags[1].extra = awkward;
      retyped.observation.tags[1].mediaType = 'application/vnd.docker.distribution.manifest.v2+json';
      retyped.observation.tags[1].pushedAt = new Date('2026-04-01T10:00:00.123Z');
    }
    expect((await writesOf(() => scan([retyped, complete]))).tags).toBe(1);
    stored = await currentTags(t.db, { targetId: 'local', repository: 'app' });
    const b = (await rows<{ media_type: string; pushed_at: string | Date }>(t.db, sql`SELECT media_type, pushed_at FROM tags WHERE name = 'b'`))[0];
    expect(b.media_type).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(new Date(b.pushed_at).toISOString()).toBe('2026-04-01T10:00:00.123Z');
    expect(stored).toHaveLength(2);

    // Compared row by row (no state hash to go by), the same observation still writes no tag row.
    await t.db.execute(sql`UPDATE repositories SET state_hash = NULL`);
    expect((await writesOf(() => scan([retyped, complete]))).tags).toBeUndefined();
  });

  it('re-evaluates every tag when the settings change, and restores the tags of a repository that comes back', async () => {
    const other = observed('other', { x: 9 });
    await scan([observed('app', { 'v1.0': 1, 'dev-1': 2 }, ecr), other, complete]);
    const mutable: ProtectionSettings = { kind: 'ecr', mode: 'MUTABLE', filters: [] };
    const changed = await scan([observed('app', { 'v1.0': 1, 'dev-1': 2 }, mutable), other, complete]);
    expect(changed.changes[0].repositoryEvents.map((e) => e.kind)).toEqual(['settings_changed']);
    expect((await currentTags(t.db, { targetId: 'local', repository: 'app' })).map((r) => [r.tag, r.protected])).toEqual([
      ['dev-1', false],
      ['v1.0', false],
    ]);

    const gone = await scan([other, complete]); // gone from a complete listing
    expect(gone.events.deleted).toBe(2);
    const back = await scan([observed('app', { 'v1.0': 1, 'dev-1': 2 }, mutable), other, complete]);
    expect(back.events).toEqual({ created: 0, moved: 0, deleted: 0, restored: 2 });
    expect((await tagHistory(t.db, { targetId: 'local', repository: 'app', tag: 'v1.0' })).map((e) => e.kind)).toEqual(['created', 'deleted', 'restored']);
    // And after that, nothing left to write.
    expect((await writesOf(() => scan([observed('app', { 'v1.0': 1, 'dev-1': 2 }, mutable), other, complete]))).tags).toBeUndefined();
  });

  it('keeps the collector’s order of changes with several repository transactions in flight', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `repo-${String(i).padStart(2, '0')}`);
    // Repositories of very different sizes, so that transactions finish out of order.
    const estate = (d: number) => [...names.map((n, i) => observed(n, Object.fromEntries(Array.from({ length: i % 3 === 0 ? 400 : 2 }, (_, j) => [`t${j}`, d * 1000 + j])))), complete];
    await scan(estate(1), 4);
    const second = await scan(estate(2), 4);
    expect(second.status).toBe('succeeded');
    expect(second.changes.map((c) => c.repository)).toEqual(names);
    expect(second.events.moved).toBe(4 * 400 + 8 * 2);
    const latest = await currentTags(t.db, { targetId: 'local', repository: 'repo-03' });
    expect(latest.every((r) => r.digest.startsWith(digest(2000).slice(0, 60)))).toBe(true);
  });

  it('reads and writes a whole target in a constant number of statements when nothing changed', async () => {
    // Every statement the scan starts on the database (queries, builders, transactions), counted.
    let statements = 0;
    const counted = new Proxy(t.db, {
      get(db, key, receiver) {
        const v = Reflect.get(db, key, receiver) as unknown;
        if (typeof v !== 'function' || !['execute', 'select', 'insert', 'update', 'delete', 'transaction'].includes(String(key))) return v;
        return (...args: unknown[]) => {
          statements++;
          return (v as (...a: unknown[]) => unknown).apply(db, args);
        };
      },
    });
    const estate = (n: number) => [...Array.from({ length: n }, (_, i) => observed(`repo-${i}`, { a: i, b: i + 1 }, i % 2 ? ecr : undefined)), complete];
    const rescan = async (n: number) => {
      await runScan(t.db, { ...target, id: `t${n}` }, { logger, collector: scriptedCollector(`t${n}`, estate(n)), now });
      statements = 0;
      const s = await runScan(counted, { ...target, id: `t${n}` }, { logger, collector: scriptedCollector(`t${n}`, estate(n)), now });
      expect(s.status).toBe('succeeded');
      expect(s.repositories).toBe(n);
      return statements;
    };
    const few = await rescan(3);
    const many = await rescan(40);
    // Before, each repository cost three statements of its own (its row, its findings, its snapshot).
    expect(many).toBe(few);
  });

  it('writes the snapshots of many unchanged repositories in batches, each repository once', async () => {
    const estate = () => [...Array.from({ length: 600 }, (_, i) => observed(`r${i}`, { v1: i })), complete];
    await scan(estate());
    const writes = await writesOf(async () => {
      const s = await scan(estate());
      expect(s.status).toBe('succeeded');
      expect(s.repositories).toBe(600);
      expect(s.tags).toBe(600);
    });
    expect(writes).toEqual({ scans: 1, repository_snapshots: 600 });
    const [{ n, d }] = await rows<{ n: number; d: number }>(
      t.db,
      sql`SELECT count(*)::int AS n, count(DISTINCT repository_id)::int AS d FROM repository_snapshots WHERE scan_id = (SELECT max(id) FROM scans)`,
    );
    expect([Number(n), Number(d)]).toEqual([600, 600]);
  });

  it('counts the repositories whose snapshots could not be written as failed, and records nothing false', async () => {
    const estate = () => [observed('app', { a: 1 }), observed('tools', { x: 2 }), complete];
    await scan(estate());
    await t.db.execute(sql.raw(`CREATE FUNCTION refuse_snapshot() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'snapshots refused for the test'; END $$`));
    await t.db.execute(sql.raw('CREATE TRIGGER refuse_snapshot BEFORE INSERT ON repository_snapshots FOR EACH ROW EXECUTE FUNCTION refuse_snapshot()'));
    const failed = await scan(estate());
    expect(failed.status).toBe('partial');
    expect(failed.repositories).toBe(0);
    expect(failed.errors.map((e) => e.repository).sort()).toEqual(['app', 'tools']);
    expect(failed.errors[0].message).toContain('snapshots refused for the test');
    expect(failed.events).toEqual({ created: 0, moved: 0, deleted: 0, restored: 0 });
    await t.db.execute(sql.raw('DROP TRIGGER refuse_snapshot ON repository_snapshots'));
    const next = await scan(estate());
    expect([next.status, next.repositories, next.events.deleted]).toEqual(['succeeded', 2, 0]);
  });
});
