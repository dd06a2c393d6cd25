/**
 * Real manifest documents for the OCI emulator: each is the JSON a registry would store, and its
 * digest is the sha256 of exactly those bytes, as the distribution spec requires
 * (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests).
 *
 * Config and layer blobs are not stored (the emulator serves the read API for tags and manifests
 * only); their descriptors carry the digest and size of a small synthetic content string.
 */
import { createHash } from 'node:crypto';

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

export type ManifestMediaType = (typeof MediaType)[keyof typeof MediaType];

export const manifestMediaTypes: readonly ManifestMediaType[] = [
  MediaType.ociManifest,
  MediaType.dockerManifest,
  MediaType.ociIndex,
  MediaType.dockerManifestList,
];

export interface StoredManifest {
  digest: string;
  mediaType: ManifestMediaType;
  bytes: Buffer;
  /** For an index or list: the platform of each child manifest, by digest. */
  platforms?: Array<{ digest: string; os: string; architecture: string }>;
}

/** A built image: the manifest a tag points at, plus the child manifests an index references. */
export interface BuiltImage {
  manifest: StoredManifest;
  children: StoredManifest[];
}

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function isIndexType(mediaType: string): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

function descriptor(mediaType: string, content: string): { mediaType: string; digest: string; size: number } {
  return { mediaType, digest: sha256Digest(content), size: Buffer.byteLength(content) };
}

function stored(mediaType: ManifestMediaType, doc: unknown, platforms?: StoredManifest['platforms']): StoredManifest {
  // Registries keep the bytes exactly as pushed; indentation is what `docker push` and most tools send.
  const bytes = Buffer.from(JSON.stringify(doc, null, 3));
  return { digest: sha256Digest(bytes), mediaType, bytes, ...(platforms ? { platforms } : {}) };
}

function imageManifest(kind: 'oci' | 'docker', seed: string, platform: { os: string; architecture: string }): StoredManifest {
  const config = JSON.stringify({ architecture: platform.architecture, os: platform.os, rootfs: { type: 'layers', diff_ids: [] }, config: { Labels: { seed } } });
  if (kind === 'oci') {
    return stored(MediaType.ociManifest, {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: descriptor('application/vnd.oci.image.config.v1+json', config),
      layers: [descriptor('application/vnd.oci.image.layer.v1.tar+gzip', `layer:${seed}:${platform.architecture}`)],
    });
  }
  return stored(MediaType.dockerManifest, {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: descriptor('application/vnd.docker.container.image.v1+json', config),
    layers: [descriptor('application/vnd.docker.image.rootfs.diff.tar.gzip', `layer:${seed}:${platform.architecture}`)],
  });
}

const indexPlatforms = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
];

/** Builds an image of the given media type whose content (and so digest) is determined by `seed`. */
export function buildImage(mediaType: ManifestMediaType, seed: string): BuiltImage {
  switch (mediaType) {
    case MediaType.ociManifest:
      return { manifest: imageManifest('oci', seed, indexPlatforms[0]), children: [] };
    case MediaType.dockerManifest:
      return { manifest: imageManifest('docker', seed, indexPlatforms[0]), children: [] };
    case MediaType.ociIndex:
    case MediaType.dockerManifestList: {
      const childKind = mediaType === MediaType.ociIndex ? 'oci' : 'docker';
      const children = indexPlatforms.map((p) => imageManifest(childKind, seed, p));
      const manifests = children.map((c, i) => ({
        mediaType: c.mediaType,
        digest: c.digest,
        size: c.bytes.length,
        platform: indexPlatforms[i],
      }));
      const platforms = children.map((c, i) => ({ digest: c.digest, ...indexPlatforms[i] }));
      return { manifest: stored(mediaType, { schemaVersion: 2, mediaType, manifests }, platforms), children };
    }
  }
}
