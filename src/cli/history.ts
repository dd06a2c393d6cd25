/** `tagledger history TARGET/REPOSITORY:TAG [--at ISO8601]`. */
import type { Database } from '../store/db.js';
import { digestAt, findRepository, tagHistory } from '../store/queries/history.js';
import { UsageError } from './exit.js';
import { table } from './format.js';

export interface TagRef {
  target: string;
  repository: string;
  tag: string;
}

/** `target/repo/path:tag` — the target is the first segment, the tag follows the last `:`. */
export function parseTagRef(ref: string): TagRef {
  const slash = ref.indexOf('/');
  const colon = ref.lastIndexOf(':');
  if (slash <= 0 || colon <= slash + 1 || colon === ref.length - 1) {
    throw new UsageError(`"${ref}" is not TARGET/REPOSITORY:TAG (for example local/app:latest)`);
  }
  return { target: ref.slice(0, slash), repository: ref.slice(slash + 1, colon), tag: ref.slice(colon + 1) };
}

export function parseInstant(value: string): Date {
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) throw new UsageError(`--at "${value}" is not an ISO 8601 date or time (for example 2026-03-03 or 2026-03-03T12:00:00Z)`);
  return d;
}

export async function historyCommand(db: Database, ref: TagRef, opts: { at?: Date; json?: boolean }): Promise<string> {
  const repo = await findRepository(db, { targetId: ref.target, repository: ref.repository });
  if (!repo) throw new UsageError(`no repository "${ref.repository}" recorded for target "${ref.target}"`);
  if (opts.at) {
    const at = await digestAt(db, { targetId: ref.target, repository: ref.repository, tag: ref.tag, at: opts.at });
    if (opts.json) return JSON.stringify({ digest: at.digest, observedAt: at.observedAt?.toISOString() ?? null });
    if (!at.digest) return `${ref.target}/${ref.repository}:${ref.tag} did not exist at ${opts.at.toISOString()} (as far as tagledger observed)`;
    return `${ref.target}/${ref.repository}:${ref.tag} at ${opts.at.toISOString()}: ${at.digest} (last observed ${at.observedAt?.toISOString()})`;
  }
  const events = await tagHistory(db, { targetId: ref.target, repository: ref.repository, tag: ref.tag });
  if (opts.json) {
    return JSON.stringify({
      target: ref.target,
      repository: ref.repository,
      tag: ref.tag,
      events: events.map((e) => ({ kind: e.kind, digest: e.digest, previousDigest: e.previousDigest, observedAt: e.observedAt.toISOString(), scanId: e.scanId })),
    });
  }
  if (events.length === 0) return `no history for tag "${ref.tag}" in ${ref.target}/${ref.repository}`;
  return `${ref.target}/${ref.repository}:${ref.tag}\n${table(
    ['observed at', 'event', 'digest', 'previous digest', 'protection'],
    events.map((e) => [e.observedAt.toISOString(), e.kind, e.digest ?? '-', e.previousDigest ?? '-', e.protectionReason]),
  )}`;
}
