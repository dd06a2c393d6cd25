/**
 * JSON schemas shared by the routes. Fastify validates requests and serializes responses with them,
 * and @fastify/swagger turns them into the OpenAPI document at /api/openapi.json.
 */
export const errorSchema = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

export const nullableString = { type: ['string', 'null'] } as const;
export const dateTime = { type: 'string', format: 'date-time' } as const;
export const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
/** A free-form JSON value kept as evidence (protection settings, scan errors). */
export const anyJson = {} as const;

export const scanProblemSchema = {
  type: 'object',
  properties: { repository: nullableString, code: { type: 'string' }, message: { type: 'string' } },
} as const;

export const scanSchema = {
  type: 'object',
  required: ['id', 'target', 'status', 'startedAt'],
  properties: {
    id: { type: 'integer' },
    target: { type: 'string' },
    status: { type: 'string', enum: ['running', 'succeeded', 'partial', 'failed', 'aborted'] },
    startedAt: dateTime,
    finishedAt: nullableDateTime,
    repositories: { type: 'integer' },
    tags: { type: 'integer' },
    events: {
      type: ['object', 'null'],
      properties: { created: { type: 'integer' }, moved: { type: 'integer' }, deleted: { type: 'integer' }, restored: { type: 'integer' } },
    },
    errors: { type: 'array', items: scanProblemSchema },
    warnings: { type: 'array', items: scanProblemSchema },
    runner: nullableString,
    scope: { type: ['array', 'null'], items: { type: 'string' }, description: 'the repositories a scan triggered by push events was limited to; null: the whole target' },
  },
} as const;

export const findingSchema = {
  type: 'object',
  required: ['id', 'type', 'severity', 'status', 'target', 'summary'],
  properties: {
    id: { type: 'integer' },
    type: { type: 'string' },
    severity: { type: 'string', enum: ['info', 'low', 'medium', 'high', 'critical'] },
    status: { type: 'string', enum: ['open', 'acknowledged', 'resolved', 'waived'] },
    target: { type: 'string' },
    repository: nullableString,
    tag: nullableString,
    digest: nullableString,
    previousDigest: nullableString,
    summary: { type: 'string' },
    remediation: { type: 'string' },
    firstSeenAt: dateTime,
    lastSeenAt: dateTime,
    statusChangedAt: dateTime,
    statusBy: { type: 'string' },
    statusReason: nullableString,
  },
} as const;

/** Applied to every route under /api: documents the token (see auth.ts). */
export const apiSecurity: Array<Record<string, string[]>> = [{ bearer: [] }, { basic: [] }];
