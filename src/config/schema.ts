import { z } from 'zod';
import { ociTargetSchema } from '../collectors/oci/config.js';

/**
 * The whole configuration file. Each kind of target declares its own schema next to its collector;
 * this union is the one place that lists them.
 */
export const targetSchema = z.discriminatedUnion('kind', [ociTargetSchema]);

export const databaseSchema = z
  .object({
    /** PostgreSQL connection URL; empty means unset. */
    url: z.string().optional(),
    /** PGlite data directory (embedded database). */
    path: z.string().min(1).optional(),
  })
  .strict();

export const configSchema = z
  .object({
    database: databaseSchema.optional(),
    timezone: z.string().optional(),
    targets: z.array(targetSchema).default([]),
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
  });

export type Config = z.infer<typeof configSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
