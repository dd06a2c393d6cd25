/**
 * The Harbor collector: lists projects, each project's immutable-tag rules and repositories, and
 * every tagged artifact of each repository through Harbor's REST API v2.0. One complete repository
 * at a time, or an error for it. See README.md for what is read and why.
 */
import pLimit from 'p-limit';
import picomatch from 'picomatch';
import type { ProtectionSettings } from '../../audit/protection.js';
import type { RetryPolicy } from '../../net/retry.js';
import { repositoryFilter } from '../filter.js';
import type { CollectorContext } from '../index.js';
import type { Collector, RepositoryErrorCode, RepositoryResult, TagObservation } from '../types.js';
import { HarborApiError, HarborClient, HarborListingChangedError, HarborUnavailableError } from './client.js';
import type { HarborTargetConfig } from './config.js';
import { nameInProject, paths } from './paths.js';
import { normaliseRules, rawRules, type NormalisedRules } from './rules.js';
import { HarborArtifact, HarborImmutableRuleDoc, HarborProject, HarborRepository, HarborTag } from './schema.js';

export { harborTargetSchema, type HarborTargetConfig } from './config.js';

const DEFAULT_CONCURRENCY = 4;
/** Reading a repository again when its listing changed under us, before reporting it failed. */
const CONSISTENT_READ_ATTEMPTS = 3;
/** This many repositories in a row failing with the registry unreachable ends the scan of the target. */
const UNAVAILABLE_STREAK_LIMIT = 3;
/**
 * An artifact listing that embeds this many tags (or more) for one artifact is completed through the
 * artifact's own paged tags endpoint: the swagger documents no limit on the tags embedded in
 * `GET .../artifacts`, but nothing in the response says the list is whole either (see README.md).
 */
export const DEFAULT_TAG_RECHECK_THRESHOLD = 10;

export interface HarborCollectorOptions {
  retryPolicy?: RetryPolicy;
  timeoutMs?: number;
  /** See DEFAULT_TAG_RECHECK_THRESHOLD. */
  tagRecheckThreshold?: number;
}

export function createHarborCollector(target: HarborTargetConfig, ctx: CollectorContext, options: HarborCollectorOptions = {}): Collector {
  const logger = ctx.logger.child({ target: target.id, kind: 'harbor' });
  const repoFilter = repositoryFilter(target.repositories);
  const projectFilter = target.projects ? picomatch(target.projects, { dot: true }) : () => true;
  const concurrency = target.concurrency ?? DEFAULT_CONCURRENCY;
  const threshold = options.tagRecheckThreshold ?? DEFAULT_TAG_RECHECK_THRESHOLD;
  const host = new URL(target.url).host;

  return {
    kind: 'harbor',
    targetId: target.id,
    async *collect(signal: AbortSignal): AsyncIterable<RepositoryResult> {
      let client: HarborClient;
      try {
        client = new HarborClient({
          url: target.url,
          username: target.username,
          password: target.password,
          caFile: target.caFile,
          insecureSkipTlsVerify: target.insecureSkipTlsVerify,
          maxSockets: concurrency,
          timeoutMs: options.timeoutMs,
          retryPolicy: options.retryPolicy,
          onRetry: (what, message, delayMs) => logger.debug({ what, delayMs, reason: message }, 'retrying Harbor request'),
        });
      } catch (err) {
        yield { kind: 'error', repository: null, code: 'failed', cause: `Harbor target "${target.id}": ${(err as Error).message}` };
        yield { kind: 'listing', complete: false };
        return;
      }

      let projects: HarborProject[];
      try {
        projects = await consistently(() => client.listAll(paths.projects(), {}, HarborProject, 'Harbor projects list', signal));
      } catch (err) {
        rethrowIfAborted(err, signal);
        yield { kind: 'error', repository: null, code: targetErrorCode(err), cause: message(err) };
        yield { kind: 'listing', complete: false };
        return;
      }

      let complete = true;
      let discovered = 0;
      let unavailableStreak = 0;
      for (const project of projects.filter((p) => projectFilter(p.name))) {
        rethrowIfAborted(null, signal);
        const listed = await listProject(client, project.name, signal).catch((err: unknown) => {
          rethrowIfAborted(err, signal);
          return { error: err };
        });
        if ('error' in listed) {
          // Without the project's repository list nothing of it can be named, so the error names the
          // project, and the listing is incomplete: its repositories must not be taken for gone.
          complete = false;
          yield { kind: 'error', repository: project.name, code: projectErrorCode(listed.error), cause: message(listed.error) };
          if (listed.error instanceof HarborUnavailableError && ++unavailableStreak >= UNAVAILABLE_STREAK_LIMIT) {
            yield* giveUp(listed.error);
            return;
          }
          continue;
        }
        const repositories = listed.repositories.filter((r) => repoFilter.matches(r.name));
        discovered += repositories.length;
        yield { kind: 'discovered', repositories: discovered };

        const limit = pLimit(concurrency);
        const reads = repositories.map((repo) =>
          limit(() => {
            signal.throwIfAborted();
            return readRepository(client, { project: project.name, name: repo.name, artifactCount: repo.artifact_count ?? null, rules: listed.rules, host, threshold }, signal);
          }),
        );
        try {
          for await (const result of inCompletionOrder(reads)) {
            if (result.kind === 'observed') {
              unavailableStreak = 0;
              yield result;
              continue;
            }
            yield { kind: 'error', repository: result.repository, code: result.code, cause: result.cause };
            if (!result.unavailable) unavailableStreak = 0;
            else if (++unavailableStreak >= UNAVAILABLE_STREAK_LIMIT) {
              limit.clearQueue();
              yield* giveUp(new HarborUnavailableError(result.cause));
              return;
            }
          }
        } catch (err) {
          limit.clearQueue();
          rethrowIfAborted(err, signal);
          throw err;
        }
      }
      yield { kind: 'listing', complete };
    },
  };
}

async function* giveUp(err: HarborUnavailableError): AsyncGenerator<RepositoryResult> {
  yield { kind: 'error', repository: null, code: 'failed', cause: `Harbor stopped answering; scan abandoned: ${err.message}` };
  yield { kind: 'listing', complete: false };
}

interface ListedProject {
  repositories: HarborRepository[];
  /** The project's rules, or why they could not be read (then no repository of it can be judged). */
  rules: { ok: true; rules: NormalisedRules; raw: unknown[] } | { ok: false; error: unknown };
}

/**
 * The project's immutable-tag rules and its repositories. The rules endpoint takes a name OR an id
 * (`project_name_or_id`); `X-Is-Resource-Name: true` makes Harbor read it as a name even when the
 * name is all digits (swagger parameter `isResourceName`).
 */
async function listProject(client: HarborClient, project: string, signal: AbortSignal): Promise<ListedProject> {
  let rules: ListedProject['rules'];
  try {
    const docs = await consistently(() =>
      client.listAll(paths.immutableRules(project), {}, HarborImmutableRuleDoc, `Harbor immutable tag rules of project "${project}"`, signal, { 'X-Is-Resource-Name': 'true' }),
    );
    rules = { ok: true, rules: normaliseRules(docs), raw: rawRules(docs) };
  } catch (err) {
    rethrowIfAborted(err, signal);
    if (err instanceof HarborUnavailableError) throw err;
    rules = { ok: false, error: err };
  }
  const repositories = await consistently(() => client.listAll(paths.repositories(project), {}, HarborRepository, `Harbor repositories of project "${project}"`, signal));
  return { repositories, rules };
}

type ReadResult = Extract<RepositoryResult, { kind: 'observed' }> | { kind: 'error'; repository: string; code: RepositoryErrorCode; cause: string; unavailable: boolean };

interface RepositoryToRead {
  project: string;
  name: string;
  /** Artifacts the repository listing counted, when it said. */
  artifactCount: number | null;
  rules: ListedProject['rules'];
  host: string;
  threshold: number;
}

/** One repository, complete or as an error. Throws only on abort. */
async function readRepository(client: HarborClient, r: RepositoryToRead, signal: AbortSignal): Promise<ReadResult> {
  const inProject = nameInProject(r.project, r.name);
  if (inProject === null) {
    return { kind: 'error', repository: r.name, code: 'failed', cause: `Harbor repositories of project "${r.project}": repository "${r.name}" is not named under the project`, unavailable: false };
  }
  if (!r.rules.ok) {
    // Without the rules no tag can be judged; reporting tags with unknown protection would read as
    // "not protected". The robot account needs the "list immutable tag rules" permission.
    const err = r.rules.error;
    return { kind: 'error', repository: r.name, code: repositoryErrorCode(err), cause: `cannot judge protection without the project's rules: ${message(err)}`, unavailable: false };
  }
  const protection: ProtectionSettings = { kind: 'harbor', project: r.project, repositoryInProject: inProject, rules: r.rules.rules.rules };

  let lastChange: HarborListingChangedError | null = null;
  for (let attempt = 0; attempt < CONSISTENT_READ_ATTEMPTS; attempt++) {
    try {
      const tags = await readTags(client, r.project, inProject, r.threshold, signal, r.artifactCount);
      if (tags === null) {
        // Harbor lists the artifacts of a repository that no longer exists as an empty list, without
        // a 404: one listed with artifacts and read as empty was deleted in between. Like a 404, that
        // is "vanished"; the next complete listing calls it gone.
        return { kind: 'error', repository: r.name, code: 'vanished', cause: `Harbor artifacts of repository "${r.name}": listed with ${r.artifactCount} artifact(s), then read as empty (deleted during the scan?)`, unavailable: false };
      }
      return {
        kind: 'observed',
        observation: {
          repository: r.name,
          pullReference: `${r.host}/${r.name}`,
          protection,
          tags,
          raw: {
            project: r.project,
            immutableRules: r.rules.raw,
            ...(r.rules.rules.withoutSelectors.length ? { rulesWithoutSelectors: r.rules.rules.withoutSelectors } : {}),
          },
        },
      };
    } catch (err) {
      rethrowIfAborted(err, signal);
      if (err instanceof HarborListingChangedError) {
        lastChange = err;
        continue;
      }
      return { kind: 'error', repository: r.name, code: repositoryErrorCode(err), cause: message(err), unavailable: err instanceof HarborUnavailableError };
    }
  }
  return { kind: 'error', repository: r.name, code: 'failed', cause: `${lastChange!.message} (read ${CONSISTENT_READ_ATTEMPTS} times)`, unavailable: false };
}

/**
 * Every tag of the repository, or an error: never a partial list. Null when the repository was listed
 * with artifacts but none were read (it was deleted in between).
 */
async function readTags(
  client: HarborClient,
  project: string,
  inProject: string,
  threshold: number,
  signal: AbortSignal,
  listedArtifacts: number | null,
): Promise<TagObservation[] | null> {
  const what = `Harbor artifacts of repository "${project}/${inProject}"`;
  const artifacts = await client.listAll(
    paths.artifacts(project, inProject),
    // with_tag is the default, spelled out; with_immutable_status adds Harbor's own verdict per tag.
    { with_tag: 'true', with_immutable_status: 'true' },
    HarborArtifact,
    what,
    signal,
  );
  if (artifacts.length === 0 && listedArtifacts !== null && listedArtifacts > 0) return null;
  const out: TagObservation[] = [];
  const seen = new Map<string, string>();
  for (const artifact of artifacts) {
    let tags = artifact.tags ?? [];
    if (tags.length >= threshold) tags = await completeTags(client, project, inProject, artifact.digest, tags, signal);
    for (const tag of tags) {
      const other = seen.get(tag.name);
      if (other !== undefined) {
        // One tag on two artifacts in one listing: it moved while the pages were read.
        throw new HarborListingChangedError(`${what}: tag "${tag.name}" was listed on two artifacts (${other}, ${artifact.digest}); the repository changed during the scan`);
      }
      seen.set(tag.name, artifact.digest);
      out.push({
        tag: tag.name,
        digest: artifact.digest,
        mediaType: artifact.manifest_media_type || artifact.media_type || null,
        pushedAt: harborTime(tag.push_time) ?? harborTime(artifact.push_time),
        ...(tag.immutable !== undefined ? { extra: { immutable: tag.immutable } } : {}),
      });
    }
  }
  return out;
}

/**
 * The artifact's tags read through its own paged endpoint (`GET .../artifacts/{reference}/tags`),
 * which reports `X-Total-Count`, so the list is known to be whole.
 */
async function completeTags(client: HarborClient, project: string, inProject: string, digest: string, embedded: HarborTag[], signal: AbortSignal): Promise<HarborTag[]> {
  const what = `Harbor tags of artifact ${digest} in repository "${project}/${inProject}"`;
  let all: HarborTag[];
  try {
    all = await client.listAll(paths.artifactTags(project, inProject, digest), { with_immutable_status: 'true' }, HarborTag, what, signal);
  } catch (err) {
    if (err instanceof HarborApiError && err.status === 404) {
      throw new HarborListingChangedError(`${what}: the artifact was gone when its tags were read`);
    }
    throw err;
  }
  const names = new Set(all.map((t) => t.name));
  const missing = embedded.find((t) => !names.has(t.name));
  if (missing) throw new HarborListingChangedError(`${what}: tag "${missing.name}" left the artifact between two reads`);
  return all;
}

/** A listing read again while it keeps changing under us, up to CONSISTENT_READ_ATTEMPTS times. */
async function consistently<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof HarborListingChangedError) || attempt >= CONSISTENT_READ_ATTEMPTS) throw err;
    }
  }
}

/** Harbor's times are RFC 3339; Go's zero time (`0001-01-01T00:00:00Z`) means "never". */
function harborTime(value: string | undefined): Date | null {
  if (!value) return null;
  const t = Date.parse(value);
  if (Number.isNaN(t) || new Date(t).getUTCFullYear() <= 1) return null;
  return new Date(t);
}

function targetErrorCode(err: unknown): RepositoryErrorCode {
  return err instanceof HarborApiError && (err.status === 401 || err.status === 403) ? 'denied' : 'failed';
}

function projectErrorCode(err: unknown): RepositoryErrorCode {
  if (err instanceof HarborApiError && err.status === 404) return 'vanished';
  return targetErrorCode(err);
}

function repositoryErrorCode(err: unknown): RepositoryErrorCode {
  if (err instanceof HarborApiError) {
    if (err.status === 404) return 'vanished';
    if (err.status === 401 || err.status === 403) return 'denied';
  }
  return 'failed';
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function rethrowIfAborted(err: unknown, signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason ?? err ?? new DOMException('The operation was aborted', 'AbortError');
}

/** Yields the promised values in the order they settle; a rejection is rethrown to the reader. */
async function* inCompletionOrder<T>(promises: Promise<T>[]): AsyncGenerator<T> {
  // Settled outcomes, never rejections: a read still running when the reader stops must not
  // surface later as an unhandled rejection.
  const pending = new Map(
    promises.map((p, i) => [
      i,
      p.then(
        (value) => ({ i, ok: true as const, value }),
        (error: unknown) => ({ i, ok: false as const, error }),
      ),
    ]),
  );
  while (pending.size > 0) {
    const outcome = await Promise.race(pending.values());
    pending.delete(outcome.i);
    if (!outcome.ok) throw outcome.error;
    yield outcome.value;
  }
}
