import { describe, expect, it } from 'vitest';
import { repositoryFindings, scanFailureFinding, type ChangeEvent, type TagState } from './findings.js';
import { compilePolicy, type PolicyConfig } from './policy.js';
import { protectionFor, type ProtectionSettings } from './protection.js';

const d = (n: number) => `sha256:${String(n).padStart(64, '0')}`;
const now = new Date('2026-06-01T00:00:00Z');
const ecr = (mode: 'MUTABLE' | 'IMMUTABLE' | 'IMMUTABLE_WITH_EXCLUSION' | 'MUTABLE_WITH_EXCLUSION', filters: string[] = []): ProtectionSettings => ({ kind: 'ecr', mode, filters });

function tagsUnder(settings: ProtectionSettings, tags: Record<string, number>): TagState[] {
  return Object.entries(tags).map(([tag, n]) => {
    const v = protectionFor(settings, tag);
    return { tag, digest: d(n), protected: v.protected, reason: v.reason };
  });
}

function moved(tag: string, settings: ProtectionSettings, id = 1): ChangeEvent {
  const v = protectionFor(settings, tag);
  return { id, kind: 'moved', tag, digest: d(2), previousDigest: d(1), protected: v.protected, protectionReason: v.reason };
}

function run(settings: ProtectionSettings, opts: { tags?: Record<string, number>; events?: ChangeEvent[]; policy?: PolicyConfig; previous?: ProtectionSettings; target?: string; repository?: string; at?: Date } = {}) {
  return repositoryFindings({
    target: { id: opts.target ?? 'prod', kind: settings.kind === 'unknown' ? 'oci' : settings.kind, region: 'us-east-1' },
    repository: opts.repository ?? 'payments/api',
    settings,
    previousSettings: opts.previous ?? null,
    tags: tagsUnder(settings, opts.tags ?? { latest: 1, '1.4.2': 1 }),
    events: opts.events ?? [],
    settingsEventId: opts.previous ? 7 : null,
    policy: compilePolicy(opts.policy),
    movableTags: opts.policy?.movableTags ?? ['latest'],
    now: opts.at ?? now,
  });
}

describe('tag.moved severity', () => {
  it.each([
    ['a tag the registry protects', ecr('IMMUTABLE'), '1.4.2', {}, 'critical'],
    ['a movable tag stays info even where the registry protects it', ecr('IMMUTABLE'), 'latest', {}, 'info'],
    ['a semver tag (default protectedTags)', ecr('MUTABLE'), '1.4.2', {}, 'high'],
    ['a v-prefixed semver tag', ecr('MUTABLE'), 'v2.0.0-rc.1', {}, 'high'],
    ['latest (default movable)', ecr('MUTABLE'), 'latest', {}, 'info'],
    ['an ordinary tag', ecr('MUTABLE'), 'nightly', {}, 'medium'],
    ['a policy-protected glob', ecr('MUTABLE'), 'release-7', { protectedTags: ['release-*'] }, 'high'],
    ['a configured movable tag', ecr('MUTABLE'), 'dev-42', { movableTags: ['dev-*'] }, 'info'],
    ['a severity override of the default', ecr('MUTABLE'), 'nightly', { severity: { 'tag.moved': 'low' } }, 'low'],
  ] as const)('%s', (_name, settings, tag, policy, expected) => {
    const { events } = run(settings, { events: [moved(tag, settings)], policy: policy as PolicyConfig, tags: { [tag]: 2 } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'tag.moved', severity: expected, tag, digest: d(2), previousDigest: d(1) });
  });

  it('gives each change its own fingerprint', () => {
    const s = ecr('MUTABLE');
    const a = run(s, { events: [moved('x', s, 1)] }).events[0];
    const b = run(s, { events: [moved('x', s, 2)] }).events[0];
    expect(a.fingerprint).not.toBe(b.fingerprint);
  });

  it('ignores cosign signature tags when asked (default)', () => {
    const s = ecr('MUTABLE');
    const sig = `sha256-${'a'.repeat(64)}.sig`;
    expect(run(s, { events: [moved(sig, s)] }).events).toHaveLength(0);
    expect(run(s, { events: [moved(sig, s)], policy: { ignoreSignatureTags: false } }).events).toHaveLength(1);
  });
});

describe('conditions', () => {
  it('raises repository.mutable with the ECR fix, keeping movable tags excluded', () => {
    const { conditions } = run(ecr('MUTABLE'));
    const f = conditions.find((c) => c.type === 'repository.mutable')!;
    expect(f.severity).toBe('medium');
    expect(f.remediation).toBe(
      'aws ecr put-image-tag-mutability --repository-name payments/api --region us-east-1 --image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=latest',
    );
    expect(f.summary).toContain('2 of 2 current tags unprotected');
  });

  it('raises nothing for an immutable repository', () => {
    expect(run(ecr('IMMUTABLE')).conditions).toEqual([]);
  });

  it('uses the requireImmutable severity', () => {
    const { conditions } = run(ecr('MUTABLE'), { policy: { requireImmutable: [{ target: '*', repository: 'payments/**', severity: 'critical' }] } });
    expect(conditions.find((c) => c.type === 'repository.mutable')!.severity).toBe('critical');
  });

  it('lists the policy-protected tags the registry leaves unprotected, in one finding', () => {
    const s = ecr('IMMUTABLE_WITH_EXCLUSION', ['latest', '1.*']);
    const { conditions } = run(s, { tags: { latest: 1, '1.0.0': 1, '1.0.1': 2, '2.0.0': 3 } });
    const f = conditions.find((c) => c.type === 'tag.unprotected')!;
    expect(f.details.tags).toEqual(['1.0.0', '1.0.1']);
    expect(conditions.filter((c) => c.type === 'tag.unprotected')).toHaveLength(1);
  });

  it('treats a plain OCI registry as mutable, at low severity', () => {
    const { conditions } = run({ kind: 'unknown' });
    const f = conditions.find((c) => c.type === 'repository.mutable')!;
    expect(f.severity).toBe('low');
    expect(f.remediation).toContain('deploy by digest');
  });

  it('applies waivers until they expire (through the expiry day)', () => {
    const policy: PolicyConfig = { ignore: [{ target: 'prod', repository: 'payments/**', reason: 'migration', expires: '2026-06-30' }] };
    const during = run(ecr('MUTABLE'), { policy, at: new Date('2026-06-30T23:00:00Z') });
    expect(during.conditions.every((c) => c.waiver?.reason === 'migration')).toBe(true);
    const after = run(ecr('MUTABLE'), { policy, at: new Date('2026-07-01T00:00:01Z') });
    expect(after.conditions.every((c) => c.waiver === null)).toBe(true);
    const other = run(ecr('MUTABLE'), { policy, repository: 'search/api', at: new Date('2026-06-01') });
    expect(other.conditions.every((c) => c.waiver === null)).toBe(true);
  });

  it('reports a Harbor verdict mismatch', () => {
    const settings: ProtectionSettings = { kind: 'harbor', project: 'p', repositoryInProject: 'api', rules: [] };
    const r = repositoryFindings({
      target: { id: 'h', kind: 'harbor' },
      repository: 'p/api',
      settings,
      previousSettings: null,
      tags: [{ tag: 'v1', digest: d(1), protected: false, reason: 'x', extra: { immutable: true } }, { tag: 'v2', digest: d(1), protected: false, reason: 'x', extra: { immutable: false } }],
      events: [],
      settingsEventId: null,
      policy: compilePolicy(),
      movableTags: [],
      now,
    });
    const f = r.conditions.find((c) => c.type === 'harbor.verdict_mismatch')!;
    expect(f.summary).toContain('v1 (Harbor: immutable)');
    expect(f.summary).not.toContain('v2');
  });
});

describe('repository.protection_changed', () => {
  it('is high when protection was weakened and low when strengthened', () => {
    const weakened = run(ecr('IMMUTABLE_WITH_EXCLUSION', ['latest']), { previous: ecr('IMMUTABLE') }).events[0];
    expect(weakened).toMatchObject({ type: 'repository.protection_changed', severity: 'high' });
    expect(weakened.summary).toContain('weakened');
    const wider = run(ecr('IMMUTABLE_WITH_EXCLUSION', ['latest', '1.*']), { previous: ecr('IMMUTABLE_WITH_EXCLUSION', ['latest']) }).events[0];
    expect(wider.severity).toBe('high');
    const strengthened = run(ecr('IMMUTABLE'), { previous: ecr('MUTABLE') }).events[0];
    expect(strengthened.severity).toBe('low');
  });
});

describe('target.scan_failed', () => {
  it('opens at the threshold', () => {
    const policy = compilePolicy();
    expect(scanFailureFinding({ targetId: 't', consecutiveFailures: 2, threshold: 3, lastError: 'x', policy })).toBeNull();
    expect(scanFailureFinding({ targetId: 't', consecutiveFailures: 3, threshold: 3, lastError: 'catalog: 503', policy })).toMatchObject({ severity: 'high', fingerprint: 'target.scan_failed:t' });
  });
});
