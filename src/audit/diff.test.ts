import { describe, expect, it } from 'vitest';
import { diffTags, repositoryGoneEvents, tagMapHash } from './diff.js';

const d = (n: number) => `sha256:${String(n).padStart(64, '0')}`;

describe('diffTags', () => {
  it('reports every tag of a first observation as created', () => {
    expect(diffTags([], [{ tag: 'a', digest: d(1) }, { tag: 'b', digest: d(2) }])).toEqual([
      { kind: 'created', tag: 'a', digest: d(1), previousDigest: null },
      { kind: 'created', tag: 'b', digest: d(2), previousDigest: null },
    ]);
  });

  it('reports a changed digest as moved, with the old digest', () => {
    const events = diffTags([{ tag: 'latest', digest: d(1), present: true }], [{ tag: 'latest', digest: d(2) }]);
    expect(events).toEqual([{ kind: 'moved', tag: 'latest', digest: d(2), previousDigest: d(1) }]);
  });

  it('reports nothing when nothing changed', () => {
    expect(diffTags([{ tag: 'x', digest: d(1), present: true }], [{ tag: 'x', digest: d(1) }])).toEqual([]);
  });

  it('reports a missing tag as deleted and a returning one as restored', () => {
    const known = [
      { tag: 'gone', digest: d(1), present: true },
      { tag: 'back', digest: d(2), present: false },
      { tag: 'back-same', digest: d(3), present: false },
    ];
    const events = diffTags(known, [{ tag: 'back', digest: d(9) }, { tag: 'back-same', digest: d(3) }]);
    expect(events).toEqual([
      { kind: 'restored', tag: 'back', digest: d(9), previousDigest: d(2) },
      { kind: 'restored', tag: 'back-same', digest: d(3), previousDigest: d(3) },
      { kind: 'deleted', tag: 'gone', digest: null, previousDigest: d(1) },
    ]);
  });

  it('does not report an already deleted tag again', () => {
    expect(diffTags([{ tag: 'old', digest: d(1), present: false }], [])).toEqual([]);
  });

  it('handles an empty repository', () => {
    expect(diffTags([], [])).toEqual([]);
  });

  it('rejects an observation that lists a tag twice', () => {
    expect(() => diffTags([], [{ tag: 'a', digest: d(1) }, { tag: 'a', digest: d(2) }])).toThrow(/listed twice/);
  });

  it('deletes every present tag of a repository that is gone', () => {
    const events = repositoryGoneEvents([
      { tag: 'a', digest: d(1), present: true },
      { tag: 'b', digest: d(2), present: false },
    ]);
    expect(events).toEqual([{ kind: 'deleted', tag: 'a', digest: null, previousDigest: d(1) }]);
  });
});

describe('tagMapHash', () => {
  it('is independent of order and sensitive to digests', () => {
    const a = tagMapHash([{ tag: 'x', digest: d(1) }, { tag: 'y', digest: d(2) }]);
    const b = tagMapHash([{ tag: 'y', digest: d(2) }, { tag: 'x', digest: d(1) }]);
    const c = tagMapHash([{ tag: 'x', digest: d(2) }, { tag: 'y', digest: d(1) }]);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
