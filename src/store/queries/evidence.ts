import { and, asc, eq, inArray, isNotNull } from 'drizzle-orm';
import type { Database } from '../db.js';
import { scans } from '../schema/index.js';
import { findRepository } from './history.js';
import { loadChain, scanHeads } from './chain.js';
import { EVIDENCE_FORMAT, digestFromChain, type EvidenceBundle } from '../../audit/evidence.js';

/** Builds the evidence bundle for one tag; null when the repository is unknown. */
export async function buildEvidence(db: Database, p: { targetId: string; repository: string; tag: string; at: Date | null; now: Date }): Promise<EvidenceBundle | null> {
  const repo = await findRepository(db, { targetId: p.targetId, repository: p.repository });
  if (!repo) return null;
  const chain = await loadChain(db, repo.id);
  const at = p.at ? p.at.toISOString() : null;
  const scanIds = [...new Set(chain.map((c) => c.event.scanId))];
  const roots = scanIds.length
    ? await db
        .select({ id: scans.id, previousRoot: scans.previousRoot, root: scans.rootHash })
        .from(scans)
        .where(and(eq(scans.targetId, p.targetId), inArray(scans.id, scanIds), isNotNull(scans.rootHash)))
        .orderBy(asc(scans.id))
    : [];
  const scanRoots = [];
  for (const r of roots) {
    scanRoots.push({ scanId: r.id, previousRoot: r.previousRoot ?? '', root: r.root!, heads: [...(await scanHeads(db, r.id)).entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) });
  }
  const events = chain.map((c) => c.event);
  return {
    format: EVIDENCE_FORMAT,
    createdAt: p.now.toISOString(),
    subject: { target: p.targetId, repository: p.repository, tag: p.tag, at },
    claim: digestFromChain(events, p.tag, at),
    chain: chain.map((c) => ({ event: c.event, hash: c.hash ?? '' })),
    scanRoots,
  };
}
