/**
 * The ECR emulator's in-memory registry, and the control API that changes it the way pushes,
 * retags, deletes and console edits change a real ECR registry.
 *
 * Tag placement ENFORCES tag immutability as ECR does: a tag that the repository's mode and
 * exclusion filters protect cannot be moved to another image
 * (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html).
 * Deleting an image is always allowed, so a protected tag can be pushed again onto a different
 * image afterwards — real ECR allows exactly that, and the audit must notice it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ecrFilterMatches } from '../../audit/ecr-filters.js';
import type { EcrTagMutability } from '../../audit/protection.js';

export type EcrImageStatus = 'ACTIVE' | 'ARCHIVED' | 'ACTIVATING';

export const ECR_MUTABILITY_MODES: readonly EcrTagMutability[] = ['MUTABLE', 'IMMUTABLE', 'IMMUTABLE_WITH_EXCLUSION', 'MUTABLE_WITH_EXCLUSION'];

/** An ECR API error as the wire reports it: `__type` and HTTP status. */
export class EcrApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

export interface EmulatedImage {
  digest: string;
  /** Tags in the order they were placed. Empty: an untagged image. */
  tags: string[];
  manifestMediaType: string;
  artifactMediaType: string;
  sizeInBytes: number;
  pushedAt: Date;
  status: EcrImageStatus;
  lastArchivedAt?: Date;
}

export interface EmulatedRepository {
  registryId: string;
  name: string;
  createdAt: Date;
  mutability: EcrTagMutability;
  /** WILDCARD exclusion filters (empty unless the mode is *_WITH_EXCLUSION). */
  filters: string[];
  scanOnPush: boolean;
  /** Insertion order is the listing order. */
  images: Map<string, EmulatedImage>;
  /** tag → digest */
  tagIndex: Map<string, string>;
  /** When set, image reads answer AccessDeniedException (an IAM deny on this repository). */
  denied: boolean;
}

export interface CreateRepositoryOptions {
  registryId?: string;
  imageTagMutability?: EcrTagMutability;
  filters?: string[];
  scanOnPush?: boolean;
  createdAt?: Date;
}

export interface PushImageOptions {
  /** Tag to place on the image; none pushes an untagged image. */
  tag?: string;
  /** Manifest digest; derived from `content` (or random) when absent. */
  digest?: string;
  /** Seed for a deterministic digest. */
  content?: string;
  manifestMediaType?: string;
  artifactMediaType?: string;
  sizeInBytes?: number;
  pushedAt?: Date;
  registryId?: string;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageTagMutabilityExclusionFilter.html */
const FILTER_PATTERN = /^[0-9a-zA-Z._*-]{1,128}$/;
/** https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_Repository.html (repositoryName) */
const REPOSITORY_NAME = /^(?=.{2,256}$)((?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)$/;
/** https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageIdentifier.html (imageTag) */
const TAG_PATTERN = /^[\w][\w.-]{0,299}$/;

export function digestOf(content: string): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

/** Is `tag` protected from being overwritten, given the repository's mode and filters? */
export function tagIsImmutable(repo: Pick<EmulatedRepository, 'mutability' | 'filters'>, tag: string): boolean {
  const matches = repo.filters.some((f) => ecrFilterMatches(f, tag));
  switch (repo.mutability) {
    case 'IMMUTABLE':
      return true;
    case 'MUTABLE':
      return false;
    case 'IMMUTABLE_WITH_EXCLUSION':
      return !matches;
    case 'MUTABLE_WITH_EXCLUSION':
      return matches;
  }
}

/**
 * Validates a mode plus exclusion filters as PutImageTagMutability/CreateRepository do: 1-5
 * `WILDCARD` filters matching `^[0-9a-zA-Z._*-]{1,128}$`
 * (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImageTagMutability.html).
 * The API reference does not say how a mode and the presence of filters must agree; the emulator
 * assumes the strict reading: the *_WITH_EXCLUSION modes need at least one filter, and the plain
 * modes take none.
 */
export function validateMutability(mode: unknown, filters: unknown): { mode: EcrTagMutability; filters: string[] } {
  if (typeof mode !== 'string' || !ECR_MUTABILITY_MODES.includes(mode as EcrTagMutability)) {
    throw new EcrApiError('InvalidParameterException', `Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [${ECR_MUTABILITY_MODES.join(', ')}]'`);
  }
  const m = mode as EcrTagMutability;
  if (filters === undefined || filters === null) {
    if (m.endsWith('_WITH_EXCLUSION')) {
      throw new EcrApiError('InvalidParameterException', `Invalid parameter: imageTagMutabilityExclusionFilters are required when imageTagMutability is ${m}`);
    }
    return { mode: m, filters: [] };
  }
  if (!Array.isArray(filters) || filters.length < 1 || filters.length > 5) {
    throw new EcrApiError('InvalidParameterException', `Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'Member must have length between 1 and 5'`);
  }
  if (!m.endsWith('_WITH_EXCLUSION')) {
    throw new EcrApiError('InvalidParameterException', `Invalid parameter: imageTagMutabilityExclusionFilters can only be used with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION`);
  }
  const out: string[] = [];
  for (const [i, f] of filters.entries()) {
    const entry = f as { filterType?: unknown; filter?: unknown } | null;
    if (!entry || entry.filterType !== 'WILDCARD') {
      throw new EcrApiError('InvalidParameterException', `Invalid parameter at 'imageTagMutabilityExclusionFilters.${i + 1}.member.filterType' failed to satisfy constraint: 'Member must satisfy enum value set: [WILDCARD]'`);
    }
    if (typeof entry.filter !== 'string' || !FILTER_PATTERN.test(entry.filter)) {
      throw new EcrApiError('InvalidParameterException', `Invalid parameter at 'imageTagMutabilityExclusionFilters.${i + 1}.member.filter' failed to satisfy constraint: 'Member must satisfy regular expression pattern: ^[0-9a-zA-Z._*-]{1,128}$'`);
    }
    out.push(entry.filter);
  }
  return { mode: m, filters: out };
}

export class EcrEstate {
  /** key: `${registryId}/${name}` */
  private readonly repos = new Map<string, EmulatedRepository>();
  private counter = 0;

  constructor(readonly defaultRegistryId: string) {}

  private key(name: string, registryId?: string): string {
    return `${registryId ?? this.defaultRegistryId}/${name}`;
  }

  /** Repositories of one registry, in creation order. */
  repositories(registryId?: string): EmulatedRepository[] {
    const id = registryId ?? this.defaultRegistryId;
    return [...this.repos.values()].filter((r) => r.registryId === id);
  }

  findRepository(name: string, registryId?: string): EmulatedRepository | undefined {
    return this.repos.get(this.key(name, registryId));
  }

  /** The repository, or RepositoryNotFoundException worded as ECR words it. */
  repository(name: string, registryId?: string): EmulatedRepository {
    const repo = this.findRepository(name, registryId);
    if (!repo) {
      throw new EcrApiError(
        'RepositoryNotFoundException',
        `The repository with name '${name}' does not exist in the registry with id '${registryId ?? this.defaultRegistryId}'`,
      );
    }
    return repo;
  }

  createRepository(name: string, opts: CreateRepositoryOptions = {}): EmulatedRepository {
    if (!REPOSITORY_NAME.test(name)) throw new EcrApiError('InvalidParameterException', `Invalid parameter at 'repositoryName': '${name}' is not a valid repository name`);
    const registryId = opts.registryId ?? this.defaultRegistryId;
    if (this.repos.has(this.key(name, registryId))) {
      throw new EcrApiError('RepositoryAlreadyExistsException', `The repository with name '${name}' already exists in the registry with id '${registryId}'`);
    }
    const { mode, filters } = validateMutability(
      opts.imageTagMutability ?? 'MUTABLE',
      opts.filters?.map((filter) => ({ filterType: 'WILDCARD', filter })),
    );
    const repo: EmulatedRepository = {
      registryId,
      name,
      createdAt: opts.createdAt ?? new Date(),
      mutability: mode,
      filters,
      scanOnPush: opts.scanOnPush ?? false,
      images: new Map(),
      tagIndex: new Map(),
      denied: false,
    };
    this.repos.set(this.key(name, registryId), repo);
    return repo;
  }

  /** What `PutImageTagMutability` does; also used by its wire handler. */
  putImageTagMutability(name: string, mode: EcrTagMutability, filters: string[] = [], registryId?: string): EmulatedRepository {
    const repo = this.repository(name, registryId);
    const v = validateMutability(mode, filters.length ? filters.map((filter) => ({ filterType: 'WILDCARD', filter })) : undefined);
    repo.mutability = v.mode;
    repo.filters = v.filters;
    return repo;
  }

  /**
   * Pushes an image (PutImage), optionally with a tag. Throws ImageTagAlreadyExistsException
   * when the tag is on another image and protected, and ImageAlreadyExistsException when the
   * same image is pushed again under the same tag (nothing would change).
   */
  pushImage(repositoryName: string, opts: PushImageOptions = {}): string {
    const repo = this.repository(repositoryName, opts.registryId);
    const digest = opts.digest ?? digestOf(opts.content ?? `${repo.registryId}/${repo.name}#${++this.counter}#${randomBytes(8).toString('hex')}`);
    if (opts.tag !== undefined) this.checkTagPlacement(repo, opts.tag, digest);
    let image = repo.images.get(digest);
    if (!image) {
      image = {
        digest,
        tags: [],
        manifestMediaType: opts.manifestMediaType ?? OCI_MANIFEST,
        artifactMediaType: opts.artifactMediaType ?? OCI_CONFIG,
        sizeInBytes: opts.sizeInBytes ?? 1_000_000 + (parseInt(digest.slice(7, 13), 16) % 50_000_000),
        pushedAt: opts.pushedAt ?? new Date(),
        status: 'ACTIVE',
      };
      repo.images.set(digest, image);
    }
    if (opts.tag !== undefined) this.placeTag(repo, opts.tag, digest);
    return digest;
  }

  /** Points `tag` at an image already in the repository (PutImage with an existing manifest). */
  tagImage(repositoryName: string, digest: string, tag: string, registryId?: string): void {
    const repo = this.repository(repositoryName, registryId);
    if (!repo.images.has(digest)) throw new EcrApiError('ImageNotFoundException', `The image with imageId {imageDigest:'${digest}'} does not exist within the repository with name '${repo.name}' in the registry with id '${repo.registryId}'`);
    this.checkTagPlacement(repo, tag, digest);
    this.placeTag(repo, tag, digest);
  }

  /** Moves a tag to another image, as a push of a new image under an existing tag does. */
  moveTag(repositoryName: string, tag: string, opts: Omit<PushImageOptions, 'tag'> = {}): string {
    if (opts.digest && this.repository(repositoryName, opts.registryId).images.has(opts.digest)) {
      this.tagImage(repositoryName, opts.digest, tag, opts.registryId);
      return opts.digest;
    }
    return this.pushImage(repositoryName, { ...opts, tag });
  }

  /**
   * BatchDeleteImage by tag: removes the tag; an image losing its last tag is deleted
   * (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_BatchDeleteImage.html).
   * Allowed whatever the tag mutability.
   */
  deleteTag(repositoryName: string, tag: string, registryId?: string): void {
    const repo = this.repository(repositoryName, registryId);
    const digest = repo.tagIndex.get(tag);
    if (!digest) throw new EcrApiError('ImageNotFoundException', `Requested image not found: tag '${tag}' in repository '${repo.name}'`);
    const image = repo.images.get(digest)!;
    image.tags = image.tags.filter((t) => t !== tag);
    repo.tagIndex.delete(tag);
    if (image.tags.length === 0) repo.images.delete(digest);
  }

  /** BatchDeleteImage by digest: the image and all its tags go, whatever the tag mutability. */
  deleteImage(repositoryName: string, digest: string, registryId?: string): void {
    const repo = this.repository(repositoryName, registryId);
    const image = repo.images.get(digest);
    if (!image) throw new EcrApiError('ImageNotFoundException', `Requested image not found: digest '${digest}' in repository '${repo.name}'`);
    for (const t of image.tags) repo.tagIndex.delete(t);
    repo.images.delete(digest);
  }

  /** Moves an image to the archive storage class: it keeps its tags; `imageStatus` becomes ARCHIVED. */
  archiveImage(repositoryName: string, digest: string, registryId?: string): void {
    const image = this.image(repositoryName, digest, registryId);
    image.status = 'ARCHIVED';
    image.lastArchivedAt = new Date();
  }

  restoreImage(repositoryName: string, digest: string, registryId?: string): void {
    this.image(repositoryName, digest, registryId).status = 'ACTIVE';
  }

  deleteRepository(name: string, registryId?: string): void {
    this.repository(name, registryId);
    this.repos.delete(this.key(name, registryId));
  }

  /** Simulates an IAM deny on one repository: its image reads answer AccessDeniedException. */
  denyRepository(name: string, denied = true, registryId?: string): void {
    this.repository(name, registryId).denied = denied;
  }

  /**
   * Adds `count` images tagged `${tagPrefix}${i}` at once (fast: for large estates). Ignores
   * immutability, as if the images had been pushed before the current settings.
   */
  addImages(repositoryName: string, count: number, opts: { tagPrefix?: string; registryId?: string; status?: EcrImageStatus } = {}): string[] {
    const repo = this.repository(repositoryName, opts.registryId);
    const digests: string[] = [];
    const prefix = opts.tagPrefix ?? 'build-';
    const base = Date.now() - count * 1000;
    for (let i = 0; i < count; i++) {
      const tag = `${prefix}${i}`;
      if (repo.tagIndex.has(tag)) throw new EcrApiError('ImageTagAlreadyExistsException', `tag '${tag}' already exists in '${repo.name}'`);
      const digest = digestOf(`${repo.registryId}/${repo.name}/${tag}/${++this.counter}`);
      repo.images.set(digest, {
        digest,
        tags: [tag],
        manifestMediaType: OCI_MANIFEST,
        artifactMediaType: OCI_CONFIG,
        sizeInBytes: 1_000_000 + i,
        pushedAt: new Date(base + i * 1000),
        status: opts.status ?? 'ACTIVE',
      });
      repo.tagIndex.set(tag, digest);
      digests.push(digest);
    }
    return digests;
  }

  digestOfTag(repositoryName: string, tag: string, registryId?: string): string | undefined {
    return this.repository(repositoryName, registryId).tagIndex.get(tag);
  }

  private image(repositoryName: string, digest: string, registryId?: string): EmulatedImage {
    const repo = this.repository(repositoryName, registryId);
    const image = repo.images.get(digest);
    if (!image) throw new EcrApiError('ImageNotFoundException', `Requested image not found: digest '${digest}' in repository '${repo.name}'`);
    return image;
  }

  private checkTagPlacement(repo: EmulatedRepository, tag: string, digest: string): void {
    if (!TAG_PATTERN.test(tag)) throw new EcrApiError('InvalidParameterException', `Invalid parameter at 'imageTag': '${tag}' is not a valid tag`);
    const current = repo.tagIndex.get(tag);
    if (current === digest) {
      throw new EcrApiError('ImageAlreadyExistsException', `Image with digest '${digest}' and tag '${tag}' already exists in the repository with name '${repo.name}' in registry with id '${repo.registryId}'`);
    }
    if (current !== undefined && tagIsImmutable(repo, tag)) {
      throw new EcrApiError(
        'ImageTagAlreadyExistsException',
        `The image tag '${tag}' already exists in the '${repo.name}' repository and cannot be overwritten because the tag is immutable.`,
      );
    }
  }

  private placeTag(repo: EmulatedRepository, tag: string, digest: string): void {
    const previous = repo.tagIndex.get(tag);
    if (previous !== undefined) {
      // An overwritten tag leaves its former image untagged, as ECR does.
      const old = repo.images.get(previous);
      if (old) old.tags = old.tags.filter((t) => t !== tag);
    }
    repo.images.get(digest)!.tags.push(tag);
    repo.tagIndex.set(tag, digest);
  }
}
