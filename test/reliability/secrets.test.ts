/**
 * Known secrets through a whole cycle at debug log level: scans of an OCI registry (Basic
 * credentials), ECR (AWS keys in the environment) and Harbor (a robot password from a file), with
 * denials on the way, alerts to a signed webhook whose receiver first answers 500 echoing what it
 * was sent, the reports, and `serve` answering API calls with and without its token. None of the
 * secrets may appear in a log line, an output, an error message, a webhook payload, the HTML report,
 * or any text or JSON column of any table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../../src/store/db.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { startEcrEmulator, type EcrEmulator } from '../../src/emulators/ecr/index.js';
import { startHarborEmulator, type HarborEmulator } from '../../src/emulators/harbor/index.js';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alerts.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startedServe } from '../helpers/serve.js';
import { onPostgres, openTestDatabase, type TestDatabase } from '../helpers/db.js';

const SECRETS = {
  REGISTRY_PASSWORD: 'oci-Pa55word-7f3a91c2',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYz8q2LsEcReT',
  AWS_SESSION_TOKEN: 'FwoGZXIvYXdzEXAMPLEsessionTOKEN0d9c7e1b5a',
  HARBOR_PASSWORD: 'Harbor-R0bot-c0ffee-1234',
  WEBHOOK_SECRET: 'whsec-5e1f0a7b9c3d',
  HOOK_TOKEN: 'hook-bearer-8d6f2a4c',
  API_TOKEN: 'api-token-91b3e5d7f0a2',
};
/** The forms a secret travels in on the wire, which must not leak either. */
const FORMS: Record<string, string> = {
  ...SECRETS,
  ociBasic: Buffer.from(`auditor:${SECRETS.REGISTRY_PASSWORD}`).toString('base64'),
  harborBasic: Buffer.from(`robot$audit:${SECRETS.HARBOR_PASSWORD}`).toString('base64'),
  apiBasic: Buffer.from(`admin:${SECRETS.API_TOKEN}`).toString('base64'),
};

function leaks(where: string, text: string): string[] {
  return Object.entries(FORMS)
    .filter(([, value]) => text.includes(value))
    .map(([name]) => `${name} in ${where}`);
}

let dir: string;
let config: string;
let env: NodeJS.ProcessEnv;
let pgdb: TestDatabase | null = null;
let oci: OciEmulator;
let ecr: EcrEmulator;
let harbor: HarborEmulator;
let receiver: AlertReceiver;
const outputs: Array<{ what: string; result: CliResult }> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tagledger-secrets-'));
  oci = await startOciEmulator({ auth: { kind: 'basic', username: 'auditor', password: SECRETS.REGISTRY_PASSWORD } });
  for (const tag of ['1.0.0', 'latest']) oci.pushImage('shop/api', tag);
  oci.pushImage('shop/private', '1.0.0');
  ecr = await startEcrEmulator();
  for (const name of ['payments/api', 'payments/denied']) {
    ecr.estate.createRepository(name);
    ecr.estate.pushImage(name, { tag: '2.0.0' });
  }
  harbor = await startHarborEmulator({ accounts: [{ username: 'robot$audit', password: SECRETS.HARBOR_PASSWORD }] });
  harbor.createProject('team-a');
  harbor.createProject('team-b');
  harbor.pushImage('team-a/web', 'v3.0.0');
  harbor.pushImage('team-b/tool', 'v1');
  receiver = await startAlertReceiver();
  // A receiver that first answers 500 with everything it was sent in the body: the error the
  // dispatcher records must not carry the signature, the auth header or the secret.
  receiver.faults.add({
    times: 2,
    respond: (req) => ({ status: 500, headers: { 'Content-Type': 'text/plain' }, body: `rejected: ${JSON.stringify(req.headers)}` }),
  });

  writeFileSync(join(dir, 'harbor-secret'), `${SECRETS.HARBOR_PASSWORD}\n`);
  config = join(dir, 'tagledger.yaml');
  writeFileSync(
    config,
    `${onPostgres ? '' : `database:\n  path: ${JSON.stringify(join(dir, 'pglite'))}\n`}` +
      `api:\n  listen: 127.0.0.1:0\n  token: \${API_TOKEN}\n` +
      `targets:\n` +
      `  - id: oci\n    kind: oci\n    url: ${oci.url}\n    username: auditor\n    password: \${REGISTRY_PASSWORD}\n` +
      `  - id: ecr\n    kind: ecr\n    region: us-east-1\n    endpoint: ${ecr.url}\n    maxAttempts: 2\n` +
      `  - id: harbor\n    kind: harbor\n    url: ${harbor.url}\n    username: robot$audit\n    password: \${file:harbor-secret}\n` +
      `alerts:\n  maxAttempts: 4\n  backoff: { initial: 100ms, max: 200ms }\n  timeout: 3s\n  deliverOnScan: 20s\n` +
      `notifiers:\n  - id: hook\n    kind: webhook\n    url: ${receiver.url}\n    secret: \${WEBHOOK_SECRET}\n    headers: { Authorization: "Bearer \${HOOK_TOKEN}" }\n` +
      // Scan roots go to the same signed webhook (scan.completed): they must leak nothing either.
      `anchor: [hook]\n`,
  );
  if (onPostgres) pgdb = await openTestDatabase();
  env = { ...SECRETS, AWS_ACCESS_KEY_ID: 'AKIASECRETSTEST', DATABASE_URL: pgdb?.url ?? '', LOG_LEVEL: 'debug' };
  const cli = async (what: string, ...args: string[]) => {
    const result = await runCli(['--config', config, '--log-level', 'debug', '--log-format', 'json', ...args], { env });
    outputs.push({ what, result });
    return result;
  };

  expect((await cli('config check', 'config', 'check')).code).toBe(0);
  expect((await cli('first scan', 'scan', '--json')).code).toBe(0);
  // Denials, and tags moved everywhere: errors and alerts carry names and causes, never credentials.
  oci.denyRepository('shop/private');
  ecr.estate.denyRepository('payments/denied');
  harbor.denyImmutableRules('team-b');
  oci.moveTag('shop/api', '1.0.0');
  ecr.estate.deleteImage('payments/api', ecr.estate.digestOfTag('payments/api', '2.0.0')!);
  ecr.estate.pushImage('payments/api', { tag: '2.0.0' });
  harbor.moveTag('team-a/web', 'v3.0.0');
  const second = await cli('second scan', 'scan', '--json');
  expect(second.code, second.stderr).toBe(2);
  await cli('alerts list', 'alerts', 'list', '--json');
  await cli('findings list', 'findings', 'list', '--json');
  await cli('report', 'report', '--format', 'html', '--output', join(dir, 'report.html'));
});

afterAll(async () => {
  await Promise.all([oci?.close(), ecr?.close(), harbor?.close(), receiver?.close()]);
  await pgdb?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('secrets across a scan and alert cycle at debug level', () => {
  it('the cycle really ran: debug logs, errors on the scan, alerts delivered after failures', () => {
    const second = outputs.find((o) => o.what === 'second scan')!.result;
    const scans = (JSON.parse(second.stdout) as { scans: Array<{ target: string; status: string; errors: unknown[] }> }).scans;
    expect(scans.map((s) => [s.target, s.status])).toEqual([
      ['oci', 'partial'],
      ['ecr', 'partial'],
      ['harbor', 'partial'],
    ]);
    expect(second.stderr.split('\n').some((l) => l.includes('"level":20'))).toBe(true);
    expect(receiver.deliveries.length).toBeGreaterThan(2);
    const alerts = (JSON.parse(outputs.find((o) => o.what === 'alerts list')!.result.stdout) as { alerts: Array<{ status: string }> }).alerts;
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.every((a) => a.status === 'delivered')).toBe(true);
    expect(receiver.deliveries.some((d) => d.headers.authorization === `Bearer ${SECRETS.HOOK_TOKEN}`)).toBe(true);
    // Every scan's root was anchored: 3 targets, 2 scans each.
    const anchored = new Set(receiver.deliveries.filter((d) => d.headers['x-tagledger-event'] === 'scan.completed').map((d) => (d.json() as { scanId: number }).scanId));
    expect(anchored.size).toBe(6);
  });

  it('appears in no log line, output or error message of any command', () => {
    const found = outputs.flatMap(({ what, result }) => [...leaks(`${what} stderr`, result.stderr), ...leaks(`${what} stdout`, result.stdout)]);
    expect(found).toEqual([]);
  });

  it('appears in no webhook payload', () => {
    expect(receiver.deliveries.flatMap((d, i) => leaks(`payload ${i}`, d.raw.toString('utf8')))).toEqual([]);
  });

  it('appears nowhere in the HTML report', () => {
    expect(leaks('report.html', readFileSync(join(dir, 'report.html'), 'utf8'))).toEqual([]);
  });

  it('is stored in no text or JSON column of any table', async () => {
    let db: Database;
    let close = async () => {};
    if (pgdb) db = pgdb.db;
    else {
      const open = await openDatabase({ kind: 'pglite', path: join(dir, 'pglite') });
      db = open.db;
      close = open.close;
    }
    try {
      const columns = (await db.execute(
        sql`SELECT table_schema, table_name, column_name FROM information_schema.columns
            WHERE table_schema IN ('public', 'drizzle') AND data_type IN ('text', 'character varying', 'json', 'jsonb')
            ORDER BY 1, 2, 3`,
      )) as unknown as { rows: Array<{ table_schema: string; table_name: string; column_name: string }> };
      expect(columns.rows.length).toBeGreaterThan(20);
      const found: string[] = [];
      let cells = 0;
      for (const c of columns.rows) {
        const res = (await db.execute(sql.raw(`SELECT "${c.column_name}"::text AS v FROM "${c.table_schema}"."${c.table_name}" WHERE "${c.column_name}" IS NOT NULL`))) as unknown as {
          rows: Array<{ v: string }>;
        };
        for (const r of res.rows) {
          cells++;
          found.push(...leaks(`${c.table_name}.${c.column_name}`, r.v));
        }
      }
      expect(cells).toBeGreaterThan(100);
      expect(found).toEqual([]);
      // The failed deliveries were recorded, with the receiver's echo redacted.
      const errors = (await db.execute(sql`SELECT error FROM delivery_attempts WHERE status_code = 500`)) as unknown as { rows: Array<{ error: string }> };
      expect(errors.rows.length).toBe(2);
    } finally {
      await close();
    }
  });

  it('serve: refuses the API without the token, answers with it, and logs none of it', async () => {
    const serve = await startedServe(config, env, ['--log-level', 'debug']);
    try {
      const api = `${serve.url()}/api/v1/targets`;
      expect((await fetch(api)).status).toBe(401);
      expect((await fetch(api, { headers: { Authorization: 'Bearer wrong-token' } })).status).toBe(401);
      expect((await fetch(api, { headers: { Authorization: `Bearer ${SECRETS.API_TOKEN}` } })).status).toBe(200);
      expect((await fetch(api, { headers: { Authorization: `Basic ${FORMS.apiBasic}` } })).status).toBe(200);
      const unauthorized = await fetch(`${serve.url()}/api/v1/findings`, { headers: { Authorization: `Bearer ${SECRETS.API_TOKEN}x` } });
      expect(leaks('401 body', await unauthorized.text())).toEqual([]);
    } finally {
      expect(await serve.stop('SIGTERM')).toBe(0);
    }
    expect(serve.logs.some((l) => l.level === 20)).toBe(true);
    expect([...leaks('serve logs', serve.logs.map((l) => JSON.stringify(l)).join('\n')), ...leaks('serve stderr', serve.other.join('\n'))]).toEqual([]);
  });
});
