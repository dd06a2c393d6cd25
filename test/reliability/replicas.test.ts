/**
 * Three `serve` replicas on one PostgreSQL database, two targets scheduled every second, tags moving
 * while they run, one webhook receiver. Every slot is taken by one replica and scanned at most once,
 * no two scans of a target ever overlap, every scan succeeds (no deadlock, no lock error), and every
 * alert is delivered exactly once. PGlite is one process by design, so this runs on PostgreSQL only
 * (CI's second run, DATABASE_URL set); test/e2e/serve-replicas.test.ts covers two replicas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freshPostgres, startedServe, type ServeProcess } from '../helpers/serve.js';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alerts.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';

const onPostgres = Boolean(process.env.DATABASE_URL);
const RUN_MS = 25_000;
const REPLICAS = 3;

describe.skipIf(!onPostgres)('three serve replicas under a one-second schedule (PostgreSQL)', () => {
  let dir: string;
  let registry: OciEmulator;
  let receiver: AlertReceiver;
  let database: { url: string; drop(): Promise<void> };
  let replicas: ServeProcess[] = [];
  let client: pg.Client;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tagledger-replicas3-'));
    registry = await startOciEmulator();
    for (const repo of ['alpha/api', 'alpha/web', 'beta/api', 'beta/job']) for (const tag of ['1.0.0', '1.1.0', 'latest']) registry.pushImage(repo, tag);
    receiver = await startAlertReceiver();
    database = await freshPostgres('tagledger_replicas3');
    client = new pg.Client({ connectionString: database.url });
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    await client?.end().catch(() => undefined);
    await registry?.close();
    await receiver?.close();
    await database?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const query = async <T>(text: string): Promise<T[]> => (await client.query(text)).rows as T[];

  it('every slot scanned at most once, no overlapping scans, no failed scan, every alert delivered once', async () => {
    const file = join(dir, 'tagledger.yaml');
    writeFileSync(
      file,
      `api:\n  listen: 127.0.0.1:0\n` +
        `targets:\n` +
        `  - id: alpha\n    kind: oci\n    url: ${registry.url}\n    repositories: ["alpha/*"]\n    schedule: "* * * * * *"\n    jitter: 0s\n` +
        `  - id: beta\n    kind: oci\n    url: ${registry.url}\n    repositories: ["beta/*"]\n    schedule: "* * * * * *"\n    jitter: 0s\n` +
        `alerts:\n  timeout: 5s\n` +
        `notifiers:\n  - id: hook\n    kind: webhook\n    url: ${receiver.url}\n`,
    );
    replicas = await Promise.all(Array.from({ length: REPLICAS }, () => startedServe(file, { DATABASE_URL: database.url }, ['--alert-poll', '1s'])));
    await client.connect();

    // Release tags are re-pushed while the replicas run: each move is a finding and an alert.
    const end = Date.now() + RUN_MS;
    let moves = 0;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 3_000));
      const repo = ['alpha/api', 'alpha/web', 'beta/api', 'beta/job'][moves % 4];
      registry.moveTag(repo, moves % 2 ? '1.1.0' : '1.0.0');
      moves++;
    }
    // Let the last moves be scanned and every alert delivered, then stop all replicas.
    const settled = Date.now() + 20_000;
    for (;;) {
      const [m] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM tag_events WHERE kind = 'moved'`);
      const [a] = await query<{ pending: number }>(`SELECT count(*) FILTER (WHERE status <> 'delivered')::int AS pending FROM alerts`);
      if (m.n === moves && a.pending === 0) break;
      if (Date.now() > settled) throw new Error(`not settled: ${m.n} of ${moves} moves recorded, ${a.pending} alert(s) pending`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const codes = await Promise.all(replicas.map((r) => r.stop('SIGTERM')));
    expect(codes).toEqual(Array(REPLICAS).fill(0));

    // One scan per slot at most, and every scan belongs to a slot one replica won.
    const slots = await query<{ target_id: string; slot: Date; scan_id: string | null; claimed_by: string }>('SELECT target_id, slot, scan_id, claimed_by FROM schedule_slots');
    const scans = await query<{ id: string; target_id: string; status: string; started_at: Date; finished_at: Date | null; runner: string }>(
      'SELECT id, target_id, status, started_at, finished_at, runner FROM scans ORDER BY target_id, started_at',
    );
    const slotScans = slots.map((s) => s.scan_id).filter((id): id is string => id !== null);
    expect(new Set(slotScans).size).toBe(slotScans.length);
    expect([...slotScans].sort()).toEqual(scans.map((s) => s.id).sort());
    for (const target of ['alpha', 'beta']) expect(slots.filter((s) => s.target_id === target).length).toBeGreaterThanOrEqual(RUN_MS / 1000 / 2);
    // Several replicas took part.
    expect(new Set(scans.map((s) => s.runner)).size).toBeGreaterThanOrEqual(2);

    // No two scans of one target overlap in time; none failed (a deadlock or a lock error would).
    for (const target of ['alpha', 'beta']) {
      const own = scans.filter((s) => s.target_id === target);
      for (let i = 1; i < own.length; i++) expect(own[i].started_at.getTime()).toBeGreaterThanOrEqual(own[i - 1].finished_at!.getTime());
    }
    expect(scans.filter((s) => !['succeeded', 'aborted'].includes(s.status))).toEqual([]);
    const problems = replicas.flatMap((r) => r.logs.filter((l) => (l.level as number) >= 50 || /deadlock/i.test(JSON.stringify(l))));
    expect(problems).toEqual([]);

    // Every move recorded once; every alert delivered exactly once.
    const moved = await query<{ n: number }>(`SELECT count(*)::int AS n FROM tag_events WHERE kind = 'moved' GROUP BY repository_id, tag, digest HAVING count(*) > 1`);
    expect(moved).toEqual([]);
    const alerts = await query<{ delivery_id: string; status: string }>('SELECT delivery_id, status FROM alerts');
    const ids = receiver.deliveries.map((d) => String(d.headers['x-tagledger-delivery']));
    expect(alerts.length).toBeGreaterThanOrEqual(moves);
    expect(alerts.every((a) => a.status === 'delivered')).toBe(true);
    expect(ids).toHaveLength(new Set(ids).size);
    expect(new Set(ids)).toEqual(new Set(alerts.map((a) => a.delivery_id)));
  });
});
