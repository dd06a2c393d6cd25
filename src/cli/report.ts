/**
 * `tagledger report`: one report model (src/reports/model.ts), rendered as a terminal table, JSON,
 * CSV, SARIF or a self-contained HTML file, on stdout or into `--output`. With `--fail-on` it exits
 * 1 when an open, unacknowledged finding at or above that severity exists for the reported targets.
 */
import { writeFileSync } from 'node:fs';
import type { Database } from '../store/db.js';
import { countOpenAtLeast } from '../store/queries/findings.js';
import { buildReportModel, storedTargetIds, type ReportModel } from '../reports/model.js';
import { renderTable } from '../reports/table.js';
import { renderJson } from '../reports/json.js';
import { renderCsv } from '../reports/csv.js';
import { renderSarif } from '../reports/sarif.js';
import { renderHtml } from '../reports/html.js';
import { parseSeverity } from './findings.js';
import { ExitCode, UsageError } from './exit.js';
import { useColor } from './format.js';

export const REPORT_FORMATS = ['table', 'json', 'csv', 'sarif', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportCommandOptions {
  format?: string;
  output?: string;
  target?: string[];
  severity?: string;
  failOn?: string;
}

export interface ReportIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WritableStream;
  now?: Date;
}

export function render(model: ReportModel, format: ReportFormat, color: boolean): string {
  switch (format) {
    case 'table':
      return `${renderTable(model, { color })}\n`;
    case 'json':
      return renderJson(model);
    case 'csv':
      return renderCsv(model);
    case 'sarif':
      return renderSarif(model);
    case 'html':
      return renderHtml(model);
  }
}

/** Runs the command and returns its exit code. */
export async function reportCommand(db: Database, opts: ReportCommandOptions, io: ReportIo): Promise<number> {
  const format = (opts.format ?? 'table') as ReportFormat;
  if (!REPORT_FORMATS.includes(format)) throw new UsageError(`--format "${opts.format}" is not one of ${REPORT_FORMATS.join(', ')}`);
  const minSeverity = parseSeverity(opts.severity, '--severity');
  const failOn = parseSeverity(opts.failOn, '--fail-on');
  if (opts.target?.length) {
    const known = await storedTargetIds(db);
    const unknown = opts.target.filter((t) => !known.includes(t));
    if (unknown.length) {
      throw new UsageError(`--target ${unknown.map((t) => `"${t}"`).join(', ')}: no such target in the database (known: ${known.join(', ') || 'none'})`);
    }
  }

  const model = await buildReportModel(db, { targets: opts.target, minSeverity, now: io.now });
  const text = render(model, format, !opts.output && format === 'table' && useColor(io.stdout));
  if (opts.output) {
    writeFileSync(opts.output, text);
    io.stdout.write(`report written to ${opts.output} (${format}: ${model.findings.length} findings, ${model.repositories.length} repositories)\n`);
  } else {
    io.stdout.write(text);
  }

  if (!failOn) return ExitCode.ok;
  const open = await countOpenAtLeast(db, failOn, opts.target);
  if (open === 0) return ExitCode.ok;
  // stderr: stdout may be a JSON, CSV or SARIF document that a pipeline reads.
  io.stderr.write(`${open} open finding(s) at or above ${failOn} (tagledger findings list --severity ${failOn})\n`);
  return ExitCode.findings;
}
