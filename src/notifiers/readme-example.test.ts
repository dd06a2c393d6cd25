/**
 * The receiver in README.md ("Verifying the signature") is run as written, in its own process, and
 * must accept real signed deliveries, deduplicate a retry and refuse a wrong signature.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { alertBatch, alertMessage, closedPort } from '../../test/helpers/alerts.js';
import { createWebhookNotifier } from './webhook/index.js';

const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
const example = /## Verifying the signature[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
const never = new AbortController().signal;

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.end(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the README receiver did not listen on ${port}`);
}

describe('README receiver example', () => {
  let child: ChildProcess;
  let url: string;
  let output = '';
  beforeAll(async () => {
    expect(example).toBeDefined();
    // The example's "handle payload" comment becomes a line we can count.
    const code = example!.replace(/\/\/ \.\.\. handle payload.*/, "console.log('handled', payload.id);");
    const port = await closedPort();
    child = spawn(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, WEBHOOK_SECRET: 'readme-secret', PORT: String(port) } });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    await waitForPort(port);
    url = `http://127.0.0.1:${port}/`;
  });
  afterAll(() => {
    child?.kill();
  });

  const notifier = (secret: string) => createWebhookNotifier({ id: 'readme', kind: 'webhook', url, secret, batch: false, insecureSkipTlsVerify: false });

  it('accepts a signed delivery once, however often it is retried', async () => {
    const payload = alertMessage();
    expect(await notifier('readme-secret').send(payload, never)).toMatchObject({ ok: true, status: 204 });
    expect(await notifier('readme-secret').send(payload, never)).toMatchObject({ ok: true, status: 204 });
    const batch = alertBatch([alertMessage()]);
    expect(await notifier('readme-secret').send(batch, never)).toMatchObject({ ok: true, status: 204 });
    // The child's stdout arrives through a pipe, possibly after the HTTP answer.
    await vi.waitFor(() => expect(output).toContain(`handled ${batch.id}`), { timeout: 5000 });
    expect(output.trim().split('\n')).toEqual([`handled ${payload.id}`, `handled ${batch.id}`]);
  });

  it('refuses a delivery signed with another secret', async () => {
    expect(await notifier('not-the-secret').send(alertMessage(), never)).toMatchObject({ ok: false, status: 401, retryable: false });
  });
});
