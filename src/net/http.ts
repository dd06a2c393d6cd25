/**
 * The axios client every HTTP collector uses: TLS settings from the target (caFile,
 * insecureSkipTlsVerify), a deadline per request, a bound on response size, no automatic redirects
 * to other hosts' credentials, and error messages that never carry credentials.
 */
import axios, { AxiosError, type AxiosInstance } from 'axios';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';

export interface HttpClientOptions {
  baseURL?: string;
  caFile?: string;
  insecureSkipTlsVerify?: boolean;
  timeoutMs?: number;
  maxSockets?: number;
  userAgent?: string;
  /** Largest response body accepted (default MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number;
}

/**
 * No registry page or manifest comes near this (manifests are limited to 4 MiB by the reference
 * registry); a body growing past it is a registry streaming without end, refused before it exhausts
 * memory.
 */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

const DEADLINE = Symbol('tagledger.deadline');

interface Deadline {
  ms: number;
  expired: boolean;
  release(): void;
}

export function createHttpClient(opts: HttpClientOptions): AxiosInstance {
  let ca: Buffer | undefined;
  if (opts.caFile) {
    try {
      ca = readFileSync(opts.caFile);
    } catch (err) {
      throw new Error(`cannot read caFile ${opts.caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  const maxSockets = opts.maxSockets ?? 32;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const client = axios.create({
    baseURL: opts.baseURL,
    timeout: timeoutMs,
    maxRedirects: 5,
    maxContentLength: opts.maxResponseBytes ?? MAX_RESPONSE_BYTES,
    // Status handling is the caller's: every status resolves.
    validateStatus: () => true,
    httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
    httpsAgent: new https.Agent({ keepAlive: true, maxSockets, ca, rejectUnauthorized: !opts.insecureSkipTlsVerify }),
    headers: { 'User-Agent': opts.userAgent ?? 'tagledger' },
    // Keep bodies as text: callers parse (and validate) them themselves, so a malformed body is a
    // clear error naming the URL instead of a silent string.
    responseType: 'text',
    transformResponse: [(data) => data],
  });

  // axios' `timeout` is an idle timeout on the socket (`req.setTimeout`): a server that trickles a
  // byte now and then keeps a request alive for ever. A wall-clock deadline per request bounds the
  // whole exchange, body included, and is reported as the timeout it is.
  client.interceptors.request.use((config) => {
    // A streamed body is the caller's to read and bound (notifiers read a snippet, then destroy the
    // stream): axios enforces maxContentLength on streams by piping them through a wrapper, and
    // destroying the wrapper would leave the socket behind it busy, never freed for the next request.
    if (config.responseType === 'stream') config.maxContentLength = -1;
    const ms = config.timeout || timeoutMs;
    const controller = new AbortController();
    const outer = config.signal as AbortSignal | undefined;
    const relay = () => controller.abort(outer?.reason);
    const deadline: Deadline = {
      ms,
      expired: false,
      release: () => {
        clearTimeout(timer);
        outer?.removeEventListener('abort', relay);
      },
    };
    const timer = setTimeout(() => {
      deadline.expired = true;
      controller.abort();
    }, ms);
    timer.unref?.();
    if (outer?.aborted) controller.abort(outer.reason);
    else outer?.addEventListener('abort', relay, { once: true });
    config.signal = controller.signal;
    (config as unknown as Record<symbol, Deadline>)[DEADLINE] = deadline;
    return config;
  });
  client.interceptors.response.use(
    (response) => {
      (response.config as unknown as Record<symbol, Deadline | undefined>)[DEADLINE]?.release();
      return response;
    },
    (err: unknown) => {
      const config = (err as AxiosError | null)?.config as unknown as Record<symbol, Deadline | undefined> | undefined;
      const deadline = config?.[DEADLINE];
      deadline?.release();
      if (deadline?.expired && axios.isCancel(err)) {
        const e = err as AxiosError;
        throw new AxiosError(`timeout of ${deadline.ms}ms exceeded`, AxiosError.ETIMEDOUT, e.config, e.request);
      }
      throw err;
    },
  );
  return client;
}

/** TLS failures worth explaining: which host, and what to configure. */
const tlsCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** A one-line description of a transport error, naming the URL (without credentials) and never the request's headers. */
export function describeTransportError(err: unknown, url: string, caFile?: string): string {
  const safeUrl = stripCredentials(url);
  if (err instanceof AxiosError || (err && typeof err === 'object' && 'code' in err)) {
    const code = (err as { code?: string }).code;
    if (code && tlsCodes.has(code)) {
      return `TLS verification failed for ${safeUrl} (${code}); ${caFile ? `the server's certificate is not trusted by caFile ${caFile}` : 'set caFile to the CA that signed it'} (insecureSkipTlsVerify: true disables verification)`;
    }
    if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') return `timed out: ${safeUrl}`;
    if (code === AxiosError.ERR_BAD_RESPONSE && /maxContentLength/.test((err as Error).message)) return `response body larger than the ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB limit (refused): ${safeUrl}`;
    if (code) return `${code} on ${safeUrl}`;
  }
  return `${err instanceof Error ? err.message : String(err)} on ${safeUrl}`;
}

export function isTransportError(err: unknown): boolean {
  return err instanceof AxiosError && !err.response;
}

export function stripCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}
