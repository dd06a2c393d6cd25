/**
 * The gRPC handlers of the GAR emulator: ListRepositories, GetRepository, UpdateRepository,
 * ListDockerImages and ListTags of `google.devtools.artifactregistry.v1.ArtifactRegistry`, answering
 * as Artifact Registry does (resource names, page sizes, opaque page tokens, gRPC status codes).
 * Every other method of the service answers UNIMPLEMENTED, and so do the `filter` of
 * ListRepositories and the `order_by` of both list methods (results come in resource-name order).
 * https://cloud.google.com/artifact-registry/docs/reference/rpc/google.devtools.artifactregistry.v1
 */
import { status as GrpcStatus, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { cmp, GarEmulatorError, type EmulatedDockerImage, type EmulatedGarRepository, type GarCleanupPolicyInput, type GarEstate } from './estate.js';
import type { GarEmulatorCall, GarFaultInjector, GarMethod } from './faults.js';
import { MAX_PAGE_SIZE, pageOf, type PageTokens } from './page-token.js';

export interface GarServiceContext {
  estate: GarEstate;
  tokens: PageTokens;
  faults: GarFaultInjector;
  calls: GarEmulatorCall[];
  quota: RequestQuota;
  /** Page size when a request sets none (Google does not document its default). */
  defaultPageSize: number;
  /** One-shot actions run just before a matching call is answered (e.g. change the estate mid-listing). */
  hooks: Array<{ method: GarMethod; pagesAfterFirst?: boolean; fn: (call: GarEmulatorCall) => void }>;
}

type Request = Record<string, unknown>;

export function artifactRegistryHandlers(ctx: GarServiceContext): UntypedServiceImplementation {
  return {
    ListRepositories: unary(ctx, 'ListRepositories', (req) => listRepositories(ctx, req)),
    GetRepository: unary(ctx, 'GetRepository', (req) => repositoryMessage(readableRepository(ctx, str(req.name), 'artifactregistry.repositories.get'))),
    UpdateRepository: unary(ctx, 'UpdateRepository', (req) => updateRepository(ctx, req)),
    ListDockerImages: unary(ctx, 'ListDockerImages', (req) => listDockerImages(ctx, req)),
    ListTags: unary(ctx, 'ListTags', (req) => listTags(ctx, req)),
  };
}

function unary(ctx: GarServiceContext, method: GarMethod, impl: (req: Request) => object) {
  return (call: ServerUnaryCall<Request, object>, callback: sendUnaryData<object>) => {
    const req = call.request ?? {};
    const repository = req.repository as Request | undefined;
    const recorded: GarEmulatorCall = {
      method,
      resource: str(req.parent) || str(req.name) || str(repository?.name),
      pageSize: typeof req.pageSize === 'number' ? req.pageSize : undefined,
      pageToken: str(req.pageToken) || undefined,
      authorization: call.metadata.get('authorization').length > 0,
      request: req,
    };
    ctx.calls.push(recorded);
    void (async () => {
      const fault = await ctx.faults.apply(recorded);
      if (call.cancelled) return;
      if (fault) return callback({ code: fault.code, details: fault.details });
      try {
        ctx.quota.charge(locationOf(recorded.resource));
        const hook = ctx.hooks.findIndex((h) => h.method === method && (!h.pagesAfterFirst || recorded.pageToken));
        if (hook >= 0) ctx.hooks.splice(hook, 1)[0].fn(recorded);
        callback(null, ctx.faults.transform(recorded, impl(req)));
      } catch (err) {
        if (err instanceof GarEmulatorError) callback({ code: err.code, details: err.message });
        else callback({ code: GrpcStatus.INTERNAL, details: `emulator error: ${(err as Error).message}` });
      }
    })();
  };
}

// ---------------------------------------------------------------------------------------------
// Methods

function listRepositories(ctx: GarServiceContext, req: Request): object {
  const parent = str(req.parent);
  const m = /^projects\/([^/]+)\/locations\/([^/]+)$/.exec(parent);
  if (!m) throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, `Invalid parent "${parent}": expected projects/{project}/locations/{location}`);
  if (m[1] !== ctx.estate.project) throw denied('artifactregistry.repositories.list', parent);
  unsupported(req.filter, 'filter');
  unsupported(req.orderBy, 'order_by');
  const size = pageSize(req, ctx.defaultPageSize);
  const scope = `ListRepositories|${parent}`;
  const after = cursor(ctx, scope, req);
  const { page, nextPageToken } = pageOf(ctx.estate.repositoriesIn(m[2]), (r) => r.name, size, after, scope, ctx.tokens);
  return { repositories: page.map(repositoryMessage), nextPageToken };
}

function listDockerImages(ctx: GarServiceContext, req: Request): object {
  const repo = readableRepository(ctx, str(req.parent), 'artifactregistry.dockerimages.list');
  unsupported(req.orderBy, 'order_by');
  const size = pageSize(req, ctx.defaultPageSize);
  const scope = `ListDockerImages|${repo.name}`;
  const after = cursor(ctx, scope, req);
  const listed = repo.format === 'DOCKER' ? ctx.estate.listedImages(repo) : [];
  const named = listed.map((image) => ({ name: dockerImageName(repo, image), image })).sort((a, b) => cmp(a.name, b.name));
  const { page, nextPageToken } = pageOf(named, (n) => n.name, size, after, scope, ctx.tokens);
  return { dockerImages: page.map(({ name, image }) => dockerImageMessage(repo, name, image)), nextPageToken };
}

function listTags(ctx: GarServiceContext, req: Request): object {
  const parent = str(req.parent);
  const m = /^(projects\/[^/]+\/locations\/[^/]+\/repositories\/[^/]+)\/packages\/([^/]+)$/.exec(parent);
  if (!m) throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, `Invalid parent "${parent}": expected projects/{project}/locations/{location}/repositories/{repository}/packages/{package}`);
  const repo = readableRepository(ctx, m[1], 'artifactregistry.tags.list');
  let image: string;
  try {
    image = decodeURIComponent(m[2]);
  } catch {
    throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, `Invalid package name "${m[2]}"`);
  }
  const tags = [...ctx.estate.tagsOf(repo.location, repo.id, image)]
    .map(([tag, digest]) => ({ name: `${parent}/tags/${encodeURIComponent(tag)}`, version: `${parent}/versions/${digest}` }))
    .filter(tagFilter(str(req.filter)))
    .sort((a, b) => cmp(a.name, b.name));
  const size = pageSize(req, ctx.defaultPageSize);
  const scope = `ListTags|${parent}|${str(req.filter)}`;
  const after = cursor(ctx, scope, req);
  const { page, nextPageToken } = pageOf(tags, (t) => t.name, size, after, scope, ctx.tokens);
  return { tags: page, nextPageToken };
}

/**
 * `update_mask` paths are proto field names (snake_case). An empty mask replaces the description,
 * labels, cleanup policies and dry-run flag with what the request carries, and `docker_config` when
 * the request carries one. Format and mode cannot change after creation.
 * https://google.aip.dev/134
 */
const UPDATABLE = new Set(['description', 'labels', 'docker_config', 'docker_config.immutable_tags', 'cleanup_policies', 'cleanup_policy_dry_run']);
const IMMUTABLE_FIELDS = new Set(['name', 'format', 'mode', 'create_time', 'update_time', 'remote_repository_config', 'virtual_repository_config']);

function updateRepository(ctx: GarServiceContext, req: Request): object {
  const body = (req.repository ?? null) as Request | null;
  if (!body || !str(body.name)) throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, 'repository.name is required');
  const repo = readableRepository(ctx, str(body.name), 'artifactregistry.repositories.update');
  const mask = ((req.updateMask as { paths?: unknown } | undefined)?.paths ?? []) as unknown[];
  const paths = mask.length > 0 ? mask.map(String) : [...UPDATABLE].filter((p) => p !== 'docker_config.immutable_tags');
  for (const path of paths) {
    if (IMMUTABLE_FIELDS.has(path)) throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, `field "${path}" cannot be updated`);
    if (!UPDATABLE.has(path)) throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, `invalid update_mask path "${path}"`);
  }
  const dockerConfig = body.dockerConfig as { immutableTags?: unknown } | null | undefined;
  if ((paths.includes('docker_config') || paths.includes('docker_config.immutable_tags')) && repo.format !== 'DOCKER') {
    throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, 'docker_config applies to Docker repositories only');
  }
  for (const path of paths) {
    switch (path) {
      case 'description':
        repo.description = str(body.description);
        break;
      case 'labels':
        repo.labels = { ...((body.labels as Record<string, string> | undefined) ?? {}) };
        break;
      case 'docker_config':
        repo.dockerConfig = dockerConfig ? { immutableTags: dockerConfig.immutableTags === true } : mask.length > 0 ? null : repo.dockerConfig;
        break;
      case 'docker_config.immutable_tags':
        repo.dockerConfig = { immutableTags: dockerConfig?.immutableTags === true };
        break;
      case 'cleanup_policies':
        repo.cleanupPolicies = cleanupPoliciesFrom(body.cleanupPolicies);
        break;
      case 'cleanup_policy_dry_run':
        repo.cleanupPolicyDryRun = body.cleanupPolicyDryRun === true;
        break;
    }
  }
  repo.updateTime = new Date();
  return repositoryMessage(repo);
}

// ---------------------------------------------------------------------------------------------
// Access and request checks

/**
 * The repository behind `name`, readable by the caller. A foreign project or a denied repository
 * answers PERMISSION_DENIED, worded as Google words it; a missing one NOT_FOUND.
 */
function readableRepository(ctx: GarServiceContext, name: string, permission: string): EmulatedGarRepository {
  const m = /^projects\/([^/]+)\/locations\/([^/]+)\/repositories\/([^/]+)$/.exec(name);
  if (!m) throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, `Invalid resource name "${name}": expected projects/{project}/locations/{location}/repositories/{repository}`);
  if (m[1] !== ctx.estate.project) throw denied(permission, name);
  const repo = ctx.estate.find(name);
  if (repo?.denied) throw denied(permission, name);
  if (!repo) throw new GarEmulatorError(GrpcStatus.NOT_FOUND, 'Requested entity was not found.');
  return repo;
}

function denied(permission: string, resource: string): GarEmulatorError {
  return new GarEmulatorError(GrpcStatus.PERMISSION_DENIED, `Permission '${permission}' denied on resource '//artifactregistry.googleapis.com/${resource}' (or it may not exist).`);
}

/** Negative sizes are refused; zero means the default; above the maximum is lowered to it (https://google.aip.dev/158). */
function pageSize(req: Request, defaultSize: number): number {
  const n = typeof req.pageSize === 'number' ? req.pageSize : 0;
  if (n < 0) throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, 'page_size must not be negative');
  return n === 0 ? defaultSize : Math.min(n, MAX_PAGE_SIZE);
}

function cursor(ctx: GarServiceContext, scope: string, req: Request): string | null {
  const token = str(req.pageToken);
  if (!token) return null;
  const after = ctx.tokens.read(scope, token);
  if (after === null) throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, 'Invalid page token.');
  return after;
}

function unsupported(value: unknown, field: string): void {
  if (str(value)) throw new GarEmulatorError(GrpcStatus.UNIMPLEMENTED, `the GAR emulator does not implement ${field}`);
}

/** `name="…"` or `version="…"`, with `*` wildcards, as ListTags documents. */
function tagFilter(filter: string): (t: { name: string; version: string }) => boolean {
  if (!filter.trim()) return () => true;
  const m = /^\s*(name|version)\s*=\s*"([^"]*)"\s*$/i.exec(filter);
  if (!m) throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, `invalid filter "${filter}"`);
  const pattern = new RegExp(`^${m[2].split('*').map(escapeRegExp).join('.*')}$`, 'i');
  const field = m[1].toLowerCase() as 'name' | 'version';
  return (t) => pattern.test(t[field]);
}

// ---------------------------------------------------------------------------------------------
// Messages

function repositoryMessage(repo: EmulatedGarRepository): object {
  const msg: Record<string, unknown> = {
    name: repo.name,
    format: repo.format,
    mode: repo.mode,
    description: repo.description,
    labels: repo.labels,
    createTime: timestamp(repo.createTime),
    updateTime: timestamp(repo.updateTime),
    cleanupPolicies: Object.fromEntries(repo.cleanupPolicies.map((p) => [p.id!, cleanupPolicyMessage(p)])),
    cleanupPolicyDryRun: repo.cleanupPolicyDryRun,
    registryUri: `${repo.location}-docker.pkg.dev/${repo.project.replace(':', '/')}/${repo.id}`,
  };
  if (repo.dockerConfig) msg.dockerConfig = { immutableTags: repo.dockerConfig.immutableTags };
  if (repo.remoteUpstream) {
    msg.remoteRepositoryConfig = {
      description: 'remote repository',
      dockerRepository: repo.remoteUpstream === 'DOCKER_HUB' ? { publicRepository: 'DOCKER_HUB' } : { customRepository: { uri: repo.remoteUpstream.uri } },
    };
  }
  if (repo.mode === 'VIRTUAL_REPOSITORY') {
    msg.virtualRepositoryConfig = {
      upstreamPolicies: repo.virtualUpstreams.map((u) => ({
        id: u.id,
        repository: `projects/${repo.project}/locations/${repo.location}/repositories/${u.repository}`,
        priority: u.priority,
      })),
    };
  }
  return msg;
}

function cleanupPolicyMessage(p: GarCleanupPolicyInput): object {
  const msg: Record<string, unknown> = { id: p.id, action: p.action };
  if (p.condition) {
    const c = p.condition;
    msg.condition = {
      tagState: c.tagState,
      tagPrefixes: c.tagPrefixes ?? [],
      versionNamePrefixes: c.versionNamePrefixes ?? [],
      packageNamePrefixes: c.packageNamePrefixes ?? [],
      olderThan: c.olderThanSeconds === undefined ? undefined : { seconds: String(c.olderThanSeconds) },
      newerThan: c.newerThanSeconds === undefined ? undefined : { seconds: String(c.newerThanSeconds) },
    };
  } else if (p.mostRecentVersions) {
    msg.mostRecentVersions = { packageNamePrefixes: p.mostRecentVersions.packageNamePrefixes ?? [], keepCount: p.mostRecentVersions.keepCount };
  }
  return msg;
}

function cleanupPoliciesFrom(value: unknown): GarCleanupPolicyInput[] {
  const out: GarCleanupPolicyInput[] = [];
  for (const [key, raw] of Object.entries((value as Record<string, Request> | undefined) ?? {})) {
    const c = raw.condition as Request | undefined;
    const r = raw.mostRecentVersions as Request | undefined;
    out.push({
      id: str(raw.id) || key,
      action: raw.action === 'KEEP' ? 'KEEP' : 'DELETE',
      condition: c
        ? {
            tagState: (str(c.tagState) || undefined) as 'TAGGED' | 'UNTAGGED' | 'ANY' | undefined,
            tagPrefixes: (c.tagPrefixes as string[] | undefined) ?? [],
            olderThanSeconds: c.olderThan ? Number((c.olderThan as Request).seconds) : undefined,
            newerThanSeconds: c.newerThan ? Number((c.newerThan as Request).seconds) : undefined,
          }
        : undefined,
      mostRecentVersions: r ? { keepCount: typeof r.keepCount === 'number' ? r.keepCount : undefined } : undefined,
    });
  }
  return out;
}

/**
 * The image part of a DockerImage name is URL-encoded (`/` becomes `%2F`); the `uri` is not.
 * https://cloud.google.com/artifact-registry/docs/reference/rest/v1/projects.locations.repositories.dockerImages
 */
function dockerImageName(repo: EmulatedGarRepository, image: EmulatedDockerImage): string {
  return `${repo.name}/dockerImages/${encodeURIComponent(image.image)}@${image.digest}`;
}

function dockerImageMessage(repo: EmulatedGarRepository, name: string, image: EmulatedDockerImage): object {
  return {
    name,
    uri: `${repo.location}-docker.pkg.dev/${repo.project.replace(':', '/')}/${repo.id}/${image.image}@${image.digest}`,
    tags: image.tags,
    imageSizeBytes: String(image.imageSizeBytes),
    uploadTime: timestamp(image.uploadTime),
    mediaType: image.mediaType,
    buildTime: image.buildTime ? timestamp(image.buildTime) : undefined,
    updateTime: timestamp(image.updateTime),
  };
}

function timestamp(d: Date): { seconds: string; nanos: number } {
  const ms = d.getTime();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (((ms % 1000) + 1000) % 1000) * 1e6 };
}

// ---------------------------------------------------------------------------------------------
// Quota

/**
 * Artifact Registry's request quota: 60,000 requests a minute per project per region. Beyond it,
 * calls answer RESOURCE_EXHAUSTED until the minute turns. https://cloud.google.com/artifact-registry/quotas
 */
export class RequestQuota {
  private window = 0;
  private readonly counts = new Map<string, number>();

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  charge(location: string): void {
    const window = Math.floor(this.now() / 60_000);
    if (window !== this.window) {
      this.window = window;
      this.counts.clear();
    }
    const n = (this.counts.get(location) ?? 0) + 1;
    this.counts.set(location, n);
    if (n > this.perMinute) {
      throw new GarEmulatorError(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per project per region' of service 'artifactregistry.googleapis.com' (region ${location}).`,
      );
    }
  }
}

function locationOf(resource: string): string {
  return /^projects\/[^/]+\/locations\/([^/]+)/.exec(resource)?.[1] ?? 'global';
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
