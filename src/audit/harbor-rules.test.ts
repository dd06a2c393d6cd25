import { describe, expect, it } from 'vitest';
import {
  doublestarMatch,
  evaluateHarborRules,
  harborPatternMatches,
  harborRuleProtects,
  HarborRuleError,
  type HarborImmutableRule,
} from './harbor-rules.js';
import { protectionFor } from './protection.js';

/**
 * Expected values follow github.com/bmatcuk/doublestar v1.3.4 `Match` (the version Harbor pins),
 * including its quirks; each quirky row says why.
 */
describe('doublestarMatch (doublestar v1.3.4 semantics)', () => {
  it.each([
    // plain text and `*`
    ['latest', 'latest', true],
    ['latest', 'Latest', false], // case-sensitive
    ['latest', 'latest2', false], // whole name
    ['v*', 'v1.2.3', true],
    ['v*', 'latest', false],
    ['*', 'anything', true],
    ['*', 'a/b', false], // `*` never crosses '/'
    ['*.*', 'v1', false],
    ['v*-rc*', 'v1.0-rc1', true],
    ['v*-rc*', 'v1.0', false],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'acb', false],
    // `?`
    ['v?', 'v1', true],
    ['v?', 'v10', false],
    ['?', '/', false], // `?` never matches '/'
    ['?x', 'üx', true], // one code point, as Go decodes runes
    // `**`
    ['**', 'v1', true],
    ['**', 'a/b/c', true],
    ['team-a/**', 'team-a/svc/api', true],
    ['team-a/**', 'team-a', false], // a trailing `/**` needs one more segment
    ['a/**', 'a/', true], // ... an empty one will do
    ['**/api', 'team-a/svc/api', true],
    ['**/api', 'api', true], // a whole-segment `**` may match zero segments
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a/x/y/c', false],
    ['v**', 'v1.0', true], // inside a segment `**` is just `*`
    ['v**', 'v1/x', false], // ... so it does not cross '/'
    ['a***', 'a', false], // quirk: only "", "*" and "**" count as able to match nothing at the end
    ['a**', 'a', true],
    ['a/*/c', 'a/b/c', true],
    ['a/*/c', 'a/b/x/c', false],
    ['team-*/api', 'team-a/api', true],
    // classes
    ['v[0-9]*', 'v1.2', true],
    ['v[0-9]*', 'vX', false],
    ['[^a-c]x', 'dx', true],
    ['[^a-c]x', 'bx', false],
    ['[!a]x', '!x', true], // v1.3.4 negates only with `^`: `!` is a member
    ['[!a]x', 'bx', false],
    ['[\\]]', ']', true], // escaped `]` inside a class
    ['[^]', 'q', true], // quirk: an empty negated class matches any one character
    // alternatives
    ['{v1,v2}.*', 'v2.0', true],
    ['{v1,v2}.*', 'v3.0', false],
    ['v*{-rc,-beta}*', 'v1.0-rc1', true],
    ['release-{a,b{c,d}}', 'release-bd', true], // nested
    ['v1{,-rc}', 'v1', true], // an empty alternative
    ['v1{,-rc}', 'v1-rc', true],
    ['v*{,-rc}', 'v1', false], // quirk: after `*`, a part that matches only "" is never tried at the end of the name
    ['v*{,-rc}', 'v1-rc', true],
    ['*{a,b}', 'xa', true],
    ['{a,b}/x', 'b/x', true],
    ['{a/b,c}', 'a/b', true], // an alternative may span segments
    ['{a/b,c}', 'c', true],
    // escapes
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['v\\', 'v', false], // a trailing `\` is only noticed when a character is compared
    // malformed parts that matching never reaches are not errors
    ['x[abc', 'y', false],
    ['**/[', 'x/y', false], // errors while expanding `**` are ignored
  ])('pattern %j vs %j → %s', (pattern, name, expected) => {
    expect(doublestarMatch(pattern, name)).toBe(expected);
  });

  it.each([
    ['[abc', 'a'], // unclosed class
    ['[]', 'a'], // empty class
    ['[-a]', 'a'], // leading dash
    ['[a-]', 'a'], // dash without an upper bound
    ['{a,b', 'a'], // unclosed alternatives
    ['v\\', 'vx'], // trailing escape reached
    ['v{a,[}', 'vb'], // an alternative is malformed
  ])('pattern %j vs %j is malformed', (pattern, name) => {
    expect(() => doublestarMatch(pattern, name)).toThrow(HarborRuleError);
  });

  it("Harbor's match(): an empty pattern matches everything, where doublestar itself does not", () => {
    expect(harborPatternMatches('', 'anything/at/all')).toBe(true);
    expect(doublestarMatch('', 'x')).toBe(false);
  });
});

let nextId = 1;
function rule(repository: [string, string], tag: [string, string], extra: Partial<HarborImmutableRule> = {}): HarborImmutableRule {
  return {
    id: nextId++,
    disabled: false,
    repository: { decoration: repository[0], pattern: repository[1] },
    tag: { decoration: tag[0], pattern: tag[1] },
    ...extra,
  };
}

describe('harborRuleProtects (one rule)', () => {
  it.each([
    // [repository decoration, pattern], [tag decoration, pattern], repository in project, tag, protected
    [['repoMatches', '**'], ['matches', 'v*'], 'svc/api', 'v1.0', true],
    [['repoMatches', '**'], ['matches', 'v*'], 'svc/api', 'latest', false],
    [['repoMatches', ''], ['matches', ''], 'anything', 'anything', true], // empty patterns match all
    [['repoExcludes', ''], ['matches', '**'], 'svc', 'v1', false], // excluding "" excludes everything
    [['repoExcludes', 'legacy/**'], ['matches', '**'], 'legacy/app', 'v1', false],
    [['repoExcludes', 'legacy/**'], ['matches', '**'], 'svc', 'v1', true],
    [['repoMatches', '**'], ['excludes', 'v*-rc*'], 'svc', 'v1.0-rc1', false],
    [['repoMatches', '**'], ['excludes', 'v*-rc*'], 'svc', 'latest', true],
    [['repoMatches', '**'], ['excludes', ''], 'svc', 'v1', false], // excluding "" excludes every tag
    [['repoMatches', '{svc,web}/*'], ['matches', '{v*,release-*}'], 'web/ui', 'release-3', true],
    [['repoMatches', '{svc,web}/*'], ['matches', '{v*,release-*}'], 'db/pg', 'release-3', false],
    // the repository name Harbor matches excludes the project: `team-a/**` never matches in project team-a
    [['repoMatches', 'team-a/**'], ['matches', '**'], 'svc/api', 'v1', false],
    [['repoMatches', 'svc/**'], ['matches', '**'], 'svc/api', 'v1', true],
    // the decoration decides what is compared, even on the "wrong" selector
    [['repoMatches', '**'], ['repoMatches', 'svc'], 'svc', 'anything', true],
    [['matches', 'v*'], ['matches', '**'], 'svc', 'v2', true],
    // namespace decorations compare a namespace the immutability check never sets
    [['nsMatches', '**'], ['matches', '**'], 'svc', 'v1', false],
    [['repoMatches', '**'], ['nsExcludes', 'x'], 'svc', 'v1', false],
  ] as Array<[[string, string], [string, string], string, string, boolean]>)(
    'repository %j tag %j: %s:%s protected=%s',
    (repository, tag, repo, tagName, expected) => {
      expect(harborRuleProtects(rule(repository, tag), repo, tagName)).toBe(expected);
    },
  );

  it('a disabled rule protects nothing', () => {
    expect(harborRuleProtects(rule(['repoMatches', '**'], ['matches', '**'], { disabled: true }), 'svc', 'v1')).toBe(false);
  });

  it('a broken rule protects nothing', () => {
    expect(harborRuleProtects(rule(['repoMatches', '**'], ['matches', '[v']), 'svc', 'v1')).toBe(false);
    expect(harborRuleProtects(rule(['repoMatches', '**'], ['matches', 'v*'], { tag: { kind: 'label', decoration: 'with', pattern: 'x' } }), 'svc', 'v1')).toBe(false);
    expect(harborRuleProtects(rule(['', '**'], ['matches', 'v*']), 'svc', 'v1')).toBe(false);
  });
});

describe('evaluateHarborRules (a project\'s rules, in order)', () => {
  const protectV = rule(['repoMatches', '**'], ['matches', 'v*']);
  const protectRelease = rule(['repoMatches', 'svc/**'], ['matches', 'release-*']);

  it('ORs the rules and names the first that matches', () => {
    const v = evaluateHarborRules([protectV, protectRelease], 'svc/api', 'release-1');
    expect(v).toEqual({ immutable: true, rule: protectRelease, error: null });
    expect(evaluateHarborRules([protectV, protectRelease], 'web', 'release-1').immutable).toBe(false);
  });

  it('ignores disabled rules', () => {
    const off = { ...protectRelease, disabled: true };
    expect(evaluateHarborRules([protectV, off], 'svc/api', 'release-1')).toEqual({ immutable: false, rule: null, error: null });
  });

  it('a broken rule reached before any match aborts with "mutable", as Harbor does', () => {
    const broken = rule(['repoMatches', '**'], ['matches', 'v[']);
    const v = evaluateHarborRules([broken, protectV], 'svc', 'v1');
    expect(v.immutable).toBe(false);
    expect(v.error).toEqual({ rule: broken, message: 'syntax error in pattern' });
    // ...but a rule that matched first wins, and a broken rule that is never reached is harmless
    expect(evaluateHarborRules([protectV, broken], 'svc', 'v1').immutable).toBe(true);
    const unknownKind = rule(['repoMatches', '**'], ['matches', 'v*'], { repository: { kind: 'regex', decoration: 'repoMatches', pattern: '.*' } });
    expect(evaluateHarborRules([unknownKind, protectV], 'svc', 'v1').error?.message).toBe('selector regex is not registered');
    const badDecoration = rule(['repoMatching', '**'], ['matches', 'v*']);
    expect(evaluateHarborRules([badDecoration], 'svc', 'v1').error?.message).toBe('decoration repoMatching of selector doublestar is not supported');
  });

  it('a malformed tag pattern is not reached when the repository selector already refused', () => {
    const narrow = rule(['repoMatches', 'other'], ['matches', 'v[']);
    expect(evaluateHarborRules([narrow, protectV], 'svc', 'v1')).toEqual({ immutable: true, rule: protectV, error: null });
  });

  it('protectionFor gives the per-tag verdict with the rule that decided it', () => {
    const settings = { kind: 'harbor' as const, project: 'team-a', repositoryInProject: 'svc/api', rules: [protectV, { ...protectRelease, disabled: true }] };
    const yes = protectionFor(settings, 'v1.4.2');
    expect(yes.protected).toBe(true);
    expect(yes.reason).toContain(`#${protectV.id}`);
    expect(yes.reason).toContain('team-a');
    expect(protectionFor(settings, 'release-1').protected).toBe(false);
    expect(protectionFor({ ...settings, rules: [] }, 'v1').reason).toContain('no enabled immutable-tag rule');
  });
});
