/**
 * One `check` run: read the sources, parse every reference, look them up in the ledger, decide.
 */
import type { Database } from '../store/db.js';
import { extractInput, type CheckInput } from './inputs.js';
import { lookupReferences, referenceKey, type LedgerMatch, type PullHosts } from './ledger.js';
import { parseImageReference, type ImageReference, type ParsedReference } from './reference.js';
import { classifyTag, type TagStrategyVerdict } from './strategy.js';
import { decideVerdict, VERDICT_SEVERITY, type CheckSeverity, type VerdictCode } from './verdict.js';
import type { ImageSite, SourceKind } from './sources/types.js';

export interface CheckOptions {
  /** A tag that moved within this window is `moved`. */
  movedWithin: { ms: number; label: string };
  pullHosts?: PullHosts;
  now?: Date;
}

/** One line of the report: a reference, or a part of a file that could not be read. */
export interface CheckResult {
  file: string;
  line: number;
  column: number;
  source: SourceKind | null;
  /** Where the reference is used, e.g. `Deployment/web container "app"`. */
  context: string | null;
  /** The reference as written (YAML unquoted); null for an unreadable part of a file. */
  reference: string | null;
  image: { registry: string; repository: string; tag: string | null; digest: string | null } | null;
  strategy: TagStrategyVerdict | null;
  pullPolicy: string | null;
  verdict: VerdictCode;
  severity: CheckSeverity;
  reason: string;
  notes: string[];
  ledger: {
    target: string;
    repository: string;
    pullReference: string;
    matchedBy: string;
    /** The tag's current digest in the ledger (null: tag unknown or not asked). */
    digest: string | null;
    present: boolean | null;
    protected: boolean | null;
    lastObservedAt: string | null;
    lastSuccessfulScan: { id: number; finishedAt: string | null } | null;
  } | null;
}

/** A result with what produced it, for `--pin`. */
export interface CheckEntry {
  input: CheckInput;
  site: ImageSite | null;
  parsed: ParsedReference | null;
  match: LedgerMatch | null;
  result: CheckResult;
}

export interface CheckRun {
  inputs: CheckInput[];
  entries: CheckEntry[];
  /** Inputs with YAML syntax errors (never rewritten by `--pin`). */
  unreadable: Set<CheckInput>;
}

export async function runCheck(db: Database, inputs: CheckInput[], opts: CheckOptions): Promise<CheckRun> {
  const now = opts.now ?? new Date();
  const pending: Array<Omit<CheckEntry, 'match' | 'result'> & { problem?: { line: number; column: number; message: string } }> = [];
  const unreadable = new Set<CheckInput>();
  for (const input of inputs) {
    const extracted = extractInput(input);
    if (extracted.syntaxErrors) unreadable.add(input);
    for (const p of extracted.problems) pending.push({ input, site: null, parsed: null, problem: p });
    for (const site of extracted.sites) {
      const parsed = site.error || site.unresolved ? null : parseImageReference(site.value);
      pending.push({ input, site, parsed });
    }
  }

  const refs: ImageReference[] = pending.flatMap((p) => (p.parsed?.ok ? [p.parsed.reference] : []));
  const matches = refs.length ? await lookupReferences(db, refs, { pullHosts: opts.pullHosts }) : new Map<string, LedgerMatch | null>();

  const entries: CheckEntry[] = pending.map((p) => {
    if (!p.site) {
      const problem = p.problem!;
      const result: CheckResult = {
        file: p.input.file,
        line: problem.line,
        column: problem.column,
        source: null,
        context: null,
        reference: null,
        image: null,
        strategy: null,
        pullPolicy: null,
        verdict: 'unreadable',
        severity: VERDICT_SEVERITY.unreadable,
        reason: `${problem.message}; this document was not checked`,
        notes: [],
        ledger: null,
      };
      return { input: p.input, site: null, parsed: null, match: null, result };
    }
    const site = p.site;
    const ref = p.parsed?.ok ? p.parsed.reference : null;
    const match = ref ? (matches.get(referenceKey(ref)) ?? null) : null;
    const verdict = decideVerdict({ site, parsed: p.parsed, ledger: match, movedWithin: opts.movedWithin, now });
    const result: CheckResult = {
      file: p.input.file,
      line: site.line,
      column: site.column,
      source: site.source,
      context: site.context,
      reference: site.value,
      image: ref ? { registry: ref.registry, repository: ref.path, tag: ref.tag, digest: ref.digest } : null,
      strategy: ref ? classifyTag(ref.tag) : null,
      pullPolicy: site.pullPolicy ?? null,
      ...verdict,
      ledger: match ? ledgerSummary(match) : null,
    };
    return { input: p.input, site, parsed: p.parsed, match, result };
  });
  const order = new Map(inputs.map((input, i) => [input, i]));
  entries.sort((a, b) => order.get(a.input)! - order.get(b.input)! || a.result.line - b.result.line || a.result.column - b.result.column);
  return { inputs, entries, unreadable };
}

function ledgerSummary(m: LedgerMatch): NonNullable<CheckResult['ledger']> {
  const r = m.repository;
  const state = m.tag?.state ?? null;
  return {
    target: r.targetId,
    repository: r.name,
    pullReference: r.pullReference,
    matchedBy: r.matchedBy,
    digest: state?.digest ?? null,
    present: state ? state.present : null,
    protected: state ? state.protected : null,
    lastObservedAt: r.lastObservedAt?.toISOString() ?? null,
    lastSuccessfulScan: r.lastSuccessfulScan ? { id: r.lastSuccessfulScan.id, finishedAt: r.lastSuccessfulScan.finishedAt?.toISOString() ?? null } : null,
  };
}
