import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { freshPostgres, startedServe } from '../helpers/serve.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { openDatabase, type OpenDatabase } from '../../src/store/db.js';
import { repositories, repositorySnapshots, scans } from '../../src/store/schema/index.js';
import { currentTags } from '../../src/store/queries/tags.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tagledger-serve-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function config(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('tagledger serve: SIGTERM in the middle of a scan', () => {
  let registry: OciEmulator;
  let pgdb: { url: string; drop(): Promise<void> } | null = null;

  beforeAll(async () => {
    registry = await startOciEmulator();
    for (const tag of ['latest', '1.0.0']) registry.pushImage('a/fast', tag);
    for (const tag of ['latest', '2.0.0', '2.0.1']) registry.pushImage('b/slow', tag);
    // The slow repository's tag list takes long: the scan is in flight when the signal comes.
    registry.faults.add({ match: /^GET \/v2\/b\/slow\/tags\/list/, delayMs: 20_000 });
    if (process.env.DATABASE_URL) pgdb = await freshPostgres('tagledger_serve');
  });
  afterAll(async () => {
    await registry?.close();
    await pgdb?.drop();
  });

  it('aborts the scan, keeps whole repositories only, and exits 0', async () => {
    const pglite = join(dir, 'pglite');
    const file = config(
      'sigterm.yaml',
      `${pgdb ? '' : `database:\n  path: ${JSON.stringify(pglite)}\n`}api:\n  listen: 127.0.0.1:0\n` +
        `targets:\n  - id: local\n    kind: oci\n    url: ${registry.url}\n    schedule: "* * * * * *"\n    jitter: 0s\n`,
    );
    const serve = await startedServe(file, { DATABASE_URL: pgdb?.url ?? '' });
    await serve.waitForLog((l) => l.msg === 'scan started');
    // Wait until the fast repository is stored (read through the API) and the slow one is being read.
    for (;;) {
      const res = await fetch(`${serve.url()}/api/v1/repositories`);
      const names = ((await res.json()) as { items: Array<{ name: string }> }).items.map((r) => r.name);
      if (names.includes('a/fast') && registry.faults.requests.some((r) => r.startsWith('GET /v2/b/slow/tags/list'))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Ticks keep coming every second while the scan runs: each is skipped as an overlap.
    await serve.waitForLog((l) => l.reason === 'overlap');

    expect(await serve.stop('SIGTERM')).toBe(0);
    expect(serve.logs.some((l) => l.msg === 'stopped')).toBe(true);
    expect(serve.other.filter((l) => /error/i.test(l))).toEqual([]);

    const database: OpenDatabase = await openDatabase(pgdb ? { kind: 'postgres', url: pgdb.url } : { kind: 'pglite', path: pglite });
    try {
      const db = database.db;
      const rows = await db.select().from(scans);
      expect(rows.map((s) => s.status)).toEqual(['aborted']);
      // Whole repositories or nothing: the fast one with every tag and its snapshot, the slow one absent.
      const repos = await db.select().from(repositories);
      expect(repos.map((r) => r.name)).toEqual(['a/fast']);
      expect((await currentTags(db, { targetId: 'local', repository: 'a/fast' })).map((t) => t.tag)).toEqual(['1.0.0', 'latest']);
      const [snapshot] = await db.select().from(repositorySnapshots).where(eq(repositorySnapshots.repositoryId, repos[0].id));
      expect(snapshot.tagCount).toBe(2);
    } finally {
      await database.close();
    }
  });
});
