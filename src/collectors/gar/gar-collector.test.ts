/**
 * The GAR collector against the GAR emulator: the real `@google-cloud/artifact-registry` client over
 * a loopback gRPC socket.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import diagnostics from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { status } from '@grpc/grpc-js';
import pino from 'pino';
import { startGarEmulator, type GarEmulator, type GarRepositorySeed } from '../../emulators/gar/index.js';
import { protectionFor } from '../../audit/protection.js';
import type { RepositoryObservation, RepositoryResult } from '../types.js';
import { garTargetSchema, type GarTargetConfig } from './config.js';
import { createGarCollector, type GarCollectorOptions } from './index.js';
import type { GarRepositoryEvidence } from './settings.js';

const PROJECT = 'acme-prod';
const logger = pino({ level: 'silent' });
const FAST: GarCollectorOptions = { retryPolicy: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 } };

const emulators: GarEmulator[] = [];
afterAll(async () => {
  await Promise.all(emulators.map((e) => e.close()));
});

async function emulator(repositories: GarRepositorySeed[] = []): Promise<GarEmulator> {
  const emu = await startGarEmulator({ project: PROJECT, repositories });
  emulators.push(emu);
  return emu;
}

function target(emu: GarEmulator, extra: Partial<GarTargetConfig> = {}): GarTargetConfig {
  return garTargetSchema.parse({ id: 'gar-test', kind: 'gar', project: PROJECT, locations: ['us', 'europe-west1'], endpoint: emu.endpoint, ...extra });
}

async function collect(t: GarTargetConfig, options: GarCollectorOptions = FAST, signal = new AbortController().signal): Promise<RepositoryResult[]> {
  const results: RepositoryResult[] = [];
  for await (const r of createGarCollector(t, { logger }, options).collect(signal)) results.push(r);
  return results;
}

function observations(results: RepositoryResult[]): Map<string, RepositoryObservation> {
  return new Map(results.flatMap((r) => (r.kind === 'observed' ? [[r.observation.repository, r.observation] as const] : [])));
}

function errors(results: RepositoryResult[]) {
  return results.filter((r): r is Extract<RepositoryResult, { kind: 'error' }> => r.kind === 'error');
}

function tagMap(obs: RepositoryObservation | undefined): Record<string, string> {
  return Object.fromEntries((obs?.tags ?? []).map((t) => [t.tag, t.digest]));
}

function listing(results: RepositoryResult[]) {
  const last = results[results.length - 1];
  expect(last?.kind).toBe('listing');
  expect(results.filter((r) => r.kind === 'listing')).toHaveLength(1);
  return last as Extract<RepositoryResult, { kind: 'listing' }>;
}

describe('a large estate in two locations', () => {
  let emu: GarEmulator;
  // us/bulk: 130 images × 10 tagged versions; europe-west1/bulk (same repository name): 1,200 images
  // with one tagged version each, half of them nested under a team path. 2,500 docker images.
  beforeAll(async () => {
    emu = await emulator([
      { location: 'us', repository: 'bulk', immutableTags: false },
      { location: 'europe-west1', repository: 'bulk', immutableTags: true },
    ]);
    for (let i = 0; i < 130; i++) {
      for (let v = 0; v < 10; v++) emu.estate.pushImage('us', 'bulk', `svc-${i}`, { tags: [`1.${v}`, ...(v === 9 ? ['latest'] : [])] });
    }
    for (let i = 0; i < 1200; i++) {
      emu.estate.pushImage('europe-west1', 'bulk', i % 2 ? `team-${i % 7}/app-${i}` : `app-${i}`, { tags: ['v1'] });
    }
  });

  it('observes every image completely, across pages of 1000', async () => {
    const results = await collect(target(emu));
    expect(errors(results)).toEqual([]);
    expect(listing(results).complete).toBe(true);
    const obs = observations(results);
    expect(obs.size).toBe(130 + 1200);

    const svc = obs.get('us/bulk/svc-42')!;
    expect(svc.pullReference).toBe('us-docker.pkg.dev/acme-prod/bulk/svc-42');
    expect(tagMap(svc)).toEqual(Object.fromEntries(emu.estate.tagsOf('us', 'bulk', 'svc-42')));
    expect(svc.tags).toHaveLength(11);
    expect(svc.protection).toEqual({ kind: 'gar', immutableTags: false, mode: 'STANDARD_REPOSITORY' });

    const nested = obs.get('europe-west1/bulk/team-3/app-1053')!;
    expect(nested.pullReference).toBe('europe-west1-docker.pkg.dev/acme-prod/bulk/team-3/app-1053');
    expect(tagMap(nested)).toEqual({ v1: emu.estate.tagsOf('europe-west1', 'bulk', 'team-3/app-1053').get('v1') });
    expect(nested.protection).toEqual({ kind: 'gar', immutableTags: true, mode: 'STANDARD_REPOSITORY' });
    expect(nested.tags[0]).toMatchObject({ mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
    expect(nested.tags[0].pushedAt).toBeInstanceOf(Date);

    const total = [...obs.values()].reduce((n, o) => n + o.tags.length, 0);
    expect(total).toBe(130 * 11 + 1200);

    // Two pages of at most 1000 per GAR repository, each asked for with the maximum page size.
    for (const location of ['us', 'europe-west1']) {
      const parent = `projects/${PROJECT}/locations/${location}/repositories/bulk`;
      expect(emu.callCount('ListDockerImages', parent)).toBe(2);
    }
    expect(emu.calls.every((c) => c.pageSize === 1000)).toBe(true);
    const discovered = results.filter((r) => r.kind === 'discovered');
    expect(discovered[discovered.length - 1]).toEqual({ kind: 'discovered', repositories: 1330 });
  });
});

describe('tag moves', () => {
  it('sees a move in a mutable repository; the emulator refuses it in an immutable one', async () => {
    const emu = await emulator([
      { location: 'us', repository: 'locked', immutableTags: true, images: [{ image: 'api', tags: ['1.0'], content: 'locked-1' }] },
      { location: 'us', repository: 'open', immutableTags: false, images: [{ image: 'api', tags: ['1.0'], content: 'open-1' }] },
    ]);
    const t = target(emu, { locations: ['us'] });
    const before = observations(await collect(t));
    const locked = tagMap(before.get('us/locked/api'))['1.0'];
    const open = tagMap(before.get('us/open/api'))['1.0'];
    expect(protectionFor(before.get('us/locked/api')!.protection, '1.0')).toMatchObject({ protected: true });
    expect(protectionFor(before.get('us/open/api')!.protection, '1.0')).toMatchObject({ protected: false });

    expect(() => emu.estate.pushImage('us', 'locked', 'api', { tags: ['1.0'], content: 'locked-2' })).toThrow(/immutable tags/);
    const moved = emu.estate.pushImage('us', 'open', 'api', { tags: ['1.0'], content: 'open-2' });
    expect(moved).not.toBe(open);

    const after = observations(await collect(t));
    expect(tagMap(after.get('us/locked/api'))).toEqual({ '1.0': locked });
    expect(tagMap(after.get('us/open/api'))).toEqual({ '1.0': moved });
  });

  it('reads immutableTags as changed through UpdateRepository', async () => {
    const emu = await emulator([{ location: 'us', repository: 'r', images: [{ image: 'api', tags: ['v1'] }] }]);
    const t = target(emu, { locations: ['us'] });
    expect(observations(await collect(t)).get('us/r/api')!.protection).toMatchObject({ immutableTags: false });
    emu.estate.setImmutableTags('us', 'r', true);
    const obs = observations(await collect(t)).get('us/r/api')!;
    expect(obs.protection).toMatchObject({ immutableTags: true });
    expect((obs.raw as GarRepositoryEvidence).dockerConfigPresent).toBe(true);
  });
});

describe('errors', () => {
  it('records a denied repository and observes the others', async () => {
    const emu = await emulator([
      { location: 'us', repository: 'secret', images: [{ image: 'vault', tags: ['1'] }] },
      { location: 'us', repository: 'public', images: [{ image: 'web', tags: ['1'] }] },
    ]);
    emu.estate.deny('us', 'secret');
    const results = await collect(target(emu));
    expect(errors(results)).toEqual([{ kind: 'error', repository: 'us/secret', code: 'denied', cause: expect.stringContaining('PERMISSION_DENIED') }]);
    expect([...observations(results).keys()]).toEqual(['us/public/web']);
    // The images of the denied repository are unknown: nothing may be called gone.
    expect(listing(results).complete).toBe(false);
  });

  it('retries transient UNAVAILABLE and RESOURCE_EXHAUSTED, once per failure (no retries doubled by the client)', async () => {
    const emu = await emulator([{ location: 'us', repository: 'r', images: [{ image: 'api', tags: ['v1', 'v2'] }] }]);
    const parent = `projects/${PROJECT}/locations/us/repositories/r`;
    emu.failNext('ListRepositories', status.RESOURCE_EXHAUSTED, { resource: `projects/${PROJECT}/locations/us` });
    emu.failNext('ListDockerImages', status.UNAVAILABLE, { times: 2, resource: parent });
    const results = await collect(target(emu));
    expect(errors(results)).toEqual([]);
    expect(listing(results).complete).toBe(true);
    expect(Object.keys(tagMap(observations(results).get('us/r/api')))).toEqual(['v1', 'v2']);
    expect(emu.callCount('ListDockerImages', parent)).toBe(3);
    expect(emu.callCount('ListRepositories', `projects/${PROJECT}/locations/us`)).toBe(2);
  });

  it('retries a call that outlives its deadline', async () => {
    const emu = await emulator([{ location: 'us', repository: 'r', images: [{ image: 'api', tags: ['v1'] }] }]);
    emu.faults.add({ method: 'ListDockerImages', delayMs: 500, times: 1 });
    const results = await collect(target(emu, { locations: ['us'] }), { ...FAST, timeoutMs: 100 });
    expect(errors(results)).toEqual([]);
    expect(observations(results).has('us/r/api')).toBe(true);
    expect(emu.callCount('ListDockerImages')).toBe(2);
  });

  it('fails every image of a repository whose listing breaks part-way, observing none of them', async () => {
    const emu = await emulator([
      { location: 'us', repository: 'big' },
      { location: 'us', repository: 'small', images: [{ image: 'ok', tags: ['1'] }] },
    ]);
    for (let i = 0; i < 1500; i++) emu.estate.pushImage('us', 'big', `img-${String(i).padStart(4, '0')}`, { tags: ['v1'] });
    const parent = `projects/${PROJECT}/locations/us/repositories/big`;
    emu.failNext('ListDockerImages', status.UNAVAILABLE, { resource: parent, pagesAfterFirst: true, times: 100 });

    const results = await collect(target(emu, { locations: ['us'] }));
    const obs = observations(results);
    expect([...obs.keys()]).toEqual(['us/small/ok']);
    const failed = errors(results);
    // Every image seen on the first page is reported failed; the unseen ones are covered by the
    // incomplete listing.
    expect(failed).toHaveLength(1000);
    expect(failed.every((e) => e.code === 'failed' && e.repository!.startsWith('us/big/') && /UNAVAILABLE/.test(e.cause) && /page 2/.test(e.cause))).toBe(true);
    expect(listing(results).complete).toBe(false);
    // The second page was tried as often as the retry policy allows, then given up.
    expect(emu.calls.filter((c) => c.resource === parent && c.pageToken).length).toBe(4);
  });

  it('reads a repository again when its listing changes between pages', async () => {
    const emu = await emulator([{ location: 'us', repository: 'r' }]);
    const digests = Array.from({ length: 6 }, (_, i) => emu.estate.pushImage('us', 'r', 'api', { content: `v${i}` })).sort();
    emu.estate.tag('us', 'r', 'api', 'stable', digests[0]);
    // Between page 1 (which shows `stable` on the first digest) and page 3, the tag moves to the last.
    emu.beforeAnswer('ListDockerImages', () => emu.estate.tag('us', 'r', 'api', 'stable', digests[5]), { pagesAfterFirst: true });
    const results = await collect(target(emu, { locations: ['us'] }), { ...FAST, pageSize: 2 });
    expect(errors(results)).toEqual([]);
    expect(tagMap(observations(results).get('us/r/api'))).toEqual({ stable: digests[5] });
    expect(emu.callCount('ListDockerImages')).toBe(6);
  });

  it('reports a vanished repository without calling its images gone in this scan', async () => {
    const emu = await emulator([
      { location: 'us', repository: 'gone', images: [{ image: 'x', tags: ['1'] }] },
      { location: 'us', repository: 'stays', images: [{ image: 'y', tags: ['1'] }] },
    ]);
    emu.failNext('ListDockerImages', status.NOT_FOUND, { resource: `projects/${PROJECT}/locations/us/repositories/gone` });
    const results = await collect(target(emu, { locations: ['us'] }));
    expect(errors(results)).toEqual([{ kind: 'error', repository: 'us/gone', code: 'vanished', cause: expect.stringContaining('NOT_FOUND') }]);
    expect(listing(results).complete).toBe(false);
  });

  it('makes a location that cannot be listed a target-level error and reads the others', async () => {
    const emu = await emulator([
      { location: 'us', repository: 'r', images: [{ image: 'api', tags: ['v1'] }] },
      { location: 'europe-west1', repository: 'r', images: [{ image: 'api', tags: ['v1'] }] },
    ]);
    emu.failNext('ListRepositories', status.UNAVAILABLE, { resource: `projects/${PROJECT}/locations/europe-west1`, times: 100 });
    const results = await collect(target(emu));
    expect(errors(results)).toEqual([
      { kind: 'error', repository: null, code: 'failed', cause: expect.stringMatching(/^GAR ListRepositories for projects\/acme-prod\/locations\/europe-west1: UNAVAILABLE: .* \(gave up after 4 attempts\)$/) },
    ]);
    expect([...observations(results).keys()]).toEqual(['us/r/api']);
    expect(listing(results).complete).toBe(false);
  });

  it('stops at the first UNAUTHENTICATED answer', async () => {
    const emu = await emulator([{ location: 'us', repository: 'r' }]);
    emu.failNext('ListRepositories', status.UNAUTHENTICATED, { times: 100, message: 'Request had invalid authentication credentials.' });
    const results = await collect(target(emu));
    expect(results).toEqual([
      { kind: 'error', repository: null, code: 'denied', cause: expect.stringContaining('UNAUTHENTICATED: Request had invalid authentication credentials.') },
      { kind: 'listing', complete: false },
    ]);
    expect(emu.callCount('ListRepositories')).toBe(1);
  });

  it('stops when aborted', async () => {
    const emu = await emulator([{ location: 'us', repository: 'r', images: [{ image: 'api', tags: ['v1'] }] }]);
    emu.faults.add({ method: 'ListDockerImages', delayMs: 2000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(collect(target(emu), FAST, controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('repository kinds and filters', () => {
  it('records REMOTE and VIRTUAL modes; a virtual repository never protects its tags', async () => {
    const emu = await emulator([
      { location: 'us', repository: 'hub', mode: 'REMOTE_REPOSITORY', remoteUpstream: 'DOCKER_HUB', images: [{ image: 'library/nginx', tags: ['1.27'] }] },
      { location: 'us', repository: 'a', immutableTags: true, images: [{ image: 'svc', tags: ['1'], content: 'from-a' }] },
      { location: 'us', repository: 'b', immutableTags: true },
      {
        location: 'us',
        repository: 'all',
        mode: 'VIRTUAL_REPOSITORY',
        immutableTags: true,
        virtualUpstreams: [
          { id: 'b', repository: 'b', priority: 20 },
          { id: 'a', repository: 'a', priority: 10 },
        ],
      },
      { location: 'us', repository: 'npm', format: 'NPM' },
    ]);
    const t = target(emu, { locations: ['us'] });
    const before = observations(await collect(t));
    const remote = before.get('us/hub/library/nginx')!;
    expect(remote.protection).toEqual({ kind: 'gar', immutableTags: false, mode: 'REMOTE_REPOSITORY' });
    expect(remote.raw).toMatchObject({ mode: 'REMOTE_REPOSITORY', remoteUpstream: 'DOCKER_HUB' });

    const virtual = before.get('us/all/svc')!;
    expect(virtual.protection).toEqual({ kind: 'gar', immutableTags: false, mode: 'VIRTUAL_REPOSITORY' });
    expect(virtual.raw).toMatchObject({ mode: 'VIRTUAL_REPOSITORY', immutableTags: true, virtualUpstreams: [{ id: 'b', priority: 20 }, { id: 'a', priority: 10 }] });
    expect(protectionFor(virtual.protection, '1').protected).toBe(false);
    // Why: creating tag 1 in the higher-priority upstream (allowed, both upstreams are immutable)
    // changes what us/all/svc:1 resolves to.
    const fromB = emu.estate.pushImage('us', 'b', 'svc', { tags: ['1'], content: 'from-b' });
    const after = observations(await collect(t));
    expect(tagMap(after.get('us/all/svc'))).toEqual({ '1': fromB });
    expect(tagMap(before.get('us/all/svc'))['1']).not.toBe(fromB);
    // Non-Docker repositories are not read at all.
    expect(emu.callCount('ListDockerImages', `projects/${PROJECT}/locations/us/repositories/npm`)).toBe(0);
  });

  it('applies the repositories glob to <location>/<repository>/<image> and lists nothing it cannot match', async () => {
    const emu = await emulator([
      { location: 'us', repository: 'docker-prod', images: [{ image: 'team/api', tags: ['1'] }, { image: 'web', tags: ['1'] }] },
      { location: 'us', repository: 'docker-dev', images: [{ image: 'team/api', tags: ['1'] }] },
      { location: 'europe-west1', repository: 'docker-prod', images: [{ image: 'team/api', tags: ['1'] }] },
    ]);
    const results = await collect(target(emu, { repositories: ['us/docker-prod/team/**'] }));
    expect([...observations(results).keys()]).toEqual(['us/docker-prod/team/api']);
    expect(listing(results).complete).toBe(true);
    expect(emu.callCount('ListRepositories', `projects/${PROJECT}/locations/europe-west1`)).toBe(0);
    expect(emu.callCount('ListDockerImages', `projects/${PROJECT}/locations/us/repositories/docker-dev`)).toBe(0);

    const both = await collect(target(emu, { repositories: ['*/docker-prod/**'] }));
    expect([...observations(both).keys()].sort()).toEqual(['europe-west1/docker-prod/team/api', 'us/docker-prod/team/api', 'us/docker-prod/web']);
  });
});

describe('authentication against an endpoint', () => {
  const attempts: string[] = [];
  const onSocket = (message: unknown) => {
    const socket = (message as { socket: Socket }).socket;
    socket.on('lookup', (_err: unknown, address: string, _family: unknown, host: string) => attempts.push(`lookup ${host} ${address}`));
    socket.on('connectionAttempt', (ip: string, port: number) => attempts.push(`connect ${ip}:${port}`));
  };
  beforeAll(() => diagnostics.subscribe('net.client.socket', onSocket));
  afterAll(() => diagnostics.unsubscribe('net.client.socket', onSocket));
  afterEach(() => vi.unstubAllEnvs());

  it('sends no credentials and opens no connection but to the endpoint, even without METADATA_SERVER_DETECTION', async () => {
    vi.stubEnv('METADATA_SERVER_DETECTION', '');
    vi.stubEnv('GOOGLE_APPLICATION_CREDENTIALS', '');
    const emu = await emulator([{ location: 'us', repository: 'r', images: [{ image: 'api', tags: ['v1'] }] }]);
    attempts.length = 0;
    const results = await collect(target(emu));
    expect(observations(results).has('us/r/api')).toBe(true);
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.filter((a) => !a.startsWith(`connect 127.0.0.1:${emu.port}`))).toEqual([]);
    expect(attempts.join('\n')).not.toMatch(/169\.254\.169\.254|metadata\.google\.internal/);
    expect(emu.calls.some((c) => c.authorization)).toBe(false);
  });
});
