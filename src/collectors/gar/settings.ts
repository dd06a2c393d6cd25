/**
 * A GAR repository's settings, normalised into tagledger's protection settings and kept as evidence.
 *
 * - `dockerConfig.immutableTags`: true forbids moving a tag, removing a tag and deleting a tagged
 *   image; creating a new tag stays allowed. A repository without `dockerConfig` has it off.
 *   https://cloud.google.com/artifact-registry/docs/repositories/update-repo-settings
 * - `mode`: STANDARD (images pushed there), REMOTE (a cache of an upstream registry), VIRTUAL (one
 *   address in front of upstream repositories, chosen by priority). See README.md for how each is
 *   treated. https://cloud.google.com/artifact-registry/docs/repositories/remote-overview
 *   https://cloud.google.com/artifact-registry/docs/repositories/virtual-overview
 * - cleanup policies: a DELETE policy that can match tagged images explains tag deletions, so it is
 *   surfaced in the evidence. https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy
 */
import type { ProtectionSettings } from '../../audit/protection.js';
import type { CleanupPolicy, GarRepository } from './schema.js';

export const VIRTUAL = 'VIRTUAL_REPOSITORY';
export const REMOTE = 'REMOTE_REPOSITORY';

export interface GarCleanupPolicyEvidence {
  id: string;
  action: string;
  tagState?: string;
  tagPrefixes?: string[];
  versionNamePrefixes?: string[];
  packageNamePrefixes?: string[];
  olderThanSeconds?: number;
  newerThanSeconds?: number;
  keepCount?: number;
}

/** What is kept as `raw` for every image of a GAR repository. Small, JSON, no secrets. */
export interface GarRepositoryEvidence {
  garRepository: string;
  format: string;
  mode: string;
  /** `dockerConfig.immutableTags` exactly as reported (false when `dockerConfig` is absent). */
  immutableTags: boolean;
  dockerConfigPresent: boolean;
  labels: Record<string, string>;
  cleanupPolicies: GarCleanupPolicyEvidence[];
  cleanupPolicyDryRun: boolean;
  /**
   * Ids of cleanup policies that can delete tagged images (and are not in dry-run): a tag that
   * disappears from such a repository may have been removed by policy rather than by a person.
   */
  cleanupDeletesTaggedImages: string[];
  /** REMOTE: where the cache fills from (a public registry name, or a URI without credentials). */
  remoteUpstream?: string;
  /** VIRTUAL: the repositories behind it, highest priority first. */
  virtualUpstreams?: Array<{ id: string; repository: string; priority: number }>;
}

export function repositoryEvidence(repo: GarRepository): GarRepositoryEvidence {
  const cleanupPolicies = Object.entries(repo.cleanupPolicies ?? {})
    .map(([key, p]) => cleanupEvidence(key, p))
    .sort((a, b) => a.id.localeCompare(b.id));
  const dryRun = repo.cleanupPolicyDryRun ?? false;
  const evidence: GarRepositoryEvidence = {
    garRepository: repo.name,
    format: repo.format,
    mode: repo.mode || 'MODE_UNSPECIFIED',
    immutableTags: repo.dockerConfig?.immutableTags ?? false,
    dockerConfigPresent: Boolean(repo.dockerConfig),
    labels: { ...(repo.labels ?? {}) },
    cleanupPolicies,
    cleanupPolicyDryRun: dryRun,
    cleanupDeletesTaggedImages: dryRun ? [] : cleanupPolicies.filter(deletesTagged).map((p) => p.id),
  };
  const remote = repo.remoteRepositoryConfig;
  if (remote) {
    const upstream = remote.dockerRepository?.publicRepository || remote.dockerRepository?.customRepository?.uri || remote.commonRepository?.uri;
    if (upstream) evidence.remoteUpstream = withoutCredentials(upstream);
  }
  const virtual = repo.virtualRepositoryConfig?.upstreamPolicies;
  if (virtual) {
    evidence.virtualUpstreams = virtual
      .map((u) => ({ id: u.id ?? '', repository: u.repository ?? '', priority: u.priority ?? 0 }))
      .sort((a, b) => b.priority - a.priority || a.id.localeCompare(b.id));
  }
  return evidence;
}

/**
 * Protection per tag through `protection.ts`: immutable tags protect every tag against move and
 * delete. A VIRTUAL repository never protects a tag, whatever it reports: a tag pulled through it
 * resolves to the highest-priority upstream that has it, so pushing the same tag (a creation, always
 * allowed) to a higher-priority upstream changes what it points at.
 */
export function protectionOf(evidence: GarRepositoryEvidence): ProtectionSettings {
  const immutableTags = evidence.mode === VIRTUAL ? false : evidence.immutableTags;
  return { kind: 'gar', immutableTags, mode: evidence.mode };
}

function cleanupEvidence(key: string, p: CleanupPolicy): GarCleanupPolicyEvidence {
  const out: GarCleanupPolicyEvidence = { id: p.id || key, action: p.action || 'ACTION_UNSPECIFIED' };
  const c = p.condition;
  if (c) {
    if (c.tagState) out.tagState = c.tagState;
    if (c.tagPrefixes?.length) out.tagPrefixes = [...c.tagPrefixes];
    if (c.versionNamePrefixes?.length) out.versionNamePrefixes = [...c.versionNamePrefixes];
    if (c.packageNamePrefixes?.length) out.packageNamePrefixes = [...c.packageNamePrefixes];
    if (c.olderThan) out.olderThanSeconds = Number(c.olderThan.seconds);
    if (c.newerThan) out.newerThanSeconds = Number(c.newerThan.seconds);
  }
  const r = p.mostRecentVersions;
  if (r) {
    if (r.packageNamePrefixes?.length) out.packageNamePrefixes = [...r.packageNamePrefixes];
    if (r.keepCount != null) out.keepCount = r.keepCount;
  }
  return out;
}

/** A DELETE policy whose condition can select tagged images (TAGGED or ANY). */
function deletesTagged(p: GarCleanupPolicyEvidence): boolean {
  return p.action === 'DELETE' && (p.tagState === 'TAGGED' || p.tagState === 'ANY');
}

function withoutCredentials(uri: string): string {
  try {
    const u = new URL(uri);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return uri;
  }
}
