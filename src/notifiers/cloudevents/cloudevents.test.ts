import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { version } from '../../cli/version.js';
import { alertBatch, alertMessage, scanCompleted, signatureValid, startAlertReceiver, type AlertReceiver } from '../../../test/helpers/alerts.js';
import { cloudeventsNotifierSchema } from './config.js';
import { createCloudEventsNotifier, toCloudEvent } from './index.js';

const never = new AbortController().signal;
const secret = 'ce-signing-secret-0c4e';

/**
 * The CloudEvents 1.0 rules a structured-mode JSON event must meet
 * (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md#context-attributes):
 * REQUIRED id, source (non-empty URI-reference), specversion "1.0", type, all non-empty strings;
 * OPTIONAL time as RFC 3339; attribute names lower-case a-z/0-9, at most 20 characters.
 */
function cloudEventProblems(event: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const name of ['id', 'source', 'specversion', 'type']) {
    if (typeof event[name] !== 'string' || event[name] === '') problems.push(`${name} must be a non-empty string`);
  }
  if (event.specversion !== '1.0') problems.push('specversion must be "1.0"');
  if (typeof event.source === 'string' && (/\s/.test(event.source) || !URL.canParse(event.source, 'http://base.invalid'))) problems.push('source must be a URI-reference');
  if ('time' in event && !(typeof event.time === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(event.time))) problems.push('time must be RFC 3339');
  if ('subject' in event && (typeof event.subject !== 'string' || event.subject === '')) problems.push('subject must be a non-empty string');
  for (const name of Object.keys(event)) if (name !== 'data' && !/^[a-z0-9]{1,20}$/.test(name)) problems.push(`attribute name ${name} is not allowed`);
  return problems;
}

describe('cloudevents notifier', () => {
  let receiver: AlertReceiver;
  beforeEach(async () => {
    receiver = await startAlertReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  const notifier = (extra: Record<string, unknown> = {}) =>
    createCloudEventsNotifier(cloudeventsNotifierSchema.parse({ id: 'events', kind: 'cloudevents', url: receiver.url, ...extra }));

  it('sends one alert as a structured-mode CloudEvent, signed', async () => {
    const payload = alertMessage();
    const result = await notifier({ secret }).send(payload, never);
    expect(result).toMatchObject({ ok: true, status: 200 });
    const d = receiver.deliveries[0];
    expect(d.headers['content-type']).toBe('application/cloudevents+json');
    expect(d.headers['user-agent']).toBe(`tagledger/${version}`);
    expect(d.headers['x-tagledger-event']).toBe('tag.moved');
    expect(d.headers['x-tagledger-delivery']).toBe(payload.id);
    expect(signatureValid(secret, d.raw, d.headers['x-tagledger-signature-256'])).toBe(true);

    const event = d.json() as Record<string, unknown>;
    expect(cloudEventProblems(event)).toEqual([]);
    expect(event).toEqual({
      specversion: '1.0',
      id: payload.id,
      source: '/targets/prod-ecr',
      type: 'dev.tagledger.tag.moved',
      time: '2026-03-03T12:00:00.000Z',
      datacontenttype: 'application/json',
      subject: 'shop/api:1.4.2',
      data: payload,
    });
  });

  it('sends no signature without a secret', async () => {
    await notifier().send(alertMessage(), never);
    expect(receiver.deliveries[0].headers).not.toHaveProperty('x-tagledger-signature-256');
  });

  it('sends a batch as one event of type dev.tagledger.batch', async () => {
    const batch = alertBatch([
      alertMessage({ occurredAt: '2026-03-03T12:00:00.000Z' }),
      alertMessage({ occurredAt: '2026-03-03T12:05:00.000Z', type: 'repository.mutable', tag: null, digest: null, previousDigest: null }),
      alertMessage({ occurredAt: '2026-03-03T11:00:00.000Z' }),
    ]);
    expect((await notifier({ secret }).send(batch, never)).ok).toBe(true);
    const d = receiver.deliveries[0];
    expect(d.headers['x-tagledger-event']).toBe('batch');
    const event = d.json() as Record<string, unknown>;
    expect(cloudEventProblems(event)).toEqual([]);
    expect(event).toEqual({
      specversion: '1.0',
      id: batch.id,
      source: '/targets/prod-ecr',
      type: 'dev.tagledger.batch',
      time: '2026-03-03T12:05:00.000Z',
      datacontenttype: 'application/json',
      data: batch,
    });
  });

  it('sends a scan anchor as dev.tagledger.scan.completed, the scan as subject, signed', async () => {
    const payload = scanCompleted();
    expect((await notifier({ secret }).send(payload, never)).ok).toBe(true);
    const d = receiver.deliveries[0];
    expect(d.headers['x-tagledger-event']).toBe('scan.completed');
    expect(d.headers['x-tagledger-delivery']).toBe(payload.id);
    expect(signatureValid(secret, d.raw, d.headers['x-tagledger-signature-256'])).toBe(true);
    const event = d.json() as Record<string, unknown>;
    expect(cloudEventProblems(event)).toEqual([]);
    expect(event).toEqual({
      specversion: '1.0',
      id: payload.id,
      source: '/targets/prod-ecr',
      type: 'dev.tagledger.scan.completed',
      time: '2026-03-03T12:00:04.211Z',
      datacontenttype: 'application/json',
      subject: 'scans/12',
      data: payload,
    });
    expect(d.raw.toString('utf8')).not.toContain(secret);
  });

  it('fails like every notifier: 503 retryable, 400 not', async () => {
    receiver.faults.add({ status: 503, times: 1, headers: { 'Retry-After': '2' } }).add({ status: 400, times: 1, body: 'unsupported event type' });
    expect(await notifier().send(alertMessage(), never)).toMatchObject({ ok: false, status: 503, retryable: true, retryAfterMs: 2000 });
    const bad = await notifier().send(alertMessage(), never);
    expect(bad).toMatchObject({ ok: false, status: 400, retryable: false, error: `HTTP 400 from ${receiver.url}: unsupported event type` });
  });
});

describe('toCloudEvent', () => {
  it('uses the repository as subject when there is no tag, and none without a repository', () => {
    const repo = toCloudEvent(alertMessage({ type: 'repository.mutable', tag: null, digest: null, previousDigest: null }));
    expect(repo.subject).toBe('shop/api');
    expect(repo.type).toBe('dev.tagledger.repository.mutable');
    const target = toCloudEvent(alertMessage({ type: 'target.scan_failed', repository: null, tag: null, digest: null, previousDigest: null, target: { id: 'harbor-eu', kind: 'harbor' } }));
    expect(target).not.toHaveProperty('subject');
    expect(target.source).toBe('/targets/harbor-eu');
    expect(cloudEventProblems(target as unknown as Record<string, unknown>)).toEqual([]);
  });

  it('gives a batch across targets (or none) the source /targets', () => {
    const mixed = toCloudEvent(alertBatch([alertMessage(), alertMessage({ target: { id: 'gar-prod', kind: 'gar' } })]));
    expect(mixed.source).toBe('/targets');
    const empty = toCloudEvent(alertBatch([]));
    expect(empty.source).toBe('/targets');
    expect(empty).not.toHaveProperty('time');
    expect(cloudEventProblems(empty as unknown as Record<string, unknown>)).toEqual([]);
  });

  it('is the same event for the same payload, so a retry is the same delivery', () => {
    const payload = alertBatch([alertMessage(), alertMessage()]);
    expect(JSON.stringify(toCloudEvent(payload))).toBe(JSON.stringify(toCloudEvent(structuredClone(payload))));
  });

  it('the validator catches a broken event', () => {
    expect(cloudEventProblems({ specversion: '0.3', id: '', source: 'has space', type: 'x', time: 'yesterday', Bad_Name: 1 })).toEqual([
      'id must be a non-empty string',
      'specversion must be "1.0"',
      'source must be a URI-reference',
      'time must be RFC 3339',
      'attribute name Bad_Name is not allowed',
    ]);
  });
});
