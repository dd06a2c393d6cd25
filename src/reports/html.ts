/**
 * The report as HTML: one self-contained file (`tagledger report --format html`) and the pages of
 * the compliance view `tagledger serve` shows at `/`. Pure: a model in, a string out.
 *
 * Self-contained means no network: styles inline, the chart inline SVG, no scripts, and a
 * Content-Security-Policy that forbids loading anything. Every string from the database goes
 * through `esc` (repository names come from registries and may hold quotes, `<` or `&`); URLs are
 * built from percent-encoded parts and escaped again as attribute values.
 */
import { severities, type Severity } from '../notifiers/types.js';
import type { ReportFinding, ReportModel, ReportRepository, ReportTag, RepositoryDetail, TagChange, TagTimeline } from './model.js';
import { FINDING_RULES } from './rules.js';
import { percent } from './table.js';

/** Where links point: anchors in the file, pages on the server. null: no link. */
export interface HtmlLinks {
  home: string | null;
  repository(repositoryId: number): string | null;
  tag(repositoryId: number, tag: string): string | null;
}

/** Links inside the single-file report. */
export const fileLinks: HtmlLinks = {
  home: null,
  repository: (id) => `#repository-${id}`,
  tag: () => null,
};

/** Links between the compliance pages served under `base` ('' for the root). */
export function pageLinks(base = ''): HtmlLinks {
  return {
    home: `${base}/`,
    repository: (id) => `${base}/repositories/${id}`,
    tag: (id, tag) => `${base}/repositories/${id}/tags/${encodeURIComponent(tag)}`,
  };
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text and attribute values: the five characters HTML gives meaning to. */
export function esc(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

const SEVERITY_COLORS: Record<Severity, string> = {
  critical: '#8b0000',
  high: '#d32f2f',
  medium: '#ef8f00',
  low: '#1e88e5',
  info: '#78909c',
};

const ORDER: Severity[] = [...severities].reverse() as Severity[];

const CSS = `
:root { color-scheme: light; --fg: #1d2430; --muted: #5b6472; --line: #dde2ea; --bg: #f6f8fb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header.top { background: #172033; color: #fff; padding: 14px 24px; display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
header.top h1 { font-size: 18px; margin: 0; }
header.top a { color: #cfe0ff; }
header.top .meta { color: #aab6c9; font-size: 12px; }
main { padding: 18px 24px 40px; max-width: 1400px; margin: 0 auto; }
h2 { font-size: 16px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
section.card, section.repository { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
code.digest { word-break: break-all; }
td > code:only-child { white-space: nowrap; }
.muted { color: var(--muted); }
.sev { display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff; font-size: 12px; font-weight: 600; }
${severities.map((s) => `.sev-${s} { background: ${SEVERITY_COLORS[s]}; }`).join('\n')}
.yes { color: #2e7d32; font-weight: 600; }
.no { color: #c62828; font-weight: 600; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.cards .stat { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; min-width: 150px; }
.stat .value { font-size: 22px; font-weight: 700; }
.stat .label { color: var(--muted); font-size: 12px; }
ol.timeline { list-style: none; margin: 0; padding: 0 0 0 14px; border-left: 2px solid var(--line); }
ol.timeline li { position: relative; margin: 0 0 10px; padding-left: 12px; }
ol.timeline li::before { content: ""; position: absolute; left: -21px; top: 5px; width: 10px; height: 10px; border-radius: 50%; background: #90a4ae; }
ol.timeline li.kind-moved::before { background: ${SEVERITY_COLORS.medium}; }
ol.timeline li.kind-deleted::before { background: ${SEVERITY_COLORS.high}; }
ol.timeline li.kind-restored::before { background: ${SEVERITY_COLORS.low}; }
ol.timeline li.kind-created::before { background: #2e7d32; }
.kind { font-weight: 600; }
pre { background: #f3f5f8; padding: 8px; border-radius: 4px; overflow: auto; font-size: 12px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
`;

/** Forbids every fetch: the page can only show what it carries. */
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

function layout(title: string, generatedAt: string, body: string, links: HtmlLinks): string {
  const home = links.home ? ` <a href="${esc(links.home)}">overview</a>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header class="top"><h1>${esc(title)}</h1><span class="meta">tagledger · generated <time datetime="${esc(generatedAt)}">${esc(generatedAt)}</time></span>${home}</header>
<main>
${body}
</main>
</body>
</html>
`;
}

function link(href: string | null, text: string): string {
  return href ? `<a href="${esc(href)}">${esc(text)}</a>` : esc(text);
}

function sev(s: Severity): string {
  return `<span class="sev sev-${esc(s)}">${esc(s)}</span>`;
}

function yesNo(v: boolean): string {
  return v ? '<span class="yes">yes</span>' : '<span class="no">no</span>';
}

function digest(d: string | null, short = true): string {
  if (!d) return '<span class="muted">–</span>';
  const [algo, hex] = d.split(':');
  const text = short && hex ? `${algo}:${hex.slice(0, 12)}…` : d;
  return `<code class="digest" title="${esc(d)}">${esc(text)}</code>`;
}

function time(t: string | null): string {
  return t ? `<time datetime="${esc(t)}">${esc(t.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</time>` : '<span class="muted">never</span>';
}

/** Open and acknowledged findings by target and severity, as stacked horizontal bars. */
export function findingsChart(findings: ReportFinding[]): string {
  const byTarget = new Map<string, Record<Severity, number>>();
  for (const f of findings) {
    const row = byTarget.get(f.target) ?? { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
    row[f.severity]++;
    byTarget.set(f.target, row);
  }
  if (!byTarget.size) return '<p class="muted">No open or acknowledged findings.</p>';
  const targets = [...byTarget.keys()].sort();
  const max = Math.max(...targets.map((t) => ORDER.reduce((n, s) => n + byTarget.get(t)![s], 0)));
  const labelWidth = 170;
  const barWidth = 520;
  const rowHeight = 26;
  const top = 30;
  const height = top + targets.length * rowHeight + 8;
  const width = labelWidth + barWidth + 60;
  const legend = ORDER.map(
    (s, i) => `<g transform="translate(${labelWidth + i * 95},4)"><rect width="12" height="12" fill="${SEVERITY_COLORS[s]}"/><text x="16" y="11" font-size="12">${esc(s)}</text></g>`,
  ).join('');
  const rows = targets
    .map((t, i) => {
      const counts = byTarget.get(t)!;
      const y = top + i * rowHeight;
      let x = labelWidth;
      const total = ORDER.reduce((n, s) => n + counts[s], 0);
      const segments = ORDER.filter((s) => counts[s] > 0)
        .map((s) => {
          const w = Math.max(2, (counts[s] / max) * barWidth);
          const rect = `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowHeight - 8}" fill="${SEVERITY_COLORS[s]}"><title>${esc(`${t}: ${counts[s]} ${s}`)}</title></rect>`;
          x += w;
          return rect;
        })
        .join('');
      const label = t.length > 24 ? `${t.slice(0, 23)}…` : t;
      return `<text x="${labelWidth - 8}" y="${y + 13}" font-size="12" text-anchor="end">${esc(label)}<title>${esc(t)}</title></text>${segments}<text x="${(x + 6).toFixed(1)}" y="${y + 13}" font-size="12">${total}</text>`;
    })
    .join('');
  return `<svg class="chart" role="img" aria-label="findings by target and severity" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">${legend}${rows}</svg>`;
}

function summaryCards(model: ReportModel): string {
  const repos = model.targets.reduce((n, t) => n + t.repositories, 0);
  const protectedRepos = model.targets.reduce((n, t) => n + t.protectedRepositories, 0);
  const tags = model.targets.reduce((n, t) => n + t.tags, 0);
  const protectedTags = model.targets.reduce((n, t) => n + t.protectedTags, 0);
  const open = model.findings.filter((f) => f.status === 'open').length;
  const stat = (value: string | number, label: string) => `<div class="stat"><div class="value">${esc(value)}</div><div class="label">${esc(label)}</div></div>`;
  return `<div class="cards">${[
    stat(model.targets.length, 'targets'),
    stat(repos, 'repositories'),
    stat(percent(repos ? protectedRepos / repos : null), 'repositories fully protected'),
    stat(tags, 'tags'),
    stat(percent(tags ? protectedTags / tags : null), 'tags protected by the registry'),
    stat(open, 'open findings'),
  ].join('')}</div>`;
}

function targetsTable(model: ReportModel): string {
  if (!model.targets.length) return '<p class="muted">No targets scanned yet.</p>';
  const head = `<tr><th>target</th><th>kind</th><th class="num">repositories</th><th class="num">protected</th><th class="num">tags</th><th class="num">protected</th>${ORDER.map((s) => `<th class="num">${esc(s)}</th>`).join('')}<th>last successful scan</th><th>last scan</th></tr>`;
  const rows = model.targets
    .map(
      (t) =>
        `<tr><td>${esc(t.target)}</td><td>${esc(t.kind)}</td><td class="num">${t.repositories}</td><td class="num">${esc(percent(t.protectedRepositoriesShare))}</td><td class="num">${t.tags}</td><td class="num">${esc(percent(t.protectedTagsShare))}</td>${ORDER.map((s) => `<td class="num">${t.openFindings[s]}</td>`).join('')}<td>${time(t.lastSuccessfulScan)}</td><td>${esc(t.lastScanStatus ?? '–')}</td></tr>`,
    )
    .join('\n');
  return `<table class="targets"><thead>${head}</thead><tbody>${rows}</tbody></table>`;
}

function findingsTable(findings: ReportFinding[], omitted: number, links: HtmlLinks, repositoryIds: Map<string, number>): string {
  if (!findings.length) return '<p class="muted">None.</p>';
  const rows = findings
    .map((f) => {
      const repoId = f.repository ? repositoryIds.get(`${f.target}\u0000${f.repository}`) : undefined;
      const where = f.repository
        ? `${link(repoId !== undefined ? links.repository(repoId) : null, f.repository)}${f.tag ? `:${link(repoId !== undefined ? links.tag(repoId, f.tag) : null, f.tag)}` : ''}`
        : '<span class="muted">target</span>';
      return `<tr><td class="num">${f.id}</td><td>${sev(f.severity)}</td><td>${esc(f.status)}</td><td><code>${esc(f.type)}</code></td><td>${esc(f.target)}</td><td>${where}</td><td>${esc(f.summary)}<div class="muted">Fix: ${esc(f.remediation)}</div></td></tr>`;
    })
    .join('\n');
  const more = omitted ? `<p class="muted">${omitted} more findings not listed.</p>` : '';
  return `<table class="findings"><thead><tr><th class="num">id</th><th>severity</th><th>status</th><th>type</th><th>target</th><th>where</th><th>summary</th></tr></thead><tbody>${rows}</tbody></table>${more}`;
}

function changeLine(c: TagChange, links: HtmlLinks, withRepository: boolean, fullDigests: boolean): string {
  const ref = withRepository ? `${esc(c.target)} / ${link(links.repository(c.repositoryId), c.repository)}:${link(links.tag(c.repositoryId, c.tag), c.tag)}` : link(links.tag(c.repositoryId, c.tag), c.tag);
  const what =
    c.kind === 'moved'
      ? `moved from ${digest(c.previousDigest, !fullDigests)} to ${digest(c.digest, !fullDigests)}`
      : c.kind === 'deleted'
        ? `deleted (was ${digest(c.previousDigest, !fullDigests)})`
        : c.kind === 'restored'
          ? `restored on ${digest(c.digest, !fullDigests)}${c.previousDigest && c.previousDigest !== c.digest ? ` (was ${digest(c.previousDigest, !fullDigests)} before the deletion)` : ''}`
          : `created on ${digest(c.digest, !fullDigests)}`;
  const protectedNote = c.kind === 'moved' && c.protected ? ' <span class="sev sev-critical">registry said protected</span>' : '';
  return `<li class="kind-${esc(c.kind)}">${time(c.observedAt)} · ${ref} <span class="kind">${esc(c.kind)}</span>: ${what}${protectedNote} <span class="muted">(scan ${c.scanId})</span></li>`;
}

function timeline(changes: TagChange[], links: HtmlLinks, withRepository: boolean, fullDigests = false): string {
  if (!changes.length) return '<p class="muted">No tag changes recorded.</p>';
  return `<ol class="timeline">${changes.map((c) => changeLine(c, links, withRepository, fullDigests)).join('\n')}</ol>`;
}

function repositoriesTable(repositories: ReportRepository[], links: HtmlLinks): string {
  if (!repositories.length) return '<p class="muted">None.</p>';
  const rows = repositories
    .map(
      (r) =>
        `<tr><td>${esc(r.target)}</td><td>${link(links.repository(r.id), r.repository)}</td><td><code>${esc(r.mode)}</code></td><td>${yesNo(r.protected)}</td><td class="num">${r.protectedTags}</td><td class="num">${r.unprotectedTags}</td><td>${time(r.lastSeen)}</td></tr>`,
    )
    .join('\n');
  return `<table class="repositories"><thead><tr><th>target</th><th>repository</th><th>mode</th><th>fully protected</th><th class="num">protected tags</th><th class="num">unprotected tags</th><th>last seen</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function tagsTable(tags: ReportTag[], repositoryId: number, links: HtmlLinks, withPresence: boolean): string {
  if (!tags.length) return '<p class="muted">No tags.</p>';
  const rows = tags
    .map(
      (t) =>
        `<tr${t.present ? '' : ' class="muted"'}><td>${link(links.tag(repositoryId, t.tag), t.tag)}</td>${withPresence ? `<td>${t.present ? 'present' : 'deleted'}</td>` : ''}<td>${digest(t.digest)}</td><td>${yesNo(t.protected)}</td><td>${esc(t.protectionReason)}</td><td>${time(t.firstSeen)}</td><td>${time(t.lastChanged)}</td></tr>`,
    )
    .join('\n');
  return `<table class="tags"><thead><tr><th>tag</th>${withPresence ? '<th>state</th>' : ''}<th>digest</th><th>protected</th><th>why</th><th>first seen</th><th>last changed</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function repositorySection(r: ReportRepository, links: HtmlLinks): string {
  const omitted = r.tagsOmitted ? `<p class="muted">${r.tagsOmitted} more tags not listed (tagledger keeps them all; see the current_tags view).</p>` : '';
  return `<section class="repository" id="repository-${r.id}"><h3>${esc(r.target)} / ${esc(r.repository)}</h3>
<p><code>${esc(r.pullReference)}</code> · mode <code>${esc(r.mode)}</code> · ${r.protectedTags} protected, ${r.unprotectedTags} unprotected tags · last seen ${time(r.lastSeen)}</p>
${strategyLine(r)}${tagsTable(r.tags, r.id, links, false)}${omitted}</section>`;
}

/** Tagging strategy: shares, floating tags left mutable, version tags ever re-pushed. */
function strategyLine(r: ReportRepository): string {
  const st = r.strategy;
  if (!st) return '';
  const shares = Object.entries(st.share)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${esc(k)} ${esc(percent(v))}`)
    .join(', ');
  const floating = st.floatingUnprotected.length ? ` · floating tags left mutable: ${st.floatingUnprotected.slice(0, 10).map((t) => `<code>${esc(t)}</code>`).join(', ')}` : '';
  const repushed = st.repushedVersionTags.length
    ? ` · <strong>version tags re-pushed</strong>: ${st.repushedVersionTags.slice(0, 10).map((t) => `<code>${esc(t.tag)}</code> (${t.repushes}×)`).join(', ')}`
    : ' · no version tag was ever re-pushed';
  return `<p class="strategy">tagging: ${shares || 'no tags'}${floating}${repushed}</p>\n`;
}

function repositoryIndex(model: { repositories: ReportRepository[] }): Map<string, number> {
  return new Map(model.repositories.map((r) => [`${r.target}\u0000${r.repository}`, r.id]));
}

function filtersLine(model: ReportModel): string {
  const targets = model.filters.targets ? model.filters.targets.join(', ') : 'all targets';
  return `<p class="muted">${esc(targets)}; findings at or above ${esc(model.filters.minSeverity ?? 'info')}.</p>`;
}

function legend(): string {
  return `<details><summary>What the finding types mean</summary><dl class="facts">${FINDING_RULES.map((r) => `<dt><code>${esc(r.id)}</code></dt><dd>${esc(r.full)}</dd>`).join('')}</dl></details>`;
}

/**
 * The overview: summary, chart, findings, timeline and repositories. With `embedRepositories`
 * (the single file) each repository's tags follow as a table; on the server they are a click away.
 */
export function renderOverview(model: ReportModel, links: HtmlLinks, opts: { embedRepositories: boolean }): string {
  const ids = repositoryIndex(model);
  const body = [
    filtersLine(model),
    '<h2>Summary</h2>',
    summaryCards(model),
    targetsTable(model),
    '<h2>Findings by target and severity</h2>',
    `<section class="card">${findingsChart(model.findings)}</section>`,
    `<h2>Findings (${model.findings.length}${model.findingsOmitted ? ` of ${model.findings.length + model.findingsOmitted}` : ''})</h2>`,
    findingsTable(model.findings, model.findingsOmitted, links, ids),
    legend(),
    `<h2>Tag changes (latest ${model.changes.length})</h2>`,
    `<section class="card">${timeline(model.changes, links, true)}</section>`,
    `<h2>Repositories (${model.repositories.length + model.repositoriesOmitted})</h2>`,
    repositoriesTable(model.repositories, links),
    model.repositoriesOmitted ? `<p class="muted">${model.repositoriesOmitted} more repositories not listed; narrow the view to one target.</p>` : '',
    ...(opts.embedRepositories ? ['<h2>Tags per repository</h2>', ...model.repositories.map((r) => repositorySection(r, links))] : []),
  ].join('\n');
  return layout('Tag immutability report', model.generatedAt, body, links);
}

/** `tagledger report --format html`: one file, no network. */
export function renderHtml(model: ReportModel): string {
  return renderOverview(model, fileLinks, { embedRepositories: true });
}

export function renderRepositoryPage(d: RepositoryDetail, links: HtmlLinks): string {
  const r = d.repository;
  const ids = new Map([[`${r.target}\u0000${r.repository}`, r.id]]);
  const body = [
    `<section class="card"><dl class="facts">
<dt>target</dt><dd>${esc(r.target)}</dd>
<dt>pull reference</dt><dd><code>${esc(r.pullReference)}</code></dd>
<dt>mode</dt><dd><code>${esc(r.mode)}</code></dd>
<dt>fully protected</dt><dd>${yesNo(r.protected)} (${r.protectedTags} protected, ${r.unprotectedTags} unprotected present tags)</dd>
<dt>last seen</dt><dd>${time(r.lastSeen)}</dd>
${r.goneAt ? `<dt>gone since</dt><dd>${time(r.goneAt)}</dd>` : ''}
</dl>
<details><summary>settings</summary><pre>${esc(JSON.stringify(r.settings, null, 2))}</pre>${r.vendorSettings ? `<pre>${esc(JSON.stringify(r.vendorSettings, null, 2))}</pre>` : ''}</details></section>`,
    `<h2>Findings (${d.findings.length})</h2>`,
    findingsTable(d.findings, 0, links, ids),
    `<h2>Tags (${d.tags.length + d.tagsOmitted})</h2>`,
    tagsTable(d.tags, r.id, links, true),
    d.tagsOmitted ? `<p class="muted">${d.tagsOmitted} more tags not listed.</p>` : '',
    `<h2>Tag changes (latest ${d.changes.length})</h2>`,
    `<section class="card">${timeline(d.changes, links, false)}</section>`,
  ].join('\n');
  return layout(`${r.target} / ${r.repository}`, d.generatedAt, body, links);
}

export function renderTagPage(t: TagTimeline, links: HtmlLinks): string {
  const r = t.repository;
  const ids = new Map([[`${r.target}\u0000${r.repository}`, r.id]]);
  const current = t.current
    ? `<dt>now</dt><dd>${t.current.present ? digest(t.current.digest, false) : `deleted (last ${digest(t.current.digest, false)})`}</dd>
<dt>protected</dt><dd>${yesNo(t.current.protected)} ${esc(t.current.protectionReason)}</dd>
<dt>first seen</dt><dd>${time(t.current.firstSeen)}</dd>`
    : '<dt>now</dt><dd class="muted">tagledger never saw this tag</dd>';
  const body = [
    `<section class="card"><dl class="facts">
<dt>repository</dt><dd>${esc(r.target)} / ${link(links.repository(r.id), r.repository)}</dd>
<dt>pull reference</dt><dd><code>${esc(`${r.pullReference}:${t.tag}`)}</code></dd>
${current}
</dl></section>`,
    `<h2>Timeline (${t.events.length} changes, oldest first)</h2>`,
    `<section class="card">${timeline(t.events, links, false, true)}</section>`,
    `<h2>Findings (${t.findings.length})</h2>`,
    findingsTable(t.findings, 0, links, ids),
  ].join('\n');
  return layout(`${r.target} / ${r.repository}:${t.tag}`, t.generatedAt, body, links);
}

/** A small page for "no such repository" and the like. */
export function renderMessagePage(title: string, message: string, links: HtmlLinks, now = new Date()): string {
  return layout(title, now.toISOString(), `<p>${esc(message)}</p>`, links);
}
