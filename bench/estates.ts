/**
 * The synthetic estates of the benchmark, as plans (how many repositories and tags of which kind)
 * and as builders that fill the registry emulators with them. Everything is deterministic: the same
 * plan gives the same repository names, tags and digests in every run, so the floors and the scans
 * of one run, and runs on both databases, read exactly the same data.
 *
 *   L = 1,000 ECR repositories × 1,000 tags (1,000,000 tags)
 *   M = 100,000 tags: 25,000 each in ECR, GAR, Harbor and OCI targets (25 repositories × 1,000 tags)
 *
 * `size` scales the number of repositories (1,000 tags each, so the page structure stays that of
 * the full estate); below one repository per kind it scales the tags of that one repository.
 */
import { createHash } from 'node:crypto';
import type { EcrEstate } from '../src/emulators/ecr/index.js';
import type { GarEstate } from '../src/emulators/gar/index.js';
import type { HarborEstate } from '../src/emulators/harbor/index.js';
import type { OciEstate } from '../src/emulators/oci/index.js';
import { MediaType } from '../src/emulators/oci/index.js';
import type { EcrTagMutability } from '../src/audit/protection.js';

export type Kind = 'ecr' | 'gar' | 'harbor' | 'oci';

export interface TargetPlan {
  kind: Kind;
  /** tagledger target id. */
  id: string;
  repositories: number;
  tagsPerRepository: number;
}

export interface EstatePlan {
  /** `L`, `M`, scaled: `L×0.01`. */
  label: string;
  estate: 'L' | 'M';
  size: number;
  targets: TargetPlan[];
}

const FULL: Record<'L' | 'M', Array<{ kind: Kind; repositories: number; tags: number }>> = {
  L: [{ kind: 'ecr', repositories: 1000, tags: 1000 }],
  M: [
    { kind: 'ecr', repositories: 25, tags: 1000 },
    { kind: 'gar', repositories: 25, tags: 1000 },
    { kind: 'harbor', repositories: 25, tags: 1000 },
    { kind: 'oci', repositories: 25, tags: 1000 },
  ],
};

export function planEstate(estate: 'L' | 'M', size: number): EstatePlan {
  if (!(size > 0 && size <= 1)) throw new Error(`size must be in (0, 1], got ${size}`);
  const targets = FULL[estate].map(({ kind, repositories, tags }) => {
    const total = Math.max(1, Math.round(repositories * tags * size));
    const repos = Math.max(1, Math.round(repositories * size));
    return { kind, id: `bench-${kind}`, repositories: repos, tagsPerRepository: Math.max(1, Math.round(total / repos)) };
  });
  return { label: size === 1 ? estate : `${estate}×${size}`, estate, size, targets };
}

export function totalTags(plan: EstatePlan): number {
  return plan.targets.reduce((n, t) => n + t.repositories * t.tagsPerRepository, 0);
}

/**
 * `--size` values: `L`, `M`, `L:0.1`, `M:0.5`, or a bare fraction (both estates at that fraction);
 * several separated by commas.
 */
export function parseSizes(spec: string): EstatePlan[] {
  const out: EstatePlan[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(L|M)(?::([0-9.]+))?$/i.exec(part);
    if (m) out.push(planEstate(m[1].toUpperCase() as 'L' | 'M', m[2] ? Number(m[2]) : 1));
    else if (/^[0-9.]+$/.test(part)) out.push(planEstate('L', Number(part)), planEstate('M', Number(part)));
    else throw new Error(`--size: "${part}" is not L, M, L:<fraction>, M:<fraction> or a fraction`);
  }
  return out;
}

/** Tag names: mostly build numbers, every 50th a release version (which the default policy wants protected). */
export function tagName(repository: number, i: number): string {
  return i % 50 === 0 ? `1.${repository}.${i}` : `build-${i}`;
}

/** A small deterministic PRNG (mulberry32): the same changes in every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PUSHED = Date.parse('2026-01-01T00:00:00Z');
const ECR_MODES: Array<{ mode: EcrTagMutability; filters?: string[] }> = [
  { mode: 'MUTABLE' },
  { mode: 'IMMUTABLE' },
  { mode: 'IMMUTABLE_WITH_EXCLUSION', filters: ['build-*'] },
  { mode: 'MUTABLE_WITH_EXCLUSION', filters: ['1.*'] },
];

export const ecrRepositoryName = (r: number) => `bench/service-${String(r).padStart(4, '0')}`;
export const garLocations = ['us', 'europe-west1'];
/** GAR: 5 images per GAR repository (each image is one tagledger repository). */
const GAR_IMAGES_PER_REPOSITORY = 5;
export function garPlace(r: number): { location: string; repository: string; image: string } {
  const g = Math.floor(r / GAR_IMAGES_PER_REPOSITORY);
  return { location: garLocations[g % garLocations.length], repository: `docker-${g}`, image: `service-${r}` };
}
/** Harbor: 5 repositories per project. */
export function harborRepositoryName(r: number): string {
  return `team-${Math.floor(r / 5)}/service-${r}`;
}
export const ociRepositoryName = (r: number) => `bench/service-${r}`;

export function buildEcr(estate: EcrEstate, t: TargetPlan): void {
  for (let r = 0; r < t.repositories; r++) {
    const name = ecrRepositoryName(r);
    const m = ECR_MODES[r % ECR_MODES.length];
    estate.createRepository(name, { imageTagMutability: m.mode, filters: m.filters });
    for (let i = 0; i < t.tagsPerRepository; i++) {
      const tag = tagName(r, i);
      estate.pushImage(name, { tag, content: `${name}:${tag}`, pushedAt: new Date(PUSHED + i * 1000) });
    }
  }
}

export function buildGar(estate: GarEstate, t: TargetPlan): void {
  for (let r = 0; r < t.repositories; r++) {
    const { location, repository, image } = garPlace(r);
    if (r % GAR_IMAGES_PER_REPOSITORY === 0) estate.createRepository(location, repository, { immutableTags: Math.floor(r / GAR_IMAGES_PER_REPOSITORY) % 2 === 1 });
    for (let i = 0; i < t.tagsPerRepository; i++) {
      const tag = tagName(r, i);
      const at = new Date(PUSHED + i * 1000);
      estate.pushImage(location, repository, image, { tags: [tag], content: `${repository}/${image}:${tag}`, uploadTime: at, buildTime: at });
    }
  }
}

export function buildHarbor(estate: HarborEstate, t: TargetPlan): void {
  for (let r = 0; r < t.repositories; r++) {
    const name = harborRepositoryName(r);
    const project = name.split('/')[0];
    if (!estate.projects.has(project)) {
      estate.createProject(project);
      // Release versions are immutable in every project: the usual Harbor setup.
      estate.addRule(project, { repository: { pattern: '**' }, tag: { pattern: '1.*' } });
    }
    for (let i = 0; i < t.tagsPerRepository; i++) {
      const tag = tagName(r, i);
      estate.push(name, tag, { digest: `sha256:${hex64(`${name}:${tag}`)}`, at: new Date(PUSHED + i * 1000) });
    }
  }
}

export function buildOci(estate: OciEstate, t: TargetPlan): void {
  for (let r = 0; r < t.repositories; r++) {
    const name = ociRepositoryName(r);
    for (let i = 0; i < t.tagsPerRepository; i++) {
      const tag = tagName(r, i);
      estate.pushImage(name, tag, { mediaType: MediaType.ociManifest, content: `${name}:${tag}` });
    }
  }
}

export function hex64(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}
