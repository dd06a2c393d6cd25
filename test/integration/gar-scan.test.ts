/**
 * End to end for Google Artifact Registry: the GAR emulator over loopback gRPC, the real
 * `@google-cloud/artifact-registry` client inside the GAR collector, runScan into a fresh database,
 * then changes made the way Artifact Registry allows them and more scans.
 */
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { TargetConfig } from '../../src/config/schema.js';
import { createGarCollector } from '../../src/collectors/gar/index.js';
import type { GarTargetConfig } from '../../src/collectors/gar/config.js';
import { startGarEmulator, type GarEmulator } from '../../src/emulators/gar/index.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import { tagHistory } from '../../src/store/queries/history.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

const logger = pino({ level: 'silent' });

// One database for the file (opening one is the slow part); each test scans its own target.
let t: TestDatabase;
let emu: GarEmulator;
let target: TargetConfig;
let targetId: string;
let n = 0;

beforeAll(async () => {
  t = await openTestDatabase();
});

afterAll(async () => {
  await t?.close();
});

beforeEach(async () => {
  emu = await startGarEmulator({ project: 'acme-prod' });
  targetId = `prod-gar-${++n}`;
  target = { id: targetId, kind: 'gar', project: 'acme-prod', locations: ['us', 'europe-west1'], endpoint: emu.endpoint, insecureSkipTlsVerify: false } as TargetConfig;
});

afterEach(async () => {
  await emu.close();
});

const scan = () => runScan(t.db, target, { logger });
const state = async (repository: string) =>
  Object.fromEntries(
    (await currentTags(t.db, { targetId, repository })).map((r) => [r.tag, { digest: r.digest, present: r.present, protected: r.protected, reason: r.protectionReason }]),
  );

describe('GAR scan into the store', () => {
  it('records protection per tag, a refused and an accepted move, a deletion and a settings change', async () => {
    const e = emu.estate;
    e.createRepository('us', 'prod', { immutableTags: true });
    e.createRepository('us', 'dev', { immutableTags: false });
    e.createRepository('europe-west1', 'prod');
    const release = e.pushImage('us', 'prod', 'payments/api', { tags: ['v1.0.0'] });
    const latest = e.pushImage('us', 'dev', 'payments/api', { tags: ['latest'] });
    const stable = e.pushImage('us', 'dev', 'payments/api', { tags: ['stable'] });
    const web = e.pushImage('europe-west1', 'prod', 'web', { tags: ['1.0'] });

    const first = await scan();
    expect(first.status).toBe('succeeded');
    expect(first.events).toEqual({ created: 4, moved: 0, deleted: 0, restored: 0 });
    expect(await state('us/prod/payments/api')).toEqual({
      'v1.0.0': { digest: release, present: true, protected: true, reason: 'protected: repository has immutable tags enabled' },
    });
    expect(await state('us/dev/payments/api')).toEqual({
      latest: { digest: latest, present: true, protected: false, reason: 'not protected: repository has immutable tags disabled' },
      stable: { digest: stable, present: true, protected: false, reason: 'not protected: repository has immutable tags disabled' },
    });
    // No dockerConfig: immutable tags off.
    expect((await state('europe-west1/prod/web'))['1.0']).toMatchObject({ digest: web, protected: false });

    // Artifact Registry refuses to move the protected tag...
    expect(() => e.pushImage('us', 'prod', 'payments/api', { tags: ['v1.0.0'], content: 'rebuilt' })).toThrow(/immutable tags/);
    // ...lets the mutable ones move and go...
    const latest2 = e.pushImage('us', 'dev', 'payments/api', { tags: ['latest'], content: 'latest-2' });
    e.untag('us', 'dev', 'payments/api', 'stable');
    // ...and the europe repository turns immutable tags on.
    e.setImmutableTags('europe-west1', 'prod', true);

    const second = await scan();
    expect(second.status).toBe('succeeded');
    expect(second.events).toEqual({ created: 0, moved: 1, deleted: 1, restored: 0 });
    const history = await tagHistory(t.db, { targetId, repository: 'us/dev/payments/api', tag: 'latest' });
    expect(history.map((x) => [x.kind, x.digest, x.previousDigest, x.protected])).toEqual([
      ['created', latest, null, false],
      ['moved', latest2, latest, false],
    ]);
    expect((await state('us/dev/payments/api')).stable).toMatchObject({ digest: stable, present: false });
    expect((await state('us/prod/payments/api'))['v1.0.0']).toMatchObject({ digest: release, present: true, protected: true });
    expect((await state('europe-west1/prod/web'))['1.0']).toEqual({ digest: web, present: true, protected: true, reason: 'protected: repository has immutable tags enabled' });
    const settings = second.changes.find((c) => c.repository === 'europe-west1/prod/web')!;
    expect(settings.repositoryEvents).toEqual([
      expect.objectContaining({
        kind: 'settings_changed',
        before: { kind: 'gar', immutableTags: false, mode: 'STANDARD_REPOSITORY' },
        after: { kind: 'gar', immutableTags: true, mode: 'STANDARD_REPOSITORY' },
      }),
    ]);
  });

  it('keeps the tags of denied, half-read and vanished repositories, and deletes a removed one only once the listing is complete', async () => {
    const e = emu.estate;
    for (const repo of ['secret', 'flaky', 'vanishing', 'removed', 'fine']) {
      e.createRepository('us', repo);
      e.pushImage('us', repo, 'app', { tags: ['v1'] });
    }
    for (let i = 0; i < 24; i++) e.pushImage('us', 'flaky', `img-${String(i).padStart(2, '0')}`, { tags: ['v1'] });
    // Small pages so that the flaky repository needs three of them; quick retries.
    const collector = () => createGarCollector(target as GarTargetConfig, { logger }, { pageSize: 10, retryPolicy: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 } });
    const first = await runScan(t.db, target, { logger, collector: collector() });
    expect(first.status).toBe('succeeded');
    expect(first.repositories).toBe(4 + 25);

    e.deny('us', 'secret');
    emu.failNext('ListDockerImages', status.UNAVAILABLE, { resource: 'projects/acme-prod/locations/us/repositories/flaky', pagesAfterFirst: true, times: Infinity });
    emu.failNext('ListDockerImages', status.NOT_FOUND, { resource: 'projects/acme-prod/locations/us/repositories/vanishing' });
    e.deleteRepository('us', 'removed');

    const second = await runScan(t.db, target, { logger, collector: collector() });
    expect(second.status).toBe('partial');
    const flakyErrors = second.errors.filter((x) => x.repository?.startsWith('us/flaky/'));
    expect(flakyErrors).toHaveLength(10);
    expect(flakyErrors.every((x) => x.code === 'failed')).toBe(true);
    expect(second.errors.filter((x) => !x.repository?.startsWith('us/flaky/')).map((x) => [x.repository, x.code])).toEqual([['us/secret', 'denied']]);
    expect(second.warnings.map((x) => [x.repository, x.code])).toEqual([['us/vanishing', 'vanished']]);
    // The listing was incomplete: nothing is called deleted, not even the removed repository's tag.
    expect(second.events).toEqual({ created: 0, moved: 0, deleted: 0, restored: 0 });
    for (const repo of ['secret', 'flaky', 'vanishing', 'removed']) expect((await state(`us/${repo}/app`)).v1.present).toBe(true);
    expect(Object.keys(await state('us/flaky/img-23'))).toEqual(['v1']);

    e.deny('us', 'secret', false);
    emu.faults.clear();
    const third = await runScan(t.db, target, { logger, collector: collector() });
    expect(third.status).toBe('succeeded');
    expect(third.events).toEqual({ created: 0, moved: 0, deleted: 1, restored: 0 });
    expect((await state('us/removed/app')).v1.present).toBe(false);
    for (const repo of ['secret', 'flaky', 'vanishing', 'fine']) expect((await state(`us/${repo}/app`)).v1.present).toBe(true);
  });
});
