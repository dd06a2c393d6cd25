/**
 * A loopback stand-in for an OCI / Docker distribution registry, serving the read API tagledger uses:
 * `/v2/`, `/v2/_catalog`, `/v2/<name>/tags/list` and HEAD/GET `/v2/<name>/manifests/<reference>`.
 *
 * It follows the distribution spec (https://github.com/opencontainers/distribution-spec/blob/main/spec.md)
 * and the Docker registry API docs (https://distribution.github.io/distribution/spec/api/), including the
 * reference implementation's quirks that clients meet in practice; each is noted where it is served.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultInjector, readBody } from '../faults.js';
import { EmulatorAuth, type OciEmulatorAuth } from './auth.js';
import { OciEstate, isValidRepositoryName, lexical, type PushImageOptions, type PushedImage } from './estate.js';
import { MediaType, type StoredManifest } from './manifests.js';

export { OciEstate, type PushImageOptions, type PushedImage } from './estate.js';
export { MediaType, manifestMediaTypes, sha256Digest, type ManifestMediaType } from './manifests.js';
export type { OciEmulatorAuth } from './auth.js';

export interface OciEmulatorOptions {
  host?: string;
  /** 0 (default): an ephemeral port. */
  port?: number;
  /** Anonymous by default. */
  auth?: OciEmulatorAuth;
  /**
   * `enabled` (default); `not-found`: no catalog endpoint at all (404, as GHCR answers);
   * `unauthorized`: 401 for every caller, even with a token for `registry:catalog:*` (as Docker Hub answers).
   */
  catalog?: 'enabled' | 'not-found' | 'unauthorized';
  /** Largest catalog page, used when `n` is absent; a larger `n` is refused (distribution's `catalog.maxentries`, default 1000). */
  catalogMaxEntries?: number;
  /**
   * `spec` (default): tags/list honours `n`/`last`, sorted lexically, with a `Link` to the next page.
   * `ignored`: every tag at once in storage order and no `Link`, as the reference registry 2.8 does.
   */
  tagsListPagination?: 'spec' | 'ignored';
  /** false: manifest responses carry no `Docker-Content-Digest` header (it is optional for older registries). */
  digestHeader?: boolean;
  faults?: FaultInjector;
  estate?: OciEstate;
}

export interface OciEmulator {
  /** `http://127.0.0.1:<port>` */
  url: string;
  host: string;
  port: number;
  estate: OciEstate;
  faults: FaultInjector;
  pushImage(repository: string, tag: string, opts?: PushImageOptions): PushedImage;
  moveTag(repository: string, tag: string, opts?: PushImageOptions): PushedImage & { previousDigest: string };
  deleteTag(repository: string, tag: string): boolean;
  deleteManifest(repository: string, digest: string): string[];
  deleteRepository(repository: string): boolean;
  denyRepository(repository: string): void;
  allowRepository(repository: string): void;
  /** Bearer auth: every token issued so far stops being accepted. */
  revokeTokens(): void;
  close(): Promise<void>;
}

interface Settings {
  catalog: NonNullable<OciEmulatorOptions['catalog']>;
  catalogMaxEntries: number;
  tagsListPagination: NonNullable<OciEmulatorOptions['tagsListPagination']>;
  digestHeader: boolean;
}

export async function startOciEmulator(opts: OciEmulatorOptions = {}): Promise<OciEmulator> {
  const estate = opts.estate ?? new OciEstate();
  const faults = opts.faults ?? new FaultInjector();
  const settings: Settings = {
    catalog: opts.catalog ?? 'enabled',
    catalogMaxEntries: opts.catalogMaxEntries ?? 1000,
    tagsListPagination: opts.tagsListPagination ?? 'spec',
    digestHeader: opts.digestHeader ?? true,
  };
  let baseUrl = '';
  const auth = new EmulatorAuth(opts.auth, () => baseUrl);

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'UNKNOWN', err instanceof Error ? err.message : String(err));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (await faults.apply(req, res, body)) return;
    const url = new URL(req.url ?? '/', 'http://emulator');
    const path = url.pathname;
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');

    if (path === '/token' && auth.kind === 'bearer') {
      const [status, doc] = auth.issueToken(req, url.searchParams);
      return sendJson(res, status, doc);
    }
    if (!path.startsWith('/v2/')) return sendText(res, 404, '404 page not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendError(res, 405, 'UNSUPPORTED', 'The operation is unsupported.');
    }
    if (path === '/v2/') {
      if (!authorize(req, res, null)) return;
      return sendJson(res, 200, {});
    }
    if (path === '/v2/_catalog') return serveCatalog(req, res, url.searchParams);

    const tagsMatch = /^\/v2\/(.+)\/tags\/list$/.exec(path);
    const manifestMatch = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    const name = decodePath(tagsMatch?.[1] ?? manifestMatch?.[1]);
    if (name === null) return sendText(res, 404, '404 page not found\n');
    if (!isValidRepositoryName(name)) return sendError(res, 400, 'NAME_INVALID', 'invalid repository name', { name });
    if (!authorize(req, res, `repository:${name}:pull`)) return;
    if (estate.isDenied(name)) return sendError(res, 403, 'DENIED', 'requested access to the resource is denied');
    if (!estate.hasRepository(name)) return sendError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry', { name });
    if (tagsMatch) return serveTags(res, name, url.searchParams);
    return serveManifest(req, res, name, decodeURIComponent(manifestMatch![2]));
  }

  function authorize(req: IncomingMessage, res: ServerResponse, scope: string | null): boolean {
    const decision = auth.check(req, scope);
    if (decision.ok) return true;
    sendError(res, 401, 'UNAUTHORIZED', decision.message, undefined, { 'WWW-Authenticate': decision.challenge });
    return false;
  }

  function serveCatalog(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
    // GHCR and others simply have no such route.
    if (settings.catalog === 'not-found') return sendText(res, 404, '404 page not found\n');
    if (!authorize(req, res, 'registry:catalog:*')) return;
    if (settings.catalog === 'unauthorized') {
      // Docker Hub answers 401 to every caller, even one holding a token for this very scope
      // (https://github.com/docker/hub-feedback/issues/2094).
      const challenge =
        auth.kind === 'bearer'
          ? `Bearer realm="${baseUrl}/token",service="tagledger-emulator",scope="registry:catalog:*",error="insufficient_scope"`
          : undefined;
      return sendError(res, 401, 'UNAUTHORIZED', 'authentication required', [{ Type: 'registry', Class: '', Name: 'catalog', Action: '*' }], challenge ? { 'WWW-Authenticate': challenge } : {});
    }
    const nParam = query.get('n');
    let n = settings.catalogMaxEntries;
    if (nParam !== null) {
      // distribution refuses n above catalog.maxentries instead of clamping it (registry 2.8).
      if (!/^\d+$/.test(nParam) || Number(nParam) > settings.catalogMaxEntries) {
        return sendError(res, 400, 'PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n: Number(nParam) });
      }
      n = Number(nParam);
    }
    const page = pageAfter(estate.repositories(), query.get('last'), n);
    const headers: Record<string, string> = {};
    if (page.more) headers.Link = `</v2/_catalog?last=${encodeURIComponent(page.items.at(-1)!)}&n=${n}>; rel="next"`;
    sendJson(res, 200, { repositories: page.items }, headers);
  }

  function serveTags(res: ServerResponse, name: string, query: URLSearchParams): void {
    const tags = estate.tags(name) ?? [];
    if (settings.tagsListPagination === 'ignored') {
      // Registry 2.8 walks its storage: no n/last, no Link, no order, and `null` for a repository
      // whose tags were all deleted.
      return sendJson(res, 200, { name, tags: tags.length ? storageOrder(tags) : null });
    }
    const sorted = [...tags].sort(lexical);
    const nParam = query.get('n');
    if (nParam === null) return sendJson(res, 200, { name, tags: pageAfter(sorted, query.get('last'), Infinity).items });
    if (!/^\d+$/.test(nParam)) return sendError(res, 400, 'PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n: nParam });
    const n = Number(nParam);
    const page = pageAfter(sorted, query.get('last'), n);
    const headers: Record<string, string> = {};
    if (page.more) headers.Link = `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(page.items.at(-1)!)}>; rel="next"`;
    sendJson(res, 200, { name, tags: page.items }, headers);
  }

  function serveManifest(req: IncomingMessage, res: ServerResponse, name: string, reference: string): void {
    const byTag = !reference.includes(':');
    const digest = byTag ? estate.tagDigest(name, reference) : reference;
    let manifest = digest === undefined ? undefined : estate.manifest(name, digest);
    if (!manifest) return sendError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown', { [byTag ? 'Tag' : 'Digest']: reference });
    const accepted = acceptedTypes(req);
    // The reference registry's negotiation (distribution 2.8, registry/handlers/manifests.go):
    // OCI types are never served to a client that does not accept them (404); a Docker manifest list
    // fetched by tag by such a client is replaced by its linux/amd64 image; a Docker v2 image fetched
    // by tag is rewritten to schema 1, which fails for images without v1 history (400).
    if (manifest.mediaType === MediaType.dockerManifestList && byTag && !accepted.has(MediaType.dockerManifestList)) {
      const amd64 = manifest.platforms?.find((p) => p.os === 'linux' && p.architecture === 'amd64');
      const child = amd64 && estate.manifest(name, amd64.digest);
      if (!child) return sendError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      manifest = child;
    }
    const refusal = refuse(manifest, byTag, accepted);
    if (refusal) return sendError(res, refusal.status, refusal.code, refusal.message, refusal.detail);
    sendManifest(res, manifest);
  }

  function sendManifest(res: ServerResponse, manifest: StoredManifest): void {
    const headers: Record<string, string | number> = {
      'Content-Type': manifest.mediaType,
      'Content-Length': manifest.bytes.length,
      Etag: `"${manifest.digest}"`,
    };
    if (settings.digestHeader) headers['Docker-Content-Digest'] = manifest.digest;
    res.writeHead(200, headers);
    res.end(manifest.bytes); // node sends no body for HEAD
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  baseUrl = `http://${host}:${address.port}`;

  return {
    url: baseUrl,
    host,
    port: address.port,
    estate,
    faults,
    pushImage: (repository, tag, o) => estate.pushImage(repository, tag, o),
    moveTag: (repository, tag, o) => estate.moveTag(repository, tag, o),
    deleteTag: (repository, tag) => estate.deleteTag(repository, tag),
    deleteManifest: (repository, digest) => estate.deleteManifest(repository, digest),
    deleteRepository: (repository) => estate.deleteRepository(repository),
    denyRepository: (repository) => estate.denyRepository(repository),
    allowRepository: (repository) => estate.allowRepository(repository),
    revokeTokens: () => auth.revokeTokens(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Refusal {
  status: number;
  code: string;
  message: string;
  detail?: unknown;
}

function refuse(manifest: StoredManifest, byTag: boolean, accepted: Set<string>): Refusal | null {
  if (manifest.mediaType === MediaType.ociManifest && !accepted.has(MediaType.ociManifest)) {
    return { status: 404, code: 'MANIFEST_UNKNOWN', message: 'OCI manifest found, but accept header does not support OCI manifests' };
  }
  if (manifest.mediaType === MediaType.ociIndex && !accepted.has(MediaType.ociIndex)) {
    return { status: 404, code: 'MANIFEST_UNKNOWN', message: 'OCI index found, but accept header does not support OCI indexes' };
  }
  if (manifest.mediaType === MediaType.dockerManifest && byTag && !accepted.has(MediaType.dockerManifest)) {
    // Registry 2.8 tries a schema 1 rewrite here and, for an image it cannot convert, answers this.
    return { status: 400, code: 'MANIFEST_INVALID', message: 'manifest invalid', detail: {} };
  }
  return null;
}

/** Media types named in every Accept header, parameters (and q-values) ignored, as distribution does. */
function acceptedTypes(req: IncomingMessage): Set<string> {
  const raw = req.headersDistinct?.accept ?? [];
  const types = new Set<string>();
  for (const header of raw) {
    for (const part of header.split(',')) {
      const type = part.split(';')[0].trim().toLowerCase();
      if (type) types.add(type);
    }
  }
  return types;
}

function pageAfter(sorted: string[], last: string | null, n: number): { items: string[]; more: boolean } {
  const rest = last === null ? sorted : sorted.filter((s) => s > last);
  const items = rest.slice(0, n);
  return { items, more: rest.length > items.length };
}

/** A stable order that is not lexical: what a storage walk looks like to a client. */
function storageOrder(tags: string[]): string[] {
  return [...tags].reverse();
}

function decodePath(encoded: string | undefined): string | null {
  if (encoded === undefined) return null;
  try {
    return encoded.split('/').map(decodeURIComponent).join('/');
  } catch {
    return null;
  }
}

function sendJson(res: ServerResponse, status: number, doc: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(doc);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The spec's error body: `{"errors":[{"code","message","detail"}]}`. */
function sendError(res: ServerResponse, status: number, code: string, message: string, detail?: unknown, headers: Record<string, string> = {}): void {
  sendJson(res, status, { errors: [{ code, message, ...(detail === undefined ? {} : { detail }) }] }, headers);
}
