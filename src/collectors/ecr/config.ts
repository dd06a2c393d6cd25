import { z } from 'zod';
import { baseTargetFields, durationSchema, httpUrlSchema } from '../../config/common.js';
import { pushEventsSchema } from '../../events/config.js';

/**
 * Cross-account audits: the collector assumes this role through STS before reading ECR.
 * Limits follow the STS AssumeRole API
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
 */
export const ecrAssumeRoleSchema = z
  .object({
    roleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN like arn:aws:iam::123456789012:role/name'),
    externalId: z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, 'must be 2-1224 characters of [A-Za-z0-9+=,.@:/_-]').optional(),
    sessionName: z.string().regex(/^[\w+=,.@-]{2,64}$/, 'must be 2-64 characters of [A-Za-z0-9+=,.@_-]').optional(),
  })
  .strict();

export const ecrTargetSchema = z
  .object({
    ...baseTargetFields,
    kind: z.literal('ecr'),
    /** Push events from the registry (`serve` scans the repository that changed right away). */
    events: pushEventsSchema.optional(),
    region: z.string().regex(/^[a-z]{2}(-[a-z0-9]+)+-\d+$/, 'must be an AWS region like us-east-1'),
    /** The registry (AWS account) to read; the caller's own account when absent. */
    registryId: z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id (quote it in YAML)').optional(),
    assumeRole: ecrAssumeRoleSchema.optional(),
    /** ECR API endpoint override: a VPC interface endpoint, or the emulator. */
    endpoint: httpUrlSchema.optional(),
    /** Total attempts per API call, including the first (the SDK's `maxAttempts`). */
    maxAttempts: z.number().int().min(1).max(20).optional(),
    /** Give up on one API call after this long (then the SDK may retry it). */
    requestTimeout: durationSchema.optional(),
  })
  .strict();

export type EcrTargetConfig = z.infer<typeof ecrTargetSchema>;
export type EcrAssumeRoleConfig = z.infer<typeof ecrAssumeRoleSchema>;
