/**
 * Paged reads from Artifact Registry, one page per call, each page retried on its own.
 *
 * The pages are driven here (`autoPaginate: false`, following `next_page_token`) rather than with
 * the client's `listRepositoriesAsync` / `listDockerImagesAsync` iterators, for two reasons:
 * - those iterators stop silently, as if the listing had ended, after 10 consecutive empty pages
 *   that still carry a next-page token (google-gax `PageDescriptor`, `maxAttemptsEmptyResponse`).
 *   An empty page with a token is allowed by Google's pagination contract, and a listing that ends
 *   early would be taken for a complete one, which is the one thing a collector must never do.
 * - a failed page is retried by itself instead of restarting the repository from the first page.
 * https://google.aip.dev/158
 *
 * The generated list methods carry no retry settings of their own (the client config lists no retry
 * codes for them), and `retry: null` makes sure of it: retries happen here, once, with tagledger's
 * backoff, so they never double up with google-gax's.
 */
import type { ArtifactRegistryClient } from '@google-cloud/artifact-registry';
import type { Logger } from 'pino';
import { withRetry, type RetryPolicy } from '../../net/retry.js';
import { GarCallError, toGarError, type GarRetryableError } from './errors.js';
import { parseDockerImageName } from './names.js';
import {
  DockerImageSchema,
  ListDockerImagesResponseSchema,
  ListRepositoriesResponseSchema,
  RepositorySchema,
  timestampToDate,
  type GarRepository,
} from './schema.js';

/** The largest page both list methods accept. https://cloud.google.com/artifact-registry/docs/reference/rpc/google.devtools.artifactregistry.v1#listdockerimagesrequest */
export const MAX_PAGE_SIZE = 1000;

export interface GarCallContext {
  client: ArtifactRegistryClient;
  signal: AbortSignal;
  retryPolicy: RetryPolicy;
  /** Deadline of each call. */
  timeoutMs: number;
  pageSize: number;
  logger: Logger;
}

/** One docker image (one manifest digest) as tagledger keeps it. */
export interface GarImageVersion {
  image: string;
  digest: string;
  tags: string[];
  mediaType: string | null;
  uploadTime: Date | null;
  buildTime: Date | null;
  updateTime: Date | null;
  imageSizeBytes: number | null;
}

export async function listRepositories(ctx: GarCallContext, parent: string): Promise<GarRepository[]> {
  const repositories: GarRepository[] = [];
  await forEachPage(ctx, `GAR ListRepositories for ${parent}`, async (pageToken, options) => {
    const [, , response] = await ctx.client.listRepositories({ parent, pageSize: ctx.pageSize, pageToken }, options);
    const page = ListRepositoriesResponseSchema.safeParse(response);
    if (!page.success) throw new GarCallError(`GAR ListRepositories for ${parent}: malformed response: ${page.error.issues[0]?.message}`, null);
    for (const raw of page.data.repositories ?? []) {
      const repo = RepositorySchema.safeParse(raw);
      if (!repo.success) {
        const issue = repo.error.issues[0];
        throw new GarCallError(`GAR ListRepositories for ${parent}: malformed repository: ${issue?.path.join('.')}: ${issue?.message}`, null);
      }
      repositories.push(repo.data);
    }
    return page.data.nextPageToken ?? '';
  });
  return repositories;
}

/**
 * Every docker image of one GAR repository. `onImage` sees each image as its page arrives, so that a
 * caller can name the images of a listing that then fails.
 */
export async function listDockerImages(ctx: GarCallContext, parent: string, onImage?: (image: GarImageVersion) => void): Promise<GarImageVersion[]> {
  const images: GarImageVersion[] = [];
  const what = `GAR ListDockerImages for ${parent}`;
  await forEachPage(ctx, what, async (pageToken, options) => {
    const [, , response] = await ctx.client.listDockerImages({ parent, pageSize: ctx.pageSize, pageToken }, options);
    const page = ListDockerImagesResponseSchema.safeParse(response);
    if (!page.success) throw new GarCallError(`${what}: malformed response: ${page.error.issues[0]?.message}`, null);
    for (const raw of page.data.dockerImages ?? []) {
      const image = toImageVersion(raw, parent, what);
      images.push(image);
      onImage?.(image);
    }
    return page.data.nextPageToken ?? '';
  });
  return images;
}

function toImageVersion(raw: unknown, parent: string, what: string): GarImageVersion {
  const parsed = DockerImageSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GarCallError(`${what}: malformed docker image: ${issue?.path.join('.')}: ${issue?.message}`, null);
  }
  const d = parsed.data;
  const name = parseDockerImageName(d.name, parent);
  if (!name) throw new GarCallError(`${what}: docker image name ${JSON.stringify(d.name.slice(0, 300))} is not <repository>/dockerImages/<image>@<digest>`, null);
  const size = d.imageSizeBytes == null ? null : Number(d.imageSizeBytes);
  return {
    image: name.image,
    digest: name.digest,
    tags: d.tags ?? [],
    mediaType: d.mediaType || null,
    uploadTime: timestampToDate(d.uploadTime),
    buildTime: timestampToDate(d.buildTime),
    updateTime: timestampToDate(d.updateTime),
    imageSizeBytes: size !== null && Number.isFinite(size) ? size : null,
  };
}

type PageOptions = { autoPaginate: false; timeout: number; retry: null; signal: AbortSignal };

/**
 * Calls `fetchPage` from the first page until it returns an empty next-page token. Each page is
 * retried (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED) with backoff; any other failure, or
 * retries running out, ends the listing with a GarRetryableError or GarCallError.
 */
async function forEachPage(ctx: GarCallContext, what: string, fetchPage: (pageToken: string, options: PageOptions) => Promise<string>): Promise<void> {
  const options: PageOptions = { autoPaginate: false, timeout: ctx.timeoutMs, retry: null, signal: ctx.signal };
  const seenTokens = new Set<string>();
  let pageToken = '';
  for (let page = 1; ; page++) {
    ctx.signal.throwIfAborted();
    const next = await withRetry(
      async () => {
        try {
          return await fetchPage(pageToken, options);
        } catch (err) {
          ctx.signal.throwIfAborted();
          throw toGarError(err, page > 1 ? `${what} (page ${page})` : what);
        }
      },
      ctx.retryPolicy,
      ctx.signal,
      (err, delayMs, attempt) => ctx.logger.warn({ err: err.message, code: (err as GarRetryableError).code, delayMs, attempt: attempt + 1 }, 'Artifact Registry call failed; retrying'),
    );
    if (!next) return;
    if (seenTokens.has(next)) throw new GarCallError(`${what}: the service returned a page token it had already returned; listing abandoned`, null);
    seenTokens.add(next);
    pageToken = next;
  }
}
