/**
 * PostgreSQL restarted under a running scan, and under `serve`, on a private cluster (see
 * private-postgres.ts): never the shared server. Without initdb on a developer machine the tests say
 * so and are skipped; with CI=true a missing initdb is a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import type { TargetConfig } from '../../src/config/schema.js';
import { createOciCollector } from '../../src/collectors/oci/index.js';
import type { OciTargetConfig } from '../../src/collectors/oci/config.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { runScan, type ScanSummary } from '../../src/scheduler/run-scan.js';
import { openDatabase, type OpenDatabase } from '../../src/store/db.js';
import { verifyLedger } from '../../src/store/queries/chain.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { startedServe, type ServeProcess } from '../helpers/serve.js';
import { postgresBinaries, startPrivateCluster, type PrivateCluster } from './private-postgres.js';

const bindir = postgresBinaries();
if (!bindir && process.env.CI === 'true') throw new Error('initdb and pg_ctl are required with CI=true (install PostgreSQL 15: pg_config --bindir)');
const skip = !bindir;
if (skip) console.warn('postgres-restart: PostgreSQL binaries not found (pg_config --bindir); these tests are skipped');

let cluster: PrivateCluster;
let dir: string;
beforeAll(async () => {
  if (skip) return;
  cluster = await startPrivateCluster(bindir!);
  dir = mkdtempSync(join(tmpdir(), 'tagledger-pg-restart-'));
});
afterAll(() => {
  cluster?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function createDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return cluster.url.replace(/\/postgres$/, `/${name}`);
}

async function rows<T>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 45_000, alive?: ServeProcess): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (alive && alive.child.exitCode !== null) {
      throw new Error(`serve exited (${alive.child.exitCode}) while waiting for ${what}:\n${alive.other.slice(-20).join('\n')}`);
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(skip)('PostgreSQL restarted during a scan', () => {
  let registry: OciEmulator;
  let database: OpenDatabase;
  let url: string;

  beforeAll(async () => {
    registry = await startOciEmulator();
    for (let r = 0; r < 6; r++) for (let t = 0; t < 10; t++) registry.pushImage(`team/r${r}`, `v1.${t}`);
    url = await createDatabase('scan_restart');
    database = await openDatabase({ kind: 'postgres', url });
  });
  afterAll(async () => {
    await database?.close();
    await registry?.close();
  });

  it('fails cleanly or stores whole repositories, records no duplicate event, and the next scan settles', async () => {
    const logger = pino({ level: 'silent' });
    const target: OciTargetConfig = { id: 'reg', kind: 'oci', url: registry.url, concurrency: 2, insecureSkipTlsVerify: false };
    const scan = () =>
      runScan(database.db, target as TargetConfig, { logger, collector: createOciCollector(target, { logger }, { retryPolicy: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 } }) });

    expect((await scan()).status).toBe('succeeded');
    const moved = [registry.moveTag('team/r0', 'v1.0'), registry.moveTag('team/r5', 'v1.9')];

    // When r3's tags are asked for, PostgreSQL goes down and comes back while r3's answer is pending.
    let restarted: Promise<void> | null = null;
    registry.faults.add({
      match: (req) => {
        if (!restarted && req.url?.startsWith('/v2/team/r3/tags/list')) restarted = cluster.stop('fast').then(() => cluster.start());
        return false;
      },
    });
    registry.faults.add({ match: /^GET \/v2\/team\/r3\/tags\/list/, delayMs: 6_000 });
    let outcome: ScanSummary | Error;
    try {
      outcome = await scan();
    } catch (err) {
      outcome = err as Error;
    }
    expect(restarted, 'the restart happened during the scan').not.toBeNull();
    await restarted;
    registry.faults.clear();
    // Failing cleanly: the scan loses its target lock with the connection and stops; it is recorded
    // as failed, saying why, or, when the database is still down at its end, the error says what was
    // kept. Never a crash of the process, never "succeeded".
    if (outcome instanceof Error) {
      expect(outcome.message).toMatch(/^could not record the end of scan \d+ of target "reg" \(.+\); the repositories stored before stay stored, and the target's next scan marks this one aborted$/);
    } else {
      expect(outcome.status).toBe('failed');
      expect(outcome.errors).toContainEqual({ repository: null, code: 'failed', message: expect.stringMatching(/^the lock on target "reg" was lost with its database connection/) });
    }

    // The database is back: the next scan records what is left, and nothing twice.
    const next = await scan();
    expect(next.status).toBe('succeeded');
    const after = await scan();
    expect(after.events).toEqual({ created: 0, moved: 0, deleted: 0, restored: 0 });

    const events = await rows<{ name: string; tag: string; kind: string; n: number }>(
      url,
      `SELECT r.name, e.tag, e.kind, count(*)::int AS n FROM tag_events e JOIN repositories r ON r.id = e.repository_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    );
    expect(events.filter((e) => e.n !== 1)).toEqual([]);
    expect(events.filter((e) => e.kind !== 'created').map((e) => `${e.kind} ${e.name}:${e.tag}`)).toEqual(['moved team/r0:v1.0', 'moved team/r5:v1.9']);
    expect(events).toHaveLength(60 + 2);
    for (const m of moved) {
      const tags = await currentTags(database.db, { targetId: 'reg', repository: m.repository });
      expect(tags.find((t) => t.tag === m.tag)?.digest).toBe(m.digest);
    }
    // No scan is left running, and the ledger's chains are intact.
    const statuses = await rows<{ status: string }>(url, `SELECT status FROM scans ORDER BY id`);
    expect(statuses.map((s) => s.status)).not.toContain('running');
    expect((await verifyLedger(database.db)).breaks).toEqual([]);
  });
});

describe.skipIf(skip)('serve across a PostgreSQL restart', () => {
  let registry: OciEmulator;
  let serve: ServeProcess | undefined;

  beforeAll(async () => {
    registry = await startOciEmulator();
    registry.pushImage('shop/api', 'latest');
    registry.pushImage('shop/api', '1.0.0');
    // Slow tag lists: a scan is nearly always in flight, holding its lock connection, when the
    // database goes away.
    registry.faults.add({ match: /tags\/list/, delayMs: 1_500 });
  });
  afterAll(async () => {
    await serve?.stop('SIGKILL');
    await registry?.close();
  });

  it('reports not ready while the database is down, recovers by itself, and keeps scanning', async () => {
    const url = await createDatabase('serve_restart');
    const file = join(dir, 'serve.yaml');
    writeFileSync(file, `api:\n  listen: 127.0.0.1:0\ntargets:\n  - id: reg\n    kind: oci\n    url: ${registry.url}\n    schedule: "*/2 * * * * *"\n    jitter: 0s\n`);
    serve = await startedServe(file, { DATABASE_URL: url });
    const readyz = async () => (await fetch(`${serve!.url()}/readyz`, { signal: AbortSignal.timeout(10_000) })).status;
    const succeeded = async () => (await rows<{ n: number }>(url, `SELECT count(*)::int AS n FROM scans WHERE status = 'succeeded'`))[0].n;

    await until('a first scan', async () => (await succeeded()) > 0);
    expect(await readyz()).toBe(200);

    // Stop the database while a scan holds its target lock (its tag list takes 1.5 s to answer).
    const started = serve.logs.filter((l) => l.msg === 'scan started').length;
    await until('the next scan to start', async () => serve!.logs.filter((l) => l.msg === 'scan started').length > started);
    await cluster.stop('fast');
    await until('/readyz to report the outage', async () => (await readyz()) === 503, 45_000, serve);
    const body = (await (await fetch(`${serve.url()}/readyz`)).json()) as { status: string; reason: string };
    expect(body).toEqual({ status: 'not ready', reason: 'database unreachable or not migrated' });
    // Ticks keep coming while the database is down; serve stays up.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(serve.child.exitCode).toBeNull();

    await cluster.start();
    await until('/readyz to recover', async () => (await readyz()) === 200, 45_000, serve);
    const before = await succeeded();
    await until('scans to succeed again', async () => (await succeeded()) >= before + 2, 45_000, serve);
    expect(serve.child.exitCode).toBeNull();

    // The scan in flight lost its lock with the connection and said so.
    expect(serve.logs.some((l) => l.msg === 'scan stopped: the target lock was lost' || l.msg === 'could not record the end of the scan')).toBe(true);
    const code = await serve.stop('SIGTERM');
    expect(code, `serve's last log lines:\n${serve.logs.slice(-20).map((l) => JSON.stringify(l)).join('\n')}`).toBe(0);
    // Only scans interrupted by the outage may have failed; none is left running.
    const statuses = await rows<{ status: string }>(url, `SELECT status FROM scans ORDER BY id`);
    expect(statuses.map((s) => s.status)).not.toContain('running');
    const crashes = serve.other.filter((l) => /uncaught|unhandled|TypeError|at .*\.js:\d+/i.test(l));
    expect(crashes).toEqual([]);
  });
});
