/** `tagledger findings list|ack|resolve`. */
import { hostname, userInfo } from 'node:os';
import type { Database } from '../store/db.js';
import { findingJson, listFindings, setFindingStatus, type FindingStatus } from '../store/queries/findings.js';
import { severities, type Severity } from '../notifiers/types.js';
import { UsageError } from './exit.js';
import { table } from './format.js';

const STATUSES: FindingStatus[] = ['open', 'acknowledged', 'resolved', 'waived'];

export function parseSeverity(value: string | undefined, option: string): Severity | undefined {
  if (value === undefined) return undefined;
  if (!(severities as readonly string[]).includes(value)) throw new UsageError(`${option} "${value}" is not one of ${severities.join(', ')}`);
  return value as Severity;
}

export function parseStatuses(value: string | undefined): FindingStatus[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(',').map((s) => s.trim());
  const bad = list.filter((s) => !(STATUSES as string[]).includes(s));
  if (bad.length) throw new UsageError(`--status "${bad.join(',')}" is not one of ${STATUSES.join(', ')}`);
  return list as FindingStatus[];
}

export function whoAmI(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}

export async function findingsList(db: Database, opts: { status?: string; severity?: string; target?: string; type?: string; json?: boolean }): Promise<string> {
  const rows = await listFindings(db, {
    status: parseStatuses(opts.status ?? 'open,acknowledged'),
    minSeverity: parseSeverity(opts.severity, '--severity'),
    targetId: opts.target,
    type: opts.type,
  });
  if (opts.json) {
    return JSON.stringify({ findings: rows.map(findingJson) });
  }
  if (!rows.length) return 'no findings match';
  return table(
    ['id', 'severity', 'status', 'type', 'target', 'summary'],
    rows.map((f) => [f.id, f.severity, f.status, f.type, f.targetId, f.summary.length > 140 ? `${f.summary.slice(0, 139)}…` : f.summary]),
  );
}

export async function findingsSetStatus(db: Database, id: string, status: 'acknowledged' | 'resolved', reason: string | undefined): Promise<string> {
  const n = Number(id);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`"${id}" is not a finding id`);
  if (!reason?.trim()) throw new UsageError('--reason is required: say why');
  const row = await setFindingStatus(db, { id: n, status, by: whoAmI(), reason, now: new Date() });
  if (!row) throw new UsageError(`no finding with id ${n}`);
  return `finding ${n} ${status} by ${row.statusBy}: ${reason}`;
}
