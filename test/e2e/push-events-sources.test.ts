/**
 * ECR events (EventBridge API destination) and Artifact Registry notifications (Pub/Sub push) into
 * a real `serve` on loopback, with the emulators and the envelopes formatted as those services send
 * them; and `tagledger events test` against it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePrometheusText } from '../helpers/prometheus.js';
import { closedPort } from '../helpers/alerts.js';
import { runCli } from '../helpers/cli.js';
import { NEVER, startPushEventServe, type PushEventServe } from '../helpers/push-events.js';
import { startEcrEmulator, type EcrEmulator } from '../../src/emulators/ecr/index.js';
import { startGarEmulator, type GarEmulator } from '../../src/emulators/gar/index.js';
import { ecrImageActionEvent } from '../../src/emulators/ecr/events.js';
import { garPubSubPush } from '../../src/emulators/gar/events.js';
import { eventsTest } from '../../src/cli/events.js';

const ECR_SECRET = 'ecr-api-destination-key-0123456789';
const GAR_SECRET = 'gar-push-token-0123456789abcdef';

describe('ECR and Artifact Registry events into serve', () => {
  let dir: string;
  let ecr: EcrEmulator;
  let gar: GarEmulator;
  let s: PushEventServe;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tagledger-push-sources-'));
    ecr = await startEcrEmulator();
    ecr.estate.createRepository('payments/api', { imageTagMutability: 'MUTABLE' });
    ecr.estate.pushImage('payments/api', { tag: '1.4.2' });
    gar = await startGarEmulator({ project: 'acme-prod', repositories: [{ location: 'us', repository: 'docker-dev', images: [{ image: 'checkout', tags: ['1.1.0'] }] }] });
    s = await startPushEventServe(
      dir,
      `targets:\n` +
        `  - id: prod-ecr\n    kind: ecr\n    region: ${ecr.region}\n    registryId: "${ecr.registryId}"\n    endpoint: ${ecr.url}\n${NEVER}` +
        `    events: { secret: ${ECR_SECRET}, debounce: 500ms }\n` +
        `  - id: gar-prod\n    kind: gar\n    project: acme-prod\n    locations: [us]\n    endpoint: ${gar.endpoint}\n${NEVER}` +
        `    events: { secret: ${GAR_SECRET}, debounce: 500ms }\n`,
      { AWS_ACCESS_KEY_ID: 'AKIAPUSHEVENTS', AWS_SECRET_ACCESS_KEY: 'push-events-secret', AWS_SESSION_TOKEN: '' },
    );
    // prod-ecr gets no baseline: its first event makes its first scan, of the whole target.
    await s.baseline('gar-prod');
  }, 60_000);

  afterAll(async () => {
    await s?.close();
    await Promise.all([ecr?.close(), gar?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('routes ECR Image Actions from EventBridge (the first one makes the baseline), and records a redelivery once', async () => {
    expect(await s.scansOf('prod-ecr')).toEqual([]);
    const pushed = ecr.estate.pushImage('payments/api', { tag: '2.0.0' });
    const first = ecrImageActionEvent({ action: 'PUSH', repository: 'payments/api', digest: pushed, tag: '2.0.0', account: ecr.registryId, region: ecr.region });
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await s.post('/api/v1/events/ecr/prod-ecr', first, { 'X-Tagledger-Key': ECR_SECRET });
      expect(res.status).toBe(202);
      expect(((await res.json()) as { result: string }).result).toBe(attempt === 0 ? 'accepted' : 'duplicate');
    }
    const [baseline] = await s.settled('prod-ecr', 1);
    expect(baseline).toMatchObject({ repository: 'payments/api', tag: '2.0.0', status: 'confirmed', eventType: 'PUSH' });
    expect((await s.scansOf('prod-ecr'))[0]).toMatchObject({ id: baseline.scanId, scope: null });

    const moved = ecr.estate.moveTag('payments/api', '1.4.2');
    const event = ecrImageActionEvent({ action: 'PUSH', repository: 'payments/api', digest: moved, tag: '1.4.2', account: ecr.registryId, region: ecr.region });
    expect((await s.post('/api/v1/events/ecr/prod-ecr', event, { 'X-Tagledger-Key': 'not-the-key' })).status).toBe(401);
    expect((await s.post('/api/v1/events/ecr/prod-ecr', event, { 'X-Tagledger-Key': ECR_SECRET })).status).toBe(202);
    const [recorded] = await s.settled('prod-ecr', 2);
    expect(recorded).toMatchObject({ tag: '1.4.2', status: 'confirmed' });
    expect((await s.scansOf('prod-ecr'))[0]).toMatchObject({ id: recorded.scanId, scope: ['payments/api'] });
    expect((await s.history('prod-ecr', 'payments/api', '1.4.2')).map((e) => e.kind)).toEqual(['created', 'moved']);
    expect((await s.pushEvents('prod-ecr')).length).toBe(2);
  });

  it('routes Artifact Registry notifications from a Pub/Sub push subscription (token in the query)', async () => {
    const moved = gar.estate.pushImage('us', 'docker-dev', 'checkout', { tags: ['1.1.0'] });
    const message = garPubSubPush({ action: 'INSERT', project: 'acme-prod', location: 'us', repository: 'docker-dev', image: 'checkout', digest: moved, tag: '1.1.0' });
    expect((await s.post('/api/v1/events/gar/gar-prod', message)).status).toBe(401);
    const res = await s.post(`/api/v1/events/gar/gar-prod?token=${GAR_SECRET}`, message);
    expect(res.status).toBe(202);
    const [recorded] = await s.settled('gar-prod', 1);
    expect(recorded).toMatchObject({ repository: 'us/docker-dev/checkout', tag: '1.1.0', status: 'confirmed', eventType: 'INSERT' });
    expect((await s.history('gar-prod', 'us/docker-dev/checkout', '1.1.0')).at(-1)).toMatchObject({ kind: 'moved', digest: moved, scanId: recorded.scanId });
    // A notification for another project's image is acknowledged, kept as ignored, and not scanned.
    const other = garPubSubPush({ action: 'DELETE', project: 'acme-dev', location: 'us', repository: 'docker-dev', image: 'checkout', tag: '1.1.0' });
    expect(await (await s.post('/api/v1/events/gar/gar-prod', other, { 'X-Tagledger-Key': GAR_SECRET })).json()).toMatchObject({ result: 'ignored' });
    // The token in the query string never reaches the log.
    expect(JSON.stringify(s.serve.logs)).not.toContain(GAR_SECRET);

    const m = parsePrometheusText(await (await fetch(`${s.serve.url()}/metrics`)).text());
    expect(m.value('tagledger_push_events_total', { source: 'ecr', result: 'accepted' })).toBe(2);
    expect(m.value('tagledger_push_events_total', { source: 'ecr', result: 'duplicate' })).toBe(1);
    expect(m.value('tagledger_push_events_total', { source: 'gar', result: 'unauthorized' })).toBe(1);
    expect(m.value('tagledger_push_events_total', { source: 'gar', result: 'ignored' })).toBe(1);
    expect(m.value('tagledger_push_event_checks_total', { source: 'gar', status: 'confirmed' })).toBe(1);
  });

  it('`tagledger events test` sends a signed sample that serve reads and does not record', async () => {
    const scans = (await s.scansOf('prod-ecr')).length;
    const cli = await runCli(['--config', s.configFile, 'events', 'test', 'prod-ecr', '--url', s.serve.url()]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`POST ${s.serve.url()}/api/v1/events/ecr/prod-ecr → 202: the secret matched and the ecr event was read (a test: nothing recorded, nothing scanned)`);
    expect(cli.stdout).toContain('a real event like it (tagledger-events-test:events-test push) would be recorded and its repository scanned');
    const gar = await eventsTest({ config: s.configFile, target: 'gar-prod', url: s.serve.url() });
    expect(gar).toMatchObject({ code: 0, text: expect.stringContaining('→ 202: the secret matched and the gar event was read') });
    writeFileSync(join(dir, 'wrong.yaml'), `targets:\n  - id: prod-ecr\n    kind: ecr\n    region: ${ecr.region}\n    events: { secret: not-the-right-secret-at-all }\n`);
    const refused = await eventsTest({ config: join(dir, 'wrong.yaml'), target: 'prod-ecr', url: s.serve.url() });
    expect(refused.code).toBe(2);
    expect(refused.text).toMatch(/→ 401\n  the secret does not match/);
    const closed = await closedPort();
    expect(await eventsTest({ config: s.configFile, target: 'prod-ecr', url: `http://127.0.0.1:${closed}` })).toEqual({
      code: 2,
      text: `tagledger events test: cannot reach serve at http://127.0.0.1:${closed}/api/v1/events/ecr/prod-ecr: ECONNREFUSED`,
    });
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await s.pushEvents('prod-ecr')).length).toBe(2);
    expect((await s.scansOf('prod-ecr')).length).toBe(scans);
  });
});
