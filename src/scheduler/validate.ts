import type { RepositoryObservation } from '../collectors/types.js';

const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
/**
 * OCI tag grammar (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests),
 * with the length ECR allows (300 characters) instead of the spec's 128.
 */
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,299}$/;

/**
 * Checks what a collector hands over before it reaches the diff: a bad digest or a duplicated tag
 * from a misbehaving registry must fail the repository, not be recorded as a move.
 * Returns a description of the first problem, or null.
 */
export function validateObservation(obs: RepositoryObservation): string | null {
  const seen = new Map<string, string>();
  for (const t of obs.tags) {
    if (!TAG.test(t.tag)) return `registry returned an invalid tag name ${JSON.stringify(t.tag).slice(0, 140)}`;
    if (!DIGEST.test(t.digest)) return `registry returned an invalid digest ${JSON.stringify(t.digest).slice(0, 140)} for tag "${t.tag}"`;
    const prev = seen.get(t.tag);
    if (prev !== undefined && prev !== t.digest) return `registry listed tag "${t.tag}" twice with different digests (${prev}, ${t.digest})`;
    seen.set(t.tag, t.digest);
  }
  if (seen.size !== obs.tags.length) {
    // Same tag, same digest twice: harmless, but the diff needs each tag once.
    const unique = new Map(obs.tags.map((t) => [t.tag, t]));
    obs.tags = [...unique.values()];
  }
  return null;
}
