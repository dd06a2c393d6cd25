/**
 * Harbor webhook policy payloads (notify type `http`). Harbor sends, per event, a POST with
 * `Content-Type: application/json` and the policy's `auth_header` as the `Authorization` header:
 *
 *   {"type":"PUSH_ARTIFACT","occur_at":1737446601,"operator":"ci",
 *    "event_data":{"resources":[{"digest":"sha256:…","tag":"v1","resource_url":"harbor.example.com/team-a/api:v1"}],
 *                  "repository":{"date_created":1737446600,"name":"api","namespace":"team-a",
 *                                "repo_full_name":"team-a/api","repo_type":"private"}}}
 *
 * https://goharbor.io/docs/main/working-with-projects/project-configuration/configure-webhooks/
 * Quirks, from Harbor's handler (src/controller/event/handler/webhook/artifact/artifact.go):
 *  - one resource per event, naming only the FIRST tag of the artifact; an artifact without tags
 *    has its digest in `tag`;
 *  - artifact webhooks exist for PUSH_ARTIFACT, PULL_ARTIFACT and DELETE_ARTIFACT only: deleting a
 *    tag (not the artifact) or adding one through the API sends nothing, so those are caught by the
 *    schedule. DELETE_TAG is accepted too, should a Harbor or a relay send it.
 */
import { z } from 'zod';
import type { TargetConfig } from '../config/schema.js';
import { checkDigest, checkRepository, checkTag, describeIssues, InvalidPushEventError, outsideFilters, type PushAction, type PushEventClaim, type RoutedClaim } from './types.js';

export const HarborWebhookResource = z.object({
  digest: z.string().optional(),
  tag: z.string().optional(),
  resource_url: z.string().optional(),
});

export const HarborWebhookPayload = z.object({
  type: z.string().min(1),
  /** Unix seconds. */
  occur_at: z.number().int().nonnegative().optional(),
  operator: z.string().optional(),
  event_data: z
    .object({
      resources: z.array(HarborWebhookResource).max(1000).optional(),
      repository: z.object({ namespace: z.string().optional(), repo_full_name: z.string().min(1) }).optional(),
    })
    .optional(),
});

const ACTIONS: Record<string, PushAction> = { PUSH_ARTIFACT: 'push', DELETE_ARTIFACT: 'delete', DELETE_TAG: 'delete' };

export type HarborDelivery = { kind: 'claims'; claims: PushEventClaim[] } | { kind: 'other'; eventType: string };

/** Reads a webhook body; throws InvalidPushEventError. Event types that change no tag come back as `other`. */
export function parseHarborWebhook(body: unknown): HarborDelivery {
  const parsed = HarborWebhookPayload.safeParse(body);
  if (!parsed.success) throw new InvalidPushEventError(describeIssues('Harbor webhook payload', parsed.error.issues));
  const p = parsed.data;
  const action = ACTIONS[p.type];
  if (!action) return { kind: 'other', eventType: p.type };
  const fullName = p.event_data?.repository?.repo_full_name;
  if (!fullName) throw new InvalidPushEventError(`Harbor webhook payload: a ${p.type} event needs event_data.repository.repo_full_name`);
  const repository = checkRepository(fullName, 'Harbor webhook payload event_data.repository.repo_full_name');
  if (!repository.includes('/')) throw new InvalidPushEventError(`Harbor webhook payload: repo_full_name "${repository}" must be <project>/<name>`);
  const occurredAt = p.occur_at !== undefined ? new Date(p.occur_at * 1000) : null;
  const resources = p.event_data?.resources?.length ? p.event_data.resources : [{}];
  const claims = resources.map((r: z.infer<typeof HarborWebhookResource>, i): PushEventClaim => {
    const where = `Harbor webhook payload event_data.resources[${i}]`;
    const digest = checkDigest(r.digest, `${where}.digest`);
    // An untagged artifact is announced with its digest as the "tag".
    const tag = r.tag && r.tag === r.digest ? null : checkTag(r.tag, `${where}.tag`);
    return { repository, tag, digest, action, eventType: p.type, eventId: null, occurredAt };
  });
  return { kind: 'claims', claims };
}

export function routeHarborClaims(target: TargetConfig, claims: PushEventClaim[]): RoutedClaim[] {
  return claims.map((claim) => {
    const outside = outsideFilters(target, claim.repository);
    return outside ? { claim, ignored: outside } : { claim, ignored: null };
  });
}
