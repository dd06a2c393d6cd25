/**
 * A scan loads the SDK of the kinds it scans and no other: `tagledger scan` of an ECR target, run as
 * a user runs it, never loads the Google Cloud client libraries (gRPC, protobuf, some tens of MB of
 * memory). The benchmark's memory figures for ECR estates rest on this.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, runCli } from '../helpers/cli.js';
import { startEcrEmulator, type EcrEmulator } from '../../src/emulators/ecr/index.js';

describe('modules a scan loads', () => {
  let dir: string;
  let ecr: EcrEmulator;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tagledger-modules-'));
    ecr = await startEcrEmulator();
    ecr.estate.createRepository('payments/api', { imageTagMutability: 'MUTABLE' });
    ecr.estate.pushImage('payments/api', { tag: '1.4.2' });
  });

  afterAll(async () => {
    await ecr?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an ECR scan loads the AWS SDK and none of the Google Cloud libraries', async () => {
    const cfg = join(dir, 'tagledger.yaml');
    writeFileSync(
      cfg,
      `database:\n  path: ${JSON.stringify(join(dir, 'pglite'))}\n` + `targets:\n  - id: prod-ecr\n    kind: ecr\n    region: ${ecr.region}\n    registryId: "${ecr.registryId}"\n    endpoint: ${ecr.url}\n`,
    );
    const hook = pathToFileURL(join(repoRoot, 'test', 'fixtures', 'report-loaded-modules.mjs')).href;
    const run = await runCli(['scan', '--config', cfg, '--json'], {
      env: { DATABASE_URL: '', AWS_ACCESS_KEY_ID: 'AKIAMODULES', AWS_SECRET_ACCESS_KEY: 'modules-secret', AWS_SESSION_TOKEN: '', NODE_OPTIONS: `--import ${hook}` },
      timeoutMs: 120_000,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ scans: [expect.objectContaining({ target: 'prod-ecr', status: 'succeeded', tags: 1 })] });
    const [, google, aws] = /loaded-modules: google=(\d+) aws-ecr=(\d+)/.exec(run.stderr) ?? [];
    expect(Number(aws)).toBeGreaterThan(0);
    expect(Number(google)).toBe(0);
  }, 150_000);
});
