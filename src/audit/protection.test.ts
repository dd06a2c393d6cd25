import { describe, expect, it } from 'vitest';
import { protectionEvaluator, protectionFor, type ProtectionSettings } from './protection.js';

describe('protectionFor (ECR)', () => {
  const filters = ['latest', 'dev-*', '*-rc*'];
  const cases: Array<[ProtectionSettings, string, boolean, string]> = [
    [{ kind: 'ecr', mode: 'IMMUTABLE', filters: [] }, 'v1', true, 'protected: repository is IMMUTABLE'],
    [{ kind: 'ecr', mode: 'MUTABLE', filters: [] }, 'v1', false, 'not protected: repository is MUTABLE'],
    [{ kind: 'ecr', mode: 'IMMUTABLE_WITH_EXCLUSION', filters }, 'dev-42', false, 'not protected: repository is IMMUTABLE_WITH_EXCLUSION and tag matches exclusion "dev-*"'],
    [{ kind: 'ecr', mode: 'IMMUTABLE_WITH_EXCLUSION', filters }, '2.0-rc1', false, 'not protected: repository is IMMUTABLE_WITH_EXCLUSION and tag matches exclusion "*-rc*"'],
    [{ kind: 'ecr', mode: 'IMMUTABLE_WITH_EXCLUSION', filters }, 'v1.4.2', true, 'protected: repository is IMMUTABLE_WITH_EXCLUSION and tag matches no exclusion ("latest", "dev-*", "*-rc*")'],
    [{ kind: 'ecr', mode: 'MUTABLE_WITH_EXCLUSION', filters }, 'latest', true, 'protected: repository is MUTABLE_WITH_EXCLUSION and tag matches exclusion "latest"'],
    [{ kind: 'ecr', mode: 'MUTABLE_WITH_EXCLUSION', filters }, 'latest2', false, 'not protected: repository is MUTABLE_WITH_EXCLUSION and tag matches no exclusion ("latest", "dev-*", "*-rc*")'],
  ];

  it.each(cases)('%j, tag %s', (settings, tag, isProtected, reason) => {
    expect(protectionFor(settings, tag)).toEqual({ protected: isProtected, reason });
    expect(protectionEvaluator(settings)(tag)).toEqual({ protected: isProtected, reason });
  });

  it('the first matching exclusion names the verdict, and tags with the same answer share one frozen verdict', () => {
    const evaluate = protectionEvaluator({ kind: 'ecr', mode: 'IMMUTABLE_WITH_EXCLUSION', filters: ['dev-*', '*-rc*'] });
    expect(evaluate('dev-1-rc1').reason).toContain('"dev-*"');
    expect(evaluate('v1')).toBe(evaluate('v2'));
    expect(evaluate('dev-1')).toBe(evaluate('dev-2'));
    expect(evaluate('dev-1')).not.toBe(evaluate('1-rc2'));
    expect(Object.isFrozen(evaluate('v1'))).toBe(true);
  });
});
