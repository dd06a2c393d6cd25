/**
 * Harbor immutable-tag rules, evaluated as Harbor evaluates them.
 */
export interface HarborSelector {
  /** Harbor decorations: repository `repoMatches` | `repoExcludes`, tag `matches` | `excludes`. */
  decoration: string;
  /** doublestar pattern; empty matches everything. */
  pattern: string;
}

export interface HarborImmutableRule {
  id: number;
  disabled: boolean;
  /** The first `scope_selectors.repository` selector (Harbor uses only the first). */
  repository: HarborSelector;
  /** The first `tag_selectors` selector (Harbor uses only the first). */
  tag: HarborSelector;
}

export function harborRuleProtects(_rule: HarborImmutableRule, _repositoryInProject: string, _tag: string): boolean {
  throw new Error('Harbor rule evaluation is not implemented yet');
}
