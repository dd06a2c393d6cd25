import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { protectionFor } from '../../audit/protection.js';
import { startEcrEmulator, type EcrEmulator } from '../../emulators/ecr/index.js';
import { startStsStandIn, type StsStandIn } from '../../emulators/ecr/sts.js';
import type { RepositoryObservation, RepositoryResult } from '../types.js';
import type { EcrClientOverrides } from './client.js';
import { ecrTargetSchema, type EcrTargetConfig } from './config.js';
import { createEcrCollector } from './index.js';
import { stubAwsCredentials } from '../../../test/helpers/aws.js';

const logger = pino({ level: 'silent' });
const BASE_KEY_ID = 'AKIABASECREDENTIAL';
const BASE_SECRET = 'base-secret-never-shown';

let emu: EcrEmulator;
let sts: StsStandIn | undefined;

beforeEach(async () => {
  // Base credentials for the SDK's default provider chain (its environment provider).
  stubAwsCredentials(BASE_KEY_ID, BASE_SECRET);
  emu = await startEcrEmulator();
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await emu.close();
  await sts?.close();
  sts = undefined;
});

function target(extra: Partial<EcrTargetConfig> = {}): EcrTargetConfig {
  return ecrTargetSchema.parse({ id: 'prod-ecr', kind: 'ecr', region: 'us-east-1', endpoint: emu.url, ...extra });
}

/** Fast retries for tests: `attempts` tries in all, no backoff delay. */
const fastRetries = (attempts: number): EcrClientOverrides => ({ retryStrategy: new ConfiguredRetryStrategy(attempts, 0) });

async function collect(t: EcrTargetConfig, overrides: EcrClientOverrides = fastRetries(3), signal = new AbortController().signal): Promise<RepositoryResult[]> {
  const out: RepositoryResult[] = [];
  for await (const r of createEcrCollector(t, { logger }, overrides).collect(signal)) out.push(r);
  return out;
}

function observed(results: RepositoryResult[]): Map<string, RepositoryObservation> {
  return new Map(results.flatMap((r) => (r.kind === 'observed' ? [[r.observation.repository, r.observation] as const] : [])));
}

function errors(results: RepositoryResult[]) {
  return results.flatMap((r) => (r.kind === 'error' ? [r] : []));
}

describe('ECR collector', () => {
  it('reads 2,500 images of one repository in three DescribeImages calls of 1000', async () => {
    emu.estate.createRepository('payments/api', { imageTagMutability: 'IMMUTABLE' });
    const digests = emu.estate.addImages('payments/api', 2500, { tagPrefix: 'build-' });

    const results = await collect(target());

    expect(results.at(-1)).toEqual({ kind: 'listing', complete: true });
    expect(errors(results)).toEqual([]);
    const obs = observed(results).get('payments/api')!;
    expect(obs.tags).toHaveLength(2500);
    expect(new Set(obs.tags.map((t) => t.tag)).size).toBe(2500);
    expect(obs.tags.find((t) => t.tag === 'build-1234')!.digest).toBe(digests[1234]);
    expect(obs.pullReference).toBe('123456789012.dkr.ecr.us-east-1.amazonaws.com/payments/api');
    expect(emu.callCount('DescribeRepositories')).toBe(1);
    expect(emu.callCount('DescribeImages', 'payments/api')).toBe(3);
    expect(emu.calls.every((c) => c.maxResults === 1000)).toBe(true);
  });

  it('pages DescribeRepositories by 1000 and only describes the repositories the filter selects', async () => {
    for (let i = 0; i < 1050; i++) emu.estate.createRepository(`team-${String(i).padStart(4, '0')}/svc`);
    emu.estate.createRepository('payments/api');
    emu.estate.createRepository('payments/worker');
    emu.estate.createRepository('payments/deep/nested');
    emu.estate.pushImage('payments/api', { tag: 'v1' });

    const results = await collect(target({ repositories: ['payments/*'] }));

    expect(emu.callCount('DescribeRepositories')).toBe(2);
    expect(emu.callCount('DescribeImages')).toBe(2);
    expect([...observed(results).keys()].sort()).toEqual(['payments/api', 'payments/worker']);
    expect(results).toContainEqual({ kind: 'discovered', repositories: 2 });
    expect(results.at(-1)).toEqual({ kind: 'listing', complete: true });
  });

  it('normalises all four mutability modes and evaluates every tag against the exclusion filters', async () => {
    const push = (repo: string, tags: string[]) => tags.forEach((tag) => emu.estate.pushImage(repo, { tag }));
    emu.estate.createRepository('mutable');
    emu.estate.createRepository('immutable', { imageTagMutability: 'IMMUTABLE' });
    emu.estate.createRepository('imm-excl', { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', filters: ['dev-*', 'latest', '*-SNAPSHOT'] });
    emu.estate.createRepository('mut-excl', { imageTagMutability: 'MUTABLE_WITH_EXCLUSION', filters: ['v*.*.*', 'release-*-prod'] });
    push('mutable', ['latest', 'v1.0.0']);
    push('immutable', ['latest', 'v1.0.0']);
    push('imm-excl', ['dev-', 'dev-42', 'xdev-1', 'latest', 'latest2', 'Latest', '1.0-SNAPSHOT', '1.0-snapshot', 'v3']);
    push('mut-excl', ['v1.2.3', 'v1.2', 'v1..', 'release-eu-prod', 'release-prod', 'release--prod', 'main']);

    const obs = observed(await collect(target()));
    expect(obs.get('mutable')!.protection).toEqual({ kind: 'ecr', mode: 'MUTABLE', filters: [] });
    expect(obs.get('immutable')!.protection).toEqual({ kind: 'ecr', mode: 'IMMUTABLE', filters: [] });
    expect(obs.get('imm-excl')!.protection).toEqual({ kind: 'ecr', mode: 'IMMUTABLE_WITH_EXCLUSION', filters: ['dev-*', 'latest', '*-SNAPSHOT'] });
    expect(obs.get('mut-excl')!.protection).toEqual({ kind: 'ecr', mode: 'MUTABLE_WITH_EXCLUSION', filters: ['v*.*.*', 'release-*-prod'] });
    expect(obs.get('imm-excl')!.raw).toMatchObject({
      imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
      imageTagMutabilityExclusionFilters: [
        { filterType: 'WILDCARD', filter: 'dev-*' },
        { filterType: 'WILDCARD', filter: 'latest' },
        { filterType: 'WILDCARD', filter: '*-SNAPSHOT' },
      ],
    });

    const verdicts = (repo: string) =>
      Object.fromEntries(obs.get(repo)!.tags.map((t) => [t.tag, protectionFor(obs.get(repo)!.protection, t.tag).protected]));
    expect(verdicts('mutable')).toEqual({ latest: false, 'v1.0.0': false });
    expect(verdicts('immutable')).toEqual({ latest: true, 'v1.0.0': true });
    expect(verdicts('imm-excl')).toEqual({
      'dev-': false,
      'dev-42': false,
      'xdev-1': true,
      latest: false,
      latest2: true,
      Latest: true,
      '1.0-SNAPSHOT': false,
      '1.0-snapshot': true,
      v3: true,
    });
    expect(verdicts('mut-excl')).toEqual({
      'v1.2.3': true,
      'v1.2': false,
      'v1..': true,
      'release-eu-prod': true,
      'release-prod': false,
      'release--prod': true,
      main: false,
    });
    expect(protectionFor(obs.get('imm-excl')!.protection, 'dev-42').reason).toBe(
      'not protected: repository is IMMUTABLE_WITH_EXCLUSION and tag matches exclusion "dev-*"',
    );
    expect(protectionFor(obs.get('mut-excl')!.protection, 'v1.2.3').reason).toBe(
      'protected: repository is MUTABLE_WITH_EXCLUSION and tag matches exclusion "v*.*.*"',
    );
  });

  it('keeps tags of archived images and records the image status, media types, size and push time', async () => {
    emu.estate.createRepository('svc');
    const pushedAt = new Date('2025-03-01T10:00:00.250Z');
    const old = emu.estate.pushImage('svc', { tag: 'v1', pushedAt, artifactMediaType: 'application/vnd.docker.container.image.v1+json', manifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json', sizeInBytes: 1234 });
    emu.estate.tagImage('svc', old, 'stable');
    emu.estate.pushImage('svc', { tag: 'v2' });
    emu.estate.pushImage('svc', {}); // untagged: not a tag, not observed
    emu.estate.archiveImage('svc', old);

    const obs = observed(await collect(target())).get('svc')!;
    expect(obs.tags.map((t) => t.tag).sort()).toEqual(['stable', 'v1', 'v2']);
    expect(obs.tags.find((t) => t.tag === 'v1')).toEqual({
      tag: 'v1',
      digest: old,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      pushedAt,
      extra: { imageStatus: 'ARCHIVED', imageSizeInBytes: 1234, artifactMediaType: 'application/vnd.docker.container.image.v1+json' },
    });
    expect(obs.tags.find((t) => t.tag === 'v2')!.extra).toMatchObject({ imageStatus: 'ACTIVE' });
  });

  it('retries ThrottlingException with the adaptive retry mode and then succeeds', async () => {
    emu.estate.createRepository('svc');
    emu.estate.pushImage('svc', { tag: 'v1' });
    emu.failOperation('DescribeImages', { type: 'ThrottlingException', times: 1 });

    // The production retry configuration (adaptive mode, default attempts), not a test strategy.
    // Adaptive mode slows the client down after a throttle, so this test throttles only once.
    const results = await collect(target(), {});

    expect(errors(results)).toEqual([]);
    expect(observed(results).get('svc')!.tags.map((t) => t.tag)).toEqual(['v1']);
    expect(emu.callCount('DescribeImages')).toBe(2);
    expect(results.at(-1)).toEqual({ kind: 'listing', complete: true });
  });

  it('retries throttled listing and image calls until they succeed', async () => {
    emu.estate.createRepository('svc');
    emu.estate.addImages('svc', 1500);
    // ECR's troubleshooting guide mentions throttling as HTTP 429 as well as the usual 400.
    emu.failOperation('DescribeRepositories', { type: 'ThrottlingException', status: 429, times: 2 });
    emu.failOperation('DescribeImages', { type: 'ThrottlingException', pagesAfterFirst: true, times: 2 });

    const results = await collect(target(), fastRetries(3));

    expect(errors(results)).toEqual([]);
    expect(observed(results).get('svc')!.tags).toHaveLength(1500);
    expect(emu.callCount('DescribeRepositories')).toBe(3);
    expect(emu.callCount('DescribeImages')).toBe(4);
  });

  it('retries a connection reset mid-listing and still reads the repository whole', async () => {
    emu.estate.createRepository('svc');
    emu.estate.addImages('svc', 1200);
    emu.faults.add({ reset: true, times: 1, match: (_req, body) => body.includes('"nextToken"') });

    const results = await collect(target());

    expect(errors(results)).toEqual([]);
    expect(observed(results).get('svc')!.tags).toHaveLength(1200);
    expect(emu.callCount('DescribeImages')).toBe(3);
  });

  it('fails only the repository whose throttling outlasts the configured attempts', async () => {
    emu.estate.createRepository('busy');
    emu.estate.createRepository('calm');
    emu.estate.pushImage('busy', { tag: 'v1' });
    emu.estate.pushImage('calm', { tag: 'v1' });
    emu.failOperation('DescribeImages', { type: 'ThrottlingException', repository: 'busy', times: Infinity });

    const results = await collect(target({ maxAttempts: 4 }), fastRetries(4));

    expect(emu.callCount('DescribeImages', 'busy')).toBe(4);
    expect(errors(results)).toEqual([
      { kind: 'error', repository: 'busy', code: 'failed', cause: 'ECR DescribeImages for repository "busy": ThrottlingException: Rate exceeded (HTTP 400, 4 attempts)' },
    ]);
    expect([...observed(results).keys()]).toEqual(['calm']);
    expect(results.at(-1)).toEqual({ kind: 'listing', complete: true });
  });

  it('a page that fails part-way leaves the repository failed, never partly observed', async () => {
    emu.estate.createRepository('big');
    emu.estate.createRepository('small');
    emu.estate.addImages('big', 2500);
    emu.estate.pushImage('small', { tag: 'v1' });
    emu.failOperation('DescribeImages', { type: 'ServerException', repository: 'big', pagesAfterFirst: true, times: Infinity });

    const results = await collect(target());

    expect(observed(results).has('big')).toBe(false);
    const [err] = errors(results);
    expect(err).toMatchObject({ kind: 'error', repository: 'big', code: 'failed' });
    expect(err.kind === 'error' && err.cause).toMatch(/^ECR DescribeImages for repository "big": ServerException: Internal server error \(HTTP 500, 3 attempts\)$/);
    // The first page was read, then the second failed on every attempt.
    expect(emu.callCount('DescribeImages', 'big')).toBe(4);
    expect(observed(results).get('small')!.tags).toHaveLength(1);
    expect(results.at(-1)).toEqual({ kind: 'listing', complete: true });
  });

  it('a malformed page part-way fails the repository', async () => {
    emu.estate.createRepository('big');
    emu.estate.addImages('big', 1500);
    emu.faults.add({ malformed: true, times: 1, match: (_req, body) => body.includes('"nextToken"') });

    const results = await collect(target());

    expect(observed(results).size).toBe(0);
    expect(errors(results)).toEqual([expect.objectContaining({ repository: 'big', code: 'failed', cause: expect.stringMatching(/^ECR DescribeImages for repository "big": /) })]);
  });

  it('records a repository deleted between listing and describing as vanished', async () => {
    emu.estate.createRepository('doomed');
    emu.estate.createRepository('stays');
    emu.estate.pushImage('doomed', { tag: 'v1' });
    emu.estate.pushImage('stays', { tag: 'v1' });
    emu.afterOperation('DescribeRepositories', () => emu.estate.deleteRepository('doomed'));

    const results = await collect(target());

    expect(errors(results)).toEqual([
      {
        kind: 'error',
        repository: 'doomed',
        code: 'vanished',
        cause: expect.stringMatching(/^ECR DescribeImages for repository "doomed": RepositoryNotFoundException: The repository with name 'doomed' does not exist/),
      },
    ]);
    expect([...observed(results).keys()]).toEqual(['stays']);
    expect(results.at(-1)).toEqual({ kind: 'listing', complete: true });
  });

  it('records a repository the credentials may not read as denied, and reads the others', async () => {
    emu.estate.createRepository('secret-team');
    emu.estate.createRepository('open');
    emu.estate.pushImage('open', { tag: 'v1' });
    emu.estate.denyRepository('secret-team');

    const results = await collect(target());

    expect(errors(results)).toEqual([
      expect.objectContaining({ repository: 'secret-team', code: 'denied', cause: expect.stringContaining('AccessDeniedException: User: ') }),
    ]);
    expect(emu.callCount('DescribeImages', 'secret-team')).toBe(1); // a denial is not retried
    expect([...observed(results).keys()]).toEqual(['open']);
  });

  it('stops at a repeating nextToken instead of paging forever', async () => {
    emu.estate.createRepository('loop');
    emu.estate.createRepository('fine');
    emu.estate.addImages('loop', 2500);
    emu.estate.pushImage('fine', { tag: 'v1' });
    emu.repeatNextToken({ operation: 'DescribeImages', repository: 'loop' });

    const results = await collect(target());

    expect(errors(results)).toEqual([
      expect.objectContaining({ repository: 'loop', code: 'failed', cause: expect.stringContaining('returned a nextToken that an earlier page already returned') }),
    ]);
    expect(emu.callCount('DescribeImages', 'loop')).toBe(2);
    expect([...observed(results).keys()]).toEqual(['fine']);
  });

  it('a repeating nextToken in the repository listing fails the target with an incomplete listing', async () => {
    for (let i = 0; i < 2100; i++) emu.estate.createRepository(`r${i}x`);
    emu.repeatNextToken({ operation: 'DescribeRepositories' });

    const results = await collect(target());

    expect(results).toEqual([
      { kind: 'error', repository: null, code: 'failed', cause: expect.stringMatching(/^ECR DescribeRepositories: RepeatedNextTokenError: /) },
      { kind: 'listing', complete: false },
    ]);
    expect(emu.callCount('DescribeImages')).toBe(0);
  });

  it('a denied repository listing is a target-level denial', async () => {
    emu.estate.createRepository('svc');
    emu.failOperation('DescribeRepositories', {
      type: 'AccessDeniedException',
      message: 'User: arn:aws:iam::123456789012:user/auditor is not authorized to perform: ecr:DescribeRepositories',
      times: Infinity,
    });

    const results = await collect(target());

    expect(results).toEqual([
      { kind: 'error', repository: null, code: 'denied', cause: expect.stringContaining('ECR DescribeRepositories: AccessDeniedException: User: arn:aws:iam::123456789012:user/auditor') },
      { kind: 'listing', complete: false },
    ]);
  });

  it('gives up on a request that outlasts requestTimeout instead of hanging', async () => {
    emu.estate.createRepository('slow');
    emu.estate.pushImage('slow', { tag: 'v1' });
    emu.faults.add({ delayMs: 3000, match: (req) => req.headers['x-amz-target'] === 'AmazonEC2ContainerRegistry_V20150921.DescribeImages' });

    const results = await collect(target({ requestTimeout: '150ms', maxAttempts: 2 }), fastRetries(2));

    expect(errors(results)).toEqual([expect.objectContaining({ repository: 'slow', code: 'failed', cause: expect.stringContaining('TimeoutError') })]);
    expect(results.at(-1)).toEqual({ kind: 'listing', complete: true });
  });

  it('fails a repository whose listing shows one tag on two images (it changed mid-scan)', async () => {
    emu.estate.createRepository('busy');
    emu.estate.addImages('busy', 1500, { tagPrefix: 't' });
    // After the first page is served, t5 (on page 1) moves to a new image at the end (page 2).
    emu.afterOperation('DescribeImages', () => emu.estate.moveTag('busy', 't5'));

    const results = await collect(target());

    expect(observed(results).size).toBe(0);
    expect(errors(results)).toEqual([expect.objectContaining({ repository: 'busy', code: 'failed', cause: expect.stringContaining('tag "t5" was listed on two images') })]);
  });

  it('reads another registry when registryId is set and builds pull references from it', async () => {
    emu.estate.createRepository('shared/base', { registryId: '210987654321', imageTagMutability: 'IMMUTABLE' });
    emu.estate.pushImage('shared/base', { tag: 'v1', registryId: '210987654321' });
    emu.estate.createRepository('own'); // in the caller's registry: not listed

    const results = await collect(target({ registryId: '210987654321', region: 'eu-west-1' }));

    const obs = observed(results);
    expect([...obs.keys()]).toEqual(['shared/base']);
    expect(obs.get('shared/base')!.pullReference).toBe('210987654321.dkr.ecr.eu-west-1.amazonaws.com/shared/base');
    expect(obs.get('shared/base')!.tags.map((t) => t.tag)).toEqual(['v1']);
  });

  it('stops when aborted', async () => {
    for (let i = 0; i < 20; i++) {
      emu.estate.createRepository(`repo-${i}`);
      emu.estate.pushImage(`repo-${i}`, { tag: 'v1' });
    }
    emu.faults.add({ delayMs: 200, match: (req) => req.headers['x-amz-target'] === 'AmazonEC2ContainerRegistry_V20150921.DescribeImages' });
    const ac = new AbortController();
    const seen: RepositoryResult[] = [];
    const run = (async () => {
      for await (const r of createEcrCollector(target({ concurrency: 2 }), { logger }, fastRetries(1)).collect(ac.signal)) {
        seen.push(r);
        if (r.kind === 'observed') ac.abort(new Error('scan cancelled'));
      }
    })();
    await expect(run).rejects.toThrow('scan cancelled');
    expect(seen.some((r) => r.kind === 'listing')).toBe(false);
    expect(emu.callCount('DescribeImages')).toBeLessThan(20);
  });

  describe('assumeRole through STS', () => {
    const roleArn = 'arn:aws:iam::123456789012:role/tagledger-audit';

    beforeEach(async () => {
      sts = await startStsStandIn({ roles: { [roleArn]: { externalId: 'ext-7' } } });
      // The SDK's service-specific endpoint setting points STS at the stand-in.
      vi.stubEnv('AWS_ENDPOINT_URL_STS', sts.url);
    });

    it('signs every ECR call with the assumed role credentials, obtained with the base credentials', async () => {
      emu.estate.createRepository('svc');
      emu.estate.pushImage('svc', { tag: 'v1' });

      const results = await collect(target({ assumeRole: { roleArn, externalId: 'ext-7', sessionName: 'audit-run' } }));

      expect(observed(results).get('svc')!.tags).toHaveLength(1);
      expect(sts!.calls).toHaveLength(1);
      expect(sts!.calls[0]).toMatchObject({ roleArn, externalId: 'ext-7', roleSessionName: 'audit-run', signedWith: BASE_KEY_ID });
      const assumedKey = sts!.calls[0].issuedAccessKeyId!;
      expect(assumedKey).toMatch(/^ASIA/);
      expect(emu.calls.length).toBeGreaterThanOrEqual(2);
      for (const call of emu.calls) expect(call).toMatchObject({ accessKeyId: assumedKey, sessionToken: true });
    });

    it('a refused AssumeRole is a target-level denial and nothing is read', async () => {
      emu.estate.createRepository('svc');

      const results = await collect(target({ assumeRole: { roleArn, externalId: 'wrong' } }));

      expect(results).toEqual([
        { kind: 'error', repository: null, code: 'denied', cause: expect.stringContaining('AccessDenied') },
        { kind: 'listing', complete: false },
      ]);
      expect(emu.calls).toHaveLength(0);
      const cause = (results[0] as { cause: string }).cause;
      expect(cause).not.toContain(BASE_SECRET);
    });
  });

  it('never puts credentials into causes or evidence', async () => {
    emu.estate.createRepository('secret-team');
    emu.estate.createRepository('svc');
    emu.estate.pushImage('svc', { tag: 'v1' });
    emu.estate.denyRepository('secret-team');
    const results = await collect(target());
    const text = JSON.stringify(results);
    expect(text).not.toContain(BASE_SECRET);
    expect(text).toContain('secret-team'); // the denial is there, without the secret
  });
});
