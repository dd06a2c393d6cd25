import { describe, expect, it } from 'vitest';
import { ecrFilterMatches } from './ecr-filters.js';

describe('ecrFilterMatches', () => {
  it.each([
    ['latest', 'latest', true],
    ['latest', 'latest2', false],
    ['dev-*', 'dev-123', true],
    ['dev-*', 'dev-', true],
    ['dev-*', 'xdev-1', false],
    ['*-rc', '1.0-rc', true],
    ['*-rc', '1.0-rc1', false],
    ['v*.*', 'v1.2', true],
    ['v*.*', 'v12', false],
    ['*', 'anything', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'acb', false],
    ['Dev-*', 'dev-1', false],
  ])('filter %s vs tag %s → %s', (filter, tag, expected) => {
    expect(ecrFilterMatches(filter, tag)).toBe(expected);
  });
});
