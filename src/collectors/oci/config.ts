import { z } from 'zod';
import { baseTargetFields, httpUrlSchema } from '../../config/common.js';

export const ociTargetSchema = z
  .object({
    ...baseTargetFields,
    kind: z.literal('oci'),
    url: httpUrlSchema,
    username: z.string().optional(),
    password: z.string().optional(),
  })
  .strict();

export type OciTargetConfig = z.infer<typeof ociTargetSchema>;
