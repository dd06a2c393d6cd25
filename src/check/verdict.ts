/**
 * The verdict on one image reference. Pure: everything it needs is passed in.
 *
 * | verdict         | severity | when |
 * | --------------- | -------- | ---- |
 * | `pinned`        | none     | the reference carries a digest (the note says whether the tag still points at it) |
 * | `protected`     | none     | the registry refuses to overwrite the tag, per the ledger |
 * | `not-protected` | medium   | the registry lets the tag be overwritten |
 * | `unknown-tag`   | medium   | the ledger covers the repository but has no such tag (never seen, or deleted) |
 * | `moved`         | high     | the tag moved within `--moved-within` |
 * | `floating`      | high     | a floating tag (`latest`, `stable`, `v1`, ...) or no tag at all |
 * | `pull-policy`   | high     | a mutable tag pulled with `IfNotPresent`/`Never`, written or defaulted |
 * | `invalid`       | high     | not a valid image reference |
 * | `unreadable`    | medium   | a YAML document that cannot be parsed |
 * | `not-audited`   | info     | the ledger covers no such repository |
 * | `unresolved`    | info     | depends on build args, variables or templates |
 *
 * Several concerns can apply; the verdict is the most severe (ties broken in the order above, moved
 * first among the highs), and the others become notes.
 */
import type { Severity } from '../notifiers/types.js';
import { protectionFor } from '../audit/protection.js';
import type { ParsedReference } from './reference.js';
import type { LedgerMatch } from './ledger.js';
import { classifyTag } from './strategy.js';
import type { ImageSite } from './sources/types.js';

export type CheckSeverity = 'none' | Severity;

/** Least to most severe. */
export const checkSeverities: readonly CheckSeverity[] = ['none', 'info', 'low', 'medium', 'high', 'critical'];

export type VerdictCode =
  | 'pinned'
  | 'protected'
  | 'not-protected'
  | 'unknown-tag'
  | 'moved'
  | 'floating'
  | 'pull-policy'
  | 'invalid'
  | 'unreadable'
  | 'not-audited'
  | 'unresolved';

/** Tie-break among concerns of equal severity: earlier wins. */
const PRIORITY: VerdictCode[] = ['invalid', 'moved', 'floating', 'pull-policy', 'unreadable', 'unknown-tag', 'not-protected', 'protected', 'pinned', 'not-audited', 'unresolved'];

export const VERDICT_SEVERITY: Record<VerdictCode, CheckSeverity> = {
  pinned: 'none',
  protected: 'none',
  'not-protected': 'medium',
  'unknown-tag': 'medium',
  moved: 'high',
  floating: 'high',
  'pull-policy': 'high',
  invalid: 'high',
  unreadable: 'medium',
  'not-audited': 'info',
  unresolved: 'info',
};

export interface Verdict {
  verdict: VerdictCode;
  severity: CheckSeverity;
  reason: string;
  /** The other concerns, most severe first. */
  notes: string[];
}

export interface VerdictInput {
  site: Pick<ImageSite, 'source' | 'pullPolicy' | 'unresolved' | 'error'>;
  /** null when the site is unresolved or not a string. */
  parsed: ParsedReference | null;
  /** null: no ledger repository matches (not audited). */
  ledger: LedgerMatch | null;
  movedWithin: { ms: number; label: string };
  now: Date;
}

export function severityAtLeast(severity: CheckSeverity, threshold: CheckSeverity): boolean {
  return checkSeverities.indexOf(severity) >= checkSeverities.indexOf(threshold);
}

export function decideVerdict(input: VerdictInput): Verdict {
  const { site, parsed, ledger } = input;
  if (site.error) return single('invalid', site.error);
  if (site.unresolved) return single('unresolved', `not checked: ${site.unresolved}`);
  if (!parsed) return single('invalid', 'no image reference');
  if (!parsed.ok) return single('invalid', `not a valid image reference: ${parsed.error}`);
  const ref = parsed.reference;

  if (ref.digest) return single('pinned', pinnedReason(ref.digest, ref.tag, ledger));

  const concerns: Array<{ code: VerdictCode; text: string }> = [];
  const strategy = classifyTag(ref.tag);
  if (strategy.strategy === 'floating') {
    concerns.push({ code: 'floating', text: ref.tag === null ? 'no tag: Docker pulls "latest", which moves with every push' : `floating tag "${ref.tag}" (${strategy.detail}): it moves by design` });
  }

  if (!ledger) {
    concerns.push({ code: 'not-audited', text: `not audited: no ledger target covers ${ref.registry}/${ref.path}` });
    return combine(concerns);
  }

  const repo = ledger.repository;
  const tagName = ref.tag ?? 'latest';
  const tag = ledger.tag;
  let isProtected: boolean;
  let protectionReason: string;
  if (tag?.state?.present) {
    isProtected = tag.state.protected;
    protectionReason = tag.state.protectionReason;
  } else {
    // The ledger has no current tag; the repository's settings still say whether one would be protected.
    const p = protectionFor(repo.protection, tagName);
    isProtected = p.protected;
    protectionReason = p.reason;
    const where = `${repo.targetId}/${repo.name}`;
    concerns.push({
      code: 'unknown-tag',
      text: repo.goneAt
        ? `repository ${where} is gone from the registry (per the ledger)`
        : tag?.state
          ? `tag ${tagName} was deleted from ${where} (last digest ${short(tag.state.digest)})`
          : `the ledger has never seen tag ${tagName} in ${where}`,
    });
  }

  const move = tag?.lastMove;
  if (move && input.now.getTime() - move.at.getTime() <= input.movedWithin.ms) {
    const what = move.kind === 'restored' ? 're-pushed after deletion' : 'moved';
    concerns.push({ code: 'moved', text: `tag ${tagName} ${what} on ${move.at.toISOString()} (${short(move.previousDigest)} → ${short(move.digest)}), within ${input.movedWithin.label}` });
  }

  if (isProtected) {
    concerns.push({ code: 'protected', text: `tag ${tagName} is ${protectionReason}` });
  } else {
    concerns.push({ code: 'not-protected', text: `tag ${tagName} is ${protectionReason}` });
    if (site.source === 'kubernetes') {
      // https://kubernetes.io/docs/concepts/containers/images/#imagepullpolicy-defaulting
      const policy = site.pullPolicy ?? (ref.tag === null || ref.tag === 'latest' ? 'Always' : 'IfNotPresent');
      if (policy === 'IfNotPresent' || policy === 'Never') {
        const how = site.pullPolicy ? `imagePullPolicy: ${policy}` : `the default imagePullPolicy (${policy} for a tag other than latest)`;
        concerns.push({ code: 'pull-policy', text: `mutable tag ${tagName} with ${how}: nodes keep running a cached image after the tag moves, so replicas can differ` });
      }
    }
  }
  return combine(concerns);
}

function pinnedReason(digest: string, tagName: string | null, ledger: LedgerMatch | null): string {
  const base = `pinned by digest ${short(digest)}`;
  if (!ledger) return `${base}; registry not audited`;
  const state = ledger.tag?.state;
  if (tagName !== null && state) {
    if (!state.present) return `${base}; tag ${tagName} has been deleted in the ledger`;
    if (state.digest === digest) return `${base}; tag ${tagName} still points to it in the ledger`;
    return `${base}; tag ${tagName} now points to ${short(state.digest)} in the ledger (the pin still holds, the tag moved on)`;
  }
  if (tagName !== null) return `${base}; the ledger has never seen tag ${tagName}`;
  const d = ledger.digest;
  if (d?.tags.length) return `${base}; in the ledger tag${d.tags.length > 1 ? 's' : ''} ${d.tags.join(', ')} point${d.tags.length > 1 ? '' : 's'} to it`;
  if (d?.seen) return `${base}; no current tag points to it in the ledger`;
  return `${base}; the ledger has never seen this digest in ${ledger.repository.name}`;
}

function single(code: VerdictCode, reason: string): Verdict {
  return { verdict: code, severity: VERDICT_SEVERITY[code], reason, notes: [] };
}

function combine(concerns: Array<{ code: VerdictCode; text: string }>): Verdict {
  const rank = (c: { code: VerdictCode }) => checkSeverities.indexOf(VERDICT_SEVERITY[c.code]) * 100 - PRIORITY.indexOf(c.code);
  const sorted = [...concerns].sort((a, b) => rank(b) - rank(a));
  const [first, ...rest] = sorted;
  return { verdict: first.code, severity: VERDICT_SEVERITY[first.code], reason: first.text, notes: rest.map((c) => c.text) };
}

function short(digest: string | null): string {
  if (!digest) return '-';
  const [algo, hex] = digest.split(':');
  return hex ? `${algo}:${hex.slice(0, 12)}` : digest;
}
