/** `GET /api/v1/scans` and `POST /api/v1/scans` (scan a target now). */
import type { FastifyInstance } from 'fastify';
import { scansPage } from '../../store/queries/browse.js';
import type { scans } from '../../store/schema/index.js';
import { TargetBusyError } from '../../scheduler/run-scan.js';
import { SchedulerStoppedError, UnknownTargetError } from '../../scheduler/schedule.js';
import { apiSecurity, errorSchema, scanSchema } from '../schemas.js';
import { decodeCursor, encodeCursor, pageQuery, pageResponse } from '../pagination.js';
import type { ApiDependencies } from '../server.js';

const STATUSES = ['running', 'succeeded', 'partial', 'failed', 'aborted'];

export function scanJson(s: typeof scans.$inferSelect) {
  return {
    id: s.id,
    target: s.targetId,
    status: s.status,
    startedAt: s.startedAt.toISOString(),
    finishedAt: s.finishedAt?.toISOString() ?? null,
    repositories: s.repositories,
    tags: s.tags,
    events: s.events ?? null,
    errors: s.errors,
    warnings: s.warnings,
    runner: s.runner,
    scope: s.scope ?? null,
  };
}

export async function scanRoutes(app: FastifyInstance, deps: ApiDependencies): Promise<void> {
  app.get<{ Querystring: { target?: string; status?: string; cursor?: string; limit: number } }>(
    '/api/v1/scans',
    {
      schema: {
        tags: ['scans'],
        summary: 'scans, newest first',
        security: apiSecurity,
        querystring: {
          type: 'object',
          properties: {
            target: { type: 'string' },
            status: { type: 'string', description: `comma-separated: ${STATUSES.join(', ')}` },
            ...pageQuery,
          },
        },
        response: { 200: pageResponse(scanSchema), 400: errorSchema },
      },
    },
    async (req, reply) => {
      const status = req.query.status?.split(',').map((s) => s.trim());
      const bad = status?.filter((s) => !STATUSES.includes(s));
      if (bad?.length) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `status "${bad.join(',')}" is not one of ${STATUSES.join(', ')}` });
      const page = await scansPage(deps.db, { targetId: req.query.target, status, after: decodeCursor('scans', req.query.cursor, 'number'), limit: req.query.limit });
      return { items: page.items.map(scanJson), nextCursor: page.next === null ? null : encodeCursor('scans', page.next) };
    },
  );

  app.post<{ Body: { target: string } }>(
    '/api/v1/scans',
    {
      schema: {
        tags: ['scans'],
        summary: 'scan a target now',
        description: '202 once the scan has started (its id is in the answer; follow it with GET /api/v1/scans); 409 when the target is being scanned already.',
        security: apiSecurity,
        body: { type: 'object', required: ['target'], additionalProperties: false, properties: { target: { type: 'string', minLength: 1 } } },
        response: {
          202: { type: 'object', required: ['scanId', 'target'], properties: { scanId: { type: 'integer' }, target: { type: 'string' } } },
          404: errorSchema,
          409: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const target = req.body.target;
      if (!deps.scans) return reply.code(503).send({ statusCode: 503, error: 'Service Unavailable', message: 'this server does not run scans' });
      try {
        const { scanId } = await deps.scans.runNow(target);
        return reply.code(202).send({ scanId, target });
      } catch (err) {
        if (err instanceof UnknownTargetError) {
          return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `target "${target}" is not in the config (a removed target is inactive and never scanned again)` });
        }
        if (err instanceof TargetBusyError) return reply.code(409).send({ statusCode: 409, error: 'Conflict', message: `target "${target}" is being scanned already` });
        if (err instanceof SchedulerStoppedError) return reply.code(503).send({ statusCode: 503, error: 'Service Unavailable', message: err.message });
        throw err;
      }
    },
  );
}
