/**
 * `tagledger demo`: starts the bundled registry emulators on loopback with sample estates, scans them
 * into an embedded database of its own, changes tags, scans again, and shows what tagledger saw.
 */
import { rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { openDatabase } from '../store/db.js';
import type { DemoScenario } from '../emulators/demo.js';
import { scanTargets, renderScanSummary, scanExitCode } from './scan.js';
import { historyCommand, parseTagRef } from './history.js';
import { ExitCode } from './exit.js';

async function scenarios(): Promise<DemoScenario[]> {
  const { ociDemoScenario } = await import('../emulators/oci/demo.js');
  return Promise.all([ociDemoScenario()]);
}

export async function runDemo(opts: { dataDir: string; logger: Logger; out: NodeJS.WritableStream }): Promise<number> {
  const say = (s = '') => opts.out.write(`${s}\n`);
  // The demo's database is its own directory, wiped each run, so the output is always the same story.
  rmSync(opts.dataDir, { recursive: true, force: true });
  rmSync(`${opts.dataDir}.lock`, { force: true });
  const running = await scenarios();
  const database = await openDatabase({ kind: 'pglite', path: opts.dataDir }, { purpose: 'tagledger demo' });
  try {
    const targets = running.map((s) => s.target);
    say(`tagledger demo: ${targets.length} registry emulator(s) on loopback, embedded database in ${opts.dataDir}`);
    say('');
    say('== first scan (baseline)');
    const first = await scanTargets(database.db, targets, opts.logger, { parallel: 1 });
    say(renderScanSummary(first));
    say('');
    say('== changing tags in the registries');
    for (const s of running) for (const line of await s.change()) say(`  ${line}`);
    say('');
    say('== second scan');
    const second = await scanTargets(database.db, targets, opts.logger, { parallel: 1 });
    say(renderScanSummary(second));
    for (const s of running) {
      for (const ref of s.historyOf) {
        say('');
        say(`== tagledger history ${s.target.id}/${ref}`);
        say(await historyCommand(database.db, parseTagRef(`${s.target.id}/${ref}`), {}));
      }
    }
    say('');
    say(`The demo database stays in ${opts.dataDir}; query it with DATABASE_URL unset and database.path: ${opts.dataDir}.`);
    return Math.max(scanExitCode(first), scanExitCode(second));
  } catch (err) {
    opts.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'demo failed');
    return ExitCode.internal;
  } finally {
    await database.close();
    await Promise.all(running.map((s) => s.close()));
  }
}
