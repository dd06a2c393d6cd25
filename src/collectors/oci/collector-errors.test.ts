import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { startOciEmulator, type OciEmulator, type OciEmulatorOptions } from '../../emulators/oci/index.js';
import type { Collector, RepositoryResult } from '../types.js';
import type { OciTargetConfig } from './config.js';
import { createOciCollector, type OciCollectorOptions } from './index.js';

const fastRetry = { attempts: 3, baseDelayMs: 1, maxDelayMs: 10 };

let running: OciEmulator[] = [];
let collectors: Collector[] = [];
afterEach(async () => {
  await Promise.all(collectors.map((c) => c.close?.()));
  await Promise.all(running.map((e) => e.close()));
  running = [];
  collectors = [];
});

async function emulator(opts?: OciEmulatorOptions): Promise<OciEmulator> {
  const e = await startOciEmulator(opts);
  running.push(e);
  return e;
}

function collector(url: string, extra: Partial<OciTargetConfig> = {}, options: OciCollectorOptions = {}, logLines?: string[]): Collector {
  const logger = logLines ? pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) }) : pino({ level: 'silent' });
  const c = createOciCollector({ id: 'oci-errors', kind: 'oci', url, insecureSkipTlsVerify: false, ...extra }, { logger }, { retryPolicy: fastRetry, ...options });
  collectors.push(c);
  return c;
}

async function run(c: Collector, signal = new AbortController().signal) {
  const results: RepositoryResult[] = [];
  for await (const r of c.collect(signal)) results.push(r);
  return {
    results,
    observed: results.flatMap((r) => (r.kind === 'observed' ? [r.observation.repository] : [])).sort(),
    errors: results.flatMap((r) => (r.kind === 'error' ? [r] : [])),
    last: results.at(-1),
  };
}

function seed(emu: OciEmulator, repos = ['alpha', 'beta', 'gamma'], tags = 3) {
  for (const repo of repos) for (let i = 0; i < tags; i++) emu.pushImage(repo, `v${i}`);
}

describe('OCI collector: failures', () => {
  it('waits as long as Retry-After asks after a 429, then succeeds', async () => {
    const emu = await emulator();
    seed(emu);
    emu.faults.add({ match: /^GET \/v2\/beta\/tags\/list/, times: 1, status: 429, headers: { 'Retry-After': '1' }, body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}' });
    const logs: string[] = [];
    const { observed, errors } = await run(collector(emu.url, {}, {}, logs));
    expect(errors).toEqual([]);
    expect(observed).toEqual(['alpha', 'beta', 'gamma']);
    expect(emu.faults.requests.filter((r) => r.startsWith('GET /v2/beta/tags/list'))).toHaveLength(2);
    const retry = logs.map((l) => JSON.parse(l)).find((l) => l.msg?.includes('retrying'));
    expect(retry).toMatchObject({ delayMs: 1000, reason: expect.stringContaining('HTTP 429 (TOOMANYREQUESTS: slow down)') });
  });

  it('fails one repository whose tags/list keeps answering 503, and observes the others', async () => {
    const emu = await emulator();
    seed(emu);
    emu.faults.add({ match: /^GET \/v2\/beta\/tags\/list/, status: 503 });
    const { observed, errors, last } = await run(collector(emu.url));
    expect(observed).toEqual(['alpha', 'gamma']);
    expect(errors).toEqual([{ kind: 'error', repository: 'beta', code: 'failed', cause: expect.stringMatching(/GET http:\/\/127\.0\.0\.1:\d+\/v2\/beta\/tags\/list\?n=100: HTTP 503 \(gave up after 3 attempts\)/) }]);
    expect(emu.faults.requests.filter((r) => r.startsWith('GET /v2/beta/tags/list'))).toHaveLength(3);
    expect(last).toEqual({ kind: 'listing', complete: true });
  });

  it('fails the target when the catalog keeps answering 503', async () => {
    const emu = await emulator();
    seed(emu);
    emu.faults.add({ match: /^GET \/v2\/_catalog/, status: 503 });
    const { results } = await run(collector(emu.url));
    expect(results).toEqual([
      { kind: 'error', repository: null, code: 'failed', cause: expect.stringContaining('listing repositories failed: GET') },
      { kind: 'listing', complete: false },
    ]);
    expect((results[0] as { cause: string }).cause).toContain('HTTP 503');
  });

  it('fails the target when the registry is unreachable', async () => {
    const emu = await emulator();
    const url = emu.url;
    await emu.close();
    running = [];
    const catalog = await run(collector(url));
    expect(catalog.results).toEqual([
      { kind: 'error', repository: null, code: 'failed', cause: expect.stringMatching(/ECONNREFUSED on http:\/\/127\.0\.0\.1:\d+\/v2\/_catalog.*gave up after 3 attempts/) },
      { kind: 'listing', complete: false },
    ]);
    const literal = await run(collector(url, { repositories: ['alpha'] }));
    expect(literal.results).toEqual([
      { kind: 'error', repository: null, code: 'failed', cause: expect.stringContaining('is not usable: GET ECONNREFUSED') },
      { kind: 'listing', complete: false },
    ]);
  });

  it('fails a repository whose connection resets on a later tags/list page, never yielding its first page', async () => {
    const emu = await emulator();
    seed(emu, ['alpha', 'gamma'], 2);
    for (let i = 0; i < 230; i++) emu.pushImage('beta', `t${String(i).padStart(3, '0')}`);
    emu.faults.add({ match: /^GET \/v2\/beta\/tags\/list\?n=100&last=t099/, reset: true });
    const { observed, errors, last } = await run(collector(emu.url));
    expect(observed).toEqual(['alpha', 'gamma']);
    expect(errors).toEqual([{ kind: 'error', repository: 'beta', code: 'failed', cause: expect.stringContaining('ECONNRESET') }]);
    expect(last).toEqual({ kind: 'listing', complete: true });
  });

  it('retries a single reset and then observes the repository whole', async () => {
    const emu = await emulator();
    for (let i = 0; i < 230; i++) emu.pushImage('beta', `t${String(i).padStart(3, '0')}`);
    emu.faults.add({ match: /^GET \/v2\/beta\/tags\/list\?n=100&last=t099/, reset: true, times: 1 });
    const { results, errors } = await run(collector(emu.url));
    expect(errors).toEqual([]);
    const beta = results.find((r) => r.kind === 'observed');
    expect(beta?.kind === 'observed' && beta.observation.tags).toHaveLength(230);
  });

  it('names the URL and the problem for malformed JSON and wrong shapes', async () => {
    const emu = await emulator();
    seed(emu);
    emu.faults.add({ match: /^GET \/v2\/alpha\/tags\/list/, malformed: true });
    emu.faults.add({ match: /^GET \/v2\/beta\/tags\/list/, status: 200, body: '{"name":"beta","tags":"v1"}' });
    const { observed, errors } = await run(collector(emu.url));
    expect(observed).toEqual(['gamma']);
    const byRepo = Object.fromEntries(errors.map((e) => [e.repository, e]));
    expect(byRepo.alpha).toMatchObject({ code: 'failed' });
    expect(byRepo.alpha.cause).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/v2\/alpha\/tags\/list\?n=100: response is not valid JSON/);
    expect(byRepo.beta.cause).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/v2\/beta\/tags\/list\?n=100: unexpected response shape \(tags: .*expected array/);

    emu.faults.clear();
    emu.faults.add({ match: /^GET \/v2\/_catalog/, malformed: true });
    const catalog = await run(collector(emu.url));
    expect(catalog.errors).toHaveLength(1);
    expect(catalog.errors[0].repository).toBeNull();
    expect(catalog.errors[0].cause).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/v2\/_catalog\?n=100: response is not valid JSON/);
  });

  it('fails a repository whose Docker-Content-Digest is not a digest', async () => {
    const emu = await emulator();
    seed(emu, ['alpha', 'beta'], 2);
    emu.faults.add({ match: /^HEAD \/v2\/beta\/manifests\/v1/, status: 200, headers: { 'Docker-Content-Digest': 'latest', 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
    const { observed, errors } = await run(collector(emu.url));
    expect(observed).toEqual(['alpha']);
    expect(errors).toEqual([{ kind: 'error', repository: 'beta', code: 'failed', cause: expect.stringMatching(/tag "v1": HEAD http:\/\/.*\/v2\/beta\/manifests\/v1: Docker-Content-Digest "latest" is not a digest/) }]);
  });

  it('records a denied repository as denied and carries on', async () => {
    const emu = await emulator();
    seed(emu);
    emu.denyRepository('beta');
    const { observed, errors, last } = await run(collector(emu.url));
    expect(observed).toEqual(['alpha', 'gamma']);
    expect(errors).toEqual([{ kind: 'error', repository: 'beta', code: 'denied', cause: expect.stringContaining('HTTP 403 (DENIED: requested access to the resource is denied)') }]);
    expect(last).toEqual({ kind: 'listing', complete: true });
  });

  it('calls a repository the catalog listed but tags/list no longer knows "vanished"', async () => {
    const emu = await emulator();
    seed(emu);
    emu.faults.add({
      match: (req) => {
        if (req.url?.startsWith('/v2/beta/tags/list')) emu.deleteRepository('beta');
        return false;
      },
    });
    const { observed, errors } = await run(collector(emu.url));
    expect(observed).toEqual(['alpha', 'gamma']);
    expect(errors).toEqual([{ kind: 'error', repository: 'beta', code: 'vanished', cause: expect.stringContaining('NAME_UNKNOWN') }]);
  });

  it('fails the whole repository when a listed tag is deleted before its manifest is read', async () => {
    const emu = await emulator();
    seed(emu, ['alpha', 'beta'], 5);
    emu.faults.add({
      match: (req) => {
        if (req.method === 'HEAD' && req.url === '/v2/beta/manifests/v3') emu.deleteTag('beta', 'v3');
        return false;
      },
    });
    const { observed, errors, results } = await run(collector(emu.url));
    expect(observed).toEqual(['alpha']);
    expect(errors).toEqual([{ kind: 'error', repository: 'beta', code: 'failed', cause: expect.stringContaining('tag "v3" was listed but its manifest was not found') }]);
    expect(results.some((r) => r.kind === 'observed' && r.observation.repository === 'beta')).toBe(false);
  });

  it('explains that a registry without a catalog needs the repositories listed', async () => {
    const emu = await emulator({ catalog: 'not-found' });
    seed(emu);
    const { results } = await run(collector(emu.url));
    expect(results).toEqual([
      { kind: 'error', repository: null, code: 'failed', cause: expect.stringContaining('does not offer the repository catalog') },
      { kind: 'listing', complete: false },
    ]);
    expect((results[0] as { cause: string }).cause).toContain('list the repositories by name in "repositories"');

    const literal = await run(collector(emu.url, { repositories: ['alpha', 'gamma'] }));
    expect(literal.errors).toEqual([]);
    expect(literal.observed).toEqual(['alpha', 'gamma']);
  });

  it('detects a pagination loop instead of listing forever', async () => {
    const emu = await emulator();
    seed(emu, ['alpha'], 1);
    emu.faults.add({ match: /^GET \/v2\/alpha\/tags\/list/, status: 200, body: '{"name":"alpha","tags":["v0"]}', headers: { Link: '</v2/alpha/tags/list?n=100&last=v0>; rel="next"' } });
    const { errors } = await run(collector(emu.url));
    expect(errors).toEqual([{ kind: 'error', repository: 'alpha', code: 'failed', cause: expect.stringContaining('pagination loop') }]);
  });

  it('stops when the scan is aborted, yielding no half-read repository', async () => {
    const emu = await emulator();
    seed(emu);
    emu.faults.add({ match: /^GET \/v2\/beta\/tags\/list/, delayMs: 10_000 });
    const ctl = new AbortController();
    const seen: RepositoryResult[] = [];
    const c = collector(emu.url);
    const iteration = (async () => {
      for await (const r of c.collect(ctl.signal)) {
        seen.push(r);
        if (r.kind === 'observed' && seen.filter((s) => s.kind === 'observed').length === 2) ctl.abort(new Error('scan cancelled'));
      }
    })();
    await expect(iteration).rejects.toThrow('scan cancelled');
    expect(seen.filter((r) => r.kind === 'observed').map((r) => r.kind === 'observed' && r.observation.repository).sort()).toEqual(['alpha', 'gamma']);
    expect(seen.some((r) => r.kind === 'listing' || r.kind === 'error')).toBe(false);
  });
});
