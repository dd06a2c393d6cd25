/**
 * The push-event queue with the real Scheduler and runScan on a test database (scripted collectors:
 * this is about the core, not a registry): a burst waits for a running scan of the target and then
 * makes one scan limited to the repositories it names; a scheduled tick waits for such a scan
 * instead of being skipped; each event is judged against what the scan stored.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetSchema } from '../../src/config/schema.js';
import type { Collector, RepositoryResult } from '../../src/collectors/types.js';
import { Scheduler } from '../../src/scheduler/schedule.js';
import { databaseCoordinator } from '../../src/scheduler/slots.js';
import { runScan, TargetBusyError } from '../../src/scheduler/run-scan.js';
import { PushEventQueue } from '../../src/events/queue.js';
import { pushEventsPage, recordPushEvents } from '../../src/store/queries/push-events.js';
import { recentScans } from '../../src/store/queries/scans.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { complete, digest, observed, scriptedCollector } from '../helpers/scripted-collector.js';

const logger = pino({ level: 'silent' });
let t: TestDatabase;
beforeAll(async () => {
  t = await openTestDatabase();
});
afterAll(async () => {
  await t?.close();
});

/** A collector that yields nothing until released. */
function held(targetId: string, results: RepositoryResult[]) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const started = new Promise<void>((r) => (entered = r));
  const collector: Collector = {
    kind: 'oci',
    targetId,
    async *collect() {
      entered();
      await gate;
      for (const r of results) yield r;
    },
  };
  return { collector, release, started };
}

function setup(id: string) {
  const target = targetSchema.parse({ id, kind: 'ecr', region: 'us-east-1', jitter: '0s', events: { secret: 'x'.repeat(16) } });
  const collectors: Collector[] = [];
  const scheduler = new Scheduler({ db: t.db, logger, targets: [target], coordinator: databaseCoordinator(t.db), collectorFor: () => collectors.shift() });
  const checked: string[] = [];
  const queue = new PushEventQueue({
    db: t.db,
    logger,
    scanner: scheduler,
    debounceMs: () => 50,
    busyRetry: { initialMs: 20, maxMs: 100 },
    onChecked: (_source, status) => checked.push(status),
  });
  const record = async (repository: string, tag: string, d: number) => {
    const { rows } = await recordPushEvents(t.db, {
      target: { id, kind: 'ecr' },
      source: 'ecr',
      receivedAt: new Date(),
      payloadSha256: 'f'.repeat(64),
      events: [{ repository, tag, digest: digest(d), action: 'push', eventType: 'PUSH', eventId: null, occurredAt: null, status: 'received', note: null }],
    });
    queue.enqueue(id, repository, rows.map((r) => ({ id: r.id, source: 'ecr' as const, action: 'push' as const, tag: r.tag, digest: r.digest })));
    return rows[0].id;
  };
  return { target, scheduler, queue, collectors, checked, record };
}

describe('the push-event queue', () => {
  it('waits out a running scan of the target, then scans the named repositories once and judges each event', async () => {
    const q = setup('burst');
    q.collectors.push(scriptedCollector('burst', [observed('a', { v1: 1 }), observed('b', { v1: 2 }), observed('c', { v1: 5 }), complete]));
    await (await q.scheduler.runNow('burst')).finished;

    const api = held('burst', [observed('a', { v1: 1 }), observed('b', { v1: 2 }), observed('c', { v1: 5 }), complete]);
    q.collectors.push(api.collector);
    const running = await q.scheduler.runNow('burst');
    await api.started;
    await expect(q.scheduler.scanRepositories('burst', ['a'])).rejects.toBeInstanceOf(TargetBusyError);
    // a moved twice (to 3, then 4), b pushed again at the same digest, c moved with no event naming it.
    for (const d of [3, 4]) await q.record('a', 'v1', d);
    await q.record('b', 'v1', 2);
    await new Promise((r) => setTimeout(r, 300));
    expect((await recentScans(t.db, { targetId: 'burst', limit: 10 })).length).toBe(2);

    q.collectors.push(scriptedCollector('burst', [observed('a', { v1: 4 }), observed('b', { v1: 2 }), observed('c', { v1: 6 }), complete]));
    api.release();
    await running.finished;
    await q.queue.idle();

    const scans = await recentScans(t.db, { targetId: 'burst', limit: 10 });
    expect(scans.map((s) => s.scope)).toEqual([['a', 'b'], null, null]);
    const events = (await pushEventsPage(t.db, { targetId: 'burst', limit: 10 })).items.reverse();
    expect(events.map((e) => [e.repository, e.digest, e.status, e.scanId])).toEqual([
      ['a', digest(3), 'scanned', scans[0].id],
      ['a', digest(4), 'confirmed', scans[0].id],
      ['b', digest(2), 'confirmed', scans[0].id],
    ]);
    expect(q.checked.sort()).toEqual(['confirmed', 'confirmed', 'scanned']);
    // c was outside the scope even though the collector yielded it: untouched until a whole scan.
    expect((await currentTags(t.db, { targetId: 'burst', repository: 'c' })).map((r) => r.digest)).toEqual([digest(5)]);
    expect((await currentTags(t.db, { targetId: 'burst', repository: 'a' })).map((r) => r.digest)).toEqual([digest(4)]);
    await q.queue.stop();
    await q.scheduler.stop();
  });

  it('a scheduled tick waits for a push-event scan instead of being skipped as busy', async () => {
    const q = setup('tick');
    q.collectors.push(scriptedCollector('tick', [observed('a', { v1: 1 }), complete]));
    await (await q.scheduler.runNow('tick')).finished;
    const limited = held('tick', [observed('a', { v1: 2 }), complete]);
    q.collectors.push(limited.collector);
    const scan = q.scheduler.scanRepositories('tick', ['a']);
    await limited.started;
    const tick = q.scheduler.tick('tick', new Date('2026-03-01T13:00:00Z'));
    q.collectors.push(scriptedCollector('tick', [observed('a', { v1: 2 }), complete]));
    limited.release();
    expect(await scan).toMatchObject({ status: 'succeeded', events: { moved: 1 } });
    expect(await tick).toMatchObject({ ran: true, summary: { status: 'succeeded' } });
    expect((await recentScans(t.db, { targetId: 'tick', limit: 10 })).map((s) => s.scope)).toEqual([null, ['a'], null]);
    await q.scheduler.stop();
  });

  it('a limited scan of a repository the listing lacks warns and calls nothing gone', async () => {
    const target = targetSchema.parse({ id: 'gone', kind: 'oci', url: 'http://127.0.0.1:1' });
    await runScan(t.db, target, { logger, collector: scriptedCollector('gone', [observed('a', { v1: 1 }), observed('b', { v1: 2 }), complete]) });
    const s = await runScan(t.db, target, { logger, scope: ['b'], collector: scriptedCollector('gone', [observed('a', { v1: 1 }), complete]) });
    expect(s).toMatchObject({ status: 'succeeded', repositories: 0, events: { deleted: 0 }, warnings: [{ repository: 'b', code: 'vanished' }] });
    expect((await currentTags(t.db, { targetId: 'gone', repository: 'b' })).map((r) => r.present)).toEqual([true]);
  });
});
