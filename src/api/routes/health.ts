/** `/healthz`, `/readyz` and `/metrics`: never behind the token (probes and scrapers have none). */
import type { FastifyInstance } from 'fastify';
import { isMigrated } from '../../store/db.js';
import type { ApiDependencies } from '../server.js';

const statusSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' }, reason: { type: 'string' } },
} as const;

export async function healthRoutes(app: FastifyInstance, deps: ApiDependencies): Promise<void> {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'the process is alive', response: { 200: statusSchema } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { schema: { tags: ['health'], summary: 'the database is reachable and migrated, and the process is not shutting down', response: { 200: statusSchema, 503: statusSchema } } },
    async (_req, reply) => {
      if (deps.accepting && !deps.accepting()) return reply.code(503).send({ status: 'not ready', reason: 'shutting down' });
      const migrated = await withTimeout(isMigrated(deps.db), 5_000).catch(() => false);
      if (!migrated) return reply.code(503).send({ status: 'not ready', reason: 'database unreachable or not migrated' });
      return { status: 'ready' };
    },
  );

  app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics (text exposition format)', produces: ['text/plain'] } }, async (_req, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.header('Content-Type', deps.metrics.registry.contentType).send(text);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]).finally(() => clearTimeout(timer));
}
