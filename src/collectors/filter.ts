/**
 * The `repositories` filter every kind of target shares: picomatch globs (`*` does not cross `/`,
 * `**` does). An all-literal list is used as-is so a collector can skip the catalog.
 */
import picomatch from 'picomatch';

export interface RepositoryFilter {
  matches(name: string): boolean;
  /** The names themselves when no pattern has a glob character; otherwise null. */
  literals: string[] | null;
}

export function repositoryFilter(patterns: string[] | undefined): RepositoryFilter {
  if (!patterns || patterns.length === 0) return { matches: () => true, literals: null };
  const isMatch = picomatch(patterns, { dot: true });
  const literal = patterns.every((p) => !picomatch.scan(p).isGlob);
  return { matches: (name) => isMatch(name), literals: literal ? [...new Set(patterns)] : null };
}
