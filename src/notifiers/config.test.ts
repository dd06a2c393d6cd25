import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { z } from 'zod';
import { createNotifier, notifierConfigSchema, notifiersSchema, notifierWants } from './index.js';
import type { FindingType, Severity } from './types.js';

/** Each issue as `path: message`, the way the config loader reports them. */
function issues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

function parseNotifiers(yaml: string) {
  return notifiersSchema.safeParse((YAML.parse(yaml) as { notifiers: unknown }).notifiers);
}

describe('notifier config', () => {
  it('reads the documented example with its defaults', () => {
    const result = parseNotifiers(`
notifiers:
  - id: ops-webhook
    kind: webhook
    url: https://hooks.example.com/tagledger
    secret: s3cret-value
    headers: { X-Team: platform }
    events: [tag.moved, repository.mutable]
    minSeverity: medium
    targets: ["prod-*"]
    batch: false
  - id: chat
    kind: slack
    url: https://hooks.slack.com/services/T000/B000/XXXX
  - id: bus
    kind: cloudevents
    url: http://broker.internal:8080/
    secret: other
    caFile: ca.pem
`);
    expect(result.success).toBe(true);
    expect(result.data).toEqual([
      {
        id: 'ops-webhook',
        kind: 'webhook',
        url: 'https://hooks.example.com/tagledger',
        secret: 's3cret-value',
        headers: { 'X-Team': 'platform' },
        events: ['tag.moved', 'repository.mutable'],
        minSeverity: 'medium',
        targets: ['prod-*'],
        batch: false,
        insecureSkipTlsVerify: false,
      },
      { id: 'chat', kind: 'slack', url: 'https://hooks.slack.com/services/T000/B000/XXXX', batch: false, insecureSkipTlsVerify: false },
      { id: 'bus', kind: 'cloudevents', url: 'http://broker.internal:8080/', secret: 'other', caFile: 'ca.pem', batch: false, insecureSkipTlsVerify: false },
    ]);
  });

  it.each([
    [{ id: 'a', kind: 'webhook', url: 'ftp://files.example.com/x' }, ['url: must be an http(s) URL']],
    [{ id: 'a', kind: 'webhook', url: 'not a url' }, ['url: must be an http(s) URL']],
    [{ id: 'Ops_Hook', kind: 'webhook', url: 'https://h.example.com' }, ['id: must match [a-z0-9-]+']],
    [{ id: 'a', kind: 'webhook', url: 'https://h.example.com', on: ['tag.moved'] }, [': Unrecognized key: "on"']],
    [{ id: 'a', kind: 'slack', url: 'https://hooks.slack.com/x', secret: 's' }, [': Unrecognized key: "secret"']],
    [{ id: 'a', kind: 'webhook', url: 'https://h.example.com', events: ['tag.exploded'] }, ['events.0: Invalid option: expected one of "tag.moved"|"tag.deleted"|"tag.restored"|"repository.mutable"|"tag.unprotected"|"repository.protection_changed"|"target.scan_failed"|"harbor.verdict_mismatch"']],
    [{ id: 'a', kind: 'webhook', url: 'https://h.example.com', minSeverity: 'urgent' }, ['minSeverity: Invalid option: expected one of "info"|"low"|"medium"|"high"|"critical"']],
    [{ id: 'a', kind: 'webhook', url: 'https://h.example.com', secret: '' }, ['secret: Too small: expected string to have >=1 characters']],
    [{ id: 'a', kind: 'webhook', url: 'https://h.example.com', headers: { 'X-Tagledger-Signature-256': 'x' } }, ['headers.X-Tagledger-Signature-256: is set by tagledger itself and cannot be configured']],
    [{ id: 'a', kind: 'webhook', url: 'https://h.example.com', headers: { 'content-type': 'text/plain' } }, ['headers.content-type: is set by tagledger itself and cannot be configured']],
    [{ id: 'a', kind: 'webhook', url: 'https://h.example.com', headers: { 'Bad Header': 'x' } }, ['headers.Bad Header: is not a valid HTTP header name']],
    [{ id: 'a', kind: 'webhook', url: 'https://h.example.com', headers: { 'X-Evil': 'a\r\nX-Injected: 1' } }, ['headers.X-Evil: must not contain line breaks']],
    [{ id: 'a', kind: 'webhook', url: 'https://h.example.com', headers: { 'X-Team': 'a', 'x-team': 'b' } }, ['headers.x-team: is configured twice (header names are case-insensitive)']],
    [{ id: 'a', kind: 'pagerduty', url: 'https://h.example.com' }, ["kind: Invalid discriminator value. Expected 'webhook' | 'slack' | 'cloudevents'"]],
  ])('rejects %j naming the path', (input, expected) => {
    const result = notifierConfigSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(issues(result.error!)).toEqual(expected);
  });

  it('names the unknown key', () => {
    const result = notifierConfigSchema.safeParse({ id: 'a', kind: 'webhook', url: 'https://h.example.com', on: ['tag.moved'] });
    expect(result.error!.issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['on'] });
  });

  it('rejects a duplicate notifier id, naming both', () => {
    const result = parseNotifiers(`
notifiers:
  - { id: ops, kind: webhook, url: "https://a.example.com" }
  - { id: ops, kind: slack, url: "https://hooks.slack.com/x" }
`);
    expect(issues(result.error!)).toEqual(['1.id: duplicate notifier id "ops" (also notifiers[0])']);
  });

  it('builds the notifier of each kind', () => {
    for (const kind of ['webhook', 'slack', 'cloudevents'] as const) {
      const n = createNotifier(notifierConfigSchema.parse({ id: `n-${kind}`, kind, url: 'https://h.example.com/x' }));
      expect(n.kind).toBe(kind);
      expect(n.id).toBe(`n-${kind}`);
    }
  });
});

describe('notifierWants', () => {
  const alert = (type: FindingType, severity: Severity, targetId: string) => ({ type, severity, targetId });

  it.each([
    // [config, alert, wanted]
    [{}, alert('tag.moved', 'info', 'anything'), true],
    [{ events: ['tag.moved'] }, alert('tag.moved', 'low', 'x'), true],
    [{ events: ['tag.moved'] }, alert('tag.deleted', 'critical', 'x'), false],
    [{ events: ['tag.moved', 'repository.mutable'] }, alert('repository.mutable', 'medium', 'x'), true],
    [{ minSeverity: 'medium' }, alert('tag.moved', 'low', 'x'), false],
    [{ minSeverity: 'medium' }, alert('tag.moved', 'medium', 'x'), true],
    [{ minSeverity: 'medium' }, alert('tag.moved', 'critical', 'x'), true],
    [{ minSeverity: 'critical' }, alert('tag.moved', 'high', 'x'), false],
    [{ minSeverity: 'info' }, alert('tag.moved', 'info', 'x'), true],
    [{ targets: ['prod-*'] }, alert('tag.moved', 'high', 'prod-ecr'), true],
    [{ targets: ['prod-*'] }, alert('tag.moved', 'high', 'staging-ecr'), false],
    [{ targets: ['prod-*'] }, alert('tag.moved', 'high', 'prod'), false],
    [{ targets: ['prod-ecr', 'harbor'] }, alert('tag.moved', 'high', 'harbor'), true],
    [{ targets: ['*-eu', 'gar-?'] }, alert('tag.moved', 'high', 'gar-1'), true],
    [{ targets: ['!staging-*'] }, alert('tag.moved', 'high', 'prod-ecr'), true],
    [{ targets: ['!staging-*'] }, alert('tag.moved', 'high', 'staging-ecr'), false],
    [{ events: ['tag.moved'], minSeverity: 'high', targets: ['prod-*'] }, alert('tag.moved', 'critical', 'prod-gar'), true],
    [{ events: ['tag.moved'], minSeverity: 'high', targets: ['prod-*'] }, alert('tag.moved', 'medium', 'prod-gar'), false],
    [{ events: ['tag.moved'], minSeverity: 'high', targets: ['prod-*'] }, alert('tag.deleted', 'critical', 'prod-gar'), false],
    [{ events: ['tag.moved'], minSeverity: 'high', targets: ['prod-*'] }, alert('tag.moved', 'critical', 'dev-gar'), false],
    [{ events: [], targets: [] }, alert('target.scan_failed', 'high', 'x'), true],
  ] as const)('%j wants %j: %s', (config, a, wanted) => {
    expect(notifierWants(config as Parameters<typeof notifierWants>[0], a)).toBe(wanted);
  });
});
