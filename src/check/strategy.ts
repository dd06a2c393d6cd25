/**
 * Which tagging strategy a tag name follows. Pure: the name alone decides.
 *
 * - `semver`: a full version (`1.4.2`, `v2.0.0-rc.1`, `3.12.1-slim`): meant to name one build forever.
 * - `git-sha`: a commit (`abc1234`, `sha-abc1234`, `main-3f9e2c1d`): one build per commit.
 * - `date-or-build`: a date or CI build number (`20260301`, `2026-03-01-1`, `build-4711`).
 * - `floating`: names a channel that moves by design: `latest`, `stable`, `production`, `main`,
 *   bare majors (`v1`, `20-alpine`), major.minor (`1.25`), a distribution name (`alpine`), or no
 *   tag at all (Docker reads it as `latest`).
 * - `other`: none of these.
 *
 * The first three are "version" tags: teams expect them never to move, so a registry that lets them
 * be overwritten, or a history where one was re-pushed, is what the report points at.
 */

export type TagStrategy = 'semver' | 'git-sha' | 'date-or-build' | 'floating' | 'other';

export const tagStrategies: readonly TagStrategy[] = ['semver', 'git-sha', 'date-or-build', 'floating', 'other'];

/** Strategies whose tags are meant to name one build for good. */
export const versionStrategies: readonly TagStrategy[] = ['semver', 'git-sha', 'date-or-build'];

export interface TagStrategyVerdict {
  strategy: TagStrategy;
  /** Why, in a few words: `bare major version`, `channel name "latest"`. */
  detail: string;
}

/** Channel and branch names that are re-pushed by design. */
const FLOATING_NAMES = new Set([
  'latest', 'stable', 'production', 'prod', 'main', 'master', 'develop', 'development', 'dev', 'edge',
  'nightly', 'staging', 'stage', 'canary', 'beta', 'alpha', 'release', 'current', 'lts', 'mainline',
  'next', 'testing', 'test', 'qa', 'uat', 'head', 'trunk', 'snapshot', 'unstable', 'rolling', 'preview',
]);

/** A variant suffix on a version: `-alpine`, `-slim-bookworm`, `-alpine3.19`. */
const VARIANT = '(?:-[A-Za-z][\\w.-]*)?';

/** Three or more numeric parts, with an optional pre-release or variant (tags cannot contain "+"). */
const fullVersionRe = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:\.\d+)*(?:[-_][0-9A-Za-z][0-9A-Za-z._-]*)?$/;
const bareMajorRe = new RegExp(`^(?:v\\d+|\\d{1,2})${VARIANT}$`);
const majorMinorRe = new RegExp(`^v?\\d+\\.\\d+${VARIANT}$`);
/** A short or full commit hash, optionally prefixed the way CI tools write it (`sha-`, `git-`, `g`). */
const shaRe = /^(?:(?:sha|git|commit|rev)[-_]|g)?([0-9a-f]{7,40})$/;
/** `<branch>-<sha>` as docker/metadata-action and similar tools produce. */
const branchShaRe = /^[A-Za-z0-9][\w.-]*[-_.]([0-9a-f]{7,40})$/;
/** A calendar date, alone or inside the tag: 20260301, 2026-03-01, 2026.03.01, optionally with a time. */
const dateRe = /(?:^|[-_.])(?:19|20)\d{2}([-_.]?)(?:0[1-9]|1[0-2])\1(?:0[1-9]|[12]\d|3[01])(?:[T_.-]?\d{4,6}Z?)?(?=$|[-_.])/;
/**
 * A CI build number: plain digits (3 or more, so `20` stays a major), or a word and a number
 * (`build-4711`, `b42`, `dev-7`, `rc.3`); a word glued to a number (`jdk17`, `alpine3`) is not one.
 */
const buildNumberRe = /^(?:\d{3,}|[A-Za-z][-_.]?\d+|[A-Za-z]{2,}[-_.]\d+)(?:[-_.][0-9A-Za-z]+)*$/;
/** Pull/merge request tags are re-pushed with every commit to the request. */
const pullRequestRe = /^(?:pr|mr|pull|merge)[-_.]?\d+$/i;

export function classifyTag(tag: string | null): TagStrategyVerdict {
  if (tag === null || tag === '') return { strategy: 'floating', detail: 'no tag: read as "latest"' };
  const lower = tag.toLowerCase();
  if (FLOATING_NAMES.has(lower)) return { strategy: 'floating', detail: `channel name "${tag}"` };
  if (fullVersionRe.test(tag)) return { strategy: 'semver', detail: 'full version' };
  const sha = shaRe.exec(tag);
  // A hash needs a letter: an all-digit string of that length is a build number or a date.
  if (sha && /[a-f]/.test(sha[1])) return { strategy: 'git-sha', detail: 'commit hash' };
  if (dateRe.test(tag)) return { strategy: 'date-or-build', detail: 'date' };
  if (bareMajorRe.test(tag)) return { strategy: 'floating', detail: 'bare major version: follows every release of that major' };
  if (majorMinorRe.test(tag)) return { strategy: 'floating', detail: 'major.minor version: follows its patch releases' };
  if (pullRequestRe.test(tag)) return { strategy: 'floating', detail: 'pull request tag: re-pushed with every commit to it' };
  if (buildNumberRe.test(tag)) return { strategy: 'date-or-build', detail: 'build number' };
  const branchSha = branchShaRe.exec(tag);
  if (branchSha && /[a-f]/.test(branchSha[1]) && /\d/.test(branchSha[1])) return { strategy: 'git-sha', detail: 'branch and commit hash' };
  const [head] = lower.split(/[-_.]/);
  if (FLOATING_NAMES.has(head)) return { strategy: 'floating', detail: `channel name "${head}" with a variant` };
  if (!/\d/.test(tag)) return { strategy: 'floating', detail: 'a name without a version: a channel, branch or variant' };
  return { strategy: 'other', detail: 'no recognised version scheme' };
}

/** True when the strategy promises a tag that names one build for good. */
export function isVersionStrategy(strategy: TagStrategy): boolean {
  return (versionStrategies as readonly string[]).includes(strategy);
}
