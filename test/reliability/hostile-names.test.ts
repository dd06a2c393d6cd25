/**
 * Repository and tag names a registry may hand over that try to break SQL, HTML or a spreadsheet:
 * quotes, a literal `%2F`, unicode, `<script>`, a formula, an SQL fragment, a 128-character tag. They
 * are stored and shown intact (the ledger, `history --json`, `findings list --json`), escaped in the
 * HTML report and defused in the CSV report, all through the real CLI. A tag name no registry may
 * carry is refused before it is stored, and the refusal breaks nothing either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { runScan } from '../../src/scheduler/run-scan.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { tagHistory } from '../../src/store/queries/history.js';
import { repositories } from '../../src/store/schema/index.js';
import type { TargetConfig } from '../../src/config/schema.js';
import { runCli } from '../helpers/cli.js';
import { onPostgres, openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { complete, digest, observed, scriptedCollector } from '../helpers/scripted-collector.js';
import type { RepositoryResult } from '../../src/collectors/types.js';

const HOSTILE = [`team/it's "quoted"`, 'team/a%2Fb', 'team/ünïcødé/名前', 'team/<script>alert(1)</script>', `=cmd|' /C calc'!A0`, `team/x'); DROP TABLE tags; --`];
const LONG_TAG = `v${'x'.repeat(127)}`;
const BAD_TAG = '<img src=x onerror=alert(1)>';
const target = { id: 'prod', kind: 'oci', url: 'http://127.0.0.1:1', insecureSkipTlsVerify: false } as TargetConfig;

let dir: string;
let config: string;
let env: NodeJS.ProcessEnv;
let pgdb: TestDatabase | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tagledger-hostile-'));
  const pglite = join(dir, 'pglite');
  config = join(dir, 'tagledger.yaml');
  writeFileSync(config, `${onPostgres ? '' : `database:\n  path: ${JSON.stringify(pglite)}\n`}targets: []\n`);
  let db: Database;
  let close: () => Promise<void>;
  if (onPostgres) {
    pgdb = await openTestDatabase();
    db = pgdb.db;
    close = async () => {};
  } else {
    const open = await openDatabase({ kind: 'pglite', path: pglite });
    db = open.db;
    close = open.close;
  }
  env = { DATABASE_URL: pgdb?.url ?? '' };
  const logger = pino({ level: 'silent' });
  const scan = (results: RepositoryResult[]) => runScan(db, target, { logger, collector: scriptedCollector('prod', results) });
  try {
    expect((await scan([...HOSTILE.map((r) => observed(r, { '1.0.0': 1, [LONG_TAG]: 1, latest: 1 })), complete])).status).toBe('succeeded');
    const second = await scan([...HOSTILE.map((r) => observed(r, { '1.0.0': 2, [LONG_TAG]: 1, latest: 1 })), observed('team/bad-tags', { [BAD_TAG]: 1 }), complete]);
    expect(second.status).toBe('partial');
    expect(second.errors).toEqual([{ repository: 'team/bad-tags', code: 'failed', message: `registry returned an invalid tag name ${JSON.stringify(BAD_TAG)}` }]);
    expect(second.events.moved).toBe(HOSTILE.length);

    // Stored intact; the SQL fragment broke nothing.
    const names = (await db.select({ name: repositories.name }).from(repositories)).map((r) => r.name).sort();
    expect(names).toEqual([...HOSTILE].sort());
    for (const repo of HOSTILE) {
      const tags = await currentTags(db, { targetId: 'prod', repository: repo });
      expect(tags.map((t) => [t.tag, t.digest])).toEqual([
        ['1.0.0', digest(2)],
        ['latest', digest(1)],
        [LONG_TAG, digest(1)],
      ]);
      expect((await tagHistory(db, { targetId: 'prod', repository: repo, tag: '1.0.0' })).map((e) => e.kind)).toEqual(['created', 'moved']);
    }
    const counted = (await db.execute(sql`SELECT count(*)::int AS n FROM tags`)) as unknown as { rows: Array<{ n: number }> };
    expect(Number(counted.rows[0].n)).toBe(HOSTILE.length * 3);
  } finally {
    await close();
  }
});

afterAll(async () => {
  await pgdb?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(['--config', config, ...args], { env });

/** RFC 4180, enough for the report: quoted fields with doubled quotes, CRLF rows. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      (row = []), (field = ''), i++;
    } else field += c;
  }
  return rows;
}

describe('hostile repository and tag names', () => {
  it('history --json shows each name and its 128-character tag exactly as the registry spelled them', async () => {
    for (const repo of [HOSTILE[0], HOSTILE[3], HOSTILE[4]]) {
      const r = await cli('history', `prod/${repo}:1.0.0`, '--json');
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { repository: string; tag: string; events: Array<{ kind: string }> };
      expect(out).toMatchObject({ target: 'prod', repository: repo, tag: '1.0.0' });
      expect(out.events.map((e) => e.kind)).toEqual(['created', 'moved']);
    }
    const long = await cli('history', `prod/${HOSTILE[2]}:${LONG_TAG}`, '--json');
    expect(long.code, long.stderr).toBe(0);
    expect(JSON.parse(long.stdout)).toMatchObject({ repository: HOSTILE[2], tag: LONG_TAG });
  });

  it('findings list --json carries every name intact', async () => {
    const r = await cli('findings', 'list', '--json');
    expect(r.code, r.stderr).toBe(0);
    const findings = (JSON.parse(r.stdout) as { findings: Array<{ repository: string | null; type: string; tag: string | null }> }).findings;
    const moved = findings.filter((f) => f.type === 'tag.moved');
    expect(moved.map((f) => f.repository).sort()).toEqual([...HOSTILE].sort());
    expect(moved.every((f) => f.tag === '1.0.0')).toBe(true);
  });

  it('the HTML report escapes them: no markup from a registry reaches the page', async () => {
    const file = join(dir, 'report.html');
    const r = await cli('report', '--format', 'html', '--output', file);
    expect([0, 1]).toContain(r.code);
    const html = readFileSync(file, 'utf8');
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('ünïcødé/名前');
    expect(html).not.toMatch(/<script\b/i);
  });

  it('the CSV report defuses the formula and keeps every other name as it is', async () => {
    const r = await cli('report', '--format', 'csv');
    expect([0, 1]).toContain(r.code);
    const [header, ...rows] = parseCsv(r.stdout);
    const repoColumn = header.indexOf('repository');
    expect(repoColumn).toBeGreaterThan(-1);
    for (const cells of rows) for (const cell of cells) expect(cell, `a cell a spreadsheet would run: ${cell}`).not.toMatch(/^[=+\-@\t\r]/);
    const repos = new Set(rows.map((cells) => cells[repoColumn]));
    for (const repo of HOSTILE) expect(repos).toContain(repo.startsWith('=') ? `'${repo}` : repo);
  });
});
