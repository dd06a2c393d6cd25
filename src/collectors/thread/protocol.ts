/**
 * Messages between a scan and the collector thread that reads its registry (host.ts, entry.ts).
 * One collection at a time per thread; `id` names it, so that a late message of an earlier,
 * abandoned collection is never taken for the current one's.
 */
import type { TargetConfig } from '../../config/schema.js';
import type { CollectorKind } from '../types.js';
import type { EncodedResult } from './codec.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export type ToThread =
  /** Load these kinds' collectors (and their SDKs) now, before any scan needs them. */
  | { type: 'load'; kinds: CollectorKind[] }
  /** Run the target's collector; at most `window` results may be sent before a `pull`. */
  | { type: 'collect'; id: number; target: TargetConfig; logLevel: string; window: number }
  /** The scan took a result: one more may be sent. */
  | { type: 'pull'; id: number }
  /** The scan stopped (aborted, or no longer reading): abort the collector. */
  | { type: 'abort'; id: number; reason: string };

export type FromThread =
  | { type: 'loaded'; error: string | null }
  | { type: 'result'; id: number; result: EncodedResult }
  | { type: 'log'; id: number; level: LogLevel; bindings: Record<string, unknown>; obj: Record<string, unknown>; msg: string }
  /** The collector ended (its last result was sent). */
  | { type: 'end'; id: number }
  /** The collector threw; after an abort this is how the collection ends. */
  | { type: 'fail'; id: number; error: { name: string; message: string } };
