/**
 * Artifact Registry notifications, delivered by a Pub/Sub push subscription to the topic `gcr`.
 * Pub/Sub wraps each message (https://cloud.google.com/pubsub/docs/push#receive_push):
 *
 *   {"message":{"data":"<base64>","messageId":"2070443601311540","publishTime":"2026-03-03T12:00:04.211Z",
 *               "attributes":{}},"subscription":"projects/acme-prod/subscriptions/tagledger"}
 *
 * and `data` is Artifact Registry's JSON (https://cloud.google.com/artifact-registry/docs/configure-notifications):
 *
 *   {"action":"INSERT","digest":"us-docker.pkg.dev/acme-prod/docker-prod/api@sha256:…",
 *    "tag":"us-docker.pkg.dev/acme-prod/docker-prod/api:1.4.2"}
 *
 * `action` is INSERT or DELETE; `digest` and `tag` are whole image references, each present when it
 * applies (a tag deletion names the tag only). Container Registry publishes to the same topic
 * (`gcr.io/...` references): those are acknowledged and ignored. Pub/Sub delivers at least once and
 * redelivers with the same `messageId`, so a redelivery is recorded once; any 102/200/201/202/204
 * answer acknowledges the message.
 */
import { z } from 'zod';
import type { TargetConfig } from '../config/schema.js';
import { checkDigest, checkRepository, checkTag, describeIssues, InvalidPushEventError, outsideFilters, type PushAction, type PushEventClaim, type RoutedClaim } from './types.js';

export const PubSubPushEnvelope = z.object({
  message: z.object({
    data: z.string().min(1).max(48 * 1024),
    messageId: z.string().min(1).max(200).optional(),
    message_id: z.string().min(1).max(200).optional(),
    publishTime: z.iso.datetime({ offset: true }).optional(),
    publish_time: z.iso.datetime({ offset: true }).optional(),
    attributes: z.record(z.string(), z.string()).optional(),
  }),
  subscription: z.string().optional(),
});

export const GarNotification = z.object({
  action: z.string().min(1),
  digest: z.string().min(1).max(1000).optional(),
  tag: z.string().min(1).max(1000).optional(),
});

const ACTIONS: Record<string, PushAction> = { INSERT: 'push', DELETE: 'delete' };

/** One notification, with the image named by host and path as the message spells it. */
export interface GarImageNotification {
  /** `us-docker.pkg.dev`, or `gcr.io` for Container Registry. */
  host: string;
  /** `acme-prod/docker-prod/api` (domain-scoped projects: `example.com/acme-prod/...`). */
  path: string;
  tag: string | null;
  digest: string | null;
  action: PushAction;
  eventType: string;
  messageId: string;
  publishTime: Date | null;
}

export type GarDelivery = { kind: 'notification'; notification: GarImageNotification } | { kind: 'other'; eventType: string };

/** `host/path@sha256:…` or `host/path:tag` → its parts (the tag follows the last `:` after the last `/`). */
function splitReference(ref: string, kind: 'digest' | 'tag'): { host: string; path: string; value: string } {
  const slash = ref.indexOf('/');
  if (slash <= 0) throw new InvalidPushEventError(`Artifact Registry notification ${kind}: "${ref.slice(0, 200)}" is not an image reference`);
  const host = ref.slice(0, slash);
  const rest = ref.slice(slash + 1);
  const at = kind === 'digest' ? rest.indexOf('@') : rest.lastIndexOf(':');
  if (at <= 0 || (kind === 'tag' && rest.indexOf('/', at) >= 0)) {
    throw new InvalidPushEventError(`Artifact Registry notification ${kind}: "${ref.slice(0, 200)}" names no ${kind}`);
  }
  return { host: host.toLowerCase(), path: rest.slice(0, at), value: rest.slice(at + 1) };
}

/** Reads a Pub/Sub push body; throws InvalidPushEventError. Actions other than INSERT/DELETE come back as `other`. */
export function parseGarPush(body: unknown): GarDelivery {
  const env = PubSubPushEnvelope.safeParse(body);
  if (!env.success) throw new InvalidPushEventError(describeIssues('Pub/Sub push message', env.error.issues));
  const m = env.data.message;
  const messageId = m.messageId ?? m.message_id;
  if (!messageId) throw new InvalidPushEventError('Pub/Sub push message: message.messageId is missing');
  let data: unknown;
  try {
    const text = Buffer.from(m.data, 'base64').toString('utf8');
    data = JSON.parse(text);
  } catch {
    throw new InvalidPushEventError('Pub/Sub push message: message.data is not base64-encoded JSON');
  }
  const n = GarNotification.safeParse(data);
  if (!n.success) throw new InvalidPushEventError(describeIssues('Artifact Registry notification (message.data)', n.error.issues));
  const action = ACTIONS[n.data.action];
  if (!action) return { kind: 'other', eventType: n.data.action.slice(0, 50) };
  const byDigest = n.data.digest ? splitReference(n.data.digest, 'digest') : null;
  const byTag = n.data.tag ? splitReference(n.data.tag, 'tag') : null;
  const image = byDigest ?? byTag;
  if (!image) throw new InvalidPushEventError('Artifact Registry notification: names neither a digest nor a tag');
  if (byDigest && byTag && (byDigest.host !== byTag.host || byDigest.path !== byTag.path)) {
    throw new InvalidPushEventError('Artifact Registry notification: digest and tag name different images');
  }
  const publish = m.publishTime ?? m.publish_time;
  return {
    kind: 'notification',
    notification: {
      host: image.host,
      path: image.path,
      digest: byDigest ? checkDigest(byDigest.value, 'Artifact Registry notification digest') : null,
      tag: byTag ? checkTag(byTag.value, 'Artifact Registry notification tag') : null,
      action,
      eventType: n.data.action,
      messageId,
      publishTime: publish ? new Date(publish) : null,
    },
  };
}

const GAR_HOST = /^([a-z][a-z0-9-]*[a-z0-9])-docker\.pkg\.dev$/;

/**
 * The notification as a claim about one tagledger repository of the target:
 * `<location>/<gar-repository>/<image>`, the name the GAR collector gives it.
 */
export function routeGarNotification(target: TargetConfig, n: GarImageNotification): RoutedClaim {
  const base = { tag: n.tag, digest: n.digest, action: n.action, eventType: n.eventType, eventId: n.messageId, occurredAt: n.publishTime };
  const described = `${n.host}/${n.path}`;
  const ignore = (reason: string): RoutedClaim => ({ claim: { ...base, repository: described.slice(0, 255) }, ignored: reason });
  if (target.kind !== 'gar') return ignore(`target "${target.id}" is not an Artifact Registry target`);
  const host = GAR_HOST.exec(n.host);
  if (!host) return ignore(`${n.host} is not an Artifact Registry Docker host (<location>-docker.pkg.dev)`);
  const location = host[1];
  if (!target.locations.includes(location)) return ignore(`location ${location} is not one of the target's locations`);
  // Domain-scoped project ids (`example.com:acme`) are spelled `example.com/acme` in image paths.
  const projectPath = target.project.replace(':', '/');
  if (!n.path.startsWith(`${projectPath}/`)) return ignore(`${described} is not in project ${target.project}`);
  const rest = n.path.slice(projectPath.length + 1);
  if (!rest.includes('/')) throw new InvalidPushEventError(`Artifact Registry notification: "${described}" names no image inside a repository`);
  const claim: PushEventClaim = { ...base, repository: checkRepository(`${location}/${rest}`, 'Artifact Registry notification image') };
  const outside = outsideFilters(target, claim.repository);
  return outside ? { claim, ignored: outside } : { claim, ignored: null };
}
