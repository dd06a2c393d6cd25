/**
 * The alert outbox against a webhook receiver that is slow, down, answering 500, 429 with
 * Retry-After, 200 after the timeout, resetting, or never answering. In every case each alert ends
 * delivered or failed per the policy (maxAttempts), none is silently dropped, and what the receiver
 * saw agrees with the attempts the database recorded.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { eq, inArray } from 'drizzle-orm';
import { runScan } from '../../src/scheduler/run-scan.js';
import { deliverDueAlerts, type DispatchSettings } from '../../src/alerts/dispatcher.js';
import { alertingContext } from '../../src/alerts/evaluate.js';
import { createNotifier, type NotifierConfig } from '../../src/notifiers/index.js';
import { alerts, deliveryAttempts } from '../../src/store/schema/index.js';
import type { TargetConfig } from '../../src/config/schema.js';
import type { RepositoryResult } from '../../src/collectors/types.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { complete, observed, scriptedCollector } from '../helpers/scripted-collector.js';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alerts.js';
import { startReceiver } from '../helpers/receiver.js';

const logger = pino({ level: 'silent' });
const policy: DispatchSettings = { maxAttempts: 4, maxAgeMs: 120_000, backoffInitialMs: 20, backoffMaxMs: 60, timeoutMs: 1_000 };

// One database for the file; each test scans a target of its own into an empty outbox.
let t: TestDatabase;
let target: TargetConfig;
let n = 0;
beforeAll(async () => {
  t = await openTestDatabase();
});
afterAll(async () => {
  await t?.close();
});
beforeEach(async () => {
  target = { id: `prod-${++n}`, kind: 'oci', url: 'http://127.0.0.1:1', insecureSkipTlsVerify: false } as TargetConfig;
  await t.db.delete(deliveryAttempts);
  await t.db.delete(alerts);
});

function webhook(url: string): NotifierConfig {
  return { id: 'ops', kind: 'webhook', url, secret: 'hook-secret', batch: false, insecureSkipTlsVerify: false } as NotifierConfig;
}

/** A baseline and a scan moving five release tags: findings of several types, each an outbox row. */
async function queueAlerts(notifier: NotifierConfig): Promise<number> {
  const scan = (results: RepositoryResult[]) => runScan(t.db, target, { logger, collector: scriptedCollector(target.id, results), alerting: alertingContext({ notifiers: [notifier] }) });
  await scan([observed('payments/api', { '1.0.0': 1, '1.0.1': 1, '1.0.2': 1 }), observed('payments/web', { '2.0.0': 1, '2.1.0': 1 }), complete]);
  await scan([observed('payments/api', { '1.0.0': 2, '1.0.1': 2, '1.0.2': 2 }), observed('payments/web', { '2.0.0': 2, '2.1.0': 2 }), complete]);
  const rows = await t.db.select().from(alerts);
  expect(rows.length).toBeGreaterThanOrEqual(5);
  return rows.length;
}

/** Delivery rounds, as `serve` runs them, until no alert is waiting any more (bounded). */
async function deliverUntilSettled(notifier: NotifierConfig, settings = policy, now?: () => Date, boundMs = 30_000): Promise<void> {
  const notifiers = new Map([[notifier.id, createNotifier(notifier, { timeoutMs: settings.timeoutMs })]]);
  const end = Date.now() + boundMs;
  for (;;) {
    await deliverDueAlerts(t.db, notifiers, settings, { logger, now });
    const waiting = await t.db.select().from(alerts).where(inArray(alerts.status, ['created', 'retrying']));
    if (!waiting.length) return;
    if (Date.now() > end) throw new Error(`${waiting.length} alert(s) still waiting after ${boundMs} ms: delivery is not bounded`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Outcome {
  delivered: number;
  failed: number;
  /** Requests the receiver got, per delivery id. */
  received: Map<string, number>;
}

/** The bookkeeping every scenario must satisfy; returns the counts for the scenario's own checks. */
async function account(total: number, requests: Array<{ headers: Record<string, string | string[] | undefined> }>): Promise<Outcome> {
  const rows = await t.db.select().from(alerts);
  expect(rows).toHaveLength(total);
  const delivered = rows.filter((r) => r.status === 'delivered').length;
  const failed = rows.filter((r) => r.status === 'failed').length;
  // None silently dropped: every row ended delivered or failed.
  expect(delivered + failed, JSON.stringify(rows.map((r) => [r.status, r.lastError]))).toBe(total);
  const received = new Map<string, number>();
  for (const r of requests) {
    const id = String(r.headers['x-tagledger-delivery']);
    received.set(id, (received.get(id) ?? 0) + 1);
  }
  // Every alert reached the receiver under its own delivery id, and nothing else did.
  expect(new Set(received.keys())).toEqual(new Set(rows.map((r) => r.deliveryId)));
  for (const row of rows) {
    const attempts = await t.db.select().from(deliveryAttempts).where(eq(deliveryAttempts.alertId, row.id)).orderBy(deliveryAttempts.attempt);
    expect(attempts.map((a) => a.attempt).sort((a, b) => a - b)).toEqual(attempts.map((_, i) => i + 1));
    expect(row.attempts).toBe(attempts.length);
    const answered = attempts.filter((a) => a.statusCode !== null).length;
    const seen = received.get(row.deliveryId) ?? 0;
    // Every answer recorded came from a request the receiver saw; the receiver saw no more requests than attempts.
    expect(seen).toBeGreaterThanOrEqual(answered);
    expect(seen).toBeLessThanOrEqual(attempts.length);
    if (row.status === 'delivered') {
      expect(attempts.at(-1)).toMatchObject({ result: 'delivered', statusCode: 200 });
    } else {
      expect(row.lastError).toMatch(/gave up/);
      expect(attempts).toHaveLength(policy.maxAttempts);
    }
  }
  return { delivered, failed, received };
}

describe('webhook receiver faults', () => {
  let receiver: AlertReceiver;
  beforeEach(async () => {
    receiver = await startAlertReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });
  const requests = () => receiver.deliveries.map((d) => ({ headers: d.headers }));

  it('a slow receiver (within the timeout): every alert delivered, once', async () => {
    const n = webhook(receiver.url);
    const total = await queueAlerts(n);
    receiver.faults.add({ delayMs: 400 });
    await deliverUntilSettled(n);
    const o = await account(total, requests());
    expect(o, JSON.stringify((await t.db.select().from(alerts)).map((r) => [r.status, r.lastError]))).toMatchObject({ delivered: total, failed: 0 });
    expect([...o.received.values()].every((c) => c === 1)).toBe(true);
    // Each on its first attempt: no delivery spent its timeout queued behind others for a socket.
    expect((await t.db.select().from(alerts)).map((r) => r.attempts)).toEqual(Array(total).fill(1));
  });

  it('500 for a while, then 200: every alert delivered', async () => {
    const n = webhook(receiver.url);
    const total = await queueAlerts(n);
    receiver.faults.add({ status: 500, body: '{"error":"boom"}', times: total + 2 });
    await deliverUntilSettled(n);
    const o = await account(total, requests());
    expect(o).toMatchObject({ delivered: total, failed: 0 });
    expect(receiver.deliveries).toHaveLength(2 * total + 2);
  });

  it('429 with Retry-After: the next attempt waits as long as asked, then delivers', async () => {
    const n = webhook(receiver.url);
    const total = await queueAlerts(n);
    receiver.faults.add({ status: 429, headers: { 'Retry-After': '1' }, times: total });
    await deliverUntilSettled(n);
    const o = await account(total, requests());
    expect(o).toMatchObject({ delivered: total, failed: 0 });
    const throttled = (await t.db.select().from(deliveryAttempts)).filter((a) => a.statusCode === 429);
    expect(throttled).toHaveLength(total);
    // The recorded schedule, not a measured time: each retry was set at least Retry-After later.
    for (const a of throttled) expect(a.nextAttemptAt!.getTime() - a.startedAt.getTime()).toBeGreaterThanOrEqual(1_000);
  });

  it('200 only after the timeout: retried with the same delivery id (at least once), all delivered', async () => {
    const n = webhook(receiver.url);
    const total = await queueAlerts(n);
    // The receiver takes the first request of each alert and answers it too late.
    const seen = new Set<string>();
    receiver.faults.add({
      delayMs: policy.timeoutMs + 1_500,
      match: (req) => {
        const id = String(req.headers['x-tagledger-delivery']);
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      },
    });
    await deliverUntilSettled(n);
    const o = await account(total, requests());
    expect(o).toMatchObject({ delivered: total, failed: 0 });
    // Each alert reached the receiver twice under one id: receivers deduplicate on X-Tagledger-Delivery.
    expect([...o.received.values()]).toEqual(Array(total).fill(2));
    const timedOut = (await t.db.select().from(deliveryAttempts)).filter((a) => a.result === 'retry');
    expect(timedOut).toHaveLength(total);
    expect(timedOut.every((a) => a.statusCode === null && /timed out/.test(a.error ?? ''))).toBe(true);
  });

  it('connection resets, then 200: every alert delivered', async () => {
    const n = webhook(receiver.url);
    const total = await queueAlerts(n);
    receiver.faults.add({ reset: true, times: total });
    await deliverUntilSettled(n);
    expect(await account(total, requests())).toMatchObject({ delivered: total, failed: 0 });
  });

  it('500 for good: every alert marked failed after maxAttempts, none lost', async () => {
    const n = webhook(receiver.url);
    const total = await queueAlerts(n);
    receiver.faults.add({ status: 500 });
    await deliverUntilSettled(n);
    const o = await account(total, requests());
    expect(o).toMatchObject({ delivered: 0, failed: total });
    expect([...o.received.values()]).toEqual(Array(total).fill(policy.maxAttempts));
  });

  it('a receiver that never answers: every alert failed after maxAttempts timeouts, none lost', async () => {
    const n = webhook(receiver.url);
    const total = await queueAlerts(n);
    receiver.hang = true;
    await deliverUntilSettled(n, { ...policy, timeoutMs: 300 });
    const o = await account(total, requests());
    expect(o).toMatchObject({ delivered: 0, failed: total });
    const rows = await t.db.select().from(alerts);
    expect(rows.every((r) => /timed out/.test(r.lastError ?? ''))).toBe(true);
  });
});

describe('a receiver that is down, then back', () => {
  it('keeps every alert waiting while it is down and delivers each once it is back', async () => {
    const receiver = await startReceiver();
    try {
      const n = webhook(receiver.url);
      const total = await queueAlerts(n);
      await receiver.close();
      const notifiers = new Map([[n.id, createNotifier(n, { timeoutMs: policy.timeoutMs })]]);
      // Two delivery runs while it is down, far enough apart for the retries to be due (a backoff,
      // without jitter, long enough that each run makes one attempt per alert): nothing delivered,
      // nothing given up.
      const patient = { ...policy, backoffInitialMs: 60_000, backoffMaxMs: 60_000, maxAgeMs: 3_600_000 };
      for (let i = 0; i < 2; i++) {
        await deliverDueAlerts(t.db, notifiers, patient, { logger, now: () => new Date(Date.now() + i * 120_000), random: () => 1 });
      }
      const waiting = await t.db.select().from(alerts);
      expect(waiting.map((r) => [r.status, r.lastStatus, r.attempts])).toEqual(Array(total).fill(['retrying', null, 2]));
      expect(waiting.map((r) => r.lastError).filter((e) => !/ECONNREFUSED/.test(e ?? ''))).toEqual([]);

      await receiver.reopen();
      await deliverUntilSettled(n, patient, () => new Date(Date.now() + 600_000));
      const o = await account(
        total,
        receiver.requests.map((r) => ({ headers: r.headers })),
      );
      expect(o).toMatchObject({ delivered: total, failed: 0 });
      expect([...o.received.values()].every((c) => c === 1)).toBe(true);
    } finally {
      await receiver.close().catch(() => undefined);
    }
  });
});
