import { describe, expect, it } from 'vitest';
import { mapBounded } from './bounded.js';

/** Work whose runs finish when the test says so; counts what runs at once. */
function controlled() {
  const pending = new Map<number, (v: number) => void>();
  const stats = { running: 0, maxRunning: 0, started: [] as number[] };
  const work = (n: number) =>
    new Promise<number>((resolve) => {
      stats.running++;
      stats.maxRunning = Math.max(stats.maxRunning, stats.running);
      stats.started.push(n);
      pending.set(n, (v) => {
        stats.running--;
        resolve(v);
      });
    });
  const finish = async (n: number) => {
    pending.get(n)!(n * 10);
    pending.delete(n);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { work, finish, stats, pending };
}

const tick = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('mapBounded', () => {
  it('yields every result once, in the order the runs complete', async () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const out: number[] = [];
    for await (const r of mapBounded(items, 3, async (n) => {
      await new Promise((resolve) => setTimeout(resolve, (n * 7) % 5));
      return n * 2;
    }))
      out.push(r);
    expect([...out].sort((a, b) => a - b)).toEqual(items.map((n) => n * 2));
  });

  it('runs at most `limit` at once, and starts a run only when the consumer takes a result', async () => {
    const c = controlled();
    const it = mapBounded([1, 2, 3, 4], 2, c.work)[Symbol.asyncIterator]();
    const first = it.next();
    await tick();
    await c.finish(1);
    await c.finish(2);
    expect(await first).toEqual({ value: 10, done: false });
    await tick();
    // 1 taken: 3 starts; 2 waits untaken, so 4 does not.
    expect(c.stats.started).toEqual([1, 2, 3]);
    expect(await it.next()).toEqual({ value: 20, done: false });
    await tick();
    expect(c.stats.started).toEqual([1, 2, 3, 4]);
    expect(c.stats.maxRunning).toBe(2);
    await it.return(undefined);
  });

  it('starts nothing more once the consumer stops, and rethrows a run\'s rejection', async () => {
    const c = controlled();
    const gen = mapBounded([1, 2, 3, 4, 5], 2, c.work);
    const it = gen[Symbol.asyncIterator]();
    const first = it.next();
    await tick();
    await c.finish(1);
    await first;
    await it.return(undefined);
    await c.finish(2);
    await c.finish(3);
    expect(c.stats.started).toEqual([1, 2, 3]);

    const failing = mapBounded([1, 2, 3], 1, async (n) => {
      if (n === 2) throw new Error('run 2 failed');
      return n;
    });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const r of failing) seen.push(r);
      })(),
    ).rejects.toThrow('run 2 failed');
    expect(seen).toEqual([1]);
  });

  it('yields nothing for no items', async () => {
    const out: number[] = [];
    for await (const r of mapBounded([], 4, async () => 1)) out.push(r);
    expect(out).toEqual([]);
  });
});
