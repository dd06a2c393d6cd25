/**
 * Harbor webhooks into a real `serve` on loopback: the Harbor emulator sends them itself (a webhook
 * policy with an auth_header), alerts go to a webhook receiver. The schedule is far in the future:
 * every scan after the baseline is one that an event triggered. ECR and Artifact Registry deliveries:
 * push-events-sources.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alerts.js';
import { parsePrometheusText } from '../helpers/prometheus.js';
import { bearer, NEVER, startPushEventServe, until, type PushEventServe } from '../helpers/push-events.js';
import { startHarborEmulator, type HarborEmulator } from '../../src/emulators/harbor/index.js';

const SECRET = 'harbor-webhook-secret-0123456789';

describe('Harbor webhooks into serve', () => {
  let dir: string;
  let harbor: HarborEmulator;
  let receiver: AlertReceiver;
  let s: PushEventServe;
  const alerts = () => receiver.deliveries.map((d) => d.json() as { type: string; repository: string; tag: string; target: { id: string } });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tagledger-push-events-'));
    harbor = await startHarborEmulator();
    harbor.createProject('team-a');
    harbor.addRule('team-a', { repository: { pattern: '**' }, tag: { pattern: 'v*' } });
    harbor.pushImage('team-a/api', 'v1.0');
    harbor.pushImage('team-a/api', 'latest');
    harbor.pushImage('team-a/web', 'latest');
    receiver = await startAlertReceiver();
    s = await startPushEventServe(
      dir,
      `targets:\n  - id: harbor\n    kind: harbor\n    url: ${harbor.url}\n    username: ${JSON.stringify(harbor.username)}\n    password: ${harbor.password}\n    projects: [team-a]\n${NEVER}` +
        `    events: { secret: ${SECRET}, debounce: 1s }\n` +
        `policy:\n  movableTags: []\n` +
        `notifiers:\n  - id: hook\n    kind: webhook\n    url: ${receiver.url}\n    events: [tag.moved, tag.deleted]\n`,
    );
    await s.baseline('harbor');
    harbor.webhook.policy = { url: `${s.serve.url()}/api/v1/events/harbor/harbor`, authHeader: SECRET };
  }, 60_000);

  afterAll(async () => {
    await s?.close();
    await Promise.all([harbor?.close(), receiver?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a webhook for a moved tag gets the move recorded and alerted within seconds, in a scan of that repository only', async () => {
    const before = await s.scansOf('harbor');
    const { digest, previousDigest } = harbor.moveTag('team-a/api', 'latest');
    const [delivery] = await harbor.webhook.flush();
    expect(delivery).toMatchObject({ type: 'PUSH_ARTIFACT', repository: 'team-a/api', tag: 'latest', status: 202 });

    const [event] = await s.settled('harbor', 1);
    expect(event).toMatchObject({ repository: 'team-a/api', tag: 'latest', action: 'push', eventType: 'PUSH_ARTIFACT', status: 'confirmed' });
    const scans = await s.scansOf('harbor');
    expect(scans.length).toBe(before.length + 1);
    expect(scans[0]).toMatchObject({ id: event.scanId, status: 'succeeded', scope: ['team-a/api'] });
    expect((await s.history('harbor', 'team-a/api', 'latest')).at(-1)).toEqual(expect.objectContaining({ kind: 'moved', digest, scanId: event.scanId }));
    const alert = await until('the tag.moved alert', async () => alerts().find((a) => a.type === 'tag.moved' && a.tag === 'latest'));
    expect(alert).toMatchObject({ repository: 'team-a/api', target: { id: 'harbor' } });
    expect(JSON.stringify(alert)).toContain(previousDigest);
  });

  it('a burst of 50 webhooks for one repository makes one scan', async () => {
    const before = (await s.scansOf('harbor')).length;
    const events = (await s.pushEvents('harbor')).length;
    for (let i = 0; i < 50; i++) harbor.pushImage('team-a/web', `build-${i}`);
    const deliveries = await harbor.webhook.flush();
    expect(deliveries.slice(-50).map((d) => d.status)).toEqual(Array(50).fill(202));
    const burst = (await s.settled('harbor', events + 50)).slice(0, 50);
    expect(new Set(burst.map((e) => e.scanId)).size).toBe(1);
    expect(burst.map((e) => e.status)).toEqual(Array(50).fill('confirmed'));
    const scans = await s.scansOf('harbor');
    expect(scans.length).toBe(before + 1);
    expect(scans[0].scope).toEqual(['team-a/web']);
  });

  it('a wrong or missing secret gets 401 and changes nothing; the API token is not the secret', async () => {
    const events = (await s.pushEvents('harbor')).length;
    const scans = (await s.scansOf('harbor')).length;
    const body = { type: 'PUSH_ARTIFACT', event_data: { resources: [{ tag: 'latest' }], repository: { namespace: 'team-a', repo_full_name: 'team-a/api' } } };
    for (const headers of [{}, { Authorization: 'wrong-secret' }, bearer, { Authorization: `${SECRET}x` }] as Array<Record<string, string>>) {
      const res = await s.post('/api/v1/events/harbor/harbor', body, headers);
      expect(res.status).toBe(401);
      expect(JSON.stringify(await res.json())).not.toContain(SECRET);
    }
    // Nothing was recorded, so nothing can be queued; and no scan follows once the quiet period is over.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await s.pushEvents('harbor')).length).toBe(events);
    expect((await s.scansOf('harbor')).length).toBe(scans);
    expect(s.serve.logs.some((l) => l.msg === 'push event refused: not authenticated' && l.presented === 'a wrong secret')).toBe(true);
    expect(JSON.stringify(s.serve.logs)).not.toContain(SECRET);
  });

  it('a DELETE the registry contradicts is recorded unconfirmed and raises no tag.deleted', async () => {
    const events = (await s.pushEvents('harbor')).length;
    // Harbor refuses to delete v1.0 (an immutable rule): an event saying it was deleted is not the truth.
    const res = await s.post(
      '/api/v1/events/harbor/harbor',
      { type: 'DELETE_ARTIFACT', occur_at: 1772539204, operator: 'mallory', event_data: { resources: [{ tag: 'v1.0' }], repository: { namespace: 'team-a', repo_full_name: 'team-a/api' } } },
      { Authorization: `Bearer ${SECRET}` },
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ result: 'accepted', events: [{ repository: 'team-a/api', tag: 'v1.0', action: 'delete', status: 'received' }] });
    const [event] = await s.settled('harbor', events + 1);
    expect(event).toMatchObject({ tag: 'v1.0', action: 'delete', status: 'unconfirmed' });
    expect(event.note).toMatch(/the registry contradicts the event: tag v1\.0 is still there/);
    expect((await s.history('harbor', 'team-a/api', 'v1.0')).map((e) => e.kind)).toEqual(['created']);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(alerts().filter((a) => a.type === 'tag.deleted')).toEqual([]);
    expect(s.serve.logs.some((l) => l.msg === 'push event not confirmed by the registry' && l.pushEvent === event.id)).toBe(true);
  });

  it('refuses bad input with a reason and records nothing; acknowledges what it does not take', async () => {
    const events = (await s.pushEvents('harbor')).length;
    const auth = { Authorization: SECRET };
    const big = await s.post('/api/v1/events/harbor/harbor', { type: 'PUSH_ARTIFACT', padding: 'x'.repeat(70 * 1024) }, auth);
    expect(big.status).toBe(413);
    const notJson = await s.post('/api/v1/events/harbor/harbor', '{"type":', auth);
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { message: string }).message).toBe('the body is not JSON');
    const wrong = await s.post('/api/v1/events/harbor/harbor', { type: 'PUSH_ARTIFACT', event_data: { repository: { repo_full_name: 'team-a/../etc' } } }, auth);
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { message: string }).message).toMatch(/repo_full_name: "team-a\/\.\.\/etc" is not a repository name/);
    const pull = await s.post('/api/v1/events/harbor/harbor', { type: 'PULL_ARTIFACT', event_data: {} }, auth);
    expect(await pull.json()).toEqual({ result: 'ignored', reason: 'event type PULL_ARTIFACT changes no tag', events: [] });
    const outside = await s.post('/api/v1/events/harbor/harbor', { type: 'PUSH_ARTIFACT', event_data: { resources: [{ tag: 'x' }], repository: { repo_full_name: 'team-z/api' } } }, auth);
    expect(outside.status).toBe(202);
    expect(await outside.json()).toMatchObject({ result: 'ignored', events: [{ repository: 'team-z/api', status: 'ignored' }] });
    for (const path of ['/api/v1/events/harbor/nope', '/api/v1/events/ecr/harbor']) {
      const res = await s.post(path, { anything: true });
      expect(res.status).toBe(202);
      expect(((await res.json()) as { result: string }).result).toBe('ignored');
    }
    // The exemption from the API token belongs to the POST routes themselves, not to a path prefix.
    for (const [method, path] of [['GET', '/api/v1/events/harbor/harbor'], ['GET', '/api/v1/push-events'], ['POST', '/api/v1/events/harbor/harbor/../../scans']]) {
      expect((await fetch(`${s.serve.url()}${path}`, { method, headers: auth })).status, `${method} ${path}`).toBe(401);
    }
    const openapi = (await s.api<{ paths: Record<string, Record<string, { security: unknown[]; responses: Record<string, unknown> }>> }>('/api/openapi.json')).paths;
    expect(openapi['/api/v1/events/harbor/{target}'].post.security).toEqual([{ eventAuthorization: [] }, { eventKey: [] }]);
    expect(Object.keys(openapi['/api/v1/events/gar/{target}'].post.responses).sort()).toEqual(['202', '400', '401', '413', '503']);
    // Only the event for a repository outside the filters is recorded (as ignored, as evidence).
    const after = await s.pushEvents('harbor');
    expect(after.length).toBe(events + 1);
    expect(after[0]).toMatchObject({ repository: 'team-z/api', status: 'ignored', note: 'project "team-z" is outside the target\'s projects filter' });

    const m = parsePrometheusText(await (await fetch(`${s.serve.url()}/metrics`)).text());
    expect(m.value('tagledger_push_events_total', { source: 'harbor', result: 'accepted' })).toBe(52);
    expect(m.value('tagledger_push_events_total', { source: 'harbor', result: 'unauthorized' })).toBe(4);
    expect(m.value('tagledger_push_events_total', { source: 'harbor', result: 'too_large' })).toBe(1);
    expect(m.value('tagledger_push_events_total', { source: 'harbor', result: 'invalid' })).toBe(2);
    expect(m.value('tagledger_push_events_total', { source: 'harbor', result: 'ignored' })).toBe(3);
    expect(m.value('tagledger_push_event_checks_total', { source: 'harbor', status: 'confirmed' })).toBe(51);
    expect(m.value('tagledger_push_event_checks_total', { source: 'harbor', status: 'unconfirmed' })).toBe(1);
  });
});
