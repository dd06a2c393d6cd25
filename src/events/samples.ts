/**
 * A sample delivery for a target, in its registry's own format, with the secret placed where that
 * registry puts it: what `tagledger events test` sends to prove the wiring.
 */
import { createHash } from 'node:crypto';
import type { TargetConfig } from '../config/schema.js';
import { harborWebhookPayload } from '../emulators/harbor/webhook.js';
import { ecrImageActionEvent } from '../emulators/ecr/events.js';
import { garPubSubPush } from '../emulators/gar/events.js';
import type { PushSource } from './types.js';

export const SAMPLE_REPOSITORY = 'tagledger-events-test';
export const SAMPLE_TAG = 'events-test';
const SAMPLE_DIGEST = `sha256:${createHash('sha256').update('tagledger events test').digest('hex')}`;

export interface SampleDelivery {
  source: PushSource;
  /** Path and query, to append to serve's base URL. */
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

export function sampleDelivery(target: TargetConfig, secret: string): SampleDelivery {
  const base = `/api/v1/events/${target.kind}/${encodeURIComponent(target.id)}`;
  switch (target.kind) {
    case 'harbor': {
      const project = target.projects?.find((p) => !/[*?[\]{}!]/.test(p)) ?? 'library';
      const body = harborWebhookPayload({
        type: 'PUSH_ARTIFACT',
        repository: `${project}/${SAMPLE_REPOSITORY}`,
        digest: SAMPLE_DIGEST,
        tags: [SAMPLE_TAG],
        public: false,
        operator: 'tagledger-events-test',
        at: new Date(),
        host: new URL(target.url).host,
      });
      return { source: 'harbor', path: base, headers: { Authorization: secret }, body };
    }
    case 'ecr': {
      const body = ecrImageActionEvent({ action: 'PUSH', repository: SAMPLE_REPOSITORY, digest: SAMPLE_DIGEST, tag: SAMPLE_TAG, account: target.registryId ?? '000000000000', region: target.region });
      return { source: 'ecr', path: base, headers: { 'X-Tagledger-Key': secret }, body };
    }
    case 'gar': {
      const body = garPubSubPush({ action: 'INSERT', project: target.project, location: target.locations[0], repository: SAMPLE_REPOSITORY, image: 'test', digest: SAMPLE_DIGEST, tag: SAMPLE_TAG });
      return { source: 'gar', path: `${base}?token=${encodeURIComponent(secret)}`, headers: {}, body };
    }
    default:
      throw new Error(`targets of kind ${target.kind} take no push events`);
  }
}
