/**
 * HTTP access to one Harbor instance: basic auth, retries with backoff for 429/5xx/network errors,
 * Harbor's error bodies turned into messages without credentials, and paged listings read whole.
 */
import type { AxiosInstance, AxiosResponse } from 'axios';
import type { z } from 'zod';
import { createHttpClient, describeTransportError, stripCredentials } from '../../net/http.js';
import { defaultRetryPolicy, parseRetryAfter, RetryableError, withRetry, type RetryPolicy } from '../../net/retry.js';
import { nextPageUrl } from './links.js';
import { HarborErrors } from './schema.js';

/** The swagger's `page_size` maximum; Harbor answers 422 above it (and defaults to 10 without it). */
export const HARBOR_MAX_PAGE_SIZE = 100;

export interface HarborClientOptions {
  url: string;
  username: string;
  password: string;
  caFile?: string;
  insecureSkipTlsVerify?: boolean;
  maxSockets?: number;
  timeoutMs?: number;
  retryPolicy?: RetryPolicy;
  onRetry?: (what: string, message: string, delayMs: number) => void;
}

/** A definite answer from Harbor that is not a success (after retries for 429/5xx). */
export class HarborApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly vendorCode: string | null,
  ) {
    super(message);
    this.name = 'HarborApiError';
  }
}

/** The registry could not be reached or kept failing (network, TLS, 429/5xx after retries). */
export class HarborUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HarborUnavailableError';
  }
}

/** A response that is not what the API documents (bad JSON, wrong shape). */
export class HarborResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HarborResponseError';
  }
}

/** A paged listing that changed or came back short while it was read: read it again. */
export class HarborListingChangedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HarborListingChangedError';
  }
}

class RetryableHarborError extends RetryableError {
  constructor(
    message: string,
    retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(message, retryAfterMs);
  }
}

export interface HarborPage<T> {
  items: T[];
  total: number | null;
  next: string | null;
}

export class HarborClient {
  readonly apiBase: string;
  private readonly http: AxiosInstance;
  private readonly authorization: string;
  private readonly retryPolicy: RetryPolicy;

  constructor(private readonly opts: HarborClientOptions) {
    this.apiBase = `${opts.url.replace(/\/+$/, '')}/api/v2.0`;
    this.http = createHttpClient({
      caFile: opts.caFile,
      insecureSkipTlsVerify: opts.insecureSkipTlsVerify,
      maxSockets: opts.maxSockets,
      timeoutMs: opts.timeoutMs,
    });
    // Basic auth as RFC 7617 spells it; robot names (`robot$audit`) go through unchanged.
    this.authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password}`, 'utf8').toString('base64')}`;
    this.retryPolicy = opts.retryPolicy ?? defaultRetryPolicy;
  }

  /** GET one API path (relative to /api/v2.0, query included) or an absolute URL from a Link header. */
  async getJson<T>(pathOrUrl: string, schema: z.ZodType<T>, what: string, signal: AbortSignal, headers: Record<string, string> = {}): Promise<{ data: T; response: AxiosResponse<string> }> {
    const url = pathOrUrl.startsWith('/') ? `${this.apiBase}${pathOrUrl}` : pathOrUrl;
    const shown = displayUrl(url);
    const response = await this.getWithRetry(url, shown, what, signal, headers);
    if (response.status !== 200) throw apiError(what, shown, response);
    let body: unknown;
    try {
      body = JSON.parse(response.data);
    } catch {
      throw new HarborResponseError(`${what}: GET ${shown} answered 200 with a body that is not JSON`);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
      throw new HarborResponseError(`${what}: GET ${shown} answered with an unexpected body (${issues})`);
    }
    return { data: parsed.data, response };
  }

  /**
   * Every item of a paged listing: `page_size=100` (the maximum), then the `rel="next"` links until
   * there is none. The result is checked against `X-Total-Count`: every page must report the same
   * total and the items read must add up to it, otherwise the listing changed while it was read
   * (Harbor pages by offset, so a push between two pages shifts items across them).
   */
  async listAll<T>(path: string, query: Record<string, string>, itemSchema: z.ZodType<T>, what: string, signal: AbortSignal, headers: Record<string, string> = {}): Promise<T[]> {
    const params = new URLSearchParams({ ...query, page: '1', page_size: String(HARBOR_MAX_PAGE_SIZE) });
    const first = `${this.apiBase}${path}?${params.toString()}`;
    const arraySchema = itemSchema.array() as z.ZodType<T[]>;
    const items: T[] = [];
    let url: string | null = first;
    let total: number | null = null;
    let pages = 0;
    while (url !== null) {
      signal.throwIfAborted();
      const { data, response } = await this.getJson(url, arraySchema, what, signal, headers);
      const pageTotal = totalCount(response);
      if (pages === 0) total = pageTotal;
      else if (pageTotal !== total) {
        throw new HarborListingChangedError(`${what}: X-Total-Count changed from ${total} to ${pageTotal} while paging; the listing changed during the scan`);
      }
      items.push(...data);
      pages++;
      const next = nextPageUrl(response.headers.link as string | undefined, url);
      if (next !== null) {
        if (!sameApi(next, this.apiBase)) {
          throw new HarborResponseError(`${what}: the Link header points outside ${displayUrl(this.apiBase)} (${displayUrl(next)}); not following it`);
        }
        if (data.length === 0) throw new HarborResponseError(`${what}: page ${pages} was empty but announced a next page`);
        const bound = total === null ? 10_000 : Math.ceil(total / HARBOR_MAX_PAGE_SIZE) + 1;
        if (pages >= bound) throw new HarborResponseError(`${what}: more than ${bound} pages for X-Total-Count ${total}; stopping`);
      }
      url = next;
    }
    if (total !== null && items.length !== total) {
      throw new HarborListingChangedError(`${what}: read ${items.length} item(s) but X-Total-Count said ${total}; the listing changed during the scan`);
    }
    return items;
  }

  private async getWithRetry(url: string, shown: string, what: string, signal: AbortSignal, headers: Record<string, string>): Promise<AxiosResponse<string>> {
    try {
      return await withRetry(
        async () => {
          let response: AxiosResponse<string>;
          try {
            response = await this.http.get<string>(url, {
              signal,
              headers: { Accept: 'application/json', Authorization: this.authorization, ...headers },
            });
          } catch (err) {
            if (signal.aborted) throw signal.reason ?? err;
            const failure = describeConnectionError(err, url, this.opts.caFile);
            // A certificate or protocol problem does not go away by asking again.
            if (failure.tls) throw new HarborUnavailableError(`${what}: ${failure.message}`);
            throw new RetryableHarborError(`${what}: ${failure.message}`);
          }
          if (response.status === 429 || response.status >= 500) {
            throw new RetryableHarborError(describeStatus(what, shown, response), parseRetryAfter(header(response, 'retry-after')), response.status);
          }
          return response;
        },
        this.retryPolicy,
        signal,
        (err, delayMs) => this.opts.onRetry?.(what, err.message, delayMs),
      );
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      if (err instanceof RetryableHarborError) {
        throw new HarborUnavailableError(`${err.message} (gave up after ${this.retryPolicy.attempts} attempts)`);
      }
      throw err;
    }
  }
}

function apiError(what: string, shown: string, response: AxiosResponse<string>): HarborApiError {
  return new HarborApiError(describeStatus(what, shown, response), response.status, vendorError(response)?.code ?? null);
}

/** `Harbor projects list: GET https://h/api/v2.0/projects?… answered 403 FORBIDDEN "forbidden"`. */
function describeStatus(what: string, shown: string, response: AxiosResponse<string>): string {
  const vendor = vendorError(response);
  const detail = vendor ? ` ${[vendor.code, vendor.message ? JSON.stringify(oneLine(vendor.message)) : null].filter(Boolean).join(' ')}` : '';
  return `${what}: GET ${shown} answered HTTP ${response.status}${detail}`;
}

function vendorError(response: AxiosResponse<string>): { code: string | null; message: string | null } | null {
  try {
    const parsed = HarborErrors.safeParse(JSON.parse(response.data));
    const first = parsed.success ? parsed.data.errors[0] : undefined;
    return first ? { code: first.code ?? null, message: first.message ?? null } : null;
  } catch {
    return null;
  }
}

function oneLine(s: string): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

function totalCount(response: AxiosResponse<string>): number | null {
  const raw = header(response, 'x-total-count');
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return null;
  return Number(raw.trim());
}

function header(response: AxiosResponse<string>, name: string): string | undefined {
  const v = (response.headers as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? String(v[0]) : undefined;
}

/** The URL as shown in messages: no credentials, and no query beyond what identifies the page. */
function displayUrl(url: string): string {
  return stripCredentials(url);
}

function sameApi(next: string, apiBase: string): boolean {
  const a = new URL(next);
  const b = new URL(apiBase);
  return a.origin === b.origin && a.pathname.startsWith(`${b.pathname}/`);
}

/**
 * A transport failure in words, and whether it is a TLS problem (never retried). Certificate errors
 * are described by the shared HTTP layer (host, caFile, the insecureSkipTlsVerify escape hatch); a
 * handshake that fails outright (`EPROTO`, typically a plain-HTTP server behind an https:// URL) is
 * described here.
 */
function describeConnectionError(err: unknown, url: string, caFile: string | undefined): { message: string; tls: boolean } {
  const described = describeTransportError(err, url, caFile);
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  const text = err instanceof Error ? err.message : String(err);
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL/.test(code)) return { message: described, tls: true };
  if (code === 'EPROTO' || /SSL routines|TLS/i.test(text)) {
    const host = new URL(url).host;
    const reason = /wrong version number|packet length too long|http request/i.test(text)
      ? 'the server did not answer with TLS (is it plain HTTP? check the scheme of url)'
      : oneLine(text.replace(/^.*?error:[0-9A-F]+:/i, ''));
    return { message: `TLS handshake with ${host} failed (${code || 'TLS error'}): ${reason}${caFile ? `; caFile ${caFile}` : ''}`, tls: true };
  }
  return { message: described, tls: false };
}
