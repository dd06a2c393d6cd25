import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freshPostgres, startedServe, type ServeProcess } from '../helpers/serve.js';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alerts.js';
import { parsePrometheusText } from '../helpers/prometheus.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';

/**
 * Two `serve` replicas on one PostgreSQL, the same target every 2 seconds, one webhook receiver.
 * PGlite is a single-process database (its directory is locked by one process), so replicas — and
 * this test — need PostgreSQL: it runs when DATABASE_URL is set, as in CI's second run.
 */
const onPostgres = Boolean(process.env.DATABASE_URL);

describe('two serve replicas sharing PostgreSQL', () => {
  let dir: string;
  let registry: OciEmulator;
  let receiver: AlertReceiver;
  let database: { url: string; drop(): Promise<void> };
  let replicas: ServeProcess[] = [];
  let client: pg.Client;

  beforeAll(async () => {
    if (!onPostgres) return;
    dir = mkdtempSync(join(tmpdir(), 'tagledger-replicas-'));
    registry = await startOciEmulator();
    registry.pushImage('shop/api', 'latest');
    registry.pushImage('shop/api', '1.0.0');
    registry.pushImage('shop/web', '2.1.0');
    receiver = await startAlertReceiver();
    database = await freshPostgres('tagledger_replicas');
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
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) => {
    const end = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  it.skipIf(!onPostgres)('scan each slot exactly once and deliver each alert once (needs PostgreSQL: set DATABASE_URL)', async () => {
    const file = join(dir, 'tagledger.yaml');
    writeFileSync(
      file,
      `api:\n  listen: 127.0.0.1:0\n` +
        `targets:\n  - id: reg\n    kind: oci\n    url: ${registry.url}\n    schedule: "*/2 * * * * *"\n    jitter: 0s\n` +
        `notifiers:\n  - id: hook\n    kind: webhook\n    url: ${receiver.url}\n`,
    );
    replicas = await Promise.all([0, 1].map(() => startedServe(file, { DATABASE_URL: database.url }, ['--alert-poll', '1s'])));
    await client.connect();

    // The baseline, then a moved release tag (a finding that alerts), then a few quiet slots.
    await until('a first finished scan', async () => (await query('SELECT 1 FROM scans WHERE status = $$succeeded$$')).length > 0);
    registry.moveTag('shop/api', '1.0.0');
    await until('the move to be recorded', async () => (await query(`SELECT 1 FROM tag_events WHERE kind = 'moved'`)).length > 0);
    await until('two more scans', async () => (await query(`SELECT 1 FROM scans s WHERE s.id > (SELECT scan_id FROM tag_events WHERE kind = 'moved')`)).length >= 2);
    await until('every alert delivered', async () => {
      const [r] = await query<{ pending: number; total: number }>(`SELECT count(*) FILTER (WHERE status <> 'delivered')::int AS pending, count(*)::int AS total FROM alerts`);
      return r.total > 0 && r.pending === 0;
    });

    const metrics = await Promise.all(replicas.map(async (r) => parsePrometheusText(await (await fetch(`${r.url()}/metrics`)).text())));
    const codes = await Promise.all(replicas.map((r) => r.stop('SIGTERM')));
    expect(codes).toEqual([0, 0]);

    // Exactly one scan per slot: every scan belongs to one won slot, no slot has two scans.
    const scans = await query<{ id: string; status: string }>('SELECT id, status FROM scans ORDER BY id');
    const slots = await query<{ slot: Date; scan_id: string | null; claimed_by: string }>(`SELECT slot, scan_id, claimed_by FROM schedule_slots WHERE target_id = 'reg'`);
    const slotScans = slots.map((s) => s.scan_id).filter((id): id is string => id !== null);
    expect(new Set(slotScans).size).toBe(slotScans.length);
    expect([...slotScans].sort()).toEqual(scans.map((s) => s.id).sort());
    expect(scans.length).toBeGreaterThanOrEqual(4);
    expect(scans.every((s) => ['succeeded', 'aborted'].includes(s.status))).toBe(true);
    // Both replicas took part: their logs show the slots they started and the ones they lost.
    const started = replicas.map((r) => r.logs.filter((l) => l.msg === 'scan started').map((l) => String(l.slot)));
    const lost = replicas.map((r) => r.logs.filter((l) => l.reason === 'not_elected').map((l) => String(l.slot)));
    const allStarted = started.flat();
    expect(new Set(allStarted).size).toBe(allStarted.length);
    expect(allStarted.length).toBe(scans.length);
    expect(lost.flat().length).toBeGreaterThan(0);
    for (const slot of lost.flat()) expect(allStarted).toContain(slot); // a lost slot was scanned by the other
    expect(new Set(slots.map((s) => s.claimed_by)).size).toBeGreaterThanOrEqual(1);
    // Their metrics agree with the database.
    const sum = (name: string, labels: Record<string, string> = {}) =>
      metrics.flatMap((m) => m.samples).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
    expect(sum('tagledger_skipped_ticks_total', { reason: 'not_elected' })).toBeGreaterThan(0);
    expect(sum('tagledger_scans_total')).toBeLessThanOrEqual(scans.length);
    expect(sum('tagledger_scans_total')).toBeGreaterThanOrEqual(scans.length - 2); // scans still running at scrape time

    // Each alert delivered exactly once: as many requests as distinct delivery ids as alerts.
    const alerts = await query<{ delivery_id: string; status: string }>('SELECT delivery_id, status FROM alerts');
    const ids = receiver.deliveries.map((d) => String(d.headers['x-tagledger-delivery']));
    expect(alerts.length).toBeGreaterThan(1);
    expect(ids.length).toBe(new Set(ids).size);
    expect(new Set(ids)).toEqual(new Set(alerts.map((a) => a.delivery_id)));
    expect(receiver.deliveries.some((d) => (d.json() as { type: string }).type === 'tag.moved')).toBe(true);
    const attempts = await query<{ n: number }>('SELECT count(*)::int AS n FROM delivery_attempts GROUP BY alert_id');
    expect(attempts.every((a) => a.n === 1)).toBe(true);
  });
});
