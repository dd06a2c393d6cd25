/**
 * `GET /api/v1/targets`: configured targets (active) and targets only the database remembers
 * (inactive: removed from the config, history kept, never scanned or alerted on again; re-adding
 * the same id continues the history).
 */
import type { FastifyInstance } from 'fastify';
import { storedTargets } from '../../store/queries/browse.js';
import { DEFAULT_SCHEDULE, DEFAULT_JITTER } from '../../scheduler/cron.js';
import { apiSecurity, dateTime, nullableDateTime, nullableString } from '../schemas.js';
import { decodeCursor, encodeCursor, pageQuery, pageResponse } from '../pagination.js';
import type { ApiDependencies } from '../server.js';

const targetSchema = {
  type: 'object',
  required: ['id', 'kind', 'active'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string' },
    active: { type: 'boolean', description: 'in the current config (inactive targets keep their history)' },
    schedule: nullableString,
    jitter: nullableString,
    firstSeenAt: nullableDateTime,
    lastScan: {
      type: ['object', 'null'],
      properties: { id: { type: 'integer' }, status: { type: 'string' }, startedAt: dateTime, finishedAt: nullableDateTime },
    },
  },
} as const;

export async function targetRoutes(app: FastifyInstance, deps: ApiDependencies): Promise<void> {
  app.get<{ Querystring: { cursor?: string; limit: number } }>(
    '/api/v1/targets',
    {
      schema: {
        tags: ['targets'],
        summary: 'configured and remembered targets',
        security: apiSecurity,
        querystring: { type: 'object', properties: { ...pageQuery } },
        response: { 200: pageResponse(targetSchema) },
      },
    },
    async (req) => {
      const after = decodeCursor('targets', req.query.cursor, 'string');
      const stored = new Map((await storedTargets(deps.db)).map((t) => [t.id, t]));
      const configured = new Map(deps.targets.map((t) => [t.id, t]));
      const ids = [...new Set([...configured.keys(), ...stored.keys()])].sort();
      const rows = ids
        .filter((id) => after === undefined || id > after)
        .map((id) => {
          const c = configured.get(id);
          const s = stored.get(id);
          return {
            id,
            kind: c?.kind ?? s!.kind,
            active: Boolean(c),
            schedule: c ? (c.schedule ?? DEFAULT_SCHEDULE) : null,
            jitter: c ? (c.jitter ?? DEFAULT_JITTER) : null,
            firstSeenAt: s?.firstSeenAt.toISOString() ?? null,
            lastScan: s?.lastScan
              ? { id: s.lastScan.id, status: s.lastScan.status, startedAt: s.lastScan.startedAt.toISOString(), finishedAt: s.lastScan.finishedAt?.toISOString() ?? null }
              : null,
          };
        });
      const items = rows.slice(0, req.query.limit);
      return { items, nextCursor: rows.length > items.length ? encodeCursor('targets', items[items.length - 1].id) : null };
    },
  );
}
