/**
 * The Pub/Sub push message Artifact Registry's notification arrives in, for a change in the
 * emulator: Artifact Registry publishes `{action, digest, tag}` to the project's `gcr` topic
 * (https://cloud.google.com/artifact-registry/docs/configure-notifications), and a push subscription
 * POSTs it wrapped, `data` base64-encoded (https://cloud.google.com/pubsub/docs/push#receive_push).
 */
import { randomInt } from 'node:crypto';

export interface GarNotificationInput {
  action: 'INSERT' | 'DELETE';
  project: string;
  location: string;
  /** The Artifact Registry repository id. */
  repository: string;
  /** The image path inside the repository. */
  image: string;
  digest?: string;
  tag?: string;
  /** Pub/Sub's message id: the same on every redelivery (default: a new one). */
  messageId?: string;
  publishTime?: Date;
  subscription?: string;
}

/** Artifact Registry's message: whole image references, each present when it applies. */
export function garNotification(n: GarNotificationInput): { action: string; digest?: string; tag?: string } {
  const image = `${n.location}-docker.pkg.dev/${n.project.replace(':', '/')}/${n.repository}/${n.image}`;
  return { action: n.action, ...(n.digest ? { digest: `${image}@${n.digest}` } : {}), ...(n.tag ? { tag: `${image}:${n.tag}` } : {}) };
}

export function garPubSubPush(n: GarNotificationInput) {
  const messageId = n.messageId ?? String(randomInt(1e12, 2 ** 47));
  const publishTime = (n.publishTime ?? new Date()).toISOString();
  return {
    message: {
      attributes: {},
      data: Buffer.from(JSON.stringify(garNotification(n))).toString('base64'),
      messageId,
      message_id: messageId,
      publishTime,
      publish_time: publishTime,
    },
    subscription: n.subscription ?? `projects/${n.project}/subscriptions/tagledger`,
  };
}
