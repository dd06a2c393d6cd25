/**
 * Runs `work` over `items` with at most `limit` in flight and yields each result as it completes.
 * A new run starts only when the consumer takes a result, so a consumer slower than the registry
 * (a scan writing to its database) holds at most `limit` results, never the whole estate.
 * A rejection is rethrown to the consumer; the other runs are left to finish (they observe the same
 * AbortSignal) and their outcomes are dropped without unhandled rejections.
 */
export async function* mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): AsyncGenerator<R> {
  type Settled = { id: number; ok: true; value: R } | { id: number; ok: false; error: unknown };
  const inFlight = new Map<number, Promise<Settled>>();
  let next = 0;
  const start = () => {
    const id = next++;
    const run = Promise.resolve()
      .then(() => work(items[id]))
      .then(
        (value): Settled => ({ id, ok: true, value }),
        (error: unknown): Settled => ({ id, ok: false, error }),
      );
    inFlight.set(id, run);
  };
  while (next < items.length && inFlight.size < Math.max(1, limit)) start();
  while (inFlight.size > 0) {
    const settled = await Promise.race(inFlight.values());
    inFlight.delete(settled.id);
    if (!settled.ok) throw settled.error;
    if (next < items.length) start();
    yield settled.value;
  }
}
