/**
 * A Collector whose work runs in a worker thread (entry.ts): the same collector as
 * `createCollector` builds, with the same results in the same order, read on a second thread so
 * that parsing registry answers and storing them (hashing, comparing, the database round trips)
 * overlap. Threads are kept between scans (a `serve` process reuses them; an idle one does not keep
 * the process alive) and can be started ahead with `prepareCollectorThreads`.
 *
 * A thread that dies mid-collection ends the collection with an error: the scan records a
 * target-level failure, never a partial listing taken for a complete one.
 */
import { SHARE_ENV, Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { TargetConfig } from '../../config/schema.js';
import type { CollectorContext } from '../index.js';
import type { Collector, CollectorKind, RepositoryResult } from '../types.js';
import { decodeResult } from './codec.js';
import type { FromThread, ToThread } from './protocol.js';

/** Results a thread may send ahead of the scan: enough to keep it busy while one is stored. */
export const WINDOW = 2;
/** Idle threads kept for the next scan, and for how long. */
const MAX_IDLE = 4;
const IDLE_MS = 10 * 60_000;

let nextId = 1;

class CollectorThread {
  readonly worker: Worker;
  /** The collection this thread runs now, if any. */
  current: { id: number; onMessage: (m: FromThread) => void; onExit: (err: Error) => void } | null = null;
  dead = false;
  private loaded: Array<(error: string | null) => void> = [];
  idleTimer: NodeJS.Timeout | null = null;

  constructor() {
    this.worker = spawn();
    this.worker.on('message', (m: FromThread) => {
      if (m.type === 'loaded') this.loaded.shift()?.(m.error);
      else if (this.current && 'id' in m && m.id === this.current.id) this.current.onMessage(m);
    });
    const died = (err: Error) => {
      if (this.dead) return;
      this.dead = true;
      forget(this);
      for (const resolve of this.loaded.splice(0)) resolve(err.message);
      this.current?.onExit(err);
    };
    this.worker.on('error', (err) => died(err));
    this.worker.on('exit', (code) => died(new Error(`the collector thread exited (code ${code})`)));
  }

  post(message: ToThread): void {
    if (!this.dead) this.worker.postMessage(message);
  }

  load(kinds: CollectorKind[]): Promise<string | null> {
    return new Promise((resolve) => {
      this.loaded.push(resolve);
      this.post({ type: 'load', kinds });
    });
  }
}

/**
 * The thread's entry: compiled JavaScript beside this file, or (tests, `tsx`) the TypeScript source
 * loaded through tsx, which a worker does not inherit from its parent.
 */
function spawn(): Worker {
  const here = import.meta.url;
  const options = { env: SHARE_ENV, stdout: false, stderr: false } as const;
  if (here.endsWith('.ts')) {
    const entry = new URL('./entry.ts', here).href;
    return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { ...options, eval: true });
  }
  return new Worker(new URL('./entry.js', here), options);
}

const idle: CollectorThread[] = [];

function forget(t: CollectorThread): void {
  const i = idle.indexOf(t);
  if (i >= 0) idle.splice(i, 1);
  if (t.idleTimer) clearTimeout(t.idleTimer);
}

function acquire(): CollectorThread {
  const t = idle.pop() ?? new CollectorThread();
  if (t.idleTimer) clearTimeout(t.idleTimer);
  t.idleTimer = null;
  t.worker.ref();
  return t;
}

function release(t: CollectorThread): void {
  t.current = null;
  if (t.dead) return;
  if (idle.length >= MAX_IDLE) {
    void t.worker.terminate();
    return;
  }
  t.worker.unref();
  t.idleTimer = setTimeout(() => {
    forget(t);
    void t.worker.terminate();
  }, IDLE_MS);
  t.idleTimer.unref();
  idle.push(t);
}

/**
 * Starts `count` threads with these kinds' collectors loaded (`serve` at start, the benchmark
 * before its clock), so that the first scan does not wait for a vendor SDK to load. Rejects when a
 * thread cannot load them.
 */
export async function prepareCollectorThreads(kinds: CollectorKind[], count = 1): Promise<void> {
  const threads = Array.from({ length: count }, () => acquire());
  try {
    const errors = (await Promise.all(threads.map((t) => t.load([...new Set(kinds)])))).filter((e): e is string => e !== null);
    if (errors.length) throw new Error(`collector thread could not load the ${kinds.join(', ')} collector: ${errors[0]}`);
  } finally {
    for (const t of threads) release(t);
  }
}

/** Ends every idle collector thread (tests; a process that exits needs not). */
export async function closeCollectorThreads(): Promise<void> {
  const all = idle.splice(0);
  await Promise.all(all.map((t) => (forget(t), t.worker.terminate())));
}

export function createThreadedCollector(target: TargetConfig, ctx: CollectorContext): Collector {
  return {
    kind: target.kind,
    targetId: target.id,
    collect: (signal) => collectInThread(target, ctx.logger, signal),
  };
}

async function* collectInThread(target: TargetConfig, logger: Logger, signal: AbortSignal): AsyncGenerator<RepositoryResult> {
  const thread = acquire();
  const id = nextId++;
  const queue: RepositoryResult[] = [];
  let ended = false;
  let failure: { error: unknown } | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  /** Settles once the thread is done with this collection (ended, failed or died). */
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));

  thread.current = {
    id,
    onMessage: (m) => {
      switch (m.type) {
        case 'result':
          queue.push(decodeResult(m.result));
          break;
        case 'log':
          logger.child(m.bindings)[m.level](m.obj, m.msg);
          return;
        case 'end':
          ended = true;
          finished();
          break;
        case 'fail': {
          const err = new Error(m.error.message);
          err.name = m.error.name;
          failure ??= { error: err };
          finished();
          break;
        }
      }
      notify();
    },
    onExit: (err) => {
      failure ??= { error: new Error(`target "${target.id}": ${err.message} while reading the registry`, { cause: err }) };
      finished();
      notify();
    },
  };
  const onAbort = () => {
    thread.post({ type: 'abort', id, reason: errorText(signal.reason) });
    notify();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  if (thread.dead) thread.current.onExit(new Error('the collector thread had exited'));
  thread.post({ type: 'collect', id, target, logLevel: logger.level, window: WINDOW });
  try {
    for (;;) {
      if (signal.aborted) throw signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
      const next = queue.shift();
      if (next) {
        thread.post({ type: 'pull', id });
        yield next;
        continue;
      }
      // Set by the thread's messages (TypeScript cannot see closures assign it).
      const failed = failure as { error: unknown } | null;
      if (failed) throw failed.error;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (!ended && !failure) thread.post({ type: 'abort', id, reason: 'the scan stopped reading' });
    // The thread goes back to the pool once its collector has let go of sockets and clients.
    void done.then(() => release(thread));
  }
}

function errorText(reason: unknown): string {
  return reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
}
