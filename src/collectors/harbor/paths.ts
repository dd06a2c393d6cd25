/**
 * Building Harbor API paths. The quirk: a repository name that contains '/' must be URL-encoded
 * TWICE in the path (swagger parameter `repositoryName`: "If it contains slash, encode it twice over
 * with URL encoding. e.g. a/b -> a%2Fb -> a%252Fb"). Encoded once, `%2F` is decoded to '/' before
 * Harbor routes the request and the path no longer matches (404).
 *
 * The repository name in these paths is the name INSIDE the project (`svc/api`), while the `name`
 * Harbor returns in listings is the full name with the project prefix (`team-a/svc/api`).
 */

export function projectSegment(project: string): string {
  return encodeURIComponent(project);
}

export function repositorySegment(repositoryInProject: string): string {
  return encodeURIComponent(encodeURIComponent(repositoryInProject));
}

/** An artifact reference (digest or tag) as one path segment: `sha256:…` keeps its colon encoded. */
export function referenceSegment(reference: string): string {
  return encodeURIComponent(reference);
}

export const paths = {
  projects: () => '/projects',
  immutableRules: (project: string) => `/projects/${projectSegment(project)}/immutabletagrules`,
  repositories: (project: string) => `/projects/${projectSegment(project)}/repositories`,
  artifacts: (project: string, repositoryInProject: string) =>
    `/projects/${projectSegment(project)}/repositories/${repositorySegment(repositoryInProject)}/artifacts`,
  artifactTags: (project: string, repositoryInProject: string, reference: string) =>
    `${paths.artifacts(project, repositoryInProject)}/${referenceSegment(reference)}/tags`,
};

/** `team-a/svc/api` in project `team-a` → `svc/api`; null when the name is not under the project. */
export function nameInProject(project: string, fullName: string): string | null {
  const prefix = `${project}/`;
  return fullName.startsWith(prefix) && fullName.length > prefix.length ? fullName.slice(prefix.length) : null;
}
