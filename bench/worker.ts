/**
 * One measured step of the benchmark, in a fresh process (forked by bench/run.ts) so that its CPU
 * time and peak RSS are its own:
 *
 *   fetch    the fetch floor (bench/fetch-floor.ts)
 *   collect  the collectors alone, results thrown away (no database)
 *   write    the write floor (bench/write-floor.ts)
 *   scan     runScan for every target of the estate, as `tagledger scan` does, into the given database
 *
 * With TAGLEDGER_BENCH_HASH=off the hash chain's hash is replaced by a constant, so that a run with
 * and one without measure what hashing costs. It exists for the benchmark only: nothing else reads it.
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { ChainCursor } from '../src/audit/chain.js';
import { alertingContext } from '../src/alerts/evaluate.js';
import type { TargetConfig } from '../src/config/schema.js';
import { openDatabase, type Database, type DatabaseTarget } from '../src/store/db.js';
import { runScan } from '../src/scheduler/run-scan.js';
import { createThreadedCollector, prepareCollectorThreads } from '../src/collectors/thread/host.js';
import type { TargetEndpoint } from './estate-server.js';
import { tagColumns } from '../src/collectors/columns.js';
import { writeFloor } from './write-floor.js';

export interface WorkerInput {
  mode: 'fetch' | 'collect' | 'write' | 'scan';
  targets: TargetEndpoint[];
  db?: DatabaseTarget;
  /** write: the directory of COPY files. */
  dumpDir?: string;
}

export interface Measured {
  wallMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Largest RSS sampled every 50 ms while the step ran. */
  peakRssMb: number;
  /** The process's high-water mark (VmHWM), process start included. */
  hwmMb: number | null;
  /** V8 heap and off-heap memory when RSS peaked. */
  atPeak: { heapTotalMb: number; heapUsedMb: number; externalMb: number; arrayBuffersMb: number };
}

export interface WorkerOutput {
  measured: Measured;
  /** write: COPY time alone (the floor), rows, method. */
  write?: { ms: number; tags: number; events: number; method: string };
  /** scan: per target summary. */
  scans?: Array<{ target: string; status: string; repositories: number; tags: number; events: Record<string, number>; errors: number; findingsOpened: number; alertsQueued: number }>;
  /** scan: rows inserted or updated per table (live tuples written by the scan's transactions). */
  rowsWritten?: Record<string, number>;
  /** collect: what the collectors yielded. */
  collected?: { repositories: number; tags: number; errors: number };
  hashing: boolean;
}

const hashing = process.env.TAGLEDGER_BENCH_HASH !== 'off';
/** Collectors in a worker thread (config `collectorThreads: true`) when TAGLEDGER_BENCH_THREAD=on. */
const thread = process.env.TAGLEDGER_BENCH_THREAD === 'on';
if (!hashing) {
  const constant = '0'.repeat(64);
  ChainCursor.prototype.append = function (this: ChainCursor) {
    this.seq += 1;
    this.head = constant;
    return { seq: this.seq, hash: constant };
  };
}

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const TABLES = ['targets', 'scans', 'repositories', 'repository_events', 'repository_snapshots', 'tags', 'tag_events', 'findings', 'alerts'];

function vmHwmMb(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function measure<T>(fn: () => Promise<T>): Promise<{ measured: Measured; value: T }> {
  let peak = 0;
  let atPeak = process.memoryUsage();
  const sample = () => {
    const rss = process.memoryUsage.rss();
    if (rss > peak) {
      peak = rss;
      atPeak = process.memoryUsage();
    }
  };
  sample();
  const timer = setInterval(sample, 50);
  const cpu = process.cpuUsage();
  const started = performance.now();
  try {
    const value = await fn();
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    sample();
    const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;
    return {
      value,
      measured: {
        wallMs,
        cpuUserMs: used.user / 1000,
        cpuSystemMs: used.system / 1000,
        peakRssMb: peak / 2 ** 20,
        hwmMb: vmHwmMb(),
        atPeak: { heapTotalMb: mb(atPeak.heapTotal), heapUsedMb: mb(atPeak.heapUsed), externalMb: mb(atPeak.external), arrayBuffersMb: mb(atPeak.arrayBuffers) },
      },
    };
  } finally {
    clearInterval(timer);
  }
}

async function rows<T>(db: Database, query: ReturnType<typeof sql>): Promise<T[]> {
  return ((await db.execute(query)) as unknown as { rows: T[] }).rows;
}

/**
 * Rows the scan wrote, per table: live tuples whose xmin is a transaction started after `after`.
 * Exact on both databases (no statistics collector involved); a row inserted then updated counts once.
 */
async function rowsWrittenSince(db: Database, after: bigint): Promise<Record<string, number>> {
  const xid = after % 2n ** 32n;
  const out: Record<string, number> = {};
  for (const t of TABLES) {
    const [r] = await rows<{ n: number }>(db, sql.raw(`SELECT count(*)::int AS n FROM ${t} WHERE xmin::text::bigint > ${xid}`));
    out[t] = Number(r.n);
  }
  return out;
}

/**
 * runScan loads the collectors (and their SDKs) on first use, once per process: about half a
 * second that `tagledger serve` pays once and the fetch floor pays before it is timed. Loaded here
 * first, so that the timed scan is the scan.
 */
async function warmUp(targets: TargetEndpoint[]): Promise<void> {
  if (thread) await prepareCollectorThreads([...new Set(targets.map((t) => t.kind))]);
  else {
    const { loadCollectorFactory } = await import('../src/collectors/index.js');
    await Promise.all([...new Set(targets.map((t) => t.kind))].map((kind) => loadCollectorFactory(kind)));
  }
}

async function scan(input: WorkerInput): Promise<WorkerOutput> {
  await warmUp(input.targets);
  const open = await openDatabase(input.db!, { migrate: true, purpose: 'benchmark' });
  try {
    const [before] = await rows<{ x: string }>(open.db, sql`SELECT txid_current()::text AS x`);
    const alerting = alertingContext({ notifiers: [{ id: 'bench-webhook' }] });
    const { measured, value } = await measure(async () => {
      const out: NonNullable<WorkerOutput['scans']> = [];
      for (const t of input.targets) {
        const s = await runScan(open.db, t.config as unknown as TargetConfig, { logger, alerting, thread });
        out.push({ target: s.target, status: s.status, repositories: s.repositories, tags: s.tags, events: s.events, errors: s.errors.length, findingsOpened: s.findingsOpened, alertsQueued: s.alertsQueued });
        if (s.errors.length) process.stderr.write(`${s.target}: ${JSON.stringify(s.errors.slice(0, 3))}\n`);
      }
      return out;
    });
    const rowsWritten = await rowsWrittenSince(open.db, BigInt(before.x));
    return { measured, scans: value, rowsWritten, hashing };
  } finally {
    await open.close();
  }
}

async function collect(input: WorkerInput): Promise<WorkerOutput> {
  await warmUp(input.targets);
  const { measured, value } = await measure(async () => {
    const c = { repositories: 0, tags: 0, errors: 0 };
    for (const t of input.targets) {
      // As a scan reads them: in a collector thread, decoded on this one.
      const config = t.config as unknown as TargetConfig;
      const collector = thread ? createThreadedCollector(config, { logger }) : await (await import('../src/collectors/index.js')).createCollector(config, { logger });
      for await (const r of collector.collect(new AbortController().signal)) {
        if (r.kind === 'observed') {
          c.repositories++;
          // Counted from the columns a collector may hand over, without building the tag objects.
          c.tags += tagColumns(r.observation).count;
        } else if (r.kind === 'error') c.errors++;
      }
      await collector.close?.();
    }
    return c;
  });
  return { measured, collected: value, hashing };
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2]) as WorkerInput;
  let out: WorkerOutput;
  switch (input.mode) {
    case 'fetch': {
      // Loaded here, not with the worker: fetch-floor.ts holds every kind's client (the Google
      // SDK among them), which a scan of ECR targets alone never loads.
      const { fetchFloor } = await import('./fetch-floor.js');
      const { measured } = await measure(async () => {
        for (const t of input.targets) await fetchFloor(t);
      });
      out = { measured, hashing };
      break;
    }
    case 'collect':
      out = await collect(input);
      break;
    case 'write': {
      const { measured, value } = await measure(() => writeFloor(input.db!, input.dumpDir!, input.targets.map((t) => t.id)));
      out = { measured, write: value, hashing };
      break;
    }
    case 'scan':
      out = await scan(input);
      break;
  }
  process.send!({ ok: true, output: out });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.send?.({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  },
);
