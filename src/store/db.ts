/**
 * Opens the database: embedded PGlite (the default, one process at a time) or PostgreSQL through
 * `pg`. Both get the same drizzle schema and the same migrations.
 */
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as schema from './schema/index.js';
import { acquireDirectoryLock, type DirectoryLock } from './dir-lock.js';
import { backfillChains } from './queries/chain.js';

export { schema };

/** A database or a transaction: every query function takes one of these first. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DatabaseTarget = { kind: 'postgres'; url: string } | { kind: 'pglite'; path: string | null /* null: in memory */ };

export interface OpenDatabase {
  db: Database;
  target: DatabaseTarget;
  /** Where the data lives, without credentials, for messages. */
  description: string;
  close(): Promise<void>;
}

export const migrationsFolder = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

/** Precedence: env DATABASE_URL > database.url > database.path > ./data/pglite. */
export function resolveDatabaseTarget(config: { url?: string; path?: string } | undefined, env = process.env): DatabaseTarget {
  const url = env.DATABASE_URL?.trim() || config?.url?.trim();
  if (url) return { kind: 'postgres', url };
  return { kind: 'pglite', path: config?.path ?? './data/pglite' };
}

export function describeDatabase(target: DatabaseTarget): string {
  if (target.kind === 'pglite') return target.path ? `PGlite at ${target.path}` : 'PGlite in memory';
  try {
    const u = new URL(target.url);
    return `PostgreSQL at ${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'PostgreSQL (unparseable URL)';
  }
}

export interface OpenOptions {
  /** Apply pending migrations (guarded by an advisory lock on PostgreSQL). Default true. */
  migrate?: boolean;
  /** Named in the PGlite lock file so a second process can say who holds it. */
  purpose?: string;
  maxConnections?: number;
}

export async function openDatabase(target: DatabaseTarget, opts: OpenOptions = {}): Promise<OpenDatabase> {
  const description = describeDatabase(target);
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: target.url, max: opts.maxConnections ?? 10 });
    // An idle client's error (server restart) must not crash the process; queries report it.
    pool.on('error', () => {});
    // Nor may a checked-out one's: the pool listens to idle clients only, and a server closing the
    // connection between two statements of a transaction would otherwise be an uncaught exception.
    // The next query on that client fails, and the transaction with it.
    pool.on('connect', (client) => {
      client.on('error', () => {});
      releaseOnFailedBegin(client);
    });
    const db = drizzlePg(pool, { schema }) as unknown as Database;
    try {
      if (opts.migrate !== false) await migratePostgres(pool);
    } catch (err) {
      await pool.end();
      throw new DatabaseError(`cannot prepare ${description}: ${errorText(err)}`);
    }
    return { db, target, description, close: () => pool.end() };
  }

  let lock: DirectoryLock | null = null;
  let client: PGlite;
  if (target.path) {
    const dir = resolve(target.path);
    mkdirSync(dirname(dir), { recursive: true });
    lock = acquireDirectoryLock(`${dir}.lock`, target.path, opts.purpose ?? 'tagledger');
    try {
      client = new PGlite(dir);
      await client.waitReady;
    } catch (err) {
      lock.release();
      throw new DatabaseError(`cannot open ${description}: ${errorText(err)}`);
    }
  } else {
    client = new PGlite();
    await client.waitReady;
  }
  const db = drizzlePglite(client, { schema }) as unknown as Database;
  try {
    if (opts.migrate !== false) {
      await migratePglite(db as never, { migrationsFolder });
      await backfillChains(db);
    }
  } catch (err) {
    await client.close();
    lock?.release();
    throw new DatabaseError(`cannot migrate ${description}: ${errorText(err)}`);
  }
  return {
    db,
    target,
    description,
    close: async () => {
      await client.close();
      lock?.release();
    },
  };
}

/**
 * drizzle-orm (0.45) sends a transaction's `begin` before its try/finally
 * (node_modules/drizzle-orm/node-postgres/session.js, `NodePgSession.transaction`): when `begin`
 * fails, because the server went away after the client was handed out, the client is never given
 * back. Each such failure would cost the pool a connection for good (until nothing is left), and
 * `end()` would wait for it for ever. The client is released here instead, marked broken.
 */
function releaseOnFailedBegin(client: pg.PoolClient): void {
  const query = client.query as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: pg.PoolClient, ...args: unknown[]) {
    const result = query.apply(this, args);
    const first = args[0] as string | { text?: unknown } | undefined;
    const text = typeof first === 'string' ? first : typeof first?.text === 'string' ? first.text : '';
    if (!/^\s*begin\b/i.test(text) || !(result instanceof Promise)) return result;
    return result.catch((err: unknown) => {
      try {
        this.release(err instanceof Error ? err : new Error(String(err)));
      } catch {
        /* released already */
      }
      throw err;
    });
  };
}

/** Key of the advisory lock that serialises migrations across replicas. */
const MIGRATION_LOCK_KEY = 7_246_101;

async function migratePostgres(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await migratePg(drizzlePg(client), { migrationsFolder });
      // Under the same lock, so replicas starting together never chain the same rows twice.
      await backfillChains(drizzlePg(client, { schema }) as unknown as Database);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    try {
      client.release();
    } catch {
      /* a failed `begin` released it already (see releaseOnFailedBegin) */
    }
  }
}

/** True when the migrations table exists and every shipped migration is applied. */
export async function isMigrated(db: Database): Promise<boolean> {
  const { readFileSync } = await import('node:fs');
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
  try {
    const res = await db.execute(sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
    return Number(((res as unknown as { rows: Array<{ n: number }> }).rows[0]).n) >= journal.entries.length;
  } catch {
    return false;
  }
}

export class DatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseError';
  }
}

function errorText(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err) {
    const msg = String((err as Error).message);
    // pg puts the connection string nowhere in messages, but be sure no password slips through.
    return msg.replace(/:\/\/[^@\s]*@/g, '://***@');
  }
  return String(err);
}

/** The underlying client, for the few things drizzle does not model (session advisory locks). */
export function rawClient(db: Database): pg.Pool | PGlite {
  return (db as unknown as { $client: pg.Pool | PGlite }).$client;
}
