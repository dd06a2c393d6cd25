/**
 * A loopback stand-in for Harbor (https://goharbor.io), serving the part of its REST API v2.0 that
 * tagledger reads, and the two ways a tag changes that Harbor guards with its immutable-tag rules:
 *
 *   GET    /api/v2.0/projects
 *   GET    /api/v2.0/projects/{project_name_or_id}/immutabletagrules
 *   GET    /api/v2.0/projects/{project_name}/repositories
 *   GET    /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts
 *   GET    /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags
 *   DELETE /api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}
 *   PUT    /v2/{name}/manifests/{reference}          (a push through Harbor's registry front)
 *
 * It follows api/v2.0/swagger.yaml of Harbor v2.15.2 and Harbor's handlers, quirks included:
 * `page`/`page_size` pagination (default 10, more than 100 refused with 422), `X-Total-Count`, a
 * `Link` header whose links are joined by " , ", repository names double-URL-encoded in paths,
 * `{"errors":[{code,message}]}` bodies, HTTP basic auth (robot accounts named `robot$...`), 401 for
 * bad or missing credentials, 403 where the account lacks permission, and 412 `PRECONDITION` when a
 * push or a deletion hits an immutable tag. src/emulators/harbor/swagger.test.ts checks every
 * response against the swagger's definitions. With `webhook`, pushes and repository deletions are
 * announced as Harbor's webhooks are (webhook.ts).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createHash, randomUUID } from 'node:crypto';
import { FaultInjector, readBody } from '../faults.js';
import { HarborEmulatorError, HarborEstate, type EmulatorProject, type EmulatorRule, type ImmutableRuleSpec, type PushOptions } from './estate.js';
import { artifactJson, errorsJson, projectJson, repositoryJson, ruleJson, tagJson } from './render.js';
import { HarborWebhookSender, type HarborWebhookPolicy, type HarborWebhookType } from './webhook.js';

export { HarborEstate, HarborEmulatorError, syntheticDigest, OCI_MANIFEST, OCI_CONFIG } from './estate.js';
export type { ImmutableRuleSpec, PushOptions, EmulatorRule } from './estate.js';
export { harborWebhookPayload, HarborWebhookSender } from './webhook.js';
export type { HarborWebhookPolicy, HarborWebhookDelivery, HarborWebhookEvent } from './webhook.js';

export interface HarborEmulatorAccount {
  username: string;
  password: string;
  /** Projects the account is a member of (may read everything in them); every project when absent. */
  projects?: string[];
}

export interface HarborEmulatorOptions {
  host?: string;
  /** 0 (default): an ephemeral port. */
  port?: number;
  /** Accounts accepted by basic auth. Default: one robot account, `robot$tagledger` / `emulator-secret`. */
  accounts?: HarborEmulatorAccount[];
  /**
   * Most tags embedded per artifact in `GET .../artifacts` (default: all of them, as Harbor's handler
   * does). Set it to model a Harbor whose ORM caps unpaged queries (older releases inherited a
   * 1000-row default, goharbor/harbor#5814): the response then gives no sign that a list was cut.
   */
  artifactTagLimit?: number;
  faults?: FaultInjector;
  estate?: HarborEstate;
  /** Serve HTTPS with this key and certificate (PEM), as a real Harbor does. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** A webhook policy (notify type http) for every project: pushes and repository deletions are POSTed there. */
  webhook?: HarborWebhookPolicy;
}

export interface HarborEmulator {
  /** `http://127.0.0.1:<port>` (https with `tls`): Harbor's base URL (the API is under /api/v2.0). */
  url: string;
  host: string;
  port: number;
  /** The default account (the first of `accounts`). */
  username: string;
  password: string;
  estate: HarborEstate;
  faults: FaultInjector;
  /** Webhooks: set `webhook.policy` to start or stop them; `webhook.flush()` waits for the ones sent. */
  webhook: HarborWebhookSender;
  createProject(name: string, opts?: { public?: boolean }): EmulatorProject;
  addRule(project: string, spec?: ImmutableRuleSpec): EmulatorRule;
  updateRule(project: string, id: number, change: ImmutableRuleSpec): EmulatorRule;
  setRuleDisabled(project: string, id: number, disabled: boolean): void;
  deleteRule(project: string, id: number): void;
  /** Pushes `tag` (a new image unless `opts.digest` names one); throws HarborEmulatorError 412 on an immutable tag. */
  pushImage(repository: string, tag: string, opts?: PushOptions): { digest: string; previousDigest: string | null };
  /** Points an existing tag at a new image: a push, refused on an immutable tag. */
  moveTag(repository: string, tag: string, opts?: PushOptions): { digest: string; previousDigest: string };
  deleteTag(repository: string, tag: string): void;
  deleteRepository(repository: string): void;
  /** Harbor's own verdict for a tag (what `immutable` says in listings). */
  isImmutable(repository: string, tag: string): boolean;
  /** Every request under the project answers `status` (403 FORBIDDEN by default), as for an account that lost its membership. */
  denyProject(project: string, status?: 401 | 403 | 404): void;
  /** Only the immutable-tag rules of the project answer 403, as for a robot without the "list immutable tag rules" permission. */
  denyImmutableRules(project: string): void;
  allowProject(project: string): void;
  close(): Promise<void>;
}

const API = '/api/v2.0';
const DEFAULT_PAGE_SIZE = 10;
const MAX_PAGE_SIZE = 100;

export async function startHarborEmulator(opts: HarborEmulatorOptions = {}): Promise<HarborEmulator> {
  const estate = opts.estate ?? new HarborEstate();
  const faults = opts.faults ?? new FaultInjector();
  const accounts = opts.accounts ?? [{ username: 'robot$tagledger', password: 'emulator-secret' }];
  if (accounts.length === 0) throw new Error('the Harbor emulator needs at least one account');
  const tagLimit = opts.artifactTagLimit ?? Infinity;
  const denied = new Map<string, 401 | 403 | 404>();
  const rulesDenied = new Set<string>();
  const webhook = new HarborWebhookSender(opts.webhook ?? null);
  let externalHost = '';
  /** Harbor announces a push of the artifact with the tags it has after the push. */
  const announce = (type: HarborWebhookType, repository: string, digest: string, tags: string[], operator: string) =>
    webhook.send({ type, repository, digest, tags, public: estate.projects.get(repository.split('/')[0])?.public ?? false, operator, at: new Date(), host: externalHost });
  const pushed = (repository: string, digest: string, operator: string) => {
    const repo = estate.repository(repository);
    const artifact = repo && estate.artifactByReference(repo.id, digest);
    announce('PUSH_ARTIFACT', repository, digest, artifact ? estate.tagsOf(artifact).map((t) => t.name) : [], operator);
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof HarborEmulatorError) return sendError(res, err.status, err.code, err.message);
      // Harbor never shows the cause of a 500 to the client (src/lib/http/error.go).
      sendError(res, 500, 'UNKNOWN', 'internal server error');
    });
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, listener) : http.createServer(listener);

  type Caller = { account: HarborEmulatorAccount | null };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (await faults.apply(req, res, body)) return;
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
    res.setHeader('X-Request-Id', randomUUID());

    const auth = authenticate(req);
    if (auth === 'invalid') return sendError(res, 401, 'UNAUTHORIZED', 'unauthorized');
    const caller: Caller = { account: auth };

    // Harbor sits behind a proxy that decodes the path once before routing: `%2F` becomes a '/'
    // (and the route no longer matches), which is why repository names are encoded twice.
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      return sendError(res, 400, 'BAD_REQUEST', `invalid path ${rawPath}`);
    }
    if (path.startsWith('/v2/')) return registry(req, res, caller, path, body);
    if (!path.startsWith(`${API}/`)) return sendError(res, 404, 'NOT_FOUND', `path ${path} was not found`);
    const seg = path.slice(API.length + 1).split('/');

    if (req.method === 'GET' && seg.length === 1 && seg[0] === 'projects') return listProjects(req, res, caller, rawPath, query);
    if (seg[0] !== 'projects' || seg.length < 3) return notFound(res, path);
    const projectRef = seg[1];

    if (req.method === 'GET' && seg.length === 3 && seg[2] === 'immutabletagrules') {
      const project = projectByNameOrId(projectRef, req.headers['x-is-resource-name']);
      if (!project) return projectForbiddenOrMissing(res, caller);
      if (!gate(res, caller, project, 'rules')) return;
      return paged(req, res, rawPath, query, estate.rules.get(project.id)!.map(ruleJson));
    }

    const project = estate.projects.get(projectRef);
    if (!project) return projectForbiddenOrMissing(res, caller);
    if (seg[2] !== 'repositories') return notFound(res, path);

    if (req.method === 'GET' && seg.length === 3) {
      if (!gate(res, caller, project, 'read')) return;
      const repos = estate.repositoriesOf(project.id).map((r) => repositoryJson(r, estate.artifacts.get(r.id)?.length ?? 0));
      return paged(req, res, rawPath, query, repos);
    }
    if (seg.length < 5 || seg[4] !== 'artifacts') return notFound(res, path);
    // The second decoding: Harbor's artifact handler unescapes the repository name itself.
    let inProject: string;
    try {
      inProject = decodeURIComponent(seg[3]);
    } catch {
      return sendError(res, 400, 'BAD_REQUEST', `invalid repository name ${seg[3]}`);
    }
    const fullName = `${project.name}/${inProject}`;

    if (req.method === 'GET' && seg.length === 5) {
      if (!gate(res, caller, project, 'read')) return;
      const repo = estate.repository(fullName);
      // Harbor lists artifacts by repository name: an unknown repository is simply an empty list.
      const artifacts = repo ? estate.artifactsOf(repo.id) : [];
      const withTag = query.get('with_tag') !== 'false';
      const withImmutable = query.get('with_immutable_status') === 'true';
      const items = artifacts.map((a) => {
        const tags = withTag ? estate.tagsOf(a).slice(0, tagLimit).map((t) => tagJson(t, withImmutable && estate.isImmutable(fullName, t.name))) : [];
        return artifactJson(a, repo!, tags, `${API}/projects/${project.name}/repositories/${encodeURIComponent(encodeURIComponent(inProject))}/artifacts`);
      });
      return paged(req, res, rawPath, query, items);
    }
    if (seg.length >= 7 && seg[6] === 'tags') {
      const reference = seg[5];
      if (req.method === 'GET' && seg.length === 7) {
        if (!gate(res, caller, project, 'read')) return;
        const artifact = lookupArtifact(fullName, reference);
        const withImmutable = query.get('with_immutable_status') === 'true';
        return paged(req, res, rawPath, query, estate.tagsOf(artifact).map((t) => tagJson(t, withImmutable && estate.isImmutable(fullName, t.name))));
      }
      if (req.method === 'DELETE' && seg.length === 8) {
        if (!gate(res, caller, project, 'write')) return;
        const artifact = lookupArtifact(fullName, reference);
        const tagName = seg[7];
        if (!estate.tagsOf(artifact).some((t) => t.name === tagName)) {
          return sendError(res, 404, 'NOT_FOUND', `tag ${tagName} attached to artifact ${artifact.id} not found`);
        }
        estate.deleteTag(fullName, tagName);
        return sendJson(res, 200, null);
      }
    }
    return notFound(res, path);
  }

  /** PUT /v2/<name>/manifests/<reference>: a push, refused with 412 on an existing immutable tag. */
  function registry(req: IncomingMessage, res: ServerResponse, caller: Caller, path: string, body: string): void {
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (!m || req.method !== 'PUT') return sendError(res, 404, 'NOT_FOUND', `path ${path} was not found`);
    const [, name, reference] = m;
    const project = estate.projects.get(name.split('/')[0]);
    if (!project) return sendError(res, 404, 'NOT_FOUND', `project ${name.split('/')[0]} not found`);
    if (!gate(res, caller, project, 'write')) return;
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const mediaType = String(req.headers['content-type'] ?? '').split(';')[0] || undefined;
    if (reference.includes(':')) {
      if (reference !== digest) return sendError(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
      return sendJson(res, 201, null, { 'Docker-Content-Digest': digest, Location: `/v2/${name}/manifests/${digest}` });
    }
    estate.push(name, reference, { digest, manifestMediaType: mediaType, size: Buffer.byteLength(body) });
    pushed(name, digest, caller.account?.username ?? 'anonymous');
    sendJson(res, 201, null, { 'Docker-Content-Digest': digest, Location: `/v2/${name}/manifests/${digest}` });
  }

  function listProjects(req: IncomingMessage, res: ServerResponse, caller: Caller, rawPath: string, query: URLSearchParams): void {
    // Harbor lists the projects the caller is a member of plus every public project.
    const visible = [...estate.projects.values()].filter((p) => p.public || isMember(caller, p)).sort((a, b) => a.name.localeCompare(b.name));
    const items = visible.map((p) => projectJson(p, estate.repositoriesOf(p.id).length));
    paged(req, res, rawPath, query, items);
  }

  function isMember(caller: Caller, p: EmulatorProject): boolean {
    if (!caller.account) return false;
    return !caller.account.projects || caller.account.projects.includes(p.name);
  }

  /**
   * Harbor's `RequireProjectAccess`: a project the caller may not use answers 401 to an anonymous
   * caller and 403 to an authenticated one. Public projects are readable by anyone, but their
   * immutable-tag rules, like every write, need membership.
   */
  function gate(res: ServerResponse, caller: Caller, project: EmulatorProject, need: 'read' | 'rules' | 'write'): boolean {
    const forced = denied.get(project.name);
    if (forced) {
      sendError(res, forced, ...statusCode(forced, project.name));
      return false;
    }
    if (need === 'rules' && rulesDenied.has(project.name)) {
      sendError(res, 403, 'FORBIDDEN', 'forbidden');
      return false;
    }
    const allowed = isMember(caller, project) || (need === 'read' && project.public);
    if (allowed) return true;
    if (!caller.account) sendError(res, 401, 'UNAUTHORIZED', 'unauthorized');
    else sendError(res, 403, 'FORBIDDEN', 'forbidden');
    return false;
  }

  function statusCode(status: 401 | 403 | 404, project: string): [string, string] {
    if (status === 401) return ['UNAUTHORIZED', 'unauthorized'];
    if (status === 404) return ['NOT_FOUND', `project ${project} not found`];
    return ['FORBIDDEN', 'forbidden'];
  }

  /**
   * An unknown project fails Harbor's permission check before anything looks it up
   * (`HasProjectPermission` cannot find it and says no): 401 anonymous, 403 for an account that is
   * not a system administrator.
   */
  function projectForbiddenOrMissing(res: ServerResponse, caller: Caller): void {
    if (!caller.account) return sendError(res, 401, 'UNAUTHORIZED', 'unauthorized');
    sendError(res, 403, 'FORBIDDEN', 'forbidden');
  }

  /**
   * `project_name_or_id`: read as an id when it parses as an integer, unless `X-Is-Resource-Name:
   * true` says it is a name (swagger parameter `isResourceName`).
   */
  function projectByNameOrId(ref: string, isName: string | string[] | undefined): EmulatorProject | undefined {
    if (String(isName).toLowerCase() !== 'true' && /^\d+$/.test(ref)) {
      return [...estate.projects.values()].find((p) => p.id === Number(ref));
    }
    return estate.projects.get(ref);
  }

  function lookupArtifact(fullName: string, reference: string) {
    const repo = estate.repository(fullName);
    const artifact = repo && estate.artifactByReference(repo.id, reference);
    if (!repo || !artifact) throw new HarborEmulatorError(404, 'NOT_FOUND', `artifact ${fullName}@${reference} not found`);
    return artifact;
  }

  function authenticate(req: IncomingMessage): HarborEmulatorAccount | null | 'invalid' {
    const header = req.headers.authorization;
    if (!header) return null;
    const m = /^Basic\s+(.+)$/i.exec(header);
    if (!m) return 'invalid';
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return 'invalid';
    const username = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    return accounts.find((a) => a.username === username && a.password === password) ?? 'invalid';
  }

  /**
   * Harbor's pagination: `page` (default 1) and `page_size` (default 10, at most 100: go-swagger
   * validates the swagger's `maximum` and answers 422), `X-Total-Count`, and a `Link` header built
   * by BaseAPI.Links (src/server/v2.0/handler/base.go): the request path as sent, the query with
   * `page`/`page_size` set, keys sorted, then unescaped; links joined by " , ".
   */
  function paged(req: IncomingMessage, res: ServerResponse, rawPath: string, query: URLSearchParams, items: unknown[]): void {
    const pageParam = query.get('page');
    const sizeParam = query.get('page_size');
    if (pageParam !== null && !/^-?\d+$/.test(pageParam)) return sendError(res, 422, 'UNPROCESSABLE_ENTITY', `validation failure list:\npage in query must be of type int64: "${pageParam}"`);
    if (sizeParam !== null && !/^-?\d+$/.test(sizeParam)) return sendError(res, 422, 'UNPROCESSABLE_ENTITY', `validation failure list:\npage_size in query must be of type int64: "${sizeParam}"`);
    const page = Math.max(1, pageParam === null ? 1 : Number(pageParam));
    const size = sizeParam === null ? DEFAULT_PAGE_SIZE : Number(sizeParam);
    if (size > MAX_PAGE_SIZE) return sendError(res, 422, 'UNPROCESSABLE_ENTITY', `validation failure list:\npage_size in query should be less than or equal to ${MAX_PAGE_SIZE}`);
    const total = items.length;
    const slice = size > 0 ? items.slice((page - 1) * size, page * size) : items;
    const links: string[] = [];
    if (size > 0) {
      const link = (n: number, rel: string) => {
        const params = new Map<string, string>();
        for (const [k, v] of query) if (!params.has(k)) params.set(k, v);
        params.set('page', String(n));
        params.set('page_size', String(size));
        const q = [...params.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('&');
        return `<${rawPath}?${q}>; rel="${rel}"`;
      };
      if (page > 1 && (page - 1) * size < total) links.push(link(page - 1, 'prev'));
      if (size * page < total) links.push(link(page + 1, 'next'));
    }
    const headers: Record<string, string> = { 'X-Total-Count': String(total) };
    if (links.length) headers.Link = links.join(' , ');
    sendJson(res, 200, slice, headers);
  }

  function notFound(res: ServerResponse, path: string): void {
    sendError(res, 404, 'NOT_FOUND', `path ${path} was not found`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  const url = `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  externalHost = new URL(url).host;

  return {
    url,
    host,
    port: address.port,
    username: accounts[0].username,
    password: accounts[0].password,
    estate,
    faults,
    webhook,
    createProject: (name, o) => estate.createProject(name, o),
    addRule: (project, spec) => estate.addRule(project, spec),
    updateRule: (project, id, change) => estate.updateRule(project, id, change),
    setRuleDisabled: (project, id, disabled) => estate.setRuleDisabled(project, id, disabled),
    deleteRule: (project, id) => estate.deleteRule(project, id),
    pushImage: (repository, tag, o) => {
      const r = estate.push(repository, tag, o);
      pushed(repository, r.digest, accounts[0].username);
      return r;
    },
    moveTag: (repository, tag, o) => {
      const repo = estate.repository(repository);
      if (!repo || !estate.tags.get(repo.id)?.has(tag)) throw new HarborEmulatorError(404, 'NOT_FOUND', `tag ${tag} of ${repository} not found`);
      const r = estate.push(repository, tag, o);
      pushed(repository, r.digest, accounts[0].username);
      return { digest: r.digest, previousDigest: r.previousDigest! };
    },
    deleteTag: (repository, tag) => estate.deleteTag(repository, tag),
    deleteRepository: (repository) => {
      // Harbor deletes a repository artifact by artifact, each announced as DELETE_ARTIFACT.
      const repo = estate.repository(repository);
      const artifacts = repo ? estate.artifactsOf(repo.id).map((a) => ({ digest: a.digest, tags: estate.tagsOf(a).map((t) => t.name) })) : [];
      estate.deleteRepository(repository);
      for (const a of artifacts) announce('DELETE_ARTIFACT', repository, a.digest, a.tags, accounts[0].username);
    },
    isImmutable: (repository, tag) => estate.isImmutable(repository, tag),
    denyProject: (project, status = 403) => void denied.set(project, status),
    denyImmutableRules: (project) => void rulesDenied.add(project),
    allowProject: (project) => {
      denied.delete(project);
      rulesDenied.delete(project);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === null ? '' : `${JSON.stringify(body)}\n`;
  res.writeHead(status, { ...(text ? { 'Content-Type': 'application/json' } : {}), 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Harbor's error body, `application/json; charset=utf-8`, one line (src/lib/http/error.go). */
function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  const text = `${JSON.stringify(errorsJson(code, message))}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

