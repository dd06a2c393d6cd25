/**
 * The generic webhook: the payload (version 1, see schemas/webhook-payload-v1.schema.json) is the
 * body, byte for byte what the signature covers.
 */
import { createPost, tagledgerHeaders, type PostOptions } from '../common.js';
import type { AlertPayload, DeliveryResult, Notifier } from '../types.js';
import type { WebhookNotifierConfig } from './config.js';

export function createWebhookNotifier(config: WebhookNotifierConfig, opts: PostOptions = {}): Notifier {
  const post = createPost(
    {
      url: config.url,
      caFile: config.caFile,
      insecureSkipTlsVerify: config.insecureSkipTlsVerify,
      headers: config.headers,
      secrets: config.secret ? [config.secret] : [],
      describeAs: 'path',
    },
    opts,
  );
  return {
    kind: 'webhook',
    id: config.id,
    send(payload: AlertPayload, signal: AbortSignal): Promise<DeliveryResult> {
      const body = JSON.stringify(payload);
      return post({ body, headers: { 'Content-Type': 'application/json', ...tagledgerHeaders(payload, body, config.secret) } }, signal);
    },
  };
}
