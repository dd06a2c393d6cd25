/**
 * Alerts as Slack incoming-webhook messages: `text` (the notification and fallback) plus Block Kit
 * `blocks` saying what moved, from which digest to which, why it matters and how to fix it.
 * Slack rejects a message that exceeds its limits (HTTP 400, invalid_blocks), so every text is cut
 * to fit: https://api.slack.com/reference/block-kit/blocks (50 blocks per message, section text 3000
 * characters, section fields 10 of 2000, header 150, context 10 elements).
 * Text is mrkdwn, where &, < and > must be escaped (https://api.slack.com/reference/surfaces/formatting#escaping):
 * that also keeps a name like `<!channel>` from pinging anyone.
 */
import type { AlertBatch, AlertMessage, AlertPayload, FindingType, ScanCompletedMessage, Severity } from '../types.js';
import { severities } from '../types.js';

export const SLACK_MAX_BLOCKS = 50;
export const SLACK_MAX_SECTION_TEXT = 3000;
export const SLACK_MAX_FIELD_TEXT = 2000;
export const SLACK_MAX_HEADER_TEXT = 150;
export const SLACK_MAX_CONTEXT_ELEMENTS = 10;
/** A batch message lists this many alerts, most severe first, then says how many more there are. */
export const SLACK_BATCH_ITEMS = 20;

type Text = { type: 'mrkdwn'; text: string } | { type: 'plain_text'; text: string; emoji?: boolean };
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: boolean } }
  | { type: 'section'; text?: Text; fields?: Text[] }
  | { type: 'context'; elements: Text[] }
  | { type: 'divider' };

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

const titles: Record<FindingType, string> = {
  'tag.moved': 'Tag moved',
  'tag.deleted': 'Tag deleted',
  'tag.restored': 'Tag restored',
  'repository.mutable': 'Repository allows tag overwrites',
  'tag.unprotected': 'Tags not protected',
  'repository.protection_changed': 'Repository protection changed',
  'target.scan_failed': 'Scans failing',
  'harbor.verdict_mismatch': 'Harbor immutability verdict mismatch',
};

const whyItMatters: Record<FindingType, string> = {
  'tag.moved': 'Whatever pulls this tag now gets a different image: deployments, rollbacks and audits that name it no longer mean what they did.',
  'tag.deleted': 'Pulls of this tag now fail, and what it pointed at is recorded only in tagledger\'s history.',
  'tag.restored': 'The tag is back, possibly on another image: what pulls it now may not be what was pulled before it disappeared.',
  'repository.mutable': 'A push can overwrite tags in this repository: a release tag proves nothing about the image behind it.',
  'tag.unprotected': 'These tags are meant never to change, yet the registry would accept a push that overwrites them.',
  'repository.protection_changed': 'The registry\'s rules for overwriting tags here changed: tags that were safe may no longer be.',
  'target.scan_failed': 'tagledger has not been able to read this registry for several scans in a row: changes there go unaudited.',
  'harbor.verdict_mismatch': 'Harbor\'s own immutable flag disagrees with the repository\'s rules as tagledger reads them: protection may not be what it seems.',
};

const severityIcons: Record<Severity, string> = {
  critical: ':rotating_light:',
  high: ':red_circle:',
  medium: ':large_orange_circle:',
  low: ':large_yellow_circle:',
  info: ':large_blue_circle:',
};

export function slackMessage(payload: AlertPayload): SlackMessage {
  if (payload.type === 'batch') return batchMessage(payload);
  if (payload.type === 'scan.completed') return anchorMessage(payload);
  return alertMessage(payload);
}

/**
 * A scan anchor is one short line: which scan, how it ended, and its whole root hash (the point of
 * anchoring to a channel is that the full root is kept outside the database).
 */
function anchorMessage(m: ScanCompletedMessage): SlackMessage {
  const c = m.counts;
  const changes = c.events.created + c.events.moved + c.events.deleted + c.events.restored;
  const line =
    `:link: scan #${m.scanId} of \`${escape(m.target.id)}\` ${escape(m.status)} · root \`${escape(m.rootHash)}\`` +
    ` · ${c.repositories} repositories, ${c.tags} tags, ${changes} tag change${changes === 1 ? '' : 's'}${c.errors ? `, ${c.errors} error${c.errors === 1 ? '' : 's'}` : ''}`;
  const text = clip(escape(`tagledger: scan #${m.scanId} of ${m.target.id} ${m.status}, root ${m.rootHash}`), SLACK_MAX_SECTION_TEXT);
  return { text, blocks: [section(line)] };
}

function alertMessage(m: AlertMessage): SlackMessage {
  const what = subject(m);
  const title = `${titles[m.type] ?? m.type}${what ? `: ${what}` : ''}`;
  const blocks: SlackBlock[] = [
    header(`${severityIcons[m.severity] ?? ''} ${m.severity.toUpperCase()} · ${title}`),
    section(escape(m.summary)),
  ];
  const fields: Text[] = [
    field('Target', `\`${escape(m.target.id)}\` (${escape(m.target.kind)})`),
    field('Severity', m.severity),
  ];
  if (m.repository) fields.push(field(m.tag ? 'Tag' : 'Repository', `\`${escape(what!)}\``));
  if (m.protection) fields.push(field('Protection', `${m.protection.protected ? 'protected' : 'not protected'}: ${escape(m.protection.reason)}`));
  blocks.push({ type: 'section', fields });

  const move = digestLine(m);
  if (move) {
    blocks.push(section(`*Digest* ${move}`));
    const full: Text[] = [];
    if (m.previousDigest) full.push(mrkdwn(`from ${escape(m.previousDigest)}`));
    if (m.digest) full.push(mrkdwn(`${m.previousDigest ? 'to' : 'now'} ${escape(m.digest)}`));
    blocks.push({ type: 'context', elements: full });
  }
  blocks.push(section(`*Why it matters*\n${escape(whyItMatters[m.type] ?? '')}`));
  if (m.remediation.trim()) blocks.push(section(codeBlock('*How to fix*', m.remediation)));
  blocks.push({
    type: 'context',
    elements: [
      mrkdwn(
        escape(
          [`finding #${m.finding.id} (${m.finding.status})`, m.scanId !== null ? `scan #${m.scanId}` : null, `observed ${m.occurredAt}`, `delivery ${m.id}`]
            .filter(Boolean)
            .join(' · '),
        ),
      ),
    ],
  });
  const text = clip(escape(`${m.severity.toUpperCase()}: ${title} on ${m.target.id}. ${m.summary}`), SLACK_MAX_SECTION_TEXT);
  return { text, blocks: limitBlocks(blocks) };
}

function batchMessage(b: AlertBatch): SlackMessage {
  const targets = [...new Set(b.alerts.map((a) => a.target.id))];
  const on = targets.length === 1 ? ` on ${targets[0]}` : '';
  const count = `${b.alerts.length} alert${b.alerts.length === 1 ? '' : 's'}`;
  const bySeverity = [...severities]
    .reverse()
    .map((s) => [s, b.alerts.filter((a) => a.severity === s).length] as const)
    .filter(([, n]) => n > 0);
  // Most severe first (stable otherwise), so what is cut off is the least severe.
  const sorted = b.alerts
    .map((a, i) => ({ a, i }))
    .sort((x, y) => severities.indexOf(y.a.severity) - severities.indexOf(x.a.severity) || x.i - y.i)
    .map((x) => x.a);
  const shown = sorted.slice(0, SLACK_BATCH_ITEMS);
  const rest = sorted.length - shown.length;

  const blocks: SlackBlock[] = [header(`tagledger: ${count}${on}`)];
  if (bySeverity.length) blocks.push(section(bySeverity.map(([s, n]) => `${severityIcons[s]} *${n}* ${s}`).join('   ')));
  blocks.push({ type: 'divider' });
  for (const m of shown) {
    const what = subject(m);
    const lines = [
      `${severityIcons[m.severity] ?? ''} *${m.severity.toUpperCase()}* · ${escape(titles[m.type] ?? m.type)}${what ? ` \`${escape(what)}\`` : ''}${targets.length > 1 ? ` on \`${escape(m.target.id)}\`` : ''}`,
      escape(m.summary),
    ];
    const move = digestLine(m);
    if (move) lines.push(move);
    blocks.push(section(lines.join('\n')));
  }
  const footer = [`delivery ${b.id}`];
  if (rest > 0) blocks.push({ type: 'context', elements: [mrkdwn(`… and ${rest} more: \`tagledger findings list\` shows them all`)] });
  blocks.push({ type: 'context', elements: [mrkdwn(escape(footer.join(' · ')))] });

  const counts = bySeverity.map(([s, n]) => `${n} ${s}`).join(', ');
  const text = clip(escape(`tagledger: ${count}${on}${counts ? ` (${counts})` : ''}`), SLACK_MAX_SECTION_TEXT);
  return { text, blocks: limitBlocks(blocks) };
}

function subject(m: AlertMessage): string | null {
  if (!m.repository) return null;
  return m.tag ? `${m.repository}:${m.tag}` : m.repository;
}

/** `sha256:1a2b3c4d5e6f` → `sha256:0f9e8d7c6b5a`, or what there is of it; null without digests. */
function digestLine(m: AlertMessage): string | null {
  if (m.previousDigest && m.digest) return `\`${escape(shortDigest(m.previousDigest))}\` → \`${escape(shortDigest(m.digest))}\``;
  if (m.previousDigest) return `was \`${escape(shortDigest(m.previousDigest))}\``;
  if (m.digest) return `now \`${escape(shortDigest(m.digest))}\``;
  return null;
}

export function shortDigest(digest: string): string {
  const i = digest.indexOf(':');
  return i < 0 ? digest.slice(0, 12) : `${digest.slice(0, i)}:${digest.slice(i + 1, i + 13)}`;
}

function header(text: string): SlackBlock {
  return { type: 'header', text: { type: 'plain_text', text: clip(text.trim(), SLACK_MAX_HEADER_TEXT), emoji: true } };
}

function section(text: string): SlackBlock {
  return { type: 'section', text: mrkdwn(clip(text, SLACK_MAX_SECTION_TEXT)) };
}

function field(label: string, value: string): Text {
  return mrkdwn(clip(`*${label}*\n${value}`, SLACK_MAX_FIELD_TEXT));
}

function mrkdwn(text: string): Text {
  return { type: 'mrkdwn', text };
}

/** A titled code block that fits one section, cut inside the fence so the fence always closes. */
function codeBlock(title: string, code: string): string {
  const open = `${title}\n\`\`\`\n`;
  const close = '\n```';
  // A fence inside the code would end the block early.
  const body = escape(code.replace(/```/g, '`\u200b`\u200b`'));
  return open + clip(body, SLACK_MAX_SECTION_TEXT - open.length - close.length) + close;
}

export function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** At most `max` characters, ending in `…` when cut, never in the middle of an `&amp;`-style escape. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  const amp = cut.lastIndexOf('&');
  if (amp >= 0 && amp >= cut.length - 4 && !cut.slice(amp).includes(';')) cut = cut.slice(0, amp);
  return `${cut}…`;
}

/** Never more than Slack's 50 blocks; the last one says that the message was shortened. */
function limitBlocks(blocks: SlackBlock[]): SlackBlock[] {
  if (blocks.length <= SLACK_MAX_BLOCKS) return blocks;
  return [...blocks.slice(0, SLACK_MAX_BLOCKS - 1), { type: 'context', elements: [mrkdwn('… message shortened to fit Slack\'s limits')] }];
}
