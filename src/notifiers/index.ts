/**
 * The notifier kinds, in one place: the config union (what `notifiers:` in the config file may hold)
 * and the factory the alert dispatcher builds its notifiers with.
 */
import { z } from 'zod';
import { notifierWants, type PostOptions } from './common.js';
import { cloudeventsNotifierSchema } from './cloudevents/config.js';
import { createCloudEventsNotifier } from './cloudevents/index.js';
import { slackNotifierSchema } from './slack/config.js';
import { createSlackNotifier } from './slack/index.js';
import type { Notifier } from './types.js';
import { webhookNotifierSchema } from './webhook/config.js';
import { createWebhookNotifier } from './webhook/index.js';

export const notifierConfigSchema = z.discriminatedUnion('kind', [webhookNotifierSchema, slackNotifierSchema, cloudeventsNotifierSchema]);
export type NotifierConfig = z.infer<typeof notifierConfigSchema>;

/** The `notifiers:` list: ids must be unique, since alerts and delivery attempts are recorded per notifier id. */
export const notifiersSchema = z.array(notifierConfigSchema).superRefine((list, ctx) => {
  const seen = new Map<string, number>();
  list.forEach((n, i) => {
    const prev = seen.get(n.id);
    if (prev !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate notifier id "${n.id}" (also notifiers[${prev}])` });
    seen.set(n.id, i);
  });
});

export function createNotifier(config: NotifierConfig, opts: PostOptions = {}): Notifier {
  switch (config.kind) {
    case 'webhook':
      return createWebhookNotifier(config, opts);
    case 'slack':
      return createSlackNotifier(config, opts);
    case 'cloudevents':
      return createCloudEventsNotifier(config, opts);
    default: {
      const kind: never = config;
      throw new Error(`unknown notifier kind ${JSON.stringify((kind as { kind?: unknown }).kind)}`);
    }
  }
}

export { notifierWants };
export type { AlertBatch, AlertMessage, AlertPayload, DeliveryResult, Notifier, ScanCompletedMessage } from './types.js';
