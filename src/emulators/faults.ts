/**
 * Fault injection for the HTTP emulators (OCI, ECR, Harbor): tests, the demo and benchmarks use it
 * to make a stand-in registry misbehave the way real ones do.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface HttpFault {
  /** Which requests: a predicate, or a regular expression tested against `METHOD path?query`. */
  match?: RegExp | ((req: IncomingMessage, body: string) => boolean);
  /** How many matching requests it applies to (default: every one). */
  times?: number;
  /** Wait this long before answering (or before applying the other effects). */
  delayMs?: number;
  /** Destroy the socket without an answer. */
  reset?: boolean;
  /** Answer with this status (and `body`, `headers`) instead of the real response. */
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** Answer 200 with a body that is not valid for the endpoint. */
  malformed?: boolean;
  /**
   * Answer with headers at once, then a body that never ends: a chunk every `endlessBody` ms until
   * the client hangs up (a stuck proxy, a registry streaming garbage).
   */
  endlessBody?: number;
  /** Answer computed per request (for answers that must change from one request to the next, e.g. a new Link each page). */
  respond?: (req: IncomingMessage, body: string) => { status: number; headers?: Record<string, string>; body?: string };
}

export class FaultInjector {
  private faults: Array<HttpFault & { remaining: number }> = [];
  /** Every request seen, as `METHOD path?query`; tests count calls with it. */
  readonly requests: string[] = [];

  add(fault: HttpFault): this {
    this.faults.push({ ...fault, remaining: fault.times ?? Infinity });
    return this;
  }

  clear(): void {
    this.faults = [];
  }

  /**
   * Applies the first matching fault. Returns true when the response was handled (or the socket
   * destroyed) and the emulator must not answer.
   */
  async apply(req: IncomingMessage, res: ServerResponse, body = ''): Promise<boolean> {
    const line = `${req.method} ${req.url}`;
    this.requests.push(line);
    const fault = this.faults.find((f) => f.remaining > 0 && matches(f.match, req, line, body));
    if (!fault) return false;
    fault.remaining -= 1;
    if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.reset) {
      req.socket.destroy();
      return true;
    }
    if (fault.endlessBody !== undefined) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"items":[');
      const timer = setInterval(() => res.write('"more",'), Math.max(1, fault.endlessBody));
      res.on('close', () => clearInterval(timer));
      return true;
    }
    if (fault.respond) {
      const answer = fault.respond(req, body);
      res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
      res.end(answer.body ?? '');
      return true;
    }
    if (fault.malformed) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"this is not": valid json');
      return true;
    }
    if (fault.status !== undefined) {
      res.writeHead(fault.status, { 'Content-Type': 'application/json', ...fault.headers });
      res.end(fault.body ?? '');
      return true;
    }
    return false; // a pure delay: let the emulator answer
  }
}

function matches(m: HttpFault['match'], req: IncomingMessage, line: string, body: string): boolean {
  if (m === undefined) return true;
  if (m instanceof RegExp) return m.test(line);
  return m(req, body);
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
