/**
 * "Can this tag be overwritten in place?", answered the same way for every registry.
 *
 * Pure: no I/O. Each collector normalises its vendor settings into one `ProtectionSettings` variant;
 * `protectionFor` evaluates it per tag and says why, so findings and reports can say
 * "tag v1.4.2 of payments/api is NOT protected: repository is MUTABLE_WITH_EXCLUSION and ...".
 */
import { compileEcrFilter } from './ecr-filters.js';
import { evaluateHarborRules, type HarborImmutableRule } from './harbor-rules.js';

export type EcrTagMutability = 'MUTABLE' | 'IMMUTABLE' | 'IMMUTABLE_WITH_EXCLUSION' | 'MUTABLE_WITH_EXCLUSION';

export type ProtectionSettings =
  /** A plain OCI registry reports nothing: treated as mutable. */
  | { kind: 'unknown' }
  /** AWS ECR `imageTagMutability` plus its WILDCARD exclusion filters. */
  | { kind: 'ecr'; mode: EcrTagMutability; filters: string[] }
  /** Google Artifact Registry `dockerConfig.immutableTags` (absent dockerConfig = false). */
  | { kind: 'gar'; immutableTags: boolean; mode?: string }
  /**
   * Harbor immutable-tag rules of the repository's project. Harbor matches the repository selector
   * against the name WITHOUT the project prefix, so that name is kept here.
   */
  | { kind: 'harbor'; project: string; repositoryInProject: string; rules: HarborImmutableRule[] };

export interface ProtectionVerdict {
  /** true: the registry refuses to overwrite this tag in place. */
  protected: boolean;
  reason: string;
}

export function protectionFor(settings: ProtectionSettings, tag: string): ProtectionVerdict {
  return protectionEvaluator(settings)(tag);
}

/**
 * `protectionFor` for one repository's settings, for many tags: the settings are read once, and
 * tags with the same answer share one (frozen) verdict, so a repository of thousands of tags costs
 * a filter match per tag and no new objects.
 */
export function protectionEvaluator(settings: ProtectionSettings): (tag: string) => ProtectionVerdict {
  switch (settings.kind) {
    case 'unknown':
      return always(false, 'not protected: registry reports no tag immutability setting (treated as mutable)');
    case 'gar':
      if (settings.mode === 'VIRTUAL_REPOSITORY') {
        return always(false, 'not protected: virtual repository (a tag resolves to the highest-priority upstream that has it, so a push upstream can change it)');
      }
      return settings.immutableTags
        ? always(true, 'protected: repository has immutable tags enabled')
        : always(false, 'not protected: repository has immutable tags disabled');
    case 'ecr':
      return ecrEvaluator(settings.mode, settings.filters);
    case 'harbor':
      return (tag) => harborVerdict(settings, tag);
  }
}

function verdict(isProtected: boolean, reason: string): ProtectionVerdict {
  return Object.freeze({ protected: isProtected, reason });
}

function always(isProtected: boolean, reason: string): (tag: string) => ProtectionVerdict {
  const v = verdict(isProtected, reason);
  return () => v;
}

function ecrEvaluator(mode: EcrTagMutability, filters: string[]): (tag: string) => ProtectionVerdict {
  switch (mode) {
    case 'IMMUTABLE':
      return always(true, 'protected: repository is IMMUTABLE');
    case 'MUTABLE':
      return always(false, 'not protected: repository is MUTABLE');
    case 'IMMUTABLE_WITH_EXCLUSION':
    case 'MUTABLE_WITH_EXCLUSION': {
      // The exclusions make an IMMUTABLE_WITH_EXCLUSION tag mutable, a MUTABLE_WITH_EXCLUSION tag immutable.
      const excludedProtected = mode === 'MUTABLE_WITH_EXCLUSION';
      const none = verdict(
        !excludedProtected,
        `${excludedProtected ? 'not protected' : 'protected'}: repository is ${mode} and tag matches no exclusion (${quoteList(filters)})`,
      );
      const matched = filters.map((f) => verdict(excludedProtected, `${excludedProtected ? 'protected' : 'not protected'}: repository is ${mode} and tag matches exclusion "${f}"`));
      const matchers = filters.map(compileEcrFilter);
      return (tag) => {
        for (let i = 0; i < matchers.length; i++) if (matchers[i](tag)) return matched[i];
        return none;
      };
    }
  }
}

function harborVerdict(settings: Extract<ProtectionSettings, { kind: 'harbor' }>, tag: string): ProtectionVerdict {
  const enabled = settings.rules.filter((r) => !r.disabled);
  if (enabled.length === 0) return { protected: false, reason: `not protected: project "${settings.project}" has no enabled immutable-tag rule` };
  // Harbor's own order: the first enabled rule that selects the tag wins, and a broken rule reached
  // before it leaves the tag mutable.
  const verdict = evaluateHarborRules(settings.rules, settings.repositoryInProject, tag);
  if (verdict.immutable && verdict.rule) return { protected: true, reason: `protected: Harbor immutable rule ${describeHarborRule(verdict.rule)} of project "${settings.project}"` };
  if (verdict.error) return { protected: false, reason: `not protected: Harbor stops at broken immutable rule #${verdict.error.rule.id} of project "${settings.project}" (${verdict.error.message})` };
  return { protected: false, reason: `not protected: no enabled immutable-tag rule of project "${settings.project}" matches` };
}

function describeHarborRule(r: HarborImmutableRule): string {
  return `#${r.id} (repository ${r.repository.decoration} "${r.repository.pattern}", tag ${r.tag.decoration} "${r.tag.pattern}")`;
}

function quoteList(items: string[]): string {
  return items.length === 0 ? 'no filters' : items.map((s) => `"${s}"`).join(', ');
}

/** How much of a repository its settings protect, independent of its current tags. */
export type ProtectionLevel = 'all' | 'some' | 'none';

export function protectionLevel(settings: ProtectionSettings): ProtectionLevel {
  switch (settings.kind) {
    case 'unknown':
      return 'none';
    case 'gar':
      return settings.immutableTags ? 'all' : 'none';
    case 'ecr':
      if (settings.mode === 'IMMUTABLE') return 'all';
      if (settings.mode === 'MUTABLE') return 'none';
      return 'some';
    case 'harbor': {
      const enabled = settings.rules.filter((r) => !r.disabled);
      return enabled.length === 0 ? 'none' : 'some';
    }
  }
}

/** A short, stable description of the settings, for events and reports. */
export function describeProtection(settings: ProtectionSettings): string {
  switch (settings.kind) {
    case 'unknown':
      return 'unknown (registry reports no tag immutability)';
    case 'gar':
      return `immutableTags=${settings.immutableTags}${settings.mode ? ` mode=${settings.mode}` : ''}`;
    case 'ecr':
      return settings.filters.length ? `${settings.mode} filters=[${settings.filters.join(', ')}]` : settings.mode;
    case 'harbor': {
      const enabled = settings.rules.filter((r) => !r.disabled);
      return enabled.length ? `${enabled.length} enabled Harbor immutable rule(s): ${enabled.map(describeHarborRule).join('; ')}` : 'no enabled Harbor immutable rules';
    }
  }
}
