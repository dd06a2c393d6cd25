/**
 * The event Amazon ECR emits to EventBridge for a change, in the form an EventBridge rule delivers it
 * to an API destination (the whole event, no input transformer), so tests and the demo can announce a
 * change in the emulator the way ECR would.
 * https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html
 */
import { randomUUID } from 'node:crypto';

export interface EcrImageActionInput {
  action: 'PUSH' | 'DELETE';
  repository: string;
  digest?: string;
  tag?: string;
  /** The registry's AWS account id. */
  account: string;
  region: string;
  /** SUCCESS (default) or FAILURE. */
  result?: 'SUCCESS' | 'FAILURE';
  time?: Date;
  /** EventBridge's event id: the same on every redelivery (default: a new UUID). */
  id?: string;
}

export function ecrImageActionEvent(e: EcrImageActionInput) {
  const detail: Record<string, string> = { result: e.result ?? 'SUCCESS', 'repository-name': e.repository, 'action-type': e.action };
  if (e.digest) detail['image-digest'] = e.digest;
  if (e.tag) detail['image-tag'] = e.tag;
  if (e.action === 'PUSH') {
    detail['manifest-media-type'] = 'application/vnd.oci.image.manifest.v1+json';
    detail['artifact-media-type'] = 'application/vnd.oci.image.config.v1+json';
  }
  return {
    version: '0',
    id: e.id ?? randomUUID(),
    'detail-type': 'ECR Image Action',
    source: 'aws.ecr',
    account: e.account,
    time: (e.time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: e.region,
    resources: [],
    detail,
  };
}
