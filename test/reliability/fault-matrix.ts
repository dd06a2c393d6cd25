/**
 * The registry fault matrix: every collector, through runScan, into a fresh database.
 *
 * Each case seeds three repositories (a, b, c), records a clean baseline scan, moves a tag of c (a
 * real change that must still be recorded), makes the registry misbehave on b (or on the whole
 * target), scans again, then lets the registry recover and scans a third time. It asserts:
 *   - the faulty scan ends (bounded time), with a bounded number of calls for b;
 *   - its errors name the repository (or the target, for target-level faults) and the cause;
 *   - the rest is stored: c's move is recorded, a and c have their snapshot;
 *   - NO tag is reported moved or deleted because of the fault, and stored tags are untouched;
 *   - the next scan after the fault brings the ledger back to exactly what the registry holds.
 */
import { and, eq, inArray } from 'drizzle-orm';
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import type { Collector } from '../../src/collectors/types.js';
import type { TargetConfig } from '../../src/config/schema.js';
import { runScan, type ScanSummary } from '../../src/scheduler/run-scan.js';
import type { Database } from '../../src/store/db.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { repositories, repositorySnapshots, scans, tagEvents } from '../../src/store/schema/index.js';

/** Short, documented test overrides: three attempts, no real backoff, 1.5 s per request. */
export const RETRY = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };
export const TIMEOUT_MS = 1_500;
/** Longer than TIMEOUT_MS: the answer comes too late on every attempt. */
export const SLOW_MS = 4_000;
/** No faulty scan may take longer than this: retries and timeouts are bounded. */
const SCAN_BOUND_MS = 25_000;

export interface Names {
  a: string;
  b: string;
  c: string;
}

export interface FaultHarness {
  kind: TargetConfig['kind'];
  names: Names;
  target: TargetConfig;
  /** The production collector for the target, with the short retry policy and timeout. */
  collector(logger: Logger): Collector;
  /** A real change in c: one tag pushed anew. */
  moveC(): void;
  /** What the registry holds now: repository → tag → digest. */
  truth(): Record<string, Record<string, string>>;
  /** Requests (or calls) the registry received for b's tag listing so far. */
  bCalls(): number;
  clearFaults(): void;
  close(): Promise<void>;
}

export type Outcome =
  /** The collector rode the fault out: the scan succeeds. */
  | 'recovers'
  /** b is an error on the scan; a and c are stored. */
  | 'repository-fails'
  /** b vanished between listing and reading: a warning; it is called gone only by the next complete listing. */
  | 'vanishes'
  /** The target as a whole could not be read: nothing is stored, nothing is deleted. */
  | 'target-fails';

export interface FaultCase<H extends FaultHarness = FaultHarness> {
  fault: string;
  /** Extra content the fault needs, added before the baseline scan (e.g. enough images for two pages). */
  seed?(h: H): void;
  /** Makes the registry misbehave; may return a function that ends the fault, when clearFaults cannot. */
  install(h: H): unknown;
  outcome: Outcome;
  /** The cause the error (or warning) must state. */
  cause?: RegExp;
  /** The repository the error names, when it is not b (GAR names the GAR repository before any image is seen). */
  repository?: (h: H) => string;
  /** Exactly this many calls for b's listing during the faulty scan (bounded retries). */
  calls?: number;
  /** A retry of b waited at least this long, as the registry's Retry-After asked (read from the retry log line). */
  retryAfterMs?: number;
  /** The retry log line's message, for retryAfterMs. */
  retryLog?: string;
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms: retries or timeouts are not bounded`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function ledger(db: Database, h: FaultHarness): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const name of Object.values(h.names)) {
    const rows = await currentTags(db, { targetId: h.target.id, repository: name });
    const present = rows.filter((r) => r.present);
    if (present.length) out[name] = Object.fromEntries(present.map((r) => [r.tag, r.digest]));
  }
  return out;
}

async function eventsOf(db: Database, scanId: number): Promise<string[]> {
  const rows = await db
    .select({ repository: repositories.name, tag: tagEvents.tag, kind: tagEvents.kind })
    .from(tagEvents)
    .innerJoin(repositories, eq(repositories.id, tagEvents.repositoryId))
    .where(eq(tagEvents.scanId, scanId));
  return rows.map((r) => `${r.kind} ${r.repository}:${r.tag}`).sort();
}

async function snapshotted(db: Database, h: FaultHarness, scanId: number): Promise<string[]> {
  const rows = await db
    .select({ name: repositories.name })
    .from(repositorySnapshots)
    .innerJoin(repositories, eq(repositories.id, repositorySnapshots.repositoryId))
    .where(and(eq(repositorySnapshots.scanId, scanId), inArray(repositories.name, Object.values(h.names))));
  return rows.map((r) => r.name).sort();
}

/** Runs one row of the matrix. */
export async function runFaultCase<H extends FaultHarness>(db: Database, h: H, c: FaultCase<H>): Promise<void> {
  const logs: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const scan = (what: string): Promise<ScanSummary> => within(SCAN_BOUND_MS, what, runScan(db, h.target, { logger, collector: h.collector(logger) }));
  const { a, b, c: cName } = h.names;

  c.seed?.(h);
  const baseline = await scan('the baseline scan');
  expect(baseline.errors, 'baseline errors').toEqual([]);
  expect(baseline.status).toBe('succeeded');
  const before = await ledger(db, h);
  expect(Object.keys(before).sort()).toEqual([a, b, cName].sort());
  expect(before).toEqual(h.truth());

  h.moveC();
  const callsBefore = h.bCalls();
  const logsBefore = logs.length;
  const endFault = c.install(h);
  const faulty = await scan(`the scan under "${c.fault}"`);
  const calls = h.bCalls() - callsBefore;
  const events = await eventsOf(db, faulty.scanId);
  const after = await ledger(db, h);
  const stored = await snapshotted(db, h, faulty.scanId);
  const [row] = await db.select().from(scans).where(eq(scans.id, faulty.scanId));
  const context = `${h.kind}: ${c.fault}: ${JSON.stringify({ status: faulty.status, errors: faulty.errors, warnings: faulty.warnings, events, calls })}`;

  // The scan row says what the summary says: the error is recorded, not only returned.
  expect(row.status, context).toBe(faulty.status);
  expect(row.errors, context).toEqual(faulty.errors);
  expect(faulty.target).toBe(h.target.id);
  // Nothing about a or b changed because of the fault: no move, no deletion, stored tags untouched.
  expect(events.filter((e) => !e.startsWith(`moved ${cName}:`)), context).toEqual([]);
  expect(after[a], context).toEqual(before[a]);
  expect(after[b], context).toEqual(before[b]);

  const errorRepository = c.repository ? c.repository(h) : b;
  switch (c.outcome) {
    case 'recovers':
      expect(faulty.status, context).toBe('succeeded');
      expect(faulty.errors, context).toEqual([]);
      expect(events, context).toEqual([`moved ${cName}:v1`]);
      expect(stored, context).toEqual([a, b, cName].sort());
      break;
    case 'repository-fails':
      expect(faulty.status, context).toBe('partial');
      expect(faulty.errors, context).toEqual([{ repository: errorRepository, code: 'failed', message: expect.stringMatching(c.cause ?? /./) }]);
      expect(events, context).toEqual([`moved ${cName}:v1`]);
      expect(stored, context).toEqual([a, cName].sort());
      // The log line names the target, the repository and the cause.
      expect(
        logs
          .slice(logsBefore)
          .some((l) => l.target === h.target.id && l.repository === errorRepository && [l.message, l.reason, l.err].some((v) => typeof v === 'string' && (c.cause ?? /./).test(v))),
        `${context}: no log line names target, repository and cause`,
      ).toBe(true);
      break;
    case 'vanishes':
      expect(faulty.status, context).toBe('succeeded');
      expect(faulty.errors, context).toEqual([]);
      expect(faulty.warnings, context).toEqual([{ repository: errorRepository, code: 'vanished', message: expect.stringMatching(c.cause ?? /./) }]);
      expect(events, context).toEqual([`moved ${cName}:v1`]);
      expect(stored, context).toEqual([a, cName].sort());
      break;
    case 'target-fails':
      expect(faulty.status, context).toBe('failed');
      expect(faulty.errors, context).toEqual([expect.objectContaining({ repository: null, code: 'failed', message: expect.stringMatching(c.cause ?? /./) })]);
      expect(events, context).toEqual([]);
      expect(after, context).toEqual(before);
      expect(
        logs.slice(logsBefore).some((l) => l.target === h.target.id && l.level === 50),
        `${context}: no error log line names the target`,
      ).toBe(true);
      break;
  }
  if (c.calls !== undefined) expect(calls, `${context}: calls for b`).toBe(c.calls);
  if (c.retryAfterMs !== undefined) {
    const retries = logs.slice(logsBefore).filter((l) => l.msg === c.retryLog && typeof l.delayMs === 'number');
    expect(retries.length, `${context}: retry log lines`).toBeGreaterThan(0);
    expect(Math.max(...retries.map((l) => l.delayMs as number)), context).toBeGreaterThanOrEqual(c.retryAfterMs);
  }

  // The registry recovers: the next scan brings the ledger back to exactly what it holds.
  h.clearFaults();
  if (typeof endFault === 'function') endFault();
  const healed = await scan('the scan after the fault');
  expect(healed.errors, `${context}: healed`).toEqual([]);
  expect(healed.status).toBe('succeeded');
  const truth = h.truth();
  expect(await ledger(db, h), `${context}: healed ledger`).toEqual(truth);
  // ...recording exactly the differences between what was stored and what the registry holds.
  expect(await eventsOf(db, healed.scanId), `${context}: healed events`).toEqual(differences(after, truth));
}

function differences(stored: Record<string, Record<string, string>>, truth: Record<string, Record<string, string>>): string[] {
  const out: string[] = [];
  for (const repo of new Set([...Object.keys(stored), ...Object.keys(truth)])) {
    const s = stored[repo] ?? {};
    const t = truth[repo] ?? {};
    for (const tag of new Set([...Object.keys(s), ...Object.keys(t)])) {
      if (!(tag in t)) out.push(`deleted ${repo}:${tag}`);
      else if (!(tag in s)) out.push(`created ${repo}:${tag}`);
      else if (s[tag] !== t[tag]) out.push(`moved ${repo}:${tag}`);
    }
  }
  return out.sort();
}

/** A registry with nothing in it scans clean: no error, nothing recorded. */
export async function scanEmptyRegistry(db: Database, h: FaultHarness): Promise<void> {
  const logger = pino({ level: 'silent' });
  const summary = await within(SCAN_BOUND_MS, 'the scan of an empty registry', runScan(db, h.target, { logger, collector: h.collector(logger) }));
  expect(summary).toMatchObject({ status: 'succeeded', repositories: 0, tags: 0, errors: [], warnings: [], events: { created: 0, moved: 0, deleted: 0, restored: 0 } });
}

/**
 * The suite of one collector: every case in a fresh harness against one test database, then a scan
 * of an empty registry. `harness(false)` builds the registry without its seed repositories.
 */
export function describeFaultMatrix<H extends FaultHarness>(name: string, cases: Array<FaultCase<H>>, harness: (seed?: boolean) => Promise<H>): void {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase();
  });
  afterAll(async () => {
    await t?.close();
  });

  describe(name, () => {
    for (const c of cases) {
      it(c.fault, async () => {
        const h = await harness();
        try {
          await runFaultCase(t.db, h, c);
        } finally {
          await h.close();
        }
      });
    }

    it('an empty registry scans clean', async () => {
      const h = await harness(false);
      try {
        await scanEmptyRegistry(t.db, h);
      } finally {
        await h.close();
      }
    });
  });
}
