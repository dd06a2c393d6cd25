/**
 * The exact fix for a repository that lets tags be overwritten, per registry. Pure.
 */
import type { ProtectionSettings } from './protection.js';

export interface RemediationTarget {
  id: string;
  kind: string;
  /** ECR */
  region?: string;
  registryId?: string;
  /** GAR */
  project?: string;
}

export function remediationFor(target: RemediationTarget, repository: string, settings: ProtectionSettings, movableTags: string[]): string {
  switch (settings.kind) {
    case 'ecr': {
      const account = target.registryId ? ` --registry-id ${target.registryId}` : '';
      const region = target.region ? ` --region ${target.region}` : '';
      const keepMovable = movableTags.filter((t) => /^[A-Za-z0-9._*-]+$/.test(t)).slice(0, 5);
      if (keepMovable.length) {
        const filters = keepMovable.map((f) => `filterType=WILDCARD,filter=${f}`).join(' ');
        return `aws ecr put-image-tag-mutability --repository-name ${repository}${region}${account} --image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters ${filters}`;
      }
      return `aws ecr put-image-tag-mutability --repository-name ${repository}${region}${account} --image-tag-mutability IMMUTABLE`;
    }
    case 'gar': {
      // repository is <location>/<gar-repository>/<image>
      const [location, garRepo] = repository.split('/');
      const project = target.project ? ` --project=${target.project}` : '';
      return `gcloud artifacts repositories update ${garRepo} --location=${location}${project} --immutable-tags`;
    }
    case 'harbor': {
      return `In Harbor project "${settings.project}": Policy → Tag Immutability → Add rule: repositories matching "${settings.repositoryInProject}" (or "**"), tags matching "**" (keep movable tags such as ${movableTags.map((t) => `"${t}"`).join(', ') || '"latest"'} out with an "excluding" rule pattern) — or POST /api/v2.0/projects/${settings.project}/immutabletagrules`;
    }
    case 'unknown':
      return `This registry cannot enforce immutable tags: deploy by digest (${repository}@sha256:…), or move ${repository} to a registry with immutable tags (ECR, Artifact Registry, Harbor).`;
  }
}
