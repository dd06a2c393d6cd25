/**
 * Evidence bundles: a tag's history with the hash chain that links it to its repository's chain
 * head and the scan roots that cover it, checkable offline without the database. Pure.
 */
import { scanRoot, verifyChain, type ChainedEvent, type ChainedTagEvent } from './chain.js';

export const EVIDENCE_FORMAT = 'tagledger-evidence/1';

export interface EvidenceBundle {
  format: typeof EVIDENCE_FORMAT;
  createdAt: string;
  subject: { target: string; repository: string; tag: string; at: string | null };
  /** What the bundle proves: the digest the tag pointed to at `subject.at` (or now), as last observed. */
  claim: { digest: string | null; since: string | null };
  /** The repository's whole chain, from its first event to its head, each with its hash. */
  chain: Array<{ event: ChainedEvent; hash: string }>;
  /** Roots of the target's scans that recorded events in this repository. */
  scanRoots: Array<{ scanId: number; previousRoot: string; root: string; heads: Array<[string, string]> }>;
}

/** The digest at `at` from a chain: the latest event of the tag at or before it (null when deleted). */
export function digestFromChain(chain: ChainedEvent[], tag: string, at: string | null): { digest: string | null; since: string | null } {
  let last: ChainedTagEvent | null = null;
  for (const e of chain) {
    if (e.type !== 'tag' || e.tag !== tag) continue;
    if (at !== null && Date.parse(e.observedAt) > Date.parse(at)) continue;
    if (!last || e.seq > last.seq) last = e;
  }
  if (!last || last.kind === 'deleted') return { digest: null, since: last?.observedAt ?? null };
  return { digest: last.digest, since: last.observedAt };
}

export interface BundleCheck {
  ok: boolean;
  problems: string[];
  events: number;
  tagEvents: number;
  roots: number;
}

export function verifyBundle(bundle: EvidenceBundle): BundleCheck {
  const problems: string[] = [];
  if (bundle?.format !== EVIDENCE_FORMAT) return { ok: false, problems: [`not a ${EVIDENCE_FORMAT} bundle`], events: 0, tagEvents: 0, roots: 0 };
  const { subject } = bundle;
  const broken = verifyChain(bundle.chain);
  if (broken) problems.push(`chain broken at position ${broken.seq}: ${broken.reason} (expected ${broken.expected}, found ${broken.found})`);
  for (const { event } of bundle.chain) {
    if (event.target !== subject.target || event.repository !== subject.repository) {
      problems.push(`chain position ${event.seq} belongs to ${event.target}/${event.repository}, not ${subject.target}/${subject.repository}`);
      break;
    }
  }
  const events = bundle.chain.map((c) => c.event);
  const claim = digestFromChain(events, subject.tag, subject.at);
  if (claim.digest !== bundle.claim.digest) problems.push(`the chain says ${subject.tag} pointed to ${claim.digest ?? 'nothing'}, the bundle claims ${bundle.claim.digest ?? 'nothing'}`);
  const headAfterScan = new Map<number, string>();
  for (const c of bundle.chain) headAfterScan.set(c.event.scanId, c.hash);
  for (const r of bundle.scanRoots) {
    if (scanRoot(r.previousRoot, r.heads) !== r.root) problems.push(`scan ${r.scanId}: root does not match its previous root and heads`);
    const mine = r.heads.find(([name]) => name === subject.repository);
    if (!mine) problems.push(`scan ${r.scanId}: root does not cover ${subject.repository}`);
    else if (headAfterScan.get(r.scanId) !== mine[1]) problems.push(`scan ${r.scanId}: root covers a different chain head for ${subject.repository}`);
  }
  const covered = new Set(bundle.scanRoots.map((r) => r.scanId));
  const uncovered = [...headAfterScan.keys()].filter((id) => !covered.has(id));
  if (uncovered.length) problems.push(`events of scan(s) ${uncovered.join(', ')} are covered by no scan root in the bundle`);
  return {
    ok: problems.length === 0,
    problems,
    events: events.length,
    tagEvents: events.filter((e) => e.type === 'tag' && e.tag === subject.tag).length,
    roots: bundle.scanRoots.length,
  };
}
