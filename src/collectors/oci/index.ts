/**
 * The OCI collector: any registry speaking the distribution API (the reference `registry`,
 * Zot, Quay, GitLab, Nexus, Artifactory, Docker Hub, GHCR ...). It reads repository names from
 * `/v2/_catalog` (or the literal `repositories` list), every tag from `tags/list`, and each tag's
 * digest from a manifest HEAD. A plain registry reports no tag immutability, so protection is
 * `unknown`. See README.md for the API, auth and the quirks handled.
 */
import type { Logger } from 'pino';
import pLimit from 'p-limit';
import { createHttpClient } from '../../net/http.js';
import type { RetryPolicy } from '../../net/retry.js';
import { repositoryFilter } from '../filter.js';
import type { CollectorContext } from '../index.js';
import type { Collector, RepositoryResult, TagObservation } from '../types.js';
import { RegistryApi } from './api.js';
import type { RegistryCredentials } from './auth.js';
import { RegistryClient } from './client.js';
import type { OciTargetConfig } from './config.js';
import { RegistryHttpError, TokenError } from './errors.js';

export interface OciCollectorOptions {
  /** Retry policy for 429/5xx/transport errors (default: src/net/retry.ts defaultRetryPolicy). */
  retryPolicy?: RetryPolicy;
  /** `n` asked of `_catalog` and `tags/list` (default 100; the reference registry refuses more than 1000 catalog entries). */
  pageSize?: number;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** Clock for token expiry (default Date.now). */
  now?: () => number;
}

const DEFAULT_CONCURRENCY = 8;
const DEFAULT_PAGE_SIZE = 100;

export function createOciCollector(target: OciTargetConfig, ctx: CollectorContext, options: OciCollectorOptions = {}): Collector {
  const logger = ctx.logger.child({ target: target.id, kind: 'oci' });
  const registryUrl = new URL(target.url);
  const credentials = credentialsOf(target, registryUrl);
  const origin = new URL(registryUrl.origin);
  const concurrency = target.concurrency ?? DEFAULT_CONCURRENCY;

  let setupError: string | null = null;
  let api: RegistryApi | null = null;
  let release: () => void = () => {};
  try {
    const http = createHttpClient({
      caFile: target.caFile,
      insecureSkipTlsVerify: target.insecureSkipTlsVerify,
      timeoutMs: options.timeoutMs,
      maxSockets: concurrency + 2,
    });
    release = () => {
      (http.defaults.httpAgent as { destroy?: () => void } | undefined)?.destroy?.();
      (http.defaults.httpsAgent as { destroy?: () => void } | undefined)?.destroy?.();
    };
    const client = new RegistryClient({
      http,
      registryUrl: origin,
      credentials,
      concurrency,
      retryPolicy: options.retryPolicy,
      caFile: target.caFile,
      logger,
      now: options.now,
    });
    api = new RegistryApi(client, origin, options.pageSize ?? DEFAULT_PAGE_SIZE);
  } catch (err) {
    setupError = err instanceof Error ? err.message : String(err);
  }

  return {
    kind: 'oci',
    targetId: target.id,
    collect: (signal) =>
      api === null
        ? failedTarget(`cannot set up the client for ${origin.origin}: ${setupError}`)
        : collect({ api, target, origin, concurrency, logger }, signal),
    close: async () => release(),
  };
}

interface Run {
  api: RegistryApi;
  target: OciTargetConfig;
  origin: URL;
  concurrency: number;
  logger: Logger;
}

async function* failedTarget(cause: string): AsyncGenerator<RepositoryResult> {
  yield { kind: 'error', repository: null, code: 'failed', cause };
  yield { kind: 'listing', complete: false };
}

async function* collect(run: Run, signal: AbortSignal): AsyncGenerator<RepositoryResult> {
  signal.throwIfAborted();
  const filter = repositoryFilter(run.target.repositories);
  let names: string[];
  /** Names came from the catalog: a 404 on one of them means it vanished since. */
  let fromCatalog: boolean;

  if (filter.literals) {
    // A literal list needs no catalog (which Docker Hub, GHCR and others do not offer); the version
    // check makes "registry down" or "bad credentials" a target-level failure as with a catalog.
    try {
      await run.api.versionCheck(signal);
    } catch (err) {
      if (signal.aborted) throw abortReason(signal);
      yield* failedTarget(`registry ${run.origin.origin} is not usable: ${messageOf(err)}`);
      return;
    }
    names = filter.literals;
    fromCatalog = false;
    yield { kind: 'discovered', repositories: names.length };
  } else {
    names = [];
    fromCatalog = true;
    const seen = new Set<string>();
    try {
      for await (const page of run.api.catalog(signal)) {
        const before = names.length;
        for (const name of page) {
          if (!seen.has(name) && filter.matches(name)) names.push(name);
          seen.add(name);
        }
        if (names.length !== before) yield { kind: 'discovered', repositories: names.length };
      }
    } catch (err) {
      if (signal.aborted) throw abortReason(signal);
      yield* failedTarget(catalogFailure(err));
      return;
    }
  }

  // Repositories are read concurrently (and their manifest HEADs; the client bounds requests in
  // flight to the same `concurrency`); results are yielded as they complete.
  const inner = new AbortController();
  const relay = () => inner.abort(signal.reason);
  signal.addEventListener('abort', relay, { once: true });
  const limit = pLimit(run.concurrency);
  const results = new ResultQueue<RepositoryResult>();
  try {
    for (const name of names) {
      limit(() => readRepository(run, name, fromCatalog, inner.signal)).then(
        (r) => results.push(r),
        (err: unknown) => results.fail(err),
      );
    }
    for (let i = 0; i < names.length; i++) yield await results.next();
  } finally {
    signal.removeEventListener('abort', relay);
    limit.clearQueue();
    inner.abort(new Error('collection ended'));
  }
  signal.throwIfAborted();
  yield { kind: 'listing', complete: true };
}

/** One repository: a complete observation, or an error. Rejects only when the scan is aborted. */
async function readRepository(run: Run, name: string, fromCatalog: boolean, signal: AbortSignal): Promise<RepositoryResult> {
  let tags: string[];
  try {
    tags = await run.api.tags(name, signal);
  } catch (err) {
    if (signal.aborted) throw abortReason(signal);
    return tagsListFailure(name, fromCatalog, err);
  }
  // The first failing HEAD stops its siblings: the repository is failed as a whole, never partial.
  const siblings = new AbortController();
  const relay = () => siblings.abort(signal.reason);
  signal.addEventListener('abort', relay, { once: true });
  try {
    const observed = await Promise.all(
      tags.map((tag) =>
        run.api.manifest(name, tag, siblings.signal).catch((err: unknown) => {
          if (!siblings.signal.aborted) siblings.abort(new Error(`another tag of ${name} failed`));
          throw new TagFailure(tag, err);
        }),
      ),
    );
    return {
      kind: 'observed',
      observation: {
        repository: name,
        pullReference: `${run.origin.host}/${name}`,
        protection: { kind: 'unknown' },
        tags: observed.sort(byTag),
      },
    };
  } catch (err) {
    if (signal.aborted) throw abortReason(signal);
    const failure = err as TagFailure;
    return manifestFailure(name, failure.tag, failure.error);
  } finally {
    signal.removeEventListener('abort', relay);
  }
}

class TagFailure extends Error {
  constructor(
    readonly tag: string,
    readonly error: unknown,
  ) {
    super(`tag ${tag} failed`);
  }
}

function tagsListFailure(name: string, fromCatalog: boolean, err: unknown): RepositoryResult {
  const cause = messageOf(err);
  if (err instanceof RegistryHttpError) {
    if (err.status === 404 && err.registryCode === 'NAME_UNKNOWN' && fromCatalog) {
      return { kind: 'error', repository: name, code: 'vanished', cause: `listed by the catalog but gone when read: ${cause}` };
    }
    if (err.status === 401 || err.status === 403 || err.status === 404) return { kind: 'error', repository: name, code: 'denied', cause };
  }
  if (err instanceof TokenError && (err.status === 401 || err.status === 403)) return { kind: 'error', repository: name, code: 'denied', cause };
  return { kind: 'error', repository: name, code: 'failed', cause };
}

function manifestFailure(name: string, tag: string, err: unknown): RepositoryResult {
  const cause = messageOf(err);
  if (err instanceof RegistryHttpError) {
    if (err.status === 404) {
      return {
        kind: 'error',
        repository: name,
        code: 'failed',
        cause: `tag "${tag}" was listed but its manifest was not found (deleted while the scan ran?), so the tag list is not complete and is not recorded this scan: ${cause}`,
      };
    }
    if (err.status === 401 || err.status === 403) return { kind: 'error', repository: name, code: 'denied', cause };
  }
  if (err instanceof TokenError && (err.status === 401 || err.status === 403)) return { kind: 'error', repository: name, code: 'denied', cause };
  return { kind: 'error', repository: name, code: 'failed', cause: `tag "${tag}": ${cause}` };
}

function catalogFailure(err: unknown): string {
  const cause = messageOf(err);
  if (err instanceof RegistryHttpError) {
    if (err.status === 404 || err.status === 405 || err.registryCode === 'UNSUPPORTED') {
      return `the registry does not offer the repository catalog (${cause}); list the repositories by name in "repositories" (Docker Hub, GHCR and most hosted registries have no /v2/_catalog)`;
    }
    if (err.status === 401 || err.status === 403) {
      return `the registry refused the repository catalog (${cause}); check the credentials, or list the repositories by name in "repositories" (Docker Hub and other hosted registries refuse /v2/_catalog to everyone)`;
    }
  }
  if (err instanceof TokenError) return `authentication for the repository catalog failed: ${cause}`;
  return `listing repositories failed: ${cause}`;
}

/** Credentials from `username`/`password`, or else from the URL's userinfo (never kept in the URL). */
function credentialsOf(target: OciTargetConfig, url: URL): RegistryCredentials | undefined {
  if (target.username !== undefined) return { username: target.username, password: target.password ?? '' };
  if (url.username) return { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  return undefined;
}

function byTag(a: TagObservation, b: TagObservation): number {
  return a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** Results of concurrent tasks, taken in completion order. */
class ResultQueue<T> {
  private readonly items: Array<{ ok: true; value: T } | { ok: false; error: unknown }> = [];
  private waiter: (() => void) | null = null;

  push(value: T): void {
    this.items.push({ ok: true, value });
    this.wake();
  }

  fail(error: unknown): void {
    this.items.push({ ok: false, error });
    this.wake();
  }

  async next(): Promise<T> {
    while (this.items.length === 0) await new Promise<void>((resolve) => (this.waiter = resolve));
    const item = this.items.shift()!;
    if (!item.ok) throw item.error;
    return item.value;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
