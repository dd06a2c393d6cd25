/**
 * Amazon ECR "ECR Image Action" events, delivered by an EventBridge rule to an API destination. The
 * body is the event as EventBridge emits it (no input transformer):
 *
 *   {"version":"0","id":"…","detail-type":"ECR Image Action","source":"aws.ecr","account":"123456789012",
 *    "time":"2026-03-03T12:00:04Z","region":"eu-west-1","resources":[],
 *    "detail":{"result":"SUCCESS","repository-name":"payments/api","image-digest":"sha256:…",
 *              "action-type":"PUSH","image-tag":"1.4.2"}}
 *
 * https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html
 * EventBridge delivers at least once and retries for up to 24 hours: the event `id` is the same on
 * every attempt, so a redelivery is recorded once.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html
 */
import { z } from 'zod';
import type { TargetConfig } from '../config/schema.js';
import { checkDigest, checkRepository, checkTag, describeIssues, InvalidPushEventError, outsideFilters, type PushAction, type PushEventClaim, type RoutedClaim } from './types.js';

export const EventBridgeEnvelope = z.object({
  id: z.string().min(1).max(200),
  'detail-type': z.string().min(1),
  source: z.string().min(1),
  account: z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id'),
  time: z.iso.datetime({ offset: true }).optional(),
  region: z.string().min(1),
  detail: z.unknown(),
});

export const EcrImageActionDetail = z.object({
  'action-type': z.string().min(1),
  result: z.string().min(1),
  'repository-name': z.string().min(1),
  'image-digest': z.string().optional(),
  'image-tag': z.string().optional(),
});

const ACTIONS: Record<string, PushAction> = { PUSH: 'push', DELETE: 'delete' };

export interface EcrImageAction {
  claim: PushEventClaim;
  account: string;
  region: string;
  /** Not SUCCESS: the action did not happen (recorded, not scanned). */
  result: string;
}

export type EcrDelivery = { kind: 'action'; action: EcrImageAction } | { kind: 'other'; eventType: string };

/** Reads an EventBridge event; throws InvalidPushEventError. Other ECR events (scans, replication, ...) come back as `other`. */
export function parseEcrEvent(body: unknown): EcrDelivery {
  const env = EventBridgeEnvelope.safeParse(body);
  if (!env.success) throw new InvalidPushEventError(describeIssues('EventBridge event', env.error.issues));
  const e = env.data;
  if (e.source !== 'aws.ecr') throw new InvalidPushEventError(`EventBridge event: source "${e.source.slice(0, 100)}" is not aws.ecr`);
  if (e['detail-type'] !== 'ECR Image Action') return { kind: 'other', eventType: e['detail-type'] };
  const d = EcrImageActionDetail.safeParse(e.detail);
  if (!d.success) throw new InvalidPushEventError(describeIssues('ECR Image Action detail', d.error.issues.map((i) => ({ ...i, path: ['detail', ...i.path] }))));
  const detail = d.data;
  const action = ACTIONS[detail['action-type']];
  if (!action) return { kind: 'other', eventType: `ECR Image Action ${detail['action-type'].slice(0, 50)}` };
  const claim: PushEventClaim = {
    repository: checkRepository(detail['repository-name'], 'ECR Image Action detail.repository-name'),
    tag: checkTag(detail['image-tag'], 'ECR Image Action detail.image-tag'),
    digest: checkDigest(detail['image-digest'], 'ECR Image Action detail.image-digest'),
    action,
    eventType: detail['action-type'],
    eventId: e.id,
    occurredAt: e.time ? new Date(e.time) : null,
  };
  return { kind: 'action', action: { claim, account: e.account, region: e.region, result: detail.result } };
}

export function routeEcrAction(target: TargetConfig, a: EcrImageAction): RoutedClaim {
  const { claim } = a;
  if (target.kind !== 'ecr') return { claim, ignored: `target "${target.id}" is not an ECR target` };
  // Without registryId the target reads the caller's own account, which tagledger does not know
  // here: any account is taken (the secret already says the sender is the one configured).
  if (target.registryId && a.account !== target.registryId) return { claim, ignored: `account ${a.account} is not the target's registry ${target.registryId}` };
  if (a.region !== target.region) return { claim, ignored: `region ${a.region} is not the target's region ${target.region}` };
  if (a.result !== 'SUCCESS') return { claim, ignored: `the ${claim.eventType} did not succeed (result ${a.result.slice(0, 50)})` };
  const outside = outsideFilters(target, claim.repository);
  return outside ? { claim, ignored: outside } : { claim, ignored: null };
}
