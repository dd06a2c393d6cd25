/**
 * Runs `work` over `items` with at most `limit` in flight and yields each result as it completes.
 * A new run starts only when the consumer takes a result, so a consumer slower than the registry
 * (a scan writing to its database) holds at most `limit` results, never the whole estate.
 * A rejection is rethrown to the consumer; the other runs are left to finish (they observe the same
 * AbortSignal) and their outcomes are dropped without unhandled rejections. Once the consumer stops
 * (a rejection, `break`, `return`), no run starts any more.
 */
export async function* mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): AsyncGenerator<R> {
  type Settled = { ok: true; value: R } | { ok: false; error: unknown };
  const max = Math.max(1, limit);
  /** Completed runs the consumer has not taken yet, in the order they completed. */
  const ready: Settled[] = [];
  let running = 0;
  let next = 0;
  let closed = false;
  let wake: (() => void) | null = null;

  const fill = () => {
    while (!closed && next < items.length && running + ready.length < max) start();
  };
  const settle = (s: Settled) => {
    running--;
    if (closed) return;
    ready.push(s);
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
