/**
 * Image references read the way Docker and containerd read them: the distribution reference grammar
 * (https://github.com/distribution/reference/blob/main/regexp.go) plus Docker's normalisation of
 * familiar names (https://github.com/distribution/reference/blob/main/normalize.go):
 *
 * - `ubuntu` is `docker.io/library/ubuntu`, `team/app` is `docker.io/team/app`;
 * - the first path component is a registry host only when it contains a `.` or a `:` (port), is
 *   `localhost`, or has upper-case letters (repository paths never do);
 * - `index.docker.io` is the legacy name of `docker.io`;
 * - a tag is at most 128 characters; a digest must use a registered algorithm with its exact length
 *   (https://github.com/opencontainers/go-digest: sha256, sha384, sha512, lower-case hex).
 *
 * Pure: no I/O.
 */

export interface ImageReference {
  /** The reference exactly as written. */
  text: string;
  /** The registry host with port as written, or `docker.io` when the reference names none. */
  domain: string;
  /** The host used for matching: lower-case, with Docker Hub's aliases folded into `docker.io`. */
  registry: string;
  /** The repository path within the registry, e.g. `library/ubuntu` or `a/b/c`. */
  path: string;
  /** `registry/path`: the shape of a ledger pull reference. */
  name: string;
  tag: string | null;
  digest: string | null;
  /** The registry was implied (`ubuntu`, `team/app`), not written. */
  familiar: boolean;
}

export type ParsedReference = { ok: true; reference: ImageReference } | { ok: false; error: string };

export const DOCKER_HUB = 'docker.io';
/**
 * Hosts that all mean Docker Hub. `index.docker.io` is normalised by Docker itself;
 * `registry-1.docker.io` is where the Hub's registry API actually answers, and collectors may store it.
 */
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** Pieces of the grammar, as in distribution/reference's regexp.go. */
const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_AND_PORT = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;

const domainRe = new RegExp(`^${DOMAIN_AND_PORT}$`);
const pathComponentRe = new RegExp(`^${PATH_COMPONENT}$`);
const tagRe = /^[\w][\w.-]{0,127}$/;
const digestShapeRe = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const identifierRe = /^[a-f0-9]{64}$/;

/** Hex lengths of the algorithms go-digest registers; anything else is refused by clients. */
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** distribution/reference's RepositoryNameTotalLengthMax, applied to the path. */
const PATH_MAX = 255;

export function parseImageReference(text: string): ParsedReference {
  const fail = (error: string): ParsedReference => ({ ok: false, error });
  if (text === '') return fail('empty image reference');
  if (text.trim() !== text) return fail('leading or trailing whitespace');
  if (/\s/.test(text)) return fail('contains whitespace');
  if (identifierRe.test(text)) return fail('a 64-character hexadecimal string is an image ID, not a reference');

  let rest = text;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const why = digestProblem(digest);
    if (why) return fail(why);
    if (rest === '') return fail('a digest without a repository name');
  }

  let tag: string | null = null;
  const colon = rest.lastIndexOf(':');
  // A colon after the last slash separates the tag; one before it belongs to host:port.
  if (colon >= 0 && !rest.slice(colon + 1).includes('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag === '') return fail('empty tag after ":"');
    if (!tagRe.test(tag)) {
      return fail(
        tag.length > 128
          ? `tag is ${tag.length} characters long (at most 128)`
          : `invalid tag "${tag}" (letters, digits, "_", "." and "-", not starting with "." or "-")`,
      );
    }
  }
  if (rest === '') return fail('missing repository name');

  const split = splitDomain(rest);
  if (split.domain !== null && !domainRe.test(split.domain)) return fail(`invalid registry host "${split.domain}"`);
  const path = split.path;
  if (path.toLowerCase() !== path) return fail(`repository name "${path}" must be lower-case`);
  if (path.length > PATH_MAX) return fail(`repository name is ${path.length} characters long (at most ${PATH_MAX})`);
  for (const component of path.split('/')) {
    if (component === '') return fail(`empty path component in "${path}"`);
    if (!pathComponentRe.test(component)) {
      return fail(`invalid path component "${component}" (lower-case letters and digits, separated by ".", "_", "__" or dashes)`);
    }
  }

  const domain = split.domain ?? DOCKER_HUB;
  const registry = normaliseHost(domain);
  return {
    ok: true,
    reference: { text, domain, registry, path, name: `${registry}/${path}`, tag, digest, familiar: split.domain === null },
  };
}

/**
 * Splits `name` like Docker's splitDockerDomain: `domain` is null when the name carries no registry
 * host (Docker Hub implied); `library/` is added to single-component Docker Hub names.
 */
function splitDomain(name: string): { domain: string | null; path: string } {
  const slash = name.indexOf('/');
  if (slash < 0) return { domain: null, path: `library/${name}` };
  const first = name.slice(0, slash);
  let remainder = name.slice(slash + 1);
  const isDomain = first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first;
  if (!isDomain) return { domain: null, path: name };
  if (normaliseHost(first) === DOCKER_HUB && !remainder.includes('/') && first.toLowerCase() !== 'registry-1.docker.io') {
    remainder = `library/${remainder}`;
  }
  return { domain: first, path: remainder };
}

function digestProblem(digest: string): string | null {
  if (digest === '') return 'empty digest after "@"';
  if (!digestShapeRe.test(digest)) return `invalid digest "${digest}" (expected algorithm:hex, e.g. sha256:<64 hex>)`;
  const [algorithm, hex] = digest.split(':');
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (length === undefined) return `unsupported digest algorithm "${algorithm}" (sha256, sha384 or sha512)`;
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) return `${algorithm} digest must be ${length} lower-case hex characters`;
  return null;
}

/** Lower-case, Docker Hub aliases folded into `docker.io`. */
export function normaliseHost(host: string): string {
  const h = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(h) ? DOCKER_HUB : h;
}

/** The pull references under which a ledger may have stored this repository. */
export function pullReferenceCandidates(ref: Pick<ImageReference, 'registry' | 'path'>): string[] {
  if (ref.registry !== DOCKER_HUB) return [`${ref.registry}/${ref.path}`];
  return [...DOCKER_HUB_ALIASES].map((h) => `${h}/${ref.path}`);
}

/**
 * Splits a stored pull reference (`host[:port]/path`) into a normalised host and the path.
 * Null when it has no path.
 */
export function splitPullReference(pullReference: string): { registry: string; path: string } | null {
  const slash = pullReference.indexOf('/');
  if (slash <= 0 || slash === pullReference.length - 1) return null;
  return { registry: normaliseHost(pullReference.slice(0, slash)), path: pullReference.slice(slash + 1) };
}

/**
 * The reference rewritten to carry `digest`, keeping the name and tag as written:
 * `nginx:1.25` → `nginx:1.25@sha256:…`; a reference without a tag gets the `latest` it implied.
 */
export function pinnedReference(ref: ImageReference, digest: string): string {
  if (ref.digest) return ref.text;
  return `${ref.text}${ref.tag === null ? ':latest' : ''}@${digest}`;
}
