/**
 * A project's immutable-tag rules as the API lists them → the normalised rules `protectionFor`
 * evaluates (src/audit/harbor-rules.ts).
 *
 * Harbor's matcher (src/pkg/immutable/match/rule/match.go) uses only the FIRST selector of
 * `scope_selectors.repository` and of `tag_selectors`, and skips a rule that lacks either, so such a
 * rule can neither protect a tag nor break the evaluation: it is left out here (it stays in the raw
 * evidence). The rules keep the order in which Harbor listed them, which is the order its matcher
 * walks them.
 */
import type { HarborImmutableRule, HarborSelector } from '../../audit/harbor-rules.js';
import type { HarborImmutableRuleDoc, HarborImmutableSelector } from './schema.js';

export interface NormalisedRules {
  rules: HarborImmutableRule[];
  /** Ids of rules Harbor never applies because a selector list is empty. */
  withoutSelectors: number[];
}

export function normaliseRules(docs: readonly HarborImmutableRuleDoc[]): NormalisedRules {
  const rules: HarborImmutableRule[] = [];
  const withoutSelectors: number[] = [];
  for (const doc of docs) {
    const repository = doc.scope_selectors?.repository?.[0];
    const tag = doc.tag_selectors?.[0];
    if (!repository || !tag) {
      withoutSelectors.push(doc.id);
      continue;
    }
    rules.push({ id: doc.id, disabled: doc.disabled ?? false, repository: selector(repository), tag: selector(tag) });
  }
  return { rules, withoutSelectors };
}

function selector(s: HarborImmutableSelector): HarborSelector {
  // go-swagger omits empty strings, so a missing field is Harbor's "". A missing kind is therefore
  // an empty kind, which Harbor's selector index refuses; only `doublestar` is left implicit.
  const kind = s.kind ?? '';
  return { decoration: s.decoration ?? '', pattern: s.pattern ?? '', ...(kind === 'doublestar' ? {} : { kind }) };
}

/** The rules as read, kept as evidence: only the fields that decide protection. */
export function rawRules(docs: readonly HarborImmutableRuleDoc[]): unknown[] {
  return docs.map((d) => ({
    id: d.id,
    disabled: d.disabled ?? false,
    ...(d.priority !== undefined ? { priority: d.priority } : {}),
    ...(d.action !== undefined ? { action: d.action } : {}),
    tag_selectors: d.tag_selectors ?? [],
    scope_selectors: d.scope_selectors ?? {},
  }));
}
