import { z } from 'zod';
import { baseNotifierFields, signingFields } from '../common.js';

export const webhookNotifierSchema = z
  .object({
    ...baseNotifierFields,
    ...signingFields,
    kind: z.literal('webhook'),
  })
  .strict();

export type WebhookNotifierConfig = z.infer<typeof webhookNotifierSchema>;
