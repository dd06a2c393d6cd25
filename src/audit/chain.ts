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
import crypto, { createHash } from 'node:crypto';

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
  return direct(value) ?? JSON.stringify(canonical(value));
}

/** Array indexes: a plain object lists such keys first, in numeric order, whatever their insertion order. */
const INDEX_KEY = /^(?:0|[1-9][0-9]{0,9})$/;

/**
 * The same text as `JSON.stringify(canonical(value))`, written directly: every stored event goes
 * through here, and building a sorted copy first costs several times more. Returns undefined where
 * JSON.stringify would (a lone undefined or function); values it does not model itself (objects with
 * their own toJSON, objects keyed by array indexes) go the reference way.
 */
function direct(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'number':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += `${i ? ',' : ''}${direct(value[i]) ?? 'null'}`;
        return `${out}]`;
      }
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(canonical(value));
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        if (INDEX_KEY.test(k)) return JSON.stringify(canonical(value));
        const v = direct(obj[k]);
        if (v === undefined) continue;
        out += `${first ? '' : ','}${JSON.stringify(k)}:${v}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      // undefined, functions and symbols are left out, as JSON.stringify does; bigint throws as it does.
      return JSON.stringify(value);
  }
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

/** Node's one-shot hash (20.12 and later) is more than twice as fast as createHash for short inputs. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

export function sha256Hex(text: string): string {
  return oneShotHash ? oneShotHash('sha256', text, 'hex') : createHash('sha256').update(text, 'utf8').digest('hex');
}

export function chainHash(previous: string, event: ChainedEvent): string {
  return sha256Hex(`${previous}\n${(event.type === 'tag' && tagEventJson(event, event.seq)) || canonicalJson(event)}`);
}

/**
 * canonicalJson of a tag event with position `seq`, member by member in sorted key order: a first
 * scan hashes one event per tag. Only for the exact shape (every member present, with its type, and
 * nothing else); anything else returns undefined and goes the general way. Members that repeat from
 * one event to the next (target, repository, kind, reason, time) are escaped once.
 */
function tagEventJson(e: WithoutSeq<ChainedTagEvent> & { seq?: number }, seq: number): string | undefined {
  if (
    !isStringOrNull(e.digest) ||
    typeof e.kind !== 'string' ||
    typeof e.observedAt !== 'string' ||
    !isStringOrNull(e.previousDigest) ||
    typeof e.protected !== 'boolean' ||
    typeof e.protectionReason !== 'string' ||
    typeof e.repository !== 'string' ||
    !isFiniteNumber(e.scanId) ||
    !isFiniteNumber(seq) ||
    typeof e.tag !== 'string' ||
    typeof e.target !== 'string' ||
    e.type !== 'tag' ||
    Object.keys(e).length !== (e.seq === undefined ? 11 : 12)
  ) {
    return undefined;
  }
  return (
    `{"digest":${JSON.stringify(e.digest)},"kind":${repeated(0, e.kind)},"observedAt":${repeated(1, e.observedAt)},"previousDigest":${JSON.stringify(e.previousDigest)},` +
    `"protected":${e.protected},"protectionReason":${repeated(2, e.protectionReason)},"repository":${repeated(3, e.repository)},"scanId":${JSON.stringify(e.scanId)},` +
    `"seq":${JSON.stringify(seq)},"tag":${JSON.stringify(e.tag)},"target":${repeated(4, e.target)},"type":"tag"}`
  );
}

function isStringOrNull(v: unknown): v is string | null {
  return v === null || typeof v === 'string';
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** The last value seen in each slot and its JSON text. */
const lastSeen: Array<[string, string]> = Array.from({ length: 5 }, () => ['', '""']);

function repeated(slot: number, value: string): string {
  const last = lastSeen[slot];
  if (last[0] !== value) {
    last[0] = value;
    last[1] = JSON.stringify(value);
  }
  return last[1];
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
    // Tag events are written straight from the given object; others as a copy with their position.
    const json = (event.type === 'tag' && tagEventJson(event, seq)) || canonicalJson({ ...event, seq });
    const hash = sha256Hex(`${this.head}\n${json}`);
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
