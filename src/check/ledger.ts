/**
 * What the ledger knows about the images a deployment file names.
 *
 * A reference matches a ledger repository when its `registry/path` equals the repository's stored
 * pull reference (`host[:port]/path`; Docker Hub's host aliases count as one), or when it is written
 * against one of a target's `pullHosts` (a mirror, pull-through cache or vanity host, optionally with
 * a path prefix) followed by the path of one of that target's repositories.
 *
 * Query functions take the database first; each runs alone or inside a transaction.
 */
import { and, desc, eq, inArray, lte, or, sql, isNull } from 'drizzle-orm';
import type { Database } from '../store/db.js';
import { repositories, repositorySnapshots, scans, tagEvents, tags } from '../store/schema/index.js';
import type { ProtectionSettings } from '../audit/protection.js';
import { normaliseHost, pullReferenceCandidates, splitPullReference, type ImageReference } from './reference.js';

export interface LedgerRepository {
  id: number;
  targetId: string;
  /** The repository's name within its target. */
  name: string;
  pullReference: string;
  /** Set when a complete catalog listing no longer had it. */
  goneAt: Date | null;
  protection: ProtectionSettings;
  /** The repository's latest complete observation (its latest snapshot). */
  lastObservedAt: Date | null;
  /** The target's last successful scan (succeeded, or partial), whether or not it observed this repository. */
  lastSuccessfulScan: { id: number; finishedAt: Date | null } | null;
  /** `pull reference`, or the pull host that led here. */
  matchedBy: string;
}

export interface LedgerTag {
  digest: string;
  present: boolean;
  protected: boolean;
  protectionReason: string;
  changedAt: Date;
}

/** The latest time the tag was re-pointed: a move, or a return after deletion with another digest. */
export interface LedgerMove {
  kind: 'moved' | 'restored';
  at: Date;
  digest: string | null;
  previousDigest: string | null;
}

export type PinDecision = { digest: string; scanId: number } | { refused: string };

export interface LedgerTagInfo {
  name: string;
  /** Current state; null when the ledger never saw the tag in this repository. */
  state: LedgerTag | null;
  lastMove: LedgerMove | null;
  pin: PinDecision;
}

export interface LedgerDigestInfo {
  digest: string;
  /** Present tags pointing at the digest now. */
  tags: string[];
  /** Whether any tag of the repository ever pointed at it. */
  seen: boolean;
}

export interface LedgerMatch {
  repository: LedgerRepository;
  /** The written tag, or `latest` when the reference has neither tag nor digest. */
  tag: LedgerTagInfo | null;
  digest: LedgerDigestInfo | null;
}

/** A target's extra hosts, as configured (`host[:port][/prefix]`). */
export type PullHosts = Record<string, string[]>;

/** The key `lookupReferences` answers under. */
export function referenceKey(ref: Pick<ImageReference, 'name' | 'tag' | 'digest'>): string {
  return `${ref.name}:${ref.tag ?? ''}@${ref.digest ?? ''}`;
}

/** Looks every reference up; a reference the ledger does not cover maps to null. */
export async function lookupReferences(db: Database, refs: ImageReference[], opts: { pullHosts?: PullHosts } = {}): Promise<Map<string, LedgerMatch | null>> {
  const byName = new Map<string, ImageReference[]>();
  for (const r of refs) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const repos = await matchRepositories(db, [...byName.values()].map((list) => list[0]), opts.pullHosts ?? {});

  const out = new Map<string, LedgerMatch | null>();
  const tagCache = new Map<string, LedgerTagInfo>();
  const digestCache = new Map<string, LedgerDigestInfo>();
  for (const [name, list] of byName) {
    const repo = repos.get(name) ?? null;
    for (const ref of list) {
      const key = referenceKey(ref);
      if (out.has(key)) continue;
      if (!repo) {
        out.set(key, null);
        continue;
      }
      const tagName = ref.tag ?? (ref.digest ? null : 'latest');
      let tag: LedgerTagInfo | null = null;
      if (tagName !== null) {
        const k = `${repo.id}:${tagName}`;
        tag = tagCache.get(k) ?? (await tagInfo(db, repo, tagName));
        tagCache.set(k, tag);
      }
      let digest: LedgerDigestInfo | null = null;
      if (ref.digest) {
        const k = `${repo.id}@${ref.digest}`;
        digest = digestCache.get(k) ?? (await digestInfo(db, repo.id, ref.digest));
        digestCache.set(k, digest);
      }
      out.set(key, { repository: repo, tag, digest });
    }
  }
  return out;
}

/**
 * The ledger repository each reference name means, or none. When several targets hold it (the same
 * registry configured twice), one still listed and most recently observed wins.
 */
export async function matchRepositories(db: Database, refs: Array<Pick<ImageReference, 'name' | 'registry' | 'path'>>, pullHosts: PullHosts): Promise<Map<string, LedgerRepository>> {
  const hosts = Object.entries(pullHosts).flatMap(([targetId, list]) => list.map((h) => ({ targetId, prefix: normalisePullHost(h), raw: h })));
  const wanted = new Map<string, { pullReferences: Set<string>; viaHost: Array<{ targetId: string; path: string; raw: string }> }>();
  for (const ref of refs) {
    const viaHost = hosts.filter((h) => ref.name.startsWith(`${h.prefix}/`)).map((h) => ({ targetId: h.targetId, path: ref.name.slice(h.prefix.length + 1), raw: h.raw }));
    wanted.set(ref.name, { pullReferences: new Set(pullReferenceCandidates(ref)), viaHost });
  }
  if (!wanted.size) return new Map();

  const allPullRefs = [...new Set([...wanted.values()].flatMap((w) => [...w.pullReferences]))];
  const viaHosts = [...wanted.values()].flatMap((w) => w.viaHost);
  const conditions = [inArray(sql`lower(${repositories.pullReference})`, allPullRefs)];
  // Only targets whose pull hosts some reference actually uses, and only the paths asked for.
  for (const targetId of new Set(viaHosts.map((h) => h.targetId))) {
    const paths = [...new Set(viaHosts.filter((h) => h.targetId === targetId).map((h) => h.path))];
    conditions.push(and(eq(repositories.targetId, targetId), inArray(sql`lower(substr(${repositories.pullReference}, strpos(${repositories.pullReference}, '/') + 1))`, paths))!);
  }
  const rows = await db
    .select({
      id: repositories.id,
      targetId: repositories.targetId,
      name: repositories.name,
      pullReference: repositories.pullReference,
      goneAt: repositories.goneAt,
      protection: repositories.protection,
    })
    .from(repositories)
    .where(or(...conditions));

  const matched = new Map<string, Array<{ row: (typeof rows)[number]; matchedBy: string }>>();
  for (const [name, w] of wanted) {
    for (const r of rows) {
      const lowered = r.pullReference.toLowerCase();
      let matchedBy: string | null = w.pullReferences.has(lowered) ? 'pull reference' : null;
      if (!matchedBy) {
        const stored = splitPullReference(lowered);
        const host = stored && w.viaHost.find((h) => h.targetId === r.targetId && h.path === stored.path);
        if (host) matchedBy = `pull host ${host.raw}`;
      }
      if (matchedBy) matched.set(name, [...(matched.get(name) ?? []), { row: r, matchedBy }]);
    }
  }

  const used = [...matched.values()].flat().map((m) => m.row);
  const lastScans = await lastSuccessfulScans(db, [...new Set(used.map((r) => r.targetId))]);
  const observed = new Map<number, Date | null>();
  for (const r of used) if (!observed.has(r.id)) observed.set(r.id, await lastObservedAt(db, r.id));

  const out = new Map<string, LedgerRepository>();
  for (const [name, list] of matched) {
    const candidates: LedgerRepository[] = list.map(({ row: r, matchedBy }) => ({
      id: r.id,
      targetId: r.targetId,
      name: r.name,
      pullReference: r.pullReference,
      goneAt: r.goneAt,
      protection: r.protection as ProtectionSettings,
      lastObservedAt: observed.get(r.id) ?? null,
      lastSuccessfulScan: lastScans.get(r.targetId) ?? null,
      matchedBy,
    }));
    candidates.sort((a, b) => Number(a.goneAt !== null) - Number(b.goneAt !== null) || (b.lastObservedAt?.getTime() ?? 0) - (a.lastObservedAt?.getTime() ?? 0));
    out.set(name, candidates[0]);
  }
  return out;
}

/** The repository's latest snapshot (an index lookup on repository_snapshots_observed_idx). */
async function lastObservedAt(db: Database, repositoryId: number): Promise<Date | null> {
  const [row] = await db
    .select({ at: repositorySnapshots.observedAt })
    .from(repositorySnapshots)
    .where(eq(repositorySnapshots.repositoryId, repositoryId))
    .orderBy(desc(repositorySnapshots.observedAt))
    .limit(1);
  return row?.at ?? null;
}

/** `Mirror.Example.com:5000/hub/` → `mirror.example.com:5000/hub`. */
export function normalisePullHost(value: string): string {
  const trimmed = value.trim().replace(/\/+$/, '');
  const slash = trimmed.indexOf('/');
  if (slash < 0) return normaliseHost(trimmed);
  return `${normaliseHost(trimmed.slice(0, slash))}${trimmed.slice(slash)}`;
}

async function lastSuccessfulScans(db: Database, targetIds: string[]): Promise<Map<string, { id: number; finishedAt: Date | null }>> {
  const out = new Map<string, { id: number; finishedAt: Date | null }>();
  for (const targetId of targetIds) {
    const [row] = await db
      .select({ id: scans.id, finishedAt: scans.finishedAt })
      .from(scans)
      // Whole-target scans only: a push-event scan limited to a few repositories says nothing
      // about the others.
      .where(and(eq(scans.targetId, targetId), inArray(scans.status, ['succeeded', 'partial']), isNull(scans.scope)))
      .orderBy(desc(scans.id))
      .limit(1);
    if (row) out.set(targetId, { id: Number(row.id), finishedAt: row.finishedAt });
  }
  return out;
}

async function tagInfo(db: Database, repo: LedgerRepository, tag: string): Promise<LedgerTagInfo> {
  const [state] = await db
    .select({ digest: tags.digest, present: tags.present, protected: tags.protected, protectionReason: tags.protectionReason, changedAt: tags.changedAt })
    .from(tags)
    .where(and(eq(tags.repositoryId, repo.id), eq(tags.name, tag)));
  const [move] = await db
    .select({ kind: tagEvents.kind, at: tagEvents.observedAt, digest: tagEvents.digest, previousDigest: tagEvents.previousDigest })
    .from(tagEvents)
    .where(
      and(
        eq(tagEvents.repositoryId, repo.id),
        eq(tagEvents.tag, tag),
        or(eq(tagEvents.kind, 'moved'), and(eq(tagEvents.kind, 'restored'), sql`${tagEvents.digest} IS DISTINCT FROM ${tagEvents.previousDigest}`)),
      ),
    )
    .orderBy(desc(tagEvents.observedAt), desc(tagEvents.id))
    .limit(1);
  return {
    name: tag,
    state: state ?? null,
    lastMove: move ? { kind: move.kind as LedgerMove['kind'], at: move.at, digest: move.digest, previousDigest: move.previousDigest } : null,
    pin: await pinDecision(db, repo, tag, state ?? null),
  };
}

/**
 * Whether `--pin` may write the tag's current digest: only when the target's last successful scan
 * observed the repository completely and saw the tag at exactly that digest. Anything else (the
 * repository failed or was not reached in that scan, the tag is unknown or deleted, or it changed
 * in a later scan that did not finish) is refused with the reason.
 */
export async function pinDecision(db: Database, repo: LedgerRepository, tag: string, state: LedgerTag | null): Promise<PinDecision> {
  if (repo.goneAt) return { refused: `repository ${repo.name} is gone from target ${repo.targetId} (per the ledger)` };
  const last = repo.lastSuccessfulScan;
  if (!last) return { refused: `target ${repo.targetId} has no successful scan yet` };
  const when = last.finishedAt ? ` on ${last.finishedAt.toISOString()}` : '';
  const [snapshot] = await db
    .select({ scanId: repositorySnapshots.scanId })
    .from(repositorySnapshots)
    .where(and(eq(repositorySnapshots.repositoryId, repo.id), eq(repositorySnapshots.scanId, last.id)));
  if (!snapshot) return { refused: `the last successful scan of ${repo.targetId} (#${last.id}${when}) did not observe ${repo.name}: its digests may be stale` };
  const [atScan] = await db
    .select({ kind: tagEvents.kind, digest: tagEvents.digest })
    .from(tagEvents)
    .where(and(eq(tagEvents.repositoryId, repo.id), eq(tagEvents.tag, tag), lte(tagEvents.scanId, last.id)))
    .orderBy(desc(tagEvents.scanId), desc(tagEvents.id))
    .limit(1);
  if (!atScan || atScan.kind === 'deleted' || !atScan.digest) return { refused: `tag ${tag} was not in ${repo.name} at the last successful scan (#${last.id}${when})` };
  if (!state || !state.present || state.digest !== atScan.digest) {
    return { refused: `tag ${tag} changed after the last successful scan (#${last.id}); scan ${repo.targetId} again` };
  }
  return { digest: state.digest, scanId: last.id };
}

async function digestInfo(db: Database, repositoryId: number, digest: string): Promise<LedgerDigestInfo> {
  const current = await db
    .select({ name: tags.name })
    .from(tags)
    .where(and(eq(tags.repositoryId, repositoryId), eq(tags.digest, digest), eq(tags.present, true)))
    .orderBy(tags.name);
  let seen = current.length > 0;
  if (!seen) {
    const [any] = await db
      .select({ id: tagEvents.id })
      .from(tagEvents)
      .where(and(eq(tagEvents.repositoryId, repositoryId), or(eq(tagEvents.digest, digest), eq(tagEvents.previousDigest, digest))))
      .limit(1);
    seen = Boolean(any);
  }
  return { digest, tags: current.map((r) => r.name), seen };
}
