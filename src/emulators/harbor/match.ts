/**
 * The emulator's own answer to "is this tag immutable?", computed the way Harbor's matcher walks the
 * rules (src/pkg/immutable/match/rule/match.go of goharbor/harbor): disabled rules and rules without
 * selectors are skipped, only the first repository and tag selector count, an empty pattern matches
 * everything, the first matching rule wins, and any error leaves the tag mutable.
 *
 * Patterns are matched by translating them into regular expressions. That is deliberately a second,
 * independent implementation next to tagledger's evaluator (src/audit/harbor-rules.ts, which follows
 * doublestar v1.3.4 step by step), so the collector tests compare two readings of Harbor instead of
 * one reading with itself. The translation covers what rules use in practice: `*`, `?`, `**` as a
 * whole segment, `[...]` (negated by `^`), `{a,b}` and `\` escapes. It does not reproduce
 * doublestar's corner cases (a malformed part that matching never reaches, `***`, `**` inside braces);
 * where the two differ, src/audit/harbor-rules.ts is the reference.
 */

export interface EmulatorSelector {
  kind: string;
  decoration: string;
  pattern: string;
}

export interface EmulatorRuleSelectors {
  disabled: boolean;
  tagSelectors: EmulatorSelector[];
  scopeSelectors: Record<string, EmulatorSelector[]>;
}

export function harborImmutable(rules: readonly EmulatorRuleSelectors[], repositoryInProject: string, tag: string): boolean {
  for (const rule of rules) {
    if (rule.disabled) continue;
    const repository = rule.scopeSelectors.repository?.[0];
    const tagSelector = rule.tagSelectors[0];
    if (!repository || !tagSelector) continue;
    try {
      if (selects(repository, repositoryInProject, tag) && selects(tagSelector, repositoryInProject, tag)) return true;
    } catch {
      return false; // Harbor logs the error and reports the tag as mutable
    }
  }
  return false;
}

function selects(s: EmulatorSelector, repository: string, tag: string): boolean {
  if (s.kind !== 'doublestar') throw new Error(`selector ${JSON.stringify(s.kind)} is not registered`);
  switch (s.decoration) {
    case 'matches':
      return matches(s.pattern, tag);
    case 'excludes':
      return !matches(s.pattern, tag);
    case 'repoMatches':
      return matches(s.pattern, repository);
    case 'repoExcludes':
      return !matches(s.pattern, repository);
    case 'nsMatches':
    case 'nsExcludes':
      return false;
    default:
      throw new Error(`decoration ${JSON.stringify(s.decoration)} is not supported`);
  }
}

const compiled = new Map<string, RegExp>();

function matches(pattern: string, name: string): boolean {
  if (pattern === '') return true;
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(`^${translate(Array.from(pattern), true)}$`, 'u');
    compiled.set(pattern, re);
  }
  return re.test(name);
}

const SEGMENT_CHAR = '[^/]';

/** Regular-expression source for a doublestar pattern (or one alternative of it). */
function translate(p: string[], topLevel: boolean): string {
  let out = '';
  let i = 0;
  while (i < p.length) {
    const c = p[i];
    if (c === '*') {
      let j = i;
      while (p[j] === '*') j++;
      const wholeSegment = topLevel && j - i === 2 && (i === 0 || p[i - 1] === '/') && (j === p.length || p[j] === '/');
      if (wholeSegment && j === p.length) out += '.*';
      else if (wholeSegment) {
        out += `(?:${SEGMENT_CHAR}*/)*`;
        j++; // the '/' after `**` is part of the repeated group
      } else out += `${SEGMENT_CHAR}*`;
      i = j;
    } else if (c === '?') {
      out += SEGMENT_CHAR;
      i++;
    } else if (c === '\\') {
      if (i + 1 >= p.length) throw new Error('trailing backslash');
      out += escape(p[i + 1]);
      i += 2;
    } else if (c === '[') {
      const { source, next } = translateClass(p, i + 1);
      out += source;
      i = next;
    } else if (c === '{') {
      const { options, next } = alternatives(p, i + 1);
      out += `(?:${options.map((o) => translate(o, false)).join('|')})`;
      i = next;
    } else {
      out += escape(c);
      i++;
    }
  }
  return out;
}

function translateClass(p: string[], start: number): { source: string; next: number } {
  let i = start;
  let negated = false;
  if (p[i] === '^') {
    negated = true;
    i++;
  }
  let body = '';
  let empty = true;
  while (i < p.length && p[i] !== ']') {
    let low = p[i];
    if (low === '-') throw new Error('range without a start');
    if (low === '\\') low = p[++i];
    i++;
    if (low === undefined) throw new Error('unterminated class');
    let high = low;
    if (p[i] === '-') {
      high = p[++i];
      if (high === undefined || high === '-' || high === ']') throw new Error('range without an end');
      if (high === '\\') high = p[++i];
      i++;
      if (high === undefined) throw new Error('unterminated class');
    }
    body += high === low ? classEscape(low) : `${classEscape(low)}-${classEscape(high)}`;
    empty = false;
  }
  if (i >= p.length) throw new Error('unterminated class');
  if (empty && !negated) throw new Error('empty class');
  // A class matches one character of a segment, never the separator.
  const source = empty ? SEGMENT_CHAR : negated ? `(?!/)[^${body}]` : `(?!/)[${body}]`;
  return { source, next: i + 1 };
}

function alternatives(p: string[], start: number): { options: string[][]; next: number } {
  const options: string[][] = [];
  let depth = 1;
  let current: string[] = [];
  let i = start;
  for (; i < p.length; i++) {
    const c = p[i];
    if (c === '\\' && i + 1 < p.length) {
      current.push(c, p[++i]);
      continue;
    }
    if (c === '{') depth++;
    if (c === '}' && --depth === 0) {
      options.push(current);
      return { options, next: i + 1 };
    }
    if (c === ',' && depth === 1) {
      options.push(current);
      current = [];
      continue;
    }
    current.push(c);
  }
  throw new Error('unterminated alternatives');
}

function escape(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

function classEscape(c: string): string {
  return /[\\\]^-]/.test(c) ? `\\${c}` : c;
}
