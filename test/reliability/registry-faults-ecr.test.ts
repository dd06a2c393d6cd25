/**
 * Registry fault matrix, Amazon ECR through the AWS SDK (see fault-matrix.ts for what every row
 * asserts). Retries are the SDK's: `maxAttempts` from the target and, as the collector's own tests
 * do, a ConfiguredRetryStrategy without backoff delay.
 */
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { afterEach, beforeEach, vi } from 'vitest';
import type { IncomingMessage } from 'node:http';
import type { TargetConfig } from '../../src/config/schema.js';
import { createEcrCollector } from '../../src/collectors/ecr/index.js';
import type { EcrTargetConfig } from '../../src/collectors/ecr/config.js';
import { startEcrEmulator, type EcrEmulator } from '../../src/emulators/ecr/index.js';
import { describeFaultMatrix, SLOW_MS, TIMEOUT_MS, type FaultCase, type FaultHarness } from './fault-matrix.js';
import { stubAwsCredentials } from '../helpers/aws.js';

interface EcrHarness extends FaultHarness {
  emu: EcrEmulator;
}

const names = { a: 'app/a', b: 'app/b', c: 'app/c' };
const JSON_11 = 'application/x-amz-json-1.1';
const PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';

let n = 0;
async function harness(seed = true): Promise<EcrHarness> {
  const emu = await startEcrEmulator();
  const e = emu.estate;
  if (seed) {
    for (const name of Object.values(names)) e.createRepository(name);
    for (const tag of ['v1', 'v2', 'latest']) e.pushImage(names.a, { tag });
    for (const tag of ['1.0.0', '1.0.1', 'latest']) e.pushImage(names.b, { tag });
    e.pushImage(names.c, { tag: 'v1' });
  }
  const target: EcrTargetConfig = {
    id: `ecr-fault-${++n}`,
    kind: 'ecr',
    region: 'us-east-1',
    endpoint: emu.url,
    maxAttempts: 3,
    requestTimeout: `${TIMEOUT_MS}ms`,
    concurrency: 2,
    insecureSkipTlsVerify: false,
  };
  return {
    kind: 'ecr',
    names,
    target: target as TargetConfig,
    emu,
    collector: (logger) => createEcrCollector(target, { logger }, { retryStrategy: new ConfiguredRetryStrategy(3, 0) }),
    moveC: () => void e.moveTag(names.c, 'v1'),
    truth: () =>
      Object.fromEntries(
        e
          .repositories()
          .map((r) => [r.name, Object.fromEntries(r.tagIndex)] as const)
          .filter(([, tags]) => Object.keys(tags).length > 0),
      ),
    bCalls: () => emu.callCount('DescribeImages', names.b),
    clearFaults: () => emu.faults.clear(),
    close: () => emu.close(),
  };
}

/** Matches calls of `operation`, for repository b only when asked. */
function call(operation: string, repository?: string, pagesAfterFirst = false): (req: IncomingMessage, body: string) => boolean {
  return (req, body) => {
    if (req.headers['x-amz-target'] !== PREFIX + operation) return false;
    let b: Record<string, unknown> = {};
    try {
      b = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return false;
    }
    return (repository === undefined || b.repositoryName === repository) && (!pagesAfterFirst || typeof b.nextToken === 'string');
  };
}

const awsError = (type: string, message: string) => ({ 'Content-Type': JSON_11, 'x-amzn-ErrorType': type, body: JSON.stringify({ __type: type, message }) });

function answer(status: number, type: string, message: string, extra: Record<string, string> = {}) {
  const { body, ...headers } = awsError(type, message);
  return { status, body, headers: { ...headers, ...extra } };
}

const cases: FaultCase<EcrHarness>[] = [
  {
    fault: '429 ThrottlingException with Retry-After, twice, then an answer',
    install: (h) => h.emu.faults.add({ match: call('DescribeImages', names.b), times: 2, ...answer(429, 'ThrottlingException', 'Rate exceeded', { 'Retry-After': '1' }) }),
    outcome: 'recovers',
    calls: 3,
  },
  {
    fault: 'ThrottlingException on every attempt',
    install: (h) => h.emu.failOperation('DescribeImages', { type: 'ThrottlingException', repository: names.b, times: Infinity }),
    outcome: 'repository-fails',
    cause: /^ECR DescribeImages for repository "app\/b": ThrottlingException: Rate exceeded \(HTTP 400, 3 attempts\)$/,
    calls: 3,
  },
  {
    fault: 'a 502 from a load balancer, then a 503, then an answer',
    install: (h) =>
      h.emu.faults
        .add({ match: call('DescribeImages', names.b), times: 1, status: 502, headers: { 'Content-Type': 'text/html' }, body: '<html><body>502 Bad Gateway</body></html>' })
        .add({ match: call('DescribeImages', names.b), times: 1, ...answer(503, 'ServiceUnavailableException', 'Service unavailable') }),
    outcome: 'recovers',
    calls: 3,
  },
  {
    fault: 'ServerException (500) on every attempt',
    install: (h) => h.emu.failOperation('DescribeImages', { type: 'ServerException', repository: names.b, times: Infinity }),
    outcome: 'repository-fails',
    cause: /^ECR DescribeImages for repository "app\/b": ServerException: Internal server error \(HTTP 500, 3 attempts\)$/,
    calls: 3,
  },
  {
    fault: 'connection reset on every attempt',
    install: (h) => h.emu.faults.add({ match: call('DescribeImages', names.b), reset: true }),
    outcome: 'repository-fails',
    cause: /^ECR DescribeImages for repository "app\/b": .*(ECONNRESET|socket hang up)/,
    calls: 3,
  },
  {
    fault: 'an answer slower than requestTimeout',
    install: (h) => h.emu.faults.add({ match: call('DescribeImages', names.b), delayMs: SLOW_MS }),
    outcome: 'repository-fails',
    cause: /^ECR DescribeImages for repository "app\/b": TimeoutError: /,
    calls: 3,
  },
  {
    fault: 'a body that trickles in and never ends',
    install: (h) => h.emu.faults.add({ match: call('DescribeImages', names.b), endlessBody: 20 }),
    outcome: 'repository-fails',
    cause: /^ECR DescribeImages for repository "app\/b": TimeoutError: the response body did not arrive within requestTimeout \(1500 ms\)/,
    calls: 3,
  },
  {
    fault: 'truncated JSON',
    install: (h) => h.emu.faults.add({ match: call('DescribeImages', names.b), status: 200, headers: { 'Content-Type': JSON_11 }, body: '{"imageDetails":[{"imageDigest":"sha256:' }),
    outcome: 'repository-fails',
    cause: /^ECR DescribeImages for repository "app\/b": SyntaxError: Unterminated string in JSON .*\(HTTP 200\)$/,
    calls: 1,
  },
  {
    fault: 'malformed JSON',
    install: (h) => h.emu.faults.add({ match: call('DescribeImages', names.b), malformed: true }),
    outcome: 'repository-fails',
    cause: /^ECR DescribeImages for repository "app\/b": SyntaxError: .* is not valid JSON \(HTTP 200\)$/,
    calls: 1,
  },
  {
    fault: 'a field of the wrong type (imageTags as a string, imageDigest as a number)',
    install: (h) =>
      h.emu.faults.add({ match: call('DescribeImages', names.b), status: 200, headers: { 'Content-Type': JSON_11 }, body: '{"imageDetails":[{"imageDigest":42,"imageTags":"1.0.0"}]}' }),
    outcome: 'repository-fails',
    cause: /^ECR DescribeImages for repository "app\/b": .*page 1 is not a DescribeImages response/,
    calls: 1,
  },
  {
    fault: 'a nextToken that repeats (loop)',
    // Three pages of 1000: the second page hands back the token it was given.
    seed: (h) => void h.emu.estate.addImages(names.b, 2000, { tagPrefix: 'build-' }),
    install: (h) => h.emu.repeatNextToken({ operation: 'DescribeImages', repository: names.b }),
    outcome: 'repository-fails',
    cause: /^ECR DescribeImages for repository "app\/b": RepeatedNextTokenError: .*page 2 returned a nextToken that an earlier page already returned/,
    calls: 2,
  },
  {
    fault: 'the second page answering ServerException for good',
    seed: (h) => void h.emu.estate.addImages(names.b, 1000, { tagPrefix: 'build-' }),
    install: (h) => h.emu.failOperation('DescribeImages', { type: 'ServerException', repository: names.b, pagesAfterFirst: true, times: Infinity }),
    outcome: 'repository-fails',
    cause: /ServerException: Internal server error \(HTTP 500, 3 attempts\)$/,
    calls: 4,
  },
  {
    fault: 'the repository deleted between DescribeRepositories and DescribeImages',
    install: (h) => h.emu.afterOperation('DescribeRepositories', () => h.emu.estate.deleteRepository(names.b)),
    outcome: 'vanishes',
    cause: /^ECR DescribeImages for repository "app\/b": RepositoryNotFoundException: /,
    calls: 1,
  },
  {
    fault: 'DescribeRepositories answering ServerException for good',
    install: (h) => h.emu.failOperation('DescribeRepositories', { type: 'ServerException', times: Infinity }),
    outcome: 'target-fails',
    cause: /^ECR DescribeRepositories: ServerException: Internal server error \(HTTP 500, 3 attempts\)$/,
    calls: 0,
  },
  {
    fault: 'the repository listing suddenly empty',
    install: (h) => h.emu.faults.add({ match: call('DescribeRepositories'), status: 200, headers: { 'Content-Type': JSON_11 }, body: '{"repositories":[]}' }),
    outcome: 'target-fails',
    cause: /the registry listed no repositories at all, but 3 were present at the last scan/,
    calls: 0,
  },
];

beforeEach(() => {
  stubAwsCredentials('AKIAFAULTMATRIX', 'fault-matrix-secret');
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describeFaultMatrix('ECR registry faults through runScan', cases, harness);
