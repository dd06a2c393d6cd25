import { describe, expect, it } from 'vitest';
import { ecrFilterMatches } from './ecr-filters.js';

/**
 * The reading under test (see src/collectors/ecr/README.md): a WILDCARD filter matches the WHOLE
 * tag, `*` stands for any run of characters including none and is the only wildcard (`.`, `-`
 * and `_` are literal), and matching is case-sensitive.
 */
describe('ecrFilterMatches', () => {
  it.each([
    // literal filters: whole-tag equality
    ['latest', 'latest', true],
    ['latest', 'latest2', false],
    ['latest', 'my-latest', false],
    ['latest', 'Latest', false],
    // prefix filters
    ['dev-*', 'dev-123', true],
    ['dev-*', 'dev-', true],
    ['dev-*', 'dev', false],
    ['dev-*', 'xdev-1', false],
    ['v*', 'v', true],
    // suffix filters
    ['*-rc', '1.0-rc', true],
    ['*-rc', '1.0-rc1', false],
    ['*latest', 'latest', true],
    // inner wildcards
    ['v*.*', 'v1.2', true],
    ['v*.*', 'v12', false],
    ['v*.*', 'v.', true],
    ['release-*-prod', 'release-1.2-prod', true],
    ['release-*-prod', 'release--prod', true],
    ['release-*-prod', 'release-1.2-prod-hotfix', false],
    ['*dev*', 'my-dev-build', true],
    ['*dev*', 'dev', true],
    ['*dev*', 'de-v', false],
    // `.` is literal, not "any character"
    ['v1.*', 'v1x2', false],
    ['v1.*', 'v1.2', true],
    // several wildcards, and parts that must not overlap
    ['*', 'anything', true],
    ['**', 'a', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'acb', false],
    ['a*b*c', 'abcbc', true],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['ab*ba', 'aba', false],
    ['ab*ba', 'abba', true],
    ['x*y*y*z', 'xyz', false],
    ['x*y*y*z', 'xyyz', true],
    ['a*bc*bcd', 'abcbcd', true],
    ['*-*', '-', true],
    ['*-*', 'ab', false],
    // case-sensitive
    ['Dev-*', 'dev-1', false],
    ['dev-*', 'DEV-1', false],
    ['*-SNAPSHOT', '1.0-SNAPSHOT', true],
    ['*-SNAPSHOT', '1.0-snapshot', false],
    // underscores and digits are ordinary characters
    ['_*', '_tmp', true],
    ['2024*', '20240101', true],
  ])('filter %s vs tag %s → %s', (filter, tag, expected) => {
    expect(ecrFilterMatches(filter, tag)).toBe(expected);
  });

  it('agrees with an anchored regular expression on generated filters and tags', () => {
    // A reference reading: escape everything, turn each `*` into `.*`, anchor both ends.
    const reference = (filter: string, tag: string) =>
      new RegExp(`^${filter.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`).test(tag);
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pick = (alphabet: string, max: number) => Array.from({ length: rand(max + 1) }, () => alphabet[rand(alphabet.length)]).join('');
    let matched = 0;
    for (let i = 0; i < 5000; i++) {
      const filter = pick('ab.*', 6) || '*';
      const tag = pick('ab.', 7) || 'a';
      const expected = reference(filter, tag);
      if (expected) matched++;
      expect(ecrFilterMatches(filter, tag), `filter "${filter}" vs tag "${tag}"`).toBe(expected);
    }
    // The generator produced both outcomes plenty of times.
    expect(matched).toBeGreaterThan(500);
    expect(matched).toBeLessThan(4500);
  });
});
