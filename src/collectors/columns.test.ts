import { describe, expect, it } from 'vitest';
import { columnarObservation, columnsOf, emptyColumns, sizedColumns, tagColumns, tagsOf, trimColumns } from './columns.js';
import type { TagObservation } from './types.js';

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const tags: TagObservation[] = [
  { tag: 'v1', digest: digest('a'), mediaType: 'application/vnd.oci.image.manifest.v1+json', pushedAt: new Date('2026-01-02T03:04:05.678Z'), extra: { imageStatus: 'ACTIVE', imageSizeInBytes: 10 } },
  { tag: 'v2', digest: digest('b'), mediaType: null, pushedAt: null },
  { tag: 'v3', digest: digest('c'), mediaType: 'm', pushedAt: new Date(0), extra: {} },
  { tag: 'v4', digest: digest('d'), mediaType: 'm', pushedAt: null, extra: { imageStatus: null, nested: { a: [1, 'x'] }, gone: undefined } },
];

describe('tag columns', () => {
  it('give back the tags they were built from: values, dates, and evidence without undefined members', () => {
    const c = columnsOf(tags);
    expect(c.count).toBe(4);
    expect(c.members).toEqual(['imageStatus', 'imageSizeInBytes', 'nested']);
    expect(c.hasExtra).toEqual([1, 0, 1, 1]);
    expect(c.pushedAt[1]).toBeNaN();
    const back = tagsOf(c);
    expect(back).toEqual(tags.map((t) => (t.tag === 'v4' ? { ...t, extra: { imageStatus: null, nested: { a: [1, 'x'] } } } : t)));
    expect(back[1]).not.toHaveProperty('extra');
    expect(tagsOf(emptyColumns(['x']))).toEqual([]);
  });

  it('are an observation\'s own until its tags are read, and never again after', () => {
    const c = columnsOf(tags);
    const obs = columnarObservation({ repository: 'r', pullReference: 'h/r', protection: { kind: 'unknown' } }, c);
    expect(tagColumns(obs)).toBe(c);
    expect(Object.keys(obs)).toEqual(['repository', 'pullReference', 'protection', 'tags']);
    const read = obs.tags;
    expect(obs.tags).toBe(read);
    expect(tagColumns(obs)).not.toBe(c);
    // Tags changed in place after they were read are what the columns say from then on.
    read[0].digest = digest('f');
    expect(tagColumns(obs).digests[0]).toBe(digest('f'));
  });

  it('are dropped when the observation\'s tags are replaced', () => {
    const obs = columnarObservation({ repository: 'r', pullReference: 'h/r', protection: { kind: 'unknown' } }, columnsOf(tags));
    obs.tags = tags.slice(0, 1);
    expect(tagColumns(obs).names).toEqual(['v1']);
    // A copy of the observation is a plain one with the tags as objects.
    expect({ ...obs }.tags).toEqual(tags.slice(0, 1));
  });

  it('written by index into sized columns and trimmed, give back the tags written', () => {
    const c = sizedColumns(['imageStatus'], 3);
    for (const t of tags.slice(0, 2)) {
      const i = c.count++;
      c.names[i] = t.tag;
      c.digests[i] = t.digest;
      c.mediaTypes[i] = t.mediaType;
      c.pushedAt[i] = t.pushedAt ? t.pushedAt.getTime() : NaN;
      c.hasExtra[i] = t.extra ? 1 : 0;
      c.extra[0][i] = t.extra?.imageStatus;
    }
    trimColumns(c);
    for (const column of [c.names, c.digests, c.mediaTypes, c.pushedAt, c.hasExtra, c.extra[0]]) expect(column).toHaveLength(2);
    expect(tagsOf(c)).toEqual([{ ...tags[0], extra: { imageStatus: 'ACTIVE' } }, tags[1]]);
  });
});
