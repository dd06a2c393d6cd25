import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { sql } from 'drizzle-orm';
import { buildApiServer, OPENAPI_PATH } from '../../src/api/server.js';
import { ServiceMetrics } from '../../src/api/metrics.js';
import { Scheduler } from '../../src/scheduler/schedule.js';
import { databaseCoordinator } from '../../src/scheduler/slots.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import { targetSchema, type TargetConfig } from '../../src/config/schema.js';
import type { Collector, RepositoryResult } from '../../src/collectors/types.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { complete, observed, scriptedCollector } from '../helpers/scripted-collector.js';
import { parsePrometheusText } from '../helpers/prometheus.js';

const logger = pino({ level: 'silent' });
const TOKEN = 's3cret-token';
const local: TargetConfig = targetSchema.parse({ id: 'local', kind: 'oci', url: 'http://127.0.0.1:1' });
const retired: TargetConfig = targetSchema.parse({ id: 'retired', kind: 'oci', url: 'http://127.0.0.1:1' });
const immutable = { kind: 'gar', immutableTags: true } as const;

let t: TestDatabase;
let app: FastifyInstance;
let open: FastifyInstance;
let scheduler: Scheduler;
let metrics: ServiceMetrics;
/** What the next API-triggered scan of `local` observes; `hold` keeps it running until released. */
const next: { results: RepositoryResult[]; hold: Promise<void> | null } = { results: [], hold: null };

function estate(version: number): RepositoryResult[] {
  return [
    observed('team/app', { latest: version, '1.0.0': 10 }),
    observed('team/lib', { latest: version, '2.0.0': 20 }, immutable),
    observed('team/empty', {}, immutable),
    observed('infra/db', { '15.2': 30 }),
    observed('infra/proxy', { stable: version }, immutable),
    observed('tools/a/b', { latest: 1 }),
    observed('tools/c', { '0.1.0': 40 }, immutable),
    complete,
  ];
}

const bearer = { authorization: `Bearer ${TOKEN}` };
const get = (url: string, headers: Record<string, string> = bearer) => app.inject({ method: 'GET', url, headers });

beforeAll(async () => {
  t = await openTestDatabase();
  let tick = Date.parse('2026-03-01T00:00:00Z');
  const now = () => new Date((tick += 1000));
  await runScan(t.db, retired, { logger, collector: scriptedCollector('retired', [observed('old/app', { latest: 1 }), complete]), now });
  for (const v of [1, 2, 3, 4]) {
    const results = estate(v);
    if (v === 3) results.unshift(observed('team/app', { latest: 3, '1.0.0': 11 })); // 1.0.0 moved: a finding
    await runScan(t.db, local, { logger, collector: scriptedCollector('local', v === 3 ? [results[0], ...results.slice(2)] : results), now });
  }

  metrics = new ServiceMetrics(t.db, logger);
  scheduler = new Scheduler({
    db: t.db,
    logger,
    targets: [local],
    coordinator: databaseCoordinator(t.db),
    hooks: { scanFinished: (s) => metrics.recordScan(s) },
    collectorFor: (): Collector => ({
      kind: 'oci',
      targetId: 'local',
      async *collect() {
        if (next.hold) await next.hold;
        for (const r of next.results) yield r;
      },
    }),
  });
  app = await buildApiServer({ db: t.db, targets: [local], token: TOKEN, metrics, logger, scans: scheduler });
  open = await buildApiServer({ db: t.db, targets: [local], metrics: new ServiceMetrics(t.db), logger });
});

afterAll(async () => {
  await scheduler?.stop();
  await app?.close();
  await open?.close();
  await t?.close();
});

describe('API authentication', () => {
  it('answers 401 without the token or with a wrong one, 200 with bearer or basic', async () => {
    const none = await get('/api/v1/targets', {});
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toEqual(['Bearer realm="tagledger"', 'Basic realm="tagledger", charset="UTF-8"']);
    expect(none.json().message).not.toContain(TOKEN);
    expect((await get('/api/v1/targets', { authorization: 'Bearer wrong' })).statusCode).toBe(401);
    expect((await get('/api/v1/targets', { authorization: `Bearer ${TOKEN}x` })).statusCode).toBe(401);
    expect((await get('/api/v1/targets', { authorization: `Basic ${Buffer.from('ops:wrong').toString('base64')}` })).statusCode).toBe(401);
    expect((await get('/api/v1/targets', { authorization: `Token ${TOKEN}` })).statusCode).toBe(401);
    expect((await get('/api/v1/targets')).statusCode).toBe(200);
    expect((await get('/api/v1/targets', { authorization: `Basic ${Buffer.from(`ops:${TOKEN}`).toString('base64')}` })).statusCode).toBe(200);
    // The OpenAPI document and unknown paths are behind the token too.
    expect((await get(OPENAPI_PATH, {})).statusCode).toBe(401);
    expect((await get('/api/v2/anything', {})).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/api/v1/scans', payload: { target: 'local' } })).statusCode).toBe(401);
  });

  it('never asks for the token on /healthz, /readyz and /metrics', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await get(path, {})).statusCode, path).toBe(200);
    expect((await get('/readyz', {})).json()).toEqual({ status: 'ready' });
  });

  it('without a token configured, the API is open (serve allows that on loopback only)', async () => {
    expect((await open.inject({ method: 'GET', url: '/api/v1/targets' })).statusCode).toBe(200);
  });
});

/** Follows nextCursor to the end and returns every item. */
async function walk(path: string, limit: number): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const sep = path.includes('?') ? '&' : '?';
    const res = await get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { items: Array<Record<string, unknown>>; nextCursor: string | null };
    expect(body.items.length).toBeLessThanOrEqual(limit);
    items.push(...body.items);
    cursor = body.nextCursor;
    if (!cursor) return items;
  }
  throw new Error('pagination did not end');
}

describe('pagination', () => {
  it('walks every scan, repository and finding exactly once', async () => {
    const dbCount = async (table: string) => Number(((await t.db.execute(sql.raw(`SELECT count(*)::int AS n FROM ${table}`))) as unknown as { rows: Array<{ n: number }> }).rows[0].n);
    for (const [path, table, limit] of [
      ['/api/v1/scans', 'scans', 2],
      ['/api/v1/repositories', 'repositories', 3],
      ['/api/v1/findings', 'findings', 2],
    ] as const) {
      const items = await walk(path, limit);
      const ids = items.map((i) => i.id as number);
      expect(new Set(ids).size, path).toBe(ids.length);
      expect(ids.length, path).toBe(await dbCount(table));
      expect(ids.length, path).toBeGreaterThan(limit);
      const all = await get(`${path}?limit=500`);
      expect((all.json() as { items: Array<{ id: number }> }).items.map((i) => i.id)).toEqual(ids);
    }
    // Newest scans first.
    const scans = await walk('/api/v1/scans', 2);
    expect(scans.map((s) => s.id)).toEqual([...scans.map((s) => s.id as number)].sort((a, b) => b - a));
  });

  it('refuses a foreign or damaged cursor and a limit above 500', async () => {
    const first = (await get('/api/v1/scans?limit=1')).json() as { nextCursor: string };
    expect((await get(`/api/v1/findings?cursor=${first.nextCursor}`)).statusCode).toBe(400);
    expect((await get('/api/v1/scans?cursor=not-a-cursor')).statusCode).toBe(400);
    expect((await get('/api/v1/scans?limit=501')).statusCode).toBe(400);
    expect((await get('/api/v1/scans?limit=0')).statusCode).toBe(400);
  });
});

describe('JSON API', () => {
  it('lists configured targets as active and remembered ones as inactive', async () => {
    const body = (await get('/api/v1/targets')).json() as { items: Array<Record<string, unknown>> };
    expect(body.items.map((x) => [x.id, x.active, x.schedule])).toEqual([
      ['local', true, '0 * * * *'],
      ['retired', false, null],
    ]);
    expect((body.items[1].lastScan as { status: string }).status).toBe('succeeded');
  });

  it('filters repositories by target and protection', async () => {
    const prot = (await walk('/api/v1/repositories?target=local&protected=true', 500)).map((r) => r.name).sort();
    const unprot = (await walk('/api/v1/repositories?target=local&protected=false', 500)).map((r) => r.name).sort();
    expect(prot).toEqual(['infra/proxy', 'team/lib', 'tools/c']);
    expect(unprot).toEqual(['infra/db', 'team/app', 'team/empty', 'tools/a/b']);
    const app1 = (await walk('/api/v1/repositories?target=local', 500)).find((r) => r.name === 'team/app')!;
    expect(app1).toMatchObject({ target: 'local', protected: false, tags: 2, unprotectedTags: 2 });
    expect((await walk('/api/v1/repositories?target=retired', 500)).map((r) => r.name)).toEqual(['old/app']);
  });

  it('filters findings and acknowledges / resolves them with who = api', async () => {
    const moved = await walk('/api/v1/findings?type=tag.moved', 500);
    expect(moved.map((f) => [f.repository, f.tag])).toContainEqual(['team/app', '1.0.0']);
    const high = await walk('/api/v1/findings?severity=high&status=open', 500);
    expect(high.length).toBeGreaterThan(0);
    expect(high.every((f) => ['high', 'critical'].includes(f.severity as string) && f.status === 'open')).toBe(true);
    expect((await get('/api/v1/findings?status=closed')).statusCode).toBe(400);

    const id = moved[0].id as number;
    const post = (action: string, payload: unknown, headers = bearer) => app.inject({ method: 'POST', url: `/api/v1/findings/${id}/${action}`, headers, payload: payload as object });
    expect((await post('acknowledge', {})).statusCode).toBe(400);
    expect((await post('acknowledge', { reason: '   ' })).statusCode).toBe(400);
    const ack = await post('acknowledge', { reason: 'expected: hotfix re-push' });
    expect(ack.statusCode).toBe(200);
    expect(ack.json()).toMatchObject({ id, status: 'acknowledged', statusBy: 'api', statusReason: 'expected: hotfix re-push' });
    expect((await post('resolve', { reason: 'repushed the release' })).json()).toMatchObject({ status: 'resolved', statusBy: 'api' });
    expect((await app.inject({ method: 'POST', url: '/api/v1/findings/999999/resolve', headers: bearer, payload: { reason: 'x' } })).statusCode).toBe(404);
  });

  it("serves a tag's history through the wildcard route, splitting on the last ':'", async () => {
    const res = await get('/api/v1/tags/local/team/app:1.0.0/history');
    expect(res.statusCode).toBe(200);
    const body = res.json() as { target: string; repository: string; tag: string; items: Array<{ kind: string }> };
    expect([body.target, body.repository, body.tag]).toEqual(['local', 'team/app', '1.0.0']);
    expect(body.items.map((e) => e.kind)).toEqual(['created', 'moved', 'moved']); // moved away and back
    const nested = (await get('/api/v1/tags/local/tools/a/b:latest/history')).json() as { repository: string; items: unknown[] };
    expect(nested.repository).toBe('tools/a/b');
    expect(nested.items).toHaveLength(1);
    const paged = await walk('/api/v1/tags/local/team/app:latest/history', 1);
    expect(paged.map((e) => e.kind)).toEqual(['created', 'moved', 'moved', 'moved']);
    expect((await get('/api/v1/tags/local/team/app:nope/history')).statusCode).toBe(404);
    expect((await get('/api/v1/tags/local/team/app/history')).statusCode).toBe(404);
    expect((await get('/api/v1/tags/local/team/app:1.0.0')).statusCode).toBe(404);
  });
});

describe('POST /api/v1/scans and /metrics', () => {
  it('starts a scan (202 with its id), refuses a second one (409), and the metrics move', async () => {
    const before = parsePrometheusText((await get('/metrics', {})).body);
    expect(before.value('tagledger_scans_total', { target: 'local', status: 'succeeded' })).toBeUndefined();
    const openFindings = Number(((await t.db.execute(sql`SELECT count(*)::int AS n FROM findings WHERE status = 'open'`)) as unknown as { rows: Array<{ n: number }> }).rows[0].n);
    const gaugeSum = before.samples.filter((s) => s.name === 'tagledger_open_findings').reduce((a, s) => a + s.value, 0);
    expect(gaugeSum).toBe(openFindings);
    expect(before.value('tagledger_repositories_observed', { target: 'local' })).toBe(7);
    expect(before.types.get('process_cpu_user_seconds_total')).toBe('counter'); // default process metrics

    let release!: () => void;
    next.hold = new Promise<void>((r) => (release = r));
    // Two repositories, each with a move of `latest`; the other five are gone from the complete listing.
    next.results = [...estate(5).slice(0, 2), complete];
    const res = await app.inject({ method: 'POST', url: '/api/v1/scans', headers: bearer, payload: { target: 'local' } });
    expect(res.statusCode).toBe(202);
    const { scanId } = res.json() as { scanId: number };
    expect(typeof scanId).toBe('number');
    const busy = await app.inject({ method: 'POST', url: '/api/v1/scans', headers: bearer, payload: { target: 'local' } });
    expect(busy.statusCode).toBe(409);
    expect((await app.inject({ method: 'POST', url: '/api/v1/scans', headers: bearer, payload: { target: 'retired' } })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/api/v1/scans', headers: bearer, payload: {} })).statusCode).toBe(400);
    const running = (await get('/api/v1/scans?status=running')).json() as { items: Array<{ id: number }> };
    expect(running.items.map((s) => s.id)).toEqual([scanId]);
    release();
    await scheduler.settled();
    next.hold = null;

    const after = parsePrometheusText((await get('/metrics', {})).body);
    expect(after.value('tagledger_scans_total', { target: 'local', status: 'succeeded' })).toBe(1);
    expect(after.value('tagledger_scan_duration_seconds_count', { target: 'local' })).toBe(1);
    expect(after.value('tagledger_tag_events_total', { target: 'local', kind: 'moved' })).toBe(2);
    expect(after.value('tagledger_tag_events_total', { target: 'local', kind: 'deleted' })).toBe(4); // the tags of the gone repositories: 1 + 0 + 1 + 1 + 1
    expect(after.value('tagledger_repositories_observed', { target: 'local' })).toBe(2);
    const [last] = ((await get('/api/v1/scans?limit=1')).json() as { items: Array<{ id: number; status: string; repositories: number }> }).items;
    expect(last).toMatchObject({ id: scanId, repositories: 2 });
  });
});

describe('OpenAPI document', () => {
  it('is an OpenAPI 3 JSON document generated from the route schemas, listing every route', async () => {
    const res = await get(OPENAPI_PATH);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    const doc = JSON.parse(res.body) as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>> };
    expect(doc.openapi).toMatch(/^3\./);
    const ops = Object.entries(doc.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`));
    for (const op of [
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
      'GET /api/v1/targets',
      'GET /api/v1/scans',
      'POST /api/v1/scans',
      'GET /api/v1/repositories',
      'GET /api/v1/findings',
      'POST /api/v1/findings/{id}/acknowledge',
      'POST /api/v1/findings/{id}/resolve',
    ]) {
      expect(ops).toContain(op);
    }
    expect(ops.some((op) => op.startsWith('GET /api/v1/tags/'))).toBe(true);
    expect(doc.paths['/api/v1/scans'].post.responses).toHaveProperty('202');
    expect(doc.paths['/api/v1/scans'].post.responses).toHaveProperty('409');
    expect(doc.paths['/api/v1/targets'].get.security).toEqual([{ bearer: [] }, { basic: [] }]);
    expect(doc.paths['/healthz'].get.security).toBeUndefined();
  });
});
