import { serialize, deserialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import type { RepositoryObservation, RepositoryResult, TagObservation } from '../types.js';
import { columnarObservation, columnsOf, tagColumns } from '../columns.js';
import { decodeColumns, decodeResult, encodeColumns, encodeResult } from './codec.js';

/** What a thread's message goes through: structured clone (the same serializer postMessage uses). */
const clone = <T>(v: T): T => deserialize(serialize(v)) as T;

const tags: TagObservation[] = [
  { tag: 'v1', digest: 'sha256:' + 'a'.repeat(64), mediaType: 'application/vnd.oci.image.manifest.v1+json', pushedAt: new Date('2026-01-02T03:04:05.678Z'), extra: { imageStatus: 'ACTIVE', imageSizeInBytes: 10 } },
  { tag: 'v2', digest: 'sha256:' + 'b'.repeat(64), mediaType: null, pushedAt: null },
  { tag: 'v3', digest: 'sha256:' + 'c'.repeat(64), mediaType: null, pushedAt: new Date(0), extra: { imageSizeInBytes: -0, imageStatus: 'ARCHIVED' } },
  // Mixed value types in one member, nested values, and text that needs care.
  { tag: 'ünï-\u{1F600}-\ud800', digest: 'sha256:' + 'd'.repeat(64), mediaType: '', pushedAt: new Date(8.64e15), extra: { imageStatus: null, imageSizeInBytes: 'big', nested: { a: [1, 'x'] } } },
  { tag: '', digest: 'sha256:' + 'e'.repeat(64), mediaType: 'm', pushedAt: null, extra: {} },
  { tag: 'v6', digest: 'sha256:' + 'f'.repeat(64), mediaType: 'm', pushedAt: null, extra: { imageStatus: 'ACTIVE', imageSizeInBytes: Number.NaN } },
];

describe('collector thread codec', () => {
  it('brings the columns back exactly, whatever the evidence holds', () => {
    const columns = columnsOf(tags);
    const back = decodeColumns(clone(encodeColumns(columns)));
    expect(back).toEqual(columns);
    expect(Object.is(back.extra[1][2], -0)).toBe(true);
    expect(back.pushedAt[1]).toBeNaN();
    expect(decodeColumns(clone(encodeColumns(columnsOf([]))))).toEqual(columnsOf([]));
  });

  it('sends an observation as a few columns, and it arrives with its columns, its tags not yet built', () => {
    const many: TagObservation[] = Array.from({ length: 1000 }, (_, i) => ({
      tag: `v${i}`,
      digest: `sha256:${String(i).padStart(64, '0')}`,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      pushedAt: new Date(1_700_000_000_000 + i),
      extra: { imageStatus: 'ACTIVE', imageSizeInBytes: 1000 + i, artifactMediaType: i % 2 ? undefined : 'application/x' },
    }));
    const sent = columnarObservation({ repository: 'r', pullReference: 'h/r', protection: { kind: 'unknown' }, raw: { a: 1 } }, columnsOf(many));
    const encoded = clone(encodeResult({ kind: 'observed', observation: sent }));
    if (encoded.kind !== 'observed') throw new Error('not an observation');
    expect(encoded.observation.tags.names.type).toBe('strings');
    expect(encoded.observation.tags.extra.map((c) => c.type)).toEqual(['strings', 'numbers', 'strings']);
    // Encoding read the columns, not the tags: the sent observation still has its own columns.
    expect(tagColumns(sent)).toBe(tagColumns(sent));
    const received = decodeResult(encoded);
    if (received.kind !== 'observed') throw new Error('not an observation');
    const obs: RepositoryObservation = received.observation;
    const columns = tagColumns(obs);
    expect(tagColumns(obs)).toBe(columns);
    expect(columns).toEqual(columnsOf(many));
    expect({ ...obs, tags: undefined }).toEqual({ repository: 'r', pullReference: 'h/r', protection: { kind: 'unknown' }, raw: { a: 1 }, tags: undefined });
    expect(obs.tags).toEqual(many.map((t) => ({ ...t, extra: Object.fromEntries(Object.entries(t.extra!).filter(([, v]) => v !== undefined)) })));
  });

  it('passes every other result through as it is', () => {
    const results: RepositoryResult[] = [
      { kind: 'discovered', repositories: 3 },
      { kind: 'error', repository: 'r', code: 'denied', cause: 'AccessDenied' },
      { kind: 'listing', complete: true },
    ];
    expect(results.map((r) => decodeResult(clone(encodeResult(r))))).toEqual(results);
    const empty = decodeResult(clone(encodeResult({ kind: 'observed', observation: { repository: 'r', pullReference: 'h/r', protection: { kind: 'unknown' }, tags: [] } })));
    expect(empty).toEqual({ kind: 'observed', observation: { repository: 'r', pullReference: 'h/r', protection: { kind: 'unknown' }, tags: [] } });
  });
});
