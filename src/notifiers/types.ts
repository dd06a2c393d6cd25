/**
 * What the alert dispatcher hands a notifier, and what it gets back. A notifier sends; it never
 * retries by itself, never touches the database and never decides what is alerted: the dispatcher
 * does (durable outbox, backoff, attempts), so a failed delivery is never lost.
 */
export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const severities: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

export type FindingType =
  | 'tag.moved'
  | 'tag.deleted'
  | 'tag.restored'
  | 'repository.mutable'
  | 'tag.unprotected'
  | 'repository.protection_changed'
  | 'target.scan_failed'
  | 'harbor.verdict_mismatch';

/** Webhook payload version 1: one alert. `tag`, `digest`, `previousDigest` are null where they do not apply. */
export interface AlertMessage {
  version: 1;
  /** Delivery id (a UUID): the same on every retry, so receivers deduplicate with it. */
  id: string;
  type: FindingType;
  severity: Severity;
  summary: string;
  remediation: string;
  /** ISO 8601 time the change was observed. */
  occurredAt: string;
  target: { id: string; kind: string };
  repository: string | null;
  tag: string | null;
  digest: string | null;
  previousDigest: string | null;
  protection: { protected: boolean; reason: string } | null;
  scanId: number | null;
  finding: { id: number; status: string };
}

export interface AlertBatch {
  version: 1;
  id: string;
  type: 'batch';
  alerts: AlertMessage[];
}

/**
 * A scan's root sent out of the database (`anchor:` in the config): once a root has left, rewriting
 * the history it covers is detectable even by someone with full database access. Not a finding:
 * no severity, no finding id; the notifier filters for findings (`events`, `minSeverity`, `batch`)
 * do not apply to it, `targets` does.
 */
export interface ScanCompletedMessage {
  version: 1;
  /** Delivery id (a UUID): the same on every retry. */
  id: string;
  type: 'scan.completed';
  /** One line for people (and `tagledger alerts list`). */
  summary: string;
  /** When the scan finished (ISO 8601): the same as `finishedAt`. */
  occurredAt: string;
  target: { id: string; kind: string };
  scanId: number;
  status: 'succeeded' | 'partial' | 'failed' | 'aborted';
  startedAt: string;
  finishedAt: string;
  /** `scans.root_hash`: sha256 hex over the previous root and the chain heads this scan produced. */
  rootHash: string;
  /** `scans.previous_root`: the root of the target's scan before, "" for its first. */
  previousRoot: string;
  counts: {
    repositories: number;
    tags: number;
    events: { created: number; moved: number; deleted: number; restored: number };
    errors: number;
    warnings: number;
  };
}

export type AlertPayload = AlertMessage | AlertBatch | ScanCompletedMessage;

export interface DeliveryResult {
  ok: boolean;
  /** HTTP status, or null when no response came (timeout, connection refused, TLS). */
  status: number | null;
  /** May the dispatcher try again? (5xx, 408, 429, network errors: yes; other 4xx: no.) */
  retryable: boolean;
  /** The receiver's Retry-After, in milliseconds, when it sent one. */
  retryAfterMs?: number;
  /** One line, never containing secrets or the full response body. */
  error?: string;
  durationMs: number;
}

export interface Notifier {
  readonly kind: 'webhook' | 'slack' | 'cloudevents';
  readonly id: string;
  send(payload: AlertPayload, signal: AbortSignal): Promise<DeliveryResult>;
}
