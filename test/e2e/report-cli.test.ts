/**
 * `tagledger report` through the real CLI (a child process, as a user runs it): formats on stdout
 * and into a file, `--fail-on` exit codes before and after acknowledging a finding, a usage error.
 * The database is seeded by two real scans of the OCI emulator with a tag moved in between.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import pg from 'pg';
import { runCli } from '../helpers/cli.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { openDatabase, type DatabaseTarget } from '../../src/store/db.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import type { TargetConfig } from '../../src/config/schema.js';

const logger = pino({ level: 'silent' });

/** A fresh PostgreSQL database when DATABASE_URL is set, else a PGlite directory (one process at a time). */
async function cliDatabase(dir: string): Promise<{ target: DatabaseTarget; env: NodeJS.ProcessEnv; yaml: string; close(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    const path = join(dir, 'pglite');
    return { target: { kind: 'pglite', path }, env: { DATABASE_URL: '' }, yaml: `database:\n  path: ${JSON.stringify(path)}\n`, close: async () => {} };
  }
  const name = `tagledger_report_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    target: { kind: 'postgres', url: url.toString() },
    env: { DATABASE_URL: url.toString() },
    yaml: '',
    close: async () => {
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

describe('tagledger report', () => {
  let registry: OciEmulator;
  let dir: string;
  let configFile: string;
  let db: Awaited<ReturnType<typeof cliDatabase>>;

  beforeAll(async () => {
    registry = await startOciEmulator();
    registry.pushImage('shop/api', '1.4.2');
    registry.pushImage('shop/api', 'latest');
    dir = mkdtempSync(join(tmpdir(), 'tagledger-report-'));
    db = await cliDatabase(dir);
    configFile = join(dir, 'tagledger.yaml');
    writeFileSync(configFile, `${db.yaml}targets:\n  - id: shop\n    kind: oci\n    url: ${registry.url}\n`);
    const target = { id: 'shop', kind: 'oci', url: registry.url, insecureSkipTlsVerify: false } as TargetConfig;
    const open = await openDatabase(db.target);
    try {
      await runScan(open.db, target, { logger });
      registry.moveTag('shop/api', '1.4.2');
      const second = await runScan(open.db, target, { logger });
      expect(second.events.moved).toBe(1);
    } finally {
      await open.close();
    }
  });

  afterAll(async () => {
    await registry?.close();
    await db?.close();
  });

  const cli = (...args: string[]) => runCli(['--config', configFile, ...args], { env: db.env });

  it('prints the table and exits 1 with --fail-on at or below the worst open finding', async () => {
    const failing = await cli('report', '--fail-on', 'medium');
    expect(failing.stderr).toContain('open finding(s) at or above medium');
    expect(failing.code).toBe(1);
    expect(failing.stdout).toContain('TARGETS');
    expect(failing.stdout).toMatch(/shop\/api:1\.4\.2 +moved/);
    expect(failing.stdout).not.toContain('\x1b['); // not a terminal: no colour
  });

  it('writes JSON to a file, filtered by target and severity, and ignores acknowledged findings for --fail-on', async () => {
    const file = join(dir, 'report.json');
    const written = await cli('report', '--format', 'json', '--output', file, '--severity', 'high', '--target', 'shop', '--fail-on', 'critical');
    expect(written.stderr).toBe('');
    expect(written.code).toBe(0);
    expect(written.stdout).toMatch(/^report written to .*report\.json \(json: 1 findings, 1 repositories\)\n$/);
    const model = JSON.parse(readFileSync(file, 'utf8'));
    expect(model.filters).toEqual({ targets: ['shop'], minSeverity: 'high' });
    const high = model.findings as Array<{ id: number; type: string; severity: string; tag: string; status: string }>;
    // Open: --fail-on high would exit 1 now.
    expect(high.map((f) => [f.type, f.severity, f.tag, f.status])).toEqual([['tag.moved', 'high', '1.4.2', 'open']]);

    const ack = await cli('findings', 'ack', String(high[0].id), '--reason', 'rebuilt on purpose');
    expect(ack.code).toBe(0);
    const after = await cli('report', '--format', 'csv', '--fail-on', 'high');
    expect(after.stderr).toBe('');
    expect(after.code).toBe(0);
    expect(after.stdout.split('\r\n')[0]).toBe('id,severity,status,type,target,repository,tag,digest,previous_digest,summary,remediation,first_seen,last_seen');
    expect(after.stdout).toContain(`${high[0].id},high,acknowledged,tag.moved,shop,shop/api,1.4.2,`);
  });

  it('answers an unknown target with exit code 3', async () => {
    const r = await cli('report', '--target', 'nope');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('--target "nope": no such target in the database (known: shop)');
  });
});
