/**
 * An https:// endpoint: the GAR emulator serving TLS with a certificate made for the test (openssl),
 * read by the collector with caFile, without it, and with insecureSkipTlsVerify.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startGarEmulator, type GarEmulator } from '../../emulators/gar/index.js';
import type { RepositoryResult } from '../types.js';
import { garTargetSchema } from './config.js';
import { createGarCollector } from './index.js';

let dir: string;
let emu: GarEmulator;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tagledger-gar-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {
    stdio: 'pipe',
  });
  emu = await startGarEmulator({
    project: 'acme-prod',
    tls: { key: readFileSync(key), cert: readFileSync(cert) },
    repositories: [{ location: 'us', repository: 'r', immutableTags: true, images: [{ image: 'api', tags: ['v1'] }] }],
  });
});

afterAll(async () => {
  await emu?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function collect(extra: Record<string, unknown>): Promise<RepositoryResult[]> {
  const target = garTargetSchema.parse({ id: 'gar-tls', kind: 'gar', project: 'acme-prod', locations: ['us'], endpoint: emu.endpoint, ...extra });
  const results: RepositoryResult[] = [];
  const collector = createGarCollector(target, { logger: pino({ level: 'silent' }) }, { retryPolicy: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 } });
  for await (const r of collector.collect(new AbortController().signal)) results.push(r);
  return results;
}

describe('https:// endpoint', () => {
  it('is an https:// endpoint', () => {
    expect(emu.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('reads the registry when caFile trusts its certificate', async () => {
    const results = await collect({ caFile: path.join(dir, 'cert.pem') });
    expect(results).toEqual([
      expect.objectContaining({ kind: 'observed', observation: expect.objectContaining({ repository: 'us/r/api', protection: { kind: 'gar', immutableTags: true, mode: 'STANDARD_REPOSITORY' } }) }),
      { kind: 'discovered', repositories: 1 },
      { kind: 'listing', complete: true },
    ]);
  });

  it('fails the target when the certificate is not trusted', async () => {
    const results = await collect({});
    expect(results).toEqual([
      { kind: 'error', repository: null, code: 'failed', cause: expect.stringMatching(/^GAR ListRepositories for projects\/acme-prod\/locations\/us: UNAVAILABLE: .*certificate/i) },
      { kind: 'listing', complete: false },
    ]);
  });

  it('reads it with insecureSkipTlsVerify', async () => {
    const results = await collect({ insecureSkipTlsVerify: true });
    expect(results.filter((r) => r.kind === 'observed')).toHaveLength(1);
  });

  it('names an unreadable caFile', async () => {
    const results = await collect({ caFile: path.join(dir, 'missing.pem') });
    expect(results).toEqual([
      { kind: 'error', repository: null, code: 'failed', cause: expect.stringMatching(/cannot read caFile .*missing\.pem: ENOENT/) },
      { kind: 'listing', complete: false },
    ]);
  });
});
