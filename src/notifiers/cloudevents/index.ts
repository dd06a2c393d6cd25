/**
 * CloudEvents 1.0 in structured content mode: the whole event, attributes and data, is the JSON body
 * with `Content-Type: application/cloudevents+json`.
 * Spec: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
 * HTTP binding: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md#32-structured-content-mode
 * JSON format: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md
 */
import { createPost, tagledgerHeaders, type PostOptions } from '../common.js';
import type { AlertBatch, AlertMessage, AlertPayload, DeliveryResult, Notifier, ScanCompletedMessage } from '../types.js';
import type { CloudEventsNotifierConfig } from './config.js';

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

export interface TagledgerCloudEvent {
  specversion: '1.0';
  /** The payload id: the same on every retry, so `source` + `id` deduplicate as the spec intends. */
  id: string;
  source: string;
  type: string;
  time?: string;
  datacontenttype: 'application/json';
  subject?: string;
  data: AlertPayload;
}

/** The event for one alert or a batch. Pure: the same payload always gives the same event. */
export function toCloudEvent(payload: AlertPayload): TagledgerCloudEvent {
  if (payload.type === 'batch') return batchEvent(payload);
  if (payload.type === 'scan.completed') return scanCompletedEvent(payload);
  const subject = subjectOf(payload);
  return {
    specversion: '1.0',
    id: payload.id,
    source: `/targets/${payload.target.id}`,
    type: `dev.tagledger.${payload.type}`,
    time: payload.occurredAt,
    datacontenttype: 'application/json',
    ...(subject ? { subject } : {}),
    data: payload,
  };
}

function batchEvent(batch: AlertBatch): TagledgerCloudEvent {
  // A batch lists one scan's findings, so one target; `/targets` stands for several (or none).
  const targets = new Set(batch.alerts.map((a) => a.target.id));
  const source = targets.size === 1 ? `/targets/${[...targets][0]}` : '/targets';
  // `time` is when the occurrence happened: the latest alert's. Taking it from the alerts (not the
  // clock) keeps a retried delivery identical to the first.
  const times = batch.alerts.map((a) => a.occurredAt).filter((t) => !Number.isNaN(Date.parse(t)));
  const time = times.length ? times.reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a)) : undefined;
  return {
    specversion: '1.0',
    id: batch.id,
    source,
    type: 'dev.tagledger.batch',
    ...(time ? { time } : {}),
    datacontenttype: 'application/json',
    data: batch,
  };
}

/** A scan anchor: `dev.tagledger.scan.completed`, subject `scans/<id>`, time = when the scan finished. */
function scanCompletedEvent(m: ScanCompletedMessage): TagledgerCloudEvent {
  return {
    specversion: '1.0',
    id: m.id,
    source: `/targets/${m.target.id}`,
    type: 'dev.tagledger.scan.completed',
    time: m.finishedAt,
    datacontenttype: 'application/json',
    subject: `scans/${m.scanId}`,
    data: m,
  };
}

function subjectOf(m: AlertMessage): string | undefined {
  if (!m.repository) return undefined;
  return m.tag ? `${m.repository}:${m.tag}` : m.repository;
}

export function createCloudEventsNotifier(config: CloudEventsNotifierConfig, opts: PostOptions = {}): Notifier {
  const post = createPost(
    {
      url: config.url,
      caFile: config.caFile,
      insecureSkipTlsVerify: config.insecureSkipTlsVerify,
      headers: config.headers,
      secrets: config.secret ? [config.secret] : [],
      describeAs: 'path',
    },
    opts,
  );
  return {
    kind: 'cloudevents',
    id: config.id,
    send(payload: AlertPayload, signal: AbortSignal): Promise<DeliveryResult> {
      const body = JSON.stringify(toCloudEvent(payload));
      return post({ body, headers: { 'Content-Type': CLOUDEVENTS_CONTENT_TYPE, ...tagledgerHeaders(payload, body, config.secret) } }, signal);
    },
  };
}
