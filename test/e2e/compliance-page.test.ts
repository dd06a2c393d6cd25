/**
 * The compliance page of `tagledger serve` in a real browser (headless Chromium through
 * playwright-core): the API server in-process on an ephemeral port, behind a token, over a
 * database seeded by two real scans of the OCI emulator with a tag moved in between. The browser
 * signs in with HTTP Basic (the token as password), opens the overview, clicks into the
 * repository and then the moved tag, whose timeline must show both digests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildApiServer } from '../../src/api/server.js';
import { ServiceMetrics } from '../../src/api/metrics.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import type { TargetConfig } from '../../src/config/schema.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { complete, observed, scriptedCollector } from '../helpers/scripted-collector.js';
import { CHROMIUM_ARGS, chromiumForTests } from '../helpers/chromium.js';

const executablePath = chromiumForTests();
const logger = pino({ level: 'silent' });
const TOKEN = 'page-token-3f9c';
const HOSTILE = 'evil/"><script>alert(1)</script>';

const heading = async (page: Page) => (await page.locator('h1').innerText()).trim();

describe.skipIf(!executablePath)('compliance page in headless Chromium', () => {
  let t: TestDatabase;
  let registry: OciEmulator;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  const digests = { before: '', after: '' };

  beforeAll(async () => {
    t = await openTestDatabase();
    registry = await startOciEmulator();
    digests.before = registry.pushImage('shop/api', '1.4.2').digest;
    registry.pushImage('shop/api', 'latest');
    registry.pushImage('shop/web', 'v1');
    const target = { id: 'shop', kind: 'oci', url: registry.url, insecureSkipTlsVerify: false } as TargetConfig;
    await runScan(t.db, target, { logger });
    digests.after = registry.moveTag('shop/api', '1.4.2').digest;
    expect((await runScan(t.db, target, { logger })).events.moved).toBe(1);
    // A name no registry should report, but one could: it must stay text on the page.
    const odd = { id: 'odd', kind: 'oci', url: 'http://127.0.0.1:9', insecureSkipTlsVerify: false } as TargetConfig;
    await runScan(t.db, odd, { logger, collector: scriptedCollector('odd', [observed(HOSTILE, { v1: 1 }), complete]) });

    app = await buildApiServer({ db: t.db, targets: [target], token: TOKEN, metrics: new ServiceMetrics(t.db, logger), logger });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    browser = await chromium.launch({ executablePath: executablePath!, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await registry?.close();
    await t?.close();
  });

  it('asks for the token: 401 with a Basic challenge without it, the page with it', async () => {
    const anonymous = await fetch(`${base}/`);
    expect(anonymous.status).toBe(401);
    // Basic alone: Chromium does not act on a Basic challenge that follows Bearer in one header.
    expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="tagledger", charset="UTF-8"');
    expect(anonymous.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const wrong = await fetch(`${base}/`, { headers: { authorization: `Basic ${Buffer.from('auditor:nope').toString('base64')}` } });
    expect(wrong.status).toBe(401);
    const basic = await fetch(`${base}/`, { headers: { authorization: `Basic ${Buffer.from(`auditor:${TOKEN}`).toString('base64')}` } });
    expect(basic.status).toBe(200);
    expect(basic.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(basic.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await basic.text()).toContain('<h1>Tag immutability report</h1>');
    const headers = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${base}/repositories/999999`, { headers })).status).toBe(404);
    expect((await fetch(`${base}/?severity=urgent`, { headers })).status).toBe(400);
    const filtered = await fetch(`${base}/?target=odd`, { headers });
    expect(filtered.status).toBe(200);
    expect(await filtered.text()).not.toContain('shop/api');
    // The JSON API keeps answering as before.
    expect((await fetch(`${base}/api/v1/targets`, { headers })).status).toBe(200);
  });

  it("drills down from the overview to the repository and the moved tag's timeline", async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'auditor', password: TOKEN }, viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    const dialogs: string[] = [];
    try {
      const page = await context.newPage();
      page.on('request', (r) => requests.push(r.url()));
      page.on('dialog', async (d) => {
        dialogs.push(d.message());
        await d.dismiss();
      });

      const overview = await page.goto(`${base}/`);
      expect(overview?.status()).toBe(200);
      expect(await heading(page)).toBe('Tag immutability report');
      expect(await page.locator('svg.chart').count()).toBe(1);
      // The hostile name is shown as text, not run.
      expect(await page.locator('table.repositories').innerText()).toContain(HOSTILE);

      await page.locator('table.repositories a', { hasText: /^shop\/api$/ }).click();
      await page.waitForURL(/\/repositories\/\d+$/);
      expect(await heading(page)).toBe('shop / shop/api');
      expect(await page.locator('table.tags').innerText()).toMatch(/1\.4\.2\s+present/);

      await page.locator('table.tags a', { hasText: /^1\.4\.2$/ }).click();
      await page.waitForURL(/\/repositories\/\d+\/tags\/1\.4\.2$/);
      expect(await heading(page)).toBe('shop / shop/api:1.4.2');
      const timeline = await page.locator('ol.timeline').innerText();
      expect(timeline).toContain(digests.before);
      expect(timeline).toContain(digests.after);
      expect(timeline.indexOf('created')).toBeLessThan(timeline.indexOf('moved')); // oldest first
      expect(await page.locator('table.findings').innerText()).toContain('tag.moved');

      const dir = mkdtempSync(join(tmpdir(), 'tagledger-page-'));
      const shot = join(dir, 'tag-timeline.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.info(`compliance page screenshot: ${shot}`);
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      await context.close();
    }
    expect(dialogs).toEqual([]);
    expect(requests.length).toBeGreaterThanOrEqual(3);
    expect(requests.filter((u) => !u.startsWith(`${base}/`))).toEqual([]);
  });
});

