/**
 * Scan roots anchored outside the database (`anchor:` in the config): real scans with a scripted
 * collector, real outbox and dispatcher, a real loopback webhook receiver. What the receiver keeps
 * must be what `scans.root_hash` says, signed like any delivery, and a history rewritten afterwards
 * (even one re-sealed so that `tagledger verify` passes) must no longer match it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { asc, eq, sql } from 'drizzle-orm';
import { runScan } from '../../src/scheduler/run-scan.js';
import { deliverDueAlerts, type DispatchSettings } from '../../src/alerts/dispatcher.js';
import { alertingContext } from '../../src/alerts/evaluate.js';
import { createNotifier, type NotifierConfig } from '../../src/notifiers/index.js';
import { alerts, deliveryAttempts, scans } from '../../src/store/schema/index.js';
import { backfillChains, verifyLedger } from '../../src/store/queries/chain.js';
import { startScan } from '../../src/store/queries/scans.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { complete, digest, observed, scriptedCollector } from '../helpers/scripted-collector.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { signatureValid } from '../helpers/alerts.js';
import type { TargetConfig } from '../../src/config/schema.js';
import type { RepositoryResult } from '../../src/collectors/types.js';
import type { ScanCompletedMessage } from '../../src/notifiers/types.js';

const SECRET = 'anchor-signing-secret-7f3e9a';
const target = { id: 'prod', kind: 'oci', url: 'http://127.0.0.1:1', insecureSkipTlsVerify: false } as TargetConfig;
const fast: DispatchSettings = { maxAttempts: 6, maxAgeMs: 60_000, backoffInitialMs: 20, backoffMaxMs: 50, timeoutMs: 2_000 };

/** Every log line of the test, at debug level: secrets must be in none of them. */
const logLines: string[] = [];
const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });

let t: TestDatabase;
let receiver: Receiver;
beforeEach(async () => {
  t = await openTestDatabase();
  receiver = await startReceiver();
  logLines.length = 0;
});
afterEach(async () => {
  await receiver.close();
  await t.close();
});

/**
 * The anchor notifier: its finding filters (only critical tag moves, batched) must not hold back an
 * anchor; a second anchor notifier whose `targets` filter leaves out `prod` gets none.
 */
function notifiers(url: string): NotifierConfig[] {
  return [
    { id: 'roots', kind: 'webhook', url, secret: SECRET, events: ['tag.moved'], minSeverity: 'critical', batch: true, insecureSkipTlsVerify: false },
    { id: 'staging-roots', kind: 'webhook', url, secret: SECRET, targets: ['staging-*'], batch: false, insecureSkipTlsVerify: false },
  ] as NotifierConfig[];
}

const scan = (results: RepositoryResult[]) =>
  runScan(t.db, target, { logger, collector: scriptedCollector('prod', results), alerting: alertingContext({ notifiers: notifiers(receiver.url), anchor: ['roots', 'staging-roots'] }) });

async function deliverUntilQuiet(rounds = 40) {
  const map = new Map(notifiers(receiver.url).map((n) => [n.id, createNotifier(n, { timeoutMs: fast.timeoutMs })]));
  for (let i = 0; i < rounds; i++) {
    await deliverDueAlerts(t.db, map, fast, { logger });
    const pending = await t.db.select().from(alerts).where(eq(alerts.status, 'retrying'));
    if (!pending.length) return;
    await new Promise((r) => setTimeout(r, 60));
  }
}

/** What an auditor keeps: each received anchor, by scan id (the last copy when a retry repeated it). */
function receivedAnchors(): Map<number, ScanCompletedMessage> {
  const out = new Map<number, ScanCompletedMessage>();
  for (const r of receiver.requests) {
    if (r.headers['x-tagledger-event'] !== 'scan.completed') continue;
    if (!signatureValid(SECRET, Buffer.from(r.body, 'utf8'), r.headers['x-tagledger-signature-256'])) continue;
    const m = JSON.parse(r.body) as ScanCompletedMessage;
    out.set(m.scanId, m);
  }
  return out;
}

const storedScans = () => t.db.select().from(scans).where(eq(scans.targetId, 'prod')).orderBy(asc(scans.id));

/** The auditor's check: every received root against the database's; returns the scans that differ. */
async function rootsThatDiffer(received: Map<number, ScanCompletedMessage>): Promise<Array<{ scanId: number; received: string; stored: string | null }>> {
  const stored = new Map((await storedScans()).map((s) => [s.id, s.rootHash]));
  return [...received.values()]
    .filter((m) => stored.get(m.scanId) !== m.rootHash)
    .map((m) => ({ scanId: m.scanId, received: m.rootHash, stored: stored.get(m.scanId) ?? null }));
}

const exec = (q: ReturnType<typeof sql>) => t.db.execute(q);
const rows = async <T>(q: ReturnType<typeof sql>) => ((await t.db.execute(q)) as unknown as { rows: T[] }).rows;

describe('scan roots anchored through a notifier', () => {
  it('sends every recorded root as scan.completed, signed, equal to scans.root_hash, and retried like any delivery', async () => {
    await scan([observed('api', { '1.4.2': 1, latest: 1 }), observed('web', { '2.0.0': 5 }), complete]);
    await scan([observed('api', { '1.4.2': 2, latest: 1 }), observed('web', { '2.0.0': 5 }), complete]);
    // A failed scan records a root too (over no chains, linked to the one before): it is anchored as well.
    const failed = await scan([{ kind: 'error', repository: null, code: 'failed', cause: 'registry unreachable' }]);
    expect(failed.status).toBe('failed');

    // The anchors wait in the outbox: one per scan, for `roots` only (`staging-roots` does not cover prod).
    const queued = await t.db.select().from(alerts).where(sql`${alerts.payload}->>'type' = 'scan.completed'`).orderBy(asc(alerts.id));
    expect(queued.map((a) => [a.notifierId, a.scanId, a.findingId, a.batchKey, a.status])).toEqual([
      ['roots', 1, null, null, 'created'],
      ['roots', 2, null, null, 'created'],
      ['roots', 3, null, null, 'created'],
    ]);

    // The receiver fails the first two requests: anchors are retried like alerts, with the same delivery id.
    receiver.respond = (_r, i) => (i < 2 ? { status: 503, body: 'busy' } : { status: 200 });
    await deliverUntilQuiet();

    const stored = await storedScans();
    expect(stored.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'failed']);
    const anchors = receivedAnchors();
    expect([...anchors.keys()].sort()).toEqual(stored.map((s) => s.id));
    for (const s of stored) {
      const m = anchors.get(s.id)!;
      expect(m.rootHash).toMatch(/^[0-9a-f]{64}$/);
      expect(m).toEqual({
        version: 1,
        id: expect.any(String),
        type: 'scan.completed',
        summary: expect.stringContaining(`scan ${s.id} of prod ${s.status}: root ${s.rootHash!.slice(0, 12)}`),
        occurredAt: s.finishedAt!.toISOString(),
        target: { id: 'prod', kind: 'oci' },
        scanId: s.id,
        status: s.status,
        startedAt: s.startedAt.toISOString(),
        finishedAt: s.finishedAt!.toISOString(),
        rootHash: s.rootHash,
        previousRoot: s.previousRoot,
        counts: { repositories: s.repositories, tags: s.tags, events: s.events, errors: s.errors.length, warnings: s.warnings.length },
      });
    }
    // The received roots link up by themselves: each one's previous root is the one received before it.
    expect(anchors.get(1)!.previousRoot).toBe('');
    expect(anchors.get(2)!.previousRoot).toBe(anchors.get(1)!.rootHash);
    expect(anchors.get(3)!.previousRoot).toBe(anchors.get(2)!.rootHash);
    expect(anchors.get(2)!.counts).toMatchObject({ repositories: 2, tags: 3, events: { moved: 1 } });

    // Signed like every webhook delivery: HMAC-SHA256 of the raw body, delivery id = payload id.
    const requests = receiver.requests.filter((r) => r.headers['x-tagledger-event'] === 'scan.completed');
    expect(requests).toHaveLength(5); // 3 anchors, 2 of them retried once
    for (const r of requests) {
      expect(signatureValid(SECRET, Buffer.from(r.body, 'utf8'), r.headers['x-tagledger-signature-256'])).toBe(true);
      expect(signatureValid('another-secret', Buffer.from(r.body, 'utf8'), r.headers['x-tagledger-signature-256'])).toBe(false);
      expect(r.headers['x-tagledger-delivery']).toBe((JSON.parse(r.body) as ScanCompletedMessage).id);
      expect(r.headers['content-type']).toBe('application/json');
    }
    expect(new Set(requests.map((r) => r.headers['x-tagledger-delivery'])).size).toBe(3);

    const after = await t.db.select().from(alerts).where(sql`${alerts.payload}->>'type' = 'scan.completed'`);
    expect(after.every((a) => a.status === 'delivered')).toBe(true);
    const attempts = await t.db.select().from(deliveryAttempts);
    expect(attempts.filter((a) => a.result === 'retry')).toHaveLength(2);

    // The finding filters still apply to findings: `roots` wants critical tag moves only, and the move
    // of 1.4.2 is high (protected by policy, not by the registry), so it received anchors and nothing else.
    expect(receiver.requests.every((r) => r.headers['x-tagledger-event'] === 'scan.completed')).toBe(true);

    // The secret is in no payload, no outbox row and no log line.
    for (const r of receiver.requests) expect(r.body).not.toContain(SECRET);
    expect(JSON.stringify(await t.db.select().from(alerts))).not.toContain(SECRET);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('')).not.toContain(SECRET);
  });

  it('detects a tampered history by the received roots, even when it was re-sealed so that verify passes', async () => {
    await scan([observed('api', { '1.4.2': 1, latest: 1 }), observed('web', { '2.0.0': 5 }), complete]);
    await scan([observed('api', { '1.4.2': 2, latest: 1 }), observed('web', { '2.0.0': 5 }), complete]);
    await scan([observed('api', { '1.4.2': 2, latest: 3 }), observed('web', { '2.0.0': 5 }), complete]);
    await deliverUntilQuiet();
    const received = receivedAnchors();
    expect(received.size).toBe(3);
    expect(await rootsThatDiffer(received)).toEqual([]);
    expect((await verifyLedger(t.db)).breaks).toEqual([]);

    // 1. A scan root edited by SQL: verify sees it, and so does the comparison.
    const [second] = (await storedScans()).slice(1, 2);
    await exec(sql`UPDATE scans SET root_hash = ${'0'.repeat(64)} WHERE id = ${second.id}`);
    expect(await rootsThatDiffer(received)).toEqual([{ scanId: second.id, received: received.get(second.id)!.rootHash, stored: '0'.repeat(64) }]);
    await exec(sql`UPDATE scans SET root_hash = ${second.rootHash} WHERE id = ${second.id}`);
    expect(await rootsThatDiffer(received)).toEqual([]);

    // 2. Someone with full database access hides that 1.4.2 moved: the move now "went" to the old digest...
    const [moved] = await rows<{ id: number; scan_id: number }>(sql`SELECT id, scan_id FROM tag_events WHERE kind = 'moved' AND tag = '1.4.2'`);
    await exec(sql`UPDATE tag_events SET digest = ${digest(1)} WHERE id = ${moved.id}`);
    expect((await verifyLedger(t.db)).breaks.length).toBeGreaterThan(0);
    // ...and re-seals it with tagledger's own code: every chain and every root recomputed from scratch.
    await exec(sql`UPDATE tag_events SET hash = NULL`);
    await exec(sql`UPDATE repository_events SET hash = NULL`);
    await exec(sql`UPDATE scans SET root_hash = NULL, previous_root = NULL`);
    await backfillChains(t.db);
    expect((await verifyLedger(t.db)).breaks).toEqual([]); // the database agrees with itself again

    // The roots that left the database do not: from the scan that recorded the move on, none matches.
    const differ = await rootsThatDiffer(received);
    expect(differ.map((d) => d.scanId)).toEqual([Number(moved.scan_id), 3]);
    expect(differ.every((d) => d.stored !== null && d.stored !== d.received)).toBe(true);
    // The scan before the rewrite still matches: the rewrite is located, not just detected.
    const first = (await storedScans())[0];
    expect(first.rootHash).toBe(received.get(first.id)!.rootHash);
  });

  it('never records a root without queuing its anchor: a failed end-of-scan queues none, the next scan queues both', async () => {
    await scan([observed('api', { '1.4.2': 1 }), complete]);
    // The outbox refuses anchors: the scan-finishing transaction (status, root, anchor) rolls back whole.
    await exec(sql.raw(`CREATE FUNCTION refuse_anchor() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.payload->>'type' = 'scan.completed' THEN RAISE EXCEPTION 'outbox refuses anchors'; END IF;
        RETURN NEW;
      END $$`));
    await exec(sql.raw('CREATE TRIGGER refuse_anchor BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION refuse_anchor()'));
    await expect(scan([observed('api', { '1.4.2': 2 }), complete])).rejects.toThrow(/could not record the end of scan 2/);
    const [stuck] = (await storedScans()).slice(1);
    expect(stuck).toMatchObject({ id: 2, status: 'running', rootHash: null });
    expect(await t.db.select().from(alerts).where(sql`${alerts.payload}->>'type' = 'scan.completed' AND ${alerts.scanId} = 2`)).toEqual([]);

    // The next scan marks it aborted and records its root, with its anchor, then its own.
    await exec(sql.raw('DROP TRIGGER refuse_anchor ON alerts'));
    await scan([observed('api', { '1.4.2': 2 }), complete]);
    await deliverUntilQuiet();
    const stored = await storedScans();
    expect(stored.map((s) => [s.id, s.status])).toEqual([
      [1, 'succeeded'],
      [2, 'aborted'],
      [3, 'succeeded'],
    ]);
    const received = receivedAnchors();
    expect([...received.keys()].sort()).toEqual([1, 2, 3]);
    expect(received.get(2)).toMatchObject({ status: 'aborted', rootHash: stored[1].rootHash, previousRoot: stored[0].rootHash });
    expect(await rootsThatDiffer(received)).toEqual([]);
    expect((await verifyLedger(t.db)).breaks).toEqual([]);
    // Every recorded root has its anchor in the outbox.
    const anchoredScans = (await t.db.select().from(alerts).where(sql`${alerts.payload}->>'type' = 'scan.completed'`)).map((a) => a.scanId);
    expect(stored.filter((s) => s.rootHash !== null).map((s) => s.id)).toEqual([...anchoredScans].sort());
  });

  it('queues no anchor when anchor: is not set, and refuses an unknown id in a hand-built context', async () => {
    const n = notifiers(receiver.url);
    await runScan(t.db, target, { logger, collector: scriptedCollector('prod', [observed('api', { '1.4.2': 1 }), complete]), alerting: alertingContext({ notifiers: n }) });
    expect(await t.db.select().from(alerts).where(sql`${alerts.payload}->>'type' = 'scan.completed'`)).toEqual([]);
    expect(() => alertingContext({ notifiers: n, anchor: ['nope'] })).toThrow('anchor[0]: no notifier has id "nope"');
  });
});
