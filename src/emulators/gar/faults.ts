/**
 * Fault injection for the GAR gRPC emulator: answer matching calls with a gRPC status instead of the
 * real response, after an optional delay, a given number of times. Tests, the demo and benchmarks use
 * it to make the emulator misbehave the way Artifact Registry does (UNAVAILABLE blips, quota
 * exhaustion, slow answers).
 */
import { status as GrpcStatus } from '@grpc/grpc-js';

export type GarMethod = 'ListRepositories' | 'GetRepository' | 'UpdateRepository' | 'ListDockerImages' | 'ListTags';

/** One call as the emulator received it. */
export interface GarEmulatorCall {
  method: GarMethod;
  /** The request's `parent`, `name` or `repository.name`. */
  resource: string;
  pageSize?: number;
  pageToken?: string;
  /** Whether the call carried an `authorization` header (the emulator ignores its value). */
  authorization: boolean;
  request: Record<string, unknown>;
}

export interface GarFault {
  /** Which methods (default: every one). */
  method?: GarMethod | GarMethod[];
  /** Only calls on this resource: exact name, or a pattern tested against it. */
  resource?: string | RegExp;
  /** Only calls that carry a page token (the second page onwards). */
  pagesAfterFirst?: boolean;
  /** Any further condition. */
  match?: (call: GarEmulatorCall) => boolean;
  /** How many matching calls it applies to (default: every one). */
  times?: number;
  /** Wait this long first; with no `code`, the call is then answered normally. */
  delayMs?: number;
  /** Answer with this gRPC status. */
  code?: GrpcStatus;
  message?: string;
  /**
   * Answer normally, but with the response changed by this function (a page token handed back again,
   * a malformed resource name): the misbehaviour a status code cannot express.
   */
  transform?: (response: Record<string, unknown>, call: GarEmulatorCall) => Record<string, unknown>;
}

/** What Artifact Registry says with each status, near enough. */
const DEFAULT_MESSAGES: Partial<Record<GrpcStatus, string>> = {
  [GrpcStatus.UNAVAILABLE]: 'The service is currently unavailable.',
  [GrpcStatus.RESOURCE_EXHAUSTED]:
    "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per project per region' of service 'artifactregistry.googleapis.com'.",
  [GrpcStatus.DEADLINE_EXCEEDED]: 'Deadline exceeded.',
  [GrpcStatus.INTERNAL]: 'Internal error encountered.',
  [GrpcStatus.PERMISSION_DENIED]: 'The caller does not have permission',
  [GrpcStatus.NOT_FOUND]: 'Requested entity was not found.',
};

export class GarFaultInjector {
  private faults: Array<GarFault & { remaining: number }> = [];

  add(fault: GarFault): this {
    this.faults.push({ ...fault, remaining: fault.times ?? Infinity });
    return this;
  }

  clear(): void {
    this.faults = [];
  }

  /** Applies the first matching fault: waits, then returns the status to answer with (or null). */
  async apply(call: GarEmulatorCall): Promise<{ code: GrpcStatus; details: string } | null> {
    const fault = this.faults.find((f) => f.remaining > 0 && !f.transform && matches(f, call));
    if (!fault) return null;
    fault.remaining -= 1;
    if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.code === undefined) return null;
    return { code: fault.code, details: fault.message ?? DEFAULT_MESSAGES[fault.code] ?? 'injected fault' };
  }

  /** The response after the first matching `transform` fault (unchanged when none matches). */
  transform(call: GarEmulatorCall, response: object): object {
    const fault = this.faults.find((f) => f.remaining > 0 && f.transform && matches(f, call));
    if (!fault) return response;
    fault.remaining -= 1;
    return fault.transform!(response as Record<string, unknown>, call);
  }
}

function matches(f: GarFault, call: GarEmulatorCall): boolean {
  if (f.method !== undefined && !(Array.isArray(f.method) ? f.method.includes(call.method) : f.method === call.method)) return false;
  if (f.resource !== undefined && !(typeof f.resource === 'string' ? f.resource === call.resource : f.resource.test(call.resource))) return false;
  if (f.pagesAfterFirst && !call.pageToken) return false;
  return f.match ? f.match(call) : true;
}
