/**
 * `tagledger demo`: starts the bundled registry emulators on loopback with sample estates, scans them
 * into an embedded database of its own, changes tags, scans again, and shows what tagledger saw:
 * what changed, the findings, the alerts a webhook received, and tag histories.
 */
import { rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { openDatabase, type Database } from '../store/db.js';
import type { DemoScenario } from '../emulators/demo.js';
import { configSchema, type Config } from '../config/schema.js';
import { alertingFromConfig } from '../alerts/setup.js';
import { scanTargets, renderScanSummary, scanExitCode } from './scan.js';
import { historyCommand, parseTagRef } from './history.js';
import { findingsList } from './findings.js';
import { deliverNow } from './alerts.js';
import { ExitCode } from './exit.js';
import type { AlertPayload, AlertMessage } from '../notifiers/types.js';

async function scenarios(): Promise<DemoScenario[]> {
  const { ociDemoScenario } = await import('../emulators/oci/demo.js');
  const { ecrDemoScenario } = await import('../emulators/ecr/demo.js');
  const { harborDemoScenario } = await import('../emulators/harbor/demo.js');
  const { garDemoScenario } = await import('../emulators/gar/demo.js');
  return Promise.all([ociDemoScenario(), ecrDemoScenario(), garDemoScenario(), harborDemoScenario()]);
}

/** A webhook receiver on loopback that keeps what it is sent. */
async function startDemoReceiver(): Promise<{ url: string; received: AlertMessage[]; close(): Promise<void> }> {
  const received: AlertMessage[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const payload = JSON.parse(body) as AlertPayload;
      if (payload.type === 'batch') received.push(...payload.alerts);
      else if (payload.type !== 'scan.completed') received.push(payload);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/tagledger`,
    received,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export async function runDemo(opts: { dataDir: string; logger: Logger; out: NodeJS.WritableStream }): Promise<number> {
  const say = (s = '') => opts.out.write(`${s}\n`);
  // The demo's database is its own directory, wiped each run, so the output is always the same story.
  rmSync(opts.dataDir, { recursive: true, force: true });
  rmSync(`${opts.dataDir}.lock`, { force: true });
  const running = await scenarios();
  const receiver = await startDemoReceiver();
  const database = await openDatabase({ kind: 'pglite', path: opts.dataDir }, { purpose: 'tagledger demo' });
  try {
    const config: Config = configSchema.parse({
      targets: running.map((s) => s.target),
      notifiers: [{ id: 'demo-webhook', kind: 'webhook', url: receiver.url, secret: 'demo-signing-secret', minSeverity: 'medium' }],
    });
    const alerting = alertingFromConfig(config);
    const scan = () => scanTargets(database.db, config.targets, opts.logger, { parallel: 1, alerting });
    say(`tagledger demo: ${config.targets.length} registry emulators on loopback (${config.targets.map((t) => `${t.id}: ${t.kind}`).join(', ')}),`);
    say(`embedded database in ${opts.dataDir}, a webhook receiver at ${receiver.url}`);
    say('');
    say('== first scan (baseline)');
    const first = await scan();
    say(renderScanSummary(first));
    await deliver(database.db, config, opts.logger, receiver.received, say);
    say('');
    say('== changing tags in the registries');
    for (const s of running) for (const line of await s.change()) say(`  ${line}`);
    say('');
    say('== second scan');
    const second = await scan();
    say(renderScanSummary(second));
    await deliver(database.db, config, opts.logger, receiver.received, say);
    say('');
    say('== open findings at medium or above (tagledger findings list --severity medium)');
    say(await findingsList(database.db, { severity: 'medium' }));
    for (const s of running) {
      for (const ref of s.historyOf) {
        say('');
        say(`== tagledger history ${s.target.id}/${ref}`);
        say(await historyCommand(database.db, parseTagRef(`${s.target.id}/${ref}`), {}));
      }
    }
    say('');
    say(`The demo database stays in ${opts.dataDir}: point database.path at it to explore it with tagledger history, findings or SQL.`);
    return Math.max(scanExitCode(first), scanExitCode(second));
  } catch (err) {
    opts.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'demo failed');
    return ExitCode.internal;
  } finally {
    await database.close();
    await receiver.close();
    await Promise.all(running.map((s) => s.close()));
  }
}

async function deliver(db: Database, config: Config, logger: Logger, received: AlertMessage[], say: (s?: string) => void): Promise<void> {
  const before = received.length;
  await deliverNow(db, config, logger, 15_000);
  const fresh = received.slice(before);
  const bySeverity = new Map<string, number>();
  for (const a of fresh) bySeverity.set(a.severity, (bySeverity.get(a.severity) ?? 0) + 1);
  const counts = ['critical', 'high', 'medium'].filter((s) => bySeverity.has(s)).map((s) => `${bySeverity.get(s)} ${s}`);
  say(`webhook received ${fresh.length} signed alert(s)${counts.length ? ` (${counts.join(', ')})` : ''}`);
  for (const a of fresh.filter((x) => x.severity === 'critical' || x.type === 'tag.moved').slice(0, 6)) {
    say(`  [${a.severity}] ${a.type}: ${a.summary}`);
  }
}
