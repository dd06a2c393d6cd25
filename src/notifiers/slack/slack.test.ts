import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alertBatch, alertMessage, closedPort, digestA, digestB, scanCompleted, startAlertReceiver, type AlertReceiver } from '../../../test/helpers/alerts.js';
import type { Severity } from '../types.js';
import { slackNotifierSchema } from './config.js';
import { createSlackNotifier } from './index.js';
import { SLACK_MAX_BLOCKS, SLACK_MAX_FIELD_TEXT, SLACK_MAX_HEADER_TEXT, SLACK_MAX_SECTION_TEXT, slackMessage, type SlackBlock, type SlackMessage } from './message.js';

const never = new AbortController().signal;
// Incoming-webhook URLs carry their credential in the path: https://hooks.slack.com/services/T…/B…/<secret>
const secretPath = '/services/T0AAAAAAA/B0BBBBBBB/zQ7sLwXkYcV3nR8pT2mJ4hGd';

/** Every Block Kit limit the message must respect. */
function assertWithinSlackLimits(msg: SlackMessage): void {
  expect(msg.blocks.length).toBeLessThanOrEqual(SLACK_MAX_BLOCKS);
  expect(msg.text.length).toBeLessThanOrEqual(SLACK_MAX_SECTION_TEXT);
  for (const b of msg.blocks) {
    if (b.type === 'header') expect(b.text.text.length).toBeLessThanOrEqual(SLACK_MAX_HEADER_TEXT);
    if (b.type === 'section') {
      expect(b.text || b.fields).toBeTruthy();
      if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(SLACK_MAX_SECTION_TEXT);
      if (b.fields) {
        expect(b.fields.length).toBeLessThanOrEqual(10);
        for (const f of b.fields) expect(f.text.length).toBeLessThanOrEqual(SLACK_MAX_FIELD_TEXT);
      }
    }
    if (b.type === 'context') {
      expect(b.elements.length).toBeGreaterThan(0);
      expect(b.elements.length).toBeLessThanOrEqual(10);
    }
  }
}

const texts = (blocks: SlackBlock[]): string[] =>
  blocks.flatMap((b) => (b.type === 'header' ? [b.text.text] : b.type === 'section' ? [b.text?.text ?? '', ...(b.fields ?? []).map((f) => f.text)] : b.type === 'context' ? b.elements.map((e) => e.text) : []));

describe('slack message', () => {
  it('says what moved, from which digest to which, why it matters, the protection and the fix', () => {
    const m = alertMessage();
    const msg = slackMessage(m);
    assertWithinSlackLimits(msg);
    expect(msg.text).toBe(`CRITICAL: Tag moved: shop/api:1.4.2 on prod-ecr. ${m.summary}`);

    const [header] = msg.blocks;
    expect(header).toEqual({ type: 'header', text: { type: 'plain_text', text: ':rotating_light: CRITICAL · Tag moved: shop/api:1.4.2', emoji: true } });
    const all = texts(msg.blocks);
    expect(all).toContain(m.summary);
    expect(all).toContain('*Tag*\n`shop/api:1.4.2`');
    expect(all).toContain('*Target*\n`prod-ecr` (ecr)');
    expect(all).toContain('*Protection*\nprotected: repository IMMUTABLE');
    expect(all).toContain(`*Digest* \`sha256:${'a1'.repeat(6)}\` → \`sha256:${'b2'.repeat(6)}\``);
    // Full digests in a context block.
    const context = msg.blocks.find((b) => b.type === 'context' && b.elements.some((e) => e.text.includes(digestA)));
    expect(context).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: `from ${digestA}` }, { type: 'mrkdwn', text: `to ${digestB}` }] });
    expect(all.some((t) => t.startsWith('*Why it matters*\nWhatever pulls this tag now gets a different image'))).toBe(true);
    expect(all).toContain(`*How to fix*\n\`\`\`\n${m.remediation}\n\`\`\``);
    expect(all).toContain(`finding #42 (open) · scan #7 · observed 2026-03-03T12:00:00.000Z · delivery ${m.id}`);
  });

  it('leaves out digests and the fix where they do not apply', () => {
    const msg = slackMessage(alertMessage({ type: 'target.scan_failed', severity: 'high', repository: null, tag: null, digest: null, previousDigest: null, protection: null, remediation: '', scanId: null }));
    assertWithinSlackLimits(msg);
    const all = texts(msg.blocks);
    expect(msg.blocks[0]).toMatchObject({ type: 'header', text: { text: ':red_circle: HIGH · Scans failing' } });
    expect(all.some((t) => t.includes('Digest') || t.includes('How to fix') || t.includes('Protection'))).toBe(false);
    expect(all.some((t) => t.startsWith('finding #42 (open) · observed'))).toBe(true);
  });

  it('shows a deleted tag with the digest it had', () => {
    const msg = slackMessage(alertMessage({ type: 'tag.deleted', digest: null }));
    const all = texts(msg.blocks);
    expect(all).toContain(`*Digest* was \`sha256:${'a1'.repeat(6)}\``);
    expect(all).toContain(`from ${digestA}`);
  });

  it('escapes mrkdwn, so nothing in a name or summary can ping or link', () => {
    const msg = slackMessage(alertMessage({ summary: 'moved <!channel> & <https://evil.example|click>', remediation: 'echo "a < b && c > d"' }));
    const all = texts(msg.blocks).join('\n') + msg.text;
    expect(all).not.toMatch(/<!channel>|<https:/);
    expect(all).toContain('moved &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
    expect(all).toContain('echo "a &lt; b &amp;&amp; c &gt; d"');
  });

  it('cuts long texts to Slack limits and keeps the code block closed', () => {
    const msg = slackMessage(
      alertMessage({
        summary: 'S'.repeat(10_000),
        remediation: `${'aws ecr put-image-tag-mutability & '.repeat(400)}\`\`\`inner fence`,
        repository: `r/${'x'.repeat(3000)}`,
        protection: { protected: false, reason: 'R'.repeat(5000) },
      }),
    );
    assertWithinSlackLimits(msg);
    const fix = texts(msg.blocks).find((t) => t.startsWith('*How to fix*'))!;
    expect(fix.length).toBeLessThanOrEqual(SLACK_MAX_SECTION_TEXT);
    expect(fix.endsWith('…\n```')).toBe(true);
    expect(fix.match(/```/g)).toHaveLength(2);
    expect(fix).not.toMatch(/&(a|am|amp)?…/); // never an escape cut in half
  });

  it('lists a batch in one message, most severe first, up to 20 and "… and N more"', () => {
    const severitiesInOrder: Severity[] = ['info', 'low', 'medium', 'high', 'critical'];
    const alerts = Array.from({ length: 30 }, (_, i) => alertMessage({ severity: severitiesInOrder[i % 5], tag: `1.0.${i}`, summary: `summary ${i}` }));
    const batch = alertBatch(alerts);
    const msg = slackMessage(batch);
    assertWithinSlackLimits(msg);
    expect(msg.text).toBe('tagledger: 30 alerts on prod-ecr (6 critical, 6 high, 6 medium, 6 low, 6 info)');
    expect(msg.blocks[0]).toMatchObject({ type: 'header', text: { text: 'tagledger: 30 alerts on prod-ecr' } });
    const items = msg.blocks.filter((b): b is Extract<SlackBlock, { type: 'section' }> => b.type === 'section' && /^:[a-z_]+: \*[A-Z]+\* · /.test(b.text?.text ?? ''));
    expect(items).toHaveLength(20);
    const order = items.map((b) => /\*([A-Z]+)\*/.exec(b.text!.text)![1]);
    expect(order).toEqual([...Array(6).fill('CRITICAL'), ...Array(6).fill('HIGH'), ...Array(6).fill('MEDIUM'), 'LOW', 'LOW']);
    expect(items[0].text!.text).toBe(`:rotating_light: *CRITICAL* · Tag moved \`shop/api:1.0.4\`\nsummary 4\n\`sha256:${'a1'.repeat(6)}\` → \`sha256:${'b2'.repeat(6)}\``);
    expect(texts(msg.blocks)).toContain('… and 10 more: `tagledger findings list` shows them all');
    expect(texts(msg.blocks)).toContain(`delivery ${batch.id}`);
  });

  it('says a scan anchor in one line, with the whole root hash', () => {
    const m = scanCompleted({ errors: 1, status: 'partial' });
    const msg = slackMessage(m);
    assertWithinSlackLimits(msg);
    expect(msg.text).toBe(`tagledger: scan #12 of prod-ecr partial, root ${'c0'.repeat(32)}`);
    expect(msg.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: `:link: scan #12 of \`prod-ecr\` partial · root \`${'c0'.repeat(32)}\` · 3 repositories, 9 tags, 3 tag changes, 1 error` } },
    ]);
  });

  it('keeps even a batch of huge alerts within the limits', () => {
    const alerts = Array.from({ length: 200 }, (_, i) => alertMessage({ summary: 'Z'.repeat(4000), tag: `t${i}`, target: { id: `target-${i % 3}`, kind: 'oci' } }));
    const msg = slackMessage(alertBatch(alerts));
    assertWithinSlackLimits(msg);
    expect(msg.blocks[0]).toMatchObject({ text: { text: 'tagledger: 200 alerts' } });
  });
});

describe('slack notifier', () => {
  let receiver: AlertReceiver;
  let url: string;
  beforeEach(async () => {
    receiver = await startAlertReceiver();
    url = `http://127.0.0.1:${receiver.port}${secretPath}`;
  });
  afterEach(async () => {
    await receiver.close();
  });

  const notifier = (u: string, timeoutMs?: number) => createSlackNotifier(slackNotifierSchema.parse({ id: 'ops-slack', kind: 'slack', url: u }), { timeoutMs });

  it('POSTs the incoming-webhook JSON', async () => {
    const payload = alertMessage();
    const result = await notifier(url).send(payload, never);
    expect(result).toMatchObject({ ok: true, status: 200 });
    const d = receiver.deliveries[0];
    expect(d.path).toBe(secretPath);
    expect(d.headers['content-type']).toBe('application/json');
    expect(d.headers['x-tagledger-delivery']).toBe(payload.id);
    expect(d.headers).not.toHaveProperty('x-tagledger-signature-256');
    expect(d.json()).toEqual(slackMessage(payload));
  });

  it('never names the webhook URL in an error, only its host', async () => {
    // Slack's own error bodies are short codes; this receiver also echoes the URL back.
    receiver.faults.add({ status: 404, times: 1, body: `no_service ${url} ${secretPath}` });
    const result = await notifier(url).send(alertMessage(), never);
    expect(result).toMatchObject({ ok: false, status: 404, retryable: false });
    expect(result.error).toBe(`HTTP 404 from 127.0.0.1:${receiver.port}: no_service [redacted] [redacted]`);

    receiver.faults.add({ status: 302, times: 1, headers: { Location: `https://hooks.slack.com${secretPath}` } });
    const moved = await notifier(url).send(alertMessage(), never);
    expect(moved.error).toBe(`HTTP 302 from 127.0.0.1:${receiver.port}: the URL redirects to hooks.slack.com; redirects are not followed, set url to the final address`);

    receiver.hang = true;
    const slow = await notifier(url, 200).send(alertMessage(), never);
    expect(slow).toMatchObject({ ok: false, status: null, retryable: true });
    expect(slow.error).toBe(`timed out after 200 ms waiting for 127.0.0.1:${receiver.port}`);

    const port = await closedPort();
    const down = await notifier(`http://127.0.0.1:${port}${secretPath}`).send(alertMessage(), never);
    expect(down).toMatchObject({ ok: false, status: null, retryable: true });
    expect(down.error).toBe(`ECONNREFUSED on 127.0.0.1:${port}`);

    for (const r of [result, moved, slow, down]) {
      expect(r.error).not.toContain('zQ7sLwXkYcV3nR8pT2mJ4hGd');
      expect(r.error).not.toContain('/services');
    }
  });

  it('passes on Slack rate limiting as retryable with Retry-After', async () => {
    receiver.faults.add({ status: 429, headers: { 'Retry-After': '30' }, body: 'rate_limited' });
    const result = await notifier(url).send(alertMessage(), never);
    expect(result).toMatchObject({ ok: false, status: 429, retryable: true, retryAfterMs: 30_000 });
    expect(result.error).toBe(`HTTP 429 from 127.0.0.1:${receiver.port}: rate_limited`);
  });
});
