/**
 * A loopback stand-in for the Amazon ECR API, speaking AWS JSON 1.1 as ECR does: `POST /` with
 * `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Operation>` and
 * `Content-Type: application/x-amz-json-1.1`; errors are HTTP 400 (500 for ServerException) with
 * `{"__type": "...Exception", "message": ...}` and the `x-amzn-ErrorType` header
 * (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html).
 *
 * Any SigV4 `Authorization` header is accepted (signatures are not verified) but one is required
 * (403 MissingAuthenticationTokenException without it); the access key id it names is recorded,
 * so tests can see which credentials signed a call. The real AWS SDK client talks to it through
 * `endpoint`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultInjector, readBody } from '../faults.js';
import { EcrApiError, EcrEstate } from './estate.js';
import { ECR_OPERATIONS, operations, PageTokens, type EcrOperation } from './operations.js';

export { EcrApiError, EcrEstate, digestOf, tagIsImmutable } from './estate.js';
export type { EcrImageStatus, EmulatedImage, EmulatedRepository, PushImageOptions, CreateRepositoryOptions } from './estate.js';
export type { EcrOperation } from './operations.js';

const TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';
const JSON_11 = 'application/x-amz-json-1.1';

export interface EcrEmulatorOptions {
  host?: string;
  /** 0 (the default): an ephemeral port. */
  port?: number;
  /** The caller's own registry (AWS account id), used when a request names none. */
  registryId?: string;
  region?: string;
}

/** One API call as the emulator received it. */
export interface EcrEmulatorCall {
  operation: string;
  repositoryName?: string;
  nextToken?: string;
  maxResults?: number;
  /** From the SigV4 `Credential=` scope; null when the request had no Authorization header. */
  accessKeyId: string | null;
  /** Whether temporary credentials (`X-Amz-Security-Token`) were sent. */
  sessionToken: boolean;
}

export interface EcrFailureOptions {
  /** `__type`, e.g. ThrottlingException, ServerException, AccessDeniedException. */
  type: string;
  /**
   * Default: 500 for ServerException, 400 otherwise, as the AWS common errors list them
   * (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/CommonErrors.html). ECR's
   * troubleshooting guide also mentions HTTP 429 for throttling: pass `status: 429` for that.
   */
  status?: number;
  message?: string;
  /** How many matching calls fail (default 1). */
  times?: number;
  /** Only calls for this repository. */
  repository?: string;
  /** Only calls that carry a nextToken (the second page onwards). */
  pagesAfterFirst?: boolean;
}

export interface EcrEmulator {
  /** `http://127.0.0.1:<port>`: pass it as the client `endpoint`. */
  url: string;
  endpoint: string;
  port: number;
  region: string;
  registryId: string;
  /** The control API: repositories, pushes, tag moves, deletes, settings. */
  estate: EcrEstate;
  /** Transport-level faults (delays, resets, malformed bodies, raw statuses). */
  faults: FaultInjector;
  /** Every call received, in order. */
  calls: EcrEmulatorCall[];
  callCount(operation: EcrOperation, repository?: string): number;
  /** Answers matching calls with an ECR error instead of the real response. */
  failOperation(operation: EcrOperation, opts: EcrFailureOptions): void;
  /**
   * The repeating-token fault: every page after the first answers with the same `nextToken` it
   * was given, so a client that does not notice pages forever. Returns a function that ends the fault.
   */
  repeatNextToken(opts: { operation: EcrOperation; repository?: string }): () => void;
  /** Runs `fn` right after the next answered call of `operation` (e.g. delete a repository mid-scan). */
  afterOperation(operation: EcrOperation, fn: (body: Record<string, unknown>) => void): void;
  close(): Promise<void>;
}

export async function startEcrEmulator(opts: EcrEmulatorOptions = {}): Promise<EcrEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const region = opts.region ?? 'us-east-1';
  const registryId = opts.registryId ?? '123456789012';
  const estate = new EcrEstate(registryId);
  const faults = new FaultInjector();
  const tokens = new PageTokens();
  const calls: EcrEmulatorCall[] = [];
  const repeating: Array<{ operation: EcrOperation; repository?: string }> = [];
  const hooks: Array<{ operation: EcrOperation; fn: (body: Record<string, unknown>) => void }> = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, new EcrApiError('ServerException', `emulator error: ${(err as Error).message}`, 500));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target;
    let body: Record<string, unknown> = {};
    let parsed = true;
    try {
      body = raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>);
    } catch {
      parsed = false;
    }
    const accessKeyId = /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? null;
    calls.push({
      operation,
      repositoryName: typeof body.repositoryName === 'string' ? body.repositoryName : undefined,
      nextToken: typeof body.nextToken === 'string' ? body.nextToken : undefined,
      maxResults: typeof body.maxResults === 'number' ? body.maxResults : undefined,
      accessKeyId,
      sessionToken: req.headers['x-amz-security-token'] !== undefined,
    });
    if (await faults.apply(req, res, raw)) return;

    if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') {
      return sendError(res, new EcrApiError('UnknownOperationException', `${req.method} ${req.url} is not an ECR API request`, 404));
    }
    if (!accessKeyId || !String(req.headers.authorization).startsWith('AWS4-HMAC-SHA256 ')) {
      return sendError(res, new EcrApiError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403));
    }
    if (!target.startsWith(TARGET_PREFIX) || !ECR_OPERATIONS.includes(operation as EcrOperation)) {
      return sendError(res, new EcrApiError('UnknownOperationException', `Unknown operation ${target}`));
    }
    if (!String(req.headers['content-type'] ?? '').startsWith(JSON_11) || !parsed || typeof body !== 'object' || body === null) {
      return sendError(res, new EcrApiError('SerializationException', 'Start of structure or map found where not expected.'));
    }
    const op = operation as EcrOperation;
    let out: Record<string, unknown>;
    try {
      out = operations[op]({ estate, region, accessKeyId, tokens }, body);
    } catch (err) {
      if (err instanceof EcrApiError) return sendError(res, err);
      throw err;
    }
    if (typeof out.nextToken === 'string' && typeof body.nextToken === 'string' && repeating.some((r) => r.operation === op && (!r.repository || r.repository === body.repositoryName))) {
      out.nextToken = body.nextToken;
    }
    sendJson(res, 200, out);
    const i = hooks.findIndex((h) => h.operation === op);
    if (i >= 0) hooks.splice(i, 1)[0].fn(body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;

  return {
    url,
    endpoint: url,
    port,
    region,
    registryId,
    estate,
    faults,
    calls,
    callCount: (operation, repository) => calls.filter((c) => c.operation === operation && (repository === undefined || c.repositoryName === repository)).length,
    failOperation(operation, f) {
      const status = f.status ?? (f.type === 'ServerException' ? 500 : 400);
      faults.add({
        times: f.times ?? 1,
        status,
        headers: { 'Content-Type': JSON_11, 'x-amzn-ErrorType': f.type, 'x-amzn-RequestId': randomUUID() },
        body: JSON.stringify({ __type: f.type, message: f.message ?? defaultMessage(f.type) }),
        match: (req, raw) => {
          if (req.headers['x-amz-target'] !== TARGET_PREFIX + operation) return false;
          if (!f.repository && !f.pagesAfterFirst) return true;
          let b: Record<string, unknown> = {};
          try {
            b = JSON.parse(raw) as Record<string, unknown>;
          } catch {
            return false;
          }
          return (!f.repository || b.repositoryName === f.repository) && (!f.pagesAfterFirst || typeof b.nextToken === 'string');
        },
      });
    },
    repeatNextToken(r) {
      const entry = { ...r };
      repeating.push(entry);
      return () => {
        const i = repeating.indexOf(entry);
        if (i >= 0) repeating.splice(i, 1);
      };
    },
    afterOperation(operation, fn) {
      hooks.push({ operation, fn });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function defaultMessage(type: string): string {
  if (type === 'ThrottlingException') return 'Rate exceeded';
  if (type === 'ServerException') return 'Internal server error';
  return type;
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': JSON_11, 'Content-Length': Buffer.byteLength(text), 'x-amzn-RequestId': randomUUID(), ...extra });
  res.end(text);
}

function sendError(res: ServerResponse, err: EcrApiError): void {
  sendJson(res, err.status, { __type: err.type, message: err.message }, { 'x-amzn-ErrorType': err.type });
}
