import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { eq } from 'drizzle-orm';
import { openTestDatabase, type TestDatabase } from '../../test/helpers/db.js';
import { complete, observed, scriptedCollector } from '../../test/helpers/scripted-collector.js';
import { targetSchema, type TargetConfig } from '../config/schema.js';
import type { Collector, RepositoryResult } from '../collectors/types.js';
import { scans } from '../store/schema/index.js';
import { slotsOf } from '../store/queries/slots.js';
import { currentTags } from '../store/queries/tags.js';
import { Scheduler, UnknownTargetError, type SchedulerOptions, type SkipReason } from './schedule.js';
import { databaseCoordinator, type SlotCoordinator } from './slots.js';
import { jitterDelay, type Clock } from './clock.js';
import type { CronDriver } from './cron.js';
import { TargetBusyError } from './run-scan.js';

const logger = pino({ level: 'silent' });
const target = (id: string, extra: Record<string, unknown> = {}): TargetConfig => targetSchema.parse({ id, kind: 'oci', url: 'http://127.0.0.1:1', ...extra });
const slot = (s: string) => new Date(`2026-03-01T${s}Z`);

/** Time the scheduler cannot get from the wall clock: sleeps are recorded and return at once. */
function testClock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { sleeps, now: () => new Date('2026-03-01T12:00:00Z'), sleep: async (ms) => void sleeps.push(ms) };
}

/** A cron driver whose ticks the test fires. */
function fakeCron() {
  const tasks: Array<{ name: string; expression: string; timezone: string; onTick: (slot: Date) => void; stopped: boolean }> = [];
  const driver: CronDriver = {
    schedule(p) {
      const task = { ...p, stopped: false };
      tasks.push(task);
      return { stop: () => void (task.stopped = true), nextRun: () => null };
    },
  };
  return { driver, tasks, fire: (name: string, at: Date) => tasks.find((t) => t.name === name)!.onTick(at) };
}

/** A collector that holds its scan open until released (or aborted), after yielding `first`. */
function heldCollector(targetId: string, first: RepositoryResult[], rest: RepositoryResult[]) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const started = new Promise<void>((r) => (entered = r));
  const collector: Collector = {
    kind: 'oci',
    targetId,
    async *collect(signal) {
      for (const r of first) yield r;
      entered();
      await Promise.race([gate, new Promise((r) => signal.addEventListener('abort', r, { once: true }))]);
      if (signal.aborted) return;
      for (const r of rest) yield r;
    },
  };
  return { collector, release, started };
}

// One database for the file (opening one costs seconds); every test uses target ids of its own.
let t: TestDatabase;
beforeAll(async () => {
  t = await openTestDatabase();
});
afterAll(async () => {
  await t?.close();
});
const scansOf = (id: string) => t.db.select().from(scans).where(eq(scans.targetId, id));

function scheduler(opts: Partial<SchedulerOptions> & { targets: TargetConfig[] }, runner = 'replica-a') {
  const skipped: Array<[string, SkipReason]> = [];
  const s = new Scheduler({
    db: t.db,
    logger,
    coordinator: databaseCoordinator(t.db, { runner }),
    clock: testClock(),
    collectorFor: (tg) => scriptedCollector(tg.id, [observed('app', { latest: 1 }), complete]),
    ...opts,
    hooks: { tickSkipped: (target, reason) => skipped.push([target, reason]), ...opts.hooks },
  });
  return Object.assign(s, { skipped });
}

describe('Scheduler', () => {
  it('schedules every target (hourly in UTC by default) and scans on each tick', async () => {
    const cron = fakeCron();
    const finished: string[] = [];
    const s = scheduler({
      targets: [target('s1a'), target('s1b', { schedule: '*/15 * * * *', jitter: '0s' })],
      cron: cron.driver,
      timezone: undefined,
      hooks: { scanFinished: (sum) => finished.push(`${sum.target}:${sum.status}`) },
    });
    s.start();
    expect(cron.tasks.map((x) => [x.name, x.expression, x.timezone])).toEqual([
      ['scan:s1a', '0 * * * *', 'UTC'],
      ['scan:s1b', '*/15 * * * *', 'UTC'],
    ]);
    expect(s.entries.get('s1a')!.jitterMs).toBe(30_000);
    expect(s.entries.get('s1b')!.jitterMs).toBe(0);

    cron.fire('scan:s1a', slot('10:00:00'));
    cron.fire('scan:s1b', slot('10:00:00'));
    await s.settled();
    cron.fire('scan:s1b', slot('10:15:00'));
    await s.settled();
    expect(finished.sort()).toEqual(['s1a:succeeded', 's1b:succeeded', 's1b:succeeded']);
    const rows = await scansOf('s1b');
    expect(rows).toHaveLength(2);
    // Each won slot records the scan it started.
    const slots = await slotsOf(t.db, 's1b');
    expect(slots.map((x) => [x.slot.toISOString(), x.claimedBy])).toEqual([
      ['2026-03-01T10:00:00.000Z', 'replica-a'],
      ['2026-03-01T10:15:00.000Z', 'replica-a'],
    ]);
    expect(slots.map((x) => x.scanId).sort()).toEqual(rows.map((r) => r.id).sort());

    await s.stop();
    expect(cron.tasks.every((x) => x.stopped)).toBe(true);
  });

  it('waits a jitter below the configured bound before scanning, and none with 0s', async () => {
    const clock = testClock();
    const randoms = [0.999_999, 0, 0.5];
    const s = scheduler({ targets: [target('j1', { jitter: '10s' }), target('j0', { jitter: '0s' })], clock, random: () => randoms.shift() ?? 0.25 });
    expect((await s.tick('j1', slot('10:00:00'))).ran).toBe(true);
    expect((await s.tick('j1', slot('11:00:00'))).ran).toBe(true);
    expect((await s.tick('j1', slot('12:00:00'))).ran).toBe(true);
    expect(clock.sleeps).toEqual([9_999, 5_000]); // random 0 → no wait at all
    expect((await s.tick('j0', slot('10:00:00'))).ran).toBe(true);
    expect(clock.sleeps).toHaveLength(2);

    for (let i = 0; i < 1000; i++) {
      const d = jitterDelay(30_000, Math.random);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(30_000);
    }
    expect(jitterDelay(30_000, () => 0.999_999_999_9)).toBe(29_999);
    expect(jitterDelay(0, () => 0.7)).toBe(0);
  });

  it('skips a tick while the previous scan of the target is still running here, without claiming the slot', async () => {
    const held = heldCollector('ov', [observed('app', { latest: 1 })], [complete]);
    const s = scheduler({ targets: [target('ov', { jitter: '0s' })], collectorFor: () => held.collector });
    const first = s.tick('ov', slot('10:00:00'));
    await held.started;
    const second = await s.tick('ov', slot('11:00:00'));
    expect(second).toEqual({ ran: false, reason: 'overlap' });
    expect(s.skipped).toEqual([['ov', 'overlap']]);
    held.release();
    expect((await first).ran).toBe(true);
    expect((await slotsOf(t.db, 'ov')).map((x) => x.slot.toISOString())).toEqual(['2026-03-01T10:00:00.000Z']);
  });

  it('runs each slot once across two schedulers sharing the database; the loser says so', async () => {
    const a = scheduler({ targets: [target('el', { jitter: '0s' })] }, 'replica-a');
    const b = scheduler({ targets: [target('el', { jitter: '0s' })] }, 'replica-b');
    for (const at of ['10:00:00', '11:00:00', '12:00:00']) {
      const [ra, rb] = await Promise.all([a.tick('el', slot(at)), b.tick('el', slot(at))]);
      expect([ra.ran, rb.ran].filter(Boolean)).toHaveLength(1);
      const loser = ra.ran ? rb : ra;
      expect(loser).toEqual({ ran: false, reason: 'not_elected' });
    }
    expect(await scansOf('el')).toHaveLength(3);
    expect([...a.skipped, ...b.skipped]).toEqual(Array(3).fill(['el', 'not_elected']));
    const slots = await slotsOf(t.db, 'el');
    expect(slots).toHaveLength(3);
    expect(new Set(slots.map((x) => x.scanId)).size).toBe(3);
  });

  it('skips a won slot as busy when the target is being scanned elsewhere (its lock is held)', async () => {
    const held = heldCollector('bz', [], [observed('app', { latest: 1 }), complete]);
    const api = scheduler({ targets: [target('bz', { jitter: '0s' })], collectorFor: () => held.collector }, 'replica-a');
    const other = scheduler({ targets: [target('bz', { jitter: '0s' })] }, 'replica-b');
    const started = await api.runNow('bz');
    await held.started;
    expect(typeof started.scanId).toBe('number');
    // This replica wins the slot, but the scan's target lock is taken.
    expect(await other.tick('bz', slot('10:00:00'))).toEqual({ ran: false, reason: 'busy' });
    expect(other.skipped).toEqual([['bz', 'busy']]);
    // And a second immediate scan is refused while the first runs.
    await expect(api.runNow('bz')).rejects.toBeInstanceOf(TargetBusyError);
    held.release();
    const summary = await started.finished;
    expect(summary?.status).toBe('succeeded');
    expect(summary?.scanId).toBe(started.scanId);
    await expect(api.runNow('nope')).rejects.toBeInstanceOf(UnknownTargetError);
  });

  it('skips (fail-closed) when the slot cannot be claimed', async () => {
    const broken: SlotCoordinator = { claim: async () => Promise.reject(new Error('connection refused')) };
    const s = scheduler({ targets: [target('ce')], coordinator: broken });
    expect(await s.tick('ce', slot('10:00:00'))).toEqual({ ran: false, reason: 'coordinator_error' });
    expect(await scansOf('ce')).toHaveLength(0);
  });

  it('stop() aborts the scan in flight: stored repositories stay whole, the scan is marked aborted', async () => {
    const held = heldCollector('ab', [observed('done', { latest: 1, v1: 2 })], [observed('never', { latest: 3 }), complete]);
    const s = scheduler({ targets: [target('ab', { jitter: '0s' })], collectorFor: () => held.collector });
    const tick = s.tick('ab', slot('10:00:00'));
    await held.started;
    await s.stop();
    const outcome = await tick;
    expect(outcome.ran && outcome.summary.status).toBe('aborted');
    const [row] = await scansOf('ab');
    expect(row.status).toBe('aborted');
    expect((await currentTags(t.db, { targetId: 'ab', repository: 'done' })).map((x) => x.tag)).toEqual(['latest', 'v1']);
    expect(await currentTags(t.db, { targetId: 'ab', repository: 'never' })).toEqual([]);
    // Stopped: no new work.
    expect(await s.tick('ab', slot('11:00:00'))).toEqual({ ran: false, reason: 'stopping' });
  });
});
