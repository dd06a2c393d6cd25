import { serialize, deserialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import type { RepositoryResult, TagObservation } from '../types.js';
import { decodeResult, decodeTags, encodeResult, encodeTags } from './codec.js';

/** What a thread's message goes through: structured clone (the same serializer postMessage uses). */
const roundTrip = (tags: TagObservation[]) => decodeTags(deserialize(serialize(encodeTags(tags))));

/** Exactly the same tags: values, which members exist, and the members' order. */
function expectSame(actual: TagObservation[], expected: TagObservation[]) {
  expect(actual).toEqual(expected);
  expect(actual.map((t) => Object.keys(t))).toEqual(expected.map((t) => Object.keys(t)));
  expect(actual.map((t) => (t.extra ? Object.keys(t.extra) : null))).toEqual(expected.map((t) => (t.extra ? Object.keys(t.extra) : null)));
  actual.forEach((t, i) => expect(Object.is(t.pushedAt?.getTime(), expected[i].pushedAt?.getTime())).toBe(true));
}

describe('collector thread codec', () => {
  it('brings every tag back exactly, whatever its evidence holds', () => {
    const tags: TagObservation[] = [
      { tag: 'v1', digest: 'sha256:' + 'a'.repeat(64), mediaType: 'application/vnd.oci.image.manifest.v1+json', pushedAt: new Date('2026-01-02T03:04:05.678Z'), extra: { imageStatus: 'ACTIVE', imageSizeInBytes: 10 } },
      { tag: 'v2', digest: 'sha256:' + 'b'.repeat(64), mediaType: null, pushedAt: null },
      // Same members in another order: another shape, kept in its own order.
      { tag: 'v3', digest: 'sha256:' + 'c'.repeat(64), mediaType: null, pushedAt: new Date(0), extra: { imageSizeInBytes: -0, imageStatus: 'ARCHIVED' } },
      // Mixed value types in one member, nested values, undefined, and text that needs care.
      { tag: 'ünï-\u{1F600}-\ud800', digest: 'sha256:' + 'd'.repeat(64), mediaType: '', pushedAt: new Date(NaN), extra: { imageStatus: null, imageSizeInBytes: 'big', nested: { a: [1, 'x'] }, gone: undefined } },
      { tag: '', digest: 'sha256:' + 'e'.repeat(64), mediaType: 'm', pushedAt: null, extra: {} },
      { tag: 'v6', digest: 'sha256:' + 'f'.repeat(64), mediaType: 'm', pushedAt: null, extra: { imageStatus: 'ACTIVE', imageSizeInBytes: Number.NaN } },
    ];
    expectSame(roundTrip(tags), tags);
    expect(roundTrip([])).toEqual([]);
  });

  it('sends a large repository as a few columns, not as an object per tag', () => {
    const tags: TagObservation[] = Array.from({ length: 1000 }, (_, i) => ({
      tag: `v${i}`,
      digest: `sha256:${String(i).padStart(64, '0')}`,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      pushedAt: new Date(1_700_000_000_000 + i),
      extra: { imageStatus: 'ACTIVE', imageSizeInBytes: 1000 + i },
    }));
    const encoded = encodeTags(tags);
    expect(encoded.shapes).toEqual([['imageStatus', 'imageSizeInBytes']]);
    expect(encoded.names.type).toBe('strings');
    expect(encoded.columns[0].map((c) => c.type)).toEqual(['strings', 'numbers']);
    expectSame(roundTrip(tags), tags);
  });

  it('passes every other result through as it is', () => {
    const results: RepositoryResult[] = [
      { kind: 'discovered', repositories: 3 },
      { kind: 'error', repository: 'r', code: 'denied', cause: 'AccessDenied' },
      { kind: 'listing', complete: true },
      { kind: 'observed', observation: { repository: 'r', pullReference: 'h/r', protection: { kind: 'unknown' } as never, tags: [], raw: { a: 1 } } },
    ];
    expect(results.map((r) => decodeResult(deserialize(serialize(encodeResult(r)))))).toEqual(results);
  });
});
