/**
 * What every kind of notifier shares: the config fields, the filter deciding which findings a
 * notifier wants, and the one HTTP POST all three kinds deliver with (timeouts, TLS, no redirects,
 * result classification, error lines that never carry secrets).
 */
import { createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import picomatch from 'picomatch';
import { z } from 'zod';
import { httpUrlSchema } from '../config/common.js';
import { version } from '../cli/version.js';
import { createHttpClient, describeTransportError } from '../net/http.js';
import { parseRetryAfter } from '../net/retry.js';
import { severities, type AlertPayload, type DeliveryResult, type FindingType, type Severity } from './types.js';

export const DEFAULT_TIMEOUT_MS = 10_000;
export const defaultUserAgent = `tagledger/${version}`;

export const findingTypes: readonly FindingType[] = [
  'tag.moved',
  'tag.deleted',
  'tag.restored',
  'repository.mutable',
  'tag.unprotected',
  'repository.protection_changed',
  'target.scan_failed',
  'harbor.verdict_mismatch',
];

/** RFC 9110 `token`: what a header name may contain. */
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * Headers a notifier sets itself. Letting the config replace them would break the contract
 * receivers rely on (a forged X-Tagledger-Signature-256, a Content-Type that no longer matches the body).
 */
const reservedHeader = /^(x-tagledger-.*|content-type|content-length|host|transfer-encoding|user-agent)$/i;

const headersSchema = z.record(z.string(), z.string()).superRefine((headers, ctx) => {
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (!headerName.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'is not a valid HTTP header name' });
    else if (reservedHeader.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'is set by tagledger itself and cannot be configured' });
    else if (seen.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: 'is configured twice (header names are case-insensitive)' });
    if (/[\r\n\0]/.test(value)) ctx.addIssue({ code: 'custom', path: [name], message: 'must not contain line breaks' });
    seen.add(name.toLowerCase());
  }
});

/** Fields every kind of notifier has, with the same meaning for every kind. */
export const baseNotifierFields = {
  id: z.string().regex(/^[a-z0-9-]+$/, 'must match [a-z0-9-]+'),
  url: httpUrlSchema,
  /** Extra request headers (e.g. an Authorization a gateway wants). */
  headers: headersSchema.optional(),
  /** Finding types to alert on; default all. */
  events: z.array(z.enum(findingTypes as [FindingType, ...FindingType[]])).min(1).optional(),
  /** Alert only findings at or above this severity. */
  minSeverity: z.enum(severities as [Severity, ...Severity[]]).optional(),
  /** Glob filter on target ids (picomatch). */
  targets: z.array(z.string().min(1)).min(1).optional(),
  /** true: one message per scan listing its findings, instead of one per finding. */
  batch: z.boolean().default(false),
  caFile: z.string().min(1).optional(),
  insecureSkipTlsVerify: z.boolean().default(false),
};

/** Kinds that sign their deliveries with an HMAC of the body (webhook, cloudevents). */
export const signingFields = {
  secret: z.string().min(1).optional(),
};

export interface NotifierFilter {
  events?: readonly FindingType[];
  minSeverity?: Severity;
  targets?: readonly string[];
}

/** Does this notifier want an alert for a finding of this type and severity on this target? */
export function notifierWants(config: NotifierFilter, alert: { type: FindingType; severity: Severity; targetId: string }): boolean {
  if (config.events && config.events.length > 0 && !config.events.includes(alert.type)) return false;
  if (config.minSeverity && severities.indexOf(alert.severity) < severities.indexOf(config.minSeverity)) return false;
  return coversTarget(config, alert.targetId);
}

/** Does this notifier's `targets` filter (if any) admit this target? The one filter scan anchors honour too. */
export function coversTarget(config: Pick<NotifierFilter, 'targets'>, targetId: string): boolean {
  return !config.targets || config.targets.length === 0 || picomatch(config.targets as string[], { dot: true })(targetId);
}

/** `sha256=<hex HMAC-SHA256(secret, raw body)>`, the X-Tagledger-Signature-256 value. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * The X-Tagledger-* headers: event type, delivery id (the payload id, the same on every retry, so
 * receivers deduplicate with it), the send time and, with a secret, the body's signature.
 */
export function tagledgerHeaders(payload: AlertPayload, body: string, secret: string | undefined, now = Date.now()): Record<string, string> {
  const headers: Record<string, string> = {
    'X-Tagledger-Event': payload.type,
    'X-Tagledger-Delivery': payload.id,
    'X-Tagledger-Timestamp': String(Math.floor(now / 1000)),
  };
  if (secret) headers['X-Tagledger-Signature-256'] = signBody(secret, body);
  return headers;
}

export interface PostTarget {
  url: string;
  caFile?: string;
  insecureSkipTlsVerify?: boolean;
  headers?: Record<string, string>;
  /** Strings that must never appear in an error line (the signing secret). */
  secrets?: string[];
  /**
   * How errors name the receiver: `path` = scheme, host and path (no userinfo, no query);
   * `host` = the host only, for URLs that are secrets themselves (Slack incoming webhooks).
   */
  describeAs: 'path' | 'host';
}

export interface PostOptions {
  userAgent?: string;
  timeoutMs?: number;
}

export type Post = (delivery: { body: string; headers: Record<string, string> }, signal: AbortSignal) => Promise<DeliveryResult>;

/** Bytes of an error response read for the snippet; the rest is discarded unread. */
const SNIPPET_READ_BYTES = 4096;
export const SNIPPET_CHARS = 200;

/**
 * Connections a notifier opens to its receiver at once. The dispatcher sends no more deliveries than
 * this at a time: a request queued behind others for a socket would spend its timeout waiting.
 */
export const MAX_CONCURRENT_DELIVERIES = 4;

/**
 * The POST every notifier sends with. It never throws: every outcome is a DeliveryResult the
 * dispatcher records. 2xx is delivered; 408, 429, 5xx and failures without a response (timeout,
 * refused, reset, TLS) may be retried; a 3xx is not followed (a webhook that moved must be
 * reconfigured, not chased: following it would also replay the signed body to another host) and,
 * like any other 4xx, is not retried.
 */
export function createPost(target: PostTarget, opts: PostOptions = {}): Post {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const userAgent = opts.userAgent ?? defaultUserAgent;
  const client = createHttpClient({
    caFile: target.caFile,
    insecureSkipTlsVerify: target.insecureSkipTlsVerify,
    timeoutMs,
    maxSockets: MAX_CONCURRENT_DELIVERIES,
    userAgent,
  });
  const where = describeUrl(target.url, target.describeAs);
  const redactions = redactionsFor(target);
  const configured = target.headers ?? {};

  return async ({ body, headers }, signal) => {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const failure = (status: number | null, retryable: boolean, error: string, retryAfterMs?: number): DeliveryResult => ({
      ok: false,
      status,
      retryable,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      error: redact(error, redactions),
      durationMs: elapsed(),
    });
    if (signal.aborted) return failure(null, true, `delivery to ${where} aborted before it was sent`);

    // One deadline for the whole exchange: axios' own timeout restarts on socket activity, so a
    // receiver trickling bytes could otherwise hold a delivery far longer than `timeout`.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = () => controller.abort();
    signal.addEventListener('abort', onAbort, { once: true });

    try {
      // Configured headers first; ours are set after and win, whatever the case of the name.
      const ours: Record<string, string> = { ...headers, 'User-Agent': userAgent };
      const oursLower = new Set(Object.keys(ours).map((h) => h.toLowerCase()));
      const merged: Record<string, string> = {};
      for (const [k, v] of Object.entries(configured)) if (!oursLower.has(k.toLowerCase())) merged[k] = v;
      Object.assign(merged, ours);

      const res = await client.request<Readable>({
        method: 'POST',
        url: target.url,
        // A Buffer goes out byte for byte: the signature was computed over exactly these bytes.
        data: Buffer.from(body, 'utf8'),
        headers: merged,
        maxRedirects: 0,
        responseType: 'stream',
        signal: controller.signal,
      });
      const status = res.status;
      if (status >= 200 && status < 300) {
        discard(res.data);
        return { ok: true, status, retryable: false, durationMs: elapsed() };
      }
      const retryAfterMs = parseRetryAfter(headerValue(res.headers['retry-after']));
      if (status >= 300 && status < 400) {
        discard(res.data);
        const location = resolveLocation(headerValue(res.headers.location), target.url);
        const to = location ? ` to ${describeUrl(location, target.describeAs)}` : '';
        return failure(status, false, `HTTP ${status} from ${where}: the URL redirects${to}; redirects are not followed, set url to the final address`);
      }
      const snippet = await readSnippet(res.data, headerValue(res.headers['content-type']), redactions, controller.signal);
      const retryable = status === 408 || status === 429 || status >= 500;
      return failure(status, retryable, `HTTP ${status} from ${where}${snippet ? `: ${snippet}` : ''}`, retryAfterMs);
    } catch (err) {
      if (signal.aborted) return failure(null, true, `delivery to ${where} aborted`);
      const code = (err as { code?: string }).code;
      if (timedOut || code === 'ECONNABORTED' || code === 'ETIMEDOUT') return failure(null, true, `timed out after ${timeoutMs} ms waiting for ${where}`);
      return failure(null, true, describeTransportError(err, where, target.caFile));
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  };
}

/** The receiver as errors may name it: never userinfo or the query string; for `host`, nothing but the host. */
export function describeUrl(url: string, as: 'path' | 'host'): string {
  try {
    const u = new URL(url);
    return as === 'host' ? u.host : `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return as === 'host' ? 'the configured URL' : url.replace(/\/\/[^@/]*@/, '//').replace(/[?#].*$/, '');
  }
}

function resolveLocation(location: string | undefined, base: string): string | null {
  if (!location) return null;
  try {
    return new URL(location, base).toString();
  } catch {
    return null;
  }
}

const sensitiveHeader = /auth|token|key|secret|cookie|session|password|signature/i;

/** Everything secret about a target: the signing secret, credential-like header values, the URL's userinfo and query (and path, for `host`). */
function redactionsFor(target: PostTarget): string[] {
  const out = Object.entries(target.headers ?? {})
    .filter(([name]) => sensitiveHeader.test(name))
    .map(([, value]) => value);
  try {
    const u = new URL(target.url);
    // The whole URL only when something in it is secret: otherwise it is what errors name anyway.
    if (u.username || u.password || u.search.length > 1 || target.describeAs === 'host') out.push(target.url);
    out.push(u.username, u.password, decodeURIComponent(u.password));
    if (u.search.length > 1) out.push(u.search.slice(1), ...[...u.searchParams.values()]);
    if (target.describeAs === 'host') out.push(u.pathname, ...u.pathname.split('/').filter((s) => s.length >= 8));
  } catch {
    out.push(target.url);
  }
  // The signing secret is redacted whatever its length; other pieces only when long enough not to
  // blank out ordinary words. Longest first, so a whole URL goes before the pieces it contains.
  const all = [...(target.secrets ?? []).filter((s) => s.length > 0), ...out.filter((s) => s.length >= 4)];
  return [...new Set(all)].sort((a, b) => b.length - a.length);
}

export function redact(text: string, redactions: readonly string[]): string {
  let out = text;
  for (const s of redactions) out = out.split(s).join('[redacted]');
  return out;
}

/** The start of an error response as one short line: tags stripped from HTML, secrets redacted, at most SNIPPET_CHARS. */
async function readSnippet(stream: Readable, contentType: string | undefined, redactions: readonly string[], signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  // The deadline covers the body too: a receiver trickling an endless error page is cut off.
  const stop = () => stream.destroy();
  if (signal.aborted) stop();
  signal.addEventListener('abort', stop, { once: true });
  try {
    for await (const chunk of stream) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      chunks.push(buf);
      size += buf.length;
      if (size >= SNIPPET_READ_BYTES) break;
    }
  } catch {
    // The body broke off (or the deadline passed): what arrived is still worth showing.
  } finally {
    signal.removeEventListener('abort', stop);
    discard(stream);
  }
  let text = Buffer.concat(chunks).subarray(0, SNIPPET_READ_BYTES).toString('utf8');
  if (/html/i.test(contentType ?? '')) text = text.replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' ');
  // Redact before cutting, so a cut can never leave a fragment of a secret behind.
  text = redact(text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim(), redactions);
  return text.length > SNIPPET_CHARS ? `${text.slice(0, SNIPPET_CHARS - 1)}…` : text;
}

function discard(stream: Readable): void {
  stream.on('error', () => {});
  stream.destroy();
}

function headerValue(v: unknown): string | undefined {
  if (Array.isArray(v)) return v[0] === undefined ? undefined : String(v[0]);
  return v == null ? undefined : String(v);
}
