/**
 * Time as the scheduler sees it. Production uses the wall clock and timers; tests pass their own so
 * ticks, jitter and overlap can be exercised without waiting for real minutes.
 */
export interface Clock {
  now(): Date;
  /** Resolves after `ms`, or early (without throwing) when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    }),
};

/** A delay in [0, maxMs): spreads targets that share a schedule so they do not hit registries at once. */
export function jitterDelay(maxMs: number, random: () => number = Math.random): number {
  if (maxMs <= 0) return 0;
  return Math.min(maxMs - 1, Math.floor(random() * maxMs));
}
