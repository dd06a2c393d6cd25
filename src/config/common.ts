import { z } from 'zod';
import cron from 'node-cron';
import picomatch from 'picomatch';

/** Durations are strings like `500ms`, `30s`, `10m`, `24h`, `7d`. */
export const durationSchema = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration like 500ms, 30s, 10m, 24h or 7d');

export function parseDuration(value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (!m) throw new Error(`invalid duration "${value}"`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return n * unit;
}

export const httpUrlSchema = z
  .string()
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');

/**
 * A node-cron expression: 5 fields, or 6 with seconds first (https://nodecron.com/cron-syntax).
 * node-cron ANDs day-of-month with day-of-week (standard cron ORs them when both are restricted).
 */
export const cronExpressionSchema = z.string().superRefine((value, ctx) => {
  const result = cron.validateDetailed(value);
  if (!result.valid) {
    const why = result.errors.map((e) => e.message).join('; ') || 'invalid';
    ctx.addIssue({ code: 'custom', message: `must be a cron expression like "0 * * * *" (${why})` });
  }
});

/**
 * A picomatch glob. picomatch quietly turns a pattern it cannot compile (`team/{api`, `[z-a]`) into
 * one that matches nothing; in a filter that typo would silently audit nothing, so it is refused.
 */
export const globPatternSchema = z
  .string()
  .min(1)
  .refine((p) => {
    try {
      picomatch.makeRe(p, { debug: true });
      return true;
    } catch {
      return false;
    }
  }, 'must be a valid glob pattern (picomatch syntax: *, **, ?, [...], {a,b})');

/** Fields every kind of target has, with the same meaning for every kind. */
export const baseTargetFields = {
  id: z.string().regex(/^[a-z0-9-]+$/, 'must match [a-z0-9-]+'),
  /** Glob filter on repository names (picomatch; `*` does not cross `/`, `**` does). */
  repositories: z.array(globPatternSchema).min(1).optional(),
  caFile: z.string().min(1).optional(),
  insecureSkipTlsVerify: z.boolean().default(false),
  concurrency: z.number().int().min(1).max(256).optional(),
  /** Cron expression for `serve` (node-cron syntax; default hourly). */
  schedule: cronExpressionSchema.optional(),
  jitter: durationSchema.optional(),
  /**
   * Other hosts that mean this registry in image references (mirrors, pull-through caches, vanity
   * hosts): `host[:port]`, or `host[:port]/prefix` when the mirror serves it under a path. Used by `check`.
   */
  pullHosts: z
    .array(
      z
        .string()
        .regex(
          /^(?:\[[0-9A-Fa-f:]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d+)?(?:\/[a-z0-9._-]+)*\/?$/,
          'must be host[:port] or host[:port]/path, without a scheme',
        ),
    )
    .optional(),
};
