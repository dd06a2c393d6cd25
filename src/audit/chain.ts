/**
 * Tamper evidence. Every tag event and repository event joins its repository's hash chain:
 *
 *   hash(n) = hex(sha256( hash(n-1) + "\n" + canonical JSON of event n ))      hash(0) = ""
 *
 * and every finished scan records a scan root over the chains it touched:
 *
 *   root = hex(sha256( previous root of the target + "\n" + canonical JSON of [[repository, head], ...] ))
 *
 * with the pairs sorted by repository name and the first scan's previous root "". Canonical JSON:
 * object keys sorted by UTF-16 code units (JavaScript's default sort), no whitespace, strings
 * escaped as JSON.stringify escapes them, absent values omitted, timestamps as UTC ISO 8601 with
 * milliseconds (`2026-03-03T12:00:04.211Z`). Pure: anyone can re-implement it from this comment.
 */
import { createHash } from 'node:crypto';

export const GENESIS = '';

export interface ChainedTagEvent {
  type: 'tag';
  seq: number;
  target: string;
  repository: string;
  tag: string;
  kind: string;
  digest: string | null;
  previousDigest: string | null;
  protected: boolean;
  protectionReason: string;
  observedAt: string;
  scanId: number;
}

export interface ChainedRepositoryEvent {
  type: 'repository';
  seq: number;
  target: string;
  repository: string;
  kind: string;
  before: unknown;
  after: unknown;
  observedAt: string;
  scanId: number;
}

export type ChainedEvent = ChainedTagEvent | ChainedRepositoryEvent;
type WithoutSeq<T> = T extends unknown ? Omit<T, 'seq'> : never;

export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

function canonical(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(obj).sort()) if (obj[k] !== undefined) out[k] = canonical(obj[k]);
    return out;
  }
  return value;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function chainHash(previous: string, event: ChainedEvent): string {
  return sha256Hex(`${previous}\n${canonicalJson(event)}`);
}

export function scanRoot(previousRoot: string, heads: Array<[string, string]>): string {
  const sorted = [...heads].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return sha256Hex(`${previousRoot}\n${canonicalJson(sorted)}`);
}

/** Extends a chain in memory: gives each event its seq and hash, in order. */
export class ChainCursor {
  constructor(
    public seq: number,
    public head: string,
  ) {}

  append(event: WithoutSeq<ChainedEvent>): { seq: number; hash: string } {
    const seq = this.seq + 1;
    const hash = chainHash(this.head, { ...event, seq } as ChainedEvent);
    this.seq = seq;
    this.head = hash;
    return { seq, hash };
  }
}

export interface ChainBreak {
  /** Position in the list given to verifyChain. */
  index: number;
  seq: number;
  reason: string;
  expected: string | null;
  found: string | null;
}

/** Recomputes a chain given in seq order; returns the first break, or null when intact. */
export function verifyChain(events: Array<{ event: ChainedEvent; hash: string | null }>): ChainBreak | null {
  let head = GENESIS;
  let seq = 0;
  for (const [index, { event, hash }] of events.entries()) {
    if (event.seq !== seq + 1) {
      const reason = event.seq > seq + 1 ? `chain position ${seq + 1} is missing (event deleted?)` : `chain position ${event.seq} appears twice`;
      return { index, seq: event.seq, reason, expected: String(seq + 1), found: String(event.seq) };
    }
    const expected = chainHash(head, event);
    if (hash !== expected) return { index, seq: event.seq, reason: 'hash does not match the event and its predecessor (event changed or reordered?)', expected, found: hash };
    head = expected;
    seq = event.seq;
  }
  return null;
}
