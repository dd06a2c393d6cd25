/** What the source readers find in a file: image references with where they are written. */

export type SourceKind = 'kubernetes' | 'compose' | 'dockerfile';

/** How a reference is written, which decides how a pin rewrites it. */
export type ValueStyle = 'plain' | 'single-quoted' | 'double-quoted' | 'dockerfile';

export interface ImageSite {
  source: SourceKind;
  /** 1-based line and column of the reference's first character. */
  line: number;
  column: number;
  /** The reference as the tool reading the file sees it (YAML unquoted). */
  value: string;
  /**
   * Offsets in the file text of the written reference, quotes included, which a pin replaces; null
   * when it cannot be rewritten in place (a block scalar).
   */
  range: [number, number] | null;
  style: ValueStyle | null;
  /** Where it is used, for people: `Deployment/web container "app"`, `service "db"`, `FROM (stage build)`. */
  context: string;
  /** Kubernetes only: `imagePullPolicy` as written, null when omitted. */
  pullPolicy?: string | null;
  /** Set when the reference depends on variables or templates this check does not resolve. */
  unresolved?: string;
  /** Set when the value is not a reference at all (a mapping, a number, empty). */
  error?: string;
}

/** A part of a file that could not be read (a YAML syntax error). */
export interface SourceProblem {
  line: number;
  column: number;
  message: string;
}

export interface ExtractResult {
  sites: ImageSite[];
  problems: SourceProblem[];
}
