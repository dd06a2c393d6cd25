import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { IncomingMessage } from 'node:http';
import { MediaType, startOciEmulator, type OciEmulator, type OciEmulatorOptions } from '../../emulators/oci/index.js';
import type { RepositoryObservation, RepositoryResult } from '../types.js';
import type { OciTargetConfig } from './config.js';
import { createOciCollector, type OciCollectorOptions } from './index.js';
import { MANIFEST_ACCEPT } from './media-types.js';

const logger = pino({ level: 'silent' });
const fastRetry = { attempts: 3, baseDelayMs: 1, maxDelayMs: 10 };

let running: OciEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.map((e) => e.close()));
  running = [];
});

async function emulator(opts?: OciEmulatorOptions): Promise<OciEmulator> {
  const e = await startOciEmulator(opts);
  running.push(e);
  return e;
}

async function scan(emu: OciEmulator, extra: Partial<OciTargetConfig> = {}, options: OciCollectorOptions = {}) {
  const target: OciTargetConfig = { id: 'oci-test', kind: 'oci', url: emu.url, insecureSkipTlsVerify: false, ...extra };
  const collector = createOciCollector(target, { logger }, { retryPolicy: fastRetry, ...options });
  const results: RepositoryResult[] = [];
  try {
    for await (const r of collector.collect(new AbortController().signal)) results.push(r);
  } finally {
    await collector.close?.();
  }
  const observed = new Map<string, RepositoryObservation>();
  for (const r of results) if (r.kind === 'observed') observed.set(r.observation.repository, r.observation);
  return {
    results,
    observed,
    errors: results.filter((r) => r.kind === 'error'),
    discovered: results.flatMap((r) => (r.kind === 'discovered' ? [r.repositories] : [])),
    last: results.at(-1),
  };
}

/** The tag → digest map the emulator holds, for comparing with what was observed. */
function estateOf(emu: OciEmulator, repository: string): Record<string, string> {
  return Object.fromEntries(emu.estate.tagDigests(repository));
}

function observedMap(obs: RepositoryObservation | undefined): Record<string, string> {
  return Object.fromEntries((obs?.tags ?? []).map((t) => [t.tag, t.digest]));
}

describe('OCI collector: listing', () => {
  it('reads all 230 tags of a repository over three tags/list pages of n=100', async () => {
    const emu = await emulator();
    for (let i = 0; i < 230; i++) emu.pushImage('big/app', `v${String(i).padStart(3, '0')}`);
    emu.pushImage('small', 'latest', { mediaType: MediaType.dockerManifest });

    const { observed, errors, last } = await scan(emu, {}, { pageSize: 100 });

    expect(errors).toEqual([]);
    expect(last).toEqual({ kind: 'listing', complete: true });
    const big = observed.get('big/app')!;
    expect(big.tags).toHaveLength(230);
    expect(observedMap(big)).toEqual(estateOf(emu, 'big/app'));
    expect(big.tags.map((t) => t.tag)).toEqual([...big.tags.map((t) => t.tag)].sort());
    expect(big.protection).toEqual({ kind: 'unknown' });
    expect(big.pullReference).toBe(`127.0.0.1:${emu.port}/big/app`);
    expect(big.tags.every((t) => t.pushedAt === null)).toBe(true);
    const tagPages = emu.faults.requests.filter((r) => r.startsWith('GET /v2/big/app/tags/list'));
    expect(tagPages).toEqual([
      'GET /v2/big/app/tags/list?n=100',
      'GET /v2/big/app/tags/list?n=100&last=v099',
      'GET /v2/big/app/tags/list?n=100&last=v199',
    ]);
    expect(observedMap(observed.get('small'))).toEqual(estateOf(emu, 'small'));
  });

  it('follows catalog pages and reports repositories as they are discovered', async () => {
    const emu = await emulator();
    const names = ['alpha', 'beta/one', 'beta/two', 'gamma', 'delta/x/y'];
    for (const n of names) emu.pushImage(n, 'latest');

    const { observed, discovered, last } = await scan(emu, {}, { pageSize: 2 });

    expect([...observed.keys()].sort()).toEqual([...names].sort());
    expect(discovered).toEqual([2, 4, 5]);
    expect(emu.faults.requests.filter((r) => r.startsWith('GET /v2/_catalog'))).toEqual([
      'GET /v2/_catalog?n=2',
      'GET /v2/_catalog?last=beta%2Fone&n=2',
      'GET /v2/_catalog?last=delta%2Fx%2Fy&n=2',
    ]);
    expect(last).toEqual({ kind: 'listing', complete: true });
  });

  it('follows absolute Link URLs as well as relative ones', async () => {
    const emu = await emulator();
    for (const n of ['a', 'b', 'c']) emu.pushImage(n, 'latest');
    emu.faults.add({
      match: /^GET \/v2\/_catalog\?n=2$/,
      times: 1,
      status: 200,
      body: JSON.stringify({ repositories: ['a', 'b'] }),
      headers: { Link: `<${emu.url}/v2/_catalog?last=b&n=2>; rel="next"` },
    });
    const { observed, errors } = await scan(emu, {}, { pageSize: 2 });
    expect(errors).toEqual([]);
    expect([...observed.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(emu.faults.requests).toContain('GET /v2/_catalog?last=b&n=2');
  });

  it('refuses to follow a Link to another origin (it would carry the credentials there)', async () => {
    const emu = await emulator();
    emu.pushImage('a', 'latest');
    emu.faults.add({
      match: /^GET \/v2\/_catalog/,
      status: 200,
      body: JSON.stringify({ repositories: ['a'] }),
      headers: { Link: '<http://127.0.0.2:9/v2/_catalog?last=a&n=2>; rel="next"' },
    });
    const { errors, observed, last } = await scan(emu, {}, { pageSize: 2 });
    expect(observed.size).toBe(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ repository: null, code: 'failed' });
    expect((errors[0] as { cause: string }).cause).toContain('another origin');
    expect(last).toEqual({ kind: 'listing', complete: false });
  });

  it('applies a glob filter to the catalog', async () => {
    const emu = await emulator();
    for (const n of ['team-a/api', 'team-a/web', 'team-a/deep/worker', 'team-b/api', 'other']) emu.pushImage(n, 'v1');

    const star = await scan(emu, { repositories: ['team-a/*'] });
    expect([...star.observed.keys()].sort()).toEqual(['team-a/api', 'team-a/web']);
    const globstar = await scan(emu, { repositories: ['team-a/**', 'other'] });
    expect([...globstar.observed.keys()].sort()).toEqual(['other', 'team-a/api', 'team-a/deep/worker', 'team-a/web']);
    expect(globstar.discovered.at(-1)).toBe(4);
    expect(emu.faults.requests.filter((r) => r.startsWith('GET /v2/_catalog'))).toHaveLength(2);
  });

  it('uses an all-literal repository list as-is and never calls the catalog', async () => {
    const emu = await emulator();
    for (const n of ['team-a/api', 'team-b/api', 'other']) emu.pushImage(n, 'v1');

    const { observed, errors, discovered, last } = await scan(emu, { repositories: ['team-a/api', 'other', 'not-there'] });

    expect(emu.faults.requests.some((r) => r.includes('_catalog'))).toBe(false);
    expect(emu.faults.requests[0]).toBe('GET /v2/');
    expect([...observed.keys()].sort()).toEqual(['other', 'team-a/api']);
    // A configured name the registry does not know is a denial, not "vanished": nothing listed it.
    expect(errors).toEqual([{ kind: 'error', repository: 'not-there', code: 'denied', cause: expect.stringContaining('NAME_UNKNOWN') }]);
    expect(discovered).toEqual([3]);
    expect(last).toEqual({ kind: 'listing', complete: true });
  });

  it('observes every manifest media type with the same Accept header on every manifest request', async () => {
    const emu = await emulator();
    const accepts: string[] = [];
    emu.faults.add({
      match: (req: IncomingMessage) => {
        if (req.url?.includes('/manifests/')) accepts.push(String(req.headers.accept));
        return false;
      },
    });
    const types = [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList];
    types.forEach((mediaType, i) => emu.pushImage('mixed', `t${i}`, { mediaType }));
    emu.pushImage('other', 'latest', { mediaType: MediaType.dockerManifestList });

    const { observed, errors } = await scan(emu);

    expect(errors).toEqual([]);
    expect(observed.get('mixed')!.tags.map((t) => t.mediaType)).toEqual(types);
    // A Docker manifest list is not swapped for its linux/amd64 image: the tag's own digest is seen.
    expect(observedMap(observed.get('other'))).toEqual(estateOf(emu, 'other'));
    expect(accepts).toHaveLength(5);
    expect(new Set(accepts)).toEqual(new Set([MANIFEST_ACCEPT]));
    for (const type of types) expect(MANIFEST_ACCEPT).toContain(type);
  });

  it('hashes the manifest fetched with GET when a registry sends no Docker-Content-Digest', async () => {
    const emu = await emulator({ digestHeader: false });
    const types = [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList];
    types.forEach((mediaType, i) => emu.pushImage('nodigest', `t${i}`, { mediaType }));

    const { observed, errors } = await scan(emu);

    expect(errors).toEqual([]);
    expect(observedMap(observed.get('nodigest'))).toEqual(estateOf(emu, 'nodigest'));
    expect(observed.get('nodigest')!.tags.map((t) => t.mediaType)).toEqual(types);
    expect(emu.faults.requests.filter((r) => r.startsWith('GET /v2/nodigest/manifests/'))).toHaveLength(4);
  });

  it('copes with a registry that ignores n/last and lists tags unsorted (reference registry 2.8)', async () => {
    const emu = await emulator({ tagsListPagination: 'ignored' });
    for (let i = 0; i < 230; i++) emu.pushImage('quirky', `build-${i}`);
    emu.pushImage('emptied', 'gone');
    emu.deleteTag('emptied', 'gone');

    const { observed, errors } = await scan(emu, {}, { pageSize: 100 });

    expect(errors).toEqual([]);
    expect(observedMap(observed.get('quirky'))).toEqual(estateOf(emu, 'quirky'));
    expect(emu.faults.requests.filter((r) => r.startsWith('GET /v2/quirky/tags/list'))).toEqual(['GET /v2/quirky/tags/list?n=100']);
    // `"tags": null` for a repository whose tags were all deleted: a complete, empty listing.
    expect(observed.get('emptied')?.tags).toEqual([]);
  });
});
