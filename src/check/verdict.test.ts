import { describe, expect, it } from 'vitest';
import { decideVerdict, severityAtLeast, type VerdictInput } from './verdict.js';
import { parseImageReference } from './reference.js';
import type { LedgerMatch, LedgerTagInfo } from './ledger.js';
import type { ProtectionSettings } from '../audit/protection.js';

const now = new Date('2026-03-31T00:00:00Z');
const days = (n: number) => new Date(now.getTime() - n * 86_400_000);
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const movedWithin = { ms: 30 * 86_400_000, label: '30d' };

function ledger(tag: Partial<LedgerTagInfo> | null, protection: ProtectionSettings = { kind: 'unknown' }, extra: Partial<LedgerMatch> = {}): LedgerMatch {
  return {
    repository: {
      id: 1,
      targetId: 'prod',
      name: 'shop/api',
      pullReference: 'r.example/shop/api',
      goneAt: null,
      protection,
      lastObservedAt: days(1),
      lastSuccessfulScan: { id: 7, finishedAt: days(1) },
      matchedBy: 'pull reference',
    },
    tag: tag === null ? null : { name: 'x', state: null, lastMove: null, pin: { refused: 'n/a' }, ...tag },
    digest: null,
    ...extra,
  };
}
const state = (p: Partial<NonNullable<LedgerTagInfo['state']>> = {}) => ({
  digest: D1,
  present: true,
  protected: false,
  protectionReason: 'not protected: registry reports no tag immutability setting (treated as mutable)',
  changedAt: days(40),
  ...p,
});

function verdict(ref: string, match: LedgerMatch | null, site: Partial<VerdictInput['site']> = {}) {
  return decideVerdict({ site: { source: 'kubernetes', pullPolicy: null, ...site }, parsed: parseImageReference(ref), ledger: match, movedWithin, now });
}

describe('decideVerdict', () => {
  it('pinned by digest is ok, and says whether the tag still points there', () => {
    const same = verdict(`r.example/shop/api:v1@${D1}`, ledger({ state: state() }));
    expect(same).toMatchObject({ verdict: 'pinned', severity: 'none' });
    expect(same.reason).toContain('tag v1 still points to it');
    const moved = verdict(`r.example/shop/api:v1@${D1}`, ledger({ state: state({ digest: D2 }) }));
    expect(moved).toMatchObject({ verdict: 'pinned', severity: 'none' });
    expect(moved.reason).toContain('now points to sha256:222222222222');
    const digestOnly = verdict(`r.example/shop/api@${D1}`, ledger(null, undefined, { digest: { digest: D1, tags: ['v1', 'v1.0'], seen: true } }));
    expect(digestOnly.reason).toContain('tags v1, v1.0 point to it');
    expect(verdict(`x.example/y@${D1}`, null).reason).toContain('not audited');
  });

  it('a protected tag is ok', () => {
    const v = verdict('r.example/shop/api:1.4.2', ledger({ state: state({ protected: true, protectionReason: 'protected: repository is IMMUTABLE' }) }));
    expect(v).toEqual({ verdict: 'protected', severity: 'none', reason: 'tag 1.4.2 is protected: repository is IMMUTABLE', notes: [] });
  });

  it('a mutable tag is medium, high with IfNotPresent written or defaulted on Kubernetes', () => {
    const match = ledger({ state: state() });
    expect(verdict('r.example/shop/api:1.4.2', match, { pullPolicy: 'Always' })).toMatchObject({ verdict: 'not-protected', severity: 'medium' });
    expect(verdict('r.example/shop/api:1.4.2', match, { source: 'compose' })).toMatchObject({ verdict: 'not-protected', severity: 'medium' });
    const defaulted = verdict('r.example/shop/api:1.4.2', match);
    expect(defaulted).toMatchObject({ verdict: 'pull-policy', severity: 'high' });
    expect(defaulted.reason).toContain('the default imagePullPolicy (IfNotPresent');
    expect(defaulted.notes).toEqual(['tag 1.4.2 is not protected: registry reports no tag immutability setting (treated as mutable)']);
    expect(verdict('r.example/shop/api:1.4.2', match, { pullPolicy: 'IfNotPresent' }).reason).toContain('imagePullPolicy: IfNotPresent');
    expect(verdict('r.example/shop/api:1.4.2', match, { pullPolicy: 'Never' })).toMatchObject({ verdict: 'pull-policy' });
  });

  it('a tag that moved within the window is high; an older move is not', () => {
    const recent = verdict('r.example/shop/api:1.4.2', ledger({ state: state({ digest: D2 }), lastMove: { kind: 'moved', at: days(3), digest: D2, previousDigest: D1 } }), { pullPolicy: 'Always' });
    expect(recent).toMatchObject({ verdict: 'moved', severity: 'high' });
    expect(recent.reason).toBe(`tag 1.4.2 moved on ${days(3).toISOString()} (sha256:111111111111 → sha256:222222222222), within 30d`);
    const old = verdict('r.example/shop/api:1.4.2', ledger({ state: state({ digest: D2 }), lastMove: { kind: 'moved', at: days(31), digest: D2, previousDigest: D1 } }), { pullPolicy: 'Always' });
    expect(old.verdict).toBe('not-protected');
    const repushed = verdict('r.example/shop/api:1.4.2', ledger({ state: state(), lastMove: { kind: 'restored', at: days(1), digest: D1, previousDigest: D2 } }), { pullPolicy: 'Always' });
    expect(repushed.reason).toContain('re-pushed after deletion');
  });

  it('a floating tag or no tag is high, audited or not', () => {
    expect(verdict('r.example/shop/api:latest', ledger({ state: state({ protected: true, protectionReason: 'protected: x' }) }))).toMatchObject({ verdict: 'floating', severity: 'high' });
    const noTag = verdict('ubuntu', null);
    expect(noTag).toMatchObject({ verdict: 'floating', severity: 'high' });
    expect(noTag.notes).toEqual(['not audited: no ledger target covers docker.io/library/ubuntu']);
    // `latest` defaults to Always: no pull-policy concern, only the floating one.
    expect(verdict('r.example/shop/api:latest', ledger({ state: state() })).notes.some((n) => n.includes('imagePullPolicy'))).toBe(false);
  });

  it('a registry the ledger does not cover is info', () => {
    expect(verdict('ghcr.io/x/y:sha-abc1234', null)).toEqual({ verdict: 'not-audited', severity: 'info', reason: 'not audited: no ledger target covers ghcr.io/x/y', notes: [] });
  });

  it('a tag the ledger does not have is judged by the repository settings', () => {
    const ecr: ProtectionSettings = { kind: 'ecr', mode: 'IMMUTABLE_WITH_EXCLUSION', filters: ['dev-*'] };
    const unknown = verdict('r.example/shop/api:9.9.9', ledger({ state: null }, ecr), { pullPolicy: 'Always' });
    expect(unknown).toMatchObject({ verdict: 'unknown-tag', severity: 'medium', reason: 'the ledger has never seen tag 9.9.9 in prod/shop/api' });
    expect(unknown.notes).toEqual(['tag 9.9.9 is protected: repository is IMMUTABLE_WITH_EXCLUSION and tag matches no exclusion ("dev-*")']);
    const deleted = verdict('r.example/shop/api:9.9.9', ledger({ state: state({ present: false }) }, ecr), { pullPolicy: 'Always' });
    expect(deleted.reason).toContain('was deleted');
  });

  it('invalid, unresolved and malformed values', () => {
    expect(verdict('Shop/API', null)).toMatchObject({ verdict: 'invalid', severity: 'high' });
    expect(decideVerdict({ site: { source: 'dockerfile', unresolved: 'uses build arg BASE' }, parsed: null, ledger: null, movedWithin, now })).toMatchObject({ verdict: 'unresolved', severity: 'info' });
    expect(decideVerdict({ site: { source: 'kubernetes', error: 'image is a mapping, not a string' }, parsed: null, ledger: null, movedWithin, now })).toMatchObject({
      verdict: 'invalid',
      reason: 'image is a mapping, not a string',
    });
  });

  it('orders severities for --fail-on', () => {
    expect(severityAtLeast('high', 'medium')).toBe(true);
    expect(severityAtLeast('medium', 'high')).toBe(false);
    expect(severityAtLeast('none', 'info')).toBe(false);
    expect(severityAtLeast('info', 'info')).toBe(true);
  });
});
