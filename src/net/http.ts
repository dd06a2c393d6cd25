/**
 * The axios client every HTTP collector uses: TLS settings from the target (caFile,
 * insecureSkipTlsVerify), a timeout, no automatic redirects to other hosts' credentials, and error
 * messages that never carry credentials.
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
  return axios.create({
    baseURL: opts.baseURL,
    timeout: opts.timeoutMs ?? 30_000,
    maxRedirects: 5,
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
