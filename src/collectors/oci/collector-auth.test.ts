import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { IncomingMessage } from 'node:http';
import { startOciEmulator, type OciEmulator, type OciEmulatorOptions } from '../../emulators/oci/index.js';
import type { Collector, RepositoryResult } from '../types.js';
import type { OciTargetConfig } from './config.js';
import { createOciCollector, type OciCollectorOptions } from './index.js';

const fastRetry = { attempts: 3, baseDelayMs: 1, maxDelayMs: 10 };
const USER = 'scanner';
const PASSWORD = 'Sup3r-Secret-Pa55word';

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

function collector(emu: OciEmulator, extra: Partial<OciTargetConfig> = {}, options: OciCollectorOptions = {}, logLines?: string[]): Collector {
  const logger = logLines ? pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) }) : pino({ level: 'silent' });
  const c = createOciCollector({ id: 'oci-auth', kind: 'oci', url: emu.url, insecureSkipTlsVerify: false, ...extra }, { logger }, { retryPolicy: fastRetry, ...options });
  collectors.push(c);
  return c;
}

async function run(c: Collector) {
  const results: RepositoryResult[] = [];
  for await (const r of c.collect(new AbortController().signal)) results.push(r);
  return {
    results,
    observed: results.flatMap((r) => (r.kind === 'observed' ? [r.observation.repository] : [])).sort(),
    errors: results.flatMap((r) => (r.kind === 'error' ? [r] : [])),
    last: results.at(-1),
  };
}

const tokenRequests = (emu: OciEmulator) => emu.faults.requests.filter((r) => r.startsWith('GET /token'));

function seed(emu: OciEmulator) {
  for (const repo of ['app/api', 'app/web', 'tools']) {
    emu.pushImage(repo, 'v1');
    emu.pushImage(repo, 'v2');
  }
}

describe('OCI collector: authentication', () => {
  it('follows the Bearer challenge and caches one token per scope while it is valid', async () => {
    const emu = await emulator({ auth: { kind: 'bearer', username: USER, password: PASSWORD } });
    seed(emu);
    const c = collector(emu, { username: USER, password: PASSWORD });

    const first = await run(c);
    expect(first.errors).toEqual([]);
    expect(first.observed).toEqual(['app/api', 'app/web', 'tools']);
    // One token for the catalog, one per repository: not one per request (3 × (1 tags/list + 2 HEADs)).
    expect(tokenRequests(emu).map((r) => decodeURIComponent(new URL(r.slice(4), 'http://x').searchParams.get('scope')!)).sort()).toEqual([
      'registry:catalog:*',
      'repository:app/api:pull',
      'repository:app/web:pull',
      'repository:tools:pull',
    ]);

    const second = await run(c);
    expect(second.observed).toEqual(['app/api', 'app/web', 'tools']);
    expect(tokenRequests(emu)).toHaveLength(4);
  });

  it('renews tokens after expires_in, assuming 60 s when the token service leaves it out', async () => {
    const emu = await emulator({ auth: { kind: 'bearer', omitExpiresIn: true, tokenField: 'access_token' } });
    seed(emu);
    let clock = 1_000_000;
    const c = collector(emu, {}, { now: () => clock });

    expect((await run(c)).observed).toHaveLength(3);
    expect(tokenRequests(emu)).toHaveLength(4);
    clock += 45_000;
    expect((await run(c)).observed).toHaveLength(3);
    expect(tokenRequests(emu)).toHaveLength(4);
    clock += 20_000; // 65 s after issue: past the default 60 s lifetime
    expect((await run(c)).observed).toHaveLength(3);
    expect(tokenRequests(emu)).toHaveLength(8);
  });

  it('gets a new token when the registry stops accepting a cached one', async () => {
    const emu = await emulator({ auth: { kind: 'bearer', username: USER, password: PASSWORD } });
    seed(emu);
    const c = collector(emu, { username: USER, password: PASSWORD });
    await run(c);
    emu.revokeTokens();
    const again = await run(c);
    expect(again.errors).toEqual([]);
    expect(again.observed).toEqual(['app/api', 'app/web', 'tools']);
    expect(tokenRequests(emu)).toHaveLength(8);
  });

  it('fails the target clearly when the token service refuses the credentials', async () => {
    const emu = await emulator({ auth: { kind: 'bearer', username: USER, password: PASSWORD } });
    seed(emu);
    const { errors, observed, last } = await run(collector(emu, { username: USER, password: 'wrong-password' }));
    expect(observed).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ repository: null, code: 'failed' });
    expect(errors[0].cause).toMatch(/token request to http:\/\/127\.0\.0\.1:\d+\/token for scope "registry:catalog:\*" failed: HTTP 401.*check username and password/);
    expect(last).toEqual({ kind: 'listing', complete: false });
  });

  it('stops after one token when a registry refuses its catalog to every token (Docker Hub)', async () => {
    const emu = await emulator({ auth: { kind: 'bearer' }, catalog: 'unauthorized' });
    seed(emu);
    const { errors, last } = await run(collector(emu));
    expect(errors).toHaveLength(1);
    expect(errors[0].repository).toBeNull();
    expect(errors[0].cause).toContain('list the repositories by name in "repositories"');
    expect(tokenRequests(emu)).toHaveLength(1);
    expect(last).toEqual({ kind: 'listing', complete: false });
  });

  it('sends Basic credentials once the registry asks for them', async () => {
    const emu = await emulator({ auth: { kind: 'basic', username: USER, password: PASSWORD } });
    seed(emu);
    const { observed, errors } = await run(collector(emu, { username: USER, password: PASSWORD }));
    expect(errors).toEqual([]);
    expect(observed).toEqual(['app/api', 'app/web', 'tools']);
    // Only the very first request goes out anonymous and is challenged.
    expect(emu.faults.requests.filter((r) => r.startsWith('GET /v2/_catalog'))).toHaveLength(2);
  });

  it('takes credentials from the URL when no username is configured, and never sends them in the URL', async () => {
    const emu = await emulator({ auth: { kind: 'basic', username: USER, password: PASSWORD } });
    seed(emu);
    const withCreds = emu.url.replace('http://', `http://${USER}:${encodeURIComponent(PASSWORD)}@`);
    const { observed, results } = await run(createTracked(withCreds));
    expect(observed).toEqual(['app/api', 'app/web', 'tools']);
    for (const r of results) if (r.kind === 'observed') expect(r.observation.pullReference).toBe(`127.0.0.1:${emu.port}/${r.observation.repository}`);
  });

  it('reports a refused catalog as a target error when Basic credentials are wrong', async () => {
    const emu = await emulator({ auth: { kind: 'basic', username: USER, password: PASSWORD } });
    seed(emu);
    const { errors, last } = await run(collector(emu, { username: USER, password: 'nope' }));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ repository: null, code: 'failed' });
    expect(errors[0].cause).toContain('HTTP 401');
    expect(errors[0].cause).toContain('check the credentials');
    expect(last).toEqual({ kind: 'listing', complete: false });
  });

  it('never puts passwords, Basic headers or tokens in error messages or logs', async () => {
    const emu = await emulator({ auth: { kind: 'bearer', username: USER, password: PASSWORD } });
    seed(emu);
    emu.pushImage('locked', 'v1');
    emu.pushImage('broken', 'v1');
    emu.pushImage('garbled', 'v1');
    emu.denyRepository('locked');
    const secrets = new Set([PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')]);
    emu.faults.add({
      match: (req: IncomingMessage) => {
        const auth = req.headers.authorization;
        if (auth?.startsWith('Bearer ')) secrets.add(auth.slice(7));
        return false;
      },
    });
    emu.faults.add({ match: /^GET \/v2\/broken\/tags\/list/, status: 503, body: '{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}' });
    emu.faults.add({ match: /^GET \/v2\/garbled\/tags\/list/, malformed: true });
    emu.faults.add({ match: /^HEAD \/v2\/tools\/manifests\/v2/, reset: true });

    const logLines: string[] = [];
    const { errors, observed } = await run(collector(emu, { username: USER, password: PASSWORD }, {}, logLines));

    expect(observed).toEqual(['app/api', 'app/web']);
    expect(errors.map((e) => [e.repository, e.code]).sort()).toEqual([
      ['broken', 'failed'],
      ['garbled', 'failed'],
      ['locked', 'denied'],
      ['tools', 'failed'],
    ]);
    expect(secrets.size).toBeGreaterThan(2); // tokens were captured, so the check below means something
    expect(logLines.some((l) => l.includes('retrying'))).toBe(true);
    const text = [...errors.map((e) => e.cause), ...logLines].join('\n');
    for (const secret of secrets) expect(text).not.toContain(secret);

    // A target-level failure with a wrong password says nothing of it either.
    const bad = await run(collector(emu, { username: USER, password: `${PASSWORD}-old` }, {}, logLines));
    const badText = [...bad.errors.map((e) => e.cause), ...logLines].join('\n');
    expect(bad.errors).toHaveLength(1);
    expect(badText).not.toContain(`${PASSWORD}-old`);
    expect(badText).not.toContain(Buffer.from(`${USER}:${PASSWORD}-old`).toString('base64'));
  });

  function createTracked(url: string): Collector {
    const c = createOciCollector({ id: 'oci-auth', kind: 'oci', url, insecureSkipTlsVerify: false }, { logger: pino({ level: 'silent' }) }, { retryPolicy: fastRetry });
    collectors.push(c);
    return c;
  }
});
