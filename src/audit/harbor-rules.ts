/**
 * Harbor immutable-tag rules, evaluated as Harbor evaluates them.
 *
 * Harbor decides "is this tag immutable?" in `src/pkg/immutable/match/rule/match.go` (goharbor/harbor):
 * for one candidate `{repository: <name without the project>, tags: [tag]}` it walks the project's
 * rules in the order it lists them and
 *   - skips a disabled rule, a rule without `scope_selectors.repository`, and a rule without
 *     `tag_selectors`;
 *   - uses ONLY the first repository selector and the first tag selector of a rule;
 *   - builds each selector through the selector index (`src/lib/selector/selectors/index/index.go`):
 *     only kind `doublestar` is registered, with decorations `matches`, `excludes`, `repoMatches`,
 *     `repoExcludes`, `nsMatches`, `nsExcludes`; anything else is an error;
 *   - selects with `src/lib/selector/selectors/doublestar/selector.go`, where an EMPTY pattern
 *     matches everything and any other pattern goes to `doublestar.Match` of
 *     github.com/bmatcuk/doublestar v1.3.4;
 *   - answers true at the first rule whose repository AND tag selector both select the candidate.
 * Any error on the way (unknown kind or decoration, malformed pattern) aborts the whole evaluation,
 * and Harbor's callers (`populateImmutableStatus` in `src/controller/tag/controller.go`) then leave
 * the tag MUTABLE. So the answer depends on rule order only when a rule is broken.
 *
 * Selector semantics for a single tag (`selector.go`):
 *   matches       the tag matches the pattern
 *   excludes      the tag does not match the pattern (so `excludes ""` selects nothing)
 *   repoMatches   the repository name matches the pattern
 *   repoExcludes  the repository name does not match the pattern (so `repoExcludes ""` selects nothing)
 *   nsMatches / nsExcludes  compare the candidate's namespace, which the immutability check never sets:
 *                 they select nothing.
 * The decoration, not the selector's position, says what is compared: a tag selector decorated
 * `repoMatches` compares the repository, exactly as Harbor does.
 */

export interface HarborSelector {
  /** Harbor decorations: repository `repoMatches` | `repoExcludes`, tag `matches` | `excludes`. */
  decoration: string;
  /** doublestar pattern; empty matches everything. */
  pattern: string;
  /** Selector kind; Harbor registers only `doublestar`. Absent means `doublestar`. */
  kind?: string;
}

export interface HarborImmutableRule {
  id: number;
  disabled: boolean;
  /** The first `scope_selectors.repository` selector (Harbor uses only the first). */
  repository: HarborSelector;
  /** The first `tag_selectors` selector (Harbor uses only the first). */
  tag: HarborSelector;
}

/** Harbor's answer for one tag: the first rule that makes it immutable, or why none does. */
export interface HarborRulesVerdict {
  /** true: Harbor refuses to overwrite or delete the tag. */
  immutable: boolean;
  /** The rule that made it immutable. */
  rule: HarborImmutableRule | null;
  /** Set when a broken rule aborted Harbor's evaluation (the tag is then mutable). */
  error: { rule: HarborImmutableRule; message: string } | null;
}

/** Thrown where doublestar v1.3.4 returns `ErrBadPattern` or the selector index refuses a selector. */
export class HarborRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HarborRuleError';
  }
}

/**
 * Does this one rule make `tag` of `repositoryInProject` immutable? A disabled rule or a broken one
 * (see {@link evaluateHarborRules}) protects nothing.
 */
export function harborRuleProtects(rule: HarborImmutableRule, repositoryInProject: string, tag: string): boolean {
  if (rule.disabled) return false;
  try {
    return ruleSelects(rule, repositoryInProject, tag);
  } catch (err) {
    if (err instanceof HarborRuleError) return false;
    throw err;
  }
}

/**
 * Harbor's exact answer for a project's rules, in the order Harbor lists them: the first enabled
 * rule that selects the tag wins; a broken rule reached before that aborts with "mutable".
 */
export function evaluateHarborRules(rules: readonly HarborImmutableRule[], repositoryInProject: string, tag: string): HarborRulesVerdict {
  for (const rule of rules) {
    if (rule.disabled) continue;
    try {
      if (ruleSelects(rule, repositoryInProject, tag)) return { immutable: true, rule, error: null };
    } catch (err) {
      if (!(err instanceof HarborRuleError)) throw err;
      return { immutable: false, rule: null, error: { rule, message: err.message } };
    }
  }
  return { immutable: false, rule: null, error: null };
}

function ruleSelects(rule: HarborImmutableRule, repositoryInProject: string, tag: string): boolean {
  if (!selects(rule.repository, repositoryInProject, tag)) return false;
  return selects(rule.tag, repositoryInProject, tag);
}

const decorations = new Set(['matches', 'excludes', 'repoMatches', 'repoExcludes', 'nsMatches', 'nsExcludes']);

/** One selector applied to the candidate `{repository, tags: [tag], namespace: ""}`. */
function selects(selector: HarborSelector, repository: string, tag: string): boolean {
  const kind = selector.kind ?? 'doublestar';
  if (kind === '' || selector.decoration === '') throw new HarborRuleError('empty selector kind or decoration');
  if (kind !== 'doublestar') throw new HarborRuleError(`selector ${kind} is not registered`);
  if (!decorations.has(selector.decoration)) throw new HarborRuleError(`decoration ${selector.decoration} of selector ${kind} is not supported`);
  switch (selector.decoration) {
    case 'matches':
      return harborPatternMatches(selector.pattern, tag);
    case 'excludes':
      return !harborPatternMatches(selector.pattern, tag);
    // An empty name is never selected (`len(value) > 0` in selector.go); repository names never are.
    case 'repoMatches':
      return repository.length > 0 && harborPatternMatches(selector.pattern, repository);
    case 'repoExcludes':
      return repository.length > 0 && !harborPatternMatches(selector.pattern, repository);
    default:
      return false; // nsMatches / nsExcludes: the namespace is empty in the immutability check
  }
}

/** Harbor's `match()`: an empty pattern matches everything, otherwise doublestar v1.3.4. */
export function harborPatternMatches(pattern: string, name: string): boolean {
  if (pattern.length === 0) return true;
  return doublestarMatch(pattern, name);
}

// ---------------------------------------------------------------------------------------------
// doublestar v1.3.4 `Match(pattern, name)` with separator '/'.
//
// A re-implementation of the semantics of github.com/bmatcuk/doublestar v1.3.4 (doublestar.go),
// quirks included, because Harbor's verdict is that library's verdict:
//   - `*` matches any run of characters except '/', `?` exactly one character except '/';
//   - `**` crosses '/' only when it is a whole path segment (`a/**/b`); inside a segment (`v**`)
//     it is just `*`; a trailing `/**` needs at least one more segment (`a/**` does not match `a`);
//   - `[...]` classes with ranges (`[a-z]`), negated ONLY by `^` (`[!a]` is the class of `!` and `a`),
//     `\` escapes inside; `-` first or alone is a malformed pattern, as is `[]`;
//   - `{a,b}` alternatives, nested, may contain '/', and may be empty (`v{,-rc}`);
//   - `\` escapes the next character; a trailing `\` is a malformed pattern;
//   - a malformed part is only noticed when matching reaches it (`abc[` vs `x` is simply false),
//     and an error met while trying a `**` expansion is ignored, both as in the library.
// Matching works on code points (Go decodes runes), so a multi-byte character is one `?`.
// ---------------------------------------------------------------------------------------------

type Runes = readonly number[];

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN_CLASS = 0x5b;
const CLOSE_CLASS = 0x5d;
const OPEN_ALT = 0x7b;
const CLOSE_ALT = 0x7d;
const COMMA = 0x2c;
const CARET = 0x5e;
const DASH = 0x2d;
/** What Go's utf8.DecodeRuneInString returns for an empty string (and for U+FFFD itself). */
const RUNE_ERROR = 0xfffd;

function badPattern(): HarborRuleError {
  return new HarborRuleError('syntax error in pattern');
}

function runes(s: string): number[] {
  return Array.from(s, (c) => c.codePointAt(0)!);
}

function sameRunes(a: Runes, text: string): boolean {
  const b = runes(text);
  return a.length === b.length && a.every((r, i) => r === b[i]);
}

/** Returns true when `name` matches `pattern`; throws HarborRuleError where the library returns ErrBadPattern. */
export function doublestarMatch(pattern: string, name: string): boolean {
  return matchSegments(runes(pattern), splitOnSlash(runes(name)));
}

/**
 * Index of the first `r` at or after `from` that is not preceded by a backslash. Like the library,
 * only the character just before is looked at, and only when it lies after `from`.
 */
function indexUnescaped(s: Runes, from: number, r: number): number {
  const at = s.indexOf(r, from);
  if (at === -1) return -1;
  if (at > from && s[at - 1] === BACKSLASH) return indexUnescaped(s, at + 1, r);
  return at;
}

/** The name split on unescaped '/', keeping empty segments, a trailing '/' giving a last empty one. */
function splitOnSlash(path: Runes): number[][] {
  if (!path.includes(SLASH)) return [path.slice()];
  const parts: number[][] = [];
  let start = 0;
  let endsWithSeparator = false;
  while (start < path.length) {
    let end = indexUnescaped(path, start, SLASH);
    if (end === -1) {
      endsWithSeparator = false;
      end = path.length;
    } else {
      endsWithSeparator = true;
    }
    parts.push(path.slice(start, end));
    start = end + 1;
  }
  if (endsWithSeparator) parts.push([]);
  return parts;
}

/** Splits `a,b}rest` (the text after an opening brace) into alternatives; -1 when the brace never closes. */
function splitAlternatives(s: Runes): { options: number[][]; next: number } {
  const options: number[][] = [];
  let depth = 1;
  let escaped = false;
  let start = 0;
  let i = 0;
  while (depth > 0) {
    if (i >= s.length) return { options: [], next: -1 };
    const r = s[i];
    if (escaped) escaped = false;
    else if (r === BACKSLASH) escaped = true;
    else if (r === OPEN_ALT) depth++;
    else if (r === CLOSE_ALT) depth--;
    else if (r === COMMA && depth === 1) {
      options.push(s.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  options.push(s.slice(start, i - 1));
  return { options, next: i };
}

/** Can this (single-segment) pattern match the empty string? `""`, `*`, `**`, or alternatives with an empty one. */
function canMatchEmpty(pattern: Runes): boolean {
  if (pattern.length === 0 || sameRunes(pattern, '*') || sameRunes(pattern, '**')) return true;
  if (pattern[0] === OPEN_ALT) {
    const { options, next } = splitAlternatives(pattern.slice(1));
    if (next === -1) throw badPattern();
    if (!canMatchEmpty(pattern.slice(1 + next))) return false;
    for (const option of options) if (canMatchEmpty(option)) return true;
  }
  return false;
}

/** `doMatching`: the pattern (still joined by '/') against the name's segments. */
function matchSegments(pattern: Runes, names: Runes[]): boolean {
  if (pattern.length === 0) {
    if (names.length === 1 && names[0].length === 0) return true;
    if (names.length === 0) return false;
  }
  let slash = indexUnescaped(pattern, 0, SLASH);
  const lastSegment = slash === -1;
  if (lastSegment) slash = pattern.length;
  if (sameRunes(pattern.slice(0, slash), '**')) {
    // A whole-segment `**` matches zero or more segments; at the end, everything that is left.
    if (lastSegment) return true;
    const rest = pattern.slice(slash + 1);
    for (let i = 0; i < names.length; i++) {
      try {
        if (matchSegments(rest, names.slice(i))) return true;
      } catch (err) {
        if (!(err instanceof HarborRuleError)) throw err; // the library ignores errors here
      }
    }
    return false;
  }
  const continuations = matchSegment(pattern, names[0]);
  if (continuations === null) return false;
  if (continuations.length === 0 && names.length === 1) return true;
  if (names.length > 1) {
    for (const next of continuations) if (matchSegments(next, names.slice(1))) return true;
  }
  return false;
}

/**
 * `matchComponent`: matches one name segment against the start of the pattern. Returns null for no
 * match, or the patterns left for the following segments ([] when the pattern was used up).
 */
function matchSegment(pattern: Runes, name: Runes): number[][] | null {
  let p = 0;
  let n = 0;
  while (p < pattern.length && n < name.length) {
    const pr = pattern[p];
    const nr = name[n];
    if (pr === SLASH) {
      p++;
      break;
    } else if (pr === BACKSLASH) {
      p++;
      const escaped = p < pattern.length ? pattern[p] : RUNE_ERROR;
      if (escaped === RUNE_ERROR) throw badPattern();
      if (escaped !== nr) return null;
      p++;
      n++;
    } else if (pr === STAR) {
      p++;
      if (p >= pattern.length) return [];
      if (pattern[p] === SLASH) return [pattern.slice(p + 1)];
      const rest = pattern.slice(p);
      for (; n < name.length; n++) {
        const m = matchSegment(rest, name.slice(n));
        if (m !== null) return m;
      }
      return null;
    } else if (pr === OPEN_CLASS) {
      p++;
      const end = indexUnescaped(pattern, p, CLOSE_CLASS);
      if (end === -1) throw badPattern();
      const cls = pattern.slice(p, end);
      if (cls.length === 0) throw badPattern();
      if (classMatches(cls, nr) === (cls[0] === CARET)) return null;
      p = end + 1;
      n++;
    } else if (pr === OPEN_ALT) {
      p++;
      const { options, next } = splitAlternatives(pattern.slice(p));
      if (next === -1) throw badPattern();
      p += next;
      const tail = pattern.slice(p);
      const rest = name.slice(n);
      let matched = false;
      const continuations: number[][] = [];
      for (const option of options) {
        const m = matchSegment([...option, ...tail], rest);
        if (m !== null) {
          matched = true;
          continuations.push(...m);
        }
      }
      return matched ? continuations : null;
    } else if (pr === QUESTION || pr === nr) {
      p++;
      n++;
    } else {
      return null;
    }
  }
  if (n >= name.length) {
    if (p >= pattern.length) return [];
    const rest = pattern.slice(p);
    const slash = indexUnescaped(rest, 0, SLASH);
    const segment = slash >= 0 ? rest.slice(0, slash) : rest;
    if (canMatchEmpty(segment)) return slash === -1 ? [] : [rest.slice(slash + 1)];
  }
  return null;
}

/** Is `r` in the class body (without brackets)? A leading `^` is skipped here; the caller negates. */
function classMatches(cls: Runes, r: number): boolean {
  let i = cls[0] === CARET ? 1 : 0;
  let inClass = false;
  while (i < cls.length) {
    let low = cls[i];
    if (low === DASH) throw badPattern();
    i++;
    if (low === BACKSLASH) {
      if (i >= cls.length) throw badPattern();
      low = cls[i++];
    }
    let high = low;
    if (i < cls.length && cls[i] === DASH) {
      i++;
      if (i >= cls.length) throw badPattern();
      high = cls[i];
      if (high === DASH) throw badPattern();
      i++;
      if (high === BACKSLASH) {
        if (i >= cls.length) throw badPattern();
        high = cls[i++];
      }
    }
    if (low <= r && r <= high) inClass = true;
  }
  return inClass;
}
