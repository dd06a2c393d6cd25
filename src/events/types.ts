/**
 * What a push event says, once read from the vendor's format: a claim about one repository of one
 * target. A claim is never taken for the registry's state: it makes `serve` scan the repository,
 * and the scan decides (see confirm.ts).
 */
import picomatch from 'picomatch';
import type { TargetConfig } from '../config/schema.js';
import { repositoryFilter } from '../collectors/filter.js';

export const pushSources = ['harbor', 'ecr', 'gar'] as const;
export type PushSource = (typeof pushSources)[number];

export type PushAction = 'push' | 'delete';

export interface PushEventClaim {
  /** The repository as tagledger names it within the target. */
  repository: string;
  tag: string | null;
  digest: string | null;
  action: PushAction;
  /** The vendor's own name for the event (PUSH_ARTIFACT, DELETE, INSERT, ...). */
  eventType: string;
  /** The delivery's id, where the vendor gives one (redeliveries carry the same). */
  eventId: string | null;
  occurredAt: Date | null;
}

/** A claim for this target, or why it is acknowledged and ignored. */
export type RoutedClaim = { claim: PushEventClaim; ignored: null } | { claim: PushEventClaim; ignored: string };

/** Thrown by the parsers: the request is answered 400 with this reason and nothing is recorded. */
export class InvalidPushEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPushEventError';
  }
}

/**
 * Repository path components as the distribution reference grammar defines them
 * (https://github.com/distribution/reference/blob/main/reference.go): lowercase alphanumerics
 * separated by `.`, `_`, `__` or runs of `-`, components joined by `/`. Such a name contains no glob
 * character, so a list of them is a literal repository filter.
 */
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
export const REPOSITORY_NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
export const TAG_NAME = /^[\w][\w.-]{0,127}$/;
export const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/** The zod issues of a failed parse as one line: `event_data.repository.repo_full_name: expected string`. */
export function describeIssues(what: string, issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  const first = issues.slice(0, 3).map((i) => `${i.path.length ? i.path.map(String).join('.') : '(body)'}: ${i.message}`);
  return `${what}: ${first.join('; ')}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''}`;
}

export function checkRepository(name: string, where: string): string {
  if (name.length > 255 || !REPOSITORY_NAME.test(name)) throw new InvalidPushEventError(`${where}: "${name.slice(0, 100)}" is not a repository name`);
  return name;
}

export function checkTag(tag: string | undefined | null, where: string): string | null {
  if (tag === undefined || tag === null || tag === '') return null;
  if (!TAG_NAME.test(tag)) throw new InvalidPushEventError(`${where}: "${tag.slice(0, 140)}" is not a tag`);
  return tag;
}

export function checkDigest(digest: string | undefined | null, where: string): string | null {
  if (digest === undefined || digest === null || digest === '') return null;
  if (digest.length > 200 || !DIGEST.test(digest)) throw new InvalidPushEventError(`${where}: "${digest.slice(0, 100)}" is not a digest`);
  return digest;
}

/**
 * Why the target's own filters leave the repository out (the events of a registry cover every
 * repository it holds; the target may audit only some), or null when they admit it.
 */
export function outsideFilters(target: TargetConfig, repository: string): string | null {
  if (!repositoryFilter(target.repositories).matches(repository)) return `repository "${repository}" is outside the target's repositories filter`;
  if (target.kind === 'harbor' && target.projects) {
    const project = repository.split('/')[0];
    if (!picomatch(target.projects, { dot: true })(project)) return `project "${project}" is outside the target's projects filter`;
  }
  return null;
}
