/**
 * The Harbor emulator's in-memory estate: projects, their immutable-tag rules, repositories,
 * artifacts and tags, with Harbor's rules for changing them (an immutable tag can be neither
 * overwritten nor deleted, HTTP 412 `PRECONDITION`).
 */
import { createHash } from 'node:crypto';
import { harborImmutable, type EmulatorSelector } from './match.js';

export interface EmulatorProject {
  id: number;
  name: string;
  public: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface EmulatorRule {
  id: number;
  projectId: number;
  priority: number;
  disabled: boolean;
  action: string;
  template: string;
  tagSelectors: EmulatorSelector[];
  scopeSelectors: Record<string, EmulatorSelector[]>;
}

export interface EmulatorRepository {
  id: number;
  projectId: number;
  /** Full name, project prefix included. */
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface EmulatorArtifact {
  id: number;
  repositoryId: number;
  digest: string;
  manifestMediaType: string;
  mediaType: string;
  size: number;
  pushTime: Date;
}

export interface EmulatorTag {
  id: number;
  repositoryId: number;
  artifactId: number;
  name: string;
  pushTime: Date;
}

/** A refused change, with the status and `{"errors":[{code,message}]}` Harbor would answer. */
export class HarborEmulatorError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HarborEmulatorError';
  }
}

/** A rule as tests write it: one selector each, or Harbor's full selector lists for edge cases. */
export interface ImmutableRuleSpec {
  /** Default `{ decoration: 'repoMatches', pattern: '**' }`. */
  repository?: Partial<EmulatorSelector> & { pattern: string };
  /** Default `{ decoration: 'matches', pattern: '**' }`. */
  tag?: Partial<EmulatorSelector> & { pattern: string };
  /** Overrides `repository`/`tag`: the exact lists Harbor stores (several selectors, none at all). */
  tagSelectors?: EmulatorSelector[];
  scopeSelectors?: Record<string, EmulatorSelector[]>;
  disabled?: boolean;
}

export interface PushOptions {
  /** Defaults to a digest derived from repository, tag and a counter (a new image every push). */
  digest?: string;
  manifestMediaType?: string;
  /** The config media type Harbor reports as `media_type`. */
  mediaType?: string;
  size?: number;
  at?: Date;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';

/** Harbor's project-name rule (src/common/utils: `^[a-z0-9]+(?:[._-][a-z0-9]+)*$`, at most 255). */
const PROJECT_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
/** Distribution's repository path component grammar. */
const REPOSITORY_PATH = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export class HarborEstate {
  readonly projects = new Map<string, EmulatorProject>();
  readonly rules = new Map<number, EmulatorRule[]>();
  readonly repositories = new Map<string, EmulatorRepository>();
  readonly artifacts = new Map<number, EmulatorArtifact[]>();
  readonly tags = new Map<number, Map<string, EmulatorTag>>();
  private nextId = { project: 1, rule: 1, repository: 1, artifact: 1, tag: 1 };
  private pushes = 0;
  /** The clock that stamps creations and pushes. */
  now: () => Date = () => new Date();

  createProject(name: string, opts: { public?: boolean } = {}): EmulatorProject {
    if (!PROJECT_NAME.test(name) || name.length > 255) throw new HarborEmulatorError(400, 'BAD_REQUEST', `project name is not in lower case or contains illegal characters: ${name}`);
    if (this.projects.has(name)) throw new HarborEmulatorError(409, 'CONFLICT', `The project named ${name} already exists`);
    const at = this.now();
    const project: EmulatorProject = { id: this.nextId.project++, name, public: opts.public ?? false, createdAt: at, updatedAt: at };
    this.projects.set(name, project);
    this.rules.set(project.id, []);
    return project;
  }

  project(name: string): EmulatorProject {
    const p = this.projects.get(name);
    if (!p) throw new HarborEmulatorError(404, 'NOT_FOUND', `project ${name} not found`);
    return p;
  }

  /**
   * Adds a rule. Like Harbor's DAO (`CreateImmutableRule` stores every new rule enabled), a rule asked
   * for `disabled` is created and then switched off. Harbor's UI allows 15 rules per project; its API
   * does not count them, so neither does the emulator.
   */
  addRule(projectName: string, spec: ImmutableRuleSpec = {}): EmulatorRule {
    const project = this.project(projectName);
    const list = this.rules.get(project.id)!;
    const rule: EmulatorRule = {
      id: this.nextId.rule++,
      projectId: project.id,
      priority: 0,
      disabled: false,
      action: 'immutable',
      template: 'immutable_template',
      tagSelectors: spec.tagSelectors ?? [selector(spec.tag, 'matches')],
      scopeSelectors: spec.scopeSelectors ?? { repository: [selector(spec.repository, 'repoMatches')] },
    };
    list.push(rule);
    if (spec.disabled) rule.disabled = true;
    return rule;
  }

  updateRule(projectName: string, id: number, change: ImmutableRuleSpec): EmulatorRule {
    const rule = this.rule(projectName, id);
    if (change.tag || change.tagSelectors) rule.tagSelectors = change.tagSelectors ?? [selector(change.tag, 'matches')];
    if (change.repository || change.scopeSelectors) rule.scopeSelectors = change.scopeSelectors ?? { repository: [selector(change.repository, 'repoMatches')] };
    if (change.disabled !== undefined) rule.disabled = change.disabled;
    return rule;
  }

  setRuleDisabled(projectName: string, id: number, disabled: boolean): void {
    this.rule(projectName, id).disabled = disabled;
  }

  deleteRule(projectName: string, id: number): void {
    const list = this.rules.get(this.project(projectName).id)!;
    const i = list.findIndex((r) => r.id === id);
    if (i === -1) throw new HarborEmulatorError(404, 'NOT_FOUND', `immutable rule ${id} not found`);
    list.splice(i, 1);
  }

  private rule(projectName: string, id: number): EmulatorRule {
    const rule = this.rules.get(this.project(projectName).id)!.find((r) => r.id === id);
    if (!rule) throw new HarborEmulatorError(404, 'NOT_FOUND', `immutable rule ${id} not found`);
    return rule;
  }

  /** Harbor's verdict for a tag of `project/repo...` (the full repository name). */
  isImmutable(repository: string, tag: string): boolean {
    const { project, inProject } = split(repository);
    const p = this.projects.get(project);
    if (!p) return false;
    return harborImmutable(this.rules.get(p.id)!, inProject, tag);
  }

  repository(fullName: string): EmulatorRepository | undefined {
    return this.repositories.get(fullName);
  }

  /**
   * Pushes an image under `tag` (creating the repository on first push, as Harbor does). Pushing to an
   * existing immutable tag is refused with 412 PRECONDITION, whatever the digest
   * (src/server/middleware/immutable/pushmf.go).
   */
  push(repository: string, tag: string, opts: PushOptions = {}): { digest: string; previousDigest: string | null } {
    const { project } = split(repository);
    const p = this.project(project);
    if (!REPOSITORY_PATH.test(repository)) throw new HarborEmulatorError(400, 'BAD_REQUEST', `invalid repository name: ${repository}`);
    if (!TAG.test(tag)) throw new HarborEmulatorError(400, 'BAD_REQUEST', `invalid tag: ${tag}`);
    const existingRepo = this.repositories.get(repository);
    const existing = existingRepo ? this.tags.get(existingRepo.id)!.get(tag) : undefined;
    if (existing && this.isImmutable(repository, tag)) {
      throw new HarborEmulatorError(412, 'PRECONDITION', `Failed to process request due to '${split(repository).inProject}:${tag}' configured as immutable.`);
    }
    const at = opts.at ?? this.now();
    const repo = existingRepo ?? this.createRepository(p, repository, at);
    const digest = opts.digest ?? syntheticDigest(`${repository}:${tag}:${++this.pushes}`);
    const artifact = this.ensureArtifact(repo, digest, opts, at);
    const tags = this.tags.get(repo.id)!;
    const previous = tags.get(tag);
    const previousDigest = previous ? this.artifactById(repo.id, previous.artifactId)!.digest : null;
    if (previous && previous.artifactId === artifact.id) return { digest, previousDigest };
    tags.set(tag, { id: previous?.id ?? this.nextId.tag++, repositoryId: repo.id, artifactId: artifact.id, name: tag, pushTime: at });
    repo.updatedAt = at;
    return { digest, previousDigest };
  }

  /**
   * Deletes a tag (`DELETE .../artifacts/{reference}/tags/{tag_name}`); an immutable tag is refused
   * with 412 (src/controller/tag/controller.go `Delete`). The artifact stays, untagged.
   */
  deleteTag(repository: string, tag: string): void {
    const repo = this.repositories.get(repository);
    const existing = repo ? this.tags.get(repo.id)!.get(tag) : undefined;
    if (!repo || !existing) throw new HarborEmulatorError(404, 'NOT_FOUND', `tag ${tag} of ${repository} not found`);
    if (this.isImmutable(repository, tag)) throw new HarborEmulatorError(412, 'PRECONDITION', `the tag ${tag} configured as immutable, cannot be deleted`);
    this.tags.get(repo.id)!.delete(tag);
  }

  deleteRepository(repository: string): void {
    const repo = this.repositories.get(repository);
    if (!repo) throw new HarborEmulatorError(404, 'NOT_FOUND', `repository ${repository} not found`);
    this.repositories.delete(repository);
    this.artifacts.delete(repo.id);
    this.tags.delete(repo.id);
  }

  /** Repositories of a project, in the order Harbor lists them (by creation, newest first). */
  repositoriesOf(projectId: number): EmulatorRepository[] {
    return [...this.repositories.values()].filter((r) => r.projectId === projectId).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id - a.id);
  }

  /** Artifacts of a repository, newest push first, as Harbor's listing orders them by default. */
  artifactsOf(repositoryId: number): EmulatorArtifact[] {
    return [...(this.artifacts.get(repositoryId) ?? [])].sort((a, b) => b.pushTime.getTime() - a.pushTime.getTime() || b.id - a.id);
  }

  /** Tags attached to an artifact, in tag-id order. */
  tagsOf(artifact: EmulatorArtifact): EmulatorTag[] {
    return [...(this.tags.get(artifact.repositoryId)?.values() ?? [])].filter((t) => t.artifactId === artifact.id).sort((a, b) => a.id - b.id);
  }

  artifactByReference(repositoryId: number, reference: string): EmulatorArtifact | undefined {
    if (reference.includes(':')) return this.artifacts.get(repositoryId)?.find((a) => a.digest === reference);
    const tag = this.tags.get(repositoryId)?.get(reference);
    return tag ? this.artifactById(repositoryId, tag.artifactId) : undefined;
  }

  private artifactById(repositoryId: number, id: number): EmulatorArtifact | undefined {
    return this.artifacts.get(repositoryId)?.find((a) => a.id === id);
  }

  private createRepository(project: EmulatorProject, name: string, at: Date): EmulatorRepository {
    const repo: EmulatorRepository = { id: this.nextId.repository++, projectId: project.id, name, createdAt: at, updatedAt: at };
    this.repositories.set(name, repo);
    this.artifacts.set(repo.id, []);
    this.tags.set(repo.id, new Map());
    return repo;
  }

  private ensureArtifact(repo: EmulatorRepository, digest: string, opts: PushOptions, at: Date): EmulatorArtifact {
    const list = this.artifacts.get(repo.id)!;
    const found = list.find((a) => a.digest === digest);
    if (found) return found;
    const artifact: EmulatorArtifact = {
      id: this.nextId.artifact++,
      repositoryId: repo.id,
      digest,
      manifestMediaType: opts.manifestMediaType ?? OCI_MANIFEST,
      mediaType: opts.mediaType ?? OCI_CONFIG,
      size: opts.size ?? 1024,
      pushTime: at,
    };
    list.push(artifact);
    return artifact;
  }
}

function selector(s: (Partial<EmulatorSelector> & { pattern: string }) | undefined, decoration: string): EmulatorSelector {
  return { kind: s?.kind ?? 'doublestar', decoration: s?.decoration ?? decoration, pattern: s?.pattern ?? '**' };
}

/** `team-a/svc/api` → project `team-a`, `svc/api` inside it. */
export function split(repository: string): { project: string; inProject: string } {
  const i = repository.indexOf('/');
  if (i <= 0 || i === repository.length - 1) throw new HarborEmulatorError(400, 'BAD_REQUEST', `repository "${repository}" must be <project>/<name>`);
  return { project: repository.slice(0, i), inProject: repository.slice(i + 1) };
}

export function syntheticDigest(seed: string): string {
  return `sha256:${createHash('sha256').update(seed).digest('hex')}`;
}
