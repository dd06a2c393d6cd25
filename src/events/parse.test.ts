import { describe, expect, it } from 'vitest';
import { targetSchema, type TargetConfig } from '../config/schema.js';
import { parseHarborWebhook, routeHarborClaims } from './harbor.js';
import { parseEcrEvent, routeEcrAction } from './ecr.js';
import { parseGarPush, routeGarNotification } from './gar.js';
import { InvalidPushEventError } from './types.js';
import { harborWebhookPayload } from '../emulators/harbor/webhook.js';
import { ecrImageActionEvent } from '../emulators/ecr/events.js';
import { garPubSubPush } from '../emulators/gar/events.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const events = { secret: 'x'.repeat(32) };

const harbor = targetSchema.parse({ id: 'harbor', kind: 'harbor', url: 'https://harbor.example.com', username: 'robot$a', password: 'p', projects: ['team-*'], repositories: ['team-a/**'], events });
const ecr = targetSchema.parse({ id: 'prod-ecr', kind: 'ecr', region: 'eu-west-1', registryId: '123456789012', repositories: ['payments/*'], events });
const gar = targetSchema.parse({ id: 'gar-prod', kind: 'gar', project: 'acme-prod', locations: ['us', 'europe-west1'], repositories: ['*/docker-prod/**'], events });

function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidPushEventError);
    return (err as Error).message;
  }
  throw new Error('expected InvalidPushEventError');
}

const at = new Date('2026-03-03T12:00:04Z');

describe('Harbor webhook payloads', () => {
  it('reads a PUSH_ARTIFACT as a push of the first tag, under the full repository name', () => {
    const body = harborWebhookPayload({ type: 'PUSH_ARTIFACT', repository: 'team-a/checkout/api', digest: D1, tags: ['v1.2.0', 'latest'], public: false, operator: 'ci', at, host: 'harbor.example.com' });
    expect(body.event_data.resources[0]).toEqual({ digest: D1, tag: 'v1.2.0', resource_url: 'harbor.example.com/team-a/checkout/api:v1.2.0' });
    const d = parseHarborWebhook(JSON.parse(JSON.stringify(body)));
    expect(d).toEqual({
      kind: 'claims',
      claims: [{ repository: 'team-a/checkout/api', tag: 'v1.2.0', digest: D1, action: 'push', eventType: 'PUSH_ARTIFACT', eventId: null, occurredAt: at }],
    });
  });

  it('takes the digest in "tag" of an untagged artifact for no tag, and DELETE_ARTIFACT / DELETE_TAG as deletions', () => {
    const untagged = parseHarborWebhook(harborWebhookPayload({ type: 'DELETE_ARTIFACT', repository: 'team-a/api', digest: D1, tags: [], public: true, operator: 'admin', at, host: 'h' }));
    expect(untagged).toMatchObject({ kind: 'claims', claims: [{ repository: 'team-a/api', tag: null, digest: D1, action: 'delete' }] });
    const tag = parseHarborWebhook({ type: 'DELETE_TAG', event_data: { resources: [{ tag: 'v1' }], repository: { namespace: 'team-a', repo_full_name: 'team-a/api' } } });
    expect(tag).toMatchObject({ kind: 'claims', claims: [{ tag: 'v1', digest: null, action: 'delete', occurredAt: null }] });
  });

  it('acknowledges event types that change no tag', () => {
    expect(parseHarborWebhook({ type: 'PULL_ARTIFACT', event_data: {} })).toEqual({ kind: 'other', eventType: 'PULL_ARTIFACT' });
    expect(parseHarborWebhook({ type: 'SCANNING_COMPLETED' })).toEqual({ kind: 'other', eventType: 'SCANNING_COMPLETED' });
  });

  it('refuses what is not a Harbor payload, naming the field', () => {
    expect(invalid(() => parseHarborWebhook({ occur_at: 1 }))).toMatch(/Harbor webhook payload: type: /);
    expect(invalid(() => parseHarborWebhook({ type: 'PUSH_ARTIFACT', event_data: { resources: [] } }))).toMatch(/needs event_data\.repository\.repo_full_name/);
    expect(invalid(() => parseHarborWebhook({ type: 'PUSH_ARTIFACT', event_data: { repository: { repo_full_name: 'Team A/api' } } }))).toMatch(/is not a repository name/);
    expect(invalid(() => parseHarborWebhook({ type: 'PUSH_ARTIFACT', event_data: { repository: { repo_full_name: 'api' } } }))).toMatch(/must be <project>\/<name>/);
    expect(invalid(() => parseHarborWebhook({ type: 'PUSH_ARTIFACT', event_data: { resources: [{ digest: 'md5:x', tag: 'v1' }], repository: { repo_full_name: 'a/b' } } }))).toMatch(/resources\[0\]\.digest: "md5:x" is not a digest/);
    expect(invalid(() => parseHarborWebhook({ type: 'PUSH_ARTIFACT', event_data: { resources: [{ tag: 'v1*' }], repository: { repo_full_name: 'a/b' } } }))).toMatch(/is not a tag/);
    expect(invalid(() => parseHarborWebhook([]))).toMatch(/Harbor webhook payload/);
  });

  it("routes by the target's projects and repositories filters", () => {
    const claim = (repository: string) => ({ repository, tag: 'v1', digest: D1, action: 'push' as const, eventType: 'PUSH_ARTIFACT', eventId: null, occurredAt: null });
    const routed = routeHarborClaims(harbor, [claim('team-a/api'), claim('team-b/api'), claim('ops/api')]);
    expect(routed.map((r) => r.ignored)).toEqual([
      null,
      'repository "team-b/api" is outside the target\'s repositories filter',
      'repository "ops/api" is outside the target\'s repositories filter',
    ]);
    const noRepoFilter = { ...harbor, repositories: undefined } as TargetConfig;
    expect(routeHarborClaims(noRepoFilter, [claim('ops/api')])[0].ignored).toBe('project "ops" is outside the target\'s projects filter');
  });
});

describe('ECR Image Action events (EventBridge)', () => {
  const push = ecrImageActionEvent({ action: 'PUSH', repository: 'payments/api', digest: D1, tag: '1.4.2', account: '123456789012', region: 'eu-west-1', id: 'e-1', time: at });

  it('reads a PUSH with its event id, time and tag', () => {
    const d = parseEcrEvent(JSON.parse(JSON.stringify(push)));
    expect(d).toEqual({
      kind: 'action',
      action: {
        claim: { repository: 'payments/api', tag: '1.4.2', digest: D1, action: 'push', eventType: 'PUSH', eventId: 'e-1', occurredAt: at },
        account: '123456789012',
        region: 'eu-west-1',
        result: 'SUCCESS',
      },
    });
    expect(routeEcrAction(ecr, (d as Extract<typeof d, { kind: 'action' }>).action).ignored).toBeNull();
  });

  it('ignores other accounts, regions, failed actions, repositories outside the filter, and other detail types', () => {
    const route = (over: Parameters<typeof ecrImageActionEvent>[0]) => {
      const d = parseEcrEvent(ecrImageActionEvent(over));
      if (d.kind !== 'action') throw new Error('expected an action');
      return routeEcrAction(ecr, d.action).ignored;
    };
    const base = { action: 'DELETE' as const, repository: 'payments/api', tag: '1.4.2', account: '123456789012', region: 'eu-west-1' };
    expect(route(base)).toBeNull();
    expect(route({ ...base, account: '999999999999' })).toBe('account 999999999999 is not the target\'s registry 123456789012');
    expect(route({ ...base, region: 'us-east-1' })).toBe("region us-east-1 is not the target's region eu-west-1");
    expect(route({ ...base, result: 'FAILURE' })).toBe('the DELETE did not succeed (result FAILURE)');
    expect(route({ ...base, repository: 'tools/x' })).toBe('repository "tools/x" is outside the target\'s repositories filter');
    expect(parseEcrEvent({ ...push, 'detail-type': 'ECR Image Scan', detail: { 'scan-status': 'COMPLETE' } })).toEqual({ kind: 'other', eventType: 'ECR Image Scan' });
  });

  it('refuses what is not an ECR event, naming the field', () => {
    expect(invalid(() => parseEcrEvent({ ...push, source: 'aws.s3' }))).toMatch(/source "aws.s3" is not aws.ecr/);
    expect(invalid(() => parseEcrEvent({ ...push, account: '12' }))).toMatch(/account: must be a 12-digit AWS account id/);
    expect(invalid(() => parseEcrEvent({ ...push, detail: { result: 'SUCCESS' } }))).toMatch(/ECR Image Action detail: detail\.action-type/);
    expect(invalid(() => parseEcrEvent({ ...push, detail: { ...push.detail, 'image-digest': 'nope' } }))).toMatch(/image-digest: "nope" is not a digest/);
    const { id: _id, ...noId } = push;
    expect(invalid(() => parseEcrEvent(noId))).toMatch(/EventBridge event: id/);
  });
});

describe('Artifact Registry notifications (Pub/Sub push)', () => {
  const msg = (over: Partial<Parameters<typeof garPubSubPush>[0]> = {}) =>
    garPubSubPush({ action: 'INSERT', project: 'acme-prod', location: 'europe-west1', repository: 'docker-prod', image: 'checkout/api', digest: D1, tag: '1.1.0', messageId: 'm-1', publishTime: at, ...over });

  it('decodes the base64 data and names the repository <location>/<gar-repository>/<image>', () => {
    const body = msg();
    expect(JSON.parse(Buffer.from(body.message.data, 'base64').toString())).toEqual({
      action: 'INSERT',
      digest: `europe-west1-docker.pkg.dev/acme-prod/docker-prod/checkout/api@${D1}`,
      tag: 'europe-west1-docker.pkg.dev/acme-prod/docker-prod/checkout/api:1.1.0',
    });
    const d = parseGarPush(JSON.parse(JSON.stringify(body)));
    if (d.kind !== 'notification') throw new Error('expected a notification');
    expect(d.notification).toEqual({ host: 'europe-west1-docker.pkg.dev', path: 'acme-prod/docker-prod/checkout/api', tag: '1.1.0', digest: D1, action: 'push', eventType: 'INSERT', messageId: 'm-1', publishTime: at });
    expect(routeGarNotification(gar, d.notification)).toEqual({
      claim: { repository: 'europe-west1/docker-prod/checkout/api', tag: '1.1.0', digest: D1, action: 'push', eventType: 'INSERT', eventId: 'm-1', occurredAt: at },
      ignored: null,
    });
  });

  it('reads a tag deletion (tag only) and the snake_case message fields', () => {
    const body = msg({ action: 'DELETE', digest: undefined });
    const snake = { message: { data: body.message.data, message_id: 'm-2', publish_time: body.message.publishTime }, subscription: body.subscription };
    const d = parseGarPush(snake);
    expect(d).toMatchObject({ kind: 'notification', notification: { action: 'delete', tag: '1.1.0', digest: null, messageId: 'm-2' } });
  });

  it('ignores other projects, locations, Container Registry hosts and repositories outside the filter', () => {
    const route = (over: Partial<Parameters<typeof garPubSubPush>[0]>) => {
      const d = parseGarPush(msg(over));
      if (d.kind !== 'notification') throw new Error('expected a notification');
      return routeGarNotification(gar, d.notification).ignored;
    };
    expect(route({ project: 'acme-dev' })).toBe('europe-west1-docker.pkg.dev/acme-dev/docker-prod/checkout/api is not in project acme-prod');
    expect(route({ location: 'asia' })).toBe("location asia is not one of the target's locations");
    expect(route({ repository: 'docker-dev' })).toBe('repository "europe-west1/docker-dev/checkout/api" is outside the target\'s repositories filter');
    const gcr = { message: { data: Buffer.from(JSON.stringify({ action: 'INSERT', tag: 'gcr.io/acme-prod/api:1' })).toString('base64'), messageId: 'm-3' } };
    const d = parseGarPush(gcr);
    if (d.kind !== 'notification') throw new Error('expected a notification');
    expect(routeGarNotification(gar, d.notification).ignored).toBe('gcr.io is not an Artifact Registry Docker host (<location>-docker.pkg.dev)');
  });

  it('refuses envelopes and data that are not such a message', () => {
    expect(invalid(() => parseGarPush({ subscription: 's' }))).toMatch(/Pub\/Sub push message: message/);
    expect(invalid(() => parseGarPush({ message: { data: 'e30=' } }))).toMatch(/messageId is missing/);
    expect(invalid(() => parseGarPush({ message: { data: Buffer.from('not json').toString('base64'), messageId: '1' } }))).toMatch(/not base64-encoded JSON/);
    expect(invalid(() => parseGarPush({ message: { data: Buffer.from('{"action":"INSERT"}').toString('base64'), messageId: '1' } }))).toMatch(/names neither a digest nor a tag/);
    const mixed = { action: 'INSERT', digest: `us-docker.pkg.dev/acme-prod/r/a@${D1}`, tag: 'us-docker.pkg.dev/acme-prod/r/b:1' };
    expect(invalid(() => parseGarPush({ message: { data: Buffer.from(JSON.stringify(mixed)).toString('base64'), messageId: '1' } }))).toMatch(/different images/);
    expect(parseGarPush({ message: { data: Buffer.from('{"action":"UPDATE","tag":"x/y:1"}').toString('base64'), messageId: '1' } })).toEqual({ kind: 'other', eventType: 'UPDATE' });
  });
});

describe('targets[].events in the config', () => {
  it('takes a long secret on Harbor, ECR and GAR targets, and refuses a short one or one on an OCI target', () => {
    expect(ecr.kind === 'ecr' && ecr.events).toEqual({ secret: 'x'.repeat(32) });
    const short = targetSchema.safeParse({ id: 'e', kind: 'ecr', region: 'us-east-1', events: { secret: 'short' } });
    expect(short.success).toBe(false);
    expect(short.error?.issues[0]).toMatchObject({ path: ['events', 'secret'], message: expect.stringMatching(/at least 16 characters/) });
    expect(targetSchema.safeParse({ id: 'g', kind: 'gar', project: 'acme-prod', locations: ['us'], events: { secret: 'x'.repeat(16), debounce: 'soon' } }).success).toBe(false);
    expect(targetSchema.safeParse({ id: 'o', kind: 'oci', url: 'http://127.0.0.1:5000', events: { secret: 'x'.repeat(16) } }).success).toBe(false);
  });
});
