import { describe, expect, it } from 'vitest';
import { classifyTag, isVersionStrategy, type TagStrategy } from './strategy.js';
import { summariseTagStrategies } from './strategy-summary.js';

const cases: Array<[string | null, TagStrategy]> = [
  [null, 'floating'],
  ['latest', 'floating'],
  ['LATEST', 'floating'],
  ['stable', 'floating'],
  ['production', 'floating'],
  ['main', 'floating'],
  ['master', 'floating'],
  ['edge', 'floating'],
  ['v1', 'floating'],
  ['1', 'floating'],
  ['20', 'floating'],
  ['20-alpine', 'floating'],
  ['v12', 'floating'],
  ['1.25', 'floating'],
  ['v2.1', 'floating'],
  ['22.04', 'floating'],
  ['1.25-alpine3.19', 'floating'],
  ['latest-alpine', 'floating'],
  ['stable-slim', 'floating'],
  ['alpine', 'floating'],
  ['bookworm', 'floating'],
  ['feature-login', 'floating'],
  ['pr-123', 'floating'],
  ['1.4.2', 'semver'],
  ['v1.4.2', 'semver'],
  ['0.0.1', 'semver'],
  ['1.2.3-rc.1', 'semver'],
  ['3.12.1-slim-bookworm', 'semver'],
  ['v1.2.3-4-gabc1234', 'semver'],
  ['1.2.3.4', 'semver'],
  ['2024.1.15', 'semver'],
  ['abc1234', 'git-sha'],
  ['3f9e2c1d8b7a', 'git-sha'],
  ['deadbeef', 'git-sha'],
  ['sha-abc1234', 'git-sha'],
  ['git-0a1b2c3', 'git-sha'],
  ['g3f9e2c1', 'git-sha'],
  ['main-3f9e2c1d', 'git-sha'],
  ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4', 'git-sha'],
  ['20260301', 'date-or-build'],
  ['2026-03-01', 'date-or-build'],
  ['2026.03.01', 'date-or-build'],
  ['20260301T101500Z', 'date-or-build'],
  ['nightly-20260301', 'date-or-build'],
  ['2026-03-01-abc1234', 'date-or-build'],
  ['1234567', 'date-or-build'],
  ['4711', 'date-or-build'],
  ['build-4711', 'date-or-build'],
  ['b42', 'date-or-build'],
  ['dev-7', 'date-or-build'],
  ['jdk17', 'other'],
  ['01.2.3', 'other'],
];

describe('classifyTag', () => {
  it.each(cases)('%s is %s', (tag, strategy) => {
    expect(classifyTag(tag).strategy).toBe(strategy);
  });

  it('says why', () => {
    expect(classifyTag(null).detail).toContain('no tag');
    expect(classifyTag('v1').detail).toContain('bare major');
    expect(classifyTag('1.25').detail).toContain('major.minor');
    expect(classifyTag('latest').detail).toBe('channel name "latest"');
  });

  it('counts semver, git SHA and date/build tags as version tags', () => {
    expect((['semver', 'git-sha', 'date-or-build', 'floating', 'other'] as TagStrategy[]).map(isVersionStrategy)).toEqual([true, true, true, false, false]);
  });
});

describe('summariseTagStrategies', () => {
  it('shares by strategy, unprotected floating tags and re-pushed version tags', () => {
    const s = summariseTagStrategies(
      { targetId: 'prod', repository: 'shop/api', pullReference: 'r.example/shop/api' },
      [
        { tag: '1.0.0', present: true, protected: true },
        { tag: '1.1.0', present: true, protected: false },
        { tag: 'abc1234', present: true, protected: false },
        { tag: 'latest', present: true, protected: false },
        { tag: 'stable', present: true, protected: true },
        { tag: 'old', present: false, protected: false },
      ],
      [
        { tag: '1.0.0', repushes: 2, lastAt: new Date('2026-03-01T00:00:00Z') },
        { tag: 'latest', repushes: 9, lastAt: new Date('2026-03-02T00:00:00Z') },
        { tag: '0.9.0', repushes: 1, lastAt: new Date('2026-01-01T00:00:00Z') },
      ],
    );
    expect(s.tags).toBe(5);
    expect(s.byStrategy).toEqual({ semver: 2, 'git-sha': 1, 'date-or-build': 0, floating: 2, other: 0 });
    expect(s.share.semver).toBeCloseTo(0.4);
    expect(s.share.floating).toBeCloseTo(0.4);
    expect(s.floatingUnprotected).toEqual(['latest']);
    expect(s.versionTags).toBe(3);
    expect(s.versionTagsUnprotected).toBe(2);
    // `latest` moving is expected; version tags moving is the finding. Deleted tags still count.
    expect(s.repushedVersionTags.map((r) => [r.tag, r.repushes])).toEqual([
      ['1.0.0', 2],
      ['0.9.0', 1],
    ]);
  });

  it('gives zero shares for a repository without tags', () => {
    const s = summariseTagStrategies({ targetId: 't', repository: 'r', pullReference: 'h/r' }, [], []);
    expect(s.tags).toBe(0);
    expect(Object.values(s.share).every((v) => v === 0)).toBe(true);
  });
});
