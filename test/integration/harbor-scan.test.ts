/**
 * End to end for Harbor: the emulator over loopback, the Harbor collector created from the target
 * config (as `scan` does), runScan into a fresh database, then changes made the way Harbor allows
 * them (and one it would have refused, made possible by switching its rule off) and a second scan.
 */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TargetConfig } from '../../src/config/schema.js';
import { startHarborEmulator, type HarborEmulator } from '../../src/emulators/harbor/index.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import { tagHistory } from '../../src/store/queries/history.js';
import { currentTags } from '../../src/store/queries/tags.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

const logger = pino({ level: 'silent' });

let emu: HarborEmulator;
let t: TestDatabase;
let target: TargetConfig;

beforeEach(async () => {
  emu = await startHarborEmulator({ accounts: [{ username: 'robot$audit', password: 'harbor-integration-secret' }] });
  t = await openTestDatabase();
  target = { id: 'harbor', kind: 'harbor', url: emu.url, username: 'robot$audit', password: 'harbor-integration-secret', insecureSkipTlsVerify: false } as TargetConfig;
});

afterEach(async () => {
  await emu.close();
  await t.close();
});

const scan = () => runScan(t.db, target, { logger });
const state = async (repository: string) =>
  Object.fromEntries(
    (await currentTags(t.db, { targetId: 'harbor', repository })).map((r) => [r.tag, { digest: r.digest, present: r.present, protected: r.protected, immutable: (r.extra as { immutable?: boolean } | null)?.immutable }]),
  );

describe('Harbor scan into the store', () => {
  it('records Harbor protection per tag, a protected tag moved behind a switched-off rule, deletions, and a denied project', async () => {
    emu.createProject('team-a');
    emu.createProject('team-b', { public: true });
    emu.createProject('team-c');
    const protectV = emu.addRule('team-a', { repository: { pattern: '**' }, tag: { pattern: 'v*' } });
    emu.addRule('team-a', { repository: { pattern: 'svc/**' }, tag: { pattern: 'latest' }, disabled: true });
    const v1 = emu.pushImage('team-a/svc/api', 'v1.0').digest;
    const latest = emu.pushImage('team-a/svc/api', 'latest').digest;
    emu.pushImage('team-b/tools', 'v9');
    const dev = emu.pushImage('team-b/tools', 'dev').digest;
    const secret = emu.pushImage('team-c/secret', 'v1').digest;

    const first = await scan();
    expect(first.status).toBe('succeeded');
    expect(first.events).toEqual({ created: 5, moved: 0, deleted: 0, restored: 0 });
    expect(await state('team-a/svc/api')).toEqual({
      'v1.0': { digest: v1, present: true, protected: true, immutable: true },
      latest: { digest: latest, present: true, protected: false, immutable: false },
    });
    expect((await state('team-b/tools')).v9).toMatchObject({ protected: false, immutable: false });
    const row = (await currentTags(t.db, { targetId: 'harbor', repository: 'team-a/svc/api' })).find((r) => r.tag === 'v1.0')!;
    expect(row.protectionReason).toBe(`protected: Harbor immutable rule #${protectV.id} (repository repoMatches "**", tag matches "v*") of project "team-a"`);

    // Harbor refuses to overwrite the protected tag; with its rule switched off for a moment, it does not.
    expect(() => emu.moveTag('team-a/svc/api', 'v1.0')).toThrow(/configured as immutable/);
    emu.setRuleDisabled('team-a', protectV.id, true);
    const v1b = emu.moveTag('team-a/svc/api', 'v1.0').digest;
    emu.setRuleDisabled('team-a', protectV.id, false);
    const latest2 = emu.moveTag('team-a/svc/api', 'latest').digest;
    emu.deleteTag('team-b/tools', 'dev');
    // The robot loses access to team-c: an error for the project, and its repositories are not gone.
    emu.denyProject('team-c');

    const second = await scan();
    expect(second.status).toBe('partial');
    expect(second.errors).toEqual([{ repository: 'team-c', code: 'denied', message: expect.stringContaining('HTTP 403 FORBIDDEN') }]);
    expect(second.events).toEqual({ created: 0, moved: 2, deleted: 1, restored: 0 });
    expect(await state('team-c/secret')).toEqual({ v1: { digest: secret, present: true, protected: false, immutable: false } });
    const history = await tagHistory(t.db, { targetId: 'harbor', repository: 'team-a/svc/api', tag: 'v1.0' });
    expect(history.map((x) => [x.kind, x.digest, x.previousDigest, x.protected])).toEqual([
      ['created', v1, null, true],
      ['moved', v1b, v1, true],
    ]);
    const latestHistory = await tagHistory(t.db, { targetId: 'harbor', repository: 'team-a/svc/api', tag: 'latest' });
    expect(latestHistory.map((x) => [x.kind, x.digest, x.protected])).toEqual([
      ['created', latest, false],
      ['moved', latest2, false],
    ]);
    expect((await state('team-b/tools')).dev).toMatchObject({ digest: dev, present: false });
  });
});
