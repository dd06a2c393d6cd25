import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { runScan, TargetBusyError } from '../../src/scheduler/run-scan.js';
import { tagHistory, digestAt } from '../../src/store/queries/history.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { complete, digest, incomplete, observed, scriptedCollector } from '../helpers/scripted-collector.js';
import type { TargetConfig } from '../../src/config/schema.js';
import type { RepositoryResult } from '../../src/collectors/types.js';
import { tryLockTarget } from '../../src/store/locks.js';
import { scans, tagEvents, tags, repositorySnapshots } from '../../src/store/schema/index.js';

const logger = pino({ level: 'silent' });
const target = { id: 'local', kind: 'oci', url: 'http://127.0.0.1:1', insecureSkipTlsVerify: false } as TargetConfig;

let t: TestDatabase;
beforeEach(async () => {
  t = await openTestDatabase();
});
afterEach(async () => {
  await t.close();
});

let clock = Date.parse('2026-03-01T00:00:00Z');
const now = () => new Date((clock += 1000));
const scan = (results: RepositoryResult[]) => runScan(t.db, target, { logger, collector: scriptedCollector('local', results), now });

describe('runScan', () => {
  it('records created, moved, deleted and restored tags with history', async () => {
    const first = await scan([observed('app', { latest: 1, 'v1.0': 1, old: 2 }), complete]);
    expect(first.status).toBe('succeeded');
    expect(first.events).toEqual({ created: 3, moved: 0, deleted: 0, restored: 0 });
    expect(first.repositories).toBe(1);
    expect(first.tags).toBe(3);

    const second = await scan([observed('app', { latest: 3, 'v1.0': 1 }), complete]);
    expect(second.events).toEqual({ created: 0, moved: 1, deleted: 1, restored: 0 });
    const third = await scan([observed('app', { latest: 3, 'v1.0': 1, old: 4 }), complete]);
    expect(third.events).toEqual({ created: 0, moved: 0, deleted: 0, restored: 1 });

    const history = await tagHistory(t.db, { targetId: 'local', repository: 'app', tag: 'old' });
    expect(history.map((e) => [e.kind, e.digest, e.previousDigest])).toEqual([
      ['created', digest(2), null],
      ['deleted', null, digest(2)],
      ['restored', digest(4), digest(2)],
    ]);
    const latest = await tagHistory(t.db, { targetId: 'local', repository: 'app', tag: 'latest' });
    expect(latest.map((e) => e.kind)).toEqual(['created', 'moved']);

    // Time travel: between the first and second scan, latest pointed at digest 1.
    const at = await digestAt(t.db, { targetId: 'local', repository: 'app', tag: 'latest', at: new Date(first.finishedAt.getTime()) });
    expect(at.digest).toBe(digest(1));
    const atDeleted = await digestAt(t.db, { targetId: 'local', repository: 'app', tag: 'old', at: second.finishedAt });
    expect(atDeleted.digest).toBeNull();
    const before = await digestAt(t.db, { targetId: 'local', repository: 'app', tag: 'latest', at: new Date('2020-01-01') });
    expect(before).toEqual({ digest: null, observedAt: null });
  });

  it('writes no tag rows when nothing changed, only a snapshot', async () => {
    await scan([observed('app', { a: 1, b: 2 }), complete]);
    const rowsBefore = await t.db.select({ changedAt: tags.changedAt }).from(tags);
    const eventsBefore = (await t.db.select().from(tagEvents)).length;
    const again = await scan([observed('app', { a: 1, b: 2 }), complete]);
    expect(again.events).toEqual({ created: 0, moved: 0, deleted: 0, restored: 0 });
    expect(again.changes).toEqual([]);
    expect((await t.db.select().from(tagEvents)).length).toBe(eventsBefore);
    expect(await t.db.select({ changedAt: tags.changedAt }).from(tags)).toEqual(rowsBefore);
    const snaps = await t.db.select().from(repositorySnapshots);
    expect(snaps).toHaveLength(2);
    expect(snaps[0].tagsHash).toBe(snaps[1].tagsHash);
  });

  it('never reports tags deleted for a repository that failed, and marks the scan partial', async () => {
    await scan([observed('app', { a: 1 }), observed('db', { b: 2 }), complete]);
    const partial = await scan([{ kind: 'error', repository: 'app', code: 'failed', cause: 'connection reset' }, observed('db', { b: 2 }), complete]);
    expect(partial.status).toBe('partial');
    expect(partial.events.deleted).toBe(0);
    expect(partial.errors).toEqual([{ repository: 'app', code: 'failed', message: 'connection reset' }]);
    const appTags = await currentTags(t.db, { targetId: 'local', repository: 'app' });
    expect(appTags.map((r) => [r.tag, r.present])).toEqual([['a', true]]);
  });

  it('calls a repository gone only after a complete listing, and deletes its tags', async () => {
    await scan([observed('app', { a: 1 }), observed('db', { b: 2, c: 3 }), complete]);
    const noList = await scan([observed('app', { a: 1 }), incomplete]);
    expect(noList.events.deleted).toBe(0);
    const targetDown = await scan([observed('app', { a: 1 }), { kind: 'error', repository: null, code: 'failed', cause: 'catalog: 503' }, incomplete]);
    expect(targetDown.status).toBe('failed');
    expect(targetDown.events.deleted).toBe(0);
    const gone = await scan([observed('app', { a: 1 }), complete]);
    expect(gone.events).toEqual({ created: 0, moved: 0, deleted: 2, restored: 0 });
    expect(gone.changes[0].repositoryEvents.map((e) => e.kind)).toEqual(['gone']);
    const back = await scan([observed('app', { a: 1 }), observed('db', { b: 2 }), complete]);
    expect(back.events.restored).toBe(1);
    expect(back.changes.find((c) => c.repository === 'db')!.repositoryEvents.map((e) => e.kind)).toEqual(['back']);
  });

  it('treats a vanished repository as a warning, not a failure', async () => {
    const s = await scan([{ kind: 'error', repository: 'tmp', code: 'vanished', cause: '404' }, observed('app', { a: 1 }), complete]);
    expect(s.status).toBe('succeeded');
    expect(s.warnings).toHaveLength(1);
  });

  it('rejects an invalid observation without touching stored state', async () => {
    await scan([observed('app', { a: 1 }), complete]);
    const bad: RepositoryResult = { kind: 'observed', observation: { repository: 'app', pullReference: 'x/app', protection: { kind: 'unknown' }, tags: [{ tag: 'a', digest: 'not-a-digest', mediaType: null, pushedAt: null }] } };
    const s = await scan([bad, complete]);
    expect(s.status).toBe('partial');
    expect(s.errors[0].message).toMatch(/invalid digest/);
    expect(s.events.moved).toBe(0);
    expect((await currentTags(t.db, { targetId: 'local', repository: 'app' }))[0].digest).toBe(digest(1));
  });

  it('checks every observation that differs from the stored state, new repositories and repeated tags included', async () => {
    const tag = (name: string, d: string) => ({ tag: name, digest: d, mediaType: null, pushedAt: null });
    const repo = (name: string, tags: ReturnType<typeof tag>[]): RepositoryResult => ({
      kind: 'observed',
      observation: { repository: name, pullReference: `x/${name}`, protection: { kind: 'unknown' }, tags },
    });
    const first = await scan([repo('fresh', [tag('bad tag', digest(1))]), repo('app', [tag('a', digest(1))]), complete]);
    expect(first.errors.map((e) => [e.repository, e.message])).toEqual([['fresh', expect.stringMatching(/invalid tag name/)]]);
    expect(await currentTags(t.db, { targetId: 'local', repository: 'fresh' })).toEqual([]);

    // The same tag twice with one digest is the stored state once: no event, the scan succeeds.
    const twice = await scan([repo('app', [tag('a', digest(1)), tag('a', digest(1))]), complete]);
    expect(twice.status).toBe('succeeded');
    expect(twice.changes).toEqual([]);
    // With two digests it is refused, and the stored digest stays.
    const clash = await scan([repo('app', [tag('a', digest(1)), tag('a', digest(2))]), complete]);
    expect(clash.errors[0].message).toMatch(/listed tag "a" twice with different digests/);
    expect(clash.events.moved).toBe(0);
    expect((await currentTags(t.db, { targetId: 'local', repository: 'app' }))[0].digest).toBe(digest(1));
  });

  it('records a settings change as a repository event and re-evaluates protection per tag', async () => {
    await scan([observed('app', { 'v1': 1, latest: 1 }, { kind: 'ecr', mode: 'MUTABLE', filters: [] }), complete]);
    const s = await scan([observed('app', { 'v1': 1, latest: 1 }, { kind: 'ecr', mode: 'IMMUTABLE_WITH_EXCLUSION', filters: ['latest'] }), complete]);
    expect(s.changes[0].repositoryEvents.map((e) => e.kind)).toEqual(['settings_changed']);
    const rows = await currentTags(t.db, { targetId: 'local', repository: 'app' });
    expect(rows.map((r) => [r.tag, r.protected])).toEqual([['latest', false], ['v1', true]]);
    expect(rows[0].protectionReason).toContain('matches exclusion "latest"');
  });

  it('marks a scan left running by a dead process as aborted on the next start', async () => {
    const { ensureTarget } = await import('../../src/store/queries/targets.js');
    await ensureTarget(t.db, { id: 'local', kind: 'oci' });
    await t.db.insert(scans).values({ targetId: 'local', status: 'running', startedAt: new Date('2026-01-01') });
    await scan([observed('app', { a: 1 }), complete]);
    const rows = await t.db.select({ status: scans.status }).from(scans).orderBy(scans.id);
    expect(rows.map((r) => r.status)).toEqual(['aborted', 'succeeded']);
  });

  it('refuses to scan a target whose lock is held', async () => {
    const lock = await tryLockTarget(t.db, 'local');
    expect(lock).not.toBeNull();
    await expect(scan([complete])).rejects.toBeInstanceOf(TargetBusyError);
    await lock!.release();
    await expect(scan([complete])).resolves.toMatchObject({ status: 'succeeded' });
  });

  it('stores thousands of tags in one repository', async () => {
    const many: Record<string, number> = {};
    for (let i = 0; i < 12_000; i++) many[`t${i}`] = i;
    const s = await scan([observed('big', many), complete]);
    expect(s.events.created).toBe(12_000);
    for (let i = 0; i < 12_000; i += 2) many[`t${i}`] = i + 1;
    const s2 = await scan([observed('big', many), complete]);
    expect(s2.events.moved).toBe(6_000);
    const res = (await t.db.execute(sql`SELECT count(*)::int AS n FROM tags WHERE present`)) as unknown as { rows: Array<{ n: number }> };
    const [{ n }] = res.rows;
    expect(n).toBe(12_000);
  });
});
