/**
 * The user's policy (config `policy:`), compiled into matchers. Pure: no I/O.
 */
import picomatch from 'picomatch';
import type { FindingType, Severity } from '../notifiers/types.js';

export interface PolicyConfig {
  /** Tags that must never move; null: the default, semver-looking tags (`1.2.3`, `v1.2.3`, `1.2.3-rc.1`). */
  protectedTags?: string[];
  /** Tags expected to move: their moves are `info` and never alerted above it. */
  movableTags?: string[];
  requireImmutable?: Array<{ target: string; repository: string; severity?: Severity }>;
  ignore?: Array<{ target: string; repository: string; tag?: string; type?: FindingType; reason: string; expires?: string }>;
  ignoreSignatureTags?: boolean;
  /** Overrides of each finding type's default severity. */
  severity?: Partial<Record<FindingType, Severity>>;
}

export interface Waiver {
  reason: string;
  expires: Date | null;
}

export interface CompiledPolicy {
  isPolicyProtected(tag: string): boolean;
  isMovable(tag: string): boolean;
  /** The severity a `requireImmutable` rule demands for this repository, or null. */
  requiredImmutable(target: string, repository: string): Severity | null;
  waiverFor(p: { target: string; repository: string; tag: string | null; type: FindingType }, now: Date): Waiver | null;
  isSignatureTag(tag: string): boolean;
  severityOf(type: FindingType, fallback: Severity): Severity;
}

/** Semantic-version-looking tags: 1.2.3, v1.2.3, 1.2.3-rc.1, 1.2.3+build. */
const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
/** cosign's `sha256-<hex>.sig|.att|.sbom` tags. */
const SIGNATURE = /^sha256-[0-9a-f]{64}\.(sig|att|sbom)$/;

const tagMatcher = (patterns: string[]) => (patterns.length ? picomatch(patterns, { dot: true }) : () => false);

export function compilePolicy(cfg: PolicyConfig = {}): CompiledPolicy {
  const protectedMatch = cfg.protectedTags ? tagMatcher(cfg.protectedTags) : (tag: string) => SEMVER.test(tag);
  const movableMatch = tagMatcher(cfg.movableTags ?? ['latest']);
  const required = (cfg.requireImmutable ?? []).map((r) => ({
    target: picomatch(r.target, { dot: true }),
    repository: picomatch(r.repository, { dot: true }),
    severity: r.severity ?? ('high' as Severity),
  }));
  const waivers = (cfg.ignore ?? []).map((w) => ({
    target: picomatch(w.target, { dot: true }),
    repository: picomatch(w.repository, { dot: true }),
    tag: w.tag ? picomatch(w.tag, { dot: true }) : null,
    type: w.type ?? null,
    reason: w.reason,
    // An expiry date means "through that day" (UTC).
    expires: w.expires ? endOfDay(w.expires) : null,
  }));
  const ignoreSignatures = cfg.ignoreSignatureTags ?? true;
  return {
    isPolicyProtected: (tag) => protectedMatch(tag),
    isMovable: (tag) => movableMatch(tag),
    requiredImmutable(target, repository) {
      const hits = required.filter((r) => r.target(target) && r.repository(repository));
      if (!hits.length) return null;
      return hits.map((h) => h.severity).reduce((a, b) => (severityRank(a) >= severityRank(b) ? a : b));
    },
    waiverFor(p, now) {
      for (const w of waivers) {
        if (w.expires && now > w.expires) continue;
        if (!w.target(p.target) || !w.repository(p.repository)) continue;
        if (w.type && w.type !== p.type) continue;
        if (w.tag && (p.tag === null || !w.tag(p.tag))) continue;
        return { reason: w.reason, expires: w.expires };
      }
      return null;
    },
    isSignatureTag: (tag) => ignoreSignatures && SIGNATURE.test(tag),
    severityOf: (type, fallback) => cfg.severity?.[type] ?? fallback,
  };
}

function endOfDay(date: string): Date {
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(date) ? `${date}T23:59:59.999Z` : date);
  if (Number.isNaN(d.getTime())) throw new Error(`invalid expiry date "${date}"`);
  return d;
}

const RANK: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };
export function severityRank(s: Severity): number {
  return RANK[s];
}
export function atLeast(s: Severity, min: Severity): boolean {
  return RANK[s] >= RANK[min];
}
