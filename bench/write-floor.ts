/**
 * The write floor: `COPY` of the estate's rows into empty tables of the product's own shape (the
 * migrations of a fresh database: `tags` with its key, `tag_events` with its indexes), one `created`
 * event per tag. What storing a first scan costs at the least.
 *
 * PostgreSQL: `COPY ... FROM STDIN` driven through node-postgres's own copy-in messages (the small
 * submittable below does what pg-copy-streams does; that package is not a dependency).
 * PGlite: `COPY ... FROM '/dev/blob'` with the file as a Blob, PGlite's documented way to COPY.
 * https://www.postgresql.org/docs/15/sql-copy.html
 * https://pglite.dev/docs/api#blob
 */
import { createReadStream, openAsBlob } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { openDatabase, rawClient, type DatabaseTarget } from '../src/store/db.js';

const TAG_COLUMNS = 'repository_id, name, digest, media_type, pushed_at, first_seen_at, changed_at, present, protected, protection_reason, extra';
const EVENT_COLUMNS = 'repository_id, tag, kind, digest, previous_digest, protected, protection_reason, observed_at, scan_id, chain_seq, hash';
const REPOSITORY_COLUMNS = 'target_id, name, pull_reference, first_seen_at, protection';

interface PgConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
  stream: NodeJS.WritableStream & { writableNeedDrain?: boolean };
}

/** A node-postgres submittable that streams a file into `COPY ... FROM STDIN`. */
class CopyFromFile {
  callback?: (err: Error | null, result?: CopyFromFile) => void;
  rowCount = 0;
  private error: Error | null = null;

  constructor(
    readonly text: string,
    private readonly path: string,
  ) {}

  submit(connection: PgConnection): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: PgConnection): void {
    void (async () => {
      try {
        for await (const chunk of createReadStream(this.path, { highWaterMark: 1 << 20 })) {
          connection.sendCopyFromChunk(chunk as Buffer);
          if (connection.stream.writableNeedDrain) await once(connection.stream, 'drain');
        }
        connection.endCopyFrom();
      } catch (err) {
        connection.sendCopyFail(err instanceof Error ? err.message : String(err));
      }
    })();
  }

  handleCommandComplete(msg: { text?: string }): void {
    this.rowCount = Number(/(\d+)$/.exec(msg.text ?? '')?.[1] ?? 0);
  }

  handleError(err: Error): void {
    this.error = err;
  }

  handleReadyForQuery(): void {
    this.callback?.(this.error, this);
  }

  handleEmptyQuery(): void {}
  handleCopyData(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
}

function copyPostgres(client: pg.Client, sql: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const q = new CopyFromFile(sql, path);
    q.callback = (err) => (err ? reject(err) : resolve(q.rowCount));
    void client.query(q as never);
  });
}

export interface WriteFloorResult {
  /** Time of the two COPYs (tags, then events), milliseconds. */
  ms: number;
  tags: number;
  events: number;
  method: string;
}

/**
 * Loads `dir` (written by the estate server) into the fresh, empty database `target`. Only the two
 * COPYs are timed; migrations and the repository rows they refer to are set up first.
 */
export async function writeFloor(target: DatabaseTarget, dir: string, targetIds: string[]): Promise<WriteFloorResult> {
  const open = await openDatabase(target, { migrate: true });
  try {
    const tagsFile = join(dir, 'tags.tsv');
    const eventsFile = join(dir, 'events.tsv');
    const setup = [
      `INSERT INTO targets (id, kind) VALUES ${targetIds.map((id) => `('${id}', 'bench')`).join(', ')}`,
      `INSERT INTO scans (target_id, status, started_at) VALUES ('${targetIds[0]}', 'running', now())`,
    ];
    if (target.kind === 'postgres') {
      const client = new pg.Client({ connectionString: target.url });
      await client.connect();
      try {
        for (const s of setup) await client.query(s);
        await copyPostgres(client, `COPY repositories (${REPOSITORY_COLUMNS}) FROM STDIN`, join(dir, 'repositories.tsv'));
        const started = performance.now();
        const tags = await copyPostgres(client, `COPY tags (${TAG_COLUMNS}) FROM STDIN`, tagsFile);
        const events = await copyPostgres(client, `COPY tag_events (${EVENT_COLUMNS}) FROM STDIN`, eventsFile);
        return { ms: performance.now() - started, tags, events, method: 'COPY FROM STDIN (node-postgres copy-in protocol)' };
      } finally {
        await client.end();
      }
    }
    const lite = rawClient(open.db) as PGlite;
    for (const s of setup) await lite.query(s);
    await lite.query(`COPY repositories (${REPOSITORY_COLUMNS}) FROM '/dev/blob'`, [], { blob: await openAsBlob(join(dir, 'repositories.tsv')) });
    const tagsBlob = await openAsBlob(tagsFile);
    const eventsBlob = await openAsBlob(eventsFile);
    const started = performance.now();
    const t = await lite.query(`COPY tags (${TAG_COLUMNS}) FROM '/dev/blob'`, [], { blob: tagsBlob });
    const e = await lite.query(`COPY tag_events (${EVENT_COLUMNS}) FROM '/dev/blob'`, [], { blob: eventsBlob });
    return { ms: performance.now() - started, tags: t.affectedRows ?? 0, events: e.affectedRows ?? 0, method: "COPY FROM '/dev/blob' (PGlite)" };
  } finally {
    await open.close();
  }
}
