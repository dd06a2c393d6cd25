/**
 * A collector that yields what a test scripts, for store and scan tests that are about the core, not
 * a registry. Collector behaviour against registries is tested with the real emulators.
 */
import type { Collector, RepositoryResult, TagObservation } from '../../src/collectors/types.js';
import type { ProtectionSettings } from '../../src/audit/protection.js';

export function scriptedCollector(targetId: string, results: RepositoryResult[]): Collector {
  return {
    kind: 'oci',
    targetId,
    async *collect() {
      for (const r of results) yield r;
    },
  };
}

export const digest = (n: number | string) => `sha256:${String(n).padStart(64, '0')}`;

export function observed(repository: string, tags: Record<string, number | string>, protection: ProtectionSettings = { kind: 'unknown' }): RepositoryResult {
  const list: TagObservation[] = Object.entries(tags).map(([tag, d]) => ({ tag, digest: digest(d), mediaType: 'application/vnd.oci.image.manifest.v1+json', pushedAt: null }));
  return { kind: 'observed', observation: { repository, pullReference: `registry.test/${repository}`, protection, tags: list } };
}

export const complete: RepositoryResult = { kind: 'listing', complete: true };
export const incomplete: RepositoryResult = { kind: 'listing', complete: false };
