/**
 * A scan limited to some repositories (what push events trigger) through runScan, against the Harbor
 * and ECR emulators: only the named repositories are observed, deleted tags in them are recorded, and
 * no repository is ever called gone by them, even one that really is gone (the next whole scan says so).
 */
import pino from 'pino';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TargetConfig } from '../../src/config/schema.js';
import { startHarborEmulator, type HarborEmulator } from '../../src/emulators/harbor/index.js';
import { startEcrEmulator, type EcrEmulator } from '../../src/emulators/ecr/index.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import { repositories, scans } from '../../src/store/schema/index.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { stubAwsCredentials } from '../helpers/aws.js';

const logger = pino({ level: 'silent' });
let t: TestDatabase;

beforeEach(async () => {
  t = await openTestDatabase();
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await t.close();
});

const present = async (targetId: string, repository: string) =>
  Object.fromEntries((await currentTags(t.db, { targetId, repository })).filter((r) => r.present).map((r) => [r.tag, r.digest]));
const gone = async (targetId: string) =>
  (await t.db.select({ name: repositories.name, goneAt: repositories.goneAt }).from(repositories).where(eq(repositories.targetId, targetId)))
    .filter((r) => r.goneAt !== null)
    .map((r) => r.name)
    .sort();

describe('scans limited to some repositories', () => {
  let emu: HarborEmulator;
  let target: TargetConfig;
  beforeEach(async () => {
    emu = await startHarborEmulator();
    target = { id: 'harbor', kind: 'harbor', url: emu.url, username: emu.username, password: emu.password, insecureSkipTlsVerify: false } as TargetConfig;
    emu.createProject('team-a');
    for (const repo of ['team-a/api', 'team-a/web', 'team-a/worker']) {
      emu.pushImage(repo, 'v1');
      emu.pushImage(repo, 'latest');
    }
  });
  afterEach(() => emu.close());

  it('observes only the named repositories and never calls a repository gone', async () => {
    expect((await runScan(t.db, target, { logger })).repositories).toBe(3);
    emu.deleteTag('team-a/api', 'v1');
    const moved = emu.moveTag('team-a/web', 'latest').digest;
    emu.deleteRepository('team-a/worker');

    const limited = await runScan(t.db, target, { logger, scope: ['team-a/api'] });
    expect(limited.status).toBe('succeeded');
    expect(limited.repositories).toBe(1);
    expect(limited.events).toEqual({ created: 0, moved: 0, deleted: 1, restored: 0 });
    expect(Object.keys(await present('harbor', 'team-a/api'))).toEqual(['latest']);
    // The other two changed as well, but the limited scan did not look: nothing recorded about them.
    expect((await present('harbor', 'team-a/web')).latest).not.toBe(moved);
    expect(await gone('harbor')).toEqual([]);
    expect(Object.keys(await present('harbor', 'team-a/worker'))).toEqual(['latest', 'v1']);
    const [row] = await t.db.select({ scope: scans.scope }).from(scans).where(eq(scans.id, limited.scanId));
    expect(row.scope).toEqual(['team-a/api']);

    // Not even the repository in scope is called gone when the listing lacks it: a warning, the
    // scan still succeeds, and the whole scan after it decides.
    const worker = await runScan(t.db, target, { logger, scope: ['team-a/worker'] });
    expect(worker.status).toBe('succeeded');
    expect(worker.events.deleted).toBe(0);
    expect(worker.warnings).toEqual([{ repository: 'team-a/worker', code: 'vanished', message: expect.stringMatching(/not in the registry's listing; a scan of the whole target records it gone/) }]);
    expect(await gone('harbor')).toEqual([]);

    const whole = await runScan(t.db, target, { logger });
    expect(whole.events).toEqual({ created: 0, moved: 1, deleted: 2, restored: 0 });
    expect(await gone('harbor')).toEqual(['team-a/worker']);
    expect((await present('harbor', 'team-a/web')).latest).toBe(moved);
    const [wholeRow] = await t.db.select({ scope: scans.scope }).from(scans).where(eq(scans.id, whole.scanId));
    expect(wholeRow.scope).toBeNull();
  });

  it("keeps to the target's own filter: names outside it are dropped, and a scope with none left is refused", async () => {
    const filtered = { ...target, repositories: ['team-a/api', 'team-a/web'] } as TargetConfig;
    await runScan(t.db, filtered, { logger });
    const s = await runScan(t.db, filtered, { logger, scope: ['team-a/worker', 'team-a/web'] });
    expect(s.repositories).toBe(1);
    const [row] = await t.db.select({ scope: scans.scope }).from(scans).where(eq(scans.id, s.scanId));
    expect(row.scope).toEqual(['team-a/web']);
    await expect(runScan(t.db, filtered, { logger, scope: ['team-a/worker'] })).rejects.toThrow(/none of "team-a\/worker" matches the target's repositories filter/);
    expect(await present('harbor', 'team-a/worker')).toEqual({});
  });
});

describe('a limited ECR scan', () => {
  let emu: EcrEmulator;
  beforeEach(async () => {
    stubAwsCredentials('AKIASCOPE', 'scope-secret');
    emu = await startEcrEmulator();
  });
  afterEach(() => emu.close());

  it('reads the named repository only and leaves a deleted sibling alone', async () => {
    const target = { id: 'prod-ecr', kind: 'ecr', region: 'us-east-1', endpoint: emu.url, insecureSkipTlsVerify: false } as TargetConfig;
    emu.estate.createRepository('payments/api', { imageTagMutability: 'MUTABLE' });
    emu.estate.createRepository('payments/web', { imageTagMutability: 'MUTABLE' });
    emu.estate.pushImage('payments/api', { tag: '1.0.0' });
    emu.estate.pushImage('payments/web', { tag: '2.0.0' });
    await runScan(t.db, target, { logger });
    const moved = emu.estate.moveTag('payments/api', '1.0.0');
    emu.estate.deleteRepository('payments/web');
    const s = await runScan(t.db, target, { logger, scope: ['payments/api'] });
    expect(s.events).toEqual({ created: 0, moved: 1, deleted: 0, restored: 0 });
    expect(await present('prod-ecr', 'payments/api')).toEqual({ '1.0.0': moved });
    expect(await gone('prod-ecr')).toEqual([]);
    expect(await present('prod-ecr', 'payments/web')).toMatchObject({ '2.0.0': expect.any(String) });
  });
});
