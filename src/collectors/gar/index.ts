/**
 * Google Artifact Registry collector: reads each DOCKER repository's settings and every docker image
 * (digest and tags) through `@google-cloud/artifact-registry` over gRPC. See README.md.
 *
 * Each GAR image is one tagledger repository (`<location>/<gar-repository>/<image>`). A GAR
 * repository lists all its images in one paged stream, so its images are grouped and yielded only
 * after the whole stream was read; a failure part-way yields errors instead, for every image of that
 * repository, and makes the listing incomplete (its unseen images must not be called gone).
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ArtifactRegistryClient } from '@google-cloud/artifact-registry';
import type { Logger } from 'pino';
import { defaultRetryPolicy, RetryableError, type RetryPolicy } from '../../net/retry.js';
import { repositoryFilter, type RepositoryFilter } from '../filter.js';
import type { CollectorContext } from '../index.js';
import type { Collector, RepositoryErrorCode, RepositoryResult, TagObservation } from '../types.js';
import { mapBounded } from './bounded.js';
import { createArtifactRegistryClient } from './client.js';
import type { GarTargetConfig } from './config.js';
import { GarCallError, GarRetryableError, isDenial, toGarError } from './errors.js';
import { listDockerImages, listRepositories, MAX_PAGE_SIZE, type GarCallContext, type GarImageVersion } from './listing.js';
import { garRepositoryPath, GarScope, locationParent, parseRepositoryName, pullReference, tagledgerRepositoryName, type GarRepositoryRef } from './names.js';
import type { GarRepository } from './schema.js';
import { protectionOf, repositoryEvidence, type GarRepositoryEvidence } from './settings.js';

export { garTargetSchema, type GarTargetConfig } from './config.js';

export interface GarCollectorOptions {
  retryPolicy?: RetryPolicy;
  /** Deadline of each call (default 60 s, the client's own default). */
  timeoutMs?: number;
  /** Page size of both list methods (default and maximum 1000). */
  pageSize?: number;
}

/**
 * GAR repositories read at once. Each reads its pages one after another, so a scan makes at most
 * this many calls at a time: far inside the 60,000 requests a minute per project and region.
 * https://cloud.google.com/artifact-registry/quotas
 */
const DEFAULT_CONCURRENCY = 4;

/** Re-reads of a repository whose listing changed while it was read (a tag on two digests). */
const CONSISTENCY_ATTEMPTS = 3;

export function createGarCollector(target: GarTargetConfig, ctx: CollectorContext, options: GarCollectorOptions = {}): Collector {
  const open = new Set<ArtifactRegistryClient>();
  return {
    kind: 'gar',
    targetId: target.id,
    async *collect(signal: AbortSignal): AsyncGenerator<RepositoryResult> {
      const log = ctx.logger.child({ collector: 'gar', target: target.id });
      let client: ArtifactRegistryClient;
      let address: string;
      try {
        ({ client, address } = createArtifactRegistryClient(target));
      } catch (err) {
        yield { kind: 'error', repository: null, code: 'failed', cause: `GAR client for project "${target.project}": ${err instanceof Error ? err.message : String(err)}` };
        yield { kind: 'listing', complete: false };
        return;
      }
      open.add(client);
      try {
        const call: GarCallContext = {
          client,
          signal,
          retryPolicy: options.retryPolicy ?? defaultRetryPolicy,
          timeoutMs: options.timeoutMs ?? 60_000,
          pageSize: Math.min(options.pageSize ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE),
          logger: log,
        };
        log.debug({ address, locations: target.locations }, 'reading Artifact Registry');
        yield* collectTarget(target, call, log);
      } finally {
        open.delete(client);
        await client.close().catch(() => undefined);
      }
    },
    async close() {
      const clients = [...open];
      open.clear();
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    },
  };
}

async function* collectTarget(target: GarTargetConfig, call: GarCallContext, log: Logger): AsyncGenerator<RepositoryResult> {
  const scope = new GarScope(target.repositories);
  const filter = repositoryFilter(target.repositories);
  let complete = true;

  // 1. The DOCKER repositories of every location. A location that cannot be listed is a target-level
  //    error: its repositories are unknown, so the listing is incomplete.
  const repositories: Array<{ ref: GarRepositoryRef; repo: GarRepository }> = [];
  for (const location of target.locations) {
    if (!scope.locationMayMatch(location)) continue;
    const parent = locationParent(target.project, location);
    try {
      const listed = await listRepositories(call, parent);
      let skipped = 0;
      for (const repo of listed) {
        const ref = parseRepositoryName(repo.name);
        if (!ref || ref.location !== location) {
          throw new GarCallError(`GAR ListRepositories for ${parent}: unexpected repository name ${JSON.stringify(repo.name.slice(0, 300))}`, null);
        }
        // Only Docker repositories hold container images; the other formats are not registries.
        if (repo.format !== 'DOCKER') skipped += 1;
        else if (scope.repositoryMayMatch(location, ref.repository)) repositories.push({ ref: { ...ref, project: target.project }, repo });
      }
      log.debug({ location, repositories: listed.length, notDocker: skipped }, 'listed repositories');
    } catch (err) {
      call.signal.throwIfAborted();
      const e = toGarError(err, `GAR ListRepositories for ${parent}`);
      complete = false;
      yield { kind: 'error', repository: null, code: isDenial(e.code) ? 'denied' : 'failed', cause: finalMessage(e, call.retryPolicy) };
      // Bad credentials fail every call alike: stop rather than repeat the same error per location.
      if (e.code === GrpcStatus.UNAUTHENTICATED) break;
    }
  }

  // 2. Each repository's images, a few repositories at a time.
  let discovered = 0;
  const concurrency = target.concurrency ?? DEFAULT_CONCURRENCY;
  for await (const outcome of mapBounded(repositories, concurrency, ({ ref, repo }) => readRepository(call, ref, repo, filter, log))) {
    for (const result of outcome.results) yield result;
    if (!outcome.complete) complete = false;
    if (outcome.discovered > 0) {
      discovered += outcome.discovered;
      yield { kind: 'discovered', repositories: discovered };
    }
  }
  yield { kind: 'listing', complete };
}

interface RepositoryOutcome {
  results: RepositoryResult[];
  /** false: some images of this GAR repository may exist unseen. */
  complete: boolean;
  discovered: number;
}

/** Thrown when a listing contradicts itself; the repository is read again from the first page. */
class ListingChangedError extends RetryableError {}

async function readRepository(call: GarCallContext, ref: GarRepositoryRef, repo: GarRepository, filter: RepositoryFilter, log: Logger): Promise<RepositoryOutcome> {
  const evidence = repositoryEvidence(repo);
  const seen = new Set<string>();
  const parent = repo.name;
  try {
    let images: Map<string, TagObservation[]> | undefined;
    for (let attempt = 1; !images; attempt++) {
      const versions = await listDockerImages(call, parent, (v) => seen.add(v.image));
      try {
        images = groupByImage(versions, parent);
      } catch (err) {
        if (!(err instanceof ListingChangedError) || attempt >= CONSISTENCY_ATTEMPTS) throw err;
        log.warn({ repository: garRepositoryPath(ref), reason: err.message }, 'listing changed while it was read; reading it again');
      }
    }
    if (evidence.cleanupDeletesTaggedImages.length > 0) {
      log.info({ repository: garRepositoryPath(ref), policies: evidence.cleanupDeletesTaggedImages }, 'cleanup policies of this repository can delete tagged images');
    }
    const protection = protectionOf(evidence);
    const results: RepositoryResult[] = [];
    for (const [image, tags] of [...images.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const name = tagledgerRepositoryName(ref, image);
      if (!filter.matches(name)) continue;
      results.push({
        kind: 'observed',
        observation: { repository: name, pullReference: pullReference(ref, image), protection, tags, raw: evidence satisfies GarRepositoryEvidence },
      });
    }
    return { results, complete: true, discovered: results.length };
  } catch (err) {
    call.signal.throwIfAborted();
    const e = err instanceof ListingChangedError ? new GarCallError(`GAR ListDockerImages for ${parent}: ${err.message}`, null) : toGarError(err, `GAR ListDockerImages for ${parent}`);
    // NOT_FOUND for a repository that was just listed: it was deleted in between. Without access
    // Artifact Registry answers PERMISSION_DENIED ("or it may not exist") instead.
    const code: RepositoryErrorCode = e.code === GrpcStatus.NOT_FOUND ? 'vanished' : isDenial(e.code) ? 'denied' : 'failed';
    const names = [...seen].map((image) => tagledgerRepositoryName(ref, image)).filter((n) => filter.matches(n)).sort();
    const cause = finalMessage(e, call.retryPolicy);
    const results: RepositoryResult[] = (names.length > 0 ? names : [garRepositoryPath(ref)]).map((repository) => ({ kind: 'error', repository, code, cause }));
    return { results, complete: false, discovered: 0 };
  }
}

/** A retryable failure that is reported has used up its retries: say so. */
function finalMessage(e: GarCallError | GarRetryableError, policy: RetryPolicy): string {
  return e instanceof GarRetryableError ? `${e.message} (gave up after ${policy.attempts} attempts)` : e.message;
}

/** The tag lists of each image; a tag on two digests of one image means the listing changed under us. */
function groupByImage(versions: GarImageVersion[], parent: string): Map<string, TagObservation[]> {
  const byImage = new Map<string, Map<string, TagObservation>>();
  for (const v of versions) {
    let tags = byImage.get(v.image);
    if (!tags) byImage.set(v.image, (tags = new Map()));
    for (const tag of v.tags) {
      const prev = tags.get(tag);
      if (prev && prev.digest !== v.digest) {
        throw new ListingChangedError(`tag "${tag}" of image "${v.image}" was listed on two digests (${prev.digest}, ${v.digest}) in ${parent}: the repository changed while it was read`);
      }
      tags.set(tag, {
        tag,
        digest: v.digest,
        mediaType: v.mediaType,
        pushedAt: v.uploadTime,
        extra: {
          uploadTime: v.uploadTime?.toISOString() ?? null,
          buildTime: v.buildTime?.toISOString() ?? null,
          updateTime: v.updateTime?.toISOString() ?? null,
          imageSizeBytes: v.imageSizeBytes,
        },
      });
    }
  }
  const out = new Map<string, TagObservation[]>();
  for (const [image, tags] of byImage) out.set(image, [...tags.values()].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0)));
  return out;
}
