/**
 * The four reads tagledger makes of a distribution-API registry:
 *   GET  /v2/                              version check (reachability and authentication)
 *   GET  /v2/_catalog?n=                   repository names, paginated by Link
 *   GET  /v2/<name>/tags/list?n=           tag names, paginated by Link
 *   HEAD /v2/<name>/manifests/<tag>        digest (Docker-Content-Digest) and media type (Content-Type)
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md
 * https://distribution.github.io/distribution/spec/api/
 */
import { createHash } from 'node:crypto';
import { stripCredentials } from '../../net/http.js';
import type { TagObservation } from '../types.js';
import { headerValue, httpError, type RegistryClient } from './client.js';
import { MalformedResponseError } from './errors.js';
import { nextLink } from './link.js';
import { baseMediaType, MANIFEST_ACCEPT } from './media-types.js';
import { CatalogPage, Digest, ManifestMediaTypeField, parseJson, TagsPage } from './schema.js';
import type { z } from 'zod';

/** A registry could send Links forever; no real listing needs more pages than this. */
const MAX_PAGES = 100_000;

export class RegistryApi {
  constructor(
    private readonly client: RegistryClient,
    /** Origin of the registry (scheme, host, port), without credentials. */
    private readonly origin: URL,
    private readonly pageSize: number,
  ) {}

  /** GET /v2/: throws unless the registry answers 200 (after authenticating if it asked). */
  async versionCheck(signal: AbortSignal): Promise<void> {
    const url = this.url('/v2/');
    const res = await this.client.request('GET', url, { scope: null, signal });
    if (res.status !== 200) throw httpError('GET', url, res);
  }

  /** Repository names, page by page. */
  async *catalog(signal: AbortSignal): AsyncGenerator<string[]> {
    const pages = this.pages(this.url(`/v2/_catalog?n=${this.pageSize}`), 'registry:catalog:*', CatalogPage, (page) => page.repositories ?? [], signal);
    for await (const page of pages) yield page.repositories ?? [];
  }

  /**
   * Every tag of a repository. Registries may ignore `n`/`last` and answer everything at once, in no
   * order (the reference registry 2.8 does); names are de-duplicated either way.
   */
  async tags(repository: string, signal: AbortSignal): Promise<string[]> {
    const tags = new Set<string>();
    const url = this.url(`/v2/${encodeName(repository)}/tags/list?n=${this.pageSize}`);
    for await (const page of this.pages(url, scopeOf(repository), TagsPage, (p) => p.tags ?? [], signal)) {
      for (const tag of page.tags ?? []) tags.add(tag);
    }
    return [...tags];
  }

  /**
   * The digest and media type a tag resolves to. HEAD first; when the registry leaves out
   * `Docker-Content-Digest` (optional for older registries), GET the manifest and hash its bytes.
   * The Accept list is the same on every request (see media-types.ts).
   */
  async manifest(repository: string, tag: string, signal: AbortSignal): Promise<TagObservation> {
    const url = this.url(`/v2/${encodeName(repository)}/manifests/${encodeURIComponent(tag)}`);
    const opts = { scope: scopeOf(repository), accept: MANIFEST_ACCEPT, signal };
    const head = await this.client.request('HEAD', url, opts);
    if (head.status !== 200) throw httpError('HEAD', url, head);
    const mediaType = baseMediaType(headerValue(head.headers, 'content-type'));
    const digestHeader = headerValue(head.headers, 'docker-content-digest');
    if (digestHeader !== undefined && digestHeader !== '') {
      const digest = Digest.safeParse(digestHeader.trim());
      if (!digest.success) throw new MalformedResponseError(`HEAD ${stripCredentials(url)}: Docker-Content-Digest "${digestHeader.slice(0, 100)}" is not a digest`);
      return { tag, digest: digest.data, mediaType, pushedAt: null };
    }
    const get = await this.client.request('GET', url, { ...opts, binary: true });
    if (get.status !== 200) throw httpError('GET', url, get);
    const bytes = get.body as Buffer;
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    let type = baseMediaType(headerValue(get.headers, 'content-type'));
    if (type === null || type === 'application/json' || type === 'application/octet-stream') {
      type = parseJson(ManifestMediaTypeField, bytes.toString('utf8'), `GET ${stripCredentials(url)}`).mediaType ?? type;
    }
    return { tag, digest, mediaType: type, pushedAt: null };
  }

  /**
   * Follows `Link: <...>; rel="next"` from `first` until there is none. A page that names nothing
   * new yet links onward (a registry ignoring `last` while sending Links) would page for ever, and
   * so would a Link back to a page already read: both are refused.
   */
  private async *pages<S extends z.ZodType>(
    first: string,
    scope: string,
    schema: S,
    namesOf: (page: z.infer<S>) => string[],
    signal: AbortSignal,
  ): AsyncGenerator<z.infer<S>> {
    const seen = new Set<string>();
    const names = new Set<string>();
    let url: string | null = first;
    while (url !== null) {
      if (seen.has(url)) {
        throw new MalformedResponseError(`GET ${stripCredentials(url)}: the registry's Link headers lead back to a page already read (pagination loop)`);
      }
      if (seen.size >= MAX_PAGES) throw new MalformedResponseError(`GET ${stripCredentials(url)}: more than ${MAX_PAGES} pages; the listing is not ending`);
      seen.add(url);
      const res = await this.client.request('GET', url, { scope, signal });
      if (res.status !== 200) throw httpError('GET', url, res);
      const page = parseJson(schema, res.body.toString(), `GET ${stripCredentials(url)}`);
      yield page;
      const next = nextLink(res.headers.link as string | string[] | undefined, url);
      if (next !== null && new URL(next).origin !== this.origin.origin) {
        throw new MalformedResponseError(`GET ${stripCredentials(url)}: the Link header points to another origin (${new URL(next).origin}); it is not followed with this registry's credentials`);
      }
      const before = names.size;
      for (const name of namesOf(page)) names.add(name);
      if (next !== null && names.size === before) {
        throw new MalformedResponseError(
          `GET ${stripCredentials(url)}: page ${seen.size} lists nothing new but links to another page (pagination loop: the listing would never end; does the registry ignore "last"?)`,
        );
      }
      url = next;
    }
  }

  private url(path: string): string {
    return new URL(path, this.origin).toString();
  }
}

export function scopeOf(repository: string): string {
  return `repository:${repository}:pull`;
}

/** Path segments encoded one by one: the `/` of a nested name stays a separator. */
function encodeName(repository: string): string {
  return repository.split('/').map(encodeURIComponent).join('/');
}
