/**
 * Findings: what a repository's new state and changes mean, under the user's policy. Pure: no I/O.
 *
 * Two lifecycles. Event findings (`tag.moved`, `tag.deleted`, `tag.restored`,
 * `repository.protection_changed`) open once per change and stay open until acknowledged. Condition
 * findings (`repository.mutable`, `tag.unprotected`, `harbor.verdict_mismatch`,
 * `target.scan_failed`) stay open while the condition holds and resolve when it is gone.
 */
import type { FindingType, Severity } from '../notifiers/types.js';
import { describeProtection, protectionEvaluator, protectionLevel, type ProtectionSettings } from './protection.js';
import { atLeast, type CompiledPolicy } from './policy.js';
import { remediationFor, type RemediationTarget } from './remediation.js';

export interface FindingCandidate {
  /** Stable identity: one open finding per fingerprint. */
  fingerprint: string;
  type: FindingType;
  lifecycle: 'event' | 'condition';
  severity: Severity;
  repository: string | null;
  tag: string | null;
  digest: string | null;
  previousDigest: string | null;
  protection: { protected: boolean; reason: string } | null;
  summary: string;
  remediation: string;
  details: Record<string, unknown>;
  /** Set when a waiver covers it: stored, never alerted. */
  waiver: { reason: string; expires: Date | null } | null;
}

export interface TagState {
  tag: string;
  digest: string;
  protected: boolean;
  reason: string;
  extra?: Record<string, unknown> | null;
}

export interface ChangeEvent {
  /** Row id of the stored tag event: part of the fingerprint, so each change is one finding. */
  id: number;
  kind: 'created' | 'moved' | 'deleted' | 'restored';
  tag: string;
  digest: string | null;
  previousDigest: string | null;
  protected: boolean;
  protectionReason: string;
}

export interface RepositoryFindingInput {
  target: RemediationTarget;
  repository: string;
  settings: ProtectionSettings;
  previousSettings: ProtectionSettings | null;
  /** Every present tag after this observation. */
  tags: TagState[];
  events: ChangeEvent[];
  /** Id of the stored settings_changed event, when the settings changed. */
  settingsEventId: number | null;
  policy: CompiledPolicy;
  movableTags: string[];
  now: Date;
}

const MAX_LISTED = 50;

export function repositoryFindings(input: RepositoryFindingInput): { events: FindingCandidate[]; conditions: FindingCandidate[] } {
  const { target, repository, policy, now } = input;
  const relevant = (tag: string) => !policy.isSignatureTag(tag);
  const waive = (type: FindingType, tag: string | null) => policy.waiverFor({ target: target.id, repository, tag, type }, now);
  const remediation = remediationFor(target, repository, input.settings, input.movableTags);
  const ref = (tag: string) => `${repository}:${tag}`;
  const events: FindingCandidate[] = [];

  for (const e of input.events) {
    if (e.kind === 'created' || !relevant(e.tag)) continue;
    const type: FindingType = e.kind === 'moved' ? 'tag.moved' : e.kind === 'deleted' ? 'tag.deleted' : 'tag.restored';
    const severity = changeSeverity(type, e, policy);
    const protectionNote = e.protected ? 'The registry protects this tag, yet its digest changed (deleted and re-pushed?).' : e.protectionReason;
    const summary =
      type === 'tag.moved'
        ? `${ref(e.tag)} moved from ${e.previousDigest} to ${e.digest}`
        : type === 'tag.deleted'
          ? `${ref(e.tag)} was deleted (it pointed to ${e.previousDigest})`
          : e.digest === e.previousDigest
            ? `${ref(e.tag)} reappeared on the digest it had before it was deleted (${e.digest})`
            : `${ref(e.tag)} reappeared on another digest: ${e.digest} (was ${e.previousDigest} before it was deleted)`;
    events.push({
      fingerprint: `${type}:${target.id}:${repository}:${e.tag}:${e.id}`,
      type,
      lifecycle: 'event',
      severity,
      repository,
      tag: e.tag,
      digest: e.digest,
      previousDigest: e.previousDigest,
      protection: { protected: e.protected, reason: e.protectionReason },
      summary,
      remediation: e.protected || policy.isMovable(e.tag) ? `Deploy by digest (${repository}@${e.digest ?? e.previousDigest}) and find out who re-pushed the tag.` : remediation,
      details: { tagEventId: e.id, note: protectionNote },
      waiver: waive(type, e.tag),
    });
  }

  if (input.previousSettings && input.settingsEventId !== null) {
    const before = protectionLevel(input.previousSettings);
    const after = protectionLevel(input.settings);
    // Weakened: a lower level, or more of the current tags left unprotected than under the old settings.
    const verdictBefore = protectionEvaluator(input.previousSettings);
    const unprotectedBefore = input.tags.filter((t) => !verdictBefore(t.tag).protected).length;
    const unprotectedAfter = input.tags.filter((t) => !t.protected).length;
    const weakened = rank(after) < rank(before) || unprotectedAfter > unprotectedBefore;
    events.push({
      fingerprint: `repository.protection_changed:${target.id}:${repository}:${input.settingsEventId}`,
      type: 'repository.protection_changed',
      lifecycle: 'event',
      severity: policy.severityOf('repository.protection_changed', weakened ? 'high' : 'low'),
      repository,
      tag: null,
      digest: null,
      previousDigest: null,
      protection: null,
      summary: `${repository}: tag protection ${weakened ? 'weakened' : 'changed'} from ${describeProtection(input.previousSettings)} to ${describeProtection(input.settings)}`,
      remediation: weakened ? remediation : 'No action needed if the change was intended.',
      details: { before: input.previousSettings, after: input.settings, weakened },
      waiver: waive('repository.protection_changed', null),
    });
  }

  const conditions: FindingCandidate[] = [];
  const tags = input.tags.filter((t) => relevant(t.tag));
  const unprotected = tags.filter((t) => !t.protected);
  const level = protectionLevel(input.settings);
  if (level !== 'all' && (unprotected.length > 0 || tags.length === 0 || level === 'none')) {
    const required = policy.requiredImmutable(target.id, repository);
    const base = input.settings.kind === 'unknown' ? 'low' : 'medium';
    conditions.push({
      fingerprint: `repository.mutable:${target.id}:${repository}`,
      type: 'repository.mutable',
      lifecycle: 'condition',
      severity: required ?? policy.severityOf('repository.mutable', base),
      repository,
      tag: null,
      digest: null,
      previousDigest: null,
      protection: null,
      summary: `${repository} lets ${level === 'none' ? 'every tag' : 'some tags'} be overwritten (${describeProtection(input.settings)}): ${unprotected.length} of ${tags.length} current tags unprotected${required ? '; policy requires immutability' : ''}`,
      remediation,
      details: { mode: describeProtection(input.settings), level, unprotectedTags: unprotected.length, tags: tags.length, sample: unprotected.slice(0, MAX_LISTED).map((t) => t.tag), requiredByPolicy: Boolean(required) },
      waiver: waive('repository.mutable', null),
    });
  }

  const shouldBeProtected = unprotected.filter((t) => policy.isPolicyProtected(t.tag));
  if (shouldBeProtected.length) {
    const names = shouldBeProtected.map((t) => t.tag).sort();
    conditions.push({
      fingerprint: `tag.unprotected:${target.id}:${repository}`,
      type: 'tag.unprotected',
      lifecycle: 'condition',
      severity: policy.severityOf('tag.unprotected', 'medium'),
      repository,
      tag: null,
      digest: null,
      previousDigest: null,
      protection: null,
      summary: `${repository}: ${names.length} tag(s) that policy says must never move are not protected by the registry: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}`,
      remediation,
      details: { tags: names.slice(0, 1000), count: names.length, reasons: shouldBeProtected.slice(0, MAX_LISTED).map((t) => ({ tag: t.tag, reason: t.reason })) },
      waiver: waive('tag.unprotected', null),
    });
  }

  if (input.settings.kind === 'harbor') {
    const mismatched = tags.filter((t) => typeof t.extra?.immutable === 'boolean' && t.extra.immutable !== t.protected);
    if (mismatched.length) {
      conditions.push({
        fingerprint: `harbor.verdict_mismatch:${target.id}:${repository}`,
        type: 'harbor.verdict_mismatch',
        lifecycle: 'condition',
        severity: policy.severityOf('harbor.verdict_mismatch', 'medium'),
        repository,
        tag: null,
        digest: null,
        previousDigest: null,
        protection: null,
        summary: `${repository}: Harbor's own immutable flag disagrees with tagledger's reading of the rules for ${mismatched.length} tag(s): ${mismatched.slice(0, 10).map((t) => `${t.tag} (Harbor: ${t.extra!.immutable ? 'immutable' : 'mutable'})`).join(', ')}`,
        remediation: 'Check the project\'s immutable-tag rules in Harbor; a rule tagledger misreads or a Harbor defect can both cause this. Report it with the rules attached.',
        details: { tags: mismatched.slice(0, MAX_LISTED).map((t) => ({ tag: t.tag, harbor: t.extra!.immutable, tagledger: t.protected, reason: t.reason })) },
        waiver: waive('harbor.verdict_mismatch', null),
      });
    }
  }
  return { events, conditions };
}

function changeSeverity(type: FindingType, e: ChangeEvent, policy: CompiledPolicy): Severity {
  if (policy.isMovable(e.tag)) return 'info';
  if (type === 'tag.moved' && e.protected) return 'critical';
  if (policy.isPolicyProtected(e.tag)) return type === 'tag.restored' && e.digest === e.previousDigest ? policy.severityOf(type, 'low') : 'high';
  const fallback: Severity = type === 'tag.moved' ? 'medium' : type === 'tag.deleted' ? 'low' : e.digest === e.previousDigest ? 'info' : 'medium';
  return policy.severityOf(type, fallback);
}

function rank(level: 'all' | 'some' | 'none'): number {
  return level === 'all' ? 2 : level === 'some' ? 1 : 0;
}

/** `target.scan_failed`: a target failed `threshold` scans in a row. */
export function scanFailureFinding(p: { targetId: string; consecutiveFailures: number; threshold: number; lastError: string; policy: CompiledPolicy }): FindingCandidate | null {
  if (p.consecutiveFailures < p.threshold) return null;
  return {
    fingerprint: `target.scan_failed:${p.targetId}`,
    type: 'target.scan_failed',
    lifecycle: 'condition',
    severity: p.policy.severityOf('target.scan_failed', 'high'),
    repository: null,
    tag: null,
    digest: null,
    previousDigest: null,
    protection: null,
    summary: `target ${p.targetId} failed ${p.consecutiveFailures} scans in a row; its registry is not being audited. Last error: ${p.lastError}`,
    remediation: 'Check the registry credentials, network access and the scan errors (tagledger scan --target ' + p.targetId + ').',
    details: { consecutiveFailures: p.consecutiveFailures, lastError: p.lastError },
    waiver: null,
  };
}

export { atLeast };
