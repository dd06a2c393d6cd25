/**
 * The tagledger command line: wiring only. Each command lives in src/cli/.
 */
import { Command, CommanderError, Option } from 'commander';
import type { Logger } from 'pino';
import { ConfigError } from './config/load.js';
import { DatabaseError } from './store/db.js';
import { DirectoryLockedError } from './store/dir-lock.js';
import { ExitCode, UsageError } from './cli/exit.js';
import { createLogger, type LogFormat } from './cli/log.js';
import { version } from './cli/version.js';

interface GlobalOptions {
  config?: string;
  logLevel?: string;
  logFormat?: LogFormat;
}

function loggerFor(cmd: Command, quietOnTty = false): Logger {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const level = g.logLevel ?? process.env.LOG_LEVEL ?? (quietOnTty && process.stderr.isTTY ? 'warn' : 'info');
  return createLogger({ level, format: g.logFormat });
}

function output(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Aborts on the first SIGINT/SIGTERM so work in flight can finish cleanly; a second one exits. */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${sig}: stopping after the repository in flight (again to force)\n`);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

async function withDatabase(cmd: Command, purpose: string, fn: (db: import('./store/db.js').Database, config: import('./config/schema.js').Config) => Promise<void>): Promise<void> {
  const { openContext } = await import('./cli/context.js');
  const ctx = await openContext({ config: cmd.optsWithGlobals<GlobalOptions>().config, configOptional: true, logger: loggerFor(cmd, true), purpose });
  try {
    await fn(ctx.database.db, ctx.config);
  } finally {
    await ctx.database.close();
  }
}

export function buildProgram(): Command {
  const program = new Command('tagledger')
    .description('Audits container registries for tag immutability and records every tag\'s digest history.')
    .version(version)
    .option('-c, --config <file>', 'config file (default: $TAGLEDGER_CONFIG or ./tagledger.yaml)')
    .option('--log-level <level>', 'trace | debug | info | warn | error (default: $LOG_LEVEL or info)')
    .addOption(new Option('--log-format <format>', 'log lines on stderr').choices(['plain', 'json']).default('plain'))
    .showHelpAfterError()
    .exitOverride();

  program
    .command('scan')
    .description('scan every target (or the named ones) once and record what changed')
    .option('-t, --target <id...>', 'only these target ids')
    .option('--json', 'print the scan results as JSON on stdout')
    .option('--fail-on <severity>', 'exit 1 when an open, unacknowledged finding at or above this severity exists')
    .option('--no-deliver', 'leave due alerts in the outbox instead of delivering them before exiting')
    .action(async (opts: { target?: string[]; json?: boolean; failOn?: string; deliver: boolean }, cmd: Command) => {
      const { openContext } = await import('./cli/context.js');
      const { selectTargets, scanTargets, scanJson, renderScanSummary, scanExitCode } = await import('./cli/scan.js');
      const { parseSeverity } = await import('./cli/findings.js');
      const failOn = parseSeverity(opts.failOn, '--fail-on');
      const logger = loggerFor(cmd, true);
      const ctx = await openContext({ config: cmd.optsWithGlobals<GlobalOptions>().config, logger, purpose: 'tagledger scan' });
      try {
        const targets = selectTargets(ctx.config.targets, opts.target);
        const parallel = ctx.database.target.kind === 'pglite' ? 1 : 4;
        const { alertingFromConfig } = await import('./alerts/setup.js');
        const signal = interruptSignal();
        const summaries = await scanTargets(ctx.database.db, targets, logger, { json: opts.json, parallel, signal, alerting: alertingFromConfig(ctx.config), thread: ctx.config.collectorThreads });
        output(opts.json ? JSON.stringify(scanJson(summaries)) : renderScanSummary(summaries));
        if (opts.deliver && ctx.config.notifiers.length && !signal.aborted) {
          const { deliverNow } = await import('./cli/alerts.js');
          const { parseDuration } = await import('./config/common.js');
          const stats = await deliverNow(ctx.database.db, ctx.config, logger, parseDuration(ctx.config.alerts.deliverOnScan));
          if (!opts.json) output(`alerts: delivered ${stats.delivered}, will retry ${stats.retrying}, failed ${stats.failed}`);
        }
        let code = scanExitCode(summaries);
        if (code === 0 && failOn) {
          const { countOpenAtLeast } = await import('./store/queries/findings.js');
          const open = await countOpenAtLeast(ctx.database.db, failOn, targets.map((t) => t.id));
          if (open > 0) {
            code = ExitCode.findings;
            if (!opts.json) output(`${open} open finding(s) at or above ${failOn} (tagledger findings list --severity ${failOn})`);
          }
        }
        process.exitCode = code;
      } finally {
        await ctx.database.close();
      }
    });

  const findings = program.command('findings').description('list and manage findings');
  findings
    .command('list')
    .description('list findings (default: open and acknowledged)')
    .option('--status <list>', 'comma-separated: open, acknowledged, resolved, waived')
    .option('--severity <severity>', 'at least this severity')
    .option('--target <id>', 'only this target')
    .option('--type <type>', 'only this finding type')
    .option('--json', 'print JSON')
    .action(async (opts: { status?: string; severity?: string; target?: string; type?: string; json?: boolean }, cmd: Command) => {
      const { findingsList } = await import('./cli/findings.js');
      await withDatabase(cmd, 'tagledger findings', async (db) => output(await findingsList(db, opts)));
    });
  for (const [name, status] of [['ack', 'acknowledged'], ['resolve', 'resolved']] as const) {
    findings
      .command(`${name} <id>`)
      .description(status === 'acknowledged' ? 'acknowledge a finding (it stays recorded; --fail-on ignores it)' : 'resolve a finding by hand')
      .requiredOption('--reason <text>', 'why (recorded with who)')
      .action(async (id: string, opts: { reason: string }, cmd: Command) => {
        const { findingsSetStatus } = await import('./cli/findings.js');
        await withDatabase(cmd, 'tagledger findings', async (db) => output(await findingsSetStatus(db, id, status, opts.reason)));
      });
  }

  const alertsCmd = program.command('alerts').description('the alert outbox');
  alertsCmd
    .command('list')
    .option('--status <list>', 'comma-separated: created, retrying, delivered, failed')
    .option('--json', 'print JSON')
    .action(async (opts: { status?: string; json?: boolean }, cmd: Command) => {
      const { alertsList } = await import('./cli/alerts.js');
      await withDatabase(cmd, 'tagledger alerts', async (db) => output(await alertsList(db, opts)));
    });
  alertsCmd
    .command('deliver')
    .description('deliver due alerts now')
    .option('--within <duration>', 'stop after this long', '60s')
    .action(async (opts: { within: string }, cmd: Command) => {
      const { alertsDeliver } = await import('./cli/alerts.js');
      await withDatabase(cmd, 'tagledger alerts', async (db, config) => output(await alertsDeliver(db, config, loggerFor(cmd, true), opts.within)));
    });
  alertsCmd
    .command('retry <id>')
    .description('queue a failed alert again')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { alertsRetry } = await import('./cli/alerts.js');
      await withDatabase(cmd, 'tagledger alerts', async (db) => output(await alertsRetry(db, id)));
    });

  program
    .command('history')
    .description("print a tag's timeline, or the digest it pointed to at a moment")
    .argument('<ref>', 'TARGET/REPOSITORY:TAG, e.g. local/app:latest')
    .option('--at <iso8601>', 'the digest as last observed at or before this time')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { at?: string; json?: boolean }, cmd: Command) => {
      const { openContext } = await import('./cli/context.js');
      const { historyCommand, parseTagRef, parseInstant } = await import('./cli/history.js');
      const tagRef = parseTagRef(ref);
      const at = opts.at ? parseInstant(opts.at) : undefined;
      const ctx = await openContext({ config: cmd.optsWithGlobals<GlobalOptions>().config, configOptional: true, logger: loggerFor(cmd, true), purpose: 'tagledger history' });
      try {
        output(await historyCommand(ctx.database.db, tagRef, { at, json: opts.json }));
      } finally {
        await ctx.database.close();
      }
    });

  program
    .command('report')
    .description('report protection, findings and tag changes as a table, JSON, CSV, SARIF or one HTML file')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json', 'csv', 'sarif', 'html']).default('table'))
    .option('-o, --output <file>', 'write the report to this file instead of stdout')
    .option('-t, --target <id...>', 'only these target ids')
    .option('--severity <severity>', 'only findings at or above this severity')
    .option('--fail-on <severity>', 'exit 1 when an open, unacknowledged finding at or above this severity exists')
    .action(async (opts: { format: string; output?: string; target?: string[]; severity?: string; failOn?: string }, cmd: Command) => {
      const { reportCommand } = await import('./cli/report.js');
      await withDatabase(cmd, 'tagledger report', async (db) => {
        process.exitCode = await reportCommand(db, opts, { stdout: process.stdout, stderr: process.stderr });
      });
    });

  program
    .command('migrate')
    .description('apply database migrations (also done automatically on start)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { openContext } = await import('./cli/context.js');
      const ctx = await openContext({ config: cmd.optsWithGlobals<GlobalOptions>().config, configOptional: true, logger: loggerFor(cmd), purpose: 'tagledger migrate' });
      await ctx.database.close();
      output(`migrations applied: ${ctx.database.description}`);
    });

  program
    .command('verify')
    .description('recompute every hash chain and scan root (exit 1 and the first broken link when tampered)')
    .option('--target <id>', 'only this target')
    .option('--bundle <file>', 'check an evidence bundle offline instead (no database needed)')
    .option('--json', 'print JSON')
    .action(async (opts: { target?: string; bundle?: string; json?: boolean }, cmd: Command) => {
      const { verifyCommand, verifyBundleFile } = await import('./cli/verify.js');
      if (opts.bundle) {
        const r = verifyBundleFile(opts.bundle, Boolean(opts.json));
        output(r.text);
        process.exitCode = r.code;
        return;
      }
      await withDatabase(cmd, 'tagledger verify', async (db) => {
        const r = await verifyCommand(db, opts);
        output(r.text);
        process.exitCode = r.code;
      });
    });

  program
    .command('evidence')
    .description("write a self-contained, offline-checkable evidence bundle for a tag's history")
    .argument('<ref>', 'TARGET/REPOSITORY:TAG')
    .option('--at <iso8601>', 'prove the digest at this time (default: now)')
    .requiredOption('-o, --output <file>', 'where to write the bundle (JSON)')
    .action(async (ref: string, opts: { at?: string; output: string }, cmd: Command) => {
      const { evidenceCommand } = await import('./cli/verify.js');
      const { parseTagRef, parseInstant } = await import('./cli/history.js');
      const tagRef = parseTagRef(ref);
      const at = opts.at ? parseInstant(opts.at) : undefined;
      await withDatabase(cmd, 'tagledger evidence', async (db) => output(await evidenceCommand(db, tagRef, { at, output: opts.output })));
    });

  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .description('validate the config and print it resolved, secrets masked')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { configCheck } = await import('./cli/config-check.js');
      output(configCheck(cmd.optsWithGlobals<GlobalOptions>().config, Boolean(opts.json)));
    });

  program
    .command('check')
    .description('check image references in Kubernetes manifests, Compose files and Dockerfiles against the ledger; --pin rewrites them to digests')
    .argument('<paths...>', 'files, folders (searched recursively) or - for stdin')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'sarif']).default('table'))
    .option('--fail-on <severity>', 'exit 1 when a reference has a verdict at or above this severity')
    .option('--moved-within <duration>', 'a tag that moved this recently is high', '30d')
    .option('--pin', 'rewrite tag references to tag@digest with the digests the ledger saw in the last successful scan')
    .option('--dry-run', 'with --pin: print a unified diff instead of writing files')
    .action(async (paths: string[], opts: import('./cli/check.js').CheckCliOptions, cmd: Command) => {
      const { parseCheckOptions, readCheckInputs, checkCommand } = await import('./cli/check.js');
      const parsed = parseCheckOptions(opts);
      const inputs = await readCheckInputs(paths, process.stdin);
      await withDatabase(cmd, 'tagledger check', async (db, config) => {
        process.exitCode = await checkCommand(db, config, inputs, parsed, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
      });
    });

  program
    .command('demo')
    .description('run a self-contained demo: bundled registry emulators, embedded database, two scans')
    .option('--data <dir>', 'database directory for the demo (wiped first)', './data/demo')
    .action(async (opts: { data: string }, cmd: Command) => {
      const { runDemo } = await import('./cli/demo.js');
      const g = cmd.optsWithGlobals<GlobalOptions>();
      // The demo tells its own story on stdout; log lines only for warnings unless asked.
      const logger = createLogger({ level: g.logLevel ?? process.env.LOG_LEVEL ?? 'warn', format: g.logFormat });
      process.exitCode = await runDemo({ dataDir: opts.data, logger, out: process.stdout });
    });

  program
    .command('serve')
    .description('run continuously: scheduled scans, alert delivery, retention and the HTTP API (logs JSON unless --log-format plain)')
    .option('--listen <host:port>', 'override api.listen (default 127.0.0.1:8080)')
    .option('--shutdown-timeout <duration>', 'on SIGTERM, exit anyway after this long', '25s')
    .option('--alert-poll <duration>', 'how often to look for due alerts', '5s')
    .action(async (opts: { listen?: string; shutdownTimeout: string; alertPoll: string }, cmd: Command) => {
      const { serve } = await import('./cli/serve.js');
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const format = cmd.getOptionValueSourceWithGlobals('logFormat') === 'cli' ? g.logFormat : 'json';
      const logger = createLogger({ level: g.logLevel ?? process.env.LOG_LEVEL ?? 'info', format });
      process.exitCode = await serve({ config: g.config, logger, ...opts });
    });

  const eventsCmd = program.command('events').description('push events from registries (serve scans what they name right away)');
  eventsCmd
    .command('test <target>')
    .description("send a sample event in the target's registry format, signed with its events.secret, to a running serve (marked as a test: nothing is recorded)")
    .option('--url <url>', "serve's base URL (default: from api.listen, else http://127.0.0.1:8080)")
    .action(async (target: string, opts: { url?: string }, cmd: Command) => {
      const { eventsTest } = await import('./cli/events.js');
      const result = await eventsTest({ config: cmd.optsWithGlobals<GlobalOptions>().config, target, url: opts.url });
      output(result.text);
      process.exitCode = result.code;
    });

  program
    .command('prune')
    .description('delete old repository snapshots, delivery attempts and finished alerts (scans and events stay: they are the verified ledger)')
    .requiredOption('--older-than <duration>', 'e.g. 90d')
    .option('--events', 'also delete findings resolved or waived before then (with their alerts)')
    .option('--json', 'print JSON')
    .action(async (opts: { olderThan: string; events?: boolean; json?: boolean }, cmd: Command) => {
      const { pruneCommand, parseOlderThan } = await import('./cli/prune.js');
      parseOlderThan(opts.olderThan);
      await withDatabase(cmd, 'tagledger prune', async (db) => output(await pruneCommand(db, opts, loggerFor(cmd, true), interruptSignal())));
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and version exit 0; every other commander error is a usage error it already printed.
    return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (err instanceof ConfigError || err instanceof UsageError) {
    process.stderr.write(`tagledger: ${err.message}\n`);
    return ExitCode.usage;
  }
  if (err instanceof DatabaseError || err instanceof DirectoryLockedError) {
    process.stderr.write(`tagledger: ${err.message}\n`);
    return ExitCode.internal;
  }
  process.stderr.write(`tagledger: internal error: ${err instanceof Error ? err.message : String(err)} (LOG_LEVEL=debug for details)\n`);
  if ((process.env.LOG_LEVEL ?? '') === 'debug' || process.env.LOG_LEVEL === 'trace') process.stderr.write(`${err instanceof Error ? err.stack : ''}\n`);
  return ExitCode.internal;
}

// The AWS SDK warns on every start under Node 20 that future releases will need Node 22; the
// README says so once instead of every command's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const code = await main(process.argv);
process.exitCode = code;
