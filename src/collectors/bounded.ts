/**
 * Runs `work` over `items` with at most `limit` runs in flight and yields each result as it
 * completes. Runs and completed results the consumer has not taken yet number at most
 * `limit + buffer`: with the default `buffer` of 0, a new run starts only when the consumer takes
 * a result, so a consumer slower than the registry (a scan writing to its database) holds at most
 * `limit` results, never the whole estate. With a `buffer`, a run that completes makes room for
 * the next one at once while up to `buffer` results wait (a no-change re-scan of the benchmark's
 * estate L gained nothing from it on two cores).
 * A rejection is rethrown to the consumer; the other runs are left to finish (they observe the same
 * AbortSignal) and their outcomes are dropped without unhandled rejections. Once the consumer stops
 * (a rejection, `break`, `return`), no run starts any more.
 */
export async function* mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>, buffer = 0): AsyncGenerator<R> {
  type Settled = { ok: true; value: R } | { ok: false; error: unknown };
  const maxRunning = Math.max(1, limit);
  const maxHeld = maxRunning + Math.max(0, buffer);
  const ready: Settled[] = [];
  let running = 0;
  let next = 0;
  let closed = false;
  let wake: (() => void) | null = null;

  const fill = () => {
    while (!closed && next < items.length && running < maxRunning && running + ready.length < maxHeld) start();
  };
  const settle = (s: Settled) => {
    running--;
    if (closed) return;
    ready.push(s);
    fill();
    const w = wake;
    wake = null;
    w?.();
  };
  function start(): void {
    const item = items[next++];
    running++;
    Promise.resolve()
      .then(() => work(item))
      .then(
        (value) => settle({ ok: true, value }),
        (error: unknown) => settle({ ok: false, error }),
      );
  }

  try {
    fill();
    while (running > 0 || ready.length > 0) {
      if (ready.length === 0) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const settled = ready.shift()!;
      if (!settled.ok) throw settled.error;
      fill();
      yield settled.value;
    }
  } finally {
    closed = true;
  }
}
