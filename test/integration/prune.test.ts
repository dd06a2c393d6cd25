import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { eq, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { runScan } from '../../src/scheduler/run-scan.js';
import { pruneOlderThan } from '../../src/store/queries/prune.js';
import { claimSlot } from '../../src/store/queries/slots.js';
import { tagHistory } from '../../src/store/queries/history.js';
import { verifyLedger } from '../../src/store/queries/chain.js';
import { alerts, deliveryAttempts, findings, repositories, repositoryEvents, repositorySnapshots, scans, scheduleSlots, tagEvents } from '../../src/store/schema/index.js';
import type { TargetConfig } from '../../src/config/schema.js';
import type { RepositoryResult } from '../../src/collectors/types.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { complete, incomplete, observed, scriptedCollector } from '../helpers/scripted-collector.js';

const logger = pino({ level: 'silent' });
const target = { id: 'local', kind: 'oci', url: 'http://127.0.0.1:1', insecureSkipTlsVerify: false } as TargetConfig;
const NOW = Date.parse('2026-06-30T00:00:00Z');
const daysAgo = (d: number) => new Date(NOW - d * 86_400_000);
const cutoff = daysAgo(90);

let t: TestDatabase;
const ids: Record<string, number> = {};

async function scanAt(day: number, results: RepositoryResult[]) {
  let tick = daysAgo(day).getTime();
  const s = await runScan(t.db, target, { logger, collector: scriptedCollector('local', results), now: () => new Date((tick += 1000)) });
  return s.scanId;
}

async function insertAlert(p: { status: string; createdDay: number; attemptDays: number[]; delivered?: boolean }) {
  const created = daysAgo(p.createdDay);
  const last = p.attemptDays.length ? daysAgo(Math.min(...p.attemptDays)) : null;
  const [row] = await t.db
    .insert(alerts)
    .values({
      deliveryId: `d-${Math.random()}`,
      notifierId: 'hook',
      payload: {},
      status: p.status,
      attempts: p.attemptDays.length,
      nextAttemptAt: p.status === 'retrying' ? daysAgo(0) : null,
      createdAt: created,
      queuedAt: created,
      lastAttemptAt: last,
      deliveredAt: p.delivered ? last : null,
    })
    .returning({ id: alerts.id });
  for (const [i, d] of p.attemptDays.entries()) {
    await t.db.insert(deliveryAttempts).values({ alertId: row.id, attempt: i + 1, startedAt: daysAgo(d), durationMs: 5, result: p.delivered ? 'delivered' : 'retry' });
  }
  return row.id;
}

const count = async (table: PgTable) =>
  Number((await t.db.select({ n: sql<number>`count(*)::int` }).from(table))[0].n);

beforeAll(async () => {
  t = await openTestDatabase();
  ids.failedOld = await scanAt(120, [{ kind: 'error', repository: null, code: 'failed', cause: 'registry down' }, incomplete]);
  ids.first = await scanAt(100, [observed('app', { latest: 1, '1.0.0': 2 }), observed('old', { stable: 5 }), complete]);
  ids.unchanged = await scanAt(99, [observed('app', { latest: 1, '1.0.0': 2 }), observed('old', { stable: 5 }), complete]);
  ids.moved = await scanAt(98, [observed('app', { latest: 3, '1.0.0': 2 }), observed('old', { stable: 5 }), complete]);
  // Recent: `old` not observed (incomplete listing: not gone), so its latest snapshot stays the old one.
  ids.recent = await scanAt(1, [observed('app', { latest: 3, '1.0.0': 2 }), incomplete]);

  ids.deliveredOld = await insertAlert({ status: 'delivered', createdDay: 100, attemptDays: [100], delivered: true });
  ids.retryingOld = await insertAlert({ status: 'retrying', createdDay: 100, attemptDays: [100, 95] });
  ids.deliveredRecent = await insertAlert({ status: 'delivered', createdDay: 5, attemptDays: [5], delivered: true });
  for (const d of [100, 1]) await claimSlot(t.db, { targetId: 'local', slot: daysAgo(d), claimedBy: 'test', now: daysAgo(d) });
});

afterAll(async () => {
  await t?.close();
});

describe('prune', () => {
  it('deletes old snapshots, attempts, finished alerts and slots; keeps scans, events and findings (the ledger still verifies)', async () => {
    const eventsBefore = await count(tagEvents);
    const repositoryEventsBefore = await count(repositoryEvents);
    const scansBefore = await count(scans);
    const findingsBefore = await count(findings);
    expect(findingsBefore).toBeGreaterThan(0);
    expect(await count(repositorySnapshots)).toBe(7);
    expect((await verifyLedger(t.db)).breaks).toEqual([]);

    const stats = await pruneOlderThan(t.db, { cutoff, batchSize: 1 });

    // app: snapshots of the three old scans go (the recent one stays); old: two go, its latest stays.
    expect(stats.snapshots).toBe(5);
    const snaps = await t.db.select({ repo: repositories.name, scanId: repositorySnapshots.scanId }).from(repositorySnapshots).innerJoin(repositories, eq(repositories.id, repositorySnapshots.repositoryId));
    expect(snaps.map((s) => `${s.repo}@${s.scanId}`).sort()).toEqual([`app@${ids.recent}`, `old@${ids.moved}`].sort());

    expect(stats.deliveryAttempts).toBe(3);
    expect((await t.db.select({ id: deliveryAttempts.alertId }).from(deliveryAttempts)).map((r) => r.id)).toEqual([ids.deliveredRecent]);
    // The old delivered alert goes; the one still retrying stays although its attempts are old.
    expect(stats.alerts).toBe(1);
    expect((await t.db.select({ id: alerts.id }).from(alerts)).map((r) => r.id).sort((a, b) => a - b)).toEqual([ids.retryingOld, ids.deliveredRecent]);

    expect(stats.slots).toBe(1);
    expect((await t.db.select().from(scheduleSlots)).map((s) => s.slot.toISOString())).toEqual([daysAgo(1).toISOString()]);

    // The ledger is untouched and still verifies: every scan (their roots link), every event.
    expect(await count(scans)).toBe(scansBefore);
    expect(await count(tagEvents)).toBe(eventsBefore);
    expect(await count(repositoryEvents)).toBe(repositoryEventsBefore);
    expect(await count(findings)).toBe(findingsBefore);
    expect(stats.findings).toBe(0);
    expect((await verifyLedger(t.db)).breaks).toEqual([]);

    // Idempotent.
    const again = await pruneOlderThan(t.db, { cutoff });
    expect(Object.values(again).every((n) => n === 0)).toBe(true);
  });

  it('with closed findings: resolved and waived ones go with their alerts; open ones and every event stay', async () => {
    const [open] = await t.db.select().from(findings).where(eq(findings.status, 'open')).limit(1);
    const closed = await t.db
      .update(findings)
      .set({ status: 'resolved', statusChangedAt: daysAgo(97), statusBy: 'test', lastSeenAt: daysAgo(97) })
      .where(sql`${findings.id} <> ${open.id}`)
      .returning({ id: findings.id });
    expect(closed.length).toBeGreaterThan(0);
    // An alert of a closed finding, delivered recently, goes with it.
    const [a] = await t.db
      .insert(alerts)
      .values({ deliveryId: 'x', notifierId: 'hook', findingId: closed[0].id, payload: {}, status: 'delivered', createdAt: daysAgo(2), queuedAt: daysAgo(2), deliveredAt: daysAgo(2) })
      .returning({ id: alerts.id });
    await t.db.insert(deliveryAttempts).values({ alertId: a.id, attempt: 1, startedAt: daysAgo(2), durationMs: 1, result: 'delivered' });
    const eventsBefore = await count(tagEvents);

    const stats = await pruneOlderThan(t.db, { cutoff, closedFindings: true, batchSize: 2 });
    expect(stats.findings).toBe(closed.length);
    const remaining = await t.db.select({ id: findings.id, status: findings.status }).from(findings);
    expect(remaining).toEqual([{ id: open.id, status: 'open' }]);
    expect((await t.db.select().from(alerts).where(eq(alerts.id, a.id))).length).toBe(0);
    expect(await count(tagEvents)).toBe(eventsBefore);
    expect((await tagHistory(t.db, { targetId: 'local', repository: 'app', tag: 'latest' })).map((e) => e.kind)).toEqual(['created', 'moved']);
    expect((await verifyLedger(t.db)).breaks).toEqual([]);
  });
});
