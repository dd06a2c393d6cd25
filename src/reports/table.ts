/**
 * The report for a terminal: aligned columns, severities coloured when asked to (the caller decides:
 * only on a TTY, never with NO_COLOR). Pure.
 *
 * Names come from registries: control characters are shown as `\xNN`, so a repository name cannot
 * carry escape sequences to the terminal.
 */
import { shortDigest } from '../cli/format.js';
import type { Severity } from '../notifiers/types.js';
import type { ReportModel } from './model.js';

export interface TableOptions {
  color: boolean;
  /** Findings and changes listed before "… and N more" (default 50). */
  limit?: number;
}

const SEVERITY_COLOR: Record<Severity, string> = {
  critical: '\x1b[1;31m',
  high: '\x1b[31m',
  medium: '\x1b[33m',
  low: '\x1b[36m',
  info: '\x1b[2m',
};
const RESET = '\x1b[0m';
const BOLD = '\x1b[1m';

/** Control characters (C0, DEL, C1) as visible `\xNN`. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

type Cell = { text: string; color?: string };

function cell(text: string | number, color?: string): Cell {
  return { text: printable(String(text)), color };
}

/** Pads on plain text and colours afterwards, so escape codes never break the alignment. */
function grid(headers: string[], body: Cell[][], color: boolean, rightAligned: Set<number> = new Set()): string {
  const all = [headers.map((h) => cell(h)), ...body];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => r[i]?.text.length ?? 0)));
  const line = (r: Cell[], header: boolean) =>
    r
      .map((c, i) => {
        const last = i === r.length - 1;
        const padded = rightAligned.has(i) ? c.text.padStart(widths[i]) : last ? c.text : c.text.padEnd(widths[i]);
        const style = header ? BOLD : c.color;
        return color && style ? `${style}${padded}${RESET}` : padded;
      })
      .join('  ')
      .trimEnd();
  return [line(all[0], true), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map((r) => line(r, false))].join('\n');
}

export function percent(share: number | null): string {
  return share === null ? '-' : `${(share * 100).toFixed(1).replace(/\.0$/, '')}%`;
}

function heading(text: string, color: boolean): string {
  return color ? `${BOLD}${text}${RESET}` : text;
}

export function renderTable(model: ReportModel, opts: TableOptions): string {
  const { color } = opts;
  const limit = opts.limit ?? 50;
  const sev = (s: Severity) => cell(s, SEVERITY_COLOR[s]);
  const out: string[] = [];
  const scope = model.filters.targets ? `targets ${model.filters.targets.join(', ')}` : 'all targets';
  out.push(`tagledger report, ${model.generatedAt} (${printable(scope)}; findings at or above ${model.filters.minSeverity ?? 'info'})`);

  out.push('', heading('TARGETS', color));
  if (!model.targets.length) out.push('no targets scanned yet');
  else {
    out.push(
      grid(
        ['target', 'kind', 'repositories', 'repos protected', 'tags', 'tags protected', 'critical', 'high', 'medium', 'low', 'info', 'last successful scan'],
        model.targets.map((t) => [
          cell(t.target),
          cell(t.kind),
          cell(t.repositories),
          cell(percent(t.protectedRepositoriesShare)),
          cell(t.tags),
          cell(percent(t.protectedTagsShare)),
          ...(['critical', 'high', 'medium', 'low', 'info'] as const).map((s) => cell(t.openFindings[s], t.openFindings[s] > 0 ? SEVERITY_COLOR[s] : undefined)),
          cell(t.lastSuccessfulScan ?? 'never'),
        ]),
        color,
        new Set([2, 3, 4, 5, 6, 7, 8, 9, 10]),
      ),
    );
  }

  const open = model.findings.filter((f) => f.status === 'open').length;
  out.push('', heading(`FINDINGS (${open} open, ${model.findings.length - open} acknowledged${model.findingsOmitted ? `, ${model.findingsOmitted} more not listed` : ''})`, color));
  if (!model.findings.length) out.push('none');
  else {
    const shown = model.findings.slice(0, limit);
    out.push(
      grid(
        ['id', 'severity', 'status', 'type', 'target', 'summary'],
        shown.map((f) => [cell(f.id), sev(f.severity), cell(f.status), cell(f.type), cell(f.target), cell(f.summary.length > 140 ? `${f.summary.slice(0, 139)}…` : f.summary)]),
        color,
        new Set([0]),
      ),
    );
    if (model.findings.length > shown.length) out.push(`… and ${model.findings.length - shown.length} more (--format json or csv lists them all)`);
  }

  out.push('', heading('REPOSITORIES', color));
  if (!model.repositories.length) out.push('none');
  else {
    out.push(
      grid(
        ['target', 'repository', 'mode', 'protected tags', 'unprotected tags', 'version tags', 'floating unprotected', 're-pushed versions', 'last seen'],
        model.repositories.map((r) => [
          cell(r.target),
          cell(r.repository),
          cell(r.mode, r.protected ? undefined : r.mode === 'unknown' || r.mode === 'mutable' ? SEVERITY_COLOR.medium : undefined),
          cell(r.protectedTags),
          cell(r.unprotectedTags, r.unprotectedTags > 0 ? SEVERITY_COLOR.medium : undefined),
          cell(r.strategy ? percent(r.strategy.versionTags / Math.max(1, r.protectedTags + r.unprotectedTags)) : '-'),
          cell(r.strategy?.floatingUnprotected.length ?? 0, r.strategy?.floatingUnprotected.length ? SEVERITY_COLOR.medium : undefined),
          cell(r.strategy?.repushedVersionTags.length ?? 0, r.strategy?.repushedVersionTags.length ? SEVERITY_COLOR.high : undefined),
          cell(r.lastSeen ?? '-'),
        ]),
        color,
        new Set([3, 4, 5, 6, 7]),
      ),
    );
  }

  out.push('', heading('RECENT TAG CHANGES', color));
  if (!model.changes.length) out.push('none');
  else {
    const shown = model.changes.slice(0, limit);
    out.push(
      grid(
        ['observed at', 'target', 'tag', 'change', 'from', 'to'],
        shown.map((c) => [
          cell(c.observedAt),
          cell(c.target),
          cell(`${c.repository}:${c.tag}`),
          cell(c.kind, c.kind === 'moved' ? SEVERITY_COLOR[c.protected ? 'critical' : 'medium'] : undefined),
          cell(shortDigest(c.previousDigest)),
          cell(shortDigest(c.digest)),
        ]),
        color,
      ),
    );
    if (model.changes.length > shown.length) out.push(`… and ${model.changes.length - shown.length} more`);
  }
  return out.join('\n');
}

