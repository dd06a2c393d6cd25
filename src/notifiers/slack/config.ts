import { z } from 'zod';
import { baseNotifierFields } from '../common.js';

/**
 * A Slack incoming webhook. No `secret`: Slack does not verify signatures on incoming webhooks; the
 * URL itself is the credential (https://api.slack.com/messaging/webhooks), so it never appears in
 * errors or logs, only its host.
 */
export const slackNotifierSchema = z
  .object({
    ...baseNotifierFields,
    kind: z.literal('slack'),
  })
  .strict();

export type SlackNotifierConfig = z.infer<typeof slackNotifierSchema>;
