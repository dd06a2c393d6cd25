import { z } from 'zod';
import { baseNotifierFields, signingFields } from '../common.js';

export const cloudeventsNotifierSchema = z
  .object({
    ...baseNotifierFields,
    ...signingFields,
    kind: z.literal('cloudevents'),
  })
  .strict();

export type CloudEventsNotifierConfig = z.infer<typeof cloudeventsNotifierSchema>;
