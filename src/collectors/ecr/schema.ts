/**
 * What the ECR collector reads from the API, as zod schemas: only the members it uses.
 * The AWS SDK has already turned the JSON into objects (timestamps into Dates); these schemas
 * check that what the collector relies on is really there before it trusts it.
 *
 * https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_Repository.html
 * https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageDetail.html
 */
import { z } from 'zod';

export const EcrExclusionFilter = z.object({
  filterType: z.string(),
  filter: z.string(),
});

/** One entry of DescribeRepositories `repositories`. */
export const EcrRepository = z.object({
  repositoryName: z.string().min(1),
  registryId: z.string().regex(/^\d{12}$/, 'must be a 12-digit account id'),
  repositoryArn: z.string().optional(),
  repositoryUri: z.string().optional(),
  createdAt: z.date().optional(),
  /** Checked per repository by `EcrMutabilitySettings`, so one odd value fails only its repository. */
  imageTagMutability: z.string().optional(),
  imageTagMutabilityExclusionFilters: z.array(EcrExclusionFilter).optional(),
  imageScanningConfiguration: z.object({ scanOnPush: z.boolean().optional() }).optional(),
  encryptionConfiguration: z.object({ encryptionType: z.string().optional(), kmsKey: z.string().optional() }).optional(),
});
export type EcrRepository = z.infer<typeof EcrRepository>;

export const DescribeRepositoriesPage = z.object({
  repositories: z.array(EcrRepository).optional().default([]),
  nextToken: z.string().optional(),
});

/**
 * The four documented modes and `WILDCARD` filters
 * (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImageTagMutability.html).
 * A mode or filter type AWS adds later fails that repository with a clear cause rather than being
 * guessed at.
 */
export const EcrMutabilitySettings = z.object({
  imageTagMutability: z.enum(['MUTABLE', 'IMMUTABLE', 'IMMUTABLE_WITH_EXCLUSION', 'MUTABLE_WITH_EXCLUSION']),
  imageTagMutabilityExclusionFilters: z
    .array(z.object({ filterType: z.literal('WILDCARD'), filter: z.string().min(1) }))
    .optional()
    .default([]),
});

/** One entry of DescribeImages `imageDetails`. */
export const EcrImageDetail = z.object({
  imageDigest: z.string().regex(/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/, 'must be a content digest'),
  imageTags: z.array(z.string().min(1)).optional().default([]),
  imagePushedAt: z.date().optional(),
  imageManifestMediaType: z.string().optional(),
  artifactMediaType: z.string().optional(),
  imageSizeInBytes: z.number().optional(),
  /** ACTIVE, ARCHIVED or ACTIVATING; archived images keep their tags. */
  imageStatus: z.string().optional(),
});
export type EcrImageDetail = z.infer<typeof EcrImageDetail>;

export const DescribeImagesPage = z.object({
  imageDetails: z.array(EcrImageDetail).optional().default([]),
  nextToken: z.string().optional(),
});
