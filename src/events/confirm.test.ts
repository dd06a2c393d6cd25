import { describe, expect, it } from 'vitest';
import { judgeClaims, type ClaimToCheck } from './confirm.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const claim = (id: number, action: 'push' | 'delete', tag: string | null, digest: string | null): ClaimToCheck => ({ id, action, tag, digest });
const statuses = (claims: ClaimToCheck[], present: Record<string, string>) => judgeClaims(claims, new Map(Object.entries(present))).map((v) => v.status);

describe('judging an event against the registry after the scan', () => {
  it('confirms a push whose tag points at the pushed digest; contradicts one that points elsewhere or is missing', () => {
    expect(statuses([claim(1, 'push', 'v1', A)], { v1: A })).toEqual(['confirmed']);
    expect(statuses([claim(1, 'push', 'v1', null)], { v1: A })).toEqual(['confirmed']);
    const elsewhere = judgeClaims([claim(1, 'push', 'v1', A)], new Map([['v1', B]]));
    expect(elsewhere).toEqual([{ id: 1, status: 'unconfirmed', note: `the registry contradicts the event: tag v1 points at ${B.slice(0, 19)}…, not ${A.slice(0, 19)}…` }]);
    expect(statuses([claim(1, 'push', 'v1', A)], {})).toEqual(['unconfirmed']);
  });

  it('confirms a deletion when the tag or digest is gone; a tag still there contradicts it', () => {
    expect(statuses([claim(1, 'delete', 'v1', A)], { v2: A })).toEqual(['confirmed']);
    expect(statuses([claim(1, 'delete', null, A)], { v2: B })).toEqual(['confirmed']);
    const still = judgeClaims([claim(7, 'delete', 'v1', null)], new Map([['v1', A]]));
    expect(still).toEqual([{ id: 7, status: 'unconfirmed', note: `the registry contradicts the event: tag v1 is still there (${A.slice(0, 19)}…)` }]);
    expect(judgeClaims([claim(1, 'delete', null, A)], new Map([['v2', A], ['v1', A]]))[0].note).toMatch(/is still tagged v1, v2$/);
  });

  it('does not judge a claim a later event about the same tag overrides, nor one that names nothing to check', () => {
    // Deleted and pushed again (ECR allows it even on IMMUTABLE repositories): the deletion is history.
    expect(statuses([claim(1, 'delete', 'v1', A), claim(2, 'push', 'v1', B)], { v1: B })).toEqual(['scanned', 'confirmed']);
    // Moved and moved back: both pushes named the tag; only the last one holds now.
    expect(statuses([claim(1, 'push', 'v1', B), claim(2, 'push', 'v1', A)], { v1: A })).toEqual(['scanned', 'confirmed']);
    expect(statuses([claim(1, 'push', null, A)], { v1: A })).toEqual(['scanned']);
    expect(statuses([claim(1, 'delete', null, null)], {})).toEqual(['scanned']);
    // An earlier claim that still holds is confirmed all the same.
    expect(statuses([claim(1, 'push', 'v1', A), claim(2, 'push', 'v1', A)], { v1: A })).toEqual(['confirmed', 'confirmed']);
  });
});
