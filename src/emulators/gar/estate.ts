/**
 * The GAR emulator's in-memory Artifact Registry (one project, any number of locations), and the
 * control API that changes it the way pushes, retags, deletes and console edits change a real one.
 *
 * Tag changes ENFORCE `dockerConfig.immutableTags` as Artifact Registry documents it: "prevents all
 * tags from being modified, moved or deleted. This does not prevent tags from being created." With it
 * on, moving a tag, removing a tag and deleting a tagged image are refused with FAILED_PRECONDITION;
 * creating a new tag is allowed.
 * https://cloud.google.com/artifact-registry/docs/repositories/update-repo-settings
 * https://cloud.google.com/artifact-registry/docs/reference/rpc/google.devtools.artifactregistry.v1#dockerrepositoryconfig
 *
 * A VIRTUAL repository stores nothing: writes to it are refused, and it lists what a pull through it
 * resolves to (each tag from the highest-priority upstream that has it). Google does not document
 * what ListDockerImages returns for a virtual repository; this is the emulator's model of it.
 * https://cloud.google.com/artifact-registry/docs/repositories/virtual-overview
 */
import { createHash } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';

export type GarFormat = 'DOCKER' | 'MAVEN' | 'NPM' | 'PYTHON' | 'APT' | 'YUM' | 'GO' | 'GENERIC' | 'KFP' | 'RUBY';
export type GarMode = 'STANDARD_REPOSITORY' | 'REMOTE_REPOSITORY' | 'VIRTUAL_REPOSITORY' | 'MODE_UNSPECIFIED';

/** An Artifact Registry error as the wire reports it: a gRPC status and a message. */
export class GarEmulatorError extends Error {
  constructor(
    readonly code: GrpcStatus,
    message: string,
  ) {
    super(message);
    this.name = 'GarEmulatorError';
  }
}

export interface GarCleanupPolicyInput {
  id?: string;
  action: 'DELETE' | 'KEEP';
  condition?: {
    tagState?: 'TAGGED' | 'UNTAGGED' | 'ANY';
    tagPrefixes?: string[];
    versionNamePrefixes?: string[];
    packageNamePrefixes?: string[];
    olderThanSeconds?: number;
    newerThanSeconds?: number;
  };
  mostRecentVersions?: { packageNamePrefixes?: string[]; keepCount?: number };
}

export interface CreateGarRepositoryOptions {
  format?: GarFormat;
  mode?: GarMode;
  /** Sets `dockerConfig.immutableTags`; leave undefined for a repository without `dockerConfig`. */
  immutableTags?: boolean;
  description?: string;
  labels?: Record<string, string>;
  cleanupPolicies?: GarCleanupPolicyInput[];
  cleanupPolicyDryRun?: boolean;
  /** REMOTE: `DOCKER_HUB` or a custom upstream URI. */
  remoteUpstream?: 'DOCKER_HUB' | { uri: string };
  /** VIRTUAL: upstream repositories of the same location, by repository id. */
  virtualUpstreams?: Array<{ id: string; repository: string; priority: number }>;
  createTime?: Date;
}

export interface EmulatedDockerImage {
  image: string;
  digest: string;
  /** Tags in the order they were placed. */
  tags: string[];
  mediaType: string;
  imageSizeBytes: number;
  uploadTime: Date;
  buildTime: Date | null;
  updateTime: Date;
}

export interface EmulatedGarRepository {
  project: string;
  location: string;
  id: string;
  /** `projects/<p>/locations/<l>/repositories/<id>` */
  name: string;
  format: GarFormat;
  mode: GarMode;
  description: string;
  labels: Record<string, string>;
  /** null: the repository has no `dockerConfig` (immutable tags off). */
  dockerConfig: { immutableTags: boolean } | null;
  cleanupPolicies: GarCleanupPolicyInput[];
  cleanupPolicyDryRun: boolean;
  remoteUpstream: 'DOCKER_HUB' | { uri: string } | null;
  virtualUpstreams: Array<{ id: string; repository: string; priority: number }>;
  createTime: Date;
  updateTime: Date;
  /** When set, every call on this repository answers PERMISSION_DENIED (an IAM deny). */
  denied: boolean;
  /** image path → digest → image */
  images: Map<string, Map<string, EmulatedDockerImage>>;
  /** image path → tag → digest */
  tagIndex: Map<string, Map<string, string>>;
}

export interface PushGarImageOptions {
  tags?: string[];
  /** Manifest digest; derived from `content` (or a counter) when absent. */
  digest?: string;
  content?: string;
  mediaType?: string;
  imageSizeBytes?: number;
  uploadTime?: Date;
  buildTime?: Date | null;
}

const IMAGE_PATH = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const REPOSITORY_ID = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

export function digestOf(content: string): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

export class GarEstate {
  private readonly repositories = new Map<string, EmulatedGarRepository>();
  private counter = 0;

  constructor(
    readonly project: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  createRepository(location: string, id: string, opts: CreateGarRepositoryOptions = {}): EmulatedGarRepository {
    if (!REPOSITORY_ID.test(id) || id.length > 63) throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, `invalid repository id "${id}"`);
    const name = this.repositoryName(location, id);
    if (this.repositories.has(name)) throw new GarEmulatorError(GrpcStatus.ALREADY_EXISTS, `the repository already exists: ${name}`);
    const mode = opts.mode ?? 'STANDARD_REPOSITORY';
    const created = opts.createTime ?? this.now();
    const repo: EmulatedGarRepository = {
      project: this.project,
      location,
      id,
      name,
      format: opts.format ?? 'DOCKER',
      mode,
      description: opts.description ?? '',
      labels: { ...(opts.labels ?? {}) },
      dockerConfig: opts.immutableTags === undefined ? null : { immutableTags: opts.immutableTags },
      cleanupPolicies: (opts.cleanupPolicies ?? []).map((p, i) => ({ ...p, id: p.id ?? `policy-${i + 1}` })),
      cleanupPolicyDryRun: opts.cleanupPolicyDryRun ?? false,
      remoteUpstream: mode === 'REMOTE_REPOSITORY' ? (opts.remoteUpstream ?? 'DOCKER_HUB') : null,
      virtualUpstreams: mode === 'VIRTUAL_REPOSITORY' ? (opts.virtualUpstreams ?? []).map((u) => ({ ...u })) : [],
      createTime: created,
      updateTime: created,
      denied: false,
      images: new Map(),
      tagIndex: new Map(),
    };
    this.repositories.set(name, repo);
    return repo;
  }

  deleteRepository(location: string, id: string): void {
    this.repositories.delete(this.repositoryName(location, id));
  }

  repository(location: string, id: string): EmulatedGarRepository {
    const repo = this.repositories.get(this.repositoryName(location, id));
    if (!repo) throw new GarEmulatorError(GrpcStatus.NOT_FOUND, `Requested entity was not found: repository ${location}/${id}`);
    return repo;
  }

  /** By full resource name; undefined when absent. */
  find(name: string): EmulatedGarRepository | undefined {
    return this.repositories.get(name);
  }

  /** Repositories of one location, sorted by name (the listing order). */
  repositoriesIn(location: string): EmulatedGarRepository[] {
    const prefix = `projects/${this.project}/locations/${location}/repositories/`;
    return [...this.repositories.values()].filter((r) => r.name.startsWith(prefix)).sort((a, b) => cmp(a.name, b.name));
  }

  /** `true`/`false` sets `dockerConfig.immutableTags`; `null` removes `dockerConfig`. */
  setImmutableTags(location: string, id: string, immutableTags: boolean | null): void {
    const repo = this.repository(location, id);
    repo.dockerConfig = immutableTags === null ? null : { immutableTags };
    repo.updateTime = this.now();
  }

  setCleanupPolicies(location: string, id: string, policies: GarCleanupPolicyInput[], dryRun = false): void {
    const repo = this.repository(location, id);
    repo.cleanupPolicies = policies.map((p, i) => ({ ...p, id: p.id ?? `policy-${i + 1}` }));
    repo.cleanupPolicyDryRun = dryRun;
    repo.updateTime = this.now();
  }

  /** Every call on the repository answers PERMISSION_DENIED until `deny(..., false)`. */
  deny(location: string, id: string, denied = true): void {
    this.repository(location, id).denied = denied;
  }

  /**
   * A `docker push` of one manifest with its tags: the image version is created if new, and each tag
   * is placed on it, moving it from another version of the same image when the repository allows.
   * Returns the digest.
   */
  pushImage(location: string, id: string, image: string, opts: PushGarImageOptions = {}): string {
    const repo = this.writable(location, id);
    if (!IMAGE_PATH.test(image)) throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, `invalid image name "${image}"`);
    const tags = opts.tags ?? [];
    const digest = opts.digest ?? digestOf(opts.content ?? `${repo.name}/${image}#${++this.counter}`);
    for (const tag of tags) this.checkTagPlacement(repo, image, tag, digest);
    const at = this.now();
    let versions = repo.images.get(image);
    if (!versions) repo.images.set(image, (versions = new Map()));
    if (!versions.has(digest)) {
      versions.set(digest, {
        image,
        digest,
        tags: [],
        mediaType: opts.mediaType ?? DOCKER_MANIFEST,
        imageSizeBytes: opts.imageSizeBytes ?? 1024 + (this.counter % 4096),
        uploadTime: opts.uploadTime ?? at,
        buildTime: opts.buildTime === undefined ? at : opts.buildTime,
        updateTime: at,
      });
    }
    for (const tag of tags) this.placeTag(repo, image, tag, digest);
    return digest;
  }

  /** Adds `tag` to an existing version, or moves it there from another version (refused when tags are immutable). */
  tag(location: string, id: string, image: string, tag: string, digest: string): void {
    const repo = this.writable(location, id);
    if (!repo.images.get(image)?.has(digest)) throw new GarEmulatorError(GrpcStatus.NOT_FOUND, `Requested entity was not found: ${image}@${digest}`);
    this.checkTagPlacement(repo, image, tag, digest);
    this.placeTag(repo, image, tag, digest);
  }

  /** Removes a tag (refused when tags are immutable). */
  untag(location: string, id: string, image: string, tag: string): void {
    const repo = this.writable(location, id);
    const digest = repo.tagIndex.get(image)?.get(tag);
    if (digest === undefined) throw new GarEmulatorError(GrpcStatus.NOT_FOUND, `Requested entity was not found: tag ${image}:${tag}`);
    if (immutable(repo)) throw this.immutableError(repo, `cannot delete tag "${tag}" of image "${image}"`);
    this.removeTag(repo, image, tag);
  }

  /** Deletes one version and its tags (refused for a tagged version when tags are immutable). */
  deleteImage(location: string, id: string, image: string, digest: string): void {
    const repo = this.writable(location, id);
    const version = repo.images.get(image)?.get(digest);
    if (!version) throw new GarEmulatorError(GrpcStatus.NOT_FOUND, `Requested entity was not found: ${image}@${digest}`);
    if (immutable(repo) && version.tags.length > 0) throw this.immutableError(repo, `cannot delete tagged image ${image}@${digest}`);
    for (const tag of [...version.tags]) this.removeTag(repo, image, tag);
    repo.images.get(image)!.delete(digest);
    if (repo.images.get(image)!.size === 0) {
      repo.images.delete(image);
      repo.tagIndex.delete(image);
    }
  }

  /** tag → digest of one image, as a pull through the repository resolves it. */
  tagsOf(location: string, id: string, image: string): Map<string, string> {
    const repo = this.repository(location, id);
    return new Map(this.resolvedTags(repo, image));
  }

  /**
   * The docker images the repository lists, sorted by image path then digest. For a VIRTUAL
   * repository: each tag from the highest-priority upstream that has it.
   */
  listedImages(repo: EmulatedGarRepository): EmulatedDockerImage[] {
    if (repo.mode !== 'VIRTUAL_REPOSITORY') {
      return [...repo.images.values()].flatMap((versions) => [...versions.values()]).map((v) => ({ ...v, tags: [...v.tags] }));
    }
    const out = new Map<string, EmulatedDockerImage>();
    for (const image of this.virtualImagePaths(repo)) {
      for (const [tag, digest] of this.resolvedTags(repo, image)) {
        const key = `${image}@${digest}`;
        let listed = out.get(key);
        if (!listed) {
          const source = this.upstreamsOf(repo)
            .map((u) => u.images.get(image)?.get(digest))
            .find((v) => v !== undefined)!;
          out.set(key, (listed = { ...source, tags: [] }));
        }
        listed.tags.push(tag);
      }
    }
    return [...out.values()];
  }

  private resolvedTags(repo: EmulatedGarRepository, image: string): Map<string, string> {
    if (repo.mode !== 'VIRTUAL_REPOSITORY') return new Map(repo.tagIndex.get(image) ?? []);
    const resolved = new Map<string, string>();
    for (const upstream of this.upstreamsOf(repo)) {
      for (const [tag, digest] of upstream.tagIndex.get(image) ?? []) if (!resolved.has(tag)) resolved.set(tag, digest);
    }
    return resolved;
  }

  /** Upstream repositories, highest priority first ("entries with a greater priority value take precedence"). */
  private upstreamsOf(repo: EmulatedGarRepository): EmulatedGarRepository[] {
    return [...repo.virtualUpstreams]
      .sort((a, b) => b.priority - a.priority)
      .map((u) => this.repositories.get(this.repositoryName(repo.location, u.repository)))
      .filter((r): r is EmulatedGarRepository => r !== undefined && r.mode !== 'VIRTUAL_REPOSITORY');
  }

  private virtualImagePaths(repo: EmulatedGarRepository): string[] {
    const paths = new Set<string>();
    for (const u of this.upstreamsOf(repo)) for (const image of u.images.keys()) paths.add(image);
    return [...paths];
  }

  private writable(location: string, id: string): EmulatedGarRepository {
    const repo = this.repository(location, id);
    if (repo.mode === 'VIRTUAL_REPOSITORY') {
      throw new GarEmulatorError(GrpcStatus.FAILED_PRECONDITION, `repository ${location}/${id} is a virtual repository: push to one of its upstream repositories`);
    }
    if (repo.format !== 'DOCKER') throw new GarEmulatorError(GrpcStatus.FAILED_PRECONDITION, `repository ${location}/${id} is not a Docker repository`);
    return repo;
  }

  /** Throws when placing `tag` on `digest` would move it in an immutable repository. */
  private checkTagPlacement(repo: EmulatedGarRepository, image: string, tag: string, digest: string): void {
    if (!TAG.test(tag)) throw new GarEmulatorError(GrpcStatus.INVALID_ARGUMENT, `invalid tag "${tag}"`);
    const current = repo.tagIndex.get(image)?.get(tag);
    if (current === undefined || current === digest) return;
    if (immutable(repo)) throw this.immutableError(repo, `cannot move tag "${tag}" of image "${image}" (it points at ${current})`);
  }

  private placeTag(repo: EmulatedGarRepository, image: string, tag: string, digest: string): void {
    const current = repo.tagIndex.get(image)?.get(tag);
    if (current === digest) return;
    if (current !== undefined) this.removeTag(repo, image, tag);
    let index = repo.tagIndex.get(image);
    if (!index) repo.tagIndex.set(image, (index = new Map()));
    index.set(tag, digest);
    const version = repo.images.get(image)!.get(digest)!;
    version.tags.push(tag);
    version.updateTime = this.now();
  }

  private removeTag(repo: EmulatedGarRepository, image: string, tag: string): void {
    const digest = repo.tagIndex.get(image)?.get(tag);
    if (digest === undefined) return;
    repo.tagIndex.get(image)!.delete(tag);
    const version = repo.images.get(image)?.get(digest);
    if (version) {
      version.tags = version.tags.filter((t) => t !== tag);
      version.updateTime = this.now();
    }
  }

  private immutableError(repo: EmulatedGarRepository, what: string): GarEmulatorError {
    return new GarEmulatorError(GrpcStatus.FAILED_PRECONDITION, `${what}: repository ${repo.location}/${repo.id} has immutable tags enabled`);
  }

  private repositoryName(location: string, id: string): string {
    return `projects/${this.project}/locations/${location}/repositories/${id}`;
  }
}

function immutable(repo: EmulatedGarRepository): boolean {
  return repo.dockerConfig?.immutableTags === true;
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
