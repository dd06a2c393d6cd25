import { z } from 'zod';
import { baseTargetFields, globPatternSchema, httpUrlSchema } from '../../config/common.js';
import { pushEventsSchema } from '../../events/config.js';

/**
 * A Harbor instance, read through its REST API v2.0 with HTTP basic auth. Robot accounts are the
 * normal case: their names contain `$` (`robot$audit`, `robot$team-a+audit`), which basic auth carries
 * as it is.
 */
export const harborTargetSchema = z
  .object({
    ...baseTargetFields,
    kind: z.literal('harbor'),
    /** Push events from the registry (`serve` scans the repository that changed right away). */
    events: pushEventsSchema.optional(),
    /** Harbor's base URL (`https://harbor.example.com`); the API is under `/api/v2.0`. */
    url: httpUrlSchema.refine((v) => {
      try {
        const u = new URL(v);
        return u.username === '' && u.password === '';
      } catch {
        return true; // httpUrlSchema reports it
      }
    }, 'must not contain credentials: use username and password'),
    username: z.string().min(1),
    password: z.string().min(1),
    /** Glob filter on project names (picomatch); every project the account can list when absent. */
    projects: z.array(globPatternSchema).min(1).optional(),
  })
  .strict();

export type HarborTargetConfig = z.infer<typeof harborTargetSchema>;
