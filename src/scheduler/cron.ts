/**
 * node-cron as the source of ticks: it parses the expression, follows the time zone (DST included)
 * and fires at each matching instant. Everything that decides whether a tick runs (the slot claim
 * shared by replicas, overlap, jitter) lives in schedule.ts, around the callback, so it can be
 * driven by tests with a fake driver instead of real minutes.
 *
 * Why not node-cron's own `distributed: true` coordinator (https://nodecron.com/distributed-coordination):
 * it fits the slot idea (its key is `<name>:<slot ISO time>`), but its jitter (`maxRandomDelay`) is a
 * timer that `stop()` clears without settling the run, so a shutdown could not wait for it; and
 * overlap, lost slots and a busy target would reach us as three different events. One callback that
 * claims, waits and scans keeps the decision in one testable place.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';

export const DEFAULT_SCHEDULE = '0 * * * *';
export const DEFAULT_JITTER = '30s';
export const DEFAULT_TIMEZONE = 'UTC';

export interface CronHandle {
  stop(): void;
  /** The next tick, for the start-up log. */
  nextRun(): Date | null;
}

export interface CronDriver {
  schedule(p: { name: string; expression: string; timezone: string; onTick: (slot: Date) => void }): CronHandle;
}

/** The production driver. `slot` is the matched instant (whole seconds), the same on every replica. */
export function nodeCronDriver(logger?: Logger): CronDriver {
  return {
    schedule({ name, expression, timezone, onTick }) {
      const task: ScheduledTask = cron.schedule(
        expression,
        (ctx) => {
          onTick(ctx.date);
        },
        { name, timezone, logger: logger ? cronLogger(logger.child({ cron: name })) : undefined },
      );
      return {
        stop: () => void task.destroy(),
        nextRun: () => task.getNextRun(),
      };
    },
  };
}

/**
 * Whether `expression` fires at `date` in `timezone`. node-cron ANDs day-of-month with
 * day-of-week: `0 9 1 * 1` is "09:00 on the 1st when the 1st is a Monday", where standard cron
 * would fire on every 1st and every Monday.
 */
export function cronMatches(expression: string, timezone: string, date: Date): boolean {
  const task = cron.createTask(expression, () => undefined, { timezone });
  try {
    return task.match(date);
  } finally {
    void task.destroy();
  }
}

/** node-cron's logger interface on top of pino. */
function cronLogger(log: Logger) {
  return {
    info: (m: string) => log.debug(m),
    warn: (m: string) => log.warn(m),
    error: (m: string | Error, err?: Error) => log.error({ err: (err ?? m) instanceof Error ? String((err ?? m) as Error) : undefined }, typeof m === 'string' ? m : m.message),
    debug: (m: string | Error) => log.debug(typeof m === 'string' ? m : m.message),
  };
}
