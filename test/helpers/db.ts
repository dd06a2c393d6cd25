/**
 * A fresh database for each test: PGlite in memory by default, or — when DATABASE_URL is set — a
 * new PostgreSQL database created on that server and dropped afterwards (a database rather than a
 * schema, since drizzle's migration journal is shared across schemas).
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { openDatabase, type Database } from '../../src/store/db.js';

export interface TestDatabase {
  db: Database;
  /** The URL of the fresh PostgreSQL database, or null on PGlite. */
  url: string | null;
  close(): Promise<void>;
}

export const onPostgres = Boolean(process.env.DATABASE_URL);

export async function openTestDatabase(): Promise<TestDatabase> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    const open = await openDatabase({ kind: 'pglite', path: null });
    return { db: open.db, url: null, close: open.close };
  }
  const name = `tagledger_test_${Date.now()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const open = await openDatabase({ kind: 'postgres', url: url.toString() });
  return {
    db: open.db,
    url: url.toString(),
    close: async () => {
      await open.close();
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
