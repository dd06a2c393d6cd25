import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { eq } from 'drizzle-orm';
import { runScan } from '../../src/scheduler/run-scan.js';
import { deliverDueAlerts, claimDueAlerts, type DispatchSettings } from '../../src/alerts/dispatcher.js';
import { alertingContext } from '../../src/alerts/evaluate.js';
import { createNotifier, type NotifierConfig } from '../../src/notifiers/index.js';
import { alerts, deliveryAttempts, findings } from '../../src/store/schema/index.js';
import { listFindings } from '../../src/store/queries/findings.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { complete, observed, scriptedCollector } from '../helpers/scripted-collector.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { runCli, startCli } from '../helpers/cli.js';
import { openDatabase } from '../../src/store/db.js';
import type { TargetConfig } from '../../src/config/schema.js';
import type { RepositoryResult } from '../../src/collectors/types.js';
import type { AlertMessage } from '../../src/notifiers/types.js';
import type { ProtectionSettings } from '../../src/audit/protection.js';

const logger = pino({ level: 'silent' });
const target = { id: 'prod', kind: 'oci', url: 'http://127.0.0.1:1', insecureSkipTlsVerify: false } as TargetConfig;
const SECRET = 'webhook-secret-value';
const fast: DispatchSettings = { maxAttempts: 6, maxAgeMs: 60_000, backoffInitialMs: 20, backoffMaxMs: 50, timeoutMs: 2_000 };

let t: TestDatabase;
let receiver: Receiver;
beforeEach(async () => {
  t = await openTestDatabase();
  receiver = await startReceiver();
});
afterEach(async () => {
  await receiver.close();
  await t.close();
});

function webhook(url: string, extra: Partial<NotifierConfig> = {}): NotifierConfig {
  return { id: 'ops', kind: 'webhook', url, secret: SECRET, batch: false, insecureSkipTlsVerify: false, ...extra } as NotifierConfig;
}

async function scanWith(results: RepositoryResult[], notifier: NotifierConfig) {
  return runScan(t.db, target, { logger, collector: scriptedCollector('prod', results), alerting: alertingContext({ notifiers: [notifier] }) });
}

async function deliverUntilQuiet(notifier: NotifierConfig, settings = fast, rounds = 40) {
  const notifiers = new Map([[notifier.id, createNotifier(notifier, { timeoutMs: settings.timeoutMs })]]);
  for (let i = 0; i < rounds; i++) {
    await deliverDueAlerts(t.db, notifiers, settings, { logger });
    const pending = await t.db.select().from(alerts).where(eq(alerts.status, 'retrying'));
    if (!pending.length) return;
    await new Promise((r) => setTimeout(r, 60));
  }
}

const movedPayloads = (r: Receiver) => r.requests.map((q) => JSON.parse(q.body) as AlertMessage).filter((p) => p.type === 'tag.moved');

describe('alerts through the outbox', () => {
  it('retries a failing receiver until it accepts, with one delivery id and a valid signature', async () => {
    const n = webhook(receiver.url, { events: ['tag.moved'] } as Partial<NotifierConfig>);
    await scanWith([observed('payments/api', { '1.4.2': 1, latest: 1 }), complete], n);
    await scanWith([observed('payments/api', { '1.4.2': 2, latest: 1 }), complete], n);
    receiver.respond = (_r, i) => (i < 3 ? { status: 500, body: 'boom' } : { status: 200 });
    await deliverUntilQuiet(n);

    expect(receiver.requests).toHaveLength(4);
    const ids = new Set(receiver.requests.map((r) => r.headers['x-tagledger-delivery']));
    expect(ids.size).toBe(1);
    for (const r of receiver.requests) {
      const expected = `sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`;
      expect(r.headers['x-tagledger-signature-256']).toBe(expected);
      expect(r.headers['x-tagledger-event']).toBe('tag.moved');
    }
    const payload = movedPayloads(receiver)[0];
    expect(payload).toMatchObject({ version: 1, type: 'tag.moved', severity: 'high', repository: 'payments/api', tag: '1.4.2', target: { id: 'prod', kind: 'oci' } });
    expect(payload.id).toBe([...ids][0]);
    const [row] = await t.db.select().from(alerts);
    expect(row).toMatchObject({ status: 'delivered', attempts: 4, lastStatus: 200 });
    const attempts = await t.db.select().from(deliveryAttempts).orderBy(deliveryAttempts.attempt);
    expect(attempts.map((a) => [a.attempt, a.statusCode, a.result])).toEqual([
      [1, 500, 'retry'],
      [2, 500, 'retry'],
      [3, 500, 'retry'],
      [4, 200, 'delivered'],
    ]);
  });

  it('keeps alerts in the outbox while the receiver is down and sends them on the next run', async () => {
    const n = webhook(receiver.url);
    await receiver.close();
    await scanWith([observed('payments/api', { '1.4.2': 1 }), complete], n);
    await scanWith([observed('payments/api', { '1.4.2': 2 }), complete], n);
    // A backoff long enough that this run makes exactly one attempt per alert.
    await deliverDueAlerts(t.db, new Map([[n.id, createNotifier(n, { timeoutMs: 1000 })]]), { ...fast, backoffInitialMs: 60_000, backoffMaxMs: 60_000 }, { logger });
    const waiting = await t.db.select().from(alerts);
    expect(waiting.length).toBeGreaterThan(0);
    expect(waiting.every((a) => a.status === 'retrying' && a.lastStatus === null && a.attempts === 1)).toBe(true);

    await receiver.reopen();
    // The next run, once the retries are due.
    const later = () => new Date(Date.now() + 120_000);
    await deliverDueAlerts(t.db, new Map([[n.id, createNotifier(n, { timeoutMs: 1000 })]]), fast, { logger, now: later });
    const done = await t.db.select().from(alerts);
    expect(done.every((a) => a.status === 'delivered')).toBe(true);
    expect(movedPayloads(receiver)).toHaveLength(1);
  });

  it('does not retry a 400', async () => {
    const n = webhook(receiver.url, { events: ['tag.moved'] } as Partial<NotifierConfig>);
    await scanWith([observed('payments/api', { '1.4.2': 1 }), complete], n);
    await scanWith([observed('payments/api', { '1.4.2': 2 }), complete], n);
    receiver.respond = () => ({ status: 400, body: '{"error":"bad payload"}' });
    await deliverUntilQuiet(n);
    expect(receiver.requests).toHaveLength(1);
    const [row] = await t.db.select().from(alerts);
    expect(row.status).toBe('failed');
    expect(row.lastStatus).toBe(400);
  });

  it('gives up after maxAttempts and marks the alert failed', async () => {
    const n = webhook(receiver.url, { events: ['tag.moved'] } as Partial<NotifierConfig>);
    await scanWith([observed('payments/api', { '1.4.2': 1 }), complete], n);
    await scanWith([observed('payments/api', { '1.4.2': 2 }), complete], n);
    receiver.respond = () => ({ status: 503 });
    await deliverUntilQuiet(n, { ...fast, maxAttempts: 3 });
    expect(receiver.requests).toHaveLength(3);
    const [row] = await t.db.select().from(alerts);
    expect(row.status).toBe('failed');
    expect(row.lastError).toContain('gave up');
  });

  it('does not deliver a claimed row twice while its lease runs, and does after it ends', async () => {
    const n = webhook(receiver.url, { events: ['tag.moved'] } as Partial<NotifierConfig>);
    await scanWith([observed('payments/api', { '1.4.2': 1 }), complete], n);
    await scanWith([observed('payments/api', { '1.4.2': 2 }), complete], n);
    const claimed = await claimDueAlerts(t.db, { now: new Date(), leaseMs: 60_000, limit: 10 });
    expect(claimed).toHaveLength(1);
    // A dispatcher that claimed and died: nobody else may take the row until the lease ends.
    expect(await claimDueAlerts(t.db, { now: new Date(), leaseMs: 60_000, limit: 10 })).toHaveLength(0);
    expect(await claimDueAlerts(t.db, { now: new Date(Date.now() + 61_000), leaseMs: 60_000, limit: 10 })).toHaveLength(1);
  });

  it('batches a scan\'s alerts into one message per notifier', async () => {
    const n = webhook(receiver.url, { batch: true } as Partial<NotifierConfig>);
    await scanWith([observed('a', { '1.0.0': 1 }), observed('b', { '2.0.0': 1 }), complete], n);
    await deliverUntilQuiet(n);
    expect(receiver.requests).toHaveLength(1);
    const body = JSON.parse(receiver.requests[0].body);
    expect(body.type).toBe('batch');
    expect(body.alerts.length).toBeGreaterThanOrEqual(4); // repository.mutable + tag.unprotected for a and b
    expect(receiver.requests[0].headers['x-tagledger-delivery']).toBe(body.id);
  });

  it('opens condition findings once, resolves them when the condition is gone, and alerts only on opening', async () => {
    const n = webhook(receiver.url);
    const mutable: ProtectionSettings = { kind: 'ecr', mode: 'MUTABLE', filters: [] };
    const immutable: ProtectionSettings = { kind: 'ecr', mode: 'IMMUTABLE', filters: [] };
    await scanWith([observed('a', { '1.0.0': 1 }, mutable), complete], n);
    await scanWith([observed('a', { '1.0.0': 1 }, mutable), complete], n);
    const open = await listFindings(t.db, { status: ['open'] });
    expect(open.map((f) => f.type).sort()).toEqual(['repository.mutable', 'tag.unprotected']);
    expect((await t.db.select().from(alerts)).length).toBe(2);
    await scanWith([observed('a', { '1.0.0': 1 }, immutable), complete], n);
    const after = await t.db.select().from(findings);
    expect(after.filter((f) => f.type !== 'repository.protection_changed').every((f) => f.status === 'resolved')).toBe(true);
    expect(after.find((f) => f.type === 'repository.protection_changed')).toMatchObject({ severity: 'low', status: 'open' });
  });
});

describe('alerts survive a killed process', () => {
  it('a delivery cut off by kill -9 is sent again after the lease, with the same delivery id', async () => {
    // The CLI runs as a child process; on PGlite it needs the database directory to itself, so the
    // test seeds a directory and closes it; on PostgreSQL both share the fresh test database.
    const dir = mkdtempSync(join(tmpdir(), 'tagledger-kill-'));
    const pglitePath = join(dir, 'pglite');
    let db = t;
    if (t.url === null) {
      const open = await openDatabase({ kind: 'pglite', path: pglitePath });
      db = { db: open.db, url: null, close: open.close };
    }
    const cfg = join(dir, 'tagledger.yaml');
    writeFileSync(
      cfg,
      `database:\n  path: ${JSON.stringify(pglitePath)}\ntargets: []\nalerts:\n  timeout: 3s\nnotifiers:\n  - id: ops\n    kind: webhook\n    url: ${receiver.url}\n    events: [tag.moved]\n`,
    );
    const env = { DATABASE_URL: t.url ?? '' };
    const n = webhook(receiver.url, { events: ['tag.moved'] } as Partial<NotifierConfig>);
    const scan = (results: RepositoryResult[]) => runScan(db.db, target, { logger, collector: scriptedCollector('prod', results), alerting: alertingContext({ notifiers: [n] }) });
    await scan([observed('payments/api', { '1.4.2': 1 }), complete]);
    await scan([observed('payments/api', { '1.4.2': 2 }), complete]);
    if (t.url === null) await db.close();

    receiver.respond = () => 'hang';
    const first = startCli(['--config', cfg, 'alerts', 'deliver', '--within', '30s'], { env });
    let exited: unknown = null;
    void first.done.then((r) => (exited = r));
    for (let i = 0; i < 400 && receiver.requests.length === 0 && !exited; i++) await new Promise((r) => setTimeout(r, 50));
    const claimedAt = Date.now();
    expect(exited).toBeNull();
    expect(receiver.requests).toHaveLength(1);
    first.child.kill('SIGKILL'); // mid-delivery: the receiver never answered
    expect((await first.done).code).toBeNull();

    receiver.respond = () => ({ status: 200 });
    const early = await runCli(['--config', cfg, 'alerts', 'deliver'], { env });
    expect(early.code).toBe(0);
    expect(receiver.requests).toHaveLength(1); // still leased: not sent twice at once
    await new Promise((r) => setTimeout(r, 11_500 - (Date.now() - claimedAt))); // lease = 2 × 3 s timeout + 5 s
    const again = await runCli(['--config', cfg, 'alerts', 'deliver'], { env });
    expect(again.code).toBe(0);
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1].headers['x-tagledger-delivery']).toBe(receiver.requests[0].headers['x-tagledger-delivery']);
    const listed = await runCli(['--config', cfg, 'alerts', 'list', '--json'], { env });
    const rows = JSON.parse(listed.stdout).alerts;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'delivered', attempts: 1 });
  });
});
