import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runCli } from '../helpers/cli.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { openDatabase } from '../../src/store/db.js';

/**
 * A database for CLI runs: a fresh PostgreSQL database when DATABASE_URL is set, else a PGlite
 * directory in a temp dir (which the child processes open one at a time).
 */
async function cliDatabase(dir: string): Promise<{ env: NodeJS.ProcessEnv; yaml: string; close(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { env: { DATABASE_URL: '' }, yaml: `database:\n  path: ${JSON.stringify(join(dir, 'pglite'))}\n`, close: async () => {} };
  const name = `tagledger_e2e_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
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

describe('tagledger CLI', () => {
  let registry: OciEmulator;
  let dir: string;
  let configFile: string;
  let db: Awaited<ReturnType<typeof cliDatabase>>;

  beforeAll(async () => {
    registry = await startOciEmulator();
    for (const tag of ['latest', '1.0.0', '1.0.1']) registry.pushImage('shop/api', tag);
    for (const tag of ['latest', 'stable']) registry.pushImage('tools/builder', tag);
    dir = mkdtempSync(join(tmpdir(), 'tagledger-e2e-'));
    db = await cliDatabase(dir);
    configFile = join(dir, 'tagledger.yaml');
    writeFileSync(
      configFile,
      `${db.yaml}targets:\n  - id: local\n    kind: oci\n    url: ${registry.url}\n    username: robot$audit\n    password: \${REG_PW:-s3cret-value}\n`,
    );
  });

  afterAll(async () => {
    await registry?.close();
    await db?.close();
  });

  const cli = (...args: string[]) => runCli(['--config', configFile, ...args], { env: db.env });

  it('config check prints the resolved config with secrets masked', async () => {
    const r = await cli('config', 'check');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('username: robot$audit');
    expect(r.stdout).toContain('password: "***"');
    expect(r.stdout).not.toContain('s3cret-value');
  });

  it('rejects an invalid config with exit code 3 and the path of the bad value', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'targets:\n  - id: x\n    kind: oci\n    url: not-a-url\n');
    const r = await runCli(['--config', bad, 'scan'], { env: db.env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('targets[0].url: must be an http(s) URL');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('answers usage errors with exit code 3', async () => {
    expect((await cli('no-such-command')).code).toBe(3);
    const r = await cli('history', 'not-a-ref');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('TARGET/REPOSITORY:TAG');
    expect((await cli('scan', '--target', 'nope')).code).toBe(3);
  });

  it('scans, detects a moved and a deleted tag, and answers history and time travel', async () => {
    const first = await cli('scan', '--json');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const s1 = JSON.parse(first.stdout).scans[0];
    expect(s1).toMatchObject({ target: 'local', status: 'succeeded', repositories: 2, tags: 5, events: { created: 5, moved: 0, deleted: 0, restored: 0 }, errors: [] });
    expect(typeof s1.scanId).toBe('number');
    expect(new Date(s1.startedAt).getTime()).toBeLessThanOrEqual(new Date(s1.finishedAt).getTime());
    const between = new Date().toISOString();

    const before = registry.estate.tagDigest('shop/api', '1.0.1');
    const moved = registry.moveTag('shop/api', '1.0.1');
    registry.deleteTag('tools/builder', 'stable');
    const second = await cli('scan', '--json');
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).scans[0]).toMatchObject({ status: 'succeeded', repositories: 2, tags: 4, events: { created: 0, moved: 1, deleted: 1, restored: 0 } });

    const h = await cli('history', 'local/shop/api:1.0.1', '--json');
    expect(h.code).toBe(0);
    const history = JSON.parse(h.stdout);
    expect(history).toMatchObject({ target: 'local', repository: 'shop/api', tag: '1.0.1' });
    expect(history.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'moved']);
    expect(history.events[1].digest).toBe(moved.digest);
    expect(history.events[1].previousDigest).toBe(moved.previousDigest);
    expect(moved.previousDigest).toBe(before);

    const at = await cli('history', 'local/shop/api:1.0.1', '--at', between, '--json');
    expect(JSON.parse(at.stdout).digest).toBe(moved.previousDigest);
    const gone = await cli('history', 'local/tools/builder:stable', '--at', new Date().toISOString(), '--json');
    expect(JSON.parse(gone.stdout).digest).toBeNull();

    const human = await cli('scan');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/target\s+status\s+repositories/);
  });

  it('a registry that stops answering fails the scan with exit code 2 and deletes nothing', async () => {
    registry.faults.add({ match: /\/v2\//, reset: true });
    try {
      const r = await cli('scan', '--json');
      expect(r.code).toBe(2);
      const s = JSON.parse(r.stdout).scans[0];
      expect(s.status).toBe('failed');
      expect(s.events.deleted).toBe(0);
      expect(s.errors.length).toBeGreaterThan(0);
      expect(JSON.stringify(s.errors)).not.toContain('s3cret-value');
    } finally {
      registry.faults.clear();
    }
    const after = await cli('scan', '--json');
    expect(JSON.parse(after.stdout).scans[0].events).toEqual({ created: 0, moved: 0, deleted: 0, restored: 0 });
  });

  it('names the holder when a second process opens the same PGlite directory', async () => {
    const path = join(dir, 'locked-pglite');
    const held = await openDatabase({ kind: 'pglite', path });
    try {
      const cfg = join(dir, 'locked.yaml');
      writeFileSync(cfg, `database:\n  path: ${JSON.stringify(path)}\ntargets: []\n`);
      const r = await runCli(['--config', cfg, 'migrate'], { env: { DATABASE_URL: '' } });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`is in use by process ${process.pid}`);
    } finally {
      await held.close();
    }
  });
});
