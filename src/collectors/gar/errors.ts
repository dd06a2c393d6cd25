/**
 * gRPC failures from Artifact Registry, classified once: which ones are worth retrying, which ones
 * mean "this repository is not ours to read", and a message that names the call and never carries
 * credentials.
 * https://cloud.google.com/apis/design/errors#handling_errors
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { RetryableError } from '../../net/retry.js';

/**
 * Retried with backoff: the service is briefly unavailable, the per-project, per-region quota
 * (60,000 requests a minute) ran out, or the call timed out.
 * https://cloud.google.com/artifact-registry/quotas
 */
const RETRYABLE = new Set<number>([GrpcStatus.UNAVAILABLE, GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.DEADLINE_EXCEEDED]);

export interface GarFailure {
  /** The gRPC status code, or null when the failure did not come from the service (e.g. credentials could not be loaded). */
  code: number | null;
  message: string;
}

/** A call failure that may be retried; keeps the gRPC code for the final classification. */
export class GarRetryableError extends RetryableError {
  constructor(
    message: string,
    readonly code: number,
    retryAfterMs?: number,
  ) {
    super(message, retryAfterMs);
    this.name = 'GarRetryableError';
  }
}

/** A call failure that is final. */
export class GarCallError extends Error {
  constructor(
    message: string,
    readonly code: number | null,
  ) {
    super(message);
    this.name = 'GarCallError';
  }
}

export function statusName(code: number | null): string {
  if (code === null) return 'ERROR';
  return (GrpcStatus as unknown as Record<number, string>)[code] ?? `status ${code}`;
}

/**
 * Turns whatever the client threw into a GarRetryableError or a GarCallError whose message is
 * `<what>: <STATUS>: <details>`. Only the status and the server's own details are used: the error
 * object itself (with its metadata) is never stringified.
 */
export function toGarError(err: unknown, what: string): GarRetryableError | GarCallError {
  if (err instanceof GarRetryableError || err instanceof GarCallError) return err;
  const failure = describeFailure(err);
  const message = `${what}: ${statusName(failure.code)}: ${failure.message}`;
  if (failure.code !== null && RETRYABLE.has(failure.code)) {
    return new GarRetryableError(message, failure.code, retryDelayMs(err));
  }
  return new GarCallError(message, failure.code);
}

function describeFailure(err: unknown): GarFailure {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; details?: unknown; message?: unknown };
    const code = typeof e.code === 'number' ? e.code : null;
    const details = typeof e.details === 'string' && e.details ? e.details : typeof e.message === 'string' ? stripStatusPrefix(e.message) : 'unknown error';
    return { code, message: oneLine(details) };
  }
  return { code: null, message: oneLine(String(err)) };
}

/** grpc-js prefixes messages with `<code> <NAME>: `; the status is named separately. */
function stripStatusPrefix(message: string): string {
  return message.replace(/^\d+ [A-Z_]+: /, '');
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 500 ? `${flat.slice(0, 497)}...` : flat;
}

/**
 * Google attaches a `google.rpc.RetryInfo` to quota errors saying how long to wait; google-gax
 * decodes it into `statusDetails`.
 * https://cloud.google.com/apis/design/errors#retryinfo
 */
function retryDelayMs(err: unknown): number | undefined {
  const details = (err as { statusDetails?: unknown }).statusDetails;
  if (!Array.isArray(details)) return undefined;
  for (const d of details) {
    const delay = (d as { retryDelay?: { seconds?: unknown; nanos?: unknown } } | null)?.retryDelay;
    if (delay && (delay.seconds !== undefined || delay.nanos !== undefined)) {
      const ms = Number(delay.seconds ?? 0) * 1000 + Math.floor(Number(delay.nanos ?? 0) / 1e6);
      if (Number.isFinite(ms) && ms >= 0) return ms;
    }
  }
  return undefined;
}

export function isDenial(code: number | null): boolean {
  return code === GrpcStatus.PERMISSION_DENIED || code === GrpcStatus.UNAUTHENTICATED;
}
