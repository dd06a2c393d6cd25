import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { version } from '../../cli/version.js';
import {
  alertBatch,
  alertMessage,
  closedPort,
  selfSignedCertificate,
  signatureValid,
  startAlertReceiver,
  type AlertReceiver,
} from '../../../test/helpers/alerts.js';
import { webhookNotifierSchema, type WebhookNotifierConfig } from './config.js';
import { createWebhookNotifier } from './index.js';

const secret = 'whsec-3f9a1c0d7e5b42a8';
const never = new AbortController().signal;

function config(url: string, extra: Partial<WebhookNotifierConfig> = {}): WebhookNotifierConfig {
  return webhookNotifierSchema.parse({ id: 'ops-webhook', kind: 'webhook', url, ...extra });
}

describe('webhook notifier', () => {
  let receiver: AlertReceiver;
  beforeEach(async () => {
    receiver = await startAlertReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('POSTs the payload as the body, with the documented headers and a signature over the raw body', async () => {
    const notifier = createWebhookNotifier(config(receiver.url, { secret, headers: { 'X-Team': 'platform' } }));
    const payload = alertMessage();
    const before = Math.floor(Date.now() / 1000);
    const result = await notifier.send(payload, never);
    const after = Math.floor(Date.now() / 1000);

    expect(result).toMatchObject({ ok: true, status: 200, retryable: false });
    expect(result.error).toBeUndefined();
    expect(receiver.deliveries).toHaveLength(1);
    const d = receiver.deliveries[0];
    expect(d.method).toBe('POST');
    expect(d.path).toBe('/hooks/tagledger');
    expect(d.raw.toString('utf8')).toBe(JSON.stringify(payload));
    expect(d.json()).toEqual(payload);

    expect(d.headers['content-type']).toBe('application/json');
    expect(d.headers['user-agent']).toBe(`tagledger/${version}`);
    expect(d.headers['x-tagledger-event']).toBe('tag.moved');
    expect(d.headers['x-tagledger-delivery']).toBe(payload.id);
    const ts = Number(d.headers['x-tagledger-timestamp']);
    expect(Number.isInteger(ts)).toBe(true);
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(after);
    expect(d.headers['x-team']).toBe('platform');
    expect(Object.keys(d.headers).filter((h) => h.startsWith('x-tagledger-')).sort()).toEqual([
      'x-tagledger-delivery',
      'x-tagledger-event',
      'x-tagledger-signature-256',
      'x-tagledger-timestamp',
    ]);
    expect(d.headers['x-tagledger-signature-256']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(signatureValid(secret, d.raw, d.headers['x-tagledger-signature-256'])).toBe(true);
    // The signature is bound to the secret and to the exact bytes.
    expect(signatureValid('another-secret', d.raw, d.headers['x-tagledger-signature-256'])).toBe(false);
    expect(signatureValid(secret, Buffer.concat([d.raw, Buffer.from(' ')]), d.headers['x-tagledger-signature-256'])).toBe(false);
  });

  it('sends no signature without a secret', async () => {
    const result = await createWebhookNotifier(config(receiver.url)).send(alertMessage(), never);
    expect(result.ok).toBe(true);
    expect(receiver.deliveries[0].headers).not.toHaveProperty('x-tagledger-signature-256');
  });

  it('keeps the same delivery id on every retry of a payload', async () => {
    const notifier = createWebhookNotifier(config(receiver.url, { secret }));
    const payload = alertMessage();
    receiver.faults.add({ status: 500, times: 1 });
    expect((await notifier.send(payload, never)).ok).toBe(false);
    expect((await notifier.send(payload, never)).ok).toBe(true);
    expect(receiver.deliveries.map((d) => d.headers['x-tagledger-delivery'])).toEqual([payload.id, payload.id]);
    for (const d of receiver.deliveries) expect(signatureValid(secret, d.raw, d.headers['x-tagledger-signature-256'])).toBe(true);
  });

  it('delivers a batch as {version, id, type: batch, alerts} with X-Tagledger-Event: batch', async () => {
    const batch = alertBatch([alertMessage(), alertMessage({ type: 'repository.mutable', severity: 'high', tag: null, digest: null, previousDigest: null })]);
    const result = await createWebhookNotifier(config(receiver.url, { secret })).send(batch, never);
    expect(result.ok).toBe(true);
    const d = receiver.deliveries[0];
    expect(d.json()).toEqual(batch);
    expect(d.headers['x-tagledger-event']).toBe('batch');
    expect(d.headers['x-tagledger-delivery']).toBe(batch.id);
    expect(signatureValid(secret, d.raw, d.headers['x-tagledger-signature-256'])).toBe(true);
  });

  it('does not let configured headers replace its own', async () => {
    // The schema rejects these; a config built without it must still not forge them.
    const forged = { ...config(receiver.url, { secret }), headers: { 'x-tagledger-signature-256': 'sha256=forged', 'content-type': 'text/plain', 'X-Tagledger-Delivery': 'nope' } };
    const payload = alertMessage();
    expect((await createWebhookNotifier(forged).send(payload, never)).ok).toBe(true);
    const d = receiver.deliveries[0];
    expect(d.headers['content-type']).toBe('application/json');
    expect(d.headers['x-tagledger-delivery']).toBe(payload.id);
    expect(signatureValid(secret, d.raw, d.headers['x-tagledger-signature-256'])).toBe(true);
  });

  it('classifies 500 as retryable, with the status and the start of the body', async () => {
    receiver.faults.add({ status: 500, body: '{"error":"database is down"}' });
    const result = await createWebhookNotifier(config(receiver.url)).send(alertMessage(), never);
    expect(result).toMatchObject({ ok: false, status: 500, retryable: true });
    expect(result.retryAfterMs).toBeUndefined();
    expect(result.error).toBe(`HTTP 500 from ${receiver.url}: {"error":"database is down"}`);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('classifies 429 as retryable and reports Retry-After in milliseconds', async () => {
    receiver.faults.add({ status: 429, headers: { 'Retry-After': '7' }, body: 'slow down' });
    const result = await createWebhookNotifier(config(receiver.url)).send(alertMessage(), never);
    expect(result).toMatchObject({ ok: false, status: 429, retryable: true, retryAfterMs: 7000 });
  });

  it('classifies 408 and 503 as retryable', async () => {
    receiver.faults.add({ status: 408, times: 1 }).add({ status: 503, times: 1 });
    const notifier = createWebhookNotifier(config(receiver.url));
    expect(await notifier.send(alertMessage(), never)).toMatchObject({ ok: false, status: 408, retryable: true });
    expect(await notifier.send(alertMessage(), never)).toMatchObject({ ok: false, status: 503, retryable: true });
  });

  it('classifies 400 as not retryable and keeps the error to one short line', async () => {
    receiver.faults.add({ status: 400, body: `invalid payload\n${'x'.repeat(5000)}` });
    const result = await createWebhookNotifier(config(receiver.url)).send(alertMessage(), never);
    expect(result).toMatchObject({ ok: false, status: 400, retryable: false });
    expect(result.error).toMatch(/^HTTP 400 from http:\/\/127\.0\.0\.1:\d+\/hooks\/tagledger: invalid payload x+…$/);
    expect(result.error).not.toContain('\n');
    const snippet = result.error!.slice(result.error!.indexOf(': ') + 2);
    expect(snippet.length).toBeLessThanOrEqual(200);
  });

  it('shows an HTML error page as text', async () => {
    receiver.faults.add({ status: 502, headers: { 'Content-Type': 'text/html' }, body: '<html><head><style>p{}</style></head><body><h1>502 Bad Gateway</h1></body></html>' });
    const result = await createWebhookNotifier(config(receiver.url)).send(alertMessage(), never);
    expect(result.error).toBe(`HTTP 502 from ${receiver.url}: 502 Bad Gateway`);
  });

  it('does not follow a redirect, and does not retry it', async () => {
    const elsewhere = await startAlertReceiver();
    try {
      receiver.faults.add({ status: 302, headers: { Location: `${elsewhere.url}?token=hunter22` } });
      const result = await createWebhookNotifier(config(receiver.url, { secret })).send(alertMessage(), never);
      expect(result).toMatchObject({ ok: false, status: 302, retryable: false });
      expect(result.error).toBe(
        `HTTP 302 from ${receiver.url}: the URL redirects to ${elsewhere.url}; redirects are not followed, set url to the final address`,
      );
      expect(receiver.deliveries).toHaveLength(1);
      expect(elsewhere.deliveries).toHaveLength(0);
    } finally {
      await elsewhere.close();
    }
  });

  it('times out on a receiver that never answers: retryable, no status', async () => {
    receiver.hang = true;
    const result = await createWebhookNotifier(config(receiver.url), { timeoutMs: 300 }).send(alertMessage(), never);
    expect(result).toMatchObject({ ok: false, status: null, retryable: true });
    expect(result.error).toBe(`timed out after 300 ms waiting for ${receiver.url}`);
    expect(receiver.deliveries).toHaveLength(1);
  });

  it('gives up on an error body that never ends, keeping the status and what arrived', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.write('overloaded;');
      const drip = setInterval(() => res.write('.'), 20);
      res.on('close', () => clearInterval(drip));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`;
      const result = await createWebhookNotifier(config(url), { timeoutMs: 400 }).send(alertMessage(), never);
      expect(result).toMatchObject({ ok: false, status: 500, retryable: true });
      expect(result.error).toMatch(new RegExp(`^HTTP 500 from ${url}: overloaded;\\.*$`));
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('reports a refused connection as retryable, with no status', async () => {
    const port = await closedPort();
    const result = await createWebhookNotifier(config(`http://127.0.0.1:${port}/hook`)).send(alertMessage(), never);
    expect(result).toMatchObject({ ok: false, status: null, retryable: true });
    expect(result.error).toContain('ECONNREFUSED');
    expect(result.error).toContain(`http://127.0.0.1:${port}/hook`);
  });

  it('reports a reset connection as retryable', async () => {
    receiver.faults.add({ reset: true });
    const result = await createWebhookNotifier(config(receiver.url)).send(alertMessage(), never);
    expect(result).toMatchObject({ ok: false, status: null, retryable: true });
  });

  it('stops when the caller aborts, and says so', async () => {
    receiver.hang = true;
    const controller = new AbortController();
    const sending = createWebhookNotifier(config(receiver.url)).send(alertMessage(), controller.signal);
    setTimeout(() => controller.abort(), 50);
    const result = await sending;
    expect(result).toMatchObject({ ok: false, status: null, retryable: true });
    expect(result.error).toBe(`delivery to ${receiver.url} aborted`);
  });

  it('never puts the secret, the userinfo or the query string in an error', async () => {
    // A receiver that echoes what it got, including what it should not.
    const port = receiver.port;
    const url = `http://hookuser:pa55-w0rd-xyz@127.0.0.1:${port}/hooks/tagledger?token=q-secret-123&team=ops`;
    receiver.faults.add({ status: 500, times: 1, body: `bad signature; secret=${secret} url=${url} key=tok-98765432 token=q-secret-123` });
    const notifier = createWebhookNotifier(config(url, { secret, headers: { 'X-Api-Key': 'tok-98765432' } }));
    const result = await notifier.send(alertMessage(), never);
    expect(result.status).toBe(500);
    // The receiver did get the credentials (as basic auth) and the query: the request itself is intact.
    expect(receiver.deliveries[0].path).toBe('/hooks/tagledger?token=q-secret-123&team=ops');
    expect(receiver.deliveries[0].headers['x-api-key']).toBe('tok-98765432');
    expect(receiver.deliveries[0].headers.authorization).toBe(`Basic ${Buffer.from('hookuser:pa55-w0rd-xyz').toString('base64')}`);
    for (const leak of [secret, 'pa55-w0rd-xyz', 'hookuser', 'q-secret-123', 'tok-98765432', '?token']) expect(result.error).not.toContain(leak);
    expect(result.error).toContain(`HTTP 500 from http://127.0.0.1:${port}/hooks/tagledger: bad signature; secret=[redacted]`);

    const refused = await closedPort();
    const down = await createWebhookNotifier(config(`http://u:pa55-w0rd-xyz@127.0.0.1:${refused}/h?token=q-secret-123`, { secret })).send(alertMessage(), never);
    for (const leak of [secret, 'pa55-w0rd-xyz', 'q-secret-123']) expect(down.error).not.toContain(leak);
  });
});

describe('webhook notifier over TLS', () => {
  let tls: ReturnType<typeof selfSignedCertificate>;
  let receiver: AlertReceiver;
  beforeAll(async () => {
    tls = selfSignedCertificate();
    receiver = await startAlertReceiver({ tls });
  });
  afterAll(async () => {
    await receiver?.close();
    tls?.cleanup();
  });

  it('refuses a certificate it cannot verify: no delivery, retryable, says what to configure', async () => {
    const before = receiver.deliveries.length;
    const result = await createWebhookNotifier(config(receiver.url)).send(alertMessage(), never);
    expect(result).toMatchObject({ ok: false, status: null, retryable: true });
    expect(result.error).toContain('TLS verification failed');
    expect(result.error).toContain('set caFile');
    expect(receiver.deliveries.length).toBe(before);
  });

  it('accepts it with caFile', async () => {
    const result = await createWebhookNotifier(config(receiver.url, { caFile: tls.certFile, secret })).send(alertMessage(), never);
    expect(result).toMatchObject({ ok: true, status: 200 });
    const d = receiver.deliveries.at(-1)!;
    expect(signatureValid(secret, d.raw, d.headers['x-tagledger-signature-256'])).toBe(true);
  });

  it('accepts it with insecureSkipTlsVerify', async () => {
    const result = await createWebhookNotifier(config(receiver.url, { insecureSkipTlsVerify: true })).send(alertMessage(), never);
    expect(result).toMatchObject({ ok: true, status: 200 });
  });

  it('names a caFile that cannot be read', () => {
    expect(() => createWebhookNotifier(config(receiver.url, { caFile: '/nonexistent/ca.pem' }))).toThrow('cannot read caFile /nonexistent/ca.pem: ENOENT');
  });
});
