/**
 * The steps of a no-change re-scan, without a database, in one warm process, taking turns:
 *
 *   floor      the fetch floor (bench/fetch-floor.ts)
 *   collect    the collectors, their results dropped
 *   prepare    the collectors, and each observation's protection verdicts and state hash
 *              (prepareObservation), as a re-scan computes them before it compares
 *   compare    and each repository's finding candidates (repositoryCandidates), as a re-scan
 *              computes them to see whether its findings would change
 *
 * Taking turns in one process cancels most of the machine's drift between steps (up to 30% over
 * minutes here), so the differences between the steps are what a scan adds to the floor, step by
 * step. Each step's garbage collections (count and pause time) are reported with it; run with
 * `node --trace-gc-nvp` to see what each scavenge promoted. Usage: node --import tsx bench/in-process.ts [size, default 0.2 of L] [rounds, default 5]
 */
import { fork } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { planEstate } from './estates.js';
import type { TargetEndpoint } from './estate-server.js';
import { fetchFloor } from './fetch-floor.js';
import { createCollector } from '../src/collectors/index.js';
import type { TargetConfig } from '../src/config/schema.js';
import { prepareObservation, unchangedResult, type StoredRepository } from '../src/store/queries/observations.js';
import { alertingContext, repositoryCandidates } from '../src/alerts/evaluate.js';
import { remediationTarget } from '../src/scheduler/run-scan.js';

const here = dirname(fileURLToPath(import.meta.url));
const size = Number(process.argv[2] ?? 0.2);
const rounds = Number(process.argv[3] ?? 5);
const env = { ...process.env, AWS_ACCESS_KEY_ID: 'AKIABENCHMARK', AWS_SECRET_ACCESS_KEY: 'benchmark-secret', AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
Object.assign(process.env, env);

const server = fork(join(here, 'estate-server.ts'), [JSON.stringify(planEstate('L', size))], { execArgv: ['--import', 'tsx'], env });
const ready = (await new Promise((r) => server.once('message', r))) as { ok: boolean; targets: TargetEndpoint[]; error?: string };
if (!ready.ok) throw new Error(`estate server: ${ready.error}`);
const target = ready.targets[0];
const logger = pino({ level: 'silent' });

const alerting = alertingContext({ notifiers: [{ id: 'bench-webhook' }] });
const remediation = remediationTarget(target.config as unknown as TargetConfig);

async function collect(prepare: boolean, compare = false): Promise<void> {
  const config = target.config as unknown as TargetConfig;
  const collector = await createCollector(config, { logger });
  for await (const r of collector.collect(new AbortController().signal)) {
    if (r.kind === 'observed' && prepare) {
      const prepared = prepareObservation(r.observation);
      if (compare) {
        const stored = { id: 1, protection: r.observation.protection } as StoredRepository;
        repositoryCandidates(alerting, { target: remediation, repository: r.observation.repository, now: new Date(), record: unchangedResult(stored, prepared) });
      }
    }
    if (r.kind === 'error') throw new Error(`${r.repository}: ${r.cause}`);
  }
}

const steps: Record<string, () => Promise<void>> = { floor: () => fetchFloor(target), collect: () => collect(false), prepare: () => collect(true), compare: () => collect(true, true) };
const wall: Record<string, number[]> = {};
/** Garbage collections during each step, all rounds together: count and pause time. */
const gc: Record<string, { count: number; ms: number }> = {};
let current = '';
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const g = (gc[current] ??= { count: 0, ms: 0 });
    g.count++;
    g.ms += e.duration;
  }
});
gcObserver.observe({ entryTypes: ['gc'] });
for (let k = 0; k < rounds; k++) {
  for (const [name, step] of Object.entries(steps)) {
    current = name;
    const started = performance.now();
    await step();
    (wall[name] ??= []).push(performance.now() - started);
    // Let the observer report this step's collections before the next step starts.
    await new Promise((r) => setTimeout(r, 20));
  }
}
gcObserver.disconnect();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const floor = median(wall.floor);
process.stdout.write(`L×${size}, ${rounds} rounds, median wall (each round's steps one after the other):\n`);
for (const [name, xs] of Object.entries(wall)) {
  const ratios = xs.map((x, i) => x / wall.floor[i]);
  const g = gc[name] ?? { count: 0, ms: 0 };
  process.stdout.write(
    `  ${name.padEnd(8)} ${(median(xs) / 1000).toFixed(2)} s  ${(median(xs) / floor).toFixed(2)} × floor (median of the rounds' ratios ${median(ratios).toFixed(2)}); per round ${(g.count / rounds).toFixed(0)} collections, ${(g.ms / rounds).toFixed(0)} ms of GC\n`,
  );
}
server.send({ op: 'close' });
server.once('exit', () => process.exit(0));
