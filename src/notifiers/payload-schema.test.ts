/**
 * schemas/webhook-payload-v1.schema.json describes what the webhook notifier really sends: payloads
 * captured by a receiver are validated against it, and it is checked against the TypeScript types.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertBatch, alertMessage, scanCompleted, startAlertReceiver, type AlertReceiver } from '../../test/helpers/alerts.js';
import { findingTypes } from './common.js';
import { createCloudEventsNotifier } from './cloudevents/index.js';
import { severities, type AlertBatch, type AlertMessage, type AlertPayload, type ScanCompletedMessage } from './types.js';
import { createWebhookNotifier } from './webhook/index.js';

type Schema = Record<string, unknown>;
const schema = JSON.parse(readFileSync(new URL('../../schemas/webhook-payload-v1.schema.json', import.meta.url), 'utf8')) as Schema;

/**
 * A validator for the part of JSON Schema 2020-12 the payload schema uses. A keyword it does not
 * know is an error, so the schema cannot grow a constraint these tests silently skip.
 */
function validate(value: unknown, s: Schema = schema, path = '$'): string[] {
  const known = new Set(['$schema', 'title', 'description', '$defs', '$ref', 'type', 'enum', 'const', 'required', 'properties', 'additionalProperties', 'items', 'oneOf', 'pattern', 'minLength', 'minimum', 'format']);
  for (const k of Object.keys(s)) if (!known.has(k)) throw new Error(`validator does not support keyword ${k} (at ${path})`);
  if (typeof s.$ref === 'string') {
    const m = /^#\/\$defs\/(\w+)$/.exec(s.$ref);
    if (!m) throw new Error(`unsupported $ref ${s.$ref}`);
    return validate(value, (schema.$defs as Record<string, Schema>)[m[1]], path);
  }
  const errors: string[] = [];
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    const ok = types.some((t) => t === actual || (t === 'integer' && Number.isInteger(value)));
    if (!ok) return [`${path}: expected ${types.join('|')}, got ${actual}`];
  }
  if (s.enum && !(s.enum as unknown[]).includes(value)) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`);
  if ('const' in s && value !== s.const) errors.push(`${path}: must be ${JSON.stringify(s.const)}`);
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength) errors.push(`${path}: shorter than ${s.minLength}`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) errors.push(`${path}: does not match ${s.pattern}`);
    if (s.format === 'date-time' && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) errors.push(`${path}: not a date-time`);
    if (s.format === 'uuid' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) errors.push(`${path}: not a uuid`);
  }
  if (typeof value === 'number' && typeof s.minimum === 'number' && value < s.minimum) errors.push(`${path}: below ${s.minimum}`);
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const r of (s.required as string[] | undefined) ?? []) if (!(r in obj)) errors.push(`${path}: missing ${r}`);
    const props = (s.properties as Record<string, Schema> | undefined) ?? {};
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errors.push(...validate(v, props[k], `${path}.${k}`));
      else if (s.additionalProperties === false) errors.push(`${path}: unexpected ${k}`);
    }
  }
  if (Array.isArray(value) && s.items) value.forEach((v, i) => errors.push(...validate(v, s.items as Schema, `${path}[${i}]`)));
  if (s.oneOf) {
    const results = (s.oneOf as Schema[]).map((sub) => validate(value, sub, path));
    const passing = results.filter((r) => r.length === 0).length;
    if (passing !== 1) errors.push(passing === 0 ? `${path}: matches none of oneOf (${results.map((r) => r[0]).join('; ')})` : `${path}: matches ${passing} of oneOf`);
  }
  return errors;
}

const defs = schema.$defs as Record<string, Schema>;
const samples: AlertPayload[] = [
  alertMessage(),
  alertMessage({ type: 'tag.deleted', severity: 'high', digest: null }),
  alertMessage({ type: 'tag.restored', severity: 'medium', protection: { protected: false, reason: 'policy: v*' } }),
  alertMessage({ type: 'repository.mutable', severity: 'high', tag: null, digest: null, previousDigest: null, protection: { protected: false, reason: 'MUTABLE' } }),
  alertMessage({ type: 'target.scan_failed', severity: 'high', repository: null, tag: null, digest: null, previousDigest: null, protection: null, scanId: null, remediation: '' }),
  alertBatch([alertMessage(), alertMessage({ type: 'tag.unprotected', severity: 'low', tag: null, digest: null, previousDigest: null, finding: { id: 3, status: 'acknowledged' } })]),
  alertBatch([]),
  scanCompleted(),
  scanCompleted({ id: 1, status: 'failed', previousRoot: '', repositories: 0, tags: 0, events: null, errors: 1, warnings: 0 }),
];

describe('webhook payload JSON Schema', () => {
  let receiver: AlertReceiver;
  beforeAll(async () => {
    receiver = await startAlertReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('accepts every payload the webhook notifier actually sends', async () => {
    const notifier = createWebhookNotifier({ id: 'w', kind: 'webhook', url: receiver.url, batch: false, insecureSkipTlsVerify: false, secret: 'k' });
    for (const p of samples) expect((await notifier.send(p, new AbortController().signal)).ok).toBe(true);
    expect(receiver.deliveries).toHaveLength(samples.length);
    for (const d of receiver.deliveries) expect(validate(d.json())).toEqual([]);
  });

  it('accepts the data of the CloudEvents the cloudevents notifier sends', async () => {
    const before = receiver.deliveries.length;
    const notifier = createCloudEventsNotifier({ id: 'c', kind: 'cloudevents', url: receiver.url, batch: false, insecureSkipTlsVerify: false });
    for (const p of samples) await notifier.send(p, new AbortController().signal);
    for (const d of receiver.deliveries.slice(before)) expect(validate((d.json() as { data: unknown }).data)).toEqual([]);
  });

  it('requires exactly the fields of AlertMessage and AlertBatch', () => {
    const message: Required<AlertMessage> = alertMessage();
    const batch: Required<AlertBatch> = alertBatch([]);
    expect([...(defs.AlertMessage.required as string[])].sort()).toEqual(Object.keys(message).sort());
    expect(Object.keys(defs.AlertMessage.properties as object).sort()).toEqual(Object.keys(message).sort());
    expect([...(defs.AlertBatch.required as string[])].sort()).toEqual(Object.keys(batch).sort());
    const anchor: Required<ScanCompletedMessage> = scanCompleted();
    expect([...(defs.ScanCompletedMessage.required as string[])].sort()).toEqual(Object.keys(anchor).sort());
    expect(Object.keys(defs.ScanCompletedMessage.properties as object).sort()).toEqual(Object.keys(anchor).sort());
    expect(defs.FindingType.enum).toEqual([...findingTypes]);
    expect(defs.Severity.enum).toEqual([...severities]);
  });

  it.each([
    ['a missing field', (m: Record<string, unknown>) => delete m.previousDigest, '$: missing previousDigest'],
    ['an unknown field', (m: Record<string, unknown>) => (m.extra = 1), '$: unexpected extra'],
    ['another version', (m: Record<string, unknown>) => (m.version = 2), '$.version: must be 1'],
    ['a bad digest', (m: Record<string, unknown>) => (m.digest = 'a1b2c3'), '$.digest: matches none of oneOf'],
    ['an unknown type', (m: Record<string, unknown>) => (m.type = 'tag.exploded'), '$.type: "tag.exploded" is not one of'],
    ['an unknown severity', (m: Record<string, unknown>) => (m.severity = 'urgent'), '$.severity: "urgent" is not one of'],
    ['a non-UUID id', (m: Record<string, unknown>) => (m.id = '42'), '$.id: does not match'],
    ['a local time', (m: Record<string, unknown>) => (m.occurredAt = '2026-03-03 12:00'), '$.occurredAt: not a date-time'],
    ['a fractional finding id', (m: Record<string, unknown>) => ((m.finding as Record<string, unknown>).id = 1.5), '$.finding.id: expected integer'],
    ['an undefined tag', (m: Record<string, unknown>) => delete m.tag, '$: missing tag'],
  ])('rejects %s', (_name, mutate, expected) => {
    const m = structuredClone(alertMessage()) as unknown as Record<string, unknown>;
    mutate(m);
    const errors = validate(m, defs.AlertMessage);
    expect(errors.join('\n')).toContain(expected);
    expect(validate(m).length).toBeGreaterThan(0);
  });

  it.each([
    ['a short root', (m: Record<string, unknown>) => (m.rootHash = 'c0ffee'), '$.rootHash: does not match'],
    ['an unknown status', (m: Record<string, unknown>) => (m.status = 'running'), '$.status: "running" is not one of'],
    ['a missing previous root', (m: Record<string, unknown>) => delete m.previousRoot, '$: missing previousRoot'],
    ['a severity', (m: Record<string, unknown>) => (m.severity = 'info'), '$: unexpected severity'],
  ])('rejects a scan.completed message with %s', (_name, mutate, expected) => {
    const m = structuredClone(scanCompleted()) as unknown as Record<string, unknown>;
    mutate(m);
    expect(validate(m, defs.ScanCompletedMessage).join('\n')).toContain(expected);
    expect(validate(m).length).toBeGreaterThan(0);
  });

  it('rejects a batch holding a broken alert', () => {
    const batch = alertBatch([alertMessage()]) as unknown as { alerts: Record<string, unknown>[] };
    delete batch.alerts[0].summary;
    expect(validate(batch, defs.AlertBatch)).toEqual(['$.alerts[0]: missing summary']);
  });
});
