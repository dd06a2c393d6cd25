/**
 * The collector thread: runs one target's collector at a time for a scan on the main thread
 * (host.ts), so that reading and parsing registry answers (the vendor SDKs' deserialisers, the
 * answers' checks, building observations) runs beside the thread that stores them, not on it.
 *
 * Only the target's kind is loaded. Results go out encoded (codec.ts), at most `window` ahead of
 * what the scan has taken: memory stays bounded by the collector's own concurrency plus the window.
 * Log lines go to the scan's logger on the main thread.
 */
import { parentPort } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { TargetConfig } from '../../config/schema.js';
import type { Collector, CollectorKind } from '../types.js';
import { loadCollectorFactory, type CollectorContext } from '../index.js';
import { encodeResult } from './codec.js';
import type { FromThread, LogLevel, ToThread } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('collectors/thread/entry runs as a worker thread only');

const LEVELS: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** The part of pino's Logger the collectors use, forwarding each line to the main thread. */
function forwardingLogger(id: number, threshold: number, bindings: Record<string, unknown>): Logger {
  const line = (level: LogLevel) => (objOrMsg?: unknown, msg?: string) => {
    if (LEVELS[level] < threshold) return;
    const obj = typeof objOrMsg === 'object' && objOrMsg !== null ? (objOrMsg as Record<string, unknown>) : {};
    const text = typeof objOrMsg === 'string' ? objOrMsg : (msg ?? '');
    send({ type: 'log', id, level, bindings, obj: plain(obj), msg: text });
  };
  const logger = {
    child: (more: Record<string, unknown>) => forwardingLogger(id, threshold, { ...bindings, ...more }),
    isLevelEnabled: (level: string) => LEVELS[level as LogLevel] >= threshold,
    trace: line('trace'),
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    fatal: line('fatal'),
  };
  return logger as unknown as Logger;
}

/** Log fields as structured-clone-safe values (errors become their message). */
function plain(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] = v instanceof Error ? v.message : typeof v === 'function' || typeof v === 'symbol' ? String(v) : v;
  }
  return out;
}

function send(message: FromThread): void {
  port!.postMessage(message);
}

interface Running {
  id: number;
  abort: AbortController;
  credit: number;
  /** Wakes the collection when credit arrives or it is aborted. */
  wake: (() => void) | null;
}

let running: Running | null = null;

async function collect(id: number, target: TargetConfig, logLevel: string, window: number): Promise<void> {
  const state: Running = { id, abort: new AbortController(), credit: window, wake: null };
  running = state;
  const threshold = LEVELS[logLevel as LogLevel] ?? (logLevel === 'silent' ? Infinity : LEVELS.info);
  let collector: Collector | undefined;
  try {
    collector = (await loadCollectorFactory(target.kind))(target, { logger: forwardingLogger(id, threshold, {}) });
    for await (const result of collector.collect(state.abort.signal)) {
      while (state.credit === 0 && !state.abort.signal.aborted) await new Promise<void>((resolve) => (state.wake = resolve));
      if (state.abort.signal.aborted) throw state.abort.signal.reason;
      state.credit--;
      send({ type: 'result', id, result: encodeResult(result) });
    }
    send({ type: 'end', id });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    send({ type: 'fail', id, error: { name: e.name, message: e.message } });
  } finally {
    await collector?.close?.().catch(() => undefined);
    running = null;
  }
}

port.on('message', (message: ToThread) => {
  switch (message.type) {
    case 'load':
      Promise.all(message.kinds.map(loadCollectorFactory)).then(
        () => send({ type: 'loaded', error: null }),
        (err: unknown) => send({ type: 'loaded', error: (err as Error).message }),
      );
      break;
    case 'collect':
      void collect(message.id, message.target, message.logLevel, message.window);
      break;
    case 'pull':
      if (running?.id === message.id) {
        running.credit++;
        running.wake?.();
      }
      break;
    case 'abort':
      if (running?.id === message.id) {
        const err = new Error(message.reason);
        err.name = 'AbortError';
        running.abort.abort(err);
        running.wake?.();
      }
      break;
  }
});
