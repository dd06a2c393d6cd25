/**
 * `kill -9` in the middle of `tagledger scan`, then the same command again: the interrupted scan is
 * marked aborted, no repository is half-written, and the ledger ends up exactly as one uninterrupted
 * scan leaves it, with every hash chain intact.
 *
 * On PostgreSQL the kill lands inside a repository's transaction for certain: the test locks
 * `repository_snapshots` (the last table a repository's transaction writes), waits until the CLI's
 * transaction is blocked on it with the rest of the repository written, and kills then. On PGlite
 * (one process at a time) it kills while repositories are being read and stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { eq } from 'drizzle-orm';
import type { TargetConfig } from '../../src/config/schema.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { tagMapHash } from '../../src/audit/diff.js';
import { repositories, repositorySnapshots, scans, tagEvents, tags } from '../../src/store/schema/index.js';
import { runCli, startCli } from '../helpers/cli.js';
import { onPostgres, openTestDatabase, type TestDatabase } from '../helpers/db.js';

const REPOS = ['team/r0', 'team/r1', 'team/r2', 'team/r3', 'team/r4', 'team/r5'];
const TAGS_PER_REPO = 20;

let registry: OciEmulator;
let dir: string;
/** PostgreSQL only: the database the CLI writes (on PGlite the CLI's directory is opened after it exits). */
let ledger: TestDatabase | null = null;
let reference: TestDatabase;

beforeAll(async () => {
  registry = await startOciEmulator();
  for (const repo of REPOS) for (let t = 0; t < TAGS_PER_REPO; t++) registry.pushImage(repo, `1.0.${t}`);
  dir = mkdtempSync(join(tmpdir(), 'tagledger-crash-'));
  if (onPostgres) ledger = await openTestDatabase();
  reference = await openTestDatabase();
});
afterAll(async () => {
  await registry?.close();
  await ledger?.close();
  await reference?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every stored repository is whole: it has a snapshot, and its present tags are exactly the snapshot's map. */
async function assertNoHalfWrittenRepository(db: Database): Promise<void> {
  for (const repo of await db.select().from(repositories)) {
    const snaps = await db.select().from(repositorySnapshots).where(eq(repositorySnapshots.repositoryId, repo.id)).orderBy(repositorySnapshots.scanId);
    expect(snaps.length, `${repo.name} has no snapshot: half-written`).toBeGreaterThan(0);
    const present = (await db.select().from(tags).where(eq(tags.repositoryId, repo.id))).filter((t) => t.present);
    const last = snaps.at(-1)!;
    expect(present.length, repo.name).toBe(last.tagCount);
    expect(tagMapHash(present.map((t) => ({ tag: t.name, digest: t.digest })))).toBe(last.tagsHash);
    const created = await db.select().from(tagEvents).where(eq(tagEvents.repositoryId, repo.id));
    expect(created.length, `${repo.name}: one event per tag`).toBe(present.length);
  }
}

describe('kill -9 during a scan, then the scan again', () => {
  it('marks the interrupted scan aborted, keeps whole repositories only, and converges on the uninterrupted result', async () => {
    const pglite = join(dir, 'pglite');
    const config = join(dir, 'tagledger.yaml');
    writeFileSync(
      config,
      `${onPostgres ? '' : `database:\n  path: ${JSON.stringify(pglite)}\n`}targets:\n  - id: local\n    kind: oci\n    url: ${registry.url}\n    concurrency: 2\n`,
    );
    const env = { DATABASE_URL: ledger?.url ?? '' };
    // The first two repositories come at once, the rest only after a while: the kill finds some
    // repositories stored and others not.
    registry.faults.add({ match: /^GET \/v2\/team\/r[2-5]\/tags\/list/, delayMs: 2_000 });

    const first = startCli(['--config', config, 'scan', '--json', '--no-deliver'], { env });
    let exited = false;
    void first.done.then(() => (exited = true));
    if (onPostgres) {
      const admin = new pg.Client({ connectionString: ledger!.url! });
      await admin.connect();
      try {
        await until('two repositories stored', async () => exited || (await admin.query('SELECT count(*)::int AS n FROM repository_snapshots')).rows[0].n >= 2);
        await admin.query('BEGIN');
        await admin.query('LOCK TABLE repository_snapshots IN EXCLUSIVE MODE');
        // The next repository's transaction writes its repository row, tags and events, and waits on
        // the lock (at its snapshot insert, or at commit).
        await until(
          "the next repository's transaction to wait on the lock",
          async () =>
            exited ||
            (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'`)).rows[0].n > 0,
        ).catch(async (err: Error) => {
          const activity = await admin.query(`SELECT pid, state, wait_event_type, wait_event, left(query, 160) AS query FROM pg_stat_activity WHERE datname = current_database()`);
          throw new Error(`${err.message}; activity: ${JSON.stringify(activity.rows)}`);
        });
        expect(exited, 'the scan ended before it could be killed').toBe(false);
        // It has written tag rows and tag events already: the kill lands in the middle of a repository.
        const written = await admin.query(
          `SELECT DISTINCT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
           WHERE l.granted AND l.mode = 'RowExclusiveLock' AND l.pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock')`,
        );
        expect(written.rows.map((r: { relname: string }) => r.relname)).toEqual(expect.arrayContaining(['repositories', 'tags', 'tag_events']));
        first.child.kill('SIGKILL');
        await first.done;
        await admin.query('ROLLBACK');
      } finally {
        await admin.end();
      }
    } else {
      await until('two repositories read', () => exited || REPOS.slice(0, 2).every((r) => registry.faults.requests.filter((q) => q.startsWith(`HEAD /v2/${r}/manifests/`)).length >= TAGS_PER_REPO));
      await until('the slow repositories asked for', () => exited || registry.faults.requests.some((q) => q.startsWith('GET /v2/team/r2/tags/list')));
      expect(exited, 'the scan ended before it could be killed').toBe(false);
      first.child.kill('SIGKILL');
    }
    const killed = await first.done;
    expect(killed.code).toBeNull();
    registry.faults.clear();

    // Between the kill and the restart: whatever was stored is whole.
    if (ledger) {
      await assertNoHalfWrittenRepository(ledger.db);
      const stored = await ledger.db.select().from(repositories);
      expect(stored.map((r) => r.name).sort()).toEqual(['team/r0', 'team/r1']);
      expect((await ledger.db.select().from(scans)).map((s) => s.status)).toEqual(['running']);
    }

    const again = await runCli(['--config', config, 'scan', '--json', '--no-deliver'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).scans[0]).toMatchObject({ status: 'succeeded', errors: [] });

    const verify = await runCli(['--config', config, 'verify', '--json'], { env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ intact: true, repositories: REPOS.length });

    // The uninterrupted run, for comparison: one scan of the same registry into a fresh database.
    const logger = pino({ level: 'silent' });
    const target = { id: 'local', kind: 'oci', url: registry.url, insecureSkipTlsVerify: false } as TargetConfig;
    expect((await runScan(reference.db, target, { logger })).status).toBe('succeeded');

    let db = ledger?.db as Database;
    let close = async () => {};
    if (!ledger) {
      const open = await openDatabase({ kind: 'pglite', path: pglite });
      db = open.db;
      close = open.close;
    }
    try {
      const rows = await db.select().from(scans).orderBy(scans.id);
      expect(rows.map((s) => s.status)).toEqual(['aborted', 'succeeded']);
      expect(rows[0].errors).toEqual([{ repository: null, code: 'failed', message: 'the process running this scan stopped before it finished' }]);
      await assertNoHalfWrittenRepository(db);
      for (const repo of REPOS) {
        const shape = (r: Awaited<ReturnType<typeof currentTags>>) => r.map((t) => [t.tag, t.digest, t.present, t.protected, t.protectionReason, t.mediaType]);
        expect(shape(await currentTags(db, { targetId: 'local', repository: repo })), repo).toEqual(shape(await currentTags(reference.db, { targetId: 'local', repository: repo })));
      }
      const events = await db.select({ kind: tagEvents.kind }).from(tagEvents);
      expect(events).toHaveLength(REPOS.length * TAGS_PER_REPO);
      expect(events.every((e) => e.kind === 'created')).toBe(true);
    } finally {
      await close();
    }
  });
});
