/**
 * Collectors in a worker thread (`collectorThreads: true`): the ECR emulator over loopback, the real
 * AWS SDK inside the thread, the results decoded on the scan's thread and stored as any scan stores
 * them.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TargetConfig } from '../../src/config/schema.js';
import { createCollector } from '../../src/collectors/index.js';
import { closeCollectorThreads, createThreadedCollector } from '../../src/collectors/thread/host.js';
import type { RepositoryResult } from '../../src/collectors/types.js';
import { startEcrEmulator, type EcrEmulator } from '../../src/emulators/ecr/index.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { stubAwsCredentials } from '../helpers/aws.js';

const logger = pino({ level: 'silent' });
const DESCRIBE_IMAGES = 'AmazonEC2ContainerRegistry_V20150921.DescribeImages';

let emu: EcrEmulator;
let t: TestDatabase;
let target: TargetConfig;

beforeEach(async () => {
  stubAwsCredentials('AKIAINTEGRATION', 'integration-secret');
  emu = await startEcrEmulator();
  t = await openTestDatabase();
  target = { id: 'prod-ecr', kind: 'ecr', region: 'us-east-1', endpoint: emu.url, insecureSkipTlsVerify: false } as TargetConfig;
  const e = emu.estate;
  e.createRepository('payments/api', { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', filters: ['dev-*'] });
  e.createRepository('tools', { imageTagMutability: 'MUTABLE' });
  e.createRepository('big', { imageTagMutability: 'IMMUTABLE' });
  e.createRepository('denied');
  e.pushImage('payments/api', { tag: 'v1.0.0' });
  e.pushImage('payments/api', { tag: 'dev-1' });
  e.pushImage('tools', { tag: 'latest' });
  e.archiveImage('tools', e.pushImage('tools', { tag: 'stable' }));
  e.addImages('big', 1500); // two DescribeImages pages
  e.denyRepository('denied');
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await emu.close();
  await t.close();
});

afterAll(() => closeCollectorThreads());

async function collectAll(results: AsyncIterable<RepositoryResult>): Promise<RepositoryResult[]> {
  const out: RepositoryResult[] = [];
  for await (const r of results) out.push(r);
  // Repositories are read four at a time: their order is the order they finish in.
  const key = (r: RepositoryResult) => (r.kind === 'observed' ? r.observation.repository : r.kind === 'error' ? (r.repository ?? '') : '');
  return out.sort((a, b) => a.kind.localeCompare(b.kind) || key(a).localeCompare(key(b)));
}

describe('collector threads', () => {
  it('read exactly what the collector reads on the scan’s own thread', async () => {
    const signal = new AbortController().signal;
    const here = await collectAll((await createCollector(target, { logger })).collect(signal));
    const threaded = await collectAll(createThreadedCollector(target, { logger }).collect(signal));
    expect(threaded).toEqual(here);
    const big = threaded.find((r) => r.kind === 'observed' && r.observation.repository === 'big');
    expect(big?.kind === 'observed' && big.observation.tags).toHaveLength(1500);
    expect(threaded.find((r) => r.kind === 'error')).toMatchObject({ repository: 'denied', code: 'denied' });
    expect(threaded.filter((r) => r.kind === 'listing')).toEqual([{ kind: 'listing', complete: true }]);
  });

  it('store what a scan without them stores: a scan on the scan’s own thread afterwards finds nothing new', async () => {
    const first = await runScan(t.db, target, { logger, thread: true });
    expect(first.status).toBe('partial'); // the denied repository
    expect(first.tags).toBe(1504);
    expect(first.events.created).toBe(1504);
    const tools = await currentTags(t.db, { targetId: 'prod-ecr', repository: 'tools' });
    expect(tools.find((r) => r.tag === 'stable')?.extra).toMatchObject({ imageStatus: 'ARCHIVED' });

    // Same state hash for every repository: same tags, digests, evidence and protection.
    const second = await runScan(t.db, target, { logger });
    expect(second.events).toEqual({ created: 0, moved: 0, deleted: 0, restored: 0 });
    expect(second.changes).toEqual([]);

    emu.estate.moveTag('tools', 'latest');
    const third = await runScan(t.db, target, { logger, thread: true });
    expect(third.events).toEqual({ created: 0, moved: 1, deleted: 0, restored: 0 });
  });

  it('stop reading when the scan is aborted, and serve the next scan', async () => {
    emu.faults.add({ delayMs: 2000, match: (req) => req.headers['x-amz-target'] === DESCRIBE_IMAGES });
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('shutting down')), 300);
    const started = Date.now();
    const aborted = await runScan(t.db, target, { logger, thread: true, signal: abort.signal });
    expect(aborted.status).toBe('aborted');
    expect(Date.now() - started).toBeLessThan(1500);
    expect(aborted.events.deleted).toBe(0);

    emu.faults.clear();
    const next = await runScan(t.db, target, { logger, thread: true });
    expect(next.status).toBe('partial');
    expect(next.tags).toBe(1504);
  });

  it('log through the scan’s logger, and report a registry that cannot be read as the target’s failure', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const debug = pino({ level: 'debug' }, sink);
    emu.faults.add({ status: 400, body: JSON.stringify({ __type: 'AccessDeniedException', message: 'not allowed' }), match: (req) => req.headers['x-amz-target'] === 'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories' });
    const failed = await runScan(t.db, target, { logger: debug, thread: true });
    expect(failed.status).toBe('failed');
    expect(failed.errors[0].message).toMatch(/DescribeRepositories/);
    const forwarded = lines.find((l) => l.msg === 'ECR repository listing failed');
    expect(forwarded).toMatchObject({ level: 20, target: 'prod-ecr', kind: 'ecr', error: 'AccessDeniedException' });
    // Nothing was called gone: the listing was not read.
    expect((await currentTags(t.db, { targetId: 'prod-ecr', repository: 'tools' })).length).toBe(0);
  });
});
