/**
 * TLS for every kind of registry, through runScan: verification is on by default (a self-signed
 * certificate fails the target and stores nothing), `caFile` trusts a private CA, and
 * `insecureSkipTlsVerify`, set per target, is logged as a warning naming the target at the start of
 * every scan (and only for that target). OCI and ECR emulators speak plain HTTP, so they are put
 * behind a TLS-terminating relay with the test's certificate.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import type { TargetConfig } from '../../src/config/schema.js';
import type { Collector } from '../../src/collectors/types.js';
import { createOciCollector } from '../../src/collectors/oci/index.js';
import { createEcrCollector } from '../../src/collectors/ecr/index.js';
import { createGarCollector } from '../../src/collectors/gar/index.js';
import { createHarborCollector } from '../../src/collectors/harbor/index.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { startEcrEmulator, type EcrEmulator } from '../../src/emulators/ecr/index.js';
import { startGarEmulator, type GarEmulator } from '../../src/emulators/gar/index.js';
import { startHarborEmulator, type HarborEmulator } from '../../src/emulators/harbor/index.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import { selfSignedCertificate } from '../helpers/alerts.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/cli.js';
import type { LogLine } from './fault-matrix.js';

const RETRY = { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 };

let cert: ReturnType<typeof selfSignedCertificate>;
let oci: OciEmulator;
let ecr: EcrEmulator;
let gar: GarEmulator;
let harbor: HarborEmulator;
const relays: net.Server[] = [];
let ociTls: string;
let ecrTls: string;
let t: TestDatabase;

/** https://127.0.0.1:<port> in front of a plain-HTTP server on `port`. */
async function tlsRelay(port: number): Promise<string> {
  const server = tls.createServer({ key: cert.key, cert: cert.cert }, (client) => {
    const upstream = net.connect(port, '127.0.0.1');
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relays.push(server);
  return `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

beforeAll(async () => {
  cert = selfSignedCertificate();
  oci = await startOciEmulator();
  oci.pushImage('shop/api', '1.0.0');
  ecr = await startEcrEmulator();
  ecr.estate.createRepository('payments/api');
  ecr.estate.pushImage('payments/api', { tag: '1.0.0' });
  gar = await startGarEmulator({ project: 'acme-prod', tls: { key: cert.key, cert: cert.cert }, repositories: [{ location: 'us', repository: 'r', images: [{ image: 'api', tags: ['1.0.0'] }] }] });
  harbor = await startHarborEmulator({ tls: { key: cert.key, cert: cert.cert } });
  harbor.createProject('team');
  harbor.pushImage('team/api', '1.0.0');
  ociTls = await tlsRelay(oci.port);
  ecrTls = await tlsRelay(ecr.port);
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIATLSTEST');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'tls-test-secret');
  t = await openTestDatabase();
});

afterAll(async () => {
  await Promise.all([oci?.close(), ecr?.close(), gar?.close(), harbor?.close()]);
  for (const r of relays) r.close();
  await t?.close();
  cert?.cleanup();
  vi.unstubAllEnvs();
});

interface Kind {
  kind: string;
  target(id: string, tlsSettings: Record<string, unknown>): TargetConfig;
  collector(target: TargetConfig, logger: pino.Logger): Collector;
  /** What the failure must say. */
  refused: RegExp;
}

const kinds: Kind[] = [
  {
    kind: 'oci',
    target: (id, s) => ({ id, kind: 'oci', url: ociTls, insecureSkipTlsVerify: false, ...s }) as TargetConfig,
    collector: (target, logger) => createOciCollector(target as never, { logger }, { retryPolicy: RETRY }),
    refused: /TLS verification failed for https:\/\/127\.0\.0\.1:\d+\/v2\/_catalog\?n=100 \(DEPTH_ZERO_SELF_SIGNED_CERT\); set caFile to the CA that signed it/,
  },
  {
    kind: 'ecr',
    target: (id, s) => ({ id, kind: 'ecr', region: 'us-east-1', endpoint: ecrTls, maxAttempts: 1, insecureSkipTlsVerify: false, ...s }) as TargetConfig,
    collector: (target, logger) => createEcrCollector(target as never, { logger }, { retryStrategy: new ConfiguredRetryStrategy(1, 0) }),
    refused: /^ECR DescribeRepositories: .*self[- ]signed certificate/i,
  },
  {
    kind: 'gar',
    target: (id, s) => ({ id, kind: 'gar', project: 'acme-prod', locations: ['us'], endpoint: gar.endpoint, insecureSkipTlsVerify: false, ...s }) as TargetConfig,
    collector: (target, logger) => createGarCollector(target as never, { logger }, { retryPolicy: RETRY }),
    refused: /^GAR ListRepositories for projects\/acme-prod\/locations\/us: UNAVAILABLE: .*(certificate|self[- ]signed|handshake)/i,
  },
  {
    kind: 'harbor',
    target: (id, s) => ({ id, kind: 'harbor', url: harbor.url, username: harbor.username, password: harbor.password, insecureSkipTlsVerify: false, ...s }) as TargetConfig,
    collector: (target, logger) => createHarborCollector(target as never, { logger }, { retryPolicy: RETRY }),
    refused: /^Harbor projects list: TLS verification failed for https:\/\/127\.0\.0\.1:\d+\/api\/v2\.0\/projects\?.* \(DEPTH_ZERO_SELF_SIGNED_CERT\)/,
  },
];

async function scan(k: Kind, target: TargetConfig) {
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l) as LogLine) });
  const summary = await runScan(t.db, target, { logger, collector: k.collector(target, logger) });
  const warnings = logs.filter((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.startsWith('TLS certificate verification is OFF'));
  return { summary, warnings };
}

describe.each(kinds)('TLS for $kind', (k) => {
  it('verifies by default: a certificate nobody vouched for fails the target and stores nothing, and nothing warns', async () => {
    const { summary, warnings } = await scan(k, k.target(`${k.kind}-default`, {}));
    expect(summary.status).toBe('failed');
    expect(summary.errors).toEqual([expect.objectContaining({ repository: null, message: expect.stringMatching(k.refused) })]);
    expect(summary.repositories).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('trusts a private CA named by caFile, without any warning', async () => {
    const { summary, warnings } = await scan(k, k.target(`${k.kind}-ca`, { caFile: cert.certFile }));
    expect(summary.errors).toEqual([]);
    expect(summary).toMatchObject({ status: 'succeeded', repositories: 1, tags: 1 });
    expect(warnings).toEqual([]);
  });

  it('insecureSkipTlsVerify is per target and warns, naming the target, at every scan', async () => {
    const target = k.target(`${k.kind}-insecure`, { insecureSkipTlsVerify: true });
    for (let i = 0; i < 2; i++) {
      const { summary, warnings } = await scan(k, target);
      expect(summary.status).toBe('succeeded');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ target: target.id, insecureSkipTlsVerify: true, scanId: summary.scanId });
      expect(warnings[0].msg).toContain(`for target "${target.id}"`);
    }
  });
});

describe('the warning through the CLI', () => {
  it('tagledger scan warns once per insecure target on stderr, and not for the verified one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tagledger-tls-'));
    try {
      const config = join(dir, 'tagledger.yaml');
      writeFileSync(
        config,
        `database:\n  path: ${JSON.stringify(join(dir, 'pglite'))}\ntargets:\n` +
          `  - id: oci-insecure\n    kind: oci\n    url: ${ociTls}\n    insecureSkipTlsVerify: true\n` +
          `  - id: harbor-insecure\n    kind: harbor\n    url: ${harbor.url}\n    username: ${JSON.stringify(harbor.username)}\n    password: ${harbor.password}\n    insecureSkipTlsVerify: true\n` +
          `  - id: harbor-verified\n    kind: harbor\n    url: ${harbor.url}\n    username: ${JSON.stringify(harbor.username)}\n    password: ${harbor.password}\n    caFile: ${cert.certFile}\n`,
      );
      const r = await runCli(['--config', config, '--log-format', 'json', 'scan', '--json', '--no-deliver'], { env: { DATABASE_URL: '', LOG_LEVEL: 'info' } });
      expect(r.code, r.stderr).toBe(0);
      const warnings = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine)
        .filter((l) => l.level === 40 && String(l.msg).startsWith('TLS certificate verification is OFF'));
      expect(warnings.map((w) => w.target).sort()).toEqual(['harbor-insecure', 'oci-insecure']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
