/**
 * HTTP for one OCI target: every request is authenticated (see auth.ts), bounded by the target's
 * concurrency, and retried on 429, 5xx and transport errors with backoff honouring `Retry-After`.
 * A status the caller must judge (2xx, 3xx, 4xx) is returned; one still failing after the retries is
 * thrown as a RegistryHttpError or RegistryTransportError whose message names the request, never
 * its credentials.
 */
import type { AxiosInstance } from 'axios';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Logger } from 'pino';
import { describeTransportError, stripCredentials } from '../../net/http.js';
import { defaultRetryPolicy, parseRetryAfter, RetryableError, withRetry, type RetryPolicy } from '../../net/retry.js';
import { RegistryAuthenticator, type PlainResponse, type RegistryCredentials } from './auth.js';
import { RegistryHttpError, RegistryTransportError } from './errors.js';
import { registryError, registryErrorSummary } from './schema.js';

export interface RegistryResponse {
  status: number;
  headers: Record<string, unknown>;
  /** Text, or the exact bytes when `binary` was asked for. */
  body: string | Buffer;
  url: string;
}

export interface RequestOptions {
  /** The token scope this request needs (`repository:<name>:pull`), null for none. */
  scope: string | null;
  accept?: string;
  /** Keep the body as bytes (to hash a manifest exactly as served). */
  binary?: boolean;
  signal: AbortSignal;
}

export interface RegistryClientOptions {
  http: AxiosInstance;
  registryUrl: URL;
  credentials?: RegistryCredentials;
  concurrency: number;
  retryPolicy?: RetryPolicy;
  caFile?: string;
  logger: Logger;
  now?: () => number;
}

/** A 429/5xx answer, retryable until the policy gives up. */
class RetryableStatus extends RetryableError {
  constructor(
    message: string,
    readonly status: number,
    readonly registryCode: string | undefined,
    retryAfterMs: number | undefined,
  ) {
    super(message, retryAfterMs);
  }
}

export class RegistryClient {
  readonly auth: RegistryAuthenticator;
  private readonly limit: LimitFunction;
  private readonly policy: RetryPolicy;

  constructor(private readonly opts: RegistryClientOptions) {
    this.limit = pLimit(opts.concurrency);
    this.policy = opts.retryPolicy ?? defaultRetryPolicy;
    this.auth = new RegistryAuthenticator({
      credentials: opts.credentials,
      registryUrl: opts.registryUrl,
      now: opts.now ?? Date.now,
      fetch: (url, headers, signal) => this.fetchPlain(url, headers, signal),
    });
  }

  /** An authenticated request to the registry. */
  async request(method: 'GET' | 'HEAD', url: string, opts: RequestOptions): Promise<RegistryResponse> {
    return this.retrying(method, url, opts.signal, () =>
      this.limit(async () => {
        const headers: Record<string, string> = opts.accept ? { Accept: opts.accept } : {};
        let authorization = await this.auth.authorization(opts.scope, opts.signal);
        let res = await this.send(method, url, authorization ? { ...headers, Authorization: authorization } : headers, opts);
        if (res.status === 401 && (await this.auth.challenged(res.headers['www-authenticate'] as string | undefined, opts.scope, authorization, opts.signal))) {
          authorization = await this.auth.authorization(opts.scope, opts.signal);
          res = await this.send(method, url, authorization ? { ...headers, Authorization: authorization } : headers, opts);
        }
        return res;
      }),
    );
  }

  /** A GET without registry auth (the token realm), with the same retries. */
  private async fetchPlain(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<PlainResponse> {
    const res = await this.retrying('GET', url, signal, () => this.send('GET', url, headers, { scope: null, signal }, true));
    return { status: res.status, headers: res.headers, body: res.body.toString() };
  }

  private async retrying(method: string, url: string, signal: AbortSignal, attempt: () => Promise<RegistryResponse>): Promise<RegistryResponse> {
    try {
      return await withRetry(attempt, this.policy, signal, (err, delayMs, index) => {
        this.opts.logger.debug({ url: stripQuery(url), attempt: index + 1, delayMs, reason: err.message }, 'registry request failed; retrying');
      });
    } catch (err) {
      if (signal.aborted) throw abortReason(signal);
      const gaveUp = `gave up after ${this.policy.attempts} attempt${this.policy.attempts === 1 ? '' : 's'}`;
      if (err instanceof RetryableStatus) throw new RegistryHttpError(`${err.message} (${gaveUp})`, err.status, err.registryCode);
      if (err instanceof RetryableError) throw new RegistryTransportError(`${err.message} (${gaveUp})`);
      throw err;
    }
  }

  /** One HTTP exchange. Transport errors and 429/5xx become RetryableErrors; any other status is returned. */
  private async send(method: 'GET' | 'HEAD', url: string, headers: Record<string, string>, opts: RequestOptions, tokenRealm = false): Promise<RegistryResponse> {
    let res;
    try {
      res = await this.opts.http.request({
        method,
        url,
        headers,
        signal: opts.signal,
        responseType: opts.binary ? 'arraybuffer' : 'text',
      });
    } catch (err) {
      if (opts.signal.aborted) throw abortReason(opts.signal);
      throw new RetryableError(`${method} ${describeTransportError(err, stripQueryIf(url, tokenRealm), this.opts.caFile)}`);
    }
    const body: string | Buffer = opts.binary ? Buffer.from(res.data as ArrayBuffer) : String(res.data ?? '');
    const response: RegistryResponse = { status: res.status, headers: res.headers as Record<string, unknown>, body, url };
    if (res.status === 429 || (res.status >= 500 && res.status !== 501)) {
      const retryAfter = parseRetryAfter(headerValue(res.headers as Record<string, unknown>, 'retry-after'));
      throw new RetryableStatus(describeStatus(method, stripQueryIf(url, tokenRealm), response), res.status, registryError(body)?.code, retryAfter);
    }
    return response;
  }
}

/** `METHOD url: HTTP status (CODE: message)`, for an answer the caller cannot use. */
export function describeStatus(method: string, url: string, res: Pick<RegistryResponse, 'status' | 'body'>): string {
  const summary = method === 'HEAD' ? undefined : registryErrorSummary(res.body);
  return `${method} ${stripCredentials(url)}: HTTP ${res.status}${summary ? ` (${summary})` : ''}`;
}

export function httpError(method: string, url: string, res: Pick<RegistryResponse, 'status' | 'body'>): RegistryHttpError {
  return new RegistryHttpError(describeStatus(method, url, res), res.status, method === 'HEAD' ? undefined : registryError(res.body)?.code);
}

export function headerValue(headers: Record<string, unknown>, name: string): string | undefined {
  const v = headers[name];
  if (Array.isArray(v)) return v.length ? String(v[0]) : undefined;
  return v === undefined || v === null ? undefined : String(v);
}

function stripQuery(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return stripCredentials(url);
  }
}

/** Token realm URLs are named without their query (service and scope are not secret, but noisy). */
function stripQueryIf(url: string, strip: boolean): string {
  return strip ? stripQuery(url) : url;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}
