/** `GET /api/v1/repositories?target=&protected=`. */
import type { FastifyInstance } from 'fastify';
import { repositoriesPage } from '../../store/queries/browse.js';
import { anyJson, apiSecurity, dateTime, errorSchema, nullableDateTime } from '../schemas.js';
import { decodeCursor, encodeCursor, pageQuery, pageResponse } from '../pagination.js';
import type { ApiDependencies } from '../server.js';

const repositorySchema = {
  type: 'object',
  required: ['id', 'target', 'name', 'protected', 'tags', 'unprotectedTags'],
  properties: {
    id: { type: 'integer' },
    target: { type: 'string' },
    name: { type: 'string' },
    pullReference: { type: 'string' },
    protected: { type: 'boolean', description: 'the repository has tags and the registry protects every present one' },
    tags: { type: 'integer', description: 'present tags' },
    unprotectedTags: { type: 'integer', description: 'present tags the registry lets be overwritten' },
    protection: { ...anyJson, description: 'normalised protection settings' },
    firstSeenAt: dateTime,
    lastSeenAt: nullableDateTime,
    goneAt: nullableDateTime,
  },
} as const;

export async function repositoryRoutes(app: FastifyInstance, deps: ApiDependencies): Promise<void> {
  app.get<{ Querystring: { target?: string; protected?: boolean; cursor?: string; limit: number } }>(
    '/api/v1/repositories',
    {
      schema: {
        tags: ['repositories'],
        summary: 'repositories with their tag protection',
        security: apiSecurity,
        querystring: {
          type: 'object',
          properties: {
            target: { type: 'string' },
            protected: { type: 'boolean', description: 'true: fully protected repositories; false: the others' },
            ...pageQuery,
          },
        },
        response: { 200: pageResponse(repositorySchema), 400: errorSchema },
      },
    },
    async (req) => {
      const page = await repositoriesPage(deps.db, {
        targetId: req.query.target,
        protected: req.query.protected,
        after: decodeCursor('repositories', req.query.cursor, 'number'),
        limit: req.query.limit,
      });
      return {
        items: page.items.map((r) => ({
          id: r.id,
          target: r.targetId,
          name: r.name,
          pullReference: r.pullReference,
          protected: r.tags > 0 && r.unprotectedTags === 0,
          tags: r.tags,
          unprotectedTags: r.unprotectedTags,
          protection: r.protection,
          firstSeenAt: r.firstSeenAt.toISOString(),
          lastSeenAt: r.lastSeenAt?.toISOString() ?? null,
          goneAt: r.goneAt?.toISOString() ?? null,
        })),
        nextCursor: page.next === null ? null : encodeCursor('repositories', page.next),
      };
    },
  );
}
