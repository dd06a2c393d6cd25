/**
 * End to end for ECR: the emulator over loopback, the real AWS SDK inside the ECR collector (created
 * from the target config, as `scan` does), runScan into a fresh database, then changes made the way
 * ECR allows them and a second scan.
 */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TargetConfig } from '../../src/config/schema.js';
import { startEcrEmulator, type EcrEmulator } from '../../src/emulators/ecr/index.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import { tagHistory } from '../../src/store/queries/history.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { stubAwsCredentials } from '../helpers/aws.js';

const logger = pino({ level: 'silent' });

let emu: EcrEmulator;
let t: TestDatabase;
let target: TargetConfig;

beforeEach(async () => {
  stubAwsCredentials('AKIAINTEGRATION', 'integration-secret');
  emu = await startEcrEmulator();
  t = await openTestDatabase();
  target = { id: 'prod-ecr', kind: 'ecr', region: 'us-east-1', endpoint: emu.url, insecureSkipTlsVerify: false } as TargetConfig;
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await emu.close();
  await t.close();
});

const scan = () => runScan(t.db, target, { logger });
const state = async (repository: string) =>
  Object.fromEntries(
    (await currentTags(t.db, { targetId: 'prod-ecr', repository })).map((r) => [r.tag, { digest: r.digest, present: r.present, protected: r.protected, reason: r.protectionReason }]),
  );

describe('ECR scan into the store', () => {
  it('fails a repository whose one-page listing shows a tag on two images, and records no move', async () => {
    emu.estate.createRepository('tools', { imageTagMutability: 'MUTABLE' });
    const v1 = emu.estate.pushImage('tools', { tag: 'v1' });
    expect((await scan()).status).toBe('succeeded');

    // A registry answering one page in which v1 sits on two images: not something ECR does, so the
    // answer is written by hand.
    const other = `sha256:${'e'.repeat(64)}`;
    const image = (digest: string) => ({ registryId: '123456789012', repositoryName: 'tools', imageDigest: digest, imageTags: ['v1'], imagePushedAt: 1767225600, imageStatus: 'ACTIVE' });
    emu.faults.add({
      match: (req) => req.headers['x-amz-target'] === 'AmazonEC2ContainerRegistry_V20150921.DescribeImages',
      respond: () => ({ status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify({ imageDetails: [image(v1), image(other)] }) }),
    });
    const second = await scan();
    expect(second.status).toBe('partial');
    expect(second.errors).toEqual([expect.objectContaining({ repository: 'tools', code: 'failed', message: expect.stringContaining('listed tag "v1" twice with different digests') })]);
    expect(second.events).toEqual({ created: 0, moved: 0, deleted: 0, restored: 0 });
    expect((await state('tools')).v1.digest).toBe(v1);
  });

  it('records protection per tag, moves of protected and unprotected tags, deletions and settings changes', async () => {
    const e = emu.estate;
    e.createRepository('payments/api', { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', filters: ['dev-*'] });
    e.createRepository('tools', { imageTagMutability: 'MUTABLE' });
    const release = e.pushImage('payments/api', { tag: 'v1.0.0' });
    const dev = e.pushImage('payments/api', { tag: 'dev-1' });
    e.pushImage('tools', { tag: 'latest' });
    const stable = e.pushImage('tools', { tag: 'stable' });

    const first = await scan();
    expect(first.status).toBe('succeeded');
    expect(first.events).toEqual({ created: 4, moved: 0, deleted: 0, restored: 0 });
    expect(await state('payments/api')).toEqual({
      'dev-1': { digest: dev, present: true, protected: false, reason: 'not protected: repository is IMMUTABLE_WITH_EXCLUSION and tag matches exclusion "dev-*"' },
      'v1.0.0': { digest: release, present: true, protected: true, reason: 'protected: repository is IMMUTABLE_WITH_EXCLUSION and tag matches no exclusion ("dev-*")' },
    });

    // ECR refuses to overwrite the protected tag in place...
    expect(() => e.moveTag('payments/api', 'v1.0.0')).toThrow(expect.objectContaining({ name: 'ImageTagAlreadyExistsException' }));
    // ...lets the excluded one move...
    const dev2 = e.moveTag('payments/api', 'dev-1');
    // ...and allows deleting the image and pushing another under the protected tag.
    e.deleteImage('payments/api', release);
    const rebuilt = e.pushImage('payments/api', { tag: 'v1.0.0' });
    e.deleteTag('tools', 'latest');
    e.archiveImage('tools', stable); // archived images keep their tags
    e.putImageTagMutability('tools', 'MUTABLE_WITH_EXCLUSION', ['stable']);

    const second = await scan();
    expect(second.status).toBe('succeeded');
    expect(second.events).toEqual({ created: 0, moved: 2, deleted: 1, restored: 0 });

    const v1 = await tagHistory(t.db, { targetId: 'prod-ecr', repository: 'payments/api', tag: 'v1.0.0' });
    expect(v1.map((x) => [x.kind, x.digest, x.previousDigest, x.protected])).toEqual([
      ['created', release, null, true],
      ['moved', rebuilt, release, true],
    ]);
    const devHistory = await tagHistory(t.db, { targetId: 'prod-ecr', repository: 'payments/api', tag: 'dev-1' });
    expect(devHistory.map((x) => [x.kind, x.digest, x.protected])).toEqual([
      ['created', dev, false],
      ['moved', dev2, false],
    ]);

    const tools = await state('tools');
    expect(tools.latest).toMatchObject({ present: false });
    expect(tools.stable).toEqual({ digest: stable, present: true, protected: true, reason: 'protected: repository is MUTABLE_WITH_EXCLUSION and tag matches exclusion "stable"' });
    const stableRow = (await currentTags(t.db, { targetId: 'prod-ecr', repository: 'tools' })).find((r) => r.tag === 'stable')!;
    expect(stableRow.extra).toMatchObject({ imageStatus: 'ARCHIVED' });

    const toolsChange = second.changes.find((c) => c.repository === 'tools')!;
    expect(toolsChange.repositoryEvents).toEqual([
      expect.objectContaining({
        kind: 'settings_changed',
        before: { kind: 'ecr', mode: 'MUTABLE', filters: [] },
        after: { kind: 'ecr', mode: 'MUTABLE_WITH_EXCLUSION', filters: ['stable'] },
      }),
    ]);
  });

  it('a denied, a vanished and a half-read repository keep their tags; a deleted one is gone', async () => {
    const e = emu.estate;
    for (const name of ['denied-repo', 'vanishing', 'flaky', 'deleted', 'fine']) {
      e.createRepository(name);
      e.pushImage(name, { tag: 'v1' });
    }
    e.addImages('flaky', 1500);
    const first = await scan();
    expect(first.status).toBe('succeeded');

    e.denyRepository('denied-repo');
    e.deleteRepository('deleted');
    emu.afterOperation('DescribeRepositories', () => e.deleteRepository('vanishing'));
    emu.failOperation('DescribeImages', { type: 'ServerException', repository: 'flaky', pagesAfterFirst: true, times: Infinity });

    const second = await runScan(t.db, { ...target, maxAttempts: 2 } as TargetConfig, { logger });
    expect(second.status).toBe('partial');
    expect(second.errors.map((x) => [x.repository, x.code]).sort()).toEqual([
      ['denied-repo', 'denied'],
      ['flaky', 'failed'],
    ]);
    expect(second.warnings.map((x) => [x.repository, x.code])).toEqual([['vanishing', 'vanished']]);
    // Only the repository missing from the complete listing lost its tag.
    expect(second.events).toEqual({ created: 0, moved: 0, deleted: 1, restored: 0 });
    expect((await state('deleted')).v1.present).toBe(false);
    for (const name of ['denied-repo', 'vanishing', 'fine']) expect((await state(name)).v1.present).toBe(true);
    expect(Object.values(await state('flaky')).every((x) => x.present)).toBe(true);
    expect(Object.keys(await state('flaky'))).toHaveLength(1501);
  });
});
