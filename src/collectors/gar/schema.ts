/**
 * What tagledger reads from Artifact Registry, as `@google-cloud/artifact-registry` decodes it over
 * gRPC: camelCase fields, enums as their names, int64 as strings, `google.protobuf.Timestamp` as
 * `{ seconds, nanos }`, absent messages as null or missing. Only the fields that are read are declared.
 * https://cloud.google.com/artifact-registry/docs/reference/rpc/google.devtools.artifactregistry.v1
 */
import { z } from 'zod';

const int64 = z.union([z.string(), z.number()]);

export const TimestampSchema = z.object({ seconds: int64, nanos: z.number().nullish() });
export type Timestamp = z.infer<typeof TimestampSchema>;

const DurationSchema = z.object({ seconds: int64, nanos: z.number().nullish() });

/** https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy */
export const CleanupPolicySchema = z.object({
  id: z.string().nullish(),
  action: z.string().nullish(),
  condition: z
    .object({
      tagState: z.string().nullish(),
      tagPrefixes: z.array(z.string()).nullish(),
      versionNamePrefixes: z.array(z.string()).nullish(),
      packageNamePrefixes: z.array(z.string()).nullish(),
      olderThan: DurationSchema.nullish(),
      newerThan: DurationSchema.nullish(),
    })
    .nullish(),
  mostRecentVersions: z
    .object({
      packageNamePrefixes: z.array(z.string()).nullish(),
      keepCount: z.number().nullish(),
    })
    .nullish(),
});
export type CleanupPolicy = z.infer<typeof CleanupPolicySchema>;

export const RepositorySchema = z.object({
  /** `projects/<project>/locations/<location>/repositories/<repository>` */
  name: z.string().min(1),
  format: z.string(),
  /** STANDARD_REPOSITORY | REMOTE_REPOSITORY | VIRTUAL_REPOSITORY (MODE_UNSPECIFIED on old repositories). */
  mode: z.string().nullish(),
  /** Absent on repositories that never set it: immutable tags are then off. */
  dockerConfig: z.object({ immutableTags: z.boolean().nullish() }).nullish(),
  labels: z.record(z.string(), z.string()).nullish(),
  cleanupPolicies: z.record(z.string(), CleanupPolicySchema).nullish(),
  cleanupPolicyDryRun: z.boolean().nullish(),
  remoteRepositoryConfig: z
    .object({
      description: z.string().nullish(),
      dockerRepository: z
        .object({
          publicRepository: z.string().nullish(),
          customRepository: z.object({ uri: z.string().nullish() }).nullish(),
        })
        .nullish(),
      commonRepository: z.object({ uri: z.string().nullish() }).nullish(),
    })
    .nullish(),
  virtualRepositoryConfig: z
    .object({
      upstreamPolicies: z
        .array(z.object({ id: z.string().nullish(), repository: z.string().nullish(), priority: z.number().nullish() }))
        .nullish(),
    })
    .nullish(),
});
export type GarRepository = z.infer<typeof RepositorySchema>;

export const ListRepositoriesResponseSchema = z.object({
  repositories: z.array(z.unknown()).nullish(),
  nextPageToken: z.string().nullish(),
});

export const DockerImageSchema = z.object({
  /** `projects/<p>/locations/<l>/repositories/<r>/dockerImages/<url-encoded image>@<digest>` */
  name: z.string().min(1),
  uri: z.string().nullish(),
  tags: z.array(z.string()).nullish(),
  imageSizeBytes: int64.nullish(),
  uploadTime: TimestampSchema.nullish(),
  mediaType: z.string().nullish(),
  buildTime: TimestampSchema.nullish(),
  updateTime: TimestampSchema.nullish(),
});
export type DockerImage = z.infer<typeof DockerImageSchema>;

export const ListDockerImagesResponseSchema = z.object({
  dockerImages: z.array(z.unknown()).nullish(),
  nextPageToken: z.string().nullish(),
});

/** A Timestamp as a Date; null when absent or zero (proto3 default). */
export function timestampToDate(ts: Timestamp | null | undefined): Date | null {
  if (!ts) return null;
  const seconds = Number(ts.seconds);
  const ms = seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
  if (!Number.isFinite(ms) || ms === 0) return null;
  return new Date(ms);
}
