/**
 * Alert fixtures and a real HTTP(S) receiver on loopback for notifier and dispatcher tests: it
 * records every delivery's raw body and headers, and misbehaves on request (statuses, Retry-After,
 * redirects, resets through the shared FaultInjector; `hang` for a receiver that never answers).
 */
import { execFileSync } from 'node:child_process';
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultInjector } from '../../src/emulators/faults.js';
import type { AlertBatch, AlertMessage, ScanCompletedMessage } from '../../src/notifiers/types.js';
import { scanCompletedMessage, type AnchoredScan } from '../../src/alerts/outbox.js';

export const digestA = `sha256:${'a1'.repeat(32)}`;
export const digestB = `sha256:${'b2'.repeat(32)}`;

/** A `tag.moved` alert on a registry-protected ECR tag; override what a test cares about. */
export function alertMessage(overrides: Partial<AlertMessage> = {}): AlertMessage {
  return {
    version: 1,
    id: randomUUID(),
    type: 'tag.moved',
    severity: 'critical',
    summary: 'shop/api:1.4.2 on prod-ecr moved to another image although the registry protects it',
    remediation:
      'aws ecr put-image-tag-mutability --repository-name shop/api --image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=latest',
    occurredAt: '2026-03-03T12:00:00.000Z',
    target: { id: 'prod-ecr', kind: 'ecr' },
    repository: 'shop/api',
    tag: '1.4.2',
    digest: digestB,
    previousDigest: digestA,
    protection: { protected: true, reason: 'repository IMMUTABLE' },
    scanId: 7,
    finding: { id: 42, status: 'open' },
    ...overrides,
  };
}

export function alertBatch(alerts: AlertMessage[], id: string = randomUUID()): AlertBatch {
  return { version: 1, id, type: 'batch', alerts };
}

/** A `scan.completed` anchor for scan 12 of prod-ecr; override what a test cares about. */
export function scanCompleted(overrides: Partial<AnchoredScan> = {}, id: string = randomUUID()): ScanCompletedMessage {
  const scan: AnchoredScan = {
    id: 12,
    status: 'succeeded',
    startedAt: new Date('2026-03-03T12:00:00.000Z'),
    finishedAt: new Date('2026-03-03T12:00:04.211Z'),
    repositories: 3,
    tags: 9,
    events: { created: 1, moved: 2, deleted: 0, restored: 0 },
    errors: 0,
    warnings: 1,
    rootHash: 'c0'.repeat(32),
    previousRoot: '5e'.repeat(32),
    ...overrides,
  };
  return scanCompletedMessage(scan, { id: 'prod-ecr', kind: 'ecr' }, id);
}

export interface Delivery {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as received: signatures are verified over these bytes. */
  raw: Buffer;
  json(): unknown;
}

export interface AlertReceiver {
  url: string;
  port: number;
  deliveries: Delivery[];
  /** Statuses, headers and resets to answer with instead of 200 (see FaultInjector). */
  faults: FaultInjector;
  /** Accept requests and never answer them (until close). */
  hang: boolean;
  close(): Promise<void>;
}

/** A receiver on 127.0.0.1 port 0; HTTPS when `tls` is given. Answers 200 `ok` unless told otherwise. */
export async function startAlertReceiver(opts: { tls?: { key: string | Buffer; cert: string | Buffer } } = {}): Promise<AlertReceiver> {
  const deliveries: Delivery[] = [];
  const faults = new FaultInjector();
  const state = { hang: false };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks);
      deliveries.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, json: () => JSON.parse(raw.toString('utf8')) });
      if (state.hang) return;
      if (await faults.apply(req, res, raw.toString('utf8'))) return;
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
    });
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/hooks/tagledger`,
    port,
    deliveries,
    faults,
    get hang() {
      return state.hang;
    },
    set hang(v: boolean) {
      state.hang = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A fresh self-signed certificate for 127.0.0.1 (openssl), with its PEM file for `caFile`. */
export function selfSignedCertificate(): { key: string; cert: string; certFile: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tl-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile],
    { stdio: 'pipe' },
  );
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What a receiver does (see src/notifiers/README.md): HMAC the raw body, compare in constant time. */
export function signatureValid(secret: string, raw: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`);
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}
