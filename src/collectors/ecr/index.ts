/**
 * The Amazon ECR collector: reads every repository's tag-mutability settings and every tag's
 * digest through the AWS SDK, one complete repository at a time. See README.md.
 */
import { paginateDescribeImages, paginateDescribeRepositories, type ECRClient } from '@aws-sdk/client-ecr';
import type { ProtectionSettings } from '../../audit/protection.js';
import type { CollectorContext } from '../index.js';
import { mapBounded } from '../bounded.js';
import { repositoryFilter } from '../filter.js';
import { createInterner } from '../intern.js';
import { columnarObservation, sizedColumns, trimColumns } from '../columns.js';
import type { Collector, RepositoryResult } from '../types.js';
import { createEcrClient, type EcrClientOverrides } from './client.js';
import type { EcrTargetConfig } from './config.js';
import { awsErrorName, describeAwsError, isAbort, repositoryErrorCode, targetErrorCode } from './errors.js';
import { readAllPages } from './pages.js';
import { checkDescribeImagesPage, DescribeRepositoriesPage, EcrMutabilitySettings, type EcrImageDetail, type EcrRepository } from './schema.js';

export { ecrTargetSchema, type EcrTargetConfig } from './config.js';
export type { EcrClientOverrides } from './client.js';

/** The API's largest page: one call per 1000 repositories or images. */
const PAGE_SIZE = 1000;
const DEFAULT_CONCURRENCY = 4;

export function createEcrCollector(target: EcrTargetConfig, ctx: CollectorContext, overrides: EcrClientOverrides = {}): Collector {
  const logger = ctx.logger.child({ target: target.id, kind: 'ecr' });
  const filter = repositoryFilter(target.repositories);
  const concurrency = target.concurrency ?? DEFAULT_CONCURRENCY;

  return {
    kind: 'ecr',
    targetId: target.id,
    async *collect(signal: AbortSignal): AsyncIterable<RepositoryResult> {
      let client: ECRClient;
      try {
        client = createEcrClient(target, overrides);
      } catch (err) {
        yield { kind: 'error', repository: null, code: 'failed', cause: `ECR client for target "${target.id}": ${(err as Error).message}` };
        yield { kind: 'listing', complete: false };
        return;
      }
      try {
        let repositories: EcrRepository[];
        try {
          repositories = await listRepositories(client, target.registryId, signal);
        } catch (err) {
          if (isAbort(err, signal)) throw abortReason(signal, err);
          logger.debug({ error: awsErrorName(err) }, 'ECR repository listing failed');
          yield { kind: 'error', repository: null, code: targetErrorCode(err), cause: describeAwsError('DescribeRepositories', null, err) };
          yield { kind: 'listing', complete: false };
          return;
        }
        const selected = repositories.filter((r) => filter.matches(r.repositoryName));
        yield { kind: 'discovered', repositories: selected.length };

        // Reads run `concurrency` at a time and only as fast as the scan takes their results.
        const reads = mapBounded(selected, concurrency, (repo) => (signal.aborted ? Promise.reject(abortReason(signal)) : readRepository(client, target, repo, signal)));
        for await (const result of reads) yield result;
        yield { kind: 'listing', complete: true };
      } finally {
        client.destroy();
      }
    },
  };
}

async function listRepositories(client: ECRClient, registryId: string | undefined, signal: AbortSignal): Promise<EcrRepository[]> {
  const pages = await readAllPages(
    paginateDescribeRepositories({ client, pageSize: PAGE_SIZE }, registryId ? { registryId } : {}, { abortSignal: signal }),
    'DescribeRepositories',
  );
  const out: EcrRepository[] = [];
  for (const [i, page] of pages.entries()) {
    const parsed = DescribeRepositoriesPage.safeParse(page);
    if (!parsed.success) {
      const err = new Error(`page ${i + 1} is not a DescribeRepositories response: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
      err.name = 'UnexpectedResponse';
      throw err;
    }
    out.push(...parsed.data.repositories);
  }
  return out;
}

/** One repository, complete or as an error. Never throws except on abort. */
async function readRepository(client: ECRClient, target: EcrTargetConfig, repo: EcrRepository, signal: AbortSignal): Promise<RepositoryResult> {
  const name = repo.repositoryName;
  const settings = EcrMutabilitySettings.safeParse(repo);
  if (!settings.success) {
    return {
      kind: 'error',
      repository: name,
      code: 'failed',
      cause: `ECR DescribeRepositories for repository "${name}": unsupported tag mutability settings (imageTagMutability ${JSON.stringify(repo.imageTagMutability)}, filters ${JSON.stringify(repo.imageTagMutabilityExclusionFilters ?? [])})`,
    };
  }
  const protection: ProtectionSettings = {
    kind: 'ecr',
    mode: settings.data.imageTagMutability,
    filters: settings.data.imageTagMutabilityExclusionFilters.map((f) => f.filter),
  };

  let images: EcrImageDetail[];
  let pages: number;
  try {
    ({ images, pages } = await describeAllImages(client, repo, signal));
  } catch (err) {
    if (isAbort(err, signal)) throw abortReason(signal, err);
    return { kind: 'error', repository: name, code: repositoryErrorCode(err), cause: describeAwsError('DescribeImages', name, err) };
  }

  // The tags as columns (see columns.ts): a re-scan that finds nothing changed hashes them and
  // throws them away without ever building an object per tag.
  let listed = 0;
  for (const image of images) listed += image.imageTags?.length ?? 0;
  const tags = sizedColumns(EVIDENCE, listed);
  const [status, size, artifact] = tags.extra;
  // A tag on two images can only come from paging through a repository that changed meanwhile:
  // one page is one answer, in which ECR lists each tag once. The tags of a repository read in one
  // page are not checked here, saving a map of every tag; validateObservation still refuses a tag
  // listed twice with two digests before anything is stored.
  const seen = pages > 1 ? new Map<string, string>() : null;
  const mediaTypes = createInterner();
  const statuses = createInterner();
  const artifactTypes = createInterner();
  for (const image of images) {
    const imageTags = image.imageTags;
    if (!imageTags) continue;
    const digest = image.imageDigest;
    for (const tag of imageTags) {
      if (seen) {
        const other = seen.get(tag);
        if (other !== undefined && other !== digest) {
          // A tag on two images in one listing: the repository changed while it was paged through.
          // Failing it (and reading it again next scan) beats recording a move that did not happen.
          return {
            kind: 'error',
            repository: name,
            code: 'failed',
            cause: `ECR DescribeImages for repository "${name}": tag "${tag}" was listed on two images (${other}, ${digest}); the repository changed during the scan`,
          };
        }
        if (other !== undefined) continue;
        seen.set(tag, digest);
      }
      const i = tags.count++;
      tags.names[i] = tag;
      tags.digests[i] = digest;
      tags.mediaTypes[i] = mediaTypes(image.imageManifestMediaType ?? null);
      tags.pushedAt[i] = image.imagePushedAt ? image.imagePushedAt.getTime() : NaN;
      // Every tag's evidence: imageStatus, imageSizeInBytes and artifactMediaType where ECR gives them.
      tags.hasExtra[i] = 1;
      status[i] = statuses(image.imageStatus);
      size[i] = image.imageSizeInBytes;
      artifact[i] = artifactTypes(image.artifactMediaType);
    }
  }

  return {
    kind: 'observed',
    observation: columnarObservation(
      {
        repository: name,
        pullReference: pullReference(repo.registryId, target.region, name),
        protection,
        raw: rawSettings(repo),
      },
      trimColumns(tags),
    ),
  };
}

/**
 * Every TAGGED image, whatever its status: without `imageStatus: ANY`, DescribeImages returns
 * only ACTIVE images, and archived images (which keep their tags) would look deleted
 * (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImagesFilter.html).
 */
async function describeAllImages(client: ECRClient, repo: EcrRepository, signal: AbortSignal): Promise<{ images: EcrImageDetail[]; pages: number }> {
  const what = `DescribeImages for repository "${repo.repositoryName}"`;
  const pages = await readAllPages(
    paginateDescribeImages(
      { client, pageSize: PAGE_SIZE },
      { repositoryName: repo.repositoryName, registryId: repo.registryId, filter: { tagStatus: 'TAGGED', imageStatus: 'ANY' } },
      { abortSignal: signal },
    ),
    what,
  );
  const lists: EcrImageDetail[][] = [];
  for (const [i, page] of pages.entries()) {
    const parsed = checkDescribeImagesPage(page);
    if (!parsed.success) {
      const err = new Error(`page ${i + 1} is not a DescribeImages response: ${parsed.issues.join('; ')}`);
      err.name = 'UnexpectedResponse';
      throw err;
    }
    lists.push(parsed.data.imageDetails);
  }
  // One page (up to 1000 images, most repositories) is handed on as the SDK gave it.
  return { images: lists.length === 1 ? lists[0] : lists.flat(), pages: pages.length };
}

/**
 * `<registryId>.dkr.ecr.<region>.amazonaws.com/<name>`
 * (https://docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html); China regions use
 * `amazonaws.com.cn`.
 */
export function pullReference(registryId: string, region: string, name: string): string {
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `${registryId}.dkr.ecr.${region}.${domain}/${name}`;
}

/** The repository's settings as ECR reported them, kept as evidence (nothing secret in them). */
function rawSettings(repo: EcrRepository): Record<string, unknown> {
  return compact({
    repositoryArn: repo.repositoryArn,
    registryId: repo.registryId,
    repositoryName: repo.repositoryName,
    repositoryUri: repo.repositoryUri,
    createdAt: repo.createdAt?.toISOString(),
    imageTagMutability: repo.imageTagMutability,
    imageTagMutabilityExclusionFilters: repo.imageTagMutabilityExclusionFilters?.map((f) => ({ filterType: f.filterType, filter: f.filter })),
    imageScanningConfiguration: repo.imageScanningConfiguration,
    encryptionConfiguration: repo.encryptionConfiguration,
  });
}

/** The evidence kept for every tag, in this member order. */
const EVIDENCE = ['imageStatus', 'imageSizeInBytes', 'artifactMediaType'] as const;

function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function abortReason(signal: AbortSignal, err?: unknown): unknown {
  return signal.reason ?? err ?? new DOMException('The operation was aborted', 'AbortError');
}
