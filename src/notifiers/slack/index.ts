/**
 * Slack incoming webhooks (https://api.slack.com/messaging/webhooks). The webhook URL is the
 * credential: errors name only its host. Slack answers 200 `ok`, or a 4xx with a short error code
 * in the body (`invalid_blocks`, `no_service`, `channel_is_archived`, ...), which the error line
 * keeps; 429 comes with Retry-After (https://api.slack.com/apis/rate-limits).
 */
import { createPost, tagledgerHeaders, type PostOptions } from '../common.js';
import type { AlertPayload, DeliveryResult, Notifier } from '../types.js';
import type { SlackNotifierConfig } from './config.js';
import { slackMessage } from './message.js';

export function createSlackNotifier(config: SlackNotifierConfig, opts: PostOptions = {}): Notifier {
  const post = createPost(
    {
      url: config.url,
      caFile: config.caFile,
      insecureSkipTlsVerify: config.insecureSkipTlsVerify,
      headers: config.headers,
      describeAs: 'host',
    },
    opts,
  );
  return {
    kind: 'slack',
    id: config.id,
    send(payload: AlertPayload, signal: AbortSignal): Promise<DeliveryResult> {
      const body = JSON.stringify(slackMessage(payload));
      // No signature: Slack does not check one, and the URL already authenticates the sender.
      return post({ body, headers: { 'Content-Type': 'application/json', ...tagledgerHeaders(payload, body, undefined) } }, signal);
    },
  };
}
