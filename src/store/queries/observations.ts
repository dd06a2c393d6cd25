/**
 * Records one COMPLETE repository observation: repository row, settings change, tag state, tag
 * events and the scan's snapshot row. Run it inside one transaction per repository.
 *
 * Tag rows are written only when something about the tag changed, and the tag rows of an
 * unchanged repository (same state hash, same settings) are not even read: the scan writes its
 * snapshot row alone (snapshotOf, insertSnapshots; see scheduler/stored-state.ts). Bulk writes go
 * through `unnest(...)` arrays: the query builder is far too slow for repositories with tens of
 * thousands of tags.
 */
import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../db.js';
import { repositories, repositoryEvents, tags } from '../schema/index.js';
import type { RepositoryObservation, TagObservation } from '../../collectors/types.js';
import { columnsOf, extraAt, tagColumns, type TagColumns } from '../../collectors/columns.js';
import { diffTags, repositoryGoneEvents, tagMapHash, type KnownTag, type TagEvent } from '../../audit/diff.js';
import { protectionEvaluator, type ProtectionSettings, type ProtectionVerdict } from '../../audit/protection.js';
import { stableJson } from './json.js';
import { ChainCursor, GENESIS } from '../../audit/chain.js';

/** The repository's hash chain, extended event by event inside the repository's transaction. */
interface ChainContext {
  cursor: ChainCursor;
  target: string;
  repository: string;
}

async function saveChainHead(db: Database, repositoryId: number, chain: ChainContext, previousSeq: number): Promise<void> {
  if (chain.cursor.seq === previousSeq) return;
  await db.update(repositories).set({ chainSeq: chain.cursor.seq, chainHead: chain.cursor.head }).where(eq(repositories.id, repositoryId));
}

export interface RecordedTagEvent extends TagEvent {
  /** Row id in tag_events. */
  id: number;
  protected: boolean;
  protectionReason: string;
}

export interface RecordedRepositoryEvent {
  /** Row id in repository_events. */
  id: number;
  kind: 'discovered' | 'settings_changed' | 'gone' | 'back';
  before: unknown;
  after: unknown;
}

export interface CurrentTagState {
  tag: string;
  digest: string;
  protected: boolean;
  reason: string;
  extra: Record<string, unknown> | null;
}

export interface RecordResult {
  repositoryId: number;
  tagEvents: RecordedTagEvent[];
  repositoryEvents: RecordedRepositoryEvent[];
  /** Settings before this observation (null for a new repository). */
  previousProtection: ProtectionSettings | null;
  protection: ProtectionSettings;
  /** Every present tag after this observation (empty for a repository gone). */
  tags: CurrentTagState[];
  /** The repository's chain head after this change, or null when it recorded no event. */
  chainHead: string | null;
}

interface KnownTagRow extends KnownTag {
  mediaType: string | null;
  /** ISO 8601 with milliseconds, as `toISOString` writes it. */
  pushedAt: string | null;
  protected: boolean;
  protectionReason: string;
  extra: string | null;
}

/** One observed tag as its row stores it. */
interface ObservedRow {
  name: string;
  digest: string;
  mediaType: string | null;
  pushedAt: string | null;
  present: boolean;
  protected: boolean;
  reason: string;
  /** Evidence as stable JSON (sorted keys), or null. */
  extra: string | null;
}

function observedRow(t: TagObservation, v: ProtectionVerdict): ObservedRow {
  return {
    name: t.tag,
    digest: t.digest,
    mediaType: t.mediaType,
    pushedAt: t.pushedAt ? t.pushedAt.toISOString() : null,
    present: true,
    protected: v.protected,
    reason: v.reason,
    extra: t.extra ? evidenceJson(t.extra) : null,
  };
}

/**
 * stableJson of a tag's evidence. Collectors give small flat objects; those are written directly
 * (same text as stableJson: keys sorted, undefined members left out), anything nested the general way.
 */
function evidenceJson(extra: Record<string, unknown>): string {
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) return stableJson(extra);
  const keys = Object.keys(extra).sort();
  let out = '{';
  for (const k of keys) {
    const v = extra[k];
    if (v === undefined) continue;
    if (v !== null && typeof v === 'object') return stableJson(extra);
    const text = JSON.stringify(v);
    if (text === undefined) return stableJson(extra);
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(k)}:${text}`;
  }
  return `${out}}`;
}

/**
 * `repositories.state_hash`: sha256 over what a tag row stores for every observed tag, whatever
 * the order of the tags. Equal hashes mean the observation would write no tag row and record no tag
 * event. This runs for every tag of every re-scan, so it is built to be cheap: it reads the tags as
 * columns (collectors/columns.ts), in name order, and hashes each column after its label and
 * length so that no column can run into the next. Text columns are JSON arrays (JSON delimits and
 * escapes every value, so the text is unambiguous whatever the tags hold): names, and the tables
 * of the repository's distinct media types and protection reasons; digests too, unless all have
 * one length and the text is well-formed, when they go in end to end after that length. Numbers
 * go in as their 8-byte or 4-byte binary form rather than as text: media type and reason as
 * indexes into those tables, the protected flag, whether the tag has evidence, and pushed-at in
 * epoch milliseconds (no date: NaN). Then the evidence, as the stored evidence keeps it (members sorted by name,
 * undefined members left out): per member that some tag has, which tags have it, then their
 * values (evidenceColumn). Values the stored evidence cannot tell
 * apart (NaN and null, -0 and 0) may hash differently, as may nested objects with their keys in
 * another order: that costs one full comparison, never a missed change. The `v6:` prefix names
 * this encoding; a stored hash of another encoding never matches, which costs that repository one
 * full comparison.
 */
export function tagStateHash(tags: readonly TagObservation[], verdicts: readonly ProtectionVerdict[]): string {
  const c = columnsOf(tags);
  return stateHashOf(c, verdicts, nameOrder(c.names));
}

/** Indexes of the tags in name order. Registries often list in that order already: checked first. */
function nameOrder(names: readonly string[]): number[] {
  const n = names.length;
  const order: number[] = new Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    order[i] = i;
    if (sorted && i > 0 && names[i - 1] > names[i]) sorted = false;
  }
  if (sorted) return order;
  // Sorting the names themselves (the built-in order is the code-unit order `<` compares by) and
  // finding each one's index again costs about two thirds of sorting indexes with a comparator.
  // Names listed twice cannot be found that way: they take the comparator.
  const at = new Map<string, number>();
  for (let i = 0; i < n; i++) at.set(names[i], i);
  if (at.size !== n) return order.sort((a, b) => (names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0));
  const byName = names.slice().sort();
  for (let k = 0; k < n; k++) order[k] = at.get(byName[k])!;
  return order;
}

function stateHashOf(c: TagColumns, verdicts: readonly ProtectionVerdict[], order: readonly number[]): string {
  const n = c.count;
  const names: string[] = new Array(n);
  const digests: string[] = new Array(n);
  /** The length every digest has (the usual case: one algorithm per registry), or -1. */
  let digestLength = n > 0 ? c.digests[order[0]].length : 0;
  /** Per tag: media type index (-1: none), protected (0/1), reason index, has evidence (0/1). */
  const small = new Int32Array(4 * n);
  const pushedAt = new Float64Array(n);
  const mediaTypeIds = new Map<string, number>();
  const reasonIds = new Map<string, number>();
  // Most tags of a repository share their media type and protection reason with the tag before.
  let lastMediaType: string | null = null;
  let lastMediaTypeId = -1;
  let lastReason: string | null = null;
  let lastReasonId = -1;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    const v = verdicts[i];
    names[k] = c.names[i];
    const digest = c.digests[i];
    digests[k] = digest;
    if (digest.length !== digestLength) digestLength = -1;
    const mediaType = c.mediaTypes[i];
    let mt = -1;
    if (mediaType !== null) {
      if (mediaType === lastMediaType) mt = lastMediaTypeId;
      else {
        mt = mediaTypeIds.get(mediaType) ?? -1;
        if (mt < 0) mediaTypeIds.set(mediaType, (mt = mediaTypeIds.size));
        lastMediaType = mediaType;
        lastMediaTypeId = mt;
      }
    }
    let reason = lastReasonId;
    if (v.reason !== lastReason) {
      reason = reasonIds.get(v.reason) ?? -1;
      if (reason < 0) reasonIds.set(v.reason, (reason = reasonIds.size));
      lastReason = v.reason;
      lastReasonId = reason;
    }
    const at = 4 * k;
    small[at] = mt;
    small[at + 1] = v.protected ? 1 : 0;
    small[at + 2] = reason;
    small[at + 3] = c.hasExtra[i] ? 1 : 0;
    pushedAt[k] = c.pushedAt[i];
  }
  const state = createHash('sha256');
  const put = (label: string, data: string | Uint8Array) => {
    state.update(`${label}:${data.length}\n`);
    state.update(data);
  };
  put('names', JSON.stringify(names));
  // Digests of one length are hashed end to end (no quotes, no commas): the length cuts them
  // apart again. UTF-8 tells well-formed strings apart; anything else goes in as JSON, which
  // escapes lone surrogates.
  const joined = digestLength > 0 ? digests.join('') : null;
  if (joined !== null && joined.isWellFormed()) put(`digests/${digestLength}`, joined);
  else put('digests', JSON.stringify(digests));
  put('mediaTypes', JSON.stringify([...mediaTypeIds.keys()]));
  put('reasons', JSON.stringify([...reasonIds.keys()]));
  put('small', new Uint8Array(small.buffer));
  put('pushedAt', new Uint8Array(pushedAt.buffer));
  const members = c.members.map((name, m) => ({ name, m })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { name, m } of members) evidenceColumn(put, name, c, m, order);
  return `v6:${state.digest('hex')}`;
}

/**
 * One evidence member, in name order: which tags have it, then their values. Numbers in binary,
 * strings (the common case: a status, a media type) as a table of the distinct ones and an index
 * per tag, anything else (or a mix) as JSON. Nothing when no tag has the member.
 */
function evidenceColumn(put: (label: string, data: string | Uint8Array) => void, name: string, c: TagColumns, m: number, order: readonly number[]): void {
  const n = c.count;
  const column = c.extra[m];
  const has = new Uint8Array(n);
  let count = 0;
  let numbers = true;
  let strings = true;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    const v = column[i];
    if (v === undefined || !c.hasExtra[i]) continue;
    has[k] = 1;
    count++;
    if (typeof v !== 'number') numbers = false;
    if (typeof v !== 'string') strings = false;
  }
  if (!count) return;
  put('member', JSON.stringify(name));
  put('has', has);
  if (numbers) {
    const values = new Float64Array(count);
    for (let k = 0, j = 0; k < n; k++) if (has[k]) values[j++] = column[order[k]] as number;
    return put('numbers', new Uint8Array(values.buffer));
  }
  if (!strings) {
    const values: unknown[] = [];
    for (let k = 0; k < n; k++) if (has[k]) values.push(column[order[k]]);
    return put('json', JSON.stringify(values));
  }
  const ids = new Map<string, number>();
  const index = new Int32Array(count);
  let last: string | null = null;
  let lastId = -1;
  for (let k = 0, j = 0; k < n; k++) {
    if (!has[k]) continue;
    const v = column[order[k]] as string;
    if (v !== last) {
      lastId = ids.get(v) ?? -1;
      if (lastId < 0) ids.set(v, (lastId = ids.size));
      last = v;
    }
    index[j++] = lastId;
  }
  put('strings', JSON.stringify([...ids.keys()]));
  put('index', new Uint8Array(index.buffer));
}

/**
 * The snapshot's `tagsHash` (tagMapHash: sha256 over the sorted `tag digest` lines), from the name
 * order the state hash used: for tags without spaces or control characters, ordering by tag is
 * ordering by line. Anything unusual (such characters, a tag listed twice) takes tagMapHash itself.
 */
function tagsHashOf(c: TagColumns, order: readonly number[]): string {
  let text = '';
  let previous: string | null = null;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    const tag = c.names[i];
    if (tag === previous || !PLAIN.test(tag)) return tagMapHash(c.names.map((t, j) => ({ tag: t, digest: c.digests[j] })));
    previous = tag;
    text += tag + ' ' + c.digests[i] + '\n';
  }
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** No spaces or control characters: what registries allow in tags anyway. */
const PLAIN = /^[^\x00-\x20]+$/;

/** The registry's answer for a repository failed its check; nothing of it was written. */
export class InvalidObservationError extends Error {
  constructor(
    readonly repository: string,
    readonly problem: string,
  ) {
    super(problem);
    this.name = 'InvalidObservationError';
  }
}

/** An observation with its per-tag protection verdicts and its hashes, computed once. */
export interface PreparedObservation {
  observation: RepositoryObservation;
  /** The tags as the hashes read them (the observation's own columns, or built from its tags). */
  columns: TagColumns;
  /** How many tags: `columns.count`, without building the observation's tag objects. */
  count: number;
  /** Per tag, in the columns' order. */
  verdicts: ProtectionVerdict[];
  stateHash: string;
  /** The snapshot's tagsHash, computed when first read. */
  readonly tagsHash: string;
}

export function prepareObservation(obs: RepositoryObservation): PreparedObservation {
  const columns = tagColumns(obs);
  const verdictOf = protectionEvaluator(obs.protection as ProtectionSettings);
  const verdicts: ProtectionVerdict[] = new Array(columns.count);
  for (let i = 0; i < columns.count; i++) verdicts[i] = verdictOf(columns.names[i]);
  const order = nameOrder(columns.names);
  return new Prepared(obs, columns, verdicts, stateHashOf(columns, verdicts, order), order);
}

/**
 * A class rather than an object literal whose getter closes over the columns: with the literal, a
 * re-scan's columns outlived the young generation, repository after repository (measured in one
 * process on L x0.2: 1.08 MB promoted per scavenge with the literal, 0.22 MB with the class;
 * compare columns.ts).
 */
class Prepared implements PreparedObservation {
  readonly count: number;
  #tagsHash: string | null = null;
  constructor(
    readonly observation: RepositoryObservation,
    readonly columns: TagColumns,
    readonly verdicts: ProtectionVerdict[],
    readonly stateHash: string,
    private readonly order: readonly number[],
  ) {
    this.count = columns.count;
  }
  /** Computed when first asked: an unchanged repository's snapshot takes its last snapshot's. */
  get tagsHash(): string {
    return (this.#tagsHash ??= tagsHashOf(this.columns, this.order));
  }
}

/** A repository's row as an observation is compared with it. */
export interface StoredRepository {
  id: number;
  protection: unknown;
  pullReference: string;
  rawSettings: unknown;
  gone: boolean;
  chainSeq: number;
  chainHead: string | null;
  stateHash: string | null;
  /**
   * The tagsHash of the repository's latest snapshot (null: none). The snapshot written with a
   * state hash is written with the tag map it hashes, and a scan writes the two together, so while
   * the state hash stays the same this is the tag map's hash: an unchanged repository's new snapshot
   * takes it instead of hashing its tags again.
   */
  lastTagsHash: string | null;
}

const STORED_COLUMNS = sql.raw(
  `id, name, protection, pull_reference, raw_settings, gone_at IS NOT NULL AS gone, chain_seq::text AS chain_seq, chain_head, state_hash,
   (SELECT s.tags_hash FROM repository_snapshots s WHERE s.repository_id = repositories.id ORDER BY s.scan_id DESC LIMIT 1) AS last_tags_hash`,
);

interface StoredRow {
  id: number;
  name: string;
  protection: unknown;
  pull_reference: string;
  raw_settings: unknown;
  gone: boolean;
  chain_seq: string;
  chain_head: string | null;
  state_hash: string | null;
  last_tags_hash: string | null;
}

function storedRepository(row: StoredRow): StoredRepository {
  return {
    id: Number(row.id),
    protection: row.protection,
    pullReference: row.pull_reference,
    rawSettings: row.raw_settings,
    gone: row.gone,
    chainSeq: Number(row.chain_seq),
    chainHead: row.chain_head,
    stateHash: row.state_hash,
    lastTagsHash: row.last_tags_hash,
  };
}

/** The repository's row, or null when the target has no repository of that name yet. */
export async function loadStoredRepository(db: Database, targetId: string, name: string): Promise<StoredRepository | null> {
  // A plain query: every repository of every scan runs it (see loadKnownTags).
  const found = (await db.execute(sql`SELECT ${STORED_COLUMNS} FROM repositories WHERE target_id = ${targetId} AND name = ${name}`)) as unknown as { rows: StoredRow[] };
  const row = found.rows[0];
  return row ? storedRepository(row) : null;
}

/**
 * Every repository row of a target, by name, in one query: what a scan of the whole target reads
 * instead of one row per repository. A few hundred bytes per repository (settings and evidence).
 */
export async function loadStoredRepositories(db: Database, targetId: string): Promise<Map<string, StoredRepository>> {
  const found = (await db.execute(sql`SELECT ${STORED_COLUMNS} FROM repositories WHERE target_id = ${targetId}`)) as unknown as { rows: StoredRow[] };
  return new Map(found.rows.map((row) => [row.name, storedRepository(row)]));
}

/**
 * The stored row already says everything the observation says: same settings, evidence, pull
 * reference and state hash, and the repository is not marked gone. Recording it would write its
 * snapshot and nothing else (see snapshotOf and insertSnapshots).
 */
export function repositoryUnchanged(stored: StoredRepository, prepared: PreparedObservation): boolean {
  const obs = prepared.observation;
  return (
    !stored.gone &&
    stored.stateHash === prepared.stateHash &&
    stored.pullReference === obs.pullReference &&
    stableJson(stored.protection) === stableJson(obs.protection) &&
    stableJson(stored.rawSettings ?? null) === stableJson(obs.raw ?? null)
  );
}

/** What recording an observation returns when nothing in it is new (repositoryUnchanged). */
export function unchangedResult(stored: StoredRepository, prepared: PreparedObservation): RecordResult {
  const obs = prepared.observation;
  return {
    repositoryId: stored.id,
    tagEvents: [],
    repositoryEvents: [],
    previousProtection: stored.protection as ProtectionSettings,
    protection: obs.protection,
    tags: currentTags(prepared),
    chainHead: null,
  };
}

/** One `repository_snapshots` row. */
export interface SnapshotRow {
  repositoryId: number;
  scanId: number;
  observedAt: Date;
  tagCount: number;
  tagsHash: string;
  /** The settings as JSON text. */
  protection: string;
}

/** The snapshot row of an observation; `tagsHash` when already known (StoredRepository.lastTagsHash). */
export function snapshotOf(repositoryId: number, scanId: number, observedAt: Date, prepared: PreparedObservation, tagsHash?: string | null): SnapshotRow {
  const obs = prepared.observation;
  return { repositoryId, scanId, observedAt, tagCount: prepared.count, tagsHash: tagsHash ?? prepared.tagsHash, protection: JSON.stringify(obs.protection) };
}

/** Snapshot rows, any number of repositories, in one statement per CHUNK rows. */
export async function insertSnapshots(db: Database, rows: readonly SnapshotRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    const c = rows.slice(i, i + CHUNK);
    await db.execute(sql`
      INSERT INTO repository_snapshots (repository_id, scan_id, observed_at, tag_count, tags_hash, protection)
      SELECT u.repository_id, u.scan_id, u.observed_at, u.tag_count, u.tags_hash, u.protection
      FROM unnest(
        ${textArray(c, (r) => String(r.repositoryId))}::integer[],
        ${textArray(c, (r) => String(r.scanId))}::bigint[],
        ${textArray(c, (r) => r.observedAt.toISOString())}::timestamptz[],
        ${textArray(c, (r) => String(r.tagCount))}::integer[],
        ${textArray(c, (r) => r.tagsHash)}::text[],
        ${textArray(c, (r) => r.protection)}::jsonb[]
      ) AS u(repository_id, scan_id, observed_at, tag_count, tags_hash, protection)`);
  }
}

function currentTags(prepared: PreparedObservation): CurrentTagState[] {
  const { columns: c, verdicts } = prepared;
  const out: CurrentTagState[] = new Array(c.count);
  for (let i = 0; i < c.count; i++) out[i] = new ColumnTag(c, i, verdicts[i]);
  return out;
}

/**
 * Tag i of the prepared columns, each field read from them when asked: every re-scan hands every
 * tag to the finding rules, which read a name and a verdict of most and the evidence of few (see
 * audit/findings.ts). `extra` is built anew at each read.
 */
class ColumnTag implements CurrentTagState {
  constructor(
    private readonly c: TagColumns,
    private readonly i: number,
    private readonly verdict: ProtectionVerdict,
  ) {}
  get tag(): string {
    return this.c.names[this.i];
  }
  get digest(): string {
    return this.c.digests[this.i];
  }
  get protected(): boolean {
    return this.verdict.protected;
  }
  get reason(): string {
    return this.verdict.reason;
  }
  get extra(): Record<string, unknown> | null {
    return extraAt(this.c, this.i);
  }
}

export async function recordObservation(
  db: Database,
  p: {
    targetId: string;
    scanId: number;
    observedAt: Date;
    observation: RepositoryObservation;
    /** The observation prepared already (verdicts and hashes); computed here otherwise. */
    prepared?: PreparedObservation;
    /** The repository's row as read in this scan (null: it has none); read here otherwise. */
    stored?: StoredRepository | null;
    /**
     * Checks what the registry returned (see scheduler/validate.ts) and says what is wrong, or
     * null; it may drop repeated tags. Called only when the observation differs from the stored
     * state: an observation with the stored state hash is what an earlier check already passed.
     * A problem throws InvalidObservationError before anything is written.
     */
    validate?: (obs: RepositoryObservation) => string | null;
  },
): Promise<RecordResult> {
  const { observation: obs, observedAt, scanId } = p;
  const repoEvents: Array<Omit<RecordedRepositoryEvent, 'id'>> = [];
  let prepared = p.prepared?.observation === obs ? p.prepared : prepareObservation(obs);
  const existing = p.stored !== undefined ? p.stored : await loadStoredRepository(db, p.targetId, obs.repository);
  if (p.validate && existing?.stateHash !== prepared.stateHash) {
    const count = obs.tags.length;
    const problem = p.validate(obs);
    if (problem) throw new InvalidObservationError(obs.repository, problem);
    if (obs.tags.length !== count) prepared = prepareObservation(obs);
  }
  const { verdicts, stateHash } = prepared;

  let repositoryId: number;
  /** The repository row still says what it said: no need to write it. */
  let rowUnchanged = false;
  if (!existing) {
    const [row] = await db
      .insert(repositories)
      .values({ targetId: p.targetId, name: obs.repository, pullReference: obs.pullReference, firstSeenAt: observedAt, protection: obs.protection, rawSettings: obs.raw ?? null, stateHash })
      .returning({ id: repositories.id });
    repositoryId = row.id;
    repoEvents.push({ kind: 'discovered', before: null, after: obs.protection });
  } else {
    repositoryId = existing.id;
    if (existing.gone) repoEvents.push({ kind: 'back', before: null, after: null });
    const sameSettings = stableJson(existing.protection) === stableJson(obs.protection);
    if (!sameSettings) repoEvents.push({ kind: 'settings_changed', before: existing.protection, after: obs.protection });
    rowUnchanged = sameSettings && repositoryUnchanged(existing, prepared);
  }

  // Nothing stored per tag can differ when the state hash is the same and the repository was
  // neither gone nor re-configured: the tags are not read, compared or written.
  const tagsUnchanged = existing !== null && repoEvents.length === 0 && existing.stateHash === stateHash;
  let unsaved: RecordedTagEvent[] = [];
  if (!tagsUnchanged) {
    // A repository seen for the first time has no tag rows to read.
    const known = existing ? await loadKnownTags(db, repositoryId) : new Map<string, KnownTagRow>();
    const events = diffTags(known.values(), obs.tags);
    const observed = obs.tags.map((t, i) => observedRow(t, verdicts[i]));
    const byName = new Map(observed.map((r) => [r.name, r]));

    // Rows to write: new, moved, restored, or with changed protection / evidence.
    const upserts: UpsertRow[] = [];
    for (const o of observed) {
      const k = known.get(o.name);
      if (
        !k ||
        !k.present ||
        k.digest !== o.digest ||
        k.protected !== o.protected ||
        k.protectionReason !== o.reason ||
        k.mediaType !== o.mediaType ||
        k.pushedAt !== o.pushedAt ||
        k.extra !== o.extra
      ) {
        upserts.push(o);
      }
    }
    unsaved = events.map((e) => {
      const o = byName.get(e.tag);
      const k = o ? undefined : known.get(e.tag)!;
      return { kind: e.kind, tag: e.tag, digest: e.digest, previousDigest: e.previousDigest, protected: o ? o.protected : k!.protected, protectionReason: o ? o.reason : k!.protectionReason, id: 0 };
    });
    for (const e of unsaved) {
      if (e.kind === 'deleted') {
        const k = known.get(e.tag)!;
        upserts.push({ name: e.tag, digest: k.digest, mediaType: k.mediaType, pushedAt: k.pushedAt, present: false, protected: k.protected, reason: k.protectionReason, extra: k.extra });
      }
    }
    await upsertTags(db, repositoryId, observedAt, upserts, { fresh: !existing });
  }

  const previousSeq = existing?.chainSeq ?? 0;
  const chain: ChainContext = { cursor: new ChainCursor(previousSeq, existing?.chainHead ?? GENESIS), target: p.targetId, repository: obs.repository };
  const savedRepoEvents = await insertRepositoryEvents(db, repositoryId, scanId, observedAt, repoEvents, chain);
  const recorded = await insertTagEvents(db, repositoryId, scanId, observedAt, unsaved, chain);
  const chainMoved = chain.cursor.seq !== previousSeq;
  if (existing && (!rowUnchanged || chainMoved)) {
    // One write of the repository row: settings, evidence, presence, state hash and chain head.
    await db
      .update(repositories)
      .set({
        pullReference: obs.pullReference,
        protection: obs.protection,
        rawSettings: obs.raw ?? null,
        goneAt: null,
        stateHash,
        ...(chainMoved ? { chainSeq: chain.cursor.seq, chainHead: chain.cursor.head } : {}),
      })
      .where(eq(repositories.id, repositoryId));
  } else if (!existing && chainMoved) {
    await saveChainHead(db, repositoryId, chain, previousSeq);
  }
  const chainHead = chainMoved ? chain.cursor.head : null;
  await insertSnapshots(db, [snapshotOf(repositoryId, scanId, observedAt, prepared)]);
  return {
    repositoryId,
    tagEvents: recorded,
    repositoryEvents: savedRepoEvents,
    previousProtection: existing ? (existing.protection as ProtectionSettings) : null,
    protection: obs.protection,
    tags: currentTags(prepared),
    chainHead,
  };
}

async function insertRepositoryEvents(
  db: Database,
  repositoryId: number,
  scanId: number,
  observedAt: Date,
  events: Array<Omit<RecordedRepositoryEvent, 'id'>>,
  chain: ChainContext,
): Promise<RecordedRepositoryEvent[]> {
  const saved: RecordedRepositoryEvent[] = [];
  for (const e of events) {
    const link = chain.cursor.append({
      type: 'repository',
      target: chain.target,
      repository: chain.repository,
      kind: e.kind,
      before: e.before ?? null,
      after: e.after ?? null,
      observedAt: observedAt.toISOString(),
      scanId,
    });
    const [row] = await db
      .insert(repositoryEvents)
      .values({ repositoryId, scanId, kind: e.kind, before: e.before, after: e.after, observedAt, chainSeq: link.seq, hash: link.hash })
      .returning({ id: repositoryEvents.id });
    saved.push({ id: row.id, ...e });
  }
  return saved;
}

/**
 * Marks a repository gone (a complete catalog listing no longer has it): a `gone` repository event
 * and a `deleted` event for each tag it still had.
 */
export async function recordRepositoryGone(
  db: Database,
  p: { repositoryId: number; scanId: number; observedAt: Date },
): Promise<RecordResult> {
  const known = await loadKnownTags(db, p.repositoryId);
  const events = repositoryGoneEvents(known.values());
  const unsaved = events.map((e): RecordedTagEvent => {
    const k = known.get(e.tag)!;
    return { ...e, protected: k.protected, protectionReason: k.protectionReason, id: 0 };
  });
  const [repo] = await db
    .select({ protection: repositories.protection, name: repositories.name, targetId: repositories.targetId, chainSeq: repositories.chainSeq, chainHead: repositories.chainHead })
    .from(repositories)
    .where(eq(repositories.id, p.repositoryId));
  await db
    .update(tags)
    .set({ present: false, changedAt: p.observedAt })
    .where(and(eq(tags.repositoryId, p.repositoryId), eq(tags.present, true)));
  const chain: ChainContext = { cursor: new ChainCursor(repo.chainSeq, repo.chainHead ?? GENESIS), target: repo.targetId, repository: repo.name };
  const recorded = await insertTagEvents(db, p.repositoryId, p.scanId, p.observedAt, unsaved, chain);
  await db.update(repositories).set({ goneAt: p.observedAt, stateHash: null }).where(eq(repositories.id, p.repositoryId));
  const saved = await insertRepositoryEvents(db, p.repositoryId, p.scanId, p.observedAt, [{ kind: 'gone', before: null, after: null }], chain);
  await saveChainHead(db, p.repositoryId, chain, repo.chainSeq);
  const protection = repo.protection as ProtectionSettings;
  return { repositoryId: p.repositoryId, tagEvents: recorded, repositoryEvents: saved, previousProtection: protection, protection, tags: [], chainHead: chain.cursor.head };
}

/** Repositories of a target that are not gone: candidates for "gone" after a complete listing. */
export async function liveRepositories(db: Database, targetId: string): Promise<Array<{ id: number; name: string }>> {
  return db
    .select({ id: repositories.id, name: repositories.name })
    .from(repositories)
    .where(and(eq(repositories.targetId, targetId), sql`${repositories.goneAt} IS NULL`));
}

/**
 * The stored rows of a repository's tags, as text the comparison can use directly: pushed-at in the
 * form `toISOString` writes, evidence normalised as new evidence is serialised. A plain query: the
 * query builder's per-row mapping costs more than the query for repositories of thousands of tags.
 */
async function loadKnownTags(db: Database, repositoryId: number): Promise<Map<string, KnownTagRow>> {
  const res = (await db.execute(sql`
    SELECT name, digest, present, media_type, protected, protection_reason, extra::text AS extra,
           to_char(pushed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS pushed_at
    FROM tags WHERE repository_id = ${repositoryId}`)) as unknown as {
    rows: Array<{ name: string; digest: string; present: boolean; media_type: string | null; protected: boolean; protection_reason: string; extra: string | null; pushed_at: string | null }>;
  };
  const map = new Map<string, KnownTagRow>();
  for (const r of res.rows) {
    map.set(r.name, {
      tag: r.name,
      digest: r.digest,
      present: r.present,
      mediaType: r.media_type,
      pushedAt: r.pushed_at,
      protected: r.protected,
      protectionReason: r.protection_reason,
      extra: r.extra === null ? null : evidenceJson(JSON.parse(r.extra) as Record<string, unknown>),
    });
  }
  return map;
}

type UpsertRow = ObservedRow;

/**
 * A PostgreSQL array literal (`{"a","b",NULL}`) of one field of `rows`, sent as one text parameter.
 * node-postgres would escape every element with two regular expressions; a first scan sends millions.
 * https://www.postgresql.org/docs/15/arrays.html#ARRAYS-IO
 */
function textArray<T>(rows: readonly T[], field: (row: T) => string | null): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) {
    const v = field(rows[i]);
    if (i) out += ',';
    if (v === null) out += 'NULL';
    else out += `"${v.includes('"') || v.includes('\\') ? v.replace(/["\\]/g, '\\$&') : v}"`;
  }
  return `${out}}`;
}

function booleanArray<T>(rows: readonly T[], field: (row: T) => boolean): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) out += `${i ? ',' : ''}${field(rows[i]) ? 't' : 'f'}`;
  return `${out}}`;
}

const CHUNK = 5000;

/**
 * Writes tag rows. `fresh`: the repository was created in this transaction, so no row can exist
 * yet and a plain INSERT does (no conflict handling).
 */
async function upsertTags(db: Database, repositoryId: number, at: Date, rows: UpsertRow[], opts: { fresh: boolean }): Promise<void> {
  const conflict = opts.fresh
    ? sql``
    : sql`ON CONFLICT (repository_id, name) DO UPDATE SET
        digest = excluded.digest, media_type = excluded.media_type, pushed_at = excluded.pushed_at,
        changed_at = excluded.changed_at, present = excluded.present, protected = excluded.protected,
        protection_reason = excluded.protection_reason, extra = excluded.extra`;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const c = rows.slice(i, i + CHUNK);
    await db.execute(sql`
      INSERT INTO tags (repository_id, name, digest, media_type, pushed_at, first_seen_at, changed_at, present, protected, protection_reason, extra)
      SELECT ${repositoryId}, u.name, u.digest, u.media_type, u.pushed_at, ${at.toISOString()}::timestamptz, ${at.toISOString()}::timestamptz,
             u.present, u.protected, u.reason, u.extra
      FROM unnest(
        ${textArray(c, (r) => r.name)}::text[],
        ${textArray(c, (r) => r.digest)}::text[],
        ${textArray(c, (r) => r.mediaType)}::text[],
        ${textArray(c, (r) => r.pushedAt)}::timestamptz[],
        ${booleanArray(c, (r) => r.present)}::boolean[],
        ${booleanArray(c, (r) => r.protected)}::boolean[],
        ${textArray(c, (r) => r.reason)}::text[],
        ${textArray(c, (r) => r.extra)}::jsonb[]
      ) AS u(name, digest, media_type, pushed_at, present, protected, reason, extra)
      ${conflict}`);
  }
}

async function insertTagEvents(
  db: Database,
  repositoryId: number,
  scanId: number,
  at: Date,
  events: RecordedTagEvent[],
  chain: ChainContext,
): Promise<RecordedTagEvent[]> {
  // Each event gets its row id in place: the same objects are returned.
  const observedAt = at.toISOString();
  for (let i = 0; i < events.length; i += CHUNK) {
    const c = events.slice(i, i + CHUNK);
    const links = c.map((e) =>
      chain.cursor.append({
        type: 'tag',
        target: chain.target,
        repository: chain.repository,
        tag: e.tag,
        kind: e.kind,
        digest: e.digest,
        previousDigest: e.previousDigest,
        protected: e.protected,
        protectionReason: e.protectionReason,
        observedAt,
        scanId,
      }),
    );
    const res = (await db.execute(sql`
      INSERT INTO tag_events (repository_id, tag, kind, digest, previous_digest, protected, protection_reason, observed_at, scan_id, chain_seq, hash)
      SELECT ${repositoryId}, u.tag, u.kind, u.digest, u.previous_digest, u.protected, u.reason, ${observedAt}::timestamptz, ${scanId}, u.seq, u.hash
      FROM unnest(
        ${textArray(c, (e) => e.tag)}::text[],
        ${textArray(c, (e) => e.kind)}::text[],
        ${textArray(c, (e) => e.digest)}::text[],
        ${textArray(c, (e) => e.previousDigest)}::text[],
        ${booleanArray(c, (e) => e.protected)}::boolean[],
        ${textArray(c, (e) => e.protectionReason)}::text[],
        ${textArray(links, (l) => String(l.seq))}::bigint[],
        ${textArray(links, (l) => l.hash)}::text[]
      ) AS u(tag, kind, digest, previous_digest, protected, reason, seq, hash)
      ORDER BY u.seq
      RETURNING id, tag`)) as unknown as { rows: Array<{ id: string | number; tag: string }> };
    // Each tag appears once per batch of events, so ids map back by tag.
    const ids = new Map(res.rows.map((r) => [r.tag, Number(r.id)]));
    for (const e of c) e.id = ids.get(e.tag)!;
  }
  return events;
}
