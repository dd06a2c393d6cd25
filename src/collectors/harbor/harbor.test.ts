/**
 * The Harbor collector against the Harbor emulator, over real loopback sockets with axios.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { protectionFor } from '../../audit/protection.js';
import { startHarborEmulator, type HarborEmulator, type HarborEmulatorOptions } from '../../emulators/harbor/index.js';
import type { RepositoryObservation, RepositoryResult } from '../types.js';
import { harborTargetSchema, type HarborTargetConfig } from './config.js';
import { createHarborCollector, type HarborCollectorOptions } from './index.js';

const fastRetries: HarborCollectorOptions = { retryPolicy: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 } };
const PASSWORD = 'S3cret-Pa$$word';
const USERNAME = 'robot$tagledger';

let emulators: HarborEmulator[] = [];
afterEach(async () => {
  await Promise.all(emulators.map((e) => e.close()));
  emulators = [];
});

async function emulator(opts: HarborEmulatorOptions = {}): Promise<HarborEmulator> {
  const emu = await startHarborEmulator({ accounts: [{ username: USERNAME, password: PASSWORD }], ...opts });
  emulators.push(emu);
  return emu;
}

function target(emu: HarborEmulator, extra: Partial<HarborTargetConfig> = {}): HarborTargetConfig {
  return harborTargetSchema.parse({ id: 'harbor', kind: 'harbor', url: emu.url, username: USERNAME, password: PASSWORD, ...extra });
}

interface Collected {
  results: RepositoryResult[];
  observed: Map<string, RepositoryObservation>;
  errors: Extract<RepositoryResult, { kind: 'error' }>[];
  listing: Extract<RepositoryResult, { kind: 'listing' }> | undefined;
  log: string;
}

async function collect(t: HarborTargetConfig, options: HarborCollectorOptions = fastRetries, signal = new AbortController().signal): Promise<Collected> {
  let log = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      log += String(chunk);
      cb();
    },
  });
  const collector = createHarborCollector(t, { logger: pino({ level: 'debug' }, sink) }, options);
  const results: RepositoryResult[] = [];
  for await (const r of collector.collect(signal)) results.push(r);
  const observed = new Map<string, RepositoryObservation>();
  for (const r of results) if (r.kind === 'observed') observed.set(r.observation.repository, r.observation);
  expect(results.at(-1)?.kind, 'the last item is the listing').toBe('listing');
  expect(results.filter((r) => r.kind === 'listing')).toHaveLength(1);
  return {
    results,
    observed,
    errors: results.filter((r): r is Extract<RepositoryResult, { kind: 'error' }> => r.kind === 'error'),
    listing: results.at(-1) as Collected['listing'],
    log,
  };
}

function tagMap(o: RepositoryObservation | undefined): Record<string, string> {
  return Object.fromEntries((o?.tags ?? []).map((t) => [t.tag, t.digest]));
}

/**
 * The estate most tests read: three projects, a repository of 260 artifacts (three pages of 100),
 * nested names, rules with include/exclude, alternatives and a disabled rule.
 */
async function estate(opts: HarborEmulatorOptions = {}) {
  const emu = await emulator(opts);
  emu.createProject('team-a');
  emu.createProject('team-b', { public: true });
  emu.createProject('team-c');
  const protectV = emu.addRule('team-a', { repository: { pattern: '**' }, tag: { pattern: 'v*' } });
  const releases = emu.addRule('team-a', { repository: { decoration: 'repoExcludes', pattern: 'big' }, tag: { pattern: '{release,stable}-*' } });
  const svcNoRc = emu.addRule('team-a', { repository: { pattern: 'svc/**' }, tag: { decoration: 'excludes', pattern: '{latest,dev-*,*-rc*}' } });
  const latest = emu.addRule('team-a', { repository: { pattern: '**' }, tag: { pattern: 'latest' }, disabled: true });
  emu.addRule('team-b', { repository: { pattern: 'tools' }, tag: { pattern: 'v[0-9]*' } });
  emu.addRule('team-c', { tag: { pattern: '**' } });

  for (const tag of ['v1.0', 'v1.1-rc1', 'latest', 'release-7', 'dev-42', 'nightly']) emu.pushImage('team-a/svc/api', tag);
  for (const tag of ['v2', 'stable-1', 'latest']) emu.pushImage('team-a/web', tag);
  for (let i = 0; i < 260; i++) emu.pushImage('team-a/big', i % 50 === 0 ? `v0.${i}` : `build-${i}`);
  emu.pushImage('team-a/big', 'release-1'); // a second tag? no: a 261st artifact, excluded from the release rule
  for (const tag of ['v3', 'vx', 'latest']) emu.pushImage('team-b/tools', tag);
  emu.pushImage('team-c/secret', 'v1');
  return { emu, rules: { protectV, releases, svcNoRc, latest } };
}

describe('Harbor collector', () => {
  it('reads every tag of every repository with per-tag protection equal to Harbor\'s own verdict', async () => {
    const { emu } = await estate();
    emu.denyProject('team-c');
    const c = await collect(target(emu));

    expect([...c.observed.keys()].sort()).toEqual(['team-a/big', 'team-a/svc/api', 'team-a/web', 'team-b/tools']);
    const big = c.observed.get('team-a/big')!;
    expect(big.tags).toHaveLength(261);
    expect(new Set(big.tags.map((t) => t.digest)).size).toBe(261);

    // Protection as tagledger evaluates it, for every tag, agrees with Harbor's `immutable` flag.
    let compared = 0;
    for (const obs of c.observed.values()) {
      expect(obs.protection.kind).toBe('harbor');
      for (const tag of obs.tags) {
        expect(tag.extra?.immutable, `${obs.repository}:${tag.tag} carries Harbor's flag`).toBe(emu.isImmutable(obs.repository, tag.tag));
        expect(protectionFor(obs.protection, tag.tag).protected, `${obs.repository}:${tag.tag}`).toBe(tag.extra?.immutable);
        compared++;
      }
    }
    expect(compared).toBe(6 + 3 + 261 + 3);

    const verdicts = (repo: string) =>
      Object.fromEntries(c.observed.get(repo)!.tags.map((t) => [t.tag, protectionFor(c.observed.get(repo)!.protection, t.tag).protected]));
    expect(verdicts('team-a/svc/api')).toEqual({ 'v1.0': true, 'v1.1-rc1': true, latest: false, 'release-7': true, 'dev-42': false, nightly: true });
    expect(verdicts('team-a/web')).toEqual({ v2: true, 'stable-1': true, latest: false });
    expect(verdicts('team-b/tools')).toEqual({ v3: true, vx: false, latest: false });
    expect(verdicts('team-a/big')['release-1']).toBe(false); // repoExcludes big
    expect(verdicts('team-a/big')['v0.50']).toBe(true);

    // Names, references, and the protection settings as the core sees them.
    const api = c.observed.get('team-a/svc/api')!;
    expect(api.pullReference).toBe(`${new URL(emu.url).host}/team-a/svc/api`);
    expect(api.protection).toMatchObject({ kind: 'harbor', project: 'team-a', repositoryInProject: 'svc/api' });
    expect(api.protection.kind === 'harbor' && api.protection.rules.map((r) => [r.repository.pattern, r.tag.pattern, r.disabled])).toEqual([
      ['**', 'v*', false],
      ['big', '{release,stable}-*', false],
      ['svc/**', '{latest,dev-*,*-rc*}', false],
      ['**', 'latest', true],
    ]);
    expect(api.tags.every((t) => t.mediaType === 'application/vnd.oci.image.manifest.v1+json' && t.pushedAt instanceof Date)).toBe(true);
    expect(api.raw).toMatchObject({ project: 'team-a', immutableRules: expect.any(Array) });

    // The denied project: one error naming it, and the listing is incomplete.
    expect(c.errors).toEqual([{ kind: 'error', repository: 'team-c', code: 'denied', cause: expect.stringContaining('HTTP 403 FORBIDDEN') }]);
    expect(c.listing).toEqual({ kind: 'listing', complete: false });
  });

  it('pages through 261 artifacts (3 pages of 100) and encodes nested names twice', async () => {
    const { emu } = await estate();
    const c = await collect(target(emu, { projects: ['team-a'] }));
    expect(c.listing).toEqual({ kind: 'listing', complete: true });
    const bigPages = emu.faults.requests.filter((r) => r.startsWith('GET /api/v2.0/projects/team-a/repositories/big/artifacts?'));
    expect(bigPages).toHaveLength(3);
    expect(bigPages[0]).toContain('page=1&page_size=100');
    expect(bigPages[2]).toContain('page=3&page_size=100');
    expect(emu.faults.requests.some((r) => r.startsWith('GET /api/v2.0/projects/team-a/repositories/svc%252Fapi/artifacts?'))).toBe(true);
    expect(emu.faults.requests.some((r) => r.includes('svc%2Fapi') && !r.includes('svc%252Fapi'))).toBe(false);
  });

  it('filters projects and repositories by glob', async () => {
    const { emu } = await estate();
    const c = await collect(target(emu, { projects: ['team-[ab]'], repositories: ['team-a/**/api', 'team-b/*'] }));
    expect([...c.observed.keys()].sort()).toEqual(['team-a/svc/api', 'team-b/tools']);
    expect(c.listing).toEqual({ kind: 'listing', complete: true });
    expect(emu.faults.requests.some((r) => r.includes('/team-c/'))).toBe(false);
    expect(emu.faults.requests.some((r) => r.includes('/repositories/big/'))).toBe(false);
  });

  it('a disabled rule protects nothing; enabling it changes the verdict and Harbor\'s flag alike', async () => {
    const { emu, rules } = await estate();
    const before = await collect(target(emu, { projects: ['team-a'] }));
    const web = (c: Collected) => c.observed.get('team-a/web')!;
    expect(protectionFor(web(before).protection, 'latest').protected).toBe(false);
    emu.setRuleDisabled('team-a', rules.latest.id, false);
    const after = await collect(target(emu, { projects: ['team-a'] }));
    expect(protectionFor(web(after).protection, 'latest')).toMatchObject({ protected: true, reason: expect.stringContaining(`#${rules.latest.id}`) });
    expect(web(after).tags.find((t) => t.tag === 'latest')?.extra?.immutable).toBe(true);
  });

  it('sees a tag moved while its rule was switched off, and the rule back on afterwards', async () => {
    const { emu, rules } = await estate();
    const first = await collect(target(emu, { projects: ['team-a'] }));
    const old = tagMap(first.observed.get('team-a/web'))['v2'];
    expect(() => emu.moveTag('team-a/web', 'v2')).toThrow("Failed to process request due to 'web:v2' configured as immutable.");
    emu.setRuleDisabled('team-a', rules.protectV.id, true);
    const moved = emu.moveTag('team-a/web', 'v2');
    emu.setRuleDisabled('team-a', rules.protectV.id, false);
    const second = await collect(target(emu, { projects: ['team-a'] }));
    const obs = second.observed.get('team-a/web')!;
    expect(moved.previousDigest).toBe(old);
    expect(tagMap(obs)['v2']).toBe(moved.digest);
    expect(tagMap(obs)['v2']).not.toBe(old);
    expect(protectionFor(obs.protection, 'v2').protected).toBe(true);
    expect(obs.tags.find((t) => t.tag === 'v2')?.extra?.immutable).toBe(true);
  });

  it('without permission to read a project\'s rules, every repository of it is denied (its tags cannot be judged)', async () => {
    const { emu } = await estate();
    emu.denyImmutableRules('team-b');
    const c = await collect(target(emu, { projects: ['team-b'] }));
    expect(c.observed.size).toBe(0);
    expect(c.errors).toEqual([
      { kind: 'error', repository: 'team-b/tools', code: 'denied', cause: expect.stringMatching(/cannot judge protection without the project's rules: Harbor immutable tag rules of project "team-b": GET .* answered HTTP 403 FORBIDDEN/) },
    ]);
    // The repositories were listed, so the listing is whole.
    expect(c.listing).toEqual({ kind: 'listing', complete: true });
  });

  it('retries 429 and 5xx with backoff, then succeeds', async () => {
    const { emu } = await estate();
    emu.faults.add({ match: /repositories\/web\/artifacts/, status: 429, times: 2, headers: { 'Retry-After': '0' }, body: '{"errors":[{"code":"TOO_MANY_REQUESTS","message":"slow down"}]}' });
    emu.faults.add({ match: /\/projects\?/, status: 503, times: 1, body: '{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}' });
    const c = await collect(target(emu, { projects: ['team-a'] }));
    expect(c.errors).toEqual([]);
    expect(Object.keys(tagMap(c.observed.get('team-a/web'))).sort()).toEqual(['latest', 'stable-1', 'v2']);
    expect(emu.faults.requests.filter((r) => /repositories\/web\/artifacts/.test(r))).toHaveLength(3);
    expect(c.log).toContain('retrying Harbor request');
  });

  it('a repository that keeps failing is `failed`; the others are still read', async () => {
    const { emu } = await estate();
    emu.faults.add({ match: /repositories\/web\/artifacts/, status: 500, body: '{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}' });
    const c = await collect(target(emu, { projects: ['team-a'] }));
    expect(c.errors).toEqual([
      { kind: 'error', repository: 'team-a/web', code: 'failed', cause: expect.stringContaining('answered HTTP 500 UNKNOWN "internal server error" (gave up after 3 attempts)') },
    ]);
    expect([...c.observed.keys()].sort()).toEqual(['team-a/big', 'team-a/svc/api']);
    expect(c.listing?.complete).toBe(true);
  });

  it('a Harbor that is down fails the target, and one that goes down mid-scan is abandoned', async () => {
    const { emu } = await estate();
    emu.faults.add({ match: /^GET \/api\/v2\.0\/projects\?/, status: 503, body: '' });
    const down = await collect(target(emu));
    expect(down.results).toEqual([
      { kind: 'error', repository: null, code: 'failed', cause: expect.stringContaining('Harbor projects list: GET') },
      { kind: 'listing', complete: false },
    ]);

    emu.faults.clear();
    emu.faults.add({ match: /\/artifacts\?/, status: 502, body: '' });
    const midway = await collect(target(emu, { projects: ['team-a'], concurrency: 1 }));
    expect(midway.observed.size).toBe(0);
    expect(midway.errors.at(-1)).toEqual({ kind: 'error', repository: null, code: 'failed', cause: expect.stringContaining('Harbor stopped answering') });
    expect(midway.listing).toEqual({ kind: 'listing', complete: false });
  });

  it('wrong credentials fail the target as denied, and no secret appears anywhere', async () => {
    const { emu } = await estate();
    const c = await collect({ ...target(emu), password: 'wrong-Pa$$' });
    expect(c.results).toEqual([
      { kind: 'error', repository: null, code: 'denied', cause: expect.stringContaining('answered HTTP 401 UNAUTHORIZED "unauthorized"') },
      { kind: 'listing', complete: false },
    ]);
    expect(JSON.stringify(c.results)).not.toContain('wrong-Pa$$');
  });

  it('credentials never appear in errors, evidence or logs', async () => {
    const { emu } = await estate();
    emu.denyProject('team-c');
    emu.faults.add({ match: /repositories\/web\/artifacts/, status: 500, body: '' });
    emu.faults.add({ match: /repositories\/big\/artifacts/, malformed: true });
    const c = await collect(target(emu));
    expect(c.errors.map((e) => e.repository).sort()).toEqual(['team-a/big', 'team-a/web', 'team-c']);
    expect(c.errors.find((e) => e.repository === 'team-a/big')?.cause).toContain('answered 200 with a body that is not JSON');
    const basic = Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64');
    for (const text of [JSON.stringify(c.results), c.log]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(basic);
      expect(text).not.toContain('Authorization');
    }
  });

  it('completes a truncated artifact tag list through the artifact\'s tags endpoint', async () => {
    const emu = await emulator({ artifactTagLimit: 1000 });
    emu.createProject('team-a');
    emu.addRule('team-a', { tag: { pattern: 'keep-1*' } });
    const { digest } = emu.pushImage('team-a/many', 'keep-0');
    for (let i = 1; i < 1050; i++) emu.pushImage('team-a/many', `keep-${i}`, { digest });
    emu.pushImage('team-a/many', 'other');

    // The listing embeds only 1000 of the artifact's 1050 tags and says nothing about it.
    const listing = await fetch(`${emu.url}/api/v2.0/projects/team-a/repositories/many/artifacts?page_size=100`, {
      headers: { Authorization: `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}` },
    }).then((r) => r.json() as Promise<Array<{ digest: string; tags: unknown[] }>>);
    expect(listing.find((a) => a.digest === digest)?.tags).toHaveLength(1000);

    const c = await collect(target(emu));
    const obs = c.observed.get('team-a/many')!;
    expect(obs.tags).toHaveLength(1051);
    expect(obs.tags.filter((t) => t.digest === digest)).toHaveLength(1050);
    for (const t of obs.tags) expect(protectionFor(obs.protection, t.tag).protected, t.tag).toBe(t.extra?.immutable);
    const tagPages = emu.faults.requests.filter((r) => r.includes(`/artifacts/${encodeURIComponent(digest)}/tags?`));
    expect(tagPages).toHaveLength(11);
  });

  it('reads a repository again when it changes between two pages, instead of reporting a partial list', async () => {
    const emu = await emulator();
    emu.createProject('p');
    for (let i = 0; i < 150; i++) emu.pushImage('p/app', `t${i}`);
    let pushed = false;
    emu.faults.add({
      match: (req) => {
        if (!pushed && /repositories\/app\/artifacts\?.*page=2/.test(req.url ?? '')) {
          pushed = true;
          emu.pushImage('p/app', 'late'); // newest first: shifts every artifact one place down
        }
        return false;
      },
    });
    const c = await collect(target(emu));
    expect(c.errors).toEqual([]);
    const tags = Object.keys(tagMap(c.observed.get('p/app')));
    expect(tags).toHaveLength(151);
    expect(tags).toContain('late');
    expect(emu.faults.requests.filter((r) => /repositories\/app\/artifacts\?.*page=1&/.test(r))).toHaveLength(2);
  });

  it('reports a plain-HTTP server behind an https:// URL clearly, without retrying', async () => {
    const emu = await emulator();
    const c = await collect({ ...target(emu), url: emu.url.replace('http://', 'https://') });
    expect(c.results).toEqual([
      {
        kind: 'error',
        repository: null,
        code: 'failed',
        cause: `Harbor projects list: TLS handshake with ${new URL(emu.url).host} failed (EPROTO): the server did not answer with TLS (is it plain HTTP? check the scheme of url)`,
      },
      { kind: 'listing', complete: false },
    ]);
  });

  it('verifies the certificate: refused without caFile (host and CA named), accepted with it', async () => {
    // A self-signed certificate for 127.0.0.1, made for these tests only (testdata/).
    const dir = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
    const emu = await emulator({ tls: { key: readFileSync(join(dir, 'test-harbor.key')), cert: readFileSync(join(dir, 'test-harbor.crt')) } });
    emu.createProject('p');
    emu.pushImage('p/app', 'v1');
    const untrusted = await collect(target(emu));
    expect(untrusted.results).toEqual([
      { kind: 'error', repository: null, code: 'failed', cause: expect.stringMatching(/^Harbor projects list: TLS verification failed for https:\/\/127\.0\.0\.1:\d+\/api\/v2\.0\/projects.* \(DEPTH_ZERO_SELF_SIGNED_CERT\); set caFile to the CA that signed it/) },
      { kind: 'listing', complete: false },
    ]);
    expect(emu.faults.requests).toHaveLength(0);
    const trusted = await collect(target(emu, { caFile: join(dir, 'test-harbor.crt') }));
    expect(Object.keys(tagMap(trusted.observed.get('p/app')))).toEqual(['v1']);
    const skipped = await collect(target(emu, { insecureSkipTlsVerify: true }));
    expect(skipped.observed.has('p/app')).toBe(true);
  });

  it('stops when aborted', async () => {
    const { emu } = await estate();
    const controller = new AbortController();
    emu.faults.add({ match: /repositories\/big\/artifacts/, delayMs: 200 });
    const collector = createHarborCollector(target(emu, { projects: ['team-a'] }), { logger: pino({ level: 'silent' }) }, fastRetries);
    const seen: RepositoryResult[] = [];
    const run = (async () => {
      for await (const r of collector.collect(controller.signal)) {
        seen.push(r);
        if (r.kind === 'discovered') controller.abort(new Error('scan aborted by test'));
      }
    })();
    await expect(run).rejects.toThrow('scan aborted by test');
    expect(seen.some((r) => r.kind === 'listing')).toBe(false);
  });

  it('reads rules of a project whose name is all digits by name, not as an id', async () => {
    const emu = await emulator();
    emu.createProject('filler'); // id 1
    emu.createProject('1'); // id 2: read as id 1 without X-Is-Resource-Name
    emu.addRule('1', { tag: { pattern: 'v*' } });
    emu.pushImage('1/app', 'v1');
    const c = await collect(target(emu, { projects: ['1'] }));
    const obs = c.observed.get('1/app')!;
    expect(obs.protection.kind === 'harbor' && obs.protection.rules).toHaveLength(1);
    expect(protectionFor(obs.protection, 'v1').protected).toBe(true);
  });
});

describe('harborTargetSchema', () => {
  it('accepts the documented target and refuses credentials in the URL', () => {
    const ok = harborTargetSchema.parse({ id: 'harbor', kind: 'harbor', url: 'https://harbor.example.com', username: 'robot$audit', password: 's', projects: ['team-*'], repositories: ['team-a/**'], caFile: '/etc/ssl/harbor-ca.pem' });
    expect(ok).toMatchObject({ username: 'robot$audit', projects: ['team-*'], insecureSkipTlsVerify: false });
    const bad = harborTargetSchema.safeParse({ id: 'harbor', kind: 'harbor', url: 'https://robot:pw@harbor.example.com', username: 'robot$audit', password: 's' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0].message).toBe('must not contain credentials: use username and password');
    expect(harborTargetSchema.safeParse({ id: 'harbor', kind: 'harbor', url: 'https://h', username: 'robot$audit' }).success).toBe(false);
    expect(harborTargetSchema.safeParse({ id: 'harbor', kind: 'harbor', url: 'https://h', username: 'u', password: 'p', project: ['x'] }).success).toBe(false);
  });
});
