/**
 * Artifact Registry resource names and the names tagledger gives them.
 *
 * One GAR image is one tagledger repository, named `<location>/<gar-repository>/<image>` (a target
 * covers several locations, and the same repository name can exist in two of them). Its pull
 * reference is `<location>-docker.pkg.dev/<project>/<gar-repository>/<image>`.
 * https://cloud.google.com/artifact-registry/docs/docker/names
 */
import picomatch from 'picomatch';

export interface GarRepositoryRef {
  project: string;
  location: string;
  repository: string;
}

export function locationParent(project: string, location: string): string {
  return `projects/${project}/locations/${location}`;
}

export function repositoryResourceName(ref: GarRepositoryRef): string {
  return `projects/${ref.project}/locations/${ref.location}/repositories/${ref.repository}`;
}

const REPOSITORY_NAME = /^projects\/([^/]+)\/locations\/([^/]+)\/repositories\/([^/]+)$/;

export function parseRepositoryName(name: string): GarRepositoryRef | null {
  const m = REPOSITORY_NAME.exec(name);
  return m ? { project: m[1], location: m[2], repository: m[3] } : null;
}

/** `<location>/<gar-repository>`: how messages and repository-level errors name a GAR repository. */
export function garRepositoryPath(ref: Pick<GarRepositoryRef, 'location' | 'repository'>): string {
  return `${ref.location}/${ref.repository}`;
}

export function tagledgerRepositoryName(ref: Pick<GarRepositoryRef, 'location' | 'repository'>, image: string): string {
  return `${ref.location}/${ref.repository}/${image}`;
}

/**
 * A domain-scoped project `example.com:my-project` is spelled `example.com/my-project` in image
 * names. https://cloud.google.com/artifact-registry/docs/docker/names#domain
 */
export function pullReference(ref: GarRepositoryRef, image: string): string {
  return `${ref.location}-docker.pkg.dev/${ref.project.replace(':', '/')}/${ref.repository}/${image}`;
}

const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-f0-9]{32,}$/;

/**
 * Splits a DockerImage resource name into the image path and the digest. The image part of the name
 * is URL-encoded (`/` becomes `%2F`), e.g.
 * `projects/p/locations/us/repositories/r/dockerImages/team%2Fapi@sha256:…`; the `uri` field carries
 * the same image unencoded. Returns null when the name is not a docker image of `parent`.
 * https://cloud.google.com/artifact-registry/docs/reference/rest/v1/projects.locations.repositories.dockerImages
 */
export function parseDockerImageName(name: string, parent: string): { image: string; digest: string } | null {
  const prefix = `${parent}/dockerImages/`;
  if (!name.startsWith(prefix)) return null;
  const rest = name.slice(prefix.length);
  const at = rest.lastIndexOf('@');
  if (at <= 0) return null;
  let image: string;
  try {
    image = decodeURIComponent(rest.slice(0, at));
  } catch {
    return null;
  }
  const digest = rest.slice(at + 1);
  if (!DIGEST.test(digest) || image.startsWith('/') || image.endsWith('/') || image.includes('//')) return null;
  return { image, digest };
}

/**
 * Decides, from the target's `repositories` globs, whether a location or a GAR repository can hold
 * any image the globs select, so that nothing is listed (and no quota spent) for ones that cannot.
 * Errs on the side of listing: a pattern it cannot split with certainty selects everything.
 */
export class GarScope {
  private readonly patterns: Array<string[] | null> | null;

  constructor(globs: string[] | undefined) {
    this.patterns = globs && globs.length > 0 ? globs.map(leadingSegments) : null;
  }

  locationMayMatch(location: string): boolean {
    return this.any((segs) => segmentMatches(segs[0], location));
  }

  repositoryMayMatch(location: string, repository: string): boolean {
    return this.any((segs) => {
      if (segs.length < 2) return segs[0] !== undefined && segs[0].includes('**');
      if (segs[0].includes('**')) return true;
      if (!segmentMatches(segs[0], location)) return false;
      if (segs[1].includes('**')) return true;
      // `<location>/<repository>` alone names no image: a third segment is needed.
      return segmentMatches(segs[1], repository) && segs.length >= 3;
    });
  }

  private any(test: (segs: string[]) => boolean): boolean {
    if (!this.patterns) return true;
    return this.patterns.some((segs) => segs === null || segs.length === 0 || test(segs));
  }
}

function segmentMatches(segment: string, value: string): boolean {
  if (segment.includes('**')) return true;
  return picomatch(segment, { dot: true })(value);
}

/**
 * The `/`-separated segments of a glob, or null when the glob cannot be split safely (negation,
 * escapes, or a `/` inside braces, brackets or an extglob).
 */
function leadingSegments(glob: string): string[] | null {
  if (glob.startsWith('!') || glob.includes('\\')) return null;
  const segments: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of glob) {
    if (ch === '{' || ch === '(' || ch === '[') depth += 1;
    else if ((ch === '}' || ch === ')' || ch === ']') && depth > 0) depth -= 1;
    if (ch === '/') {
      if (depth > 0) return null;
      segments.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  segments.push(current);
  return segments;
}
