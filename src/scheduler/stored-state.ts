/**
 * What a scan reads of a target's stored state, and the snapshot rows it writes for repositories
 * in which nothing changed.
 *
 * A scan of a whole target reads every repository row and every condition finding of the target
 * once, before its first repository, instead of two queries per repository; a limited scan (push
 * events name one or two repositories) reads them one repository at a time. Unchanged
 * repositories' snapshot rows are written a batch at a time, so a re-scan in which nothing changed
 * costs a handful of statements per target and none per repository.
 *
 * The target's lock keeps other scans from writing its repositories meanwhile. A finding changed
 * by hand while the scan runs may be compared in its earlier state; the next scan compares it again.
 */
import type { Database } from '../store/db.js';
import { insertSnapshots, loadStoredRepositories, loadStoredRepository, type SnapshotRow, type StoredRepository } from '../store/queries/observations.js';
import { loadRepositoryConditions, loadTargetConditions, type FindingRow } from '../store/queries/findings.js';

export class StoredState {
  /** Names whose preloaded row was handed out. */
  private readonly taken = new Set<string>();
  /** Names whose preloaded conditions were handed out, or may be stale: they are read again. */
  private readonly spent = new Set<string>();

  private constructor(
    private readonly db: Database,
    private readonly targetId: string,
    private readonly preloaded: { repositories: Map<string, StoredRepository>; conditions: Map<string, FindingRow[]> } | null,
  ) {}

  /** Every repository row and condition finding of the target, read now. */
  static async preload(db: Database, targetId: string): Promise<StoredState> {
    const repositories = await loadStoredRepositories(db, targetId);
    const conditions = await loadTargetConditions(db, targetId);
    return new StoredState(db, targetId, { repositories, conditions });
  }

  /** Read one repository at a time, when it is observed. */
  static onDemand(db: Database, targetId: string): StoredState {
    return new StoredState(db, targetId, null);
  }

  /**
   * The repository's row (null: the target has none of that name). The preloaded row is handed
   * out once; a repository listed twice is read from the database the second time, as written since.
   */
  async repository(name: string): Promise<StoredRepository | null> {
    if (this.preloaded && !this.taken.has(name)) {
      this.taken.add(name);
      const row = this.preloaded.repositories.get(name) ?? null;
      this.preloaded.repositories.delete(name);
      return row;
    }
    this.spent.add(name);
    return loadStoredRepository(this.db, this.targetId, name);
  }

  /**
   * The condition findings of a repository whose row was just read, whatever their status (see
   * loadRepositoryConditions): preloaded the first time, read from the database after.
   */
  async conditions(name: string): Promise<FindingRow[]> {
    if (this.preloaded && this.taken.has(name) && !this.spent.has(name)) {
      this.spent.add(name);
      const rows = this.preloaded.conditions.get(name) ?? [];
      this.preloaded.conditions.delete(name);
      return rows;
    }
    return loadRepositoryConditions(this.db, this.targetId, name);
  }
}

/** A snapshot row waiting for its batch, with what the scan counts once it is written. */
export interface PendingSnapshot {
  row: SnapshotRow;
  repository: string;
  tags: number;
}

/**
 * Snapshot rows of unchanged repositories, written `size` at a time. `flush` hands back the rows it
 * wrote or the error that kept them out, so that the scan counts each repository stored or failed.
 */
export class SnapshotBatch {
  private pending: PendingSnapshot[] = [];

  constructor(
    private readonly db: Database,
    readonly size = 256,
  ) {}

  /** True when the batch is full and should be flushed. */
  add(p: PendingSnapshot): boolean {
    this.pending.push(p);
    return this.pending.length >= this.size;
  }

  async flush(): Promise<{ written: PendingSnapshot[]; failed: PendingSnapshot[]; error: unknown }> {
    const rows = this.pending;
    this.pending = [];
    if (!rows.length) return { written: [], failed: [], error: null };
    try {
      await insertSnapshots(
        this.db,
        rows.map((p) => p.row),
      );
      return { written: rows, failed: [], error: null };
    } catch (error) {
      return { written: [], failed: rows, error };
    }
  }
}
