/** `tagledger check PATH... [--format table|json|sarif] [--fail-on SEVERITY] [--moved-within 30d] [--pin [--dry-run]]`. */
import { writeFileSync } from 'node:fs';
import type { Database } from '../store/db.js';
import type { Config } from '../config/schema.js';
import { parseDuration } from '../config/common.js';
import type { Severity } from '../notifiers/types.js';
import { collectInputs, CheckInputError, type CheckInput } from '../check/inputs.js';
import { runCheck } from '../check/run.js';
import type { PullHosts } from '../check/ledger.js';
import { severityAtLeast } from '../check/verdict.js';
import { checkJson, pinJson, renderCheckTable, renderPinTable } from '../check/output.js';
import { checkSarif } from '../check/sarif.js';
import { planPins } from '../check/pin.js';
import { unifiedDiff } from '../check/diff.js';
import { ExitCode, UsageError } from './exit.js';
import { parseSeverity } from './findings.js';
import { version } from './version.js';

export type CheckFormat = 'table' | 'json' | 'sarif';

export interface CheckCliOptions {
  format: CheckFormat;
  failOn?: string;
  movedWithin: string;
  pin?: boolean;
  dryRun?: boolean;
}

export interface ParsedCheckOptions {
  format: CheckFormat;
  failOn: Severity | undefined;
  movedWithin: { ms: number; label: string };
  pin: boolean;
  dryRun: boolean;
}

export function parseCheckOptions(opts: CheckCliOptions): ParsedCheckOptions {
  if (!/^\d+(ms|s|m|h|d)$/.test(opts.movedWithin)) throw new UsageError(`--moved-within "${opts.movedWithin}" must be a duration like 30d, 12h or 90m`);
  if (opts.dryRun && !opts.pin) throw new UsageError('--dry-run goes with --pin');
  if (opts.pin && opts.format === 'sarif') throw new UsageError('--format sarif reports findings; use table or json with --pin');
  if (opts.pin && opts.failOn !== undefined) throw new UsageError('--fail-on applies to checking; with --pin the exit code says whether a pin was refused');
  return {
    format: opts.format,
    failOn: parseSeverity(opts.failOn, '--fail-on'),
    movedWithin: { ms: parseDuration(opts.movedWithin), label: opts.movedWithin },
    pin: Boolean(opts.pin),
    dryRun: Boolean(opts.dryRun),
  };
}

export async function readCheckInputs(paths: string[], stdin: NodeJS.ReadableStream): Promise<CheckInput[]> {
  try {
    return await collectInputs(paths, () => readAll(stdin));
  } catch (err) {
    if (err instanceof CheckInputError) throw new UsageError(err.message);
    throw err;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export function pullHostsOf(config: Config): PullHosts {
  const out: PullHosts = {};
  for (const t of config.targets) if (t.pullHosts?.length) out[t.id] = t.pullHosts;
  return out;
}

/** Where output goes; text is written as given. */
export interface CheckIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const line = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);

/** Runs the check (or the pins) and returns the exit code. */
export async function checkCommand(db: Database, config: Config, inputs: CheckInput[], opts: ParsedCheckOptions, io: CheckIo): Promise<number> {
  if (!inputs.length) io.stderr(line('no Kubernetes manifests, Compose files or Dockerfiles found (folders are searched for *.yaml, *.yml, Dockerfile*, *.Dockerfile)'));
  const run = await runCheck(db, inputs, { movedWithin: opts.movedWithin, pullHosts: pullHostsOf(config) });

  if (!opts.pin) {
    if (opts.format === 'json') io.stdout(line(checkJson(run, opts.movedWithin.label)));
    else if (opts.format === 'sarif') io.stdout(line(JSON.stringify(checkSarif(run, { version }), null, 2)));
    else io.stdout(line(renderCheckTable(run, opts.movedWithin.label)));
    const failOn = opts.failOn;
    if (failOn && run.entries.some((e) => severityAtLeast(e.result.severity, failOn))) return ExitCode.findings;
    return ExitCode.ok;
  }

  const plan = planPins(run);
  const refused = plan.outcomes.some((o) => o.status === 'refused');
  const summary = () => (opts.format === 'json' ? pinJson(plan, { dryRun: opts.dryRun }) : renderPinTable(plan, { dryRun: opts.dryRun }));
  if (opts.dryRun) {
    const diff = plan.files
      .map((f) => (f.input.path === null ? unifiedDiff(f.before, f.after, { from: '-', to: '-' }) : unifiedDiff(f.before, f.after, { from: `a/${f.input.file}`, to: `b/${f.input.file}` })))
      .join('');
    // The diff alone on stdout, so it can go straight to `patch -p1` or `git apply`.
    if (opts.format === 'json') io.stdout(line(JSON.stringify({ ...JSON.parse(pinJson(plan, { dryRun: true })), diff })));
    else {
      if (diff) io.stdout(diff);
      io.stderr(line(summary()));
    }
    return refused ? ExitCode.findings : ExitCode.ok;
  }

  const stdinFile = plan.files.find((f) => f.input.path === null);
  for (const f of plan.files) if (f.input.path !== null) writeFileSync(f.input.path, f.after);
  const stdinInput = inputs.find((i) => i.path === null);
  if (stdinInput) {
    // Pinning stdin is a filter: the pinned text goes to stdout, the summary to stderr.
    io.stdout(stdinFile ? stdinFile.after : stdinInput.text);
    io.stderr(line(summary()));
  } else {
    io.stdout(line(summary()));
  }
  return refused ? ExitCode.findings : ExitCode.ok;
}
