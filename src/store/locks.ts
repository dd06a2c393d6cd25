/**
 * One scan of a target at a time. On PostgreSQL a session-level advisory lock held on a dedicated
 * connection for the scan's duration (so several replicas never scan the same target, and a crashed
 * process's lock dies with its connection); on PGlite, which one process owns, a lock in memory.
 */
import { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { rawClient, type Database } from './db.js';

export interface TargetLock {
  /**
   * Aborted when the lock is lost while held: the database connection that holds it broke (a
   * PostgreSQL restart, a network cut), and with it the lock. The holder must stop, since another
   * process may now take the target.
   */
  lost: AbortSignal;
  release(): Promise<void>;
}

export class TargetLockLostError extends Error {
  constructor(
    readonly targetId: string,
    cause: unknown,
  ) {
    super(`the lock on target "${targetId}" was lost with its database connection (${cause instanceof Error ? cause.message : String(cause)})`);
    this.name = 'TargetLockLostError';
  }
}

/** Namespace of tagledger's target locks (the first key of the two-key advisory lock). */
const TARGET_LOCK_CLASS = 7_246_102;
const heldInProcess = new Set<string>();

export async function tryLockTarget(db: Database, targetId: string): Promise<TargetLock | null> {
  const client = rawClient(db);
  if (client instanceof PGlite) return lockInProcess(`pglite:${targetId}`);
  const pool = client as pg.Pool;
  const conn = await pool.connect();
  try {
    const res = await conn.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [TARGET_LOCK_CLASS, targetId]);
    if (!res.rows[0].locked) {
      conn.release();
      return null;
    }
  } catch (err) {
    conn.release(err as Error);
    throw err;
  }
  const inProcess = lockInProcess(`pg:${targetId}`);
  if (!inProcess) {
    // The same process already holds it on another connection (cannot happen through runScan).
    await conn.query('SELECT pg_advisory_unlock($1, hashtext($2))', [TARGET_LOCK_CLASS, targetId]);
    conn.release();
    return null;
  }
  // The server closing this connection (a restart: `terminating connection due to administrator
  // command`) ends the lock with it; the holder is told, so that its scan stops.
  const lost = new AbortController();
  let broken: Error | null = null;
  const onError = (err: Error) => {
    broken = err;
    lost.abort(new TargetLockLostError(targetId, err));
  };
  conn.on('error', onError);
  return {
    lost: lost.signal,
    release: async () => {
      await inProcess.release();
      try {
        if (broken) throw broken;
        await conn.query('SELECT pg_advisory_unlock($1, hashtext($2))', [TARGET_LOCK_CLASS, targetId]);
        conn.off('error', onError);
        conn.release();
      } catch (err) {
        // A broken connection released the lock with it.
        conn.off('error', onError);
        conn.release(err as Error);
      }
    },
  };
}

function lockInProcess(key: string): TargetLock | null {
  if (heldInProcess.has(key)) return null;
  heldInProcess.add(key);
  return { lost: new AbortController().signal, release: async () => void heldInProcess.delete(key) };
}
