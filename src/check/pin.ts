/**
 * `--pin`: rewrite tag references to `repo:tag@sha256:…` with the digest the ledger saw in the
 * target's last successful scan.
 *
 * The file text is edited at each reference's source range and nowhere else, so comments, quoting,
 * indentation and key order survive byte for byte (re-serialising a YAML document would reflow it).
 * A YAML reference keeps its quoting style; a Dockerfile reference is replaced on its line.
 * Before anything is written, the rewritten text is read again: it must parse as cleanly as before
 * and every rewritten reference must read back as the pinned one.
 */
import { extractInput, type CheckInput } from './inputs.js';
import { pinnedReference } from './reference.js';
import type { CheckEntry, CheckRun } from './run.js';
import type { ValueStyle } from './sources/types.js';

export type PinStatus = 'pinned' | 'refused' | 'skipped';

export interface PinOutcome {
  file: string;
  line: number;
  column: number;
  reference: string | null;
  status: PinStatus;
  /** The new reference, for `pinned`. */
  pinned: string | null;
  reason: string;
}

export interface PinnedFile {
  input: CheckInput;
  before: string;
  after: string;
}

export interface PinPlan {
  outcomes: PinOutcome[];
  /** Files whose text changes. */
  files: PinnedFile[];
}

interface Edit {
  start: number;
  end: number;
  text: string;
  value: string;
}

export function planPins(run: CheckRun): PinPlan {
  const outcomes: PinOutcome[] = [];
  const edits = new Map<CheckInput, Map<number, Edit>>();
  for (const entry of run.entries) {
    if (!entry.site) continue;
    const outcome = decide(entry, run.unreadable.has(entry.input));
    outcomes.push(outcome.result);
    if (outcome.edit) {
      const forFile = edits.get(entry.input) ?? new Map<number, Edit>();
      // An alias and its anchor share one range: one edit.
      forFile.set(outcome.edit.start, outcome.edit);
      edits.set(entry.input, forFile);
    }
  }

  const files: PinnedFile[] = [];
  for (const [input, byStart] of edits) {
    const list = [...byStart.values()].sort((a, b) => b.start - a.start);
    let after = input.text;
    for (const e of list) after = after.slice(0, e.start) + e.text + after.slice(e.end);
    verify(input, after, list);
    if (after !== input.text) files.push({ input, before: input.text, after });
  }
  return { outcomes, files };
}

function decide(entry: CheckEntry, fileUnreadable: boolean): { result: PinOutcome; edit?: Edit } {
  const site = entry.site!;
  const base = { file: entry.result.file, line: site.line, column: site.column, reference: site.error ? null : site.value, pinned: null };
  const skip = (reason: string) => ({ result: { ...base, status: 'skipped' as const, reason } });
  const refuse = (reason: string) => ({ result: { ...base, status: 'refused' as const, reason } });

  if (site.error || site.unresolved || !entry.parsed?.ok) return skip(entry.result.reason);
  const ref = entry.parsed.reference;
  if (ref.digest) return skip('already pinned by digest');
  const match = entry.match;
  if (!match) return skip(`not audited: no ledger target covers ${ref.registry}/${ref.path}`);
  const pin = match.tag?.pin;
  if (!pin) return refuse('the ledger has no tag to pin');
  if ('refused' in pin) return refuse(pin.refused);
  if (fileUnreadable) return refuse('the file has a YAML syntax error; it is not rewritten');
  if (!site.range || !site.style) return refuse('written as a block scalar or split over lines; cannot be rewritten in place');
  const value = pinnedReference(ref, pin.digest);
  return {
    result: { ...base, status: 'pinned', pinned: value, reason: `target ${match.repository.targetId}: ${match.repository.name}:${ref.tag ?? 'latest'} as of scan #${pin.scanId}` },
    edit: { start: site.range[0], end: site.range[1], text: render(value, site.style), value },
  };
}

function render(value: string, style: ValueStyle): string {
  switch (style) {
    case 'single-quoted':
      return `'${value}'`;
    case 'double-quoted':
      return `"${value}"`;
    case 'plain':
    case 'dockerfile':
      return value;
  }
}

/** Reads the rewritten text back; a rewrite that would break the file is an internal error, never written. */
function verify(input: CheckInput, after: string, edits: Edit[]): void {
  const before = extractInput(input);
  const again = extractInput({ ...input, text: after });
  if (again.syntaxErrors !== before.syntaxErrors || again.sites.length !== before.sites.length) {
    throw new Error(`pinning ${input.file} would change how it parses; nothing was written`);
  }
  const values = new Set(again.sites.map((s) => s.value));
  for (const e of edits) {
    if (!values.has(e.value)) throw new Error(`pinning ${input.file}: ${e.value} does not read back; nothing was written`);
  }
}
