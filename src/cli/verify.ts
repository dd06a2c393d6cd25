/** `tagledger verify` and `tagledger evidence`. */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Database } from '../store/db.js';
import { verifyLedger } from '../store/queries/chain.js';
import { buildEvidence } from '../store/queries/evidence.js';
import { verifyBundle, type EvidenceBundle } from '../audit/evidence.js';
import { ExitCode, UsageError } from './exit.js';
import { table } from './format.js';
import type { TagRef } from './history.js';

export async function verifyCommand(db: Database, opts: { target?: string; json?: boolean }): Promise<{ text: string; code: number }> {
  const r = await verifyLedger(db, { targetId: opts.target });
  const code = r.breaks.length ? ExitCode.findings : ExitCode.ok;
  if (opts.json) return { text: JSON.stringify({ intact: r.breaks.length === 0, repositories: r.repositories, events: r.events, scans: r.scans, breaks: r.breaks }), code };
  if (!r.breaks.length) return { text: `intact: ${r.events} events in ${r.repositories} repository chains and ${r.scans} scan roots verified`, code };
  return {
    text: `BROKEN: ${r.breaks.length} chain(s) or root(s) do not verify\n${table(
      ['table', 'row', 'target', 'repository', 'problem', 'expected', 'found'],
      r.breaks.map((b) => [b.table, b.rowId, b.target, b.repository ?? '-', b.reason, b.expected ?? '-', b.found ?? '-']),
    )}`,
    code,
  };
}

export function verifyBundleFile(file: string, json: boolean): { text: string; code: number } {
  let bundle: EvidenceBundle;
  try {
    bundle = JSON.parse(readFileSync(file, 'utf8')) as EvidenceBundle;
  } catch (err) {
    throw new UsageError(`cannot read evidence bundle ${file}: ${err instanceof SyntaxError ? 'not valid JSON' : ((err as NodeJS.ErrnoException).code ?? String(err))}`);
  }
  const check = verifyBundle(bundle);
  const code = check.ok ? ExitCode.ok : ExitCode.findings;
  if (json) return { text: JSON.stringify(check), code };
  if (check.ok) {
    const s = bundle.subject;
    return {
      text: `bundle verifies: ${s.target}/${s.repository}:${s.tag} pointed to ${bundle.claim.digest ?? 'nothing'}${s.at ? ` at ${s.at}` : ''} (${check.tagEvents} tag events in a chain of ${check.events}, ${check.roots} scan roots)`,
      code,
    };
  }
  return { text: `bundle does NOT verify:\n${check.problems.map((p) => `  - ${p}`).join('\n')}`, code };
}

export async function evidenceCommand(db: Database, ref: TagRef, opts: { at?: Date; output: string }): Promise<string> {
  const bundle = await buildEvidence(db, { targetId: ref.target, repository: ref.repository, tag: ref.tag, at: opts.at ?? null, now: new Date() });
  if (!bundle) throw new UsageError(`no repository "${ref.repository}" recorded for target "${ref.target}"`);
  writeFileSync(opts.output, `${JSON.stringify(bundle, null, 2)}\n`);
  return `wrote ${opts.output}: ${ref.target}/${ref.repository}:${ref.tag} → ${bundle.claim.digest ?? 'nothing'} (${bundle.chain.length} chain events, ${bundle.scanRoots.length} scan roots); check it with tagledger verify --bundle ${opts.output}`;
}
