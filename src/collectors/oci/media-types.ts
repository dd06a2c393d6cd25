/**
 * Manifest media types tagledger asks for. The SAME Accept list goes on every manifest request:
 * registries negotiate by Accept (the reference registry swaps a Docker manifest list for its
 * linux/amd64 image, or a schema 2 manifest for a rewritten schema 1 one, when the client does not
 * accept it), and a different answer would be a different digest, i.e. a false "tag moved".
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests
 */
export const OCI_IMAGE_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_IMAGE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';

export const MANIFEST_ACCEPT = [OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST_V2].join(', ');

/** `Content-Type` without parameters: the spec asks clients to ignore them. */
export function baseMediaType(contentType: string | undefined): string | null {
  const base = contentType?.split(';')[0].trim().toLowerCase();
  return base ? base : null;
}
