/**
 * End to end for the OCI kind: the emulator scanned through runScan (collector created from the
 * target config, as in production) into a fresh database, then tags moved and deleted between scans.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { runScan } from '../../src/scheduler/run-scan.js';
import { tagHistory } from '../../src/store/queries/history.js';
import { currentTags } from '../../src/store/queries/tags.js';
import type { TargetConfig } from '../../src/config/schema.js';
import { MediaType, startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { createOciCollector } from '../../src/collectors/oci/index.js';
import type { OciTargetConfig } from '../../src/collectors/oci/config.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

const logger = pino({ level: 'silent' });

// One database for the file (each test scans its own target); a fresh emulator per test.
let t: TestDatabase;
let emu: OciEmulator;
let target: OciTargetConfig;
let targetId: string;
let n = 0;
let clock = Date.parse('2026-04-01T00:00:00Z');
const now = () => new Date((clock += 1000));

beforeAll(async () => {
  t = await openTestDatabase();
});
afterAll(async () => {
  await t?.close();
});
beforeEach(async () => {
  emu = await startOciEmulator({ auth: { kind: 'bearer', username: 'auditor', password: 'read-only-secret' } });
  targetId = `emulated-${++n}`;
  target = { id: targetId, kind: 'oci', url: emu.url, username: 'auditor', password: 'read-only-secret', insecureSkipTlsVerify: false };
});
afterEach(async () => {
  await emu.close();
});

/** A scan with the collector the target config makes, as in production. */
const scan = () => runScan(t.db, target as TargetConfig, { logger, now });
/** The same, with short retries for scans meant to meet failures. */
const scanFast = () =>
  runScan(t.db, target as TargetConfig, {
    logger,
    now,
    collector: createOciCollector(target, { logger }, { retryPolicy: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 } }),
  });

describe('OCI scan into the store', () => {
  it('records created, moved and deleted tags with their history and protection', async () => {
    const v1 = emu.pushImage('shop/api', 'v1.0.0', { mediaType: MediaType.ociManifest });
    emu.pushImage('shop/api', 'latest', { mediaType: MediaType.ociIndex });
    emu.pushImage('shop/api', 'old', { mediaType: MediaType.dockerManifest });
    emu.pushImage('shop/web', 'latest', { mediaType: MediaType.dockerManifestList });

    const first = await scan();
    expect(first.status).toBe('succeeded');
    expect(first.errors).toEqual([]);
    expect(first).toMatchObject({ repositories: 2, tags: 4, events: { created: 4, moved: 0, deleted: 0, restored: 0 } });

    const moved = emu.moveTag('shop/api', 'v1.0.0');
    emu.deleteTag('shop/api', 'old');
    const second = await scan();
    expect(second.status).toBe('succeeded');
    expect(second.events).toEqual({ created: 0, moved: 1, deleted: 1, restored: 0 });

    const history = await tagHistory(t.db, { targetId, repository: 'shop/api', tag: 'v1.0.0' });
    expect(history.map((e) => [e.kind, e.digest, e.previousDigest])).toEqual([
      ['created', v1.digest, null],
      ['moved', moved.digest, v1.digest],
    ]);
    expect(history.every((e) => e.protected === false && e.protectionReason.includes('no tag immutability'))).toBe(true);

    const tags = await currentTags(t.db, { targetId, repository: 'shop/api' });
    expect(tags.map((r) => [r.tag, r.digest, r.present, r.protected, r.mediaType])).toEqual([
      ['latest', emu.estate.tagDigest('shop/api', 'latest'), true, false, MediaType.ociIndex],
      ['old', expect.any(String), false, false, MediaType.dockerManifest],
      ['v1.0.0', moved.digest, true, false, MediaType.ociManifest],
    ]);
  });

  it('records no deletions for a repository that failed part-way, and a partial scan', async () => {
    for (let i = 0; i < 150; i++) emu.pushImage('big', `b${String(i).padStart(3, '0')}`);
    emu.pushImage('small', 'v1');
    expect((await scan()).events.created).toBe(151);

    // The second tags/list page keeps failing: the first page alone must not be taken for the whole list.
    emu.faults.add({ match: /^GET \/v2\/big\/tags\/list\?n=100&last=/, reset: true });
    emu.moveTag('small', 'v1');
    const second = await scanFast();
    expect(second.status).toBe('partial');
    expect(second.events).toEqual({ created: 0, moved: 1, deleted: 0, restored: 0 });
    expect(second.errors).toEqual([{ repository: 'big', code: 'failed', message: expect.stringContaining('ECONNRESET') }]);
    const big = await currentTags(t.db, { targetId, repository: 'big' });
    expect(big.filter((r) => r.present)).toHaveLength(150);
  });

  it('fails the scan, without touching stored tags, when the registry is unreachable', async () => {
    emu.pushImage('app', 'v1');
    await scan();
    emu.faults.add({ match: /^GET \/v2\/_catalog/, status: 503 });
    const down = await scanFast();
    expect(down.status).toBe('failed');
    expect(down.errors).toEqual([{ repository: null, code: 'failed', message: expect.stringContaining('HTTP 503') }]);
    expect(down.events).toEqual({ created: 0, moved: 0, deleted: 0, restored: 0 });
    expect((await currentTags(t.db, { targetId, repository: 'app' }))[0].present).toBe(true);
  });

  it('calls a repository gone once a complete catalog no longer lists it', async () => {
    emu.pushImage('keep', 'v1');
    emu.pushImage('drop', 'v1');
    emu.pushImage('drop', 'v2');
    await scan();
    emu.deleteRepository('drop');
    const second = await scan();
    expect(second.status).toBe('succeeded');
    expect(second.events.deleted).toBe(2);
    const dropped = await currentTags(t.db, { targetId, repository: 'drop' });
    expect(dropped.every((r) => !r.present)).toBe(true);
  });
});
