/**
 * The OCI collector against the reference registry itself (CNCF distribution 2.8, Debian's
 * `docker-registry`), with content pushed over the real API: digests must be the sha256 of the
 * manifests pushed, whatever the registry's own quirks (tags/list ignoring n/last, HEAD answering
 * 404 for an OCI manifest unless Accept names it, deletes by digest only).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createOciCollector, type OciCollectorOptions } from '../../src/collectors/oci/index.js';
import type { OciTargetConfig } from '../../src/collectors/oci/config.js';
import type { RepositoryObservation, RepositoryResult } from '../../src/collectors/types.js';
import type { TargetConfig } from '../../src/config/schema.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import { tagHistory } from '../../src/store/queries/history.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { openTestDatabase } from '../helpers/db.js';
import {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_INDEX,
  OCI_MANIFEST,
  dockerRegistryForTests,
  sha256,
  startDockerRegistry,
  type DockerRegistry,
  type PushedManifest,
} from '../helpers/docker-registry.js';

const binary = dockerRegistryForTests();
const logger = pino({ level: 'silent' });

async function collect(url: string, extra: Partial<OciTargetConfig> = {}, options: OciCollectorOptions = {}) {
  const target: OciTargetConfig = { id: 'real', kind: 'oci', url, insecureSkipTlsVerify: false, ...extra };
  const collector = createOciCollector(target, { logger }, options);
  const results: RepositoryResult[] = [];
  try {
    for await (const r of collector.collect(new AbortController().signal)) results.push(r);
  } finally {
    await collector.close?.();
  }
  const observed = new Map<string, RepositoryObservation>();
  for (const r of results) if (r.kind === 'observed') observed.set(r.observation.repository, r.observation);
  return {
    observed,
    errors: results.filter((r) => r.kind === 'error'),
    discovered: results.flatMap((r) => (r.kind === 'discovered' ? [r.repositories] : [])),
    last: results.at(-1),
  };
}

describe.skipIf(!binary)('OCI collector against the reference registry', () => {
  let registry: DockerRegistry;
  const pushed: PushedManifest[] = [];

  beforeAll(async () => {
    registry = await startDockerRegistry({ binary: binary! });
    const p = registry.pusher;
    pushed.push(await p.pushImage('apps/web', 'v1.0.0', { mediaType: OCI_MANIFEST }));
    pushed.push(await p.pushImage('apps/web', 'v1.1.0', { mediaType: DOCKER_MANIFEST }));
    pushed.push(await p.pushImage('apps/web', 'latest', { mediaType: OCI_INDEX }));
    pushed.push(await p.pushImage('apps/web', 'edge', { mediaType: DOCKER_MANIFEST_LIST }));
    // A second tag on the very same manifest bytes.
    pushed.push(await p.putManifest('apps/web', 'stable', pushed[0].bytes, OCI_MANIFEST));
    const types = [OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX] as const;
    for (let i = 0; i < 7; i++) pushed.push(await p.pushImage('apps/worker', `build-${i}`, { mediaType: types[i % 3] }));
    for (const tag of ['1.0', '1.1', '2.0']) pushed.push(await p.pushImage('tools/cli', tag, { mediaType: DOCKER_MANIFEST }));
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('observes every tag with the sha256 of the manifest pushed and its media type', async () => {
    const { observed, errors, last } = await collect(registry.url, {}, { pageSize: 2 });
    expect(errors).toEqual([]);
    expect(last).toEqual({ kind: 'listing', complete: true });
    expect([...observed.keys()].sort()).toEqual(['apps/web', 'apps/worker', 'tools/cli']);
    for (const p of pushed) {
      const tag = observed.get(p.repository)!.tags.find((t) => t.tag === p.tag);
      expect(tag, `${p.repository}:${p.tag}`).toEqual({ tag: p.tag, digest: sha256(p.bytes), mediaType: p.mediaType, pushedAt: null });
    }
    const total = [...observed.values()].reduce((n, o) => n + o.tags.length, 0);
    expect(total).toBe(pushed.length);
    expect(observed.get('apps/web')!.pullReference).toBe(`127.0.0.1:${registry.port}/apps/web`);
  });

  it('follows the real catalog pagination with a small n', async () => {
    // The registry itself pages the catalog (with a relative Link) ...
    const page = await fetch(`${registry.url}/v2/_catalog?n=1`);
    expect(await page.json()).toEqual({ repositories: ['apps/web'] });
    expect(page.headers.get('link')).toMatch(/^<\/v2\/_catalog\?last=apps%2Fweb&n=1>; rel="next"$/);
    // ... and the collector reads it page by page: one repository per page.
    const { observed, discovered, last } = await collect(registry.url, {}, { pageSize: 1 });
    expect(discovered).toEqual([1, 2, 3]);
    expect(observed.size).toBe(3);
    expect(last).toEqual({ kind: 'listing', complete: true });
  });

  it('reads a literal list without the catalog and filters the catalog with a glob', async () => {
    const literal = await collect(registry.url, { repositories: ['tools/cli', 'apps/none'] });
    expect([...literal.observed.keys()]).toEqual(['tools/cli']);
    expect(literal.errors).toEqual([{ kind: 'error', repository: 'apps/none', code: 'denied', cause: expect.stringContaining('NAME_UNKNOWN') }]);
    const glob = await collect(registry.url, { repositories: ['apps/*'] });
    expect([...glob.observed.keys()].sort()).toEqual(['apps/web', 'apps/worker']);
  });
});

describe.skipIf(!binary)('scan of the reference registry into the store', () => {
  it('records created, moved and deleted tags and their history', async () => {
    const registry = await startDockerRegistry({ binary: binary! });
    const db = await openTestDatabase();
    try {
      const p = registry.pusher;
      const v1 = await p.pushImage('shop/api', 'v1', { mediaType: OCI_MANIFEST });
      await p.putManifest('shop/api', 'prod', v1.bytes, OCI_MANIFEST);
      const latest = await p.pushImage('shop/api', 'latest', { mediaType: DOCKER_MANIFEST });
      await p.pushImage('shop/web', 'latest', { mediaType: OCI_INDEX });
      const target = { id: 'reference-registry', kind: 'oci', url: registry.url, insecureSkipTlsVerify: false } as TargetConfig;
      let clock = Date.parse('2026-05-01T00:00:00Z');
      // The collector is handed over ready-made: loading every kind's SDK through the registry of
      // kinds costs seconds, and that path is covered by oci-scan.test.ts.
      const scan = () =>
        runScan(db.db, target, { logger, now: () => new Date((clock += 1000)), collector: createOciCollector(target as OciTargetConfig, { logger }) });

      const first = await scan();
      expect(first.status).toBe('succeeded');
      expect(first.events).toEqual({ created: 4, moved: 0, deleted: 0, restored: 0 });

      const moved = await p.pushImage('shop/api', 'latest', { mediaType: DOCKER_MANIFEST });
      const second = await scan();
      expect(second.events).toEqual({ created: 0, moved: 1, deleted: 0, restored: 0 });

      // The registry deletes by digest only: both tags on v1's manifest go.
      await p.deleteManifest('shop/api', v1.digest);
      const third = await scan();
      expect(third.status).toBe('succeeded');
      expect(third.events).toEqual({ created: 0, moved: 0, deleted: 2, restored: 0 });

      const latestHistory = await tagHistory(db.db, { targetId: 'reference-registry', repository: 'shop/api', tag: 'latest' });
      expect(latestHistory.map((e) => [e.kind, e.digest, e.previousDigest])).toEqual([
        ['created', latest.digest, null],
        ['moved', moved.digest, latest.digest],
      ]);
      const prodHistory = await tagHistory(db.db, { targetId: 'reference-registry', repository: 'shop/api', tag: 'prod' });
      expect(prodHistory.map((e) => [e.kind, e.digest, e.previousDigest])).toEqual([
        ['created', v1.digest, null],
        ['deleted', null, v1.digest],
      ]);
      const tags = await currentTags(db.db, { targetId: 'reference-registry', repository: 'shop/api' });
      expect(tags.map((r) => [r.tag, r.present, r.protected])).toEqual([
        ['latest', true, false],
        ['prod', false, false],
        ['v1', false, false],
      ]);
    } finally {
      await db.close();
      await registry.stop();
    }
  });
});
