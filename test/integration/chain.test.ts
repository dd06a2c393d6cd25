import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { runScan } from '../../src/scheduler/run-scan.js';
import { backfillChains, verifyLedger } from '../../src/store/queries/chain.js';
import { buildEvidence } from '../../src/store/queries/evidence.js';
import { verifyBundle } from '../../src/audit/evidence.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { complete, digest, observed, scriptedCollector } from '../helpers/scripted-collector.js';
import { runCli } from '../helpers/cli.js';
import type { TargetConfig } from '../../src/config/schema.js';
import type { RepositoryResult } from '../../src/collectors/types.js';

const logger = pino({ level: 'silent' });
const target = { id: 'prod', kind: 'oci', url: 'http://127.0.0.1:1', insecureSkipTlsVerify: false } as TargetConfig;

let t: TestDatabase;
beforeEach(async () => {
  t = await openTestDatabase();
});
afterEach(async () => {
  await t.close();
});

let clock = Date.parse('2026-03-01T10:00:00Z');
const now = () => new Date((clock += 60_000));
const scan = (results: RepositoryResult[]) => runScan(t.db, target, { logger, collector: scriptedCollector('prod', results), now });
const exec = (q: ReturnType<typeof sql>) => t.db.execute(q);
const rows = async <T>(q: ReturnType<typeof sql>) => ((await t.db.execute(q)) as unknown as { rows: T[] }).rows;

async function history() {
  await scan([observed('api', { '1.4.2': 1, latest: 1 }), observed('web', { '2.0.0': 5 }), complete]);
  const second = await scan([observed('api', { '1.4.2': 2, latest: 1 }), observed('web', { '2.0.0': 5 }), complete]);
  await scan([observed('api', { latest: 3 }, { kind: 'ecr', mode: 'IMMUTABLE', filters: [] }), observed('web', { '2.0.0': 5 }), complete]);
  await scan([observed('api', { '1.4.2': 4, latest: 3 }, { kind: 'ecr', mode: 'IMMUTABLE', filters: [] }), complete]);
  return { afterSecond: second.finishedAt };
}

describe('hash chains and scan roots', () => {
  it('verify passes on an untouched ledger and names each kind of tampering', async () => {
    await history();
    const intact = await verifyLedger(t.db);
    expect(intact.breaks).toEqual([]);
    expect(intact.events).toBeGreaterThanOrEqual(12);
    expect(intact.scans).toBe(4);

    // A digest changed by SQL.
    const [moved] = await rows<{ id: number }>(sql`SELECT id FROM tag_events WHERE kind = 'moved' ORDER BY id LIMIT 1`);
    await exec(sql`UPDATE tag_events SET digest = ${digest(99)} WHERE id = ${moved.id}`);
    let r = await verifyLedger(t.db);
    expect(r.breaks).toHaveLength(1);
    expect(r.breaks[0]).toMatchObject({ table: 'tag_events', rowId: Number(moved.id), repository: 'api' });
    expect(r.breaks[0].reason).toContain('hash does not match');
    await exec(sql`UPDATE tag_events SET digest = ${digest(2)} WHERE id = ${moved.id}`);
    expect((await verifyLedger(t.db)).breaks).toEqual([]);
  });

  it('catches a deleted event, two events swapped, and an edited scan root', async () => {
    await history();
    const api = await rows<{ id: number; chain_seq: number }>(sql`SELECT e.id, e.chain_seq FROM tag_events e JOIN repositories r ON r.id = e.repository_id WHERE r.name = 'api' ORDER BY e.chain_seq`);
    // Delete one from the middle of api's chain.
    await exec(sql`DELETE FROM tag_events WHERE id = ${api[2].id}`);
    let r = await verifyLedger(t.db);
    expect(r.breaks.map((b) => [b.repository, b.reason.includes('missing') || b.reason.includes('does not match')])).toContainEqual(['api', true]);

    const web = await rows<{ id: number; chain_seq: number }>(sql`SELECT e.id, e.chain_seq FROM tag_events e JOIN repositories r ON r.id = e.repository_id WHERE r.name = 'web' ORDER BY e.chain_seq`);
    const rep = await rows<{ id: number; chain_seq: number }>(sql`SELECT e.id, e.chain_seq FROM repository_events e JOIN repositories r ON r.id = e.repository_id WHERE r.name = 'web' ORDER BY e.chain_seq`);
    // Swap the positions of web's discovery and its first tag event.
    await exec(sql`UPDATE repository_events SET chain_seq = -1 WHERE id = ${rep[0].id}`);
    await exec(sql`UPDATE tag_events SET chain_seq = ${rep[0].chain_seq} WHERE id = ${web[0].id}`);
    await exec(sql`UPDATE repository_events SET chain_seq = ${web[0].chain_seq} WHERE id = ${rep[0].id}`);
    r = await verifyLedger(t.db);
    expect(r.breaks.find((b) => b.repository === 'web')?.reason).toContain('does not match');

    await exec(sql`UPDATE scans SET root_hash = ${'0'.repeat(64)} WHERE id = (SELECT max(id) FROM scans)`);
    r = await verifyLedger(t.db);
    expect(r.breaks.find((b) => b.table === 'scans')).toMatchObject({ reason: expect.stringContaining('scan root does not match') });
  });

  it('backfills a database from before chains exactly as a fresh one chained it', async () => {
    await history();
    const snapshot = async () => ({
      tags: await rows(sql`SELECT id, chain_seq, hash FROM tag_events ORDER BY id`),
      repos: await rows(sql`SELECT id, chain_seq, hash FROM repository_events ORDER BY id`),
      heads: await rows(sql`SELECT id, chain_seq, chain_head FROM repositories ORDER BY id`),
      roots: await rows(sql`SELECT id, root_hash, previous_root FROM scans ORDER BY id`),
    });
    const fresh = await snapshot();
    // What a database written before chains existed looks like.
    await exec(sql`UPDATE tag_events SET chain_seq = NULL, hash = NULL`);
    await exec(sql`UPDATE repository_events SET chain_seq = NULL, hash = NULL`);
    await exec(sql`UPDATE repositories SET chain_seq = 0, chain_head = NULL`);
    await exec(sql`UPDATE scans SET root_hash = NULL, previous_root = NULL`);
    expect((await verifyLedger(t.db)).breaks.length).toBeGreaterThan(0);
    const chained = await backfillChains(t.db);
    expect(chained).toBe(fresh.tags.length + fresh.repos.length);
    expect(await snapshot()).toEqual(fresh);
    expect(await backfillChains(t.db)).toBe(0);
  });

  it('writes an evidence bundle that verifies offline and fails after a one-character edit', async () => {
    const { afterSecond: at } = await history();
    const bundle = (await buildEvidence(t.db, { targetId: 'prod', repository: 'api', tag: '1.4.2', at, now: new Date() }))!;
    expect(bundle.claim.digest).toBe(digest(2));
    expect(verifyBundle(bundle)).toMatchObject({ ok: true, problems: [] });
    const later = (await buildEvidence(t.db, { targetId: 'prod', repository: 'api', tag: '1.4.2', at: null, now: new Date() }))!;
    expect(later.claim.digest).toBe(digest(4));

    const dir = mkdtempSync(join(tmpdir(), 'tagledger-evidence-'));
    const file = join(dir, 'bundle.json');
    writeFileSync(file, JSON.stringify(bundle, null, 2));
    const ok = await runCli(['verify', '--bundle', file]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`pointed to ${digest(2)}`);

    const text = readFileSync(file, 'utf8');
    const i = text.indexOf(digest(1)) + 'sha256:'.length + 10; // inside the first digest of the chain
    writeFileSync(file, text.slice(0, i) + (text[i] === '0' ? '1' : '0') + text.slice(i + 1));
    const bad = await runCli(['verify', '--bundle', file]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('does NOT verify');
  });
});
