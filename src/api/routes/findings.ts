/** `GET /api/v1/findings?status=&severity=&type=&target=` and acknowledge / resolve. */
import type { FastifyInstance } from 'fastify';
import { findingsPage } from '../../store/queries/browse.js';
import { findingJson, setFindingStatus } from '../../store/queries/findings.js';
import { severities, type Severity } from '../../notifiers/types.js';
import { apiSecurity, errorSchema, findingSchema } from '../schemas.js';
import { decodeCursor, encodeCursor, pageQuery, pageResponse } from '../pagination.js';
import type { ApiDependencies } from '../server.js';

const STATUSES = ['open', 'acknowledged', 'resolved', 'waived'];


/** Recorded as who changed a finding's status through the API. */
export const API_ACTOR = 'api';


export async function findingRoutes(app: FastifyInstance, deps: ApiDependencies): Promise<void> {
  app.get<{ Querystring: { status?: string; severity?: Severity; type?: string; target?: string; cursor?: string; limit: number } }>(
    '/api/v1/findings',
    {
      schema: {
        tags: ['findings'],
        summary: 'findings, newest first',
        security: apiSecurity,
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', description: `comma-separated: ${STATUSES.join(', ')} (default: all)` },
            severity: { type: 'string', enum: [...severities], description: 'at least this severity' },
            type: { type: 'string', description: 'finding type, e.g. tag.moved' },
            target: { type: 'string' },
            ...pageQuery,
          },
        },
        response: { 200: pageResponse(findingSchema), 400: errorSchema },
      },
    },
    async (req, reply) => {
      const status = req.query.status?.split(',').map((s) => s.trim());
      const bad = status?.filter((s) => !STATUSES.includes(s));
      if (bad?.length) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `status "${bad.join(',')}" is not one of ${STATUSES.join(', ')}` });
      const page = await findingsPage(deps.db, {
        status,
        minSeverity: req.query.severity,
        type: req.query.type,
        targetId: req.query.target,
        after: decodeCursor('findings', req.query.cursor, 'number'),
        limit: req.query.limit,
      });
      return { items: page.items.map(findingJson), nextCursor: page.next === null ? null : encodeCursor('findings', page.next) };
    },
  );

  for (const [action, status] of [
    ['acknowledge', 'acknowledged'],
    ['resolve', 'resolved'],
  ] as const) {
    app.post<{ Params: { id: number }; Body: { reason: string } }>(
      `/api/v1/findings/:id/${action}`,
      {
        schema: {
          tags: ['findings'],
          summary: `${action} a finding (who = "${API_ACTOR}", with the reason)`,
          security: apiSecurity,
          params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } },
          body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, pattern: '\\S' } } },
          response: { 200: findingSchema, 404: errorSchema },
        },
      },
      async (req, reply) => {
        const row = await setFindingStatus(deps.db, { id: req.params.id, status, by: API_ACTOR, reason: req.body.reason.trim(), now: new Date() });
        if (!row) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no finding with id ${req.params.id}` });
        req.log.info({ finding: row.id, status, by: API_ACTOR }, `finding ${status}`);
        return findingJson(row);
      },
    );
  }
}
