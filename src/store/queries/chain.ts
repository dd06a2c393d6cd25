/**
 * Reading, checking and completing the hash chains and scan roots (see src/audit/chain.ts).
 */
import { and, asc, desc, eq, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import type { Database } from '../db.js';
import { repositories, repositoryEvents, scans, tagEvents } from '../schema/index.js';
import { ChainCursor, GENESIS, scanRoot, verifyChain, type ChainedEvent } from '../../audit/chain.js';

export interface StoredChainEvent {
  table: 'tag_events' | 'repository_events';
  rowId: number;
  event: ChainedEvent;
  hash: string | null;
}

/** Root of the scan before `scanId` of the same target, or "" for the first. */
async function previousRootOf(db: Database, targetId: string, scanId: number): Promise<string> {
  const [prev] = await db
    .select({ root: scans.rootHash })
    .from(scans)
    .where(and(eq(scans.targetId, targetId), lt(scans.id, scanId), isNotNull(scans.rootHash)))
    .orderBy(desc(scans.id))
    .limit(1);
  return prev?.root ?? GENESIS;
}

/** Records a scan's root from the chain heads it produced (repository name → head after the scan). */
export async function recordScanRoot(
  db: Database,
  p: { targetId: string; scanId: number; heads: Map<string, string> },
): Promise<{ rootHash: string; previousRoot: string }> {
  const previousRoot = await previousRootOf(db, p.targetId, p.scanId);
  const rootHash = scanRoot(previousRoot, [...p.heads.entries()]);
  await db.update(scans).set({ rootHash, previousRoot }).where(eq(scans.id, p.scanId));
  return { rootHash, previousRoot };
}

/** The (repository, head) pairs a stored scan produced, read back from its events. */
export async function scanHeads(db: Database, scanId: number): Promise<Map<string, string>> {
  const res = (await db.execute(sql`
    SELECT DISTINCT ON (e.repository_id) r.name, e.hash
    FROM (
      SELECT repository_id, chain_seq, hash FROM tag_events WHERE scan_id = ${scanId}
      UNION ALL
      SELECT repository_id, chain_seq, hash FROM repository_events WHERE scan_id = ${scanId}
    ) e JOIN repositories r ON r.id = e.repository_id
    ORDER BY e.repository_id, e.chain_seq DESC`)) as unknown as { rows: Array<{ name: string; hash: string | null }> };
  return new Map(res.rows.map((r) => [r.name, r.hash ?? '']));
}

/** Every event of a repository's chain, in chain order, as the canonical objects that were hashed. */
export async function loadChain(db: Database, repositoryId: number): Promise<StoredChainEvent[]> {
  const [repo] = await db.select({ name: repositories.name, targetId: repositories.targetId }).from(repositories).where(eq(repositories.id, repositoryId));
  const tagRows = await db.select().from(tagEvents).where(eq(tagEvents.repositoryId, repositoryId));
  const repoRows = await db.select().from(repositoryEvents).where(eq(repositoryEvents.repositoryId, repositoryId));
  const out: StoredChainEvent[] = [
    ...tagRows.map((r) => ({
      table: 'tag_events' as const,
      rowId: r.id,
      hash: r.hash,
      event: {
        type: 'tag' as const,
        seq: r.chainSeq ?? 0,
        target: repo.targetId,
        repository: repo.name,
        tag: r.tag,
        kind: r.kind,
        digest: r.digest,
        previousDigest: r.previousDigest,
        protected: r.protected,
        protectionReason: r.protectionReason,
        observedAt: r.observedAt.toISOString(),
        scanId: r.scanId,
      },
    })),
    ...repoRows.map((r) => ({
      table: 'repository_events' as const,
      rowId: r.id,
      hash: r.hash,
      event: {
        type: 'repository' as const,
        seq: r.chainSeq ?? 0,
        target: repo.targetId,
        repository: repo.name,
        kind: r.kind,
        before: r.before ?? null,
        after: r.after ?? null,
        observedAt: r.observedAt.toISOString(),
        scanId: r.scanId,
      },
    })),
  ];
  return out.sort((a, b) => a.event.seq - b.event.seq || a.rowId - b.rowId);
}

/**
 * Chains events written before tagledger kept hash chains, in the order live recording uses:
 * per repository by observation time and scan, repository events before tag events (a repository's
 * `gone` after them), then row id. Idempotent; run after migrations.
 */
export async function backfillChains(db: Database): Promise<number> {
  const pending = (await db.execute(sql`
    SELECT DISTINCT repository_id FROM (
      SELECT repository_id FROM tag_events WHERE hash IS NULL
      UNION SELECT repository_id FROM repository_events WHERE hash IS NULL
    ) p ORDER BY repository_id`)) as unknown as { rows: Array<{ repository_id: number }> };
  let chained = 0;
  for (const { repository_id } of pending.rows) {
    chained += await db.transaction(async (tx) => backfillRepository(tx as unknown as Database, Number(repository_id)));
  }
  // Scan roots for finished scans that have none, oldest first per target.
  const rootless = await db
    .select({ id: scans.id, targetId: scans.targetId })
    .from(scans)
    .where(and(isNull(scans.rootHash), sql`${scans.status} <> 'running'`))
    .orderBy(asc(scans.id));
  for (const s of rootless) {
    await recordScanRoot(db, { targetId: s.targetId, scanId: s.id, heads: await scanHeads(db, s.id) });
  }
  return chained;
}

async function backfillRepository(db: Database, repositoryId: number): Promise<number> {
  const events = await loadChain(db, repositoryId);
  // Already-chained events keep their place; unchained ones (all of them, in a database from
  // before chains existed) are ordered as live recording orders them.
  const chained = events.filter((e) => e.hash !== null);
  const unchained = events.filter((e) => e.hash === null);
  const category = (e: StoredChainEvent) => (e.table === 'repository_events' ? (e.event.kind === 'gone' ? 2 : 0) : 1);
  unchained.sort(
    (a, b) =>
      a.event.observedAt.localeCompare(b.event.observedAt) || a.event.scanId - b.event.scanId || category(a) - category(b) || a.rowId - b.rowId,
  );
  const last = chained[chained.length - 1];
  const cursor = new ChainCursor(last?.event.seq ?? 0, last?.hash ?? GENESIS);
  for (const e of unchained) {
    const { seq, ...rest } = e.event;
    void seq;
    const link = cursor.append(rest as never);
    if (e.table === 'tag_events') await db.update(tagEvents).set({ chainSeq: link.seq, hash: link.hash }).where(eq(tagEvents.id, e.rowId));
    else await db.update(repositoryEvents).set({ chainSeq: link.seq, hash: link.hash }).where(eq(repositoryEvents.id, e.rowId));
  }
  await db.update(repositories).set({ chainSeq: cursor.seq, chainHead: cursor.head }).where(eq(repositories.id, repositoryId));
  return unchained.length;
}

export interface LedgerBreak {
  table: 'tag_events' | 'repository_events' | 'repositories' | 'scans';
  rowId: number | string;
  target: string;
  repository: string | null;
  reason: string;
  expected: string | null;
  found: string | null;
}

/** Recomputes every chain and scan root (of one target, or all); returns the breaks found, first per chain. */
export async function verifyLedger(db: Database, p: { targetId?: string } = {}): Promise<{ breaks: LedgerBreak[]; repositories: number; events: number; scans: number }> {
  const breaks: LedgerBreak[] = [];
  const repos = await db
    .select({ id: repositories.id, name: repositories.name, targetId: repositories.targetId, chainSeq: repositories.chainSeq, chainHead: repositories.chainHead })
    .from(repositories)
    .where(p.targetId ? eq(repositories.targetId, p.targetId) : undefined)
    .orderBy(asc(repositories.id));
  let events = 0;
  for (const repo of repos) {
    const chain = await loadChain(db, repo.id);
    events += chain.length;
    const broken = firstBreak(chain);
    if (broken) {
      breaks.push({ ...broken, target: repo.targetId, repository: repo.name });
      continue;
    }
    const head = chain.length ? chain[chain.length - 1].hash : null;
    const seq = chain.length ? chain[chain.length - 1].event.seq : 0;
    if ((repo.chainHead ?? null) !== head || repo.chainSeq !== seq) {
      breaks.push({ table: 'repositories', rowId: repo.id, target: repo.targetId, repository: repo.name, reason: 'chain head does not match the last event (events removed from the end?)', expected: `${seq}:${head}`, found: `${repo.chainSeq}:${repo.chainHead}` });
    }
  }
  const scanRows = await db
    .select({ id: scans.id, targetId: scans.targetId, rootHash: scans.rootHash, previousRoot: scans.previousRoot })
    .from(scans)
    .where(and(isNotNull(scans.rootHash), p.targetId ? eq(scans.targetId, p.targetId) : undefined))
    .orderBy(asc(scans.id));
  const lastRoot = new Map<string, string>();
  for (const s of scanRows) {
    const expectedPrevious = lastRoot.get(s.targetId) ?? GENESIS;
    const expected = scanRoot(expectedPrevious, [...(await scanHeads(db, s.id)).entries()]);
    if (s.previousRoot !== expectedPrevious) {
      breaks.push({ table: 'scans', rowId: s.id, target: s.targetId, repository: null, reason: 'previous scan root does not link to the scan before it', expected: expectedPrevious, found: s.previousRoot });
    } else if (s.rootHash !== expected) {
      breaks.push({ table: 'scans', rowId: s.id, target: s.targetId, repository: null, reason: 'scan root does not match the chain heads of its events', expected, found: s.rootHash });
    }
    lastRoot.set(s.targetId, s.rootHash!);
  }
  return { breaks, repositories: repos.length, events, scans: scanRows.length };
}

function firstBreak(chain: StoredChainEvent[]): Omit<LedgerBreak, 'target' | 'repository'> | null {
  const unchained = chain.find((e) => e.hash === null);
  if (unchained) return { table: unchained.table, rowId: unchained.rowId, reason: 'event is not chained (run tagledger migrate)', expected: null, found: null };
  const broken = verifyChain(chain);
  if (!broken) return null;
  const row = chain[broken.index];
  return { table: row.table, rowId: row.rowId, reason: broken.reason, expected: broken.expected, found: broken.found };
}
