/**
 * `tagledger serve`: the long-running mode. Scans every target on its schedule, delivers alerts
 * continuously, prunes old rows when `retention:` is set, and serves the HTTP API.
 *
 * SIGTERM / SIGINT: stop taking new work (readiness turns 503), abort scans in flight (the
 * repository transaction in flight commits, the scan is marked aborted), stop the dispatcher, close
 * the API and the database, exit 0. A second signal, or the shutdown outlasting its bound, exits at
 * once with a non-zero code.
 */
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { parseDuration } from '../config/common.js';
import { openDatabase, resolveDatabaseTarget, type OpenDatabase } from '../store/db.js';
import { alertingFromConfig, buildNotifiers, dispatchSettings } from '../alerts/setup.js';
import { Scheduler } from '../scheduler/schedule.js';
import { prepareCollectorThreads } from '../collectors/thread/host.js';
import { AlertLoop } from '../scheduler/alert-loop.js';
import { RetentionJob } from '../scheduler/retention.js';
import { databaseCoordinator } from '../scheduler/slots.js';
import { DEFAULT_TIMEZONE } from '../scheduler/cron.js';
import { buildApiServer } from '../api/server.js';
import { ServiceMetrics } from '../api/metrics.js';
import { formatListen, isLoopback, parseListen, type ListenAddress } from '../api/listen.js';
import { ExitCode, UsageError } from './exit.js';
import { PushEventQueue } from '../events/queue.js';
import { PushEventIntake } from '../events/receiver.js';
import { DEFAULT_DEBOUNCE } from '../events/config.js';

export interface ServeOptions {
  config?: string;
  logger: Logger;
  /** Overrides `api.listen`. */
  listen?: string;
  /** How long a shutdown may take before the process exits anyway (default 25s). */
  shutdownTimeout?: string;
  /** How often the dispatcher looks for due alerts (default 5s). */
  alertPoll?: string;
}

export const DEFAULT_SHUTDOWN_TIMEOUT = '25s';

/** Where to listen, refusing a non-loopback address without a token (anyone could read the API). */
export function listenAddress(config: Config, override: string | undefined): { address: ListenAddress; token: string | undefined } {
  const raw = override ?? config.api.listen;
  const where = override ? '--listen' : 'api.listen';
  const address = parseListen(raw);
  if (!address) throw new UsageError(`${where}: "${raw}" must be host:port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080`);
  const token = config.api.token?.trim() ? config.api.token : undefined;
  if (!token && !isLoopback(address.host)) {
    throw new UsageError(
      `${where}: ${raw} is not a loopback address and api.token is not set; set api.token (e.g. token: \${TAGLEDGER_API_TOKEN}) or listen on 127.0.0.1`,
    );
  }
  return { address, token };
}

function durationOption(value: string | undefined, fallback: string, name: string): number {
  try {
    return parseDuration(value ?? fallback);
  } catch {
    throw new UsageError(`${name} "${value}" must be a duration like 500ms, 30s or 10m`);
  }
}

export async function serve(opts: ServeOptions): Promise<number> {
  const { logger } = opts;
  // Listen for the signal from the start: one that arrives while the database opens still means a clean stop.
  const stopRequested = shutdownSignal();
  const { config, path } = loadConfig(opts.config, { optional: true });
  const { address, token } = listenAddress(config, opts.listen);
  const shutdownMs = durationOption(opts.shutdownTimeout, DEFAULT_SHUTDOWN_TIMEOUT, '--shutdown-timeout');
  const pollMs = durationOption(opts.alertPoll, '5s', '--alert-poll');
  if (!config.targets.length) logger.warn({ config: path }, 'the config has no targets: serving the API and delivering alerts only');

  const database: OpenDatabase = await openDatabase(resolveDatabaseTarget(config.database), { purpose: 'tagledger serve' });
  const db = database.db;
  logger.info({ database: database.description, config: path }, 'database open');

  let accepting = true;
  const metrics = new ServiceMetrics(db, logger);
  const coordinator = databaseCoordinator(db);
  const timezone = config.timezone ?? DEFAULT_TIMEZONE;
  const alertLoop = new AlertLoop({
    db,
    notifiers: buildNotifiers(config),
    settings: dispatchSettings(config),
    logger: logger.child({ component: 'alerts' }),
    intervalMs: pollMs,
    onRound: (stats) => metrics.recordDeliveries(stats),
  });
  if (config.collectorThreads && config.targets.length) {
    // Loaded now, so that the first scan does not wait for a vendor SDK; a failure shows again,
    // with its target, when a scan needs the collector.
    const kinds = [...new Set(config.targets.map((t) => t.kind))];
    await prepareCollectorThreads(kinds).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'collector thread not prepared'));
  }
  const scheduler = new Scheduler({
    db,
    logger: logger.child({ component: 'scheduler' }),
    targets: config.targets,
    coordinator,
    timezone,
    alerting: alertingFromConfig(config),
    collectorThreads: config.collectorThreads,
    hooks: {
      scanFinished: (summary) => {
        metrics.recordScan(summary);
        alertLoop.wake();
      },
      tickSkipped: (target, reason) => metrics.recordSkippedTick(target, reason),
    },
  });
  const retention = config.retention ? new RetentionJob({ db, logger, settings: config.retention, coordinator, timezone }) : null;
  const eventLogger = logger.child({ component: 'push-events' });
  const debounce = new Map(config.targets.map((t) => [t.id, parseDuration(('events' in t && t.events?.debounce) || DEFAULT_DEBOUNCE)]));
  const pushQueue = new PushEventQueue({
    db,
    logger: eventLogger,
    scanner: scheduler,
    debounceMs: (id) => debounce.get(id) ?? parseDuration(DEFAULT_DEBOUNCE),
    onChecked: (source, status) => metrics.recordPushEventCheck(source, status),
  });
  const events = new PushEventIntake({ db, targets: config.targets, queue: pushQueue, logger: eventLogger });

  let api: Awaited<ReturnType<typeof buildApiServer>>;
  try {
    api = await buildApiServer({ db, targets: config.targets, token, metrics, logger, scans: scheduler, events, accepting: () => accepting });
    await api.listen({ host: address.host, port: address.port });
  } catch (err) {
    await database.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot listen on ${formatListen(address)}: ${code ?? (err instanceof Error ? err.message : String(err))}`);
  }
  const bound = api.server.address();
  const actual = typeof bound === 'object' && bound ? { host: address.host, port: bound.port } : address;
  logger.info({ listen: formatListen(actual), auth: token ? 'token' : 'none (loopback only)', targets: config.targets.length }, `listening on http://${formatListen(actual)}`);

  scheduler.start();
  alertLoop.start();
  retention?.start();

  const sig = await stopRequested;
  accepting = false;
  logger.info({ signal: sig, boundMs: shutdownMs }, 'shutting down: no new scans, aborting scans in flight');
  const force = setTimeout(() => {
    logger.error({ boundMs: shutdownMs }, 'shutdown took too long; exiting without waiting further');
    process.exit(ExitCode.internal);
  }, shutdownMs);
  force.unref();
  process.once('SIGTERM', () => process.exit(130));
  process.once('SIGINT', () => process.exit(130));

  const results = await Promise.allSettled([pushQueue.stop(), scheduler.stop(), alertLoop.stop(), retention?.stop(), api.close()]);
  for (const r of results) if (r.status === 'rejected') logger.warn({ err: String(r.reason) }, 'a component did not stop cleanly');
  await database.close();
  clearTimeout(force);
  logger.info('stopped');
  return ExitCode.ok;
}

function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
