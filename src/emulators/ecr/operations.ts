/**
 * The ECR API operations the emulator answers, with ECR's wire shapes (AWS JSON 1.1): request and
 * response members as in the API reference, timestamps as epoch seconds, page sizes 1..1000 with
 * 100 as the default when `maxResults` is absent, and opaque `nextToken`s.
 *
 * https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeRepositories.html
 * https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html
 * https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ListImages.html
 * https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImageTagMutability.html
 */
import { createHmac, randomBytes } from 'node:crypto';
import { EcrApiError, validateMutability, type EcrEstate, type EmulatedImage, type EmulatedRepository } from './estate.js';

export type EcrOperation = 'DescribeRepositories' | 'DescribeImages' | 'ListImages' | 'PutImageTagMutability';
export const ECR_OPERATIONS: readonly EcrOperation[] = ['DescribeRepositories', 'DescribeImages', 'ListImages', 'PutImageTagMutability'];

type Json = Record<string, unknown>;

export interface OperationContext {
  estate: EcrEstate;
  region: string;
  /** The caller, for AccessDenied messages. */
  accessKeyId: string;
  tokens: PageTokens;
}

/** Epoch seconds, fractional, as AWS JSON protocols encode timestamps. */
const epoch = (d: Date): number => d.getTime() / 1000;

/** Opaque, tamper-evident page tokens bound to one operation and one repository. */
export class PageTokens {
  private readonly key = randomBytes(16);

  issue(scope: string, offset: number): string {
    const payload = Buffer.from(JSON.stringify({ s: scope, o: offset, n: randomBytes(6).toString('hex') })).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  /** The offset a token stands for; InvalidParameterException when it is not one of ours for `scope`. */
  read(token: unknown, scope: string): number {
    if (typeof token !== 'string') throw invalidToken();
    const [payload, mac] = token.split('.');
    if (!payload || mac !== this.sign(payload)) throw invalidToken();
    const data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { s: string; o: number };
    if (data.s !== scope) throw invalidToken();
    return data.o;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url').slice(0, 22);
  }
}

function invalidToken(): EcrApiError {
  return new EcrApiError('InvalidParameterException', `Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'`);
}

function pageSize(body: Json): number {
  const m = body.maxResults;
  if (m === undefined || m === null) return 100;
  if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > 1000) {
    throw new EcrApiError(
      'InvalidParameterException',
      `Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value ${typeof m === 'number' && m > 1000 ? 'less than or equal to 1000' : 'greater than or equal to 1'}'`,
    );
  }
  return m;
}

function paginate<T>(items: T[], body: Json, scope: string, tokens: PageTokens): { page: T[]; nextToken?: string } {
  const size = pageSize(body);
  const start = body.nextToken === undefined || body.nextToken === null ? 0 : tokens.read(body.nextToken, scope);
  const page = items.slice(start, start + size);
  const end = start + page.length;
  return end < items.length ? { page, nextToken: tokens.issue(scope, end) } : { page };
}

function requireString(body: Json, member: string): string {
  const v = body[member];
  if (typeof v !== 'string' || v === '') {
    throw new EcrApiError('InvalidParameterException', `Invalid parameter at '${member}' failed to satisfy constraint: 'Member must not be null'`);
  }
  return v;
}

function optionalRegistryId(body: Json): string | undefined {
  const v = body.registryId;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !/^[0-9]{12}$/.test(v)) {
    throw new EcrApiError('InvalidParameterException', `Invalid parameter at 'registryId' failed to satisfy constraint: 'Member must satisfy regular expression pattern: [0-9]{12}'`);
  }
  return v;
}

function repositoryArn(ctx: OperationContext, repo: EmulatedRepository): string {
  return `arn:aws:ecr:${ctx.region}:${repo.registryId}:repository/${repo.name}`;
}

function readableRepository(ctx: OperationContext, body: Json, action: string): EmulatedRepository {
  const name = requireString(body, 'repositoryName');
  const repo = ctx.estate.repository(name, optionalRegistryId(body));
  if (repo.denied) {
    throw new EcrApiError(
      'AccessDeniedException',
      `User: arn:aws:iam::${ctx.estate.defaultRegistryId}:user/${ctx.accessKeyId} is not authorized to perform: ecr:${action} on resource: ${repositoryArn(ctx, repo)} with an explicit deny in an identity-based policy`,
    );
  }
  return repo;
}

function repositoryJson(ctx: OperationContext, repo: EmulatedRepository): Json {
  const out: Json = {
    repositoryArn: repositoryArn(ctx, repo),
    registryId: repo.registryId,
    repositoryName: repo.name,
    repositoryUri: `${repo.registryId}.dkr.ecr.${ctx.region}.amazonaws.com/${repo.name}`,
    createdAt: epoch(repo.createdAt),
    imageTagMutability: repo.mutability,
    imageScanningConfiguration: { scanOnPush: repo.scanOnPush },
    encryptionConfiguration: { encryptionType: 'AES256' },
  };
  if (repo.filters.length) out.imageTagMutabilityExclusionFilters = repo.filters.map((filter) => ({ filterType: 'WILDCARD', filter }));
  return out;
}

interface ImageFilter {
  tagStatus: 'TAGGED' | 'UNTAGGED' | 'ANY';
  imageStatus: 'ACTIVE' | 'ARCHIVED' | 'ACTIVATING' | 'ANY';
}

/**
 * `filter.imageStatus` defaults to ACTIVE: without `ANY`, archived images (which keep their tags)
 * are left out of DescribeImages and ListImages.
 */
function imageFilter(body: Json): ImageFilter {
  const f = (body.filter ?? {}) as Json;
  const tagStatus = f.tagStatus ?? 'ANY';
  const imageStatus = f.imageStatus ?? 'ACTIVE';
  if (!['TAGGED', 'UNTAGGED', 'ANY'].includes(tagStatus as string)) {
    throw new EcrApiError('InvalidParameterException', `Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: 'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]'`);
  }
  if (!['ACTIVE', 'ARCHIVED', 'ACTIVATING', 'ANY'].includes(imageStatus as string)) {
    throw new EcrApiError('InvalidParameterException', `Invalid parameter at 'filter.imageStatus' failed to satisfy constraint: 'Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]'`);
  }
  return { tagStatus, imageStatus } as ImageFilter;
}

function selectImages(repo: EmulatedRepository, f: ImageFilter): EmulatedImage[] {
  return [...repo.images.values()].filter(
    (img) =>
      (f.tagStatus === 'ANY' || (f.tagStatus === 'TAGGED') === img.tags.length > 0) &&
      (f.imageStatus === 'ANY' || img.status === f.imageStatus),
  );
}

function imageDetailJson(repo: EmulatedRepository, img: EmulatedImage): Json {
  const out: Json = {
    registryId: repo.registryId,
    repositoryName: repo.name,
    imageDigest: img.digest,
    imageSizeInBytes: img.sizeInBytes,
    imagePushedAt: epoch(img.pushedAt),
    imageManifestMediaType: img.manifestMediaType,
    artifactMediaType: img.artifactMediaType,
    imageStatus: img.status,
  };
  if (img.tags.length) out.imageTags = [...img.tags];
  if (img.lastArchivedAt) out.lastArchivedAt = epoch(img.lastArchivedAt);
  return out;
}

export function describeRepositories(ctx: OperationContext, body: Json): Json {
  const registryId = optionalRegistryId(body);
  const names = body.repositoryNames;
  if (names !== undefined && names !== null) {
    if (!Array.isArray(names) || names.length < 1 || names.length > 100) {
      throw new EcrApiError('InvalidParameterException', `Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'Member must have length between 1 and 100'`);
    }
    // "This option cannot be used when you specify repositories with repositoryNames."
    if (body.maxResults !== undefined || body.nextToken !== undefined) {
      throw new EcrApiError('InvalidParameterException', 'Invalid parameter: maxResults and nextToken cannot be used with repositoryNames');
    }
    return { repositories: names.map((n) => repositoryJson(ctx, ctx.estate.repository(String(n), registryId))) };
  }
  const all = ctx.estate.repositories(registryId);
  const { page, nextToken } = paginate(all, body, `DescribeRepositories:${registryId ?? ctx.estate.defaultRegistryId}`, ctx.tokens);
  return { repositories: page.map((r) => repositoryJson(ctx, r)), ...(nextToken ? { nextToken } : {}) };
}

export function describeImages(ctx: OperationContext, body: Json): Json {
  const repo = readableRepository(ctx, body, 'DescribeImages');
  if (Array.isArray(body.imageIds)) {
    if (body.maxResults !== undefined || body.nextToken !== undefined) {
      throw new EcrApiError('InvalidParameterException', 'Invalid parameter: maxResults and nextToken cannot be used with imageIds');
    }
    const details = body.imageIds.map((id: { imageDigest?: string; imageTag?: string }) => {
      const digest = id.imageDigest ?? (id.imageTag !== undefined ? repo.tagIndex.get(id.imageTag) : undefined);
      const img = digest ? repo.images.get(digest) : undefined;
      if (!img) {
        throw new EcrApiError('ImageNotFoundException', `The image with imageId {imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'} does not exist within the repository with name '${repo.name}' in the registry with id '${repo.registryId}'`);
      }
      return imageDetailJson(repo, img);
    });
    return { imageDetails: details };
  }
  const images = selectImages(repo, imageFilter(body));
  const { page, nextToken } = paginate(images, body, `DescribeImages:${repo.registryId}/${repo.name}`, ctx.tokens);
  return { imageDetails: page.map((img) => imageDetailJson(repo, img)), ...(nextToken ? { nextToken } : {}) };
}

export function listImages(ctx: OperationContext, body: Json): Json {
  const repo = readableRepository(ctx, body, 'ListImages');
  const ids: Json[] = [];
  for (const img of selectImages(repo, imageFilter(body))) {
    if (img.tags.length === 0) ids.push({ imageDigest: img.digest });
    for (const t of img.tags) ids.push({ imageDigest: img.digest, imageTag: t });
  }
  const { page, nextToken } = paginate(ids, body, `ListImages:${repo.registryId}/${repo.name}`, ctx.tokens);
  return { imageIds: page, ...(nextToken ? { nextToken } : {}) };
}

export function putImageTagMutability(ctx: OperationContext, body: Json): Json {
  const name = requireString(body, 'repositoryName');
  const repo = ctx.estate.repository(name, optionalRegistryId(body));
  // Validate the whole request before changing anything.
  const { mode, filters } = validateMutability(body.imageTagMutability, body.imageTagMutabilityExclusionFilters);
  repo.mutability = mode;
  repo.filters = filters;
  const out: Json = { registryId: repo.registryId, repositoryName: repo.name, imageTagMutability: repo.mutability };
  if (repo.filters.length) out.imageTagMutabilityExclusionFilters = repo.filters.map((filter) => ({ filterType: 'WILDCARD', filter }));
  return out;
}

export const operations: Record<EcrOperation, (ctx: OperationContext, body: Json) => Json> = {
  DescribeRepositories: describeRepositories,
  DescribeImages: describeImages,
  ListImages: listImages,
  PutImageTagMutability: putImageTagMutability,
};
