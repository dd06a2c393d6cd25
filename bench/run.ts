/**
 * The benchmark runner (`npm run bench -- [options]`). See bench/README.md.
 *
 * For each estate and database it starts the registry emulators in a process of their own, measures
 * the two floors, then scans: first into an empty database, again with nothing changed, and again
 * after 1% of the tags moved and 0.1% were deleted. Every measured step runs in a fresh process
 * (bench/worker.ts) so its CPU time and peak RSS are its own. Results go to bench/results.json and,
 * as a table, to stdout (and into a Markdown file with --markdown).
 */
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabaseTarget } from '../src/store/db.js';
import { parseSizes, totalTags, type EstatePlan } from './estates.js';
import type { ServerRequest, TargetEndpoint } from './estate-server.js';
import type { Measured, WorkerInput, WorkerOutput } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const SCENARIOS = ['first', 'nochange', 'moved'] as const;
type Scenario = (typeof SCENARIOS)[number];
type DbKind = 'postgres' | 'pglite';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '0.01' },
    db: { type: 'string', default: 'both' },
    scenario: { type: 'string', default: SCENARIOS.join(',') },
    hash: { type: 'string', default: 'both' },
    thread: { type: 'string', default: 'off' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string', default: join(here, 'results.json') },
    markdown: { type: 'string' },
    tsx: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    rescans: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  process.stdout.write(`npm run bench -- [options]
  --size SPEC       L, M, L:<fraction>, M:<fraction>, or a fraction for both (default 0.01); comma-separated list
  --db KIND         pg | pglite | both (default both); PostgreSQL at $DATABASE_URL or postgres://postgres@127.0.0.1:5432/test
  --scenario LIST   first,nochange,moved (default all; later scenarios need the earlier ones and run them)
  --hash MODE       on | off | both (default both: the scenarios again with chain hashing replaced by a constant)
  --thread on|off   collectors in a worker thread, as collectorThreads: true runs them (default off, as the config's default)
  --repeat N        run everything N times and report medians (default 1)
  --rescans N       run the no-change re-scan N times (default 1); every re-scan is compared with the
                    fetch floor measured just before and just after it
  --profile         write V8 CPU profiles of each scan, the fetch floor and the collectors alone to node_modules/.cache/tagledger-bench/profiles/
  --out FILE        results JSON (default bench/results.json)
  --markdown FILE   also write the results table between the result markers of FILE (e.g. BENCHMARKS.md)
  --tsx             run the measured steps through tsx instead of compiling them first (quicker to start;
                    adds about 100 MB of RSS and hides the scan in CPU profiles)
`);
  process.exit(0);
}

const plans = parseSizes(args.size!);
const dbs: DbKind[] = args.db === 'both' ? ['postgres', 'pglite'] : args.db === 'pg' || args.db === 'postgres' ? ['postgres'] : args.db === 'pglite' ? ['pglite'] : usage(`--db ${args.db}`);
const wanted = new Set(args.scenario!.split(',').map((s) => s.trim()));
for (const s of wanted) if (!SCENARIOS.includes(s as Scenario)) usage(`--scenario ${s}`);
const lastWanted = Math.max(...[...wanted].map((s) => SCENARIOS.indexOf(s as Scenario)));
const scenarios = SCENARIOS.slice(0, lastWanted + 1);
const hashModes: boolean[] = args.hash === 'both' ? [true, false] : args.hash === 'on' ? [true] : args.hash === 'off' ? [false] : usage(`--hash ${args.hash}`);
const rescans = Math.max(1, Number(args.rescans));
const pgBase = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

function usage(what: string): never {
  process.stderr.write(`bench: invalid ${what} (see --help)\n`);
  process.exit(3);
}

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Child processes

/**
 * The measured processes run compiled JavaScript, as `tagledger` does when installed: tsc builds
 * src/ and bench/ into node_modules/.cache/tagledger-bench (the repository layout kept, so that
 * migrations and package.json are found where the code expects them).
 */
function build(): { dir: string; execArgv: string[] } {
  if (args.tsx) return { dir: root, execArgv: ['--import', 'tsx'] };
  const dir = join(root, 'node_modules', '.cache', 'tagledger-bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: '../../../tsconfig.json',
      compilerOptions: { rootDir: '../../..', outDir: '.', sourceMap: true, noEmitOnError: false },
      include: ['../../../src', '../../../bench'],
      exclude: ['../../../src/**/*.test.ts'],
    }),
  );
  log('compiling src/ and bench/ for the measured processes');
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], { stdio: 'pipe' });
  } catch {
    // Type errors elsewhere in the tree do not stop the emit; a missing output does.
  }
  if (!existsSync(join(dir, 'bench', 'worker.js'))) throw new Error('compiling for the benchmark produced no bench/worker.js');
  writeFileSync(join(dir, 'package.json'), readFileSync(join(root, 'package.json')));
  if (!existsSync(join(dir, 'migrations'))) symlinkSync(join(root, 'migrations'), join(dir, 'migrations'));
  return { dir, execArgv: [] };
}

let compiled: { dir: string; execArgv: string[] };
const profileDir = join(root, 'node_modules', '.cache', 'tagledger-bench', 'profiles');
const script = (name: string) => join(compiled.dir, 'bench', args.tsx ? `${name}.ts` : `${name}.js`);

const workerEnv = {
  ...process.env,
  // The ECR emulator wants a SigV4 signature, not real credentials.
  AWS_ACCESS_KEY_ID: 'AKIABENCHMARK',
  AWS_SECRET_ACCESS_KEY: 'benchmark-secret',
  AWS_SESSION_TOKEN: '',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

class EstateServer {
  private waiting: Array<(m: Record<string, unknown>) => void> = [];
  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m) => this.waiting.shift()?.(m as Record<string, unknown>));
  }

  static async start(plan: EstatePlan): Promise<{ server: EstateServer; targets: TargetEndpoint[] }> {
    const child = fork(script('estate-server'), [JSON.stringify(plan)], { execArgv: compiled.execArgv, env: workerEnv });
    const server = new EstateServer(child);
    const ready = await server.next();
    return { server, targets: ready.targets as TargetEndpoint[] };
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolvePromise, reject) => {
      const onExit = (code: number | null) => reject(new Error(`estate server exited (${code})`));
      this.child.once('exit', onExit);
      this.waiting.push((m) => {
        this.child.off('exit', onExit);
        if (m.ok) resolvePromise(m);
        else reject(new Error(`estate server: ${String(m.error)}`));
      });
    });
  }

  async ask<T = Record<string, unknown>>(req: ServerRequest): Promise<T> {
    const answer = this.next();
    this.child.send(req);
    return (await answer) as T;
  }

  async close(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    await this.ask({ op: 'close' }).catch(() => undefined);
    await exited;
  }
}

async function runWorker(input: WorkerInput, opts: { hashing: boolean; profileName?: string }): Promise<WorkerOutput> {
  const execArgv = [...compiled.execArgv];
  // Every thread writes a profile (V8 names them CPU.<date>.<time>.<pid>.<thread>.<seq>); they are
  // renamed after the step: <name>.cpuprofile for the main thread, <name>.thread-<n>.cpuprofile.
  const stepDir = opts.profileName ? mkdtempSync(join(tmpdir(), 'tagledger-profile-')) : null;
  if (stepDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${stepDir}`);
  const child = fork(script('worker'), [JSON.stringify(input)], { execArgv, env: { ...workerEnv, TAGLEDGER_BENCH_HASH: opts.hashing ? 'on' : 'off', TAGLEDGER_BENCH_THREAD: args.thread === 'on' ? 'on' : 'off' } });
  return new Promise((resolvePromise, reject) => {
    let answer: { ok: boolean; output?: WorkerOutput; error?: string } | null = null;
    child.on('message', (m) => (answer = m as typeof answer));
    child.on('exit', (code) => {
      if (stepDir) {
        mkdirSync(profileDir, { recursive: true });
        for (const f of readdirSync(stepDir)) {
          const thread = Number(f.split('.')[4]);
          renameSync(join(stepDir, f), join(profileDir, `${opts.profileName}${thread ? `.thread-${thread}` : ''}.cpuprofile`));
        }
        rmSync(stepDir, { recursive: true, force: true });
      }
      if (answer?.ok) resolvePromise(answer.output!);
      else reject(new Error(`worker ${input.mode} failed (exit ${code}): ${answer?.error ?? 'no answer'}`));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Databases

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: pgBase });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

interface FreshDatabase {
  target: DatabaseTarget;
  drop(): Promise<void>;
}

async function freshDatabase(kind: DbKind): Promise<FreshDatabase> {
  if (kind === 'postgres') {
    const name = `tagledger_bench_${Date.now()}_${randomBytes(3).toString('hex')}`;
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
    const url = new URL(pgBase);
    url.pathname = `/${name}`;
    return { target: { kind: 'postgres', url: url.toString() }, drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tagledger-bench-'));
  return { target: { kind: 'pglite', path: join(dir, 'db') }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Lets the PostgreSQL server finish what earlier steps left it (the write floor's COPY, a dropped
 * database, autovacuum after a scan) before a scan is timed: a checkpoint, then until no autovacuum
 * worker is busy (at most a minute). Runs whichever database is measured: a busy server competes
 * for the same two cores as PGlite too.
 */
async function settle(): Promise<void> {
  try {
    await admin(async (c) => {
      await c.query('CHECKPOINT');
      for (let i = 0; i < 120; i++) {
        const busy = await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND state IS DISTINCT FROM 'idle'");
        if ((busy.rows[0] as { n: number }).n === 0) break;
        await new Promise((r) => setTimeout(r, 500));
      }
    });
  } catch {
    // No PostgreSQL server (a PGlite-only run on a machine without one): nothing to wait for.
  }
}

// ---------------------------------------------------------------------------------------------
// Machine and load

function machine() {
  const pgVersion = (() => {
    try {
      return execFileSync('psql', [pgBase, '-tAc', 'SHOW server_version'], { encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  })();
  const pglite = JSON.parse(readFileSync(join(root, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')) as { version: string };
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    postgres: pgVersion,
    pglite: pglite.version,
    os: `${process.platform} ${process.arch}`,
  };
}

/** The 1-minute load average and how many vitest processes share the machine right now. */
function load(): { loadavg1: number; vitestProcesses: number; freeMemGb: number } {
  let vitest = 0;
  try {
    vitest = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => /vitest/.test(l)).length;
  } catch {
    /* no ps */
  }
  return { loadavg1: Math.round(loadavg()[0] * 100) / 100, vitestProcesses: vitest, freeMemGb: Math.round((freemem() / 2 ** 30) * 10) / 10 };
}

// ---------------------------------------------------------------------------------------------
// The run

interface ScenarioResult {
  scenario: Scenario;
  hashing: boolean;
  measured: Measured;
  requests: { actual: Record<string, number>; expected: Record<string, number>; exact: boolean };
  registryCpuMs: number;
  rowsWritten: Record<string, number>;
  rowsWrittenTotal: number;
  scans: WorkerOutput['scans'];
  changes?: Record<string, { moved: number; deleted: number }>;
  load: ReturnType<typeof load>;
  /**
   * Re-scans: each one with the fetch floor measured just before and just after it, so that it is
   * compared with the machine's speed of that minute (it drifts by up to 30% over minutes).
   */
  paired?: Array<{ scan: Measured; floorBefore: Measured; floorAfter: Measured }>;
}

interface RunResult {
  estate: string;
  db: DbKind;
  repositories: number;
  tags: number;
  floors?: {
    fetch: Measured;
    collect: Measured & { repositories: number; tags: number };
    write: { copyMs: number; tags: number; events: number; method: string; measured: Measured };
  };
  scenarios: ScenarioResult[];
}

async function requestCounts(server: EstateServer): Promise<{ requests: Record<string, number>; cpuMs: number }> {
  const r = await server.ask<{ requests: Record<string, number>; cpu: { user: number; system: number } }>({ op: 'requests' });
  return { requests: r.requests, cpuMs: (r.cpu.user + r.cpu.system) / 1000 };
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const diff = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]));

async function runEstate(plan: EstatePlan, db: DbKind, results: RunResult[], repetition: number): Promise<void> {
  const repositories = plan.targets.reduce((n, t) => n + t.repositories, 0);
  let floors: RunResult['floors'];
  // Every other repetition runs the modes the other way round, so that neither mode always comes
  // first (right after the floors) and medians compare like with like.
  const modes = repetition % 2 === 1 ? hashModes : [...hashModes].reverse();
  for (const hashing of modes) {
    const run: RunResult = { estate: plan.label, db, repositories, tags: totalTags(plan), scenarios: [] };
    results.push(run);
    log(`${plan.label} on ${db}, hashing ${hashing ? 'on' : 'off'}: starting the emulators (${run.tags.toLocaleString('en')} tags)`);
    const { server, targets } = await EstateServer.start(plan);
    const cleanups: Array<() => Promise<void>> = [];
    try {
      if (!floors) {
        log('  fetch floor');
        const before = await requestCounts(server);
        const profileName = (step: string) => (args.profile ? `${plan.label}-${db}-${step}`.replace(/[^A-Za-z0-9.-]/g, '_') : undefined);
        const fetch = await runWorker({ mode: 'fetch', targets }, { hashing, profileName: profileName('fetch-floor') });
        const afterFetch = await requestCounts(server);
        log(`  fetch floor ${(fetch.measured.wallMs / 1000).toFixed(2)} s, ${sum(diff(before.requests, afterFetch.requests))} requests; collectors alone`);
        const collect = await runWorker({ mode: 'collect', targets }, { hashing, profileName: profileName('collectors-alone') });
        const afterCollect = await requestCounts(server);
        log(`  collectors alone ${(collect.measured.wallMs / 1000).toFixed(2)} s, ${sum(diff(afterFetch.requests, afterCollect.requests))} requests`);
        const dumpDir = mkdtempSync(join(tmpdir(), 'tagledger-bench-rows-'));
        cleanups.push(async () => rmSync(dumpDir, { recursive: true, force: true }));
        await server.ask({ op: 'dump', dir: dumpDir });
        const floorDb = await freshDatabase(db);
        cleanups.push(floorDb.drop);
        log('  write floor');
        const write = await runWorker({ mode: 'write', targets, db: floorDb.target, dumpDir }, { hashing });
        await floorDb.drop();
        floors = {
          fetch: fetch.measured,
          collect: { ...collect.measured, ...collect.collected!, tags: collect.collected!.tags },
          write: { copyMs: write.write!.ms, tags: write.write!.tags, events: write.write!.events, method: write.write!.method, measured: write.measured },
        };
        log(`  write floor ${(floors.write.copyMs / 1000).toFixed(2)} s (${floors.write.method})`);
      }
      run.floors = floors;
      const database = await freshDatabase(db);
      cleanups.push(database.drop);
      for (const scenario of scenarios) {
        let changes: ScenarioResult['changes'];
        if (scenario === 'moved') {
          changes = (await server.ask<{ changes: Record<string, { moved: number; deleted: number }> }>({ op: 'mutate', moved: 0.01, deleted: 0.001, seed: 42 })).changes;
        }
        const expected = (await server.ask<{ expected: Record<string, number> }>({ op: 'expected' })).expected;
        const paired: NonNullable<ScenarioResult['paired']> = [];
        const adjacentFloor = async () => (await runWorker({ mode: 'fetch', targets }, { hashing })).measured;
        // A re-scan is compared with the fetch floor measured right before and right after it.
        const floorBefore = scenario === 'first' ? null : await adjacentFloor();
        await settle();
        const before = await requestCounts(server);
        const loadBefore = load();
        log(`  ${scenario} scan (load ${loadBefore.loadavg1}, ${loadBefore.vitestProcesses} vitest processes)`);
        const out = await runWorker(
          { mode: 'scan', targets, db: database.target },
          { hashing, profileName: args.profile ? `${plan.label}-${db}-${scenario}-${hashing ? 'hash' : 'nohash'}`.replace(/[^A-Za-z0-9.-]/g, '_') : undefined },
        );
        const after = await requestCounts(server);
        if (floorBefore) {
          paired.push({ scan: out.measured, floorBefore, floorAfter: await adjacentFloor() });
          log(`  ${scenario}: fetch floor ${(floorBefore.wallMs / 1000).toFixed(2)} s before, ${(paired[0].floorAfter.wallMs / 1000).toFixed(2)} s after`);
        }
        for (let k = 1; scenario === 'nochange' && k < rescans; k++) {
          const fb = await adjacentFloor();
          await settle();
          const again = await runWorker({ mode: 'scan', targets, db: database.target }, { hashing });
          const fa = await adjacentFloor();
          paired.push({ scan: again.measured, floorBefore: fb, floorAfter: fa });
          log(`  nochange again: ${(again.measured.wallMs / 1000).toFixed(2)} s wall, ${again.measured.peakRssMb.toFixed(0)} MB; fetch floor ${(fb.wallMs / 1000).toFixed(2)} s before, ${(fa.wallMs / 1000).toFixed(2)} s after`);
        }
        const actual = diff(before.requests, after.requests);
        const rowsWrittenTotal = Object.values(out.rowsWritten!).reduce((a, b) => a + b, 0);
        const result: ScenarioResult = {
          scenario,
          hashing,
          measured: out.measured,
          requests: { actual, expected, exact: Object.keys(expected).every((k) => expected[k] === actual[k]) },
          registryCpuMs: after.cpuMs - before.cpuMs,
          rowsWritten: out.rowsWritten!,
          rowsWrittenTotal,
          scans: out.scans,
          changes,
          load: loadBefore,
          ...(paired.length ? { paired } : {}),
        };
        for (const s of out.scans!) if (s.status !== 'succeeded') log(`  WARNING: ${s.target} scan ${s.status} (${s.errors} errors)`);
        log(`  ${scenario}: ${(out.measured.wallMs / 1000).toFixed(2)} s wall, ${((out.measured.cpuUserMs + out.measured.cpuSystemMs) / 1000).toFixed(2)} s CPU, ${out.measured.peakRssMb.toFixed(0)} MB peak RSS, ${rowsWrittenTotal} rows written, requests ${result.requests.exact ? 'exact' : `NOT as expected ${JSON.stringify({ actual, expected })}`}`);
        if (wanted.has(scenario)) run.scenarios.push(result);
      }
    } finally {
      await server.close();
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Output: medians over repetitions

const s = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
const cpuOf = (m: Measured) => m.cpuUserMs + m.cpuSystemMs;
const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

interface Summary {
  estate: string;
  db: DbKind;
  tags: number;
  hashing: boolean;
  runs: number;
  fetchMs: number;
  fetchCpuMs: number;
  collectMs: number;
  collectCpuMs: number;
  collectRssMb: number;
  writeMs: number;
  writeMethod: string;
  scenarios: Array<{
    scenario: Scenario;
    label: string;
    wallMs: number;
    cpuMs: number;
    /** The largest of the repetitions. */
    peakRssMb: number;
    requests: number;
    expected: number;
    exact: boolean;
    rowsWritten: Record<string, number>;
    rowsWrittenTotal: number;
    wallsMs: number[];
    /** Re-scans: the fetch floor next to them (median of the before/after means), and the median of their ratios to it. */
    adjacent?: { floorMs: number; ratio: number; scans: number };
  }>;
}

/** One line per estate, database and hashing mode: medians of the repetitions (peak RSS: the largest). */
function summarise(results: RunResult[]): Summary[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of results) {
    const hashing = r.scenarios[0]?.hashing ?? true;
    const key = `${r.estate}|${r.db}|${hashing}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const out: Summary[] = [];
  for (const runs of groups.values()) {
    const r0 = runs[0];
    const f = runs.map((r) => r.floors!);
    out.push({
      estate: r0.estate,
      db: r0.db,
      tags: r0.tags,
      hashing: r0.scenarios[0]?.hashing ?? true,
      runs: runs.length,
      fetchMs: median(f.map((x) => x.fetch.wallMs)),
      fetchCpuMs: median(f.map((x) => cpuOf(x.fetch))),
      collectMs: median(f.map((x) => x.collect.wallMs)),
      collectCpuMs: median(f.map((x) => cpuOf(x.collect))),
      collectRssMb: Math.max(...f.map((x) => x.collect.peakRssMb)),
      writeMs: median(f.map((x) => x.write.copyMs)),
      writeMethod: f[0].write.method,
      scenarios: r0.scenarios.map((sc0, i) => {
        const all = runs.map((r) => r.scenarios[i]);
        const total = (x: Record<string, number>) => Object.values(x).reduce((a, b) => a + b, 0);
        const pairs = all.flatMap((x) => x.paired ?? []);
        const floorOf = (p: (typeof pairs)[number]) => (p.floorBefore.wallMs + p.floorAfter.wallMs) / 2;
        const scansMeasured = pairs.length ? pairs.map((p) => p.scan) : all.map((x) => x.measured);
        return {
          scenario: sc0.scenario,
          label: label(sc0),
          wallMs: median(scansMeasured.map((x) => x.wallMs)),
          cpuMs: median(scansMeasured.map((x) => cpuOf(x))),
          peakRssMb: Math.max(...scansMeasured.map((x) => x.peakRssMb)),
          ...(pairs.length ? { adjacent: { floorMs: median(pairs.map(floorOf)), ratio: median(pairs.map((p) => p.scan.wallMs / floorOf(p))), scans: pairs.length } } : {}),
          requests: total(sc0.requests.actual),
          expected: total(sc0.requests.expected),
          exact: all.every((x) => x.requests.exact),
          rowsWritten: sc0.rowsWritten,
          rowsWrittenTotal: sc0.rowsWrittenTotal,
          wallsMs: scansMeasured.map((x) => x.wallMs),
        };
      }),
    });
  }
  return out;
}

function table(sums: Summary[]): string {
  const lines = [
    '| estate | database | scenario | hashing | wall s | CPU s | peak RSS MB | registry requests | rows written | fetch floor s | write floor s | wall / floor |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const r of sums) {
    for (const sc of r.scenarios) {
      const fetchMs = sc.adjacent?.floorMs ?? r.fetchMs;
      const ratio = sc.adjacent?.ratio ?? sc.wallMs / (sc.scenario === 'first' ? r.fetchMs + r.writeMs : r.fetchMs);
      const runs = sc.adjacent && sc.adjacent.scans > 1 ? `, median of ${sc.adjacent.scans}` : '';
      lines.push(
        `| ${r.estate} (${r.tags.toLocaleString('en')} tags) | ${r.db} | ${sc.label} | ${r.hashing ? 'on' : 'off'} | ${s(sc.wallMs)} | ${s(sc.cpuMs)} | ${sc.peakRssMb.toFixed(0)} | ${sc.requests.toLocaleString('en')} (${sc.exact ? 'exact' : `expected ${sc.expected.toLocaleString('en')}`}) | ${sc.rowsWrittenTotal.toLocaleString('en')} | ${s(fetchMs)} | ${sc.scenario === 'first' ? s(r.writeMs) : '–'} | ${ratio.toFixed(2)} × ${sc.scenario === 'first' ? '(fetch + write)' : `fetch${runs}`} |`,
      );
    }
  }
  return lines.join('\n');
}

function label(sc: ScenarioResult): string {
  if (sc.scenario === 'first') return 'first scan';
  if (sc.scenario === 'nochange') return 'no change';
  const c = Object.values(sc.changes ?? {}).reduce((a, b) => ({ moved: a.moved + b.moved, deleted: a.deleted + b.deleted }), { moved: 0, deleted: 0 });
  return `${c.moved.toLocaleString('en')} moved, ${c.deleted.toLocaleString('en')} deleted`;
}

/** Rows written per table, the floors, what hashing costs, and PGlite against PostgreSQL. */
function details(sums: Summary[]): string {
  const tables = ['scans', 'targets', 'repositories', 'repository_events', 'repository_snapshots', 'tags', 'tag_events', 'findings', 'alerts'];
  const rowLines = ['| estate | database | scenario | ' + tables.join(' | ') + ' |', '| --- | --- | --- | ' + tables.map(() => '---:').join(' | ') + ' |'];
  for (const r of sums.filter((x) => x.hashing)) for (const sc of r.scenarios) rowLines.push(`| ${r.estate} | ${r.db} | ${sc.label} | ${tables.map((t) => (sc.rowsWritten[t] ?? 0).toLocaleString('en')).join(' | ')} |`);

  const floorLines = ['| estate | database | fetch floor s (CPU s) | collectors alone s (CPU s, peak RSS MB) | write floor s | write floor method |', '| --- | --- | ---: | ---: | ---: | --- |'];
  for (const r of sums.filter((x) => x.hashing)) {
    floorLines.push(`| ${r.estate} | ${r.db} | ${s(r.fetchMs)} (${s(r.fetchCpuMs)}) | ${s(r.collectMs)} (${s(r.collectCpuMs)}, ${r.collectRssMb.toFixed(0)}) | ${s(r.writeMs)} | ${r.writeMethod} |`);
  }

  const costLines = ['| estate | database | scenario | wall, hashing on / off s | CPU, hashing on / off s | hashing costs (wall) | hashing costs (CPU) |', '| --- | --- | --- | ---: | ---: | ---: | ---: |'];
  for (const on of sums.filter((x) => x.hashing)) {
    const off = sums.find((x) => !x.hashing && x.estate === on.estate && x.db === on.db);
    if (!off) continue;
    for (const sc of on.scenarios) {
      const o = off.scenarios.find((x) => x.scenario === sc.scenario);
      if (!o) continue;
      const pct = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(1)}%`;
      costLines.push(`| ${on.estate} | ${on.db} | ${sc.label} | ${s(sc.wallMs)} / ${s(o.wallMs)} | ${s(sc.cpuMs)} / ${s(o.cpuMs)} | ${pct(sc.wallMs, o.wallMs)} | ${pct(sc.cpuMs, o.cpuMs)} |`);
    }
  }

  const liteLines = ['| estate | scenario | PostgreSQL s | PGlite s | PGlite / PostgreSQL | PGlite peak RSS MB |', '| --- | --- | ---: | ---: | ---: | ---: |'];
  for (const lite of sums.filter((x) => x.hashing && x.db === 'pglite')) {
    const pgSum = sums.find((x) => x.hashing && x.db === 'postgres' && x.estate === lite.estate);
    if (!pgSum) continue;
    for (const sc of lite.scenarios) {
      const p = pgSum.scenarios.find((x) => x.scenario === sc.scenario);
      if (p) liteLines.push(`| ${lite.estate} | ${sc.label} | ${s(p.wallMs)} | ${s(sc.wallMs)} | ${(sc.wallMs / p.wallMs).toFixed(2)} | ${sc.peakRssMb.toFixed(0)} |`);
    }
  }
  const parts = [`Rows written per table (inserted or updated):\n\n${rowLines.join('\n')}`, `Floors:\n\n${floorLines.join('\n')}`];
  if (costLines.length > 2) parts.push(`What hash-chaining costs (the same run with the chain hash replaced by a constant):\n\n${costLines.join('\n')}`);
  if (liteLines.length > 2) parts.push(`PGlite against PostgreSQL:\n\n${liteLines.join('\n')}`);
  return parts.join('\n\n');
}

async function main(): Promise<void> {
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const startedAt = new Date().toISOString();
  const m = machine();
  const loadAtStart = load();
  log(`machine: ${m.cpus} CPUs, ${m.memoryGb} GB, node ${m.node}, PostgreSQL ${m.postgres ?? '(none)'}, PGlite ${m.pglite}; load ${loadAtStart.loadavg1}, ${loadAtStart.vitestProcesses} vitest processes`);
  compiled = build();
  const results: RunResult[] = [];
  const repeat = Math.max(1, Number(args.repeat));
  for (let i = 1; i <= repeat; i++) {
    if (repeat > 1) log(`repetition ${i} of ${repeat}`);
    for (const plan of plans) for (const db of dbs) await runEstate(plan, db, results, i);
  }
  const sums = summarise(results);
  const doc = { command, startedAt, finishedAt: new Date().toISOString(), machine: m, loadAtStart, loadAtEnd: load(), summary: sums, results };
  writeFileSync(args.out!, `${JSON.stringify(doc, null, 2)}\n`);
  const md =
    `${table(sums)}\n\n` +
    'The fetch floor of a first scan is the one measured at the start of the run (table "Floors"); a re-scan is compared with the fetch floor measured right before and right after it (their mean), and with several re-scans the ratio is the median of theirs.\n\n' +
    `${details(sums)}\n`;
  process.stdout.write(`\n${md}`);
  log(`results: ${relative(process.cwd(), args.out!)}`);
  if (args.markdown) {
    const file = resolve(args.markdown);
    const start = '<!-- bench:results:start -->';
    const end = '<!-- bench:results:end -->';
    const text = existsSync(file) ? readFileSync(file, 'utf8') : `${start}\n${end}\n`;
    const i = text.indexOf(start);
    const j = text.indexOf(end);
    if (i < 0 || j < i) throw new Error(`${args.markdown} has no ${start} … ${end} markers`);
    const loads = [...new Set(results.flatMap((r) => r.scenarios.map((sc) => sc.load.loadavg1)))];
    const block =
      `${start}\n` +
      `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGb} GB, ${m.os}, Node ${m.node}, PostgreSQL ${m.postgres} on loopback, PGlite ${m.pglite}.  \n` +
      `Command: \`${command}\`, ${startedAt.slice(0, 16).replace('T', ' ')} UTC; ${repeat > 1 ? `medians of ${repeat} repetitions (peak RSS: the largest)` : 'one repetition'}.  \n` +
      `Load (1-minute average) at the start ${loadAtStart.loadavg1} with ${loadAtStart.vitestProcesses} vitest processes, at the end ${doc.loadAtEnd.loadavg1} with ${doc.loadAtEnd.vitestProcesses}; before the scans between ${Math.min(...loads)} and ${Math.max(...loads)}.\n\n` +
      `${md}${end}`;
    writeFileSync(file, text.slice(0, i) + block + text.slice(j + end.length));
    log(`table written into ${relative(process.cwd(), file)}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
