/**
 * `GET /api/v1/tags/{target}/{repository}:{tag}/history`. Repository names contain `/`, so this is
 * a wildcard route: the target is the first segment, the tag follows the LAST `:` (a repository
 * name never contains `:`, a tag never contains `/`; the same rule as `tagledger history`).
 */
import type { FastifyInstance } from 'fastify';
import { tagHistoryPage } from '../../store/queries/browse.js';
import { apiSecurity, dateTime, errorSchema, nullableString } from '../schemas.js';
import { decodeCursor, encodeCursor, pageQuery } from '../pagination.js';
import type { ApiDependencies } from '../server.js';

const eventSchema = {
  type: 'object',
  required: ['kind', 'observedAt', 'scanId'],
  properties: {
    kind: { type: 'string', enum: ['created', 'moved', 'deleted', 'restored'] },
    digest: nullableString,
    previousDigest: nullableString,
    observedAt: dateTime,
    scanId: { type: 'integer' },
    protected: { type: 'boolean', description: 'whether the registry protected the tag when the change was observed' },
    protectionReason: { type: 'string' },
  },
} as const;

export interface TagRef {
  target: string;
  repository: string;
  tag: string;
}

/** `target/repo/sitory:tag` → parts, or null. */
export function parseTagPath(ref: string): TagRef | null {
  const slash = ref.indexOf('/');
  const colon = ref.lastIndexOf(':');
  if (slash <= 0 || colon <= slash + 1 || colon === ref.length - 1) return null;
  const tag = ref.slice(colon + 1);
  if (tag.includes('/')) return null;
  return { target: ref.slice(0, slash), repository: ref.slice(slash + 1, colon), tag };
}

export async function tagRoutes(app: FastifyInstance, deps: ApiDependencies): Promise<void> {
  app.get<{ Params: { '*': string }; Querystring: { cursor?: string; limit: number } }>(
    '/api/v1/tags/*',
    {
      schema: {
        tags: ['tags'],
        summary: "a tag's timeline, oldest first: /api/v1/tags/{target}/{repository}:{tag}/history",
        security: apiSecurity,
        querystring: { type: 'object', properties: { ...pageQuery } },
        response: {
          200: {
            type: 'object',
            required: ['target', 'repository', 'tag', 'items', 'nextCursor'],
            properties: {
              target: { type: 'string' },
              repository: { type: 'string' },
              tag: { type: 'string' },
              items: { type: 'array', items: eventSchema },
              nextCursor: nullableString,
            },
          },
          404: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const rest = req.params['*'];
      const ref = rest.endsWith('/history') ? parseTagPath(rest.slice(0, -'/history'.length)) : null;
      if (!ref) {
        return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'expected /api/v1/tags/{target}/{repository}:{tag}/history' });
      }
      const page = await tagHistoryPage(deps.db, { targetId: ref.target, repository: ref.repository, tag: ref.tag, after: decodeCursor('history', req.query.cursor, 'number'), limit: req.query.limit });
      if (!page.items.length && req.query.cursor === undefined) {
        return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `tagledger never saw ${ref.target}/${ref.repository}:${ref.tag}` });
      }
      return {
        ...ref,
        items: page.items.map((e) => ({
          kind: e.kind,
          digest: e.digest,
          previousDigest: e.previousDigest,
          observedAt: e.observedAt.toISOString(),
          scanId: e.scanId,
          protected: e.protected,
          protectionReason: e.protectionReason,
        })),
        nextCursor: page.next === null ? null : encodeCursor('history', page.next),
      };
    },
  );
}
