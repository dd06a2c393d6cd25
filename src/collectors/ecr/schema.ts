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
/** As the API gives it: `imageTags` may be absent (read it as empty). */
export type EcrImageDetail = z.input<typeof EcrImageDetail>;

export const DescribeImagesPage = z.object({
  imageDetails: z.array(EcrImageDetail).optional().default([]),
  nextToken: z.string().optional(),
});

const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/**
 * `DescribeImagesPage.safeParse`, checked by hand: the same checks and the same messages
 * (`imageDetails.3.imageDigest: must be a content digest`), without copying anything. A scan of a
 * large registry reads a million image details, and zod's parse costs more per item than the SDK's
 * own deserialisation; `schema.test.ts` holds the two to the same verdicts.
 */
export function checkDescribeImagesPage(page: unknown): { success: true; data: { imageDetails: EcrImageDetail[]; nextToken?: string } } | { success: false; issues: string[] } {
  const issues: string[] = [];
  if (typeof page !== 'object' || page === null || Array.isArray(page)) return { success: false, issues: [`: Invalid input: expected object, received ${received(page)}`] };
  const { imageDetails = [], nextToken } = page as { imageDetails?: unknown; nextToken?: unknown };
  if (!Array.isArray(imageDetails)) issues.push(`imageDetails: Invalid input: expected array, received ${received(imageDetails)}`);
  else checkImageDetails(imageDetails, issues);
  if (nextToken !== undefined && typeof nextToken !== 'string') issues.push(`nextToken: Invalid input: expected string, received ${received(nextToken)}`);
  if (issues.length) return { success: false, issues };
  return { success: true, data: { imageDetails: imageDetails as EcrImageDetail[], nextToken: nextToken as string | undefined } };
}

function checkImageDetails(imageDetails: unknown[], issues: string[]): void {
  for (let i = 0; i < imageDetails.length; i++) {
    const d: unknown = imageDetails[i];
    // The path is written into a message only when there is one to write (a million images per scan).
    if (typeof d !== 'object' || d === null || Array.isArray(d)) {
      issues.push(`imageDetails.${i}: Invalid input: expected object, received ${received(d)}`);
      continue;
    }
    const x = d as Record<string, unknown>;
    if (typeof x.imageDigest !== 'string') issues.push(`imageDetails.${i}.imageDigest: Invalid input: expected string, received ${received(x.imageDigest)}`);
    else if (!DIGEST.test(x.imageDigest)) issues.push(`imageDetails.${i}.imageDigest: must be a content digest`);
    if (x.imageTags !== undefined) {
      if (!Array.isArray(x.imageTags)) issues.push(`imageDetails.${i}.imageTags: Invalid input: expected array, received ${received(x.imageTags)}`);
      else
        for (let j = 0; j < x.imageTags.length; j++) {
          const tag: unknown = x.imageTags[j];
          if (typeof tag !== 'string') issues.push(`imageDetails.${i}.imageTags.${j}: Invalid input: expected string, received ${received(tag)}`);
          else if (tag.length === 0) issues.push(`imageDetails.${i}.imageTags.${j}: Too small: expected string to have >=1 characters`);
        }
    }
    if (x.imagePushedAt !== undefined && !(x.imagePushedAt instanceof Date && !Number.isNaN(x.imagePushedAt.getTime()))) {
      issues.push(`imageDetails.${i}.imagePushedAt: Invalid input: expected date, received ${received(x.imagePushedAt)}`);
    }
    // In the schema's member order, as zod reports them; each member read by name (a loop over the
    // names would look each one up by key, for every image of the registry).
    const { imageManifestMediaType, artifactMediaType, imageSizeInBytes, imageStatus } = x;
    if (imageManifestMediaType !== undefined && typeof imageManifestMediaType !== 'string') issues.push(notString(i, 'imageManifestMediaType', imageManifestMediaType));
    if (artifactMediaType !== undefined && typeof artifactMediaType !== 'string') issues.push(notString(i, 'artifactMediaType', artifactMediaType));
    if (imageSizeInBytes !== undefined && (typeof imageSizeInBytes !== 'number' || !Number.isFinite(imageSizeInBytes))) {
      issues.push(`imageDetails.${i}.imageSizeInBytes: Invalid input: expected number, received ${received(imageSizeInBytes)}`);
    }
    if (imageStatus !== undefined && typeof imageStatus !== 'string') issues.push(notString(i, 'imageStatus', imageStatus));
  }
}

function notString(i: number, key: string, v: unknown): string {
  return `imageDetails.${i}.${key}: Invalid input: expected string, received ${received(v)}`;
}

/** What zod names a value it did not expect. */
function received(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'Date';
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : 'Infinity';
  return typeof v;
}
