/**
 * The in-memory content of the OCI emulator: repositories, their tags and manifests, plus the
 * in-process control API tests, the demo and benchmarks use to push, move and delete tags.
 */
import { buildImage, manifestMediaTypes, type ManifestMediaType, type StoredManifest } from './manifests.js';

/** Repository names and tags as the distribution spec constrains them
 * (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests). */
const namePattern = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const tagPattern = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export function isValidRepositoryName(name: string): boolean {
  return name.length < 256 && namePattern.test(name);
}

export function isValidTag(tag: string): boolean {
  return tagPattern.test(tag);
}

export interface PushImageOptions {
  /** Manifest media type; by default the emulator cycles through OCI manifest, Docker v2, OCI index and Docker list. */
  mediaType?: ManifestMediaType;
  /** What the image is made of: the same content and media type always give the same digest. */
  content?: string;
}

export interface PushedImage {
  repository: string;
  tag: string;
  digest: string;
  mediaType: ManifestMediaType;
}

interface Repository {
  /** tag → manifest digest, in push order (the order a filesystem-backed registry may list them). */
  tags: Map<string, string>;
  manifests: Map<string, StoredManifest>;
}

export class OciEstate {
  private readonly repos = new Map<string, Repository>();
  private readonly denied = new Set<string>();
  private pushes = 0;

  /** Pushes an image and points `tag` at it (creating the repository if needed). */
  pushImage(repository: string, tag: string, opts: PushImageOptions = {}): PushedImage {
    assertName(repository);
    assertTag(tag);
    const n = this.pushes++;
    const mediaType = opts.mediaType ?? manifestMediaTypes[n % manifestMediaTypes.length];
    const content = opts.content ?? `${repository}:${tag}#${n}`;
    const image = buildImage(mediaType, content);
    const repo = this.repoFor(repository);
    for (const child of image.children) repo.manifests.set(child.digest, child);
    repo.manifests.set(image.manifest.digest, image.manifest);
    repo.tags.set(tag, image.manifest.digest);
    return { repository, tag, digest: image.manifest.digest, mediaType };
  }

  /** Pushes new content under an existing tag (same media type unless told otherwise). */
  moveTag(repository: string, tag: string, opts: PushImageOptions = {}): PushedImage & { previousDigest: string } {
    const repo = this.repos.get(repository);
    const previousDigest = repo?.tags.get(tag);
    if (!repo || previousDigest === undefined) throw new Error(`moveTag: ${repository}:${tag} does not exist`);
    const previous = repo.manifests.get(previousDigest)!;
    const pushed = this.pushImage(repository, tag, {
      mediaType: opts.mediaType ?? previous.mediaType,
      content: opts.content ?? `${repository}:${tag}#moved#${this.pushes}`,
    });
    if (pushed.digest === previousDigest) throw new Error(`moveTag: ${repository}:${tag} already points at that content`);
    return { ...pushed, previousDigest };
  }

  /** Removes a tag; its manifest stays reachable by digest. Returns false when there was no such tag. */
  deleteTag(repository: string, tag: string): boolean {
    return this.repos.get(repository)?.tags.delete(tag) ?? false;
  }

  /** Deletes a manifest by digest and every tag pointing at it (the distribution API's only delete). */
  deleteManifest(repository: string, digest: string): string[] {
    const repo = this.repos.get(repository);
    if (!repo || !repo.manifests.delete(digest)) return [];
    const removed = [...repo.tags].filter(([, d]) => d === digest).map(([t]) => t);
    for (const t of removed) repo.tags.delete(t);
    return removed;
  }

  deleteRepository(repository: string): boolean {
    return this.repos.delete(repository);
  }

  /** Every request for this repository answers 403 DENIED until `allowRepository`. */
  denyRepository(repository: string): void {
    this.denied.add(repository);
  }

  allowRepository(repository: string): void {
    this.denied.delete(repository);
  }

  isDenied(repository: string): boolean {
    return this.denied.has(repository);
  }

  hasRepository(repository: string): boolean {
    return this.repos.has(repository);
  }

  /** Repository names, sorted lexically as the catalog lists them. */
  repositories(): string[] {
    return [...this.repos.keys()].sort(lexical);
  }

  /** Tags of a repository in push order (undefined: no such repository). */
  tags(repository: string): string[] | undefined {
    const repo = this.repos.get(repository);
    return repo ? [...repo.tags.keys()] : undefined;
  }

  /** The current tag → digest map of a repository. */
  tagDigests(repository: string): Map<string, string> {
    return new Map(this.repos.get(repository)?.tags ?? []);
  }

  tagDigest(repository: string, tag: string): string | undefined {
    return this.repos.get(repository)?.tags.get(tag);
  }

  manifest(repository: string, digest: string): StoredManifest | undefined {
    return this.repos.get(repository)?.manifests.get(digest);
  }

  private repoFor(name: string): Repository {
    let repo = this.repos.get(name);
    if (!repo) {
      repo = { tags: new Map(), manifests: new Map() };
      this.repos.set(name, repo);
    }
    return repo;
  }
}

/** Byte-wise (code unit) order, which is what "lexical" means for the ASCII names and tags registries allow. */
export function lexical(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function assertName(name: string): void {
  if (!isValidRepositoryName(name)) throw new Error(`invalid repository name "${name}"`);
}

function assertTag(tag: string): void {
  if (!isValidTag(tag)) throw new Error(`invalid tag "${tag}"`);
}
