/**
 * Push events in: `POST /api/v1/events/{harbor,ecr,gar}/{target}`, and the record of them,
 * `GET /api/v1/push-events`.
 *
 * The POST routes are NOT behind the API token: a registry cannot be given it, and should not be.
 * Each is authenticated by its target's own `events.secret` instead (server.ts skips its token check
 * for routes marked `pushEvents` in their config, and the route's own onRequest hook checks the
 * secret before the body is read). Deliveries for targets that take no such events are acknowledged
 * (202) and ignored, without reading the body.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDependencies } from '../server.js';
import { apiSecurity, errorSchema, nullableString } from '../schemas.js';
import { decodeCursor, encodeCursor, pageQuery, pageResponse } from '../pagination.js';
import { InvalidPushEventError, pushSources, type PushSource } from '../../events/types.js';
import { secretPresented, type EventTarget } from '../../events/receiver.js';
import { pushEventsPage, pushEventStatuses, type PushEventRow } from '../../store/queries/push-events.js';

/** The largest delivery taken: a Harbor, EventBridge or Pub/Sub event is a few hundred bytes to a few KiB. */
export const PUSH_EVENT_BODY_LIMIT = 64 * 1024;
export const PUSH_EVENT_KEY_HEADER = 'x-tagledger-key';
/** Marks a delivery as a test (`tagledger events test`): authenticated and read, never recorded or scanned. */
export const PUSH_EVENT_TEST_HEADER = 'x-tagledger-test';

/** Route config flag: server.ts's token check skips these routes (they check their target's secret). */
export interface PushEventRouteConfig {
  pushEvents?: true;
  pushSource?: PushSource;
}

declare module 'fastify' {
  interface FastifyContextConfig extends PushEventRouteConfig {}
}

const intakeSchema = {
  type: 'object',
  required: ['result', 'reason', 'events'],
  properties: {
    result: { type: 'string', enum: ['accepted', 'duplicate', 'ignored', 'test'] },
    reason: nullableString,
    events: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: ['integer', 'null'] },
          repository: { type: 'string' },
          tag: nullableString,
          digest: nullableString,
          action: { type: 'string', enum: ['push', 'delete'] },
          status: { type: 'string' },
          note: nullableString,
        },
      },
    },
  },
} as const;

const DESCRIPTIONS: Record<PushSource, { summary: string; description: string; security: Array<Record<string, string[]>> }> = {
  harbor: {
    summary: 'a Harbor webhook (notify type http)',
    description:
      'Body: a Harbor webhook payload (PUSH_ARTIFACT, DELETE_ARTIFACT, DELETE_TAG; other types are acknowledged and ignored). Authenticated by the policy\'s auth_header, sent by Harbor as the Authorization header, equal to the target\'s events.secret (or `Bearer <secret>`).',
    security: [{ eventAuthorization: [] }, { eventKey: [] }],
  },
  ecr: {
    summary: 'an "ECR Image Action" event from an EventBridge API destination',
    description: 'Body: the EventBridge event as emitted (no input transformer). Authenticated by the connection\'s API key: header X-Tagledger-Key equal to the target\'s events.secret.',
    security: [{ eventKey: [] }, { eventAuthorization: [] }],
  },
  gar: {
    summary: 'an Artifact Registry notification from a Pub/Sub push subscription (topic gcr)',
    description: 'Body: the Pub/Sub push message; its data is Artifact Registry\'s {action, digest, tag}. Authenticated by ?token= on the push endpoint (or X-Tagledger-Key) equal to the target\'s events.secret.',
    security: [{ eventToken: [] }, { eventKey: [] }, { eventAuthorization: [] }],
  },
};

const header = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

export async function pushEventRoutes(app: FastifyInstance, deps: ApiDependencies): Promise<void> {
  await app.register(async (scope) => {
    // The body is kept as received: its sha256 is recorded, and each source's parser reads it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: PUSH_EVENT_BODY_LIMIT }, (_req, body, done) => done(null, body));
    scope.decorateRequest('pushEventTarget', null);

    scope.setErrorHandler((err: FastifyError, req, reply) => {
      const source = req.routeOptions.config.pushSource;
      const status = err.statusCode ?? 500;
      if (status === 413) {
        if (source) deps.metrics.recordPushEvent(source, 'too_large');
        return reply.code(413).send({ statusCode: 413, error: 'Payload Too Large', message: `the body is larger than ${PUSH_EVENT_BODY_LIMIT} bytes` });
      }
      if (status < 500) {
        if (source) deps.metrics.recordPushEvent(source, 'invalid');
        return reply.code(status).send({ statusCode: status, error: 'Bad Request', message: err.message });
      }
      req.log.error({ err: err.message, url: req.url.split('?')[0] }, 'push event failed');
      return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'internal error (see the server log)' });
    });

    for (const source of pushSources) {
      const doc = DESCRIPTIONS[source];
      scope.post<{ Params: { target: string }; Querystring: { token?: string } }>(
        `/api/v1/events/${source}/:target`,
        {
          bodyLimit: PUSH_EVENT_BODY_LIMIT,
          config: { pushEvents: true, pushSource: source },
          schema: {
            tags: ['push events'],
            summary: doc.summary,
            description: `${doc.description} Answers 202 once recorded (the repository is scanned after a few quiet seconds), also for deliveries that are acknowledged and ignored; 400 with the reason for a body that is not such an event (nothing recorded); 401 for a wrong or missing secret; 413 above ${PUSH_EVENT_BODY_LIMIT} bytes.`,
            security: doc.security,
            params: { type: 'object', required: ['target'], properties: { target: { type: 'string' } } },
            querystring: source === 'gar' ? { type: 'object', properties: { token: { type: 'string', description: "the target's events.secret" } } } : undefined,
            response: { 202: intakeSchema, 400: errorSchema, 401: errorSchema, 413: errorSchema, 503: errorSchema },
          },
          onRequest: (req, reply) => authenticate(deps, source, req, reply),
        },
        async (req, reply) => {
          const target = (req as FastifyRequest & { pushEventTarget: EventTarget }).pushEventTarget;
          const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
          if (!body.length) {
            deps.metrics.recordPushEvent(source, 'invalid');
            return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: 'the body is empty' });
          }
          try {
            const result = await deps.events!.accept(source, target, body, { test: header(req.headers[PUSH_EVENT_TEST_HEADER])?.toLowerCase() === 'true' });
            deps.metrics.recordPushEvent(source, result.result);
            return reply.code(202).send(result);
          } catch (err) {
            if (err instanceof InvalidPushEventError) {
              deps.metrics.recordPushEvent(source, 'invalid');
              req.log.info({ target: target.id, source, reason: err.message }, 'push event refused: not a valid event');
              return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: err.message });
            }
            throw err;
          }
        },
      );
    }
  });

  app.get<{ Querystring: { target?: string; status?: string; repository?: string; cursor?: string; limit: number } }>(
    '/api/v1/push-events',
    {
      schema: {
        tags: ['push events'],
        summary: 'push events received, newest first',
        security: apiSecurity,
        querystring: {
          type: 'object',
          properties: {
            target: { type: 'string' },
            status: { type: 'string', description: `comma-separated: ${pushEventStatuses.join(', ')}` },
            repository: { type: 'string' },
            ...pageQuery,
          },
        },
        response: { 200: pageResponse(pushEventSchema), 400: errorSchema },
      },
    },
    async (req, reply) => {
      const status = req.query.status?.split(',').map((s) => s.trim());
      const bad = status?.filter((s) => !(pushEventStatuses as readonly string[]).includes(s));
      if (bad?.length) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `status "${bad.join(',')}" is not one of ${pushEventStatuses.join(', ')}` });
      const page = await pushEventsPage(deps.db, {
        targetId: req.query.target,
        status,
        repository: req.query.repository,
        after: decodeCursor('push-events', req.query.cursor, 'number'),
        limit: req.query.limit,
      });
      return { items: page.items.map(pushEventJson), nextCursor: page.next === null ? null : encodeCursor('push-events', page.next) };
    },
  );
}

async function authenticate(deps: ApiDependencies, source: PushSource, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const id = (req.params as { target: string }).target;
  if (!deps.events) {
    return reply.code(503).send({ statusCode: 503, error: 'Service Unavailable', message: 'this server takes no push events' });
  }
  const target = deps.events.target(source, id);
  if (!target) {
    deps.metrics.recordPushEvent(source, 'ignored');
    req.log.warn({ target: id, source, reason: deps.events.whyNot(source, id) }, 'push event acknowledged and ignored: no target takes it');
    return reply.code(202).send({ result: 'ignored', reason: `no target "${id}" takes ${source} events here`, events: [] });
  }
  const presented = {
    authorization: header(req.headers.authorization),
    key: header(req.headers[PUSH_EVENT_KEY_HEADER]),
    token: source === 'gar' ? (req.query as { token?: string }).token : undefined,
  };
  if (!secretPresented(target.events.secret, presented)) {
    deps.metrics.recordPushEvent(source, 'unauthorized');
    const none = !presented.authorization && !presented.key && !presented.token;
    req.log.warn({ target: id, source, presented: none ? 'nothing' : 'a wrong secret' }, 'push event refused: not authenticated');
    return reply.code(401).send({
      statusCode: 401,
      error: 'Unauthorized',
      message: `${none ? 'no secret presented' : 'the secret does not match'}: send targets[].events.secret of "${id}" (${source === 'harbor' ? "Harbor's auth_header, as the Authorization header" : source === 'ecr' ? 'the X-Tagledger-Key header' : '?token= or the X-Tagledger-Key header'})`,
    });
  }
  (req as FastifyRequest & { pushEventTarget: EventTarget }).pushEventTarget = target;
  return undefined;
}

const pushEventSchema = {
  type: 'object',
  required: ['id', 'target', 'source', 'receivedAt', 'repository', 'action', 'status'],
  properties: {
    id: { type: 'integer' },
    target: { type: 'string' },
    source: { type: 'string', enum: [...pushSources] },
    receivedAt: { type: 'string', format: 'date-time' },
    occurredAt: { type: ['string', 'null'], format: 'date-time' },
    eventType: { type: 'string' },
    eventId: nullableString,
    repository: { type: 'string' },
    tag: nullableString,
    digest: nullableString,
    action: { type: 'string', enum: ['push', 'delete'] },
    payloadSha256: { type: 'string' },
    status: { type: 'string', enum: [...pushEventStatuses] },
    scanId: { type: ['integer', 'null'] },
    note: nullableString,
  },
} as const;

export function pushEventJson(r: PushEventRow) {
  return {
    id: r.id,
    target: r.targetId,
    source: r.source,
    receivedAt: r.receivedAt.toISOString(),
    occurredAt: r.occurredAt?.toISOString() ?? null,
    eventType: r.eventType,
    eventId: r.eventId,
    repository: r.repository,
    tag: r.tag,
    digest: r.digest,
    action: r.action,
    payloadSha256: r.payloadSha256,
    status: r.status,
    scanId: r.scanId,
    note: r.note,
  };
}
