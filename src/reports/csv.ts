/**
 * The report's findings as CSV, one row per finding, for spreadsheets and pipelines. Pure.
 *
 * RFC 4180 (https://www.rfc-editor.org/rfc/rfc4180): CRLF line ends, a header row, and a field in
 * double quotes when it holds a comma, a quote, CR or LF, with quotes doubled.
 *
 * Registry names and summaries are untrusted text that a spreadsheet may run as a formula, so a
 * cell starting with `=`, `+`, `-`, `@`, TAB or CR gets a leading single quote
 * (https://owasp.org/www-community/attacks/CSV_Injection).
 */
import type { ReportFinding, ReportModel } from './model.js';

export const CSV_COLUMNS = [
  'id',
  'severity',
  'status',
  'type',
  'target',
  'repository',
  'tag',
  'digest',
  'previous_digest',
  'summary',
  'remediation',
  'first_seen',
  'last_seen',
] as const;

const FORMULA_START = /^[=+\-@\t\r]/;

/** One field: formula-defused, then quoted when RFC 4180 requires it. */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  let s = String(value);
  if (typeof value === 'string' && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function row(f: ReportFinding): Array<string | number | null> {
  return [f.id, f.severity, f.status, f.type, f.target, f.repository, f.tag, f.digest, f.previousDigest, f.summary, f.remediation, f.firstSeen, f.lastSeen];
}

export function renderCsv(model: ReportModel): string {
  const lines = [CSV_COLUMNS.join(','), ...model.findings.map((f) => row(f).map(csvField).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}
