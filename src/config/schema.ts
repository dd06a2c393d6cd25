import { z } from 'zod';
import picomatch from 'picomatch';
import { ociTargetSchema } from '../collectors/oci/config.js';
import { notifiersSchema } from '../notifiers/index.js';
import { findingTypes } from '../notifiers/common.js';
import type { FindingType } from '../notifiers/types.js';
import { cronExpressionSchema, durationSchema } from './common.js';
import { parseListen } from '../api/listen.js';
import { ecrTargetSchema } from '../collectors/ecr/config.js';
import { garTargetSchema } from '../collectors/gar/config.js';
import { harborTargetSchema } from '../collectors/harbor/config.js';

/**
 * The whole configuration file. Each kind of target declares its own schema next to its collector;
 * this union is the one place that lists them.
 */
export const targetSchema = z.discriminatedUnion('kind', [ociTargetSchema, ecrTargetSchema, garTargetSchema, harborTargetSchema]);

export const databaseSchema = z
  .object({
    /** PostgreSQL connection URL; empty means unset. */
    url: z.string().optional(),
    /** PGlite data directory (embedded database). */
    path: z.string().min(1).optional(),
  })
  .strict();

const severitySchema = z.enum(['info', 'low', 'medium', 'high', 'critical']);
const findingTypeSchema = z.enum(findingTypes as unknown as [FindingType, ...FindingType[]]);
const globSchema = z.string().min(1).refine((p) => {
  try {
    // debug: throw on a pattern that does not compile, instead of quietly matching nothing.
    picomatch.makeRe(p, { debug: true });
    return true;
  } catch {
    return false;
  }
}, 'must be a valid glob pattern');

export const policySchema = z
  .object({
    /** Tags that must never move. Default: semver-looking tags (1.2.3, v1.2.3, 1.2.3-rc.1). */
    protectedTags: z.array(globSchema).optional(),
    /** Tags expected to move: their moves are info. Default: ["latest"]. */
    movableTags: z.array(globSchema).optional(),
    requireImmutable: z.array(z.object({ target: globSchema, repository: globSchema, severity: severitySchema.optional() }).strict()).optional(),
    ignore: z
      .array(
        z
          .object({
            target: globSchema,
            repository: globSchema,
            tag: globSchema.optional(),
            type: findingTypeSchema.optional(),
            reason: z.string().min(1, 'a waiver needs a reason'),
            // YAML reads an unquoted 2027-06-30 as a date.
            expires: z
              .union([z.string(), z.date()])
              .transform((v) => (v instanceof Date ? v.toISOString().slice(0, 10) : v))
              .refine((v) => !Number.isNaN(new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v).getTime()), 'must be a date like 2027-06-30')
              .optional(),
          })
          .strict(),
      )
      .optional(),
    ignoreSignatureTags: z.boolean().optional(),
    severity: z.partialRecord(findingTypeSchema, severitySchema).optional(),
  })
  .strict();

export const alertsSchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(1000).default(12),
    maxAge: durationSchema.default('24h'),
    backoff: z.object({ initial: durationSchema.default('2s'), max: durationSchema.default('10m') }).strict().default({ initial: '2s', max: '10m' }),
    timeout: durationSchema.default('10s'),
    /** Consecutive failed scans of a target before `target.scan_failed` opens. */
    scanFailureThreshold: z.number().int().min(1).default(3),
    /** How long `scan` keeps delivering due alerts before it exits. */
    deliverOnScan: durationSchema.default('30s'),
  })
  .strict();

/** `tagledger serve`'s HTTP API. */
export const apiSchema = z
  .object({
    /** host:port; without a token only a loopback address is accepted by `serve`. */
    listen: z
      .string()
      .default('127.0.0.1:8080')
      .refine((v) => parseListen(v) !== null, 'must be host:port, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080'),
    /** Bearer token for /api/*; empty means unset. */
    token: z.string().optional(),
  })
  .strict();

/** Pruning old rows, run daily by `serve` when the block is present (off by default). */
export const retentionSchema = z
  .object({
    olderThan: durationSchema,
    schedule: cronExpressionSchema.default('0 3 * * *'),
    /** Also delete findings resolved or waived before `olderThan` (events are the verified ledger: never deleted). */
    events: z.boolean().default(false),
  })
  .strict();

const timezoneSchema = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone like UTC or Europe/Berlin');

export const configSchema = z
  .object({
    database: databaseSchema.optional(),
    timezone: timezoneSchema.optional(),
    targets: z.array(targetSchema).default([]),
    policy: policySchema.optional(),
    alerts: alertsSchema.default(() => alertsSchema.parse({})),
    notifiers: notifiersSchema.default([]),
    /**
     * Notifier ids that receive every scan root (`scan.completed`): once a root has left the database,
     * rewriting the history it covers is detectable even with full database access.
     */
    anchor: z.array(z.string().min(1)).optional(),
    api: apiSchema.default(() => apiSchema.parse({})),
    retention: retentionSchema.optional(),
    /**
     * Read each target's registry in a worker thread of its own (collectors/thread): parsing the
     * registry's answers runs beside storing them and beside `serve`'s API. Faster re-scans of large
     * estates on a machine with a spare core, for about 60 to 90 MB more memory per target scanned at once.
     */
    collectorThreads: z.boolean().default(false),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.targets.forEach((t, i) => {
      const prev = seen.get(t.id);
      if (prev !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['targets', i, 'id'], message: `duplicate target id "${t.id}" (also targets[${prev}])` });
      }
      seen.set(t.id, i);
    });
    const notifierIds = cfg.notifiers.map((n) => n.id);
    const anchored = new Map<string, number>();
    cfg.anchor?.forEach((id, i) => {
      const prev = anchored.get(id);
      if (prev !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['anchor', i], message: `notifier "${id}" is listed twice (also anchor[${prev}])` });
      } else if (!notifierIds.includes(id)) {
        const known = notifierIds.length ? `configured notifiers: ${notifierIds.join(', ')}` : 'no notifiers are configured';
        ctx.addIssue({ code: 'custom', path: ['anchor', i], message: `unknown notifier "${id}" (${known})` });
      }
      anchored.set(id, i);
    });
  });

export type Config = z.infer<typeof configSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
