/**
 * `tagledger check` through the real CLI, as a user runs it: exit codes for --fail-on, --pin and
 * --dry-run on copies of the fixtures, stdin, usage errors. The ledger is seeded by real scans of
 * the emulators; on PGlite the CLI needs the database directory to itself, so the test seeds a
 * directory and closes it first (on PostgreSQL both use the fresh test database).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { openDatabase } from '../../src/store/db.js';
import { openTestDatabase, onPostgres, type TestDatabase } from '../helpers/db.js';
import { repoRoot, type CliResult } from '../helpers/cli.js';
import { SHOP_PULL_HOSTS, seedCheckLedger } from '../helpers/check-ledger.js';
import { parseCheckOptions } from '../../src/cli/check.js';
import { UsageError } from '../../src/cli/exit.js';
import { stubAwsCredentials } from '../helpers/aws.js';

let dir: string;
let deploy: string;
let config: string;
let env: NodeJS.ProcessEnv;
let digests: Record<string, string>;
let pg: TestDatabase | null = null;

beforeAll(async () => {
  stubAwsCredentials('AKIACHECKCLI', 'check-cli-secret');
  dir = mkdtempSync(join(tmpdir(), 'tagledger-check-cli-'));
  const pglitePath = join(dir, 'pglite');
  let db;
  let closeDb: () => Promise<void>;
  if (onPostgres) {
    pg = await openTestDatabase();
    db = pg.db;
    closeDb = async () => {};
  } else {
    const open = await openDatabase({ kind: 'pglite', path: pglitePath });
    db = open.db;
    closeDb = open.close;
  }
  const ledger = await seedCheckLedger(db);
  digests = ledger.digests;
  await ledger.close();
  await closeDb();

  config = join(dir, 'tagledger.yaml');
  writeFileSync(
    config,
    [
      'database:',
      `  path: ${JSON.stringify(pglitePath)}`,
      'targets:',
      '  - id: shop',
      '    kind: oci',
      `    url: ${ledger.shop.url}`,
      `    pullHosts: ${JSON.stringify(SHOP_PULL_HOSTS)}`,
      '',
    ].join('\n'),
  );
  env = { DATABASE_URL: pg?.url ?? '' };
  deploy = join(dir, 'deploy');
  cpSync(join(repoRoot, 'test', 'fixtures', 'check'), deploy, { recursive: true });
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await pg?.close();
  rmSync(dir, { recursive: true, force: true });
});

const read = (rel: string) => readFileSync(join(deploy, rel), 'utf8');
/** tsx resolved from the repository: the CLI runs in a temporary directory so paths print as `deploy/...`. */
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The real CLI from source, in the test's directory, with `input` on stdin (closed when absent). */
function cli(args: string[], input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, join(repoRoot, 'src', 'main.ts'), '--config', config, ...args], {
      cwd: dir,
      env: { ...process.env, LOG_LEVEL: 'warn', NO_COLOR: '1', ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}
const check = (...args: string[]) => cli(['check', ...args]);

describe('tagledger check', () => {
  it('exits 1 when a verdict reaches --fail-on, 0 otherwise, and prints JSON', async () => {
    const high = await check('deploy/helm/rendered.yaml', '--fail-on', 'high');
    expect(high.stderr).toBe('');
    expect(high.code).toBe(1);
    expect(high.stdout).toMatch(/^LOCATION\s+SEVERITY\s+VERDICT\s+IMAGE\s+REASON$/m);
    expect(high.stdout).toMatch(/^deploy\/helm\/rendered\.yaml:23\s+high\s+moved\s+registry\.shop\.example\/shop\/api:v1\.0\.0\s+tag v1\.0\.0 moved on/m);
    expect(high.stdout).toContain('6 reference(s) in 1 file(s): 4 high, 1 medium, 1 ok');

    const json = await check('deploy/helm/rendered.yaml', '--fail-on', 'critical', '--format', 'json', '--moved-within', '90d');
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout) as { results: Array<{ file: string; line: number; verdict: string; severity: string }>; summary: unknown };
    expect(out.results.map((r) => [r.line, r.verdict, r.severity])).toEqual([
      [23, 'moved', 'high'],
      [27, 'pull-policy', 'high'],
      [31, 'not-protected', 'medium'],
      [48, 'protected', 'none'],
      [62, 'pull-policy', 'high'],
      [74, 'floating', 'high'],
    ]);
    expect(out.summary).toEqual({ files: 1, references: 6, bySeverity: { none: 1, info: 0, low: 0, medium: 1, high: 4, critical: 0 }, movedWithin: '90d' });
  });

  it('--pin --dry-run prints a unified diff and changes nothing', async () => {
    const before = { helm: read('helm/rendered.yaml'), compose: read('compose/docker-compose.yml'), docker: read('docker/Dockerfile') };
    const r = await check('deploy', '--pin', '--dry-run');
    // shop/worker's last digest is stale (its listing failed in the last scan): refused, so exit 1.
    expect(r.code).toBe(1);
    expect(r.stdout.startsWith('--- a/deploy/compose/docker-compose.yml\n+++ b/deploy/compose/docker-compose.yml\n@@ ')).toBe(true);
    expect(r.stdout).toContain(`\n-          image: "registry.shop.example/shop/api:v1.0.0"\n+          image: "registry.shop.example/shop/api:v1.0.0@${digests['shop/api:v1.0.0']}"\n`);
    expect(r.stdout).toContain('--- a/deploy/docker/Dockerfile\n');
    expect(r.stdout).not.toContain('odd-references.yaml');
    expect(r.stderr).toMatch(/deploy\/compose\/docker-compose\.yml:12\s+refused\s+registry\.shop\.example\/shop\/worker:2\.0\.0\s+the last successful scan of shop/);
    expect(r.stderr).toContain('would pin 11, refused 2, skipped 9; would change 3 file(s)');
    expect({ helm: read('helm/rendered.yaml'), compose: read('compose/docker-compose.yml'), docker: read('docker/Dockerfile') }).toEqual(before);
  });

  it('--pin rewrites the files in place; checked again they are pinned', async () => {
    const pinned = await check('deploy/helm', 'deploy/docker', '--pin');
    expect(pinned.code).toBe(0);
    expect(pinned.stdout).toContain('pinned 9, refused 0, skipped 2; changed 2 file(s)');
    const helm = read('helm/rendered.yaml');
    expect(parseAllDocuments(helm).every((d) => d.errors.length === 0)).toBe(true);
    expect(helm).toContain(`          image: registry.shop.example/shop/api:v1.1.0@${digests['shop/api:v1.1.0']} # the release under test\n`);
    expect(helm).toContain('# Source: shop/templates/cronjob-report.yaml\n');
    expect(read('docker/Dockerfile')).toContain(`FROM registry.shop.example/shop/api:latest@${digests['shop/api:latest']} AS runtime\n`);

    const again = await check('deploy/helm', '--format', 'sarif', '--fail-on', 'info');
    expect(again.code).toBe(0);
    const sarif = JSON.parse(again.stdout) as { version: string; runs: Array<{ results: unknown[] }> };
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.runs[0].results).toEqual([]);
  });

  it('reads stdin: checks it, and --pin writes the pinned YAML to stdout', async () => {
    const input = readFileSync(join(repoRoot, 'test', 'fixtures', 'check', 'helm', 'rendered.yaml'), 'utf8');
    const r = await cli(['check', '-', '--pin'], input);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('pinned 6, refused 0, skipped 0; changed 1 file(s)');
    expect(r.stdout.split('\n')).toHaveLength(input.split('\n').length);
    expect(r.stdout).toContain(`image: 'registry.shop.example/shop/web:1.4.2@${digests['shop/web:1.4.2']}'\n`);
    expect(r.stdout).toContain('# chart label, kept as written\n');
  });

  it('refuses bad usage with exit code 3', async () => {
    const dry = await check('deploy', '--dry-run');
    expect(dry).toMatchObject({ code: 3, stderr: 'tagledger: --dry-run goes with --pin\n' });
    const missing = await check('deploy/nope.yaml');
    expect(missing).toMatchObject({ code: 3, stderr: 'tagledger: deploy/nope.yaml: no such file or folder\n' });
  });

  it('validates the options before opening the database', () => {
    const base = { format: 'table' as const, movedWithin: '30d' };
    expect(parseCheckOptions({ ...base, failOn: 'high' })).toEqual({ format: 'table', failOn: 'high', movedWithin: { ms: 30 * 86_400_000, label: '30d' }, pin: false, dryRun: false });
    expect(() => parseCheckOptions({ ...base, movedWithin: 'a month' })).toThrow(UsageError);
    expect(() => parseCheckOptions({ ...base, failOn: 'severe' })).toThrow('--fail-on "severe" is not one of info, low, medium, high, critical');
    expect(() => parseCheckOptions({ ...base, format: 'sarif', pin: true })).toThrow('--format sarif reports findings');
    expect(() => parseCheckOptions({ ...base, pin: true, failOn: 'high' })).toThrow(UsageError);
  });
});
